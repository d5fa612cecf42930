"""The resident web app: server-rendered pages on the resident SDK (`clients.sdk.resident`).

`create_resident_app(config)` builds a Starlette app. It talks to the vault only through
the SDK, over the transport it is given (in-process ASGI to the API app, or a loopback URL),
and imports nothing from `vault/` or `api/` (tests/unit/test_app_boundaries.py keeps it so).
Design notes are in docs/architecture.md ("The resident app").
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import httpx
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clients.app import acting, auditor, people, views
from clients.app.security import PAGE_HEADERS, CookieNames, CsrfTokens
from clients.app.visit import AppState, FormRefused, NotSignedIn, Visit
from clients.sdk import _errors as sdk_errors
from clients.sdk._http import AsyncHttp

HERE = Path(__file__).parent
log = logging.getLogger("regie.app")


@dataclass(frozen=True)
class AppConfig:
    """What the app needs from its composition root.

    `public_url` is the origin residents use (passkeys are bound to it); `csrf_secret` is
    shared by every server process; `api_transport` reaches the API in-process (None: over
    the network at `api_url`, default `public_url`).
    """

    public_url: str
    csrf_secret: bytes
    api_transport: httpx.AsyncBaseTransport | None = None
    api_url: str | None = None
    max_upload_bytes: int = 25 * 1024 * 1024


class PageHeaders:
    """Security headers on every app response; pages are never cached, static files are."""

    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                for name, value in PAGE_HEADERS.items():
                    if name.lower().encode() not in present:
                        headers.append((name.lower().encode(), value.encode()))
                cache = b"public, max-age=86400" if static else b"no-store"
                headers = [(k, v) for k, v in headers if k.lower() != b"cache-control"]
                headers.append((b"cache-control", cache))
                if self.hsts:
                    headers.append((b"strict-transport-security", b"max-age=63072000"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


class LastResort:
    """Starlette answers an unhandled error with our kind page, then re-raises it so the
    server can log it; its message may carry what a resident typed. This layer swallows it
    after logging only its kind (as api.middleware.UnexpectedErrorMiddleware does)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def tracking(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking)
        except Exception as e:  # noqa: BLE001 - the last resort: nothing may escape with data
            if not started:
                log.error("resident app: unhandled %s before any answer", type(e).__name__)
                await send(
                    {
                        "type": "http.response.start",
                        "status": 500,
                        "headers": [(b"content-type", b"text/plain; charset=utf-8")],
                    }
                )
                await send({"type": "http.response.body", "body": FALLBACK_500})


FALLBACK_500 = (
    b"Er ging bij ons iets mis. Dat ligt niet aan u. Probeer het opnieuw.\n"
    b"Something went wrong on our side. It is not your fault. Please try again.\n"
)


def _kind_page(request: Request, key: str, status: int, title_key: str = "error.title") -> Response:
    visit = Visit(request)
    return visit.page("error.html", status, title=visit.t(title_key), message=visit.t(key))


async def _not_signed_in(request: Request, exc: Exception) -> Response:
    visit = Visit(request)
    sign_in = "auditor_sign_in.html" if visit.auditor_area else "sign_in.html"
    if visit.token is not None:  # the API ended the session: say so, kindly
        visit.sign_out_here()
        expired = "auditor.sign_in.expired" if visit.auditor_area else "sign_in.expired"
        return visit.page(sign_in, 401, error=visit.t(expired))
    return visit.redirect(f"{visit.area}/sign-in")


async def _sdk_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, sdk_errors.RegieError):  # registered for RegieError only
        raise TypeError(type(exc).__name__)
    if isinstance(exc, sdk_errors.ReauthenticationRequired):
        return _kind_page(request, "confirm.needed", 403)
    if isinstance(exc, sdk_errors.AuthError):
        return await _not_signed_in(request, exc)
    if isinstance(exc, sdk_errors.AccessDenied):  # e.g. outside a mandate, or it ended
        return acting.refusal_page(Visit(request), exc)
    if isinstance(exc, sdk_errors.NotFound):
        return _kind_page(request, "error.not_found", 404, "error.not_found.title")
    if isinstance(exc, sdk_errors.InvalidRequest):
        return _kind_page(request, "error.invalid", 422)
    if isinstance(exc, sdk_errors.TooManyRequests):
        # Too many refused steps under one mandate (vault/representation/throttle.py), or
        # too many attempts from this connection (the sign-in and token limits).
        many = "error.too_many_refusals" if exc.reason == "too-many-refusals" else "error.too_many"
        return _kind_page(request, many, 429, "error.too_many.title")
    # Only the kind of failure is logged, never what the resident sent or saw.
    log.warning("resident app: %s from the API (%s)", type(exc).__name__, exc.status)
    return _kind_page(request, "error.unavailable", 503)


async def _refused(request: Request, exc: Exception) -> Response:
    return _kind_page(request, "error.form_expired", 403)


async def _not_found(request: Request, exc: Exception) -> Response:
    return _kind_page(request, "error.not_found", 404, "error.not_found.title")


