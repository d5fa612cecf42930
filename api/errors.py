"""The one place where errors become HTTP: RFC 9457 problem+json, a stable type per kind.

Problem type URIs are `{public_url}/problems/{slug}`; `GET /problems/{slug}` describes each.
Nothing internal (stack traces, SQL, key versions) ever reaches a response body.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from vault import errors as ve

log = logging.getLogger("regie.api")
PROBLEM_JSON = "application/problem+json"


@dataclass(frozen=True, slots=True)
class ProblemType:
    slug: str
    status: int
    title: str
    description: str


PROBLEMS: dict[str, ProblemType] = {
    p.slug: p
    for p in (
        ProblemType("not-found", 404, "Not found", "There is no such resource for you."),
        ProblemType("invalid-input", 422, "Invalid input", "The request is not acceptable."),
        ProblemType("unknown-category", 422, "Unknown category", "See GET /v1/catalogue."),
        ProblemType("unknown-record-type", 422, "Unknown record type", "See GET /v1/catalogue."),
        ProblemType(
            "invalid-request",
            422,
            "Invalid request",
            "The body or parameters do not match the schema; see `errors`.",
        ),
        ProblemType("malformed-json", 400, "Malformed JSON", "The body is not valid JSON."),
        ProblemType(
            "unsupported-media-type", 415, "Unsupported media type", "Send application/json."
        ),
        ProblemType(
            "payload-too-large", 413, "Payload too large", "The body is over the size limit."
        ),
        ProblemType("conflict", 409, "Conflict", "The resource changed; read it and try again."),
        ProblemType(
            "authentication-required", 401, "Authentication required", "Sign in with a passkey."
        ),
        ProblemType(
            "reauthentication-required",
            403,
            "Sign in again",
            "This action needs a passkey sign-in of the last few minutes.",
        ),
        ProblemType("vault-deleted", 410, "Vault deleted", "This vault has been deleted."),
        ProblemType(
            "access-denied",
            403,
            "Access denied",
            "No live grant covers this: `reason` says which condition failed.",
        ),
        ProblemType(
            "grant-ended",
            403,
            "Grant ended",
            "The grant has ended (revoked, procedure closed, expired); access is over.",
        ),
        ProblemType(
            "service-unavailable",
            503,
            "Service unavailable",
            "The database or key service is unavailable; nothing was changed. Retry later.",
        ),
        ProblemType(
            "too-many-requests",
            429,
            "Too many requests",
            "Too many requests from this address or service; wait `Retry-After` seconds.",
        ),
        ProblemType("method-not-allowed", 405, "Method not allowed", "See the OpenAPI document."),
        ProblemType("internal-error", 500, "Internal error", "Something failed on our side."),
    )
}

_VAULT_ERRORS: list[tuple[type[ve.VaultError], str]] = [
    # Most specific first.
    (ve.UnknownCategory, "unknown-category"),
    (ve.UnknownRecordType, "unknown-record-type"),
    (ve.InvalidInput, "invalid-input"),
    (ve.NotFound, "not-found"),
    (ve.Conflict, "conflict"),
    (ve.PayloadTooLarge, "payload-too-large"),
    (ve.AuthenticationFailed, "authentication-required"),
    (ve.ReauthenticationRequired, "reauthentication-required"),
    (ve.VaultDeleted, "vault-deleted"),
    (ve.GrantEnded, "grant-ended"),
    (ve.AccessDenied, "access-denied"),
    (ve.Unavailable, "service-unavailable"),
    (ve.RateLimited, "too-many-requests"),
]


def problem_response(
    request: Request | None,
    slug: str,
    detail: str,
    *,
    public_url: str,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    kind = PROBLEMS[slug]
    body: dict[str, Any] = {
        "type": f"{public_url}/problems/{slug}",
        "title": kind.title,
        "status": kind.status,
        "detail": detail,
    }
    if request is not None:
        body["instance"] = request.url.path
    if extra:
        body.update(extra)
    all_headers = dict(headers or {})
    if kind.status == 401:
        all_headers.setdefault("WWW-Authenticate", 'Bearer realm="regie"')
    if kind.status == 503:
        all_headers.setdefault("Retry-After", "5")
    return JSONResponse(body, status_code=kind.status, media_type=PROBLEM_JSON, headers=all_headers)


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route allows on this path (Starlette names only the first route's).

    Uses the routes `create_app` recorded in `app.state.api_routes`: FastAPI keeps included
    routers nested in private wrappers.
    """
    methods: set[str] = set()
    scope = {**request.scope, "method": "__none__"}
    for route in getattr(request.app.state, "api_routes", ()):
        match, _ = route.matches(scope)
        if match is not Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)


def slug_for(error: ve.VaultError) -> str:
    for cls, slug in _VAULT_ERRORS:
        if isinstance(error, cls):
            return slug
    return "internal-error"


def install_error_handlers(app: FastAPI, public_url: str) -> None:
    async def vault_error(request: Request, exc: Exception) -> JSONResponse:
        if not isinstance(exc, ve.VaultError):  # registered for VaultError only
            raise TypeError(type(exc).__name__)
        slug = slug_for(exc)
        if slug == "service-unavailable":
            log.warning("unavailable: %s", type(exc.__cause__ or exc).__name__)
        extra: dict[str, object] | None = None
        if isinstance(exc, ve.PayloadTooLarge):
            extra = {"limit_bytes": exc.limit}
        if isinstance(exc, ve.AccessDenied):
            extra = {"reason": exc.reason}
        if isinstance(exc, ve.MandateTooLong):
            extra = {"valid_until_max": exc.latest.isoformat()}
        headers = None
        if isinstance(exc, ve.RateLimited):
            headers = {"Retry-After": str(exc.retry_after)}
            if exc.reason is not None:
                extra = {"reason": exc.reason}
        return problem_response(
            request, slug, exc.detail, public_url=public_url, extra=extra, headers=headers
        )

    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        if not isinstance(exc, RequestValidationError):
            raise TypeError(type(exc).__name__)
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if (
            request.method in ("POST", "PUT", "PATCH")
            and any(e["loc"][:1] == ["body"] for e in errors)
            and not (content_type == "application/json" or content_type.endswith("+json"))
        ):
            return problem_response(
                request,
                "unsupported-media-type",
                f"Send the body as application/json, not {content_type or 'without a type'}.",
                public_url=public_url,
            )
        if any(e["type"] == "json_invalid" for e in errors):
            return problem_response(
                request, "malformed-json", "The body is not valid JSON.", public_url=public_url
            )
        return problem_response(
            request,
            "invalid-request",
            "The request does not match the schema.",
            public_url=public_url,
            extra={"errors": errors},
        )

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        if not isinstance(exc, StarletteHTTPException):
            raise TypeError(type(exc).__name__)
        slug = {
            404: "not-found",
            405: "method-not-allowed",
            413: "payload-too-large",
            415: "unsupported-media-type",
        }.get(exc.status_code, "invalid-input" if exc.status_code < 500 else "internal-error")
        detail = exc.detail if isinstance(exc.detail, str) else PROBLEMS[slug].description
        headers = dict(exc.headers) if exc.headers else {}
        extra = None
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(_allowed_methods(request))
        if exc.status_code == 413:  # only the body limit raises it: say the limit
            extra = {"limit_bytes": request.app.state.container.settings.max_json_bytes}
        return problem_response(
            request, slug, detail, public_url=public_url, headers=headers, extra=extra
        )

    # Anything else is answered by api.middleware.UnexpectedErrorMiddleware, which logs the
    # kind of failure and never its message (a handler for Exception here would re-raise).

    app.add_exception_handler(ve.VaultError, vault_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
