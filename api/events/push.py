"""`HttpxSetPoster`: one SET pushed to a service's event endpoint (RFC 8935 §2), over httpx;
`HttpxPingPoster`: one CIBA ping (OpenID CIBA Core 1.0 §10.2) to a client notification endpoint.

The request: ``POST <endpoint>`` with ``Content-Type: application/secevent+jwt`` and the SET as
the body; ``Accept: application/json``; no redirects followed; no credentials (the SET is
signed: the receiver verifies it against the vault's JWKS). A ``traceparent`` header (W3C
Trace Context) carries a child span of the current trace (the pusher's round, see
api/workers.py), or of a new trace when none is current, so a receiver's logs can be joined
with the vault's.

The answer, mapped to an outcome for vault/events/delivery.py:
- 202 Accepted (RFC 8935 §2.2), and 200 / 204 from lenient receivers: `Acknowledged`;
- 400 with a JSON object holding a string ``err`` (RFC 8935 §2.3): `Refused(err)`, final;
- anything else (another status, a 400 without ``err``, a redirect, a timeout, a refused
  connection): `Retry(reason)`.

Only the status and the error code are kept, never the receiver's text. One push is bounded:
connect, send and the answer's headers each within the timeout, and a 400 body of at most
4 KiB read within one more; so it lasts at most about 4 timeouts, which the lease must exceed
(api/settings.py checks it).

A ping: ``POST <client notification endpoint>`` with ``Content-Type: application/json``, the
body ``{"auth_req_id": "..."}`` and ``Authorization: Bearer <client_notification_token>``; no
redirects followed (the token would go along). Any 2xx is `Acknowledged` (CIBA expects 204);
400, 401 and 403 are `Refused` (the service says this ping is not for it, which no retry
changes), kept as ``http_<status>``; anything else is `Retry`. The answer's body is not read.
"""

from __future__ import annotations

import json
import time

import httpx

from vault import tracecontext
from vault.events.model import (
    SET_MEDIA_TYPE,
    Acknowledged,
    PushOutcome,
    Refused,
    Retry,
    error_code,
)

__all__ = ["MAX_ERROR_BODY", "HttpxPingPoster", "HttpxSetPoster", "push_client"]

MAX_ERROR_BODY = 4096
DELIVERED = frozenset({200, 202, 204})
PING_REFUSED = frozenset({400, 401, 403})


def push_client(*, timeout: float) -> httpx.Client:
    """The HTTP client pushes go through: short timeouts, no redirects, no cookies kept."""
    return httpx.Client(
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,
        headers={"User-Agent": "Regie-events/1"},
    )


class HttpxSetPoster:
    """A `vault.events.SetPoster` on an injected `httpx.Client` (tests pass a MockTransport)."""

    def __init__(self, http: httpx.Client, *, body_timeout: float = 5.0) -> None:
        self._http = http
        self._body_timeout = body_timeout

    def post(self, endpoint: str, set_jwt: str) -> PushOutcome:
        parent = tracecontext.current()
        span = parent.child() if parent is not None else tracecontext.start()
        headers = {
            "Content-Type": SET_MEDIA_TYPE,
            "Accept": "application/json",
            "traceparent": span.traceparent,
        }
        try:
            with self._http.stream(
                "POST", endpoint, content=set_jwt.encode("ascii"), headers=headers
            ) as response:
                status = response.status_code
                if status in DELIVERED:
                    return Acknowledged()
                if status != 400:
                    return Retry(f"HTTP {status}")
                err = self._error_code(response)
        except httpx.TimeoutException:
            return Retry("timeout")
        except httpx.HTTPError as e:
            return Retry(f"no answer ({type(e).__name__})")
        if err is None:
            return Retry("HTTP 400 without an RFC 8935 error")
        return Refused(err)

    def _error_code(self, response: httpx.Response) -> str | None:
        deadline = time.monotonic() + self._body_timeout
        body = bytearray()
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) > MAX_ERROR_BODY or time.monotonic() > deadline:
                return None
        try:
            parsed = json.loads(bytes(body))
        except ValueError:
            return None
        if not isinstance(parsed, dict) or not isinstance(parsed.get("err"), str):
            return None
        return error_code(parsed["err"])


class HttpxPingPoster:
    """A `vault.events.delivery.PingPoster` on an injected `httpx.Client`."""

    def __init__(self, http: httpx.Client) -> None:
        self._http = http

    def ping(self, endpoint: str, token: str, auth_req_id: str) -> PushOutcome:
        parent = tracecontext.current()
        span = parent.child() if parent is not None else tracecontext.start()
        headers = {
            "Content-Type": "application/json",
            "Authorization": f"Bearer {token}",
            "traceparent": span.traceparent,
        }
        body = json.dumps({"auth_req_id": auth_req_id}).encode()
        try:
            with self._http.stream("POST", endpoint, content=body, headers=headers) as response:
                status = response.status_code
        except httpx.TimeoutException:
            return Retry("timeout")
        except httpx.HTTPError as e:
            return Retry(f"no answer ({type(e).__name__})")
        if 200 <= status < 300:
            return Acknowledged()
        if status in PING_REFUSED:
            return Refused(f"http_{status}")
        return Retry(f"HTTP {status}")