async def _unexpected(request: Request, exc: Exception) -> Response:
    # The route template, never the path: a path carries record and grant ids.
    route = getattr(request.scope.get("route"), "path", "unmatched")
    log.error("resident app: unhandled %s on %s", type(exc).__name__, route)
    return _kind_page(request, "error.internal", 500)


UUID = "{%s:uuid}"
ACTING = f"/people/{UUID % 'mandate_id'}"


def acting_routes() -> list[Route]:
    """The pages for the principal of a mandate I hold: the same views as for my own vault,
    under `/people/{mandate_id}` (clients/app/acting.py). Not here: what the API keeps to
    one's own vault (the account, export, people)."""
    a = acting.under_mandate
    rec = f"{ACTING}/data/{UUID % 'record_id'}"
    grant = UUID % "grant_id"
    service = UUID % "service_id"
    procedure = UUID % "procedure_id"
    return [
        Route(f"{ACTING}/home", a(acting.home)),
        Route(f"{ACTING}/data", a(views.data)),
        Route(f"{ACTING}/data/new", a(views.record_new_page)),
        Route(f"{ACTING}/data/new", a(views.record_new), methods=["POST"]),
        Route(rec, a(views.record)),
        Route(f"{rec}/versions/{{version:int}}", a(views.record)),
        Route(f"{rec}/file", a(views.record_file)),
        Route(f"{rec}/edit", a(views.record_edit_page)),
        Route(f"{rec}/edit", a(views.record_edit), methods=["POST"]),
        Route(f"{rec}/delete", a(views.record_delete_page)),
        Route(f"{rec}/delete", a(views.record_delete), methods=["POST"]),
        Route(f"{ACTING}/requests/{grant}", a(views.request_page)),
        Route(f"{ACTING}/requests/{grant}", a(views.request_answer), methods=["POST"]),
        Route(f"{ACTING}/access", a(views.access)),
        Route(f"{ACTING}/access/{grant}", a(views.grant_page)),
        Route(f"{ACTING}/access/{grant}/stop", a(views.stop_page)),
        Route(f"{ACTING}/access/{grant}/stop", a(views.stop), methods=["POST"]),
        Route(f"{ACTING}/access/services/{service}/stop", a(views.stop_service_page)),
        Route(f"{ACTING}/access/services/{service}/stop", a(views.stop_service), methods=["POST"]),
        Route(f"{ACTING}/access/procedures/{procedure}/close", a(views.close_page)),
        Route(f"{ACTING}/access/procedures/{procedure}/close", a(views.close), methods=["POST"]),
        Route(f"{ACTING}/log", a(views.log_page)),
        Route(f"{ACTING}/connect", a(views.connect_page)),
        Route(f"{ACTING}/connect", a(views.connect), methods=["POST"]),
    ]


