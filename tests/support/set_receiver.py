"""A service's side of events, as small as it can be: verify a SET, dedupe it by `jti`.

`SetReceiver` checks what a receiver must check (RFC 8417 §4, RFC 8935 §2): the signature
against the vault's JWKS (ES256 only), `typ: secevent+jwt`, the issuer, the audience (its own
client_id), `iat` not in the future and not older than `max_age`, a `jti`, and one event of a
type it knows. A SET it has seen before (same `jti`) is acknowledged again but not handled
twice. The SDK will productise this; here it proves receivers can dedupe.

`PushEndpoint` serves a `SetReceiver` over loopback HTTP (RFC 8935 §2: 202 when taken, 400
with `{"err": ...}` when refused), and can hold its first answer back until told, so a test
can kill the pusher while its request is in flight.
"""

from __future__ import annotations

import contextlib
import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from vault.events.model import EVENT_BASE, EVENT_TYPES


class SetRejected(Exception):
    """The SET is not acceptable; `err` is an RFC 8935 §2.3 error code."""

    def __init__(self, err: str, description: str) -> None:
        super().__init__(f"{err}: {description}")
        self.err = err
        self.description = description


@dataclass(frozen=True)
class ReceivedEvent:
    jti: str
    event_type: str  # grant-ended, ...
    payload: dict[str, Any]
    claims: dict[str, Any]


@dataclass
class SetReceiver:
    jwks: dict[str, Any]
    issuer: str
    audience: str
    max_age: timedelta = timedelta(hours=48)
    now: Any = field(default=lambda: datetime.now(UTC))  # a callable: the receiver's clock
    handled: dict[str, ReceivedEvent] = field(default_factory=dict)
    arrivals: list[str] = field(default_factory=list)  # every jti received, duplicates too

    def __post_init__(self) -> None:
        self._keys = KeySet.import_key_set(self.jwks)
        self._lock = threading.Lock()

    def verify(self, set_jwt: str) -> ReceivedEvent:
        try:
            token = jwt.decode(set_jwt, self._keys, algorithms=["ES256"])
        except (JoseError, ValueError) as e:
            raise SetRejected("invalid_key", "the signature does not verify") from e
        typ = str(token.header.get("typ", "")).lower().removeprefix("application/")
        if typ != "secevent+jwt":
            raise SetRejected("invalid_request", "not a security event token")
        claims = dict(token.claims)
        if claims.get("iss") != self.issuer:
            raise SetRejected("invalid_issuer", "unexpected issuer")
        aud = claims.get("aud")
        if self.audience not in ([aud] if isinstance(aud, str) else (aud or [])):
            raise SetRejected("invalid_audience", "not for this receiver")
        iat, jti = claims.get("iat"), claims.get("jti")
        moment = self.now().timestamp()
        if (
            not isinstance(iat, int)
            or iat > moment + 60
            or iat < moment - self.max_age.total_seconds()
        ):
            raise SetRejected("invalid_request", "iat is missing, in the future or too old")
        if not isinstance(jti, str) or not jti:
            raise SetRejected("invalid_request", "jti is missing")
        events = claims.get("events")
        if not isinstance(events, dict) or len(events) != 1:
            raise SetRejected("invalid_request", "expected exactly one event")
        ((uri, payload),) = events.items()
        name = uri.removeprefix(EVENT_BASE)
        if (
            not uri.startswith(EVENT_BASE)
            or name not in EVENT_TYPES
            or not isinstance(payload, dict)
        ):
            raise SetRejected("invalid_request", "unknown event type")
        return ReceivedEvent(jti, name, payload, claims)

    def receive(self, set_jwt: str) -> bool:
        """Verify and handle; True the first time a `jti` arrives, False for a duplicate.
        Raises `SetRejected` for a SET that must be refused."""
        event = self.verify(set_jwt)
        with self._lock:
            self.arrivals.append(event.jti)
            if event.jti in self.handled:
                return False
            self.handled[event.jti] = event
            return True


class PushEndpoint:
    """A threaded HTTP server on 127.0.0.1 feeding a `SetReceiver` (use as a context manager)."""

    def __init__(self, receiver: SetReceiver, *, hold_first: bool = False) -> None:
        self.receiver = receiver
        self.hold_first = hold_first
        self.first_arrived = threading.Event()  # the held request has been received
        self.release = threading.Event()  # let the held request answer
        self.requests = 0
        self._lock = threading.Lock()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                endpoint.handle(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/events"

    def __enter__(self) -> PushEndpoint:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        body = request.rfile.read(int(request.headers.get("Content-Length", "0")))
        with self._lock:
            self.requests += 1
            hold = self.hold_first and self.requests == 1
        status, answer = 202, b""
        if (
            request.headers.get("Content-Type", "").split(";")[0].strip()
            != "application/secevent+jwt"
        ):
            status, answer = (
                400,
                json.dumps({"err": "invalid_request", "description": "media type"}).encode(),
            )
        else:
            try:
                self.receiver.receive(body.decode("ascii"))
            except SetRejected as e:
                status = 400
                answer = json.dumps({"err": e.err, "description": e.description}).encode()
        if hold:
            self.first_arrived.set()
            self.release.wait(30)
        # The pusher may be dead by now: its socket is gone, and that is the point.
        with contextlib.suppress(OSError):
            request.send_response(status)
            if answer:
                request.send_header("Content-Type", "application/json")
            request.send_header("Content-Length", str(len(answer)))
            request.end_headers()
            request.wfile.write(answer)
