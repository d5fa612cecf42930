"""The OAuth endpoints services use: metadata (RFC 8414), the backchannel request (in the shape
of OpenID CIBA, poll and ping modes; vault/events/ping.py), the pushed authorization request
of the browser flow (RFC 9126), the token endpoint (CIBA grant, authorization code + PKCE,
refresh; DPoP-bound tokens), connecting a resident by code, and closing a procedure. The
browser's own step,
`GET /oauth/authorize`, is a page of the resident app (clients/app/views.py `authorize`).

Each endpoint authenticates the service with `private_key_jwt` (api/oauth/client_auth.py) in
its form; the token endpoint also requires a DPoP proof (api/oauth/dpop.py). Errors are in
RFC 6749 form (api/oauth/errors.py). Authlib has no FastAPI server adapter; these routes are
the small adapter: they parse, authenticate, call one vault service, and answer.
Introspection (RFC 7662) and revocation (RFC 7009) work on the calling service's own tokens.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from api.container import Container
from api.deps import container
from api.oauth import rar
from api.oauth.client_auth import REPLAY_NAMESPACE as CLIENT_ASSERTION
from api.oauth.client_auth import REPLAYED as CLIENT_ASSERTION_REPLAYED
from api.oauth.client_auth import ClientAuthError, claimed_client_id
from api.oauth.dpop import REPLAY_NAMESPACE as DPOP
from api.oauth.dpop import REPLAYED as DPOP_REPLAYED
from api.oauth.dpop import DpopError, DpopProof
from api.oauth.errors import OAuthError
from vault.audit.events import ReplayClaim
from vault.errors import (
    AccessDenied,
    AuthenticationFailed,
    Conflict,
    InvalidInput,
    NotFound,
    RateLimited,
    ReplayDetected,
)
from vault.events import ping
from vault.services.service import ServiceInfo, service_info
from vault.storage.queries import SERVICE_BY_CLIENT_ID

router = APIRouter(tags=["OAuth (services)"])
CIBA = "urn:openid:params:grant-type:ciba"
AUTHORIZATION_CODE = "authorization_code"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
CLIENT_AUTH_ALGS = ["ES256", "Ed25519", "EdDSA", "PS256"]


def metadata(c: Container) -> dict[str, Any]:
    base = c.settings.public_url
    return {
        "issuer": base,
        "authorization_endpoint": f"{base}/oauth/authorize",
        "pushed_authorization_request_endpoint": f"{base}/oauth/par",
        "require_pushed_authorization_requests": True,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": True,
        "token_endpoint": f"{base}/oauth/token",
        "backchannel_authentication_endpoint": f"{base}/oauth/bc-authorize",
        "introspection_endpoint": f"{base}/oauth/introspect",
        "revocation_endpoint": f"{base}/oauth/revoke",
        "jwks_uri": f"{base}/.well-known/jwks.json",
        "grant_types_supported": [CIBA, AUTHORIZATION_CODE, "refresh_token"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": CLIENT_AUTH_ALGS,
        "introspection_endpoint_auth_methods_supported": ["private_key_jwt"],
        "introspection_endpoint_auth_signing_alg_values_supported": CLIENT_AUTH_ALGS,
        "revocation_endpoint_auth_methods_supported": ["private_key_jwt"],
        "revocation_endpoint_auth_signing_alg_values_supported": CLIENT_AUTH_ALGS,
        "backchannel_token_delivery_modes_supported": ["poll", "ping"],
        "backchannel_authentication_request_signing_alg_values_supported": [],
        "backchannel_user_code_parameter_supported": False,
        "dpop_signing_alg_values_supported": ["ES256", "Ed25519", "EdDSA", "PS256", "RS256"],
        "authorization_details_types_supported": [rar.TYPE],
        "service_documentation": f"{base}/docs",
    }


@router.get("/.well-known/oauth-authorization-server", summary="RFC 8414 metadata")
def authorization_server_metadata(request: Request) -> JSONResponse:
    return JSONResponse(
        metadata(container(request)), headers={"Cache-Control": "public, max-age=300"}
    )


async def _form(request: Request) -> dict[str, str]:
    """The form, refusing repeated parameters and file parts (RFC 6749 §3.1, §3.2)."""
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise OAuthError("invalid_request", "send application/x-www-form-urlencoded")
    form = await request.form()
    fields: dict[str, str] = {}
    for key in form:
        values = form.getlist(key)
        if len(values) != 1 or isinstance(values[0], UploadFile):
            raise OAuthError("invalid_request", "a parameter is repeated or not text")
        fields[key] = str(values[0])
    return fields


async def _authenticated(
    request: Request, c: Container, fields: dict[str, str]
) -> tuple[ServiceInfo, ReplayClaim]:
    """The service whose `private_key_jwt` assertion checks out, and the assertion's replay
    claim, which the caller commits in the request's transaction (RFC 7523 §3)."""
    if request.headers.get("authorization"):
        raise OAuthError("invalid_request", "use one client authentication method: private_key_jwt")
    client_id = claimed_client_id(fields)
    row: Any = None
    if client_id is not None:
        async with c.async_uow(read_only=True) as uow:
            row = (await uow.execute(SERVICE_BY_CLIENT_ID, {"client_id": client_id})).first()
    active = row is not None and row.status == "active"
    keys = c.client_keys.bound(
        row.client_id if active else "",
        row.jwks if active else None,
        row.jwks_uri if active else None,
    )
    try:
        if active and c.client_keys.needs_fetch(row.jwks, row.jwks_uri):
            client = await run_in_threadpool(c.client_auth.check, fields, keys=keys)  # HTTP
        else:
            client = c.client_auth.check(fields, keys=keys)
    except ClientAuthError as e:
        raise OAuthError("invalid_client", e.description) from e
    if not active:
        raise OAuthError("invalid_client", "client authentication failed")
    # The service's own bucket, counted only once it has proved who it is (api/ratelimit.py).
    try:
        await c.limiter.check_client(request.url.path, row.client_id)
    except RateLimited as e:
        raise OAuthError(
            "temporarily_unavailable", e.detail, status=429, retry_after=e.retry_after
        ) from e
    claim = ReplayClaim(CLIENT_ASSERTION, client.replay_value, client.replay_expires_at)
    return service_info(row), claim