def routes() -> list[Route | Mount]:
    r = Route
    return [
        r("/", views.home),
        r("/sign-up", views.sign_up_page),
        r("/sign-up", views.sign_up, methods=["POST"]),
        r("/sign-up/options", views.sign_up_options, methods=["POST"]),
        r("/sign-in", views.sign_in_page),
        r("/sign-in", views.sign_in, methods=["POST"]),
        r("/sign-in/options", views.sign_in_options, methods=["POST"]),
        r("/recover", views.recover_page),
        r("/recover", views.recover, methods=["POST"]),
        r("/sign-out", views.sign_out, methods=["POST"]),
        r("/language", views.language, methods=["POST"]),
        r("/data", views.data),
        r("/data/new", views.record_new_page),
        r("/data/new", views.record_new, methods=["POST"]),
        r(f"/data/{UUID % 'record_id'}", views.record),
        r(f"/data/{UUID % 'record_id'}/versions/{{version:int}}", views.record),
        r(f"/data/{UUID % 'record_id'}/file", views.record_file),
        r(f"/data/{UUID % 'record_id'}/edit", views.record_edit_page),
        r(f"/data/{UUID % 'record_id'}/edit", views.record_edit, methods=["POST"]),
        r(f"/data/{UUID % 'record_id'}/delete", views.record_delete_page),
        r(f"/data/{UUID % 'record_id'}/delete", views.record_delete, methods=["POST"]),
        r(f"/requests/{UUID % 'grant_id'}", views.request_page),
        r(f"/requests/{UUID % 'grant_id'}", views.request_answer, methods=["POST"]),
        r("/oauth/authorize", views.authorize),
        r(f"/authorize/{UUID % 'grant_id'}", views.authorization_page),
        r(f"/authorize/{UUID % 'grant_id'}", views.authorization_answer, methods=["POST"]),
        r("/access", views.access),
        r("/log", views.log_page),
        r(f"/access/{UUID % 'grant_id'}", views.grant_page),
        r(f"/access/{UUID % 'grant_id'}/stop", views.stop_page),
        r(f"/access/{UUID % 'grant_id'}/stop", views.stop, methods=["POST"]),
        r(f"/access/services/{UUID % 'service_id'}/stop", views.stop_service_page),
        r(f"/access/services/{UUID % 'service_id'}/stop", views.stop_service, methods=["POST"]),
        r(f"/access/procedures/{UUID % 'procedure_id'}/close", views.close_page),
        r(f"/access/procedures/{UUID % 'procedure_id'}/close", views.close, methods=["POST"]),
        r("/people", people.people_page),
        r("/people/offer", people.offer_page),
        r("/people/offer", people.offer, methods=["POST"]),
        r("/people/accept", people.accept_page),
        r("/people/accept", people.accept, methods=["POST"]),
        r("/people/child", people.child_page),
        r("/people/child", people.child, methods=["POST"]),
        r(f"/people/{UUID % 'mandate_id'}", people.mandate_page),
        r(f"/people/{UUID % 'mandate_id'}/stop", people.stop_page),
        r(f"/people/{UUID % 'mandate_id'}/stop", people.stop, methods=["POST"]),
        r(f"/people/{UUID % 'mandate_id'}/parent", people.parent_page),
        r(f"/people/{UUID % 'mandate_id'}/parent", people.parent_offer, methods=["POST"]),
        r(
            f"/people/{UUID % 'mandate_id'}/mandates/{UUID % 'other_id'}/stop",
            people.parent_stop_page,
        ),
        r(
            f"/people/{UUID % 'mandate_id'}/mandates/{UUID % 'other_id'}/stop",
            people.parent_stop,
            methods=["POST"],
        ),
        r(f"/people/{UUID % 'mandate_id'}/offer", people.child_offer_page),
        r(f"/people/{UUID % 'mandate_id'}/offer", people.child_offer, methods=["POST"]),
        r(f"/people/{UUID % 'mandate_id'}/delete", people.child_delete_page),
        r(f"/people/{UUID % 'mandate_id'}/delete", people.child_delete, methods=["POST"]),
        *acting_routes(),
        r("/connect", views.connect_page),
        r("/connect", views.connect, methods=["POST"]),
        r("/account", views.account_page),
        r(f"/account/sessions/{UUID % 'session_id'}/end", views.end_session, methods=["POST"]),
        r("/account/sign-out-everywhere", views.sign_out_everywhere, methods=["POST"]),
        r("/account/keys/options", views.add_key_options, methods=["POST"]),
        r("/account/keys", views.add_key, methods=["POST"]),
        r("/account/recovery-codes", views.new_codes, methods=["POST"]),
        r("/confirm/options", views.confirm_options, methods=["POST"]),
        r("/export", views.export_page),
        r("/export/download", views.export_download),
        r("/delete", views.delete_page),
        r("/delete", views.delete, methods=["POST"]),
        # The auditors' pages (clients/app/auditor.py): their own area and session cookie.
        r("/auditor", auditor.events),
        r("/auditor/enrol", auditor.enrol_page),
        r("/auditor/enrol", auditor.enrol, methods=["POST"]),
        r("/auditor/enrol/options", auditor.enrol_options, methods=["POST"]),
        r("/auditor/sign-in", auditor.sign_in_page),
        r("/auditor/sign-in", auditor.sign_in, methods=["POST"]),
        r("/auditor/sign-in/options", auditor.sign_in_options, methods=["POST"]),
        r("/auditor/sign-out", auditor.sign_out, methods=["POST"]),
        r("/auditor/language", views.language, methods=["POST"]),
        r("/auditor/events/{index:int}", auditor.event),
        r("/auditor/checkpoint", auditor.checkpoint),
        r("/auditor/checkpoint", auditor.check_pasted, methods=["POST"]),
        r("/auditor/export", auditor.export_page),
        r("/auditor/export/{format:str}", auditor.export_download),
        Mount(
            "/static",
            app=GZipMiddleware(StaticFiles(directory=HERE / "static"), minimum_size=1024),
            name="static",
        ),
    ]


def create_resident_app(config: AppConfig) -> ASGIApp:
    """The resident app as an ASGI application."""
    environment = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    templates = Jinja2Templates(env=environment)
    http = AsyncHttp(
        config.api_url or config.public_url,
        transport=config.api_transport,
        allow_http=config.api_transport is not None,
    )
    app = Starlette(
        routes=routes(),
        exception_handlers={
            404: _not_found,
            405: _not_found,
            NotSignedIn: _not_signed_in,
            FormRefused: _refused,
            sdk_errors.RegieError: _sdk_error,
            Exception: _unexpected,
        },
    )
    app.state.regie = AppState(
        public_url=config.public_url.rstrip("/"),
        cookies=CookieNames.for_origin(config.public_url),
        csrf=CsrfTokens(config.csrf_secret),
        http=http,
        templates=templates,
        max_upload_bytes=config.max_upload_bytes,
    )
    return PageHeaders(LastResort(app), hsts=config.public_url.startswith("https://"))


__all__ = ["AppConfig", "create_resident_app"]
