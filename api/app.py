"""`create_app(settings)`: the one composition root of the HTTP application."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI

from api.bootstrap import build_container
from api.container import Container
from api.errors import install_error_handlers
from api.middleware import (
    BodyLimitMiddleware,
    DpopNonceMiddleware,
    ResidentAppDispatch,
    SecurityHeadersMiddleware,
    TraceMiddleware,
    UnexpectedErrorMiddleware,
)
from api.oauth import endpoints as oauth_endpoints
from api.oauth.errors import OAuthError, oauth_error_response
from api.openapi import install_openapi
from api.ratelimit import RateLimitMiddleware
from api.routers import (
    audit,
    auditor,
    auth,
    events,
    grants,
    health,
    me,
    metrics,
    my_log,
    people,
    records,
    service,
    wellknown,
)
from api.settings import Settings
from api.workers import server_workers, workers_lifespan
from clients.app import AppConfig, create_resident_app
from clients.app.transport import StreamingASGITransport
from keys.secrets import KeyedHasher
from vault import tracecontext

DESCRIPTION = """
Regie keeps each resident's records in their own encrypted vault and lends access to
services for a purpose and a while. This is the resident API (passkey sign-in, records,
export, deletion). Errors are RFC 9457 problem+json.
"""


class _TracedTransport(httpx.AsyncBaseTransport):
    """The resident app's in-process API calls as child spans of the page's request, so one
    `trace_id` finds a page and every API request it made (the app itself, built on the SDK
    alone, knows nothing of traces)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        span = tracecontext.current()
        if span is not None and "traceparent" not in request.headers:
            request.headers["traceparent"] = span.child().traceparent
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def _lifespan(built: Container) -> Callable[[Any], AbstractAsyncContextManager[None]]:
    workers = workers_lifespan(
        server_workers(built), drain_seconds=built.settings.shutdown_drain_seconds
    )

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        async with workers(app):
            yield
        # The async engines' connections belong to this event loop: close them with it.
        for engine in built.async_engines:
            await engine.dispose()

    return lifespan


def create_app(
    settings: Settings, *, container: Container | None = None, resident_app: bool = True
) -> FastAPI:
    """Build the application. Tests may pass a prepared `container` (see api.bootstrap).

    The resident web app (clients/app) is served beside the API on the same origin, so that
    passkeys made in the browser are for the API's relying party. It reaches the API through
    the SDK over an in-process ASGI transport: the same HTTP surface services use.
    """
    built = container or build_container(settings)
    app = FastAPI(
        title="Regie",
        version="0.1.0",
        description=DESCRIPTION,
        # Sweeps grants and pushes events while serving (api/workers.py).
        lifespan=_lifespan(built),
        # FastAPI's own OpenTelemetry layer is off: the trace context and the metrics are
        # Regie's (api/middleware.py, api/metrics.py), and its exception logs would carry
        # exception messages. Off, it costs one check per request instead of three provider
        # look-ups.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    app.state.container = built
    install_error_handlers(app, settings.public_url)
    app.add_exception_handler(OAuthError, oauth_error_response)
    # The services' hot routes first: a request is matched against the routes in order, and
    # no two routers share a path.
    routers = (
        service.router,
        oauth_endpoints.router,
        health.router,
        metrics.router,
        wellknown.router,
        audit.router,
        auditor.router,
        auth.router,
        my_log.router,
        me.router,
        records.router,
        grants.router,
        people.router,
        events.router,
    )
    # The hot read is served below FastAPI's request handler (api/asgi_route.py); it is on
    # the application's own router, first.
    hot = service.hot_routes()
    app.router.routes.extend(hot)
    for router in routers:
        app.include_router(router)
    app.state.api_routes = [*hot, *(route for router in routers for route in router.routes)]
    install_openapi(app)
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_json_bytes,
        stream_paths=records.UPLOAD_PATHS,
        public_url=settings.public_url,
    )
    app.add_middleware(UnexpectedErrorMiddleware, public_url=settings.public_url)
    nonces = built.dpop.nonces
    if nonces is not None:
        app.add_middleware(
            DpopNonceMiddleware, issue=nonces.issue, prefixes=("/oauth/token", "/v1/service/")
        )
    # Added after the others, so outside them: every API response gets the headers.
    app.add_middleware(SecurityHeadersMiddleware, hsts=settings.public_url.startswith("https://"))
    if resident_app:
        resident = create_resident_app(
            AppConfig(
                public_url=settings.public_url,
                # Every server process derives the same secret from the keyring.
                csrf_secret=KeyedHasher(built.keyring).digest("resident-app/csrf", b""),
                api_transport=_TracedTransport(StreamingASGITransport(app)),
                max_upload_bytes=settings.max_file_bytes,
            )
        )
        app.add_middleware(
            ResidentAppDispatch, resident=resident, api_routes=lambda: app.router.routes
        )
    # Last, so outermost: every layer above, the resident app and each endpoint run in the
    # request's trace, and every request (also a 413 or a resident page) gets an access line.
    # There is no CORS layer (the API and the resident app share one origin); one added later
    # must go inside this one and list `traceparent` in its exposed headers.
    # Outside the split between the API and the resident app, so a page request sets the
    # client address its in-process API calls count against (api/ratelimit.py).
    app.add_middleware(RateLimitMiddleware, limiter=built.limiter, public_url=settings.public_url)
    app.add_middleware(TraceMiddleware, on_done=built.metrics.request_done)
    return app