def _replayed(e: ReplayDetected) -> OAuthError:
    if CLIENT_ASSERTION in e.namespaces:
        return OAuthError("invalid_client", CLIENT_ASSERTION_REPLAYED)
    return OAuthError("invalid_dpop_proof", DPOP_REPLAYED)


async def _commit_claims(c: Container, claims: list[ReplayClaim]) -> None:
    try:
        await c.access_log.commit(claims, None, c.clock.now())
    except ReplayDetected as e:
        raise _replayed(e) from e


async def _client(request: Request, fields: dict[str, str]) -> ServiceInfo:
    c = container(request)
    service, claim = await _authenticated(request, c, fields)
    await _commit_claims(c, [claim])
    return service


def _dpop_proof(request: Request, c: Container, path: str) -> DpopProof:
    proofs = request.headers.getlist("dpop")
    if len(proofs) != 1:
        raise OAuthError("invalid_dpop_proof", "send exactly one DPoP proof")
    try:
        return c.dpop.check(proofs[0], method=request.method, url=c.settings.public_url + path)
    except DpopError as e:
        raise OAuthError(e.error, e.description) from e


@router.post("/oauth/bc-authorize", summary="Ask a resident for access (CIBA-shaped, decoupled)")
async def backchannel_authorize(request: Request) -> JSONResponse:
    fields = await _form(request)
    service = await _client(request, fields)
    subject = fields.get("login_hint")
    if not subject:
        raise OAuthError("invalid_request", "login_hint (the resident's subject) is required")
    spec = rar.parse(fields.get("authorization_details"), fields.get("binding_message"))
    try:
        # Required and checked in ping mode; ignored in poll mode (CIBA §7.1).
        notification_token = ping.notification_token(
            service.backchannel_token_delivery_mode, fields.get("client_notification_token")
        )
    except InvalidInput as e:
        raise OAuthError("invalid_request", e.detail) from e
    c = container(request)
    try:
        accepted = await run_in_threadpool(
            partial(c.grants.request, notification_token=notification_token),
            service,
            subject,
            spec,
        )
    except NotFound as e:
        raise OAuthError("unknown_user_id", "no resident is connected under that login_hint") from e
    except AccessDenied as e:
        raise OAuthError("access_denied", e.detail) from e
    except (InvalidInput, Conflict) as e:
        raise OAuthError("invalid_authorization_details", e.detail) from e
    expires_in = int((accepted.expires_at - c.clock.now()).total_seconds())
    return JSONResponse(
        {
            "auth_req_id": accepted.auth_req_id,
            "expires_in": expires_in,
            "interval": accepted.interval,
        },
        headers=NO_STORE,
    )


