"""The OpenAPI document as integrators need it: every error a route can answer, documented.

FastAPI documents a route's success and, for routes with parameters, a 422 in its own shape.
Ours answer errors as RFC 9457 problem+json (api/errors.py), and the OAuth endpoints in RFC
6749 form (api/oauth/errors.py), and the OAuth endpoints read forms FastAPI cannot see. This
module adds all of that to the generated document, in one place:

- every operation belongs to exactly one *surface* (resident, sign-in, service data, OAuth,
  event poll, public), found by path; a route on no surface makes `openapi()` fail, so a new
  route cannot be published undocumented;
- a surface says which statuses it answers, in which body; statuses that need a body
  (400, 413, 415) or a path parameter (404) are added only where they can happen;
- the OAuth endpoints' form fields, and media types FastAPI cannot infer, are declared here.

`tests/fuzz/test_openapi_fuzz.py` holds the document to the truth: schemathesis sends every
operation generated requests and fails on any status, media type or body not documented here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from api.events.poll import PollRequest

PROBLEM_JSON = "application/problem+json"

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details; `type` dereferences to a description.",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "reason": {"type": "string", "description": "why access was refused (stable code)"},
        "limit_bytes": {"type": "integer"},
        "valid_until_max": {
            "type": "string",
            "format": "date-time",
            "description": "the latest end a mandate given under a mandate may have",
        },
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "loc": {"type": "array", "items": {}},
                    "msg": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
    },
}
OAUTH_ERROR_SCHEMA: dict[str, Any] = {
    "title": "OAuthError",
    "description": "RFC 6749 §5.2 error response.",
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "string"}, "error_description": {"type": "string"}},
}
POLL_ERROR_SCHEMA: dict[str, Any] = {
    "title": "PollError",
    "description": "RFC 8936 §2.4 error response.",
    "type": "object",
    "required": ["err"],
    "properties": {"err": {"type": "string"}, "description": {"type": "string"}},
}
SCHEMAS = {
    "Problem": PROBLEM_SCHEMA,
    "OAuthError": OAUTH_ERROR_SCHEMA,
    "PollError": POLL_ERROR_SCHEMA,
}

REASONS = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Refused",
    404: "Not found",
    409: "Conflict",
    410: "Gone",
    413: "Body too large",
    415: "Unsupported media type",
    422: "Invalid request",
    503: "Unavailable; nothing was changed, retry later",
}
NEEDS_BODY = frozenset({400, 413, 415})
NEEDS_PATH_PARAMETER = frozenset({404})
LOG_POSITIONS = frozenset({"size", "old", "new", "index"})


@dataclass(frozen=True, slots=True)
class Surface:
    """A group of operations that authenticate alike and answer errors alike."""

    name: str
    paths: re.Pattern[str]
    problems: frozenset[int] = frozenset()
    other_errors: frozenset[int] = frozenset()
    other_schema: str = "OAuthError"
    security: list[dict[str, list[str]]] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


SURFACES = (
    Surface(
        "auditor",
        re.compile(r"^/v1/auditor/(events|export/|auth/sign-out)"),
        problems=frozenset({401, 404, 422, 503}),
        security=[{"AuditorBearer": []}],
    ),
    Surface(
        "auditor sign-in",
        re.compile(r"^/v1/auditor/(enrol|auth)/"),
        problems=frozenset({400, 401, 409, 413, 415, 422, 503}),
    ),
    Surface(
        "resident",
        re.compile(r"^/v1/me(/|$)|^/v1/auth/sign-out"),
        problems=frozenset({400, 401, 403, 404, 409, 410, 413, 415, 422, 503}),
        security=[{"HTTPBearer": []}],
    ),
    Surface(
        "sign-in",
        re.compile(r"^/v1/auth/"),
        problems=frozenset({400, 401, 409, 413, 415, 422, 503}),
    ),
    Surface(
        "service data",
        re.compile(r"^/v1/service/(records|grant)(/|$)"),
        problems=frozenset({400, 403, 404, 413, 415, 422, 503}),
        other_errors=frozenset({401}),
        security=[{"DPoP": []}],
    ),
    Surface(
        "event poll",
        re.compile(r"^/v1/service/events$"),
        problems=frozenset({413, 503}),
        other_errors=frozenset({400, 401}),
        other_schema="PollError",
    ),
    Surface(
        "OAuth",
        re.compile(r"^/oauth/|^/v1/service/"),
        problems=frozenset({413, 503}),
        other_errors=frozenset({400, 401, 403}),
    ),
    Surface(
        "public",
        re.compile(
            r"^/(healthz|readyz|problems/|\.well-known/|v1/catalogue$|v1/issuers/|v1/audit/)"
        ),
        problems=frozenset({404, 422, 503}),
    ),
)

ASSERTION_FIELDS: dict[str, Any] = {
    "client_assertion_type": {
        "type": "string",
        "enum": ["urn:ietf:params:oauth:client-assertion-type:jwt-bearer"],
    },
    "client_assertion": {"type": "string", "description": "private_key_jwt (RFC 7523)"},
}


def _form(required: list[str], **fields: Any) -> dict[str, Any]:
    return {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": ["client_assertion_type", "client_assertion", *required],
                    "properties": {**ASSERTION_FIELDS, **fields},
                }
            }
        },
    }


_TEXT = {"type": "string"}
# The OAuth endpoints parse their forms themselves (repeated parameters must be refused,
# RFC 6749 §3.1), so FastAPI cannot see these fields.
FORMS: dict[tuple[str, str], dict[str, Any]] = {
    ("post", "/oauth/bc-authorize"): _form(
        ["login_hint", "authorization_details"],
        login_hint={"type": "string", "description": "the resident's pairwise subject"},
        binding_message=_TEXT,
        authorization_details={"type": "string", "description": "RFC 9396 JSON array"},
    ),
    ("post", "/oauth/par"): _form(
        ["response_type", "redirect_uri", "code_challenge", "authorization_details"],
        response_type={"type": "string", "enum": ["code"]},
        client_id=_TEXT,
        redirect_uri={"type": "string", "description": "exactly as registered"},
        code_challenge={"type": "string", "description": "BASE64URL(SHA256(code_verifier))"},
        code_challenge_method={"type": "string", "enum": ["S256"]},
        state=_TEXT,
        authorization_details={"type": "string", "description": "RFC 9396 JSON array"},
        binding_message=_TEXT,
        dpop_jkt={"type": "string", "description": "RFC 9449 §10: the DPoP key's thumbprint"},
    ),
    ("post", "/oauth/token"): _form(
        ["grant_type"],
        grant_type={
            "type": "string",
            "enum": ["urn:openid:params:grant-type:ciba", "authorization_code", "refresh_token"],
        },
        auth_req_id=_TEXT,
        refresh_token=_TEXT,
        code=_TEXT,
        redirect_uri=_TEXT,
        code_verifier=_TEXT,
    ),
    ("post", "/v1/service/connections"): _form(["code"], code=_TEXT),
    ("post", "/v1/service/procedures/close"): _form(["subject", "ref"], subject=_TEXT, ref=_TEXT),
    ("post", "/oauth/introspect"): _form(["token"], token=_TEXT, token_type_hint=_TEXT),
    ("post", "/oauth/revoke"): _form(["token"], token=_TEXT, token_type_hint=_TEXT),
}
# Routes that read a JSON body themselves (to answer errors in their RFC's own form).
JSON_BODIES: dict[tuple[str, str], type[BaseModel]] = {
    ("post", "/v1/service/events"): PollRequest,
}
# Success media types FastAPI cannot infer from a `Response` return (None: no body).
SUCCESS_MEDIA: dict[tuple[str, str], tuple[str, str | None]] = {
    ("post", "/oauth/revoke"): ("200", None),
    ("get", "/.well-known/jwks.json"): ("200", "application/jwk-set+json"),
    ("get", "/v1/audit/checkpoint"): ("200", "text/plain"),
    ("get", "/v1/audit/tile/{path}"): ("200", "application/octet-stream"),
    ("get", "/v1/auditor/export/jsonl"): ("200", "application/jsonl"),
    ("get", "/v1/auditor/export/csv"): ("200", "text/csv"),
    ("get", "/v1/me/records/{record_id}/file"): ("200", "application/octet-stream"),
}
SECURITY_SCHEMES: dict[str, Any] = {
    "DPoP": {
        "type": "http",
        "scheme": "DPoP",
        "description": "A DPoP-bound access token (RFC 9449) with a DPoP proof header",
    }
}


class UndocumentedRoute(RuntimeError):
    pass


def surface_of(path: str) -> Surface:
    for surface in SURFACES:
        if surface.paths.search(path):
            return surface
    raise UndocumentedRoute(f"{path} is on no surface in api/openapi.py: add it there")


def _error(description: str, media: str, schema: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {media: {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


def _json_body(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(by_alias=True, ref_template="#/components/schemas/{model}")
    components["schemas"].update(schema.pop("$defs", {}))
    components["schemas"][model.__name__] = schema
    ref = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"required": True, "content": {"application/json": {"schema": ref}}}


def document(spec: dict[str, Any]) -> dict[str, Any]:
    """Add the errors, forms, media types and security schemes to a generated document."""
    components = spec.setdefault("components", {})
    components.setdefault("schemas", {}).update(SCHEMAS)
    components.setdefault("securitySchemes", {}).update(SECURITY_SCHEMES)
    for path, operations in spec["paths"].items():
        surface = surface_of(path)
        for method, op in operations.items():
            if (method, path) in FORMS:
                op["requestBody"] = FORMS[method, path]
            if (method, path) in JSON_BODIES:
                op["requestBody"] = _json_body(JSON_BODIES[method, path], components)
            if (method, path) in SUCCESS_MEDIA:
                success, media = SUCCESS_MEDIA[method, path]
                if media is None:
                    op["responses"][success].pop("content", None)
                else:
                    op["responses"][success]["content"] = {media: {"schema": {}}}
            has_body = "requestBody" in op
            has_path_parameter = "{" in path
            # A checkpoint size or log index may name none there is: a 404 without a path
            # parameter (the audit log's routes).
            names_checkpoint = any(
                p.get("in") == "query" and p.get("name") in LOG_POSITIONS
                for p in op.get("parameters", [])
            )
            responses = op["responses"]
            responses.pop("422", None)  # FastAPI's own shape; ours is a problem
            wanted = [(status, PROBLEM_JSON, "Problem") for status in surface.problems] + [
                (status, "application/json", surface.other_schema)
                for status in surface.other_errors
            ]
            for status, error_media, schema in sorted(wanted):
                if status in NEEDS_BODY and not has_body:
                    continue
                if status in NEEDS_PATH_PARAMETER and not (has_path_parameter or names_checkpoint):
                    continue
                if status == 422 and not (has_body or op.get("parameters")):
                    continue
                responses[str(status)] = _error(REASONS[status], error_media, schema)
            if surface.security is not None:
                op["security"] = surface.security
    for unused in ("HTTPValidationError", "ValidationError"):
        components["schemas"].pop(unused, None)
    return spec


def install_openapi(app: FastAPI) -> None:
    """Make `app.openapi()` return the documented document (built once, then cached)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document(
                get_openapi(
                    title=app.title,
                    version=app.version,
                    description=app.description,
                    routes=app.routes,
                )
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
