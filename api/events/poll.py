"""The poll request (RFC 8936 §2.4) as the vault takes it, its errors, and the long-poll wait.

RFC 8936 poll requests are JSON and leave client authentication to the deployment. A JSON body
cannot carry a form, so the service's `private_key_jwt` assertion (RFC 7523, exactly as at
/oauth/token) travels as two more members of the same object::

    POST /v1/service/events
    Content-Type: application/json

    {"client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
     "client_assertion": "<JWT signed by the service; aud: the vault's issuer URL>",
     "ack": ["<jti>", ...], "setErrs": {"<jti>": {"err": "invalid_key", "description": "..."}},
     "maxEvents": 10, "returnImmediately": true}

Why this and not the alternatives: a bearer access token would need a client-credentials grant
the vault does not offer (its tokens are bound to a resident's grant), and an assertion in an
`Authorization` header is no standard scheme either. The members use RFC 7523's own names, a
stock JWT library makes the assertion, and every other member is RFC 8936's.

Errors are RFC 8936 §2.4.4 / RFC 8935 §2.3 objects, ``{"err": ..., "description": ...}``:
400 ``invalid_request`` for a malformed poll, 401 ``authentication_failed`` when the client
assertion does not check out. Descriptions are fixed texts that never echo the request.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Annotated

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from api.oauth.errors import OAuthError
from vault.events.feed import EventFeed
from vault.events.model import PollResult

__all__ = ["PollError", "PollRequest", "poll_with_wait", "read_poll_request"]

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
Jti = Annotated[str, Field(min_length=1, max_length=256)]


class SetErrorReport(BaseModel):
    """One entry of `setErrs`: why the receiver could not use a SET (RFC 8935 §2.3 codes)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    err: str = Field(min_length=1, max_length=64)
    description: str | None = Field(default=None, max_length=1000)


class PollRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    client_assertion_type: str = Field(max_length=200)
    client_assertion: str = Field(max_length=8192)
    client_id: str | None = Field(default=None, max_length=256)
    ack: list[Jti] = Field(default_factory=list, max_length=1000)
    set_errs: dict[Jti, SetErrorReport] = Field(
        default_factory=dict, alias="setErrs", max_length=1000
    )
    max_events: int | None = Field(default=None, alias="maxEvents", ge=0)
    return_immediately: bool = Field(default=False, alias="returnImmediately")

    def credentials(self) -> dict[str, str]:
        """The client-authentication members, as the form `ClientAssertionVerifier` reads."""
        fields = {
            "client_assertion_type": self.client_assertion_type,
            "client_assertion": self.client_assertion,
        }
        if self.client_id is not None:
            fields["client_id"] = self.client_id
        return fields


class PollError(Exception):
    def __init__(self, err: str, description: str, *, status: int = 400) -> None:
        super().__init__(description)
        self.err = err
        self.description = description
        self.status = status

    @classmethod
    def from_oauth(cls, e: OAuthError) -> PollError:
        if e.error == "invalid_client":
            return cls("authentication_failed", e.description, status=401)
        return cls("invalid_request", e.description)

    def response(self) -> JSONResponse:
        return JSONResponse(
            {"err": self.err, "description": self.description},
            status_code=self.status,
            headers=NO_STORE,
        )


async def read_poll_request(request: Request) -> PollRequest:
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type != "application/json":
        raise PollError("invalid_request", "send the poll request as application/json")
    try:
        return PollRequest.model_validate_json(await request.body())
    except ValidationError as e:
        where = ".".join(str(part) for part in e.errors()[0]["loc"]) if e.errors() else ""
        raise PollError(
            "invalid_request", f"the poll request is not valid (at {where or 'the top'})"
        ) from e


async def poll_with_wait(
    feed: EventFeed,
    service_id: uuid.UUID,
    asked: PollRequest,
    *,
    wait_seconds: float,
    request: Request,
) -> PollResult:
    """Acknowledge, then fetch; with nothing to return and a wait allowed, look again about
    once a second until an event is there, the wait is over, or the client has gone."""
    result = await run_in_threadpool(
        lambda: feed.poll(
            service_id,
            ack=asked.ack,
            errors={jti: report.err for jti, report in asked.set_errs.items()},
            max_events=asked.max_events,
        )
    )
    deadline = time.monotonic() + wait_seconds
    while not result.sets and asked.max_events != 0:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or await request.is_disconnected():
            break
        await asyncio.sleep(min(1.0, remaining))
        result = await run_in_threadpool(lambda: feed.poll(service_id, max_events=asked.max_events))
    return result
