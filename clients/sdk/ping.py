"""Checking the vault's CIBA ping (OpenID CIBA Core 1.0 §10.2) at your notification endpoint.

A service registered in ping mode (`regie services add --token-delivery-mode ping
--notification-endpoint URL`) asks with `request_access(..., ping=True)`; the SDK sends a
fresh `client_notification_token` and keeps it on the `AccessRequest`. When the resident
answers, the vault POSTs to URL:

    POST /ciba/ping
    Authorization: Bearer <the request's client_notification_token>
    Content-Type: application/json

    {"auth_req_id": "<the request's auth_req_id>"}

`check_ping(headers, body, request)` accepts exactly that, comparing the token and the
auth_req_id in constant time; anything else raises, with the status to answer: `AuthError`
(401) for a missing, non-Bearer or wrong token, `InvalidRequest` (400) for a body that is not
that JSON object or names another request. The vault does not retry a ping refused with 400,
401 or 403; answer 204 to one you accept. A ping carries no result: then `poll(request)` once
(the grant, `AccessDenied`, `RequestExpired`), as in poll mode.

`PingCallback` keeps the requests you wait for, so one endpoint can serve all of them:
`expect(request)` after asking, `check(headers, body)` in the endpoint (the request pinged;
`AuthError` too for an auth_req_id it does not wait for), `discard(request)` once redeemed.
It is in memory: a service that restarts keeps its `AccessRequest`s itself (`to_dict` holds
the token) and calls `expect` again.

Hand-written because no library checks a CIBA ping; the only secret comparisons are two
`hmac.compare_digest` calls.
"""

from __future__ import annotations

import hmac
import json
import threading
from collections.abc import Iterable
from typing import Any, Final, Protocol, runtime_checkable

from clients.sdk._errors import AuthError, InvalidRequest
from clients.sdk._grants import AccessRequest

__all__ = ["MAX_PING_BODY", "Headers", "PingCallback", "check_ping"]

MAX_PING_BODY: Final = 4096  # a ping's body is {"auth_req_id": "..."}: far less


@runtime_checkable
class _HasItems(Protocol):
    def items(self) -> Iterable[tuple[str, Any]]: ...


#: Request headers as a web framework gives them: a mapping (httpx, Starlette), anything with
#: `.items()` (http.server's `email.message.Message`, which may hold a header twice), or
#: (name, value) pairs.
Headers = _HasItems | Iterable[tuple[str, str]]


def _refused_token(detail: str) -> AuthError:
    return AuthError(detail, status=401, code="invalid_token")


def _refused_body(detail: str) -> InvalidRequest:
    return InvalidRequest(detail, status=400, code="invalid_request")


def _bearer(headers: Headers) -> str:
    """The Bearer token of the one Authorization header (names compared case-insensitively)."""
    pairs = headers.items() if isinstance(headers, _HasItems) else headers
    values = [str(v) for k, v in pairs if k.lower() == "authorization"]
    if not values:
        raise _refused_token("the ping has no Authorization header")
    if len(values) > 1:
        raise _refused_token("the ping has more than one Authorization header")
    scheme, _, token = values[0].strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _refused_token("the ping's Authorization is not a Bearer token")
    return token.strip()


def _auth_req_id(body: bytes) -> str:
    if len(body) > MAX_PING_BODY:
        raise _refused_body("the ping's body is too large")
    try:
        parsed = json.loads(body)
    except ValueError:
        raise _refused_body("the ping's body is not JSON") from None
    value = parsed.get("auth_req_id") if isinstance(parsed, dict) else None
    if not isinstance(value, str) or not value:
        raise _refused_body('the ping\'s body is not {"auth_req_id": "..."}')
    return value


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def check_ping(headers: Headers, body: bytes, request: AccessRequest) -> str:
    """The auth_req_id of a ping for `request` (a ping-mode request: it has a
    `notification_token`); `AuthError` / `InvalidRequest` for anything else."""
    expected = request.notification_token
    if not expected:
        raise ValueError("this request was not made in ping mode: it has no notification_token")
    if not _same(_bearer(headers), expected):
        raise _refused_token("the ping's Bearer token is not the one sent with this request")
    auth_req_id = _auth_req_id(body)
    if not _same(auth_req_id, request.auth_req_id):
        raise _refused_body("the ping names another request")
    return auth_req_id


class PingCallback:
    """The ping-mode requests a service waits for, checked at one notification endpoint."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: dict[str, AccessRequest] = {}

    def expect(self, request: AccessRequest) -> None:
        if not request.notification_token:
            raise ValueError("this request was not made in ping mode: it has no notification_token")
        with self._lock:
            self._waiting[request.auth_req_id] = request

    def discard(self, request: AccessRequest | str) -> None:
        auth_req_id = request if isinstance(request, str) else request.auth_req_id
        with self._lock:
            self._waiting.pop(auth_req_id, None)

    def check(self, headers: Headers, body: bytes) -> AccessRequest:
        """The request a genuine ping is for (kept until `discard`: the vault may ping again
        when your endpoint did not answer 2xx); `AuthError` / `InvalidRequest` otherwise."""
        token = _bearer(headers)  # no token, no lookup
        with self._lock:
            request = self._waiting.get(_auth_req_id(body))
        if request is None:
            raise _refused_token("the ping is for no request this service waits for")
        check_ping([("Authorization", f"Bearer {token}")], body, request)
        return request

    def __len__(self) -> int:
        with self._lock:
            return len(self._waiting)

    def __repr__(self) -> str:
        return f"PingCallback(waiting={len(self)})"
