"""The event poll endpoint for services (RFC 8936); the contract is docs/events.md.

The service authenticates with `private_key_jwt` like at the OAuth endpoints (the assertion
travels in the JSON body: api/events/poll.py says why), acknowledges what it has, and gets
its events not taken yet.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.deps import container
from api.events.poll import NO_STORE, PollError, poll_with_wait, read_poll_request
from api.oauth.endpoints import _client
from api.oauth.errors import OAuthError

router = APIRouter(tags=["Events (services)"])


@router.post("/v1/service/events", summary="Poll for events and acknowledge them (RFC 8936)")
async def poll_events(request: Request) -> JSONResponse:
    try:
        asked = await read_poll_request(request)
        service = await _client(request, asked.credentials())
    except PollError as e:
        return e.response()
    except OAuthError as e:
        return PollError.from_oauth(e).response()
    c = container(request)
    result = await poll_with_wait(
        c.event_feed,
        service.service_id,
        asked,
        wait_seconds=0 if asked.return_immediately else c.settings.events_poll_wait_seconds,
        request=request,
    )
    return JSONResponse(
        {"sets": result.sets, "moreAvailable": result.more_available}, headers=NO_STORE
    )