@router.post(
    "/oauth/par",
    summary="Push a browser-flow request (RFC 9126; authorization code + PKCE S256)",
    status_code=201,
)
async def pushed_authorization_request(request: Request) -> JSONResponse:
    fields = await _form(request)
    service = await _client(request, fields)
    if "request_uri" in fields:  # RFC 9126 §2.1
        raise OAuthError("invalid_request", "request_uri is not allowed in a pushed request")
    if fields.get("client_id") not in (None, service.client_id):
        raise OAuthError("invalid_request", "client_id is not the authenticated client")
    if fields.get("response_type") != "code":
        raise OAuthError("unsupported_response_type", "response_type must be code")
    redirect_uri = fields.get("redirect_uri")
    if not redirect_uri:
        raise OAuthError("invalid_request", "redirect_uri is required")
    challenge = fields.get("code_challenge")
    if not challenge:
        raise OAuthError("invalid_request", "PKCE is required: send code_challenge (S256)")
    spec = rar.parse(fields.get("authorization_details"), fields.get("binding_message"))
    c = container(request)
    try:
        c.grants.validate(service, spec, c.clock.now())
    except AccessDenied as e:
        raise OAuthError("access_denied", e.detail) from e
    except InvalidInput as e:
        raise OAuthError("invalid_authorization_details", e.detail) from e
    try:
        pushed = await run_in_threadpool(
            c.authorizations.push,
            service,
            spec,
            redirect_uri=redirect_uri,
            code_challenge=challenge,
            code_challenge_method=fields.get("code_challenge_method", "plain"),
            state=fields.get("state"),
            dpop_jkt=fields.get("dpop_jkt"),
        )
    except AccessDenied as e:
        raise OAuthError("access_denied", e.detail) from e
    except InvalidInput as e:
        raise OAuthError("invalid_request", e.detail) from e
    return JSONResponse(
        {"request_uri": pushed.request_uri, "expires_in": pushed.expires_in},
        status_code=201,
        headers=NO_STORE,
    )


@router.post("/oauth/token", summary="Redeem an approved request, or refresh (DPoP-bound tokens)")
async def token(request: Request) -> JSONResponse:
    # On the event loop (ADR 0001): the registration is read, both JWTs checked, and a CIBA
    # redemption is one transaction with both replay claims (GrantService.poll).
    fields = await _form(request)
    c = container(request)
    service, assertion = await _authenticated(request, c, fields)
    try:
        proof = _dpop_proof(request, c, "/oauth/token")
    except OAuthError:
        await _commit_claims(c, [assertion])  # the assertion is used up all the same
        raise
    claims = [assertion, ReplayClaim(DPOP, proof.replay_value, proof.replay_expires_at)]
    jkt = proof.jkt
    subject: str | None = None
    grant_type = fields.get("grant_type")
    if grant_type == CIBA:
        auth_req_id = fields.get("auth_req_id")
        if not auth_req_id:
            await _commit_claims(c, claims)
            raise OAuthError("invalid_request", "auth_req_id is required")
        try:
            outcome = await c.grants.poll(service, auth_req_id, jkt, claims)
        except ReplayDetected as e:
            raise _replayed(e) from e
        errors = {
            "pending": ("authorization_pending", "the resident has not answered yet"),
            "slow_down": ("slow_down", "poll less often: add 5 seconds to the interval"),
            "denied": ("access_denied", "the resident said no, or access has ended"),
            "expired": ("expired_token", "the request expired before the resident answered"),
            "invalid": ("invalid_grant", "unknown or already redeemed auth_req_id"),
        }
        if outcome.status != "approved" or outcome.tokens is None:
            raise OAuthError(*errors.get(outcome.status, errors["invalid"]))
        pair, details = outcome.tokens, [outcome.granted]
    elif grant_type == AUTHORIZATION_CODE:
        await _commit_claims(c, claims)
        redeemed = await run_in_threadpool(
            c.authorizations.redeem,
            service,
            code=fields.get("code", ""),
            redirect_uri=fields.get("redirect_uri", ""),
            code_verifier=fields.get("code_verifier", ""),
            jkt=jkt,
        )
        if redeemed.status == "dpop_mismatch":
            raise OAuthError("invalid_grant", "the DPoP key is not the one named at the request")
        if redeemed.status != "approved" or redeemed.tokens is None:
            # One answer for unknown, expired, reused, wrong verifier or redirect_uri.
            raise OAuthError("invalid_grant", "the code is not valid (any more) for this request")
        pair, details, subject = redeemed.tokens, [redeemed.granted], redeemed.subject
    elif grant_type == "refresh_token":
        await _commit_claims(c, claims)
        refreshed = await run_in_threadpool(
            c.tokens.refresh, service.service_id, fields.get("refresh_token", ""), jkt
        )
        if refreshed.tokens is None:
            raise OAuthError("invalid_grant", "the refresh token is not valid (any more)")
        pair, details = refreshed.tokens, None
    else:
        await _commit_claims(c, claims)
        raise OAuthError(
            "unsupported_grant_type", "use the CIBA grant, authorization_code or refresh_token"
        )
    body: dict[str, Any] = {
        "access_token": pair.access_token,
        "token_type": "DPoP",  # nosec B105 - the RFC 9449 token type, not a secret
        "expires_in": pair.expires_in,
        "refresh_token": pair.refresh_token,
        "grant_id": str(pair.grant_id),
    }
    if details:
        body["authorization_details"] = details
    if subject is not None:
        # The browser flow also connects the resident: the pairwise subject to use from now on.
        body["sub"] = subject
    return JSONResponse(body, headers=NO_STORE)


