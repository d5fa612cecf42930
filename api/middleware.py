"""Pure ASGI middleware: trace context and the access log, request size limits, security
headers, the last-resort error answer, and the split between the API and the resident app.

Written as raw ASGI (not BaseHTTPMiddleware) so streaming bodies stay streams, and so that the
trace context set by `TraceMiddleware` is the one every inner layer and endpoint runs in.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Sequence

from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute, Match, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vault import tracecontext

log = logging.getLogger("regie.api")
access_log = logging.getLogger("regie.access")

UNMATCHED = "unmatched"


def route_template(scope: Scope) -> str:
    """The template of the route that took the request (`/v1/me/records/{record_id}`), or
    "unmatched". Never the raw path: a path carries record, grant and session ids.

    Starlette's router puts the matched route in the scope (the innermost one, for the
    resident app behind ResidentAppDispatch); a mount (static files) is its prefix + `/{path}`.
    """
    route = scope.get("route")
    path = getattr(route, "path", None)
    if not isinstance(path, str) or not path:
        return UNMATCHED
    return f"{path}/{{path}}" if isinstance(route, Mount) else path


def _incoming_traceparent(scope: Scope) -> str | None:
    values = [v for k, v in scope.get("headers", []) if k == b"traceparent"]
    # Trace Context §3.2: a request with several traceparent headers starts a new trace.
    return values[0].decode("latin-1") if len(values) == 1 else None


class TraceMiddleware:
    """The outermost layer: each HTTP request runs in a W3C Trace Context span and ends with
    one access-log line.

    The span continues a valid incoming `traceparent` (a child of the caller's span) or starts
    a new trace; an invalid header is ignored, as the spec says, never an error. The span is
    vault.tracecontext's current one while inner layers run, and reset afterwards, also when
    they raise. The response carries `traceparent` with the server's span, so a caller can
    quote it to an operator.

    The access line (logger `regie.access`, INFO) holds the method, the route template, the
    status, the duration and (through the formatter) the trace: no path, query, header, body
    or client address (docs/operations.md says why). `on_done` gets the same facts, for the
    request metrics (api/metrics.py).
    """

    def __init__(
        self, app: ASGIApp, *, on_done: Callable[[str, str, int, float], None] | None = None
    ) -> None:
        self.app = app
        # Told of every answered request (method, route, status, seconds): the metrics.
        self._on_done = on_done

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        span = tracecontext.continue_from(_incoming_traceparent(scope))
        header = (b"traceparent", span.traceparent.encode("ascii"))
        # Nothing answered when an inner layer raises: Starlette's outer handler sends a 500.
        status = 500

        async def send_with_trace(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [h for h in message.get("headers", []) if h[0].lower() != b"traceparent"]
                message["headers"] = [*headers, header]
            await send(message)

        token = tracecontext.set_current(span)
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_trace)
        finally:
            seconds = time.perf_counter() - started
            duration_ms = round(seconds * 1000, 1)
            method, route = scope.get("method", ""), route_template(scope)
            if self._on_done is not None:
                self._on_done(method, route, status, seconds)
            access_log.info(
                "%s %s %s %.1f ms",
                method,
                route,
                status,
                duration_ms,
                extra={
                    "method": method,
                    "route": route,
                    "status": status,
                    "duration_ms": duration_ms,
                },
            )
            tracecontext.reset(token)


SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
    (b"cache-control", b"no-store"),
]
API_CSP = b"default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
# FastAPI's Swagger UI page loads its script and style from jsDelivr and starts it inline.
DOCS_CSP = (
    b"default-src 'none'; script-src https://cdn.jsdelivr.net 'unsafe-inline'; "
    b"style-src https://cdn.jsdelivr.net; img-src https://fastapi.tiangolo.com data:; "
    b"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
)


class UnexpectedErrorMiddleware:
    """Answer any unhandled exception with a 500 problem+json, and log only its type and route
    template (with the trace, so the operator finds the request the client reports).

    Starlette's own last-resort handler re-raises after responding, and the server then logs
    the full traceback, whose message may carry request data. This layer sits inside it and
    swallows the exception once the response is sent.
    """

    def __init__(self, app: ASGIApp, *, public_url: str) -> None:
        self.app = app
        self.public_url = public_url

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as e:  # noqa: BLE001 - the last resort: nothing may escape with data
            method, route = scope.get("method", ""), route_template(scope)
            # The trace id comes with the line (api/logs.py): the client has it in `traceparent`.
            log.error(
                "unhandled %s on %s %s",
                type(e).__name__,
                method,
                route,
                extra={"error_type": type(e).__name__, "method": method, "route": route},
            )
            if started:
                return  # the client sees a cut-off response; nothing more can be said
            body = json.dumps(
                {
                    "type": f"{self.public_url}/problems/internal-error",
                    "title": "Internal error",
                    "status": 500,
                    "detail": "Something failed on our side.",
                    "instance": scope["path"],
                }
            ).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [
                        (b"content-type", b"application/problem+json"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        docs = scope["path"] in ("/docs", "/redoc")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                for name, value in SECURITY_HEADERS:
                    if name not in present:
                        headers.append((name, value))
                if b"content-security-policy" not in present:
                    headers.append((b"content-security-policy", DOCS_CSP if docs else API_CSP))
                if self.hsts:
                    headers.append((b"strict-transport-security", b"max-age=63072000"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class DpopNonceMiddleware:
    """A fresh `DPoP-Nonce` on every response of the endpoints that check DPoP proofs, when
    the vault requires server nonces (RFC 9449 §8.2, §9): clients that keep the latest one
    (our SDK does) never see a `use_dpop_nonce` refusal after the first."""

    def __init__(self, app: ASGIApp, *, issue: Callable[[], str], prefixes: Sequence[str]) -> None:
        self.app = app
        self.issue = issue
        self.prefixes = tuple(prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefixes):
            await self.app(scope, receive, send)
            return

        async def send_with_nonce(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != b"dpop-nonce"
                ]
                headers.append((b"dpop-nonce", self.issue().encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_nonce)


class BodyLimitMiddleware:
    """Refuse bodies over `max_bytes` with 413 problem+json, declared or streamed.

    Hand-written although FastAPI >= 0.165 has `max_body_size`: its per-route override is fixed
    when the route is declared, and ours (the file limit) is a setting read at start-up.

    Paths matching `stream_paths` (file uploads) are left to the route, which enforces its own
    larger limit while it streams.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int,
        stream_paths: Sequence[re.Pattern[str]],
        public_url: str,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.stream_paths = stream_paths
        self.public_url = public_url

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or any(p.match(scope["path"]) for p in self.stream_paths):
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = self.max_bytes + 1
                if declared > self.max_bytes:
                    await self._too_large(scope, send)
                    return
        seen = 0
        started = False  # once a response has begun, nothing else can be sent

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    # FastAPI re-raises HTTPException from body parsing; the app's handler
                    # turns it into the same problem+json as the declared-length case.
                    raise HTTPException(413, f"The body is larger than {self.max_bytes} bytes.")
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except HTTPException as e:
            if e.status_code != 413 or started:
                raise
            await self._too_large(scope, send)

    async def _too_large(self, scope: Scope, send: Send) -> None:
        body = json.dumps(
            {
                "type": f"{self.public_url}/problems/payload-too-large",
                "title": "Payload too large",
                "status": 413,
                "detail": f"The body is larger than {self.max_bytes} bytes.",
                "instance": scope["path"],
                "limit_bytes": self.max_bytes,
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/problem+json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


# Paths the API owns whether or not a route matches: unknown ones get a problem+json 404.
API_PREFIXES = ("/v1/", "/oauth/", "/.well-known/", "/problems/")
# The browser's step of the authorization code flow is a page of the resident app.
APP_PATHS = ("/oauth/authorize",)


class ResidentAppDispatch:
    """One host for the API and the resident app, without either shadowing the other's 404s.

    A request goes to the API when its path is under an API prefix or matches an API route
    (`/healthz`, `/docs`, ...); every other path goes to the resident app, which answers
    unknown pages with a kind page. The resident app sets its own security headers.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        resident: ASGIApp,
        api_routes: Callable[[], Sequence[BaseRoute]],
    ) -> None:
        self.app = app
        self.resident = resident
        self.api_routes = api_routes

    def _api_owns(self, scope: Scope) -> bool:
        path: str = scope["path"]
        if path in APP_PATHS:
            return False
        if path == "/v1" or path.startswith(API_PREFIXES):
            return True
        return any(route.matches(scope)[0] is not Match.NONE for route in self.api_routes())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self._api_owns(scope):
            await self.resident(scope, receive, send)
            return
        await self.app(scope, receive, send)