@router.post("/v1/service/connections", summary="Redeem a resident's connection code for a subject")
async def connect(request: Request) -> JSONResponse:
    fields = await _form(request)
    service = await _client(request, fields)
    try:
        subject = await run_in_threadpool(
            container(request).services.redeem, service, fields.get("code", "")
        )
    except AuthenticationFailed as e:
        raise OAuthError("invalid_grant", e.detail) from e
    return JSONResponse({"subject": subject}, headers=NO_STORE)


@router.post("/v1/service/procedures/close", summary="Close a procedure: every grant under it ends")
async def close_procedure(request: Request) -> JSONResponse:
    fields = await _form(request)
    service = await _client(request, fields)
    subject, ref = fields.get("subject"), fields.get("ref")
    if not subject or not ref:
        raise OAuthError("invalid_request", "subject and ref are required")
    try:
        ended = await run_in_threadpool(
            container(request).grants.close_procedure_by_service, service, subject, ref
        )
    except NotFound as e:
        raise OAuthError("invalid_request", e.detail) from e
    return JSONResponse({"ended_grants": ended}, headers=NO_STORE)


@router.post("/oauth/introspect", summary="Is a token of yours active, and for what (RFC 7662)")
async def introspect(request: Request) -> JSONResponse:
    fields = await _form(request)
    service = await _client(request, fields)
    token = fields.get("token")
    if not token:
        raise OAuthError("invalid_request", "token is required")
    c = container(request)

    def answer() -> dict[str, Any]:
        # token_type_hint is only a hint (RFC 7662 §2.1): the token's prefix says what it is.
        found = c.tokens.introspect(service.service_id, token, c.clock.now())
        if found is None:
            # The same answer for unknown, dead and other services' tokens: nothing leaks.
            return {"active": False}
        return {
            "active": True,
            "token_type": "DPoP" if found.kind == "access" else "refresh_token",
            "client_id": service.client_id,
            "iss": c.settings.public_url,
            # The pairwise subject this service knows the resident by, never the internal id.
            "sub": c.services.subject(service.service_id, found.resident_id),
            "iat": int(found.issued_at.timestamp()),
            "exp": int(found.expires_at.timestamp()),
            "cnf": {"jkt": found.jkt},
            "authorization_details": [found.authorization_details],
            "grant_id": str(found.grant_id),
        }

    return JSONResponse(await run_in_threadpool(answer), headers=NO_STORE)


@router.post("/oauth/revoke", summary="Revoke a token of yours (RFC 7009)")
async def revoke(request: Request) -> Response:
    """An access token: that token. A refresh token: every token of its grant (the grant
    itself stays; relinquish it to end it). Unknown and other services' tokens: 200, no effect
    (RFC 7009 §2.2)."""
    fields = await _form(request)
    service = await _client(request, fields)
    token = fields.get("token")
    if not token:
        raise OAuthError("invalid_request", "token is required")
    await run_in_threadpool(container(request).tokens.revoke, service.service_id, token)
    return Response(status_code=200, headers=NO_STORE)
