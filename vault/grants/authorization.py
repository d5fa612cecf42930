"""The browser flow: authorization code + PKCE (RFC 6749 §4.1, RFC 7636 S256 only), pushed
requests (RFC 9126, required), `iss` in the response (RFC 9207), for a resident who is present.

1. `push`: the authenticated service pushes its request (the same `regie:records`
   authorization_details the backchannel takes, checked against its ceiling now), an exactly
   registered redirect URI, its S256 `code_challenge`, `state` and optionally `dpop_jkt`
   (RFC 9449 §10). It gets a `request_uri`, single use, bound to it, short-lived.
2. `start`: the signed-in resident's browser brings `client_id` + `request_uri`; the pushed
   request is used up and becomes a grant in state `requested` (GrantService.new_request), with
   its browser-flow row (`authorization_codes`).
3. `approve` / `deny`: the resident answers with GrantService's own approve (narrower allowed,
   wider refused) or deny; on approval the resident is connected to the service (its pairwise
   subject) and a code is issued, in the same transaction. Both answer with the URL to send the
   browser to: `code` (or `error=access_denied`), `state` and `iss`.
4. `redeem`: the token endpoint's authorization_code grant. The code is random, stored as its
   SHA-256, lives 60 seconds and works once; a second use ends the grant and every token
   issued under it (RFC 6749 §4.1.2; reason token-reuse). The code is used up by any attempt
   by its own service (a wrong verifier leaves no second try); another service's attempt is
   refused without touching it.

Everything that checks a secret lives here: `pkce_matches` and the code and request_uri
lookups by hash. Written by hand because Authlib's server grant classes need its framework
integration and storage model; the checks are a few lines each.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal
from urllib.parse import urlencode

from vault.errors import AccessDenied, InvalidInput, NotFound
from vault.grants import stored
from vault.grants.model import AccessRequestSpec, TokenPair
from vault.grants.service import GrantService
from vault.grants.tokens import TokenService
from vault.ports import Clock
from vault.services.service import ServiceInfo, ServiceRegistry, service_info
from vault.storage.orm import AuthorizationCodeRow, PushedRequestRow
from vault.storage.unit_of_work import SqlUnitOfWork, UnitOfWorkFactory

REQUEST_URI_PREFIX = "urn:ietf:params:oauth:request_uri:"
CODE_PREFIX = "rac_"
REQUEST_LIFETIME = timedelta(seconds=300)  # RFC 9126 §2.2: short; covers a passkey sign-in
CONSENT_LIFETIME = timedelta(minutes=10)  # how long the consent screen may stay open
CODE_LIFETIME = timedelta(seconds=60)  # RFC 6749 §4.1.2: at most 10 minutes; we take 1
# RFC 7636 §4.1: 43 to 128 unreserved characters; the S256 challenge is 43 base64url ones.
VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")
JKT = re.compile(r"^[A-Za-z0-9_-]{43}$")


def _sha256(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


def pkce_matches(verifier: str, challenge: str) -> bool:
    """RFC 7636 §4.6 with S256: BASE64URL(SHA256(ASCII(verifier))) == challenge."""
    if not VERIFIER.match(verifier):
        return False
    computed = base64.urlsafe_b64encode(_sha256(verifier)).decode().rstrip("=")
    return hmac.compare_digest(computed, challenge)


def _spec_json(spec: AccessRequestSpec) -> str:
    def moment(d: datetime | None) -> str | None:
        return d.isoformat() if d else None

    return json.dumps(
        {
            "datatypes": sorted(spec.datatypes),
            "actions": sorted(spec.actions),
            "purpose_uri": spec.purpose_uri,
            "purpose_text": spec.purpose_text,
            "legal_basis": spec.legal_basis,
            "procedure_ref": spec.procedure_ref,
            "procedure_description": spec.procedure_description,
            "procedure_planned_end": moment(spec.procedure_planned_end),
            "valid_until": moment(spec.valid_until),
            "binding_message": spec.binding_message,
        }
    )


def _spec_of(text: str) -> AccessRequestSpec:
    d = json.loads(text)

    def moment(v: str | None) -> datetime | None:
        return datetime.fromisoformat(v).astimezone(UTC) if v else None

    return AccessRequestSpec(
        datatypes=frozenset(d["datatypes"]),
        actions=frozenset(d["actions"]),
        purpose_uri=d["purpose_uri"],
        purpose_text=d["purpose_text"],
        legal_basis=d["legal_basis"],
        procedure_ref=d["procedure_ref"],
        procedure_description=d["procedure_description"],
        procedure_planned_end=moment(d["procedure_planned_end"]),
        valid_until=moment(d["valid_until"]),
        binding_message=d["binding_message"],
    )


@dataclass(frozen=True, slots=True)
class Pushed:
    request_uri: str
    expires_in: int


@dataclass(frozen=True, slots=True)
class Authorization:
    """A browser flow waiting for the resident's answer (for the consent screen)."""

    grant_id: uuid.UUID
    client_id: str
    redirect_uri: str


@dataclass(frozen=True, slots=True)
class CodeOutcome:
    """What the token endpoint answers an authorization_code grant with."""

    status: Literal["approved", "invalid", "reused", "dpop_mismatch"]
    tokens: TokenPair | None = None
    granted: dict[str, object] | None = None
    subject: str | None = None


class AuthorizationCodeFlow:
    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        grants: GrantService,
        registry: ServiceRegistry,
        tokens: TokenService,
        clock: Clock,
        issuer: str,
    ) -> None:
        self._uow = uow
        self._grants = grants
        self._registry = registry
        self._tokens = tokens
        self._clock = clock
        self._issuer = issuer

    # -- 1. the service pushes its request (RFC 9126) --------------------------------------

    def push(
        self,
        service: ServiceInfo,
        spec: AccessRequestSpec,
        *,
        redirect_uri: str,
        code_challenge: str,
        code_challenge_method: str,
        state: str | None,
        dpop_jkt: str | None,
    ) -> Pushed:
        if not service.active:
            raise AccessDenied("this service has been disabled", reason="service-disabled")
        if redirect_uri not in service.redirect_uris:
            # Exact string comparison (RFC 9700 §4.1.3): no prefixes, no patterns.
            raise InvalidInput("redirect_uri is not one registered for this service")
        if code_challenge_method != "S256":
            raise InvalidInput("code_challenge_method must be S256 (plain is not allowed)")
        if not CHALLENGE.match(code_challenge):
            raise InvalidInput("code_challenge must be the base64url SHA-256 of the verifier")
        if state is not None and len(state) > 500:
            raise InvalidInput("state is at most 500 characters")
        if dpop_jkt is not None and not JKT.match(dpop_jkt):
            raise InvalidInput("dpop_jkt must be a base64url SHA-256 JWK thumbprint")
        now = self._clock.now()
        self._grants.validate(service, spec, now)  # the ceiling, now rather than later
        handle = REQUEST_URI_PREFIX + secrets.token_urlsafe(32)
        with self._uow() as uow:
            uow.grants.add_flow(
                PushedRequestRow(
                    request_uri_hash=_sha256(handle),
                    service_id=service.service_id,
                    redirect_uri=redirect_uri,
                    state=state,
                    code_challenge=code_challenge,
                    dpop_jkt=dpop_jkt,
                    spec=_spec_json(spec),
                    created_at=now,
                    expires_at=now + REQUEST_LIFETIME,
                )
            )
            uow.commit()
        return Pushed(handle, int(REQUEST_LIFETIME.total_seconds()))

    # -- 2. the resident's browser arrives -------------------------------------------------

    def start(self, resident_id: uuid.UUID, client_id: str, request_uri: str) -> uuid.UUID:
        """Use up a pushed request for this signed-in resident: the grant it becomes.
        InvalidInput, one answer for an unknown, used or expired request_uri and one of
        another client: the browser cannot be sent back anywhere safely, so these never
        redirect."""
        now = self._clock.now()
        refused = InvalidInput("this sign-in link is not valid (any more)")
        if not request_uri.startswith(REQUEST_URI_PREFIX) or len(request_uri) > 200:
            raise refused
        with self._uow() as uow:
            pushed = uow.grants.pushed(_sha256(request_uri))
            if pushed is None:
                raise refused
            service_row = uow.services.get(pushed.service_id)
            if service_row is None or service_row.client_id != client_id:
                raise refused  # bound to its client (RFC 9126 §4); the other keeps it
            uow.grants.forget_pushed(pushed)  # single use, whatever happens next
            if pushed.expires_at <= now or service_row.status != "active":
                uow.commit()
                raise refused
            service = service_info(service_row)
            grant = self._grants.new_request(
                uow,
                service,
                resident_id,
                _spec_of(pushed.spec),
                now,
                handle=_sha256("browser:" + secrets.token_urlsafe(32)),  # never redeemed
                lifetime=CONSENT_LIFETIME,
            )
            uow.grants.add_flow(
                AuthorizationCodeRow(
                    resident_id=resident_id,
                    grant_id=grant.grant_id,
                    service_id=service.service_id,
                    redirect_uri=pushed.redirect_uri,
                    state=pushed.state,
                    code_challenge=pushed.code_challenge,
                    dpop_jkt=pushed.dpop_jkt,
                    code_hash=None,
                    code_expires_at=None,
                    code_used_at=None,
                    created_at=now,
                )
            )
            uow.commit()
            return grant.grant_id

    def get(self, resident_id: uuid.UUID, grant_id: uuid.UUID) -> Authorization:
        with self._uow() as uow:
            row = uow.grants.flow(resident_id, grant_id)
            service = uow.services.get(row.service_id) if row is not None else None
            if row is None or service is None:
                raise NotFound("no such sign-in request in this vault")
            return Authorization(grant_id, service.client_id, row.redirect_uri)

    # -- 3. the resident answers -------------------------------------------------------------

    def approve(
        self,
        resident_id: uuid.UUID,
        grant_id: uuid.UUID,
        *,
        datatypes: Sequence[str] | None = None,
        actions: Sequence[str] | None = None,
        valid_until: datetime | None = None,
    ) -> str:
        """Approve (as asked or narrower), connect, issue the code: where the browser goes."""
        with self._uow() as uow:
            flow = self._flow(uow, resident_id, grant_id)
            grant = self._grants.approve_in(
                uow,
                resident_id,
                grant_id,
                datatypes=datatypes,
                actions=actions,
                valid_until=valid_until,
            )
            now = self._clock.now()
            self._registry.connect(uow, grant.service_id, resident_id, now)
            code = CODE_PREFIX + secrets.token_urlsafe(32)
            flow.code_hash = _sha256(code)
            flow.code_expires_at = now + CODE_LIFETIME
            uow.commit()
            return self._back(flow, code=code)

    def deny(self, resident_id: uuid.UUID, grant_id: uuid.UUID) -> str:
        with self._uow() as uow:
            flow = self._flow(uow, resident_id, grant_id)
            self._grants.deny_in(uow, resident_id, grant_id)
            uow.commit()
            return self._back(flow, error="access_denied", error_description="the resident said no")

    @staticmethod
    def _flow(
        uow: SqlUnitOfWork, resident_id: uuid.UUID, grant_id: uuid.UUID
    ) -> AuthorizationCodeRow:
        flow = uow.grants.flow(resident_id, grant_id, for_update=True)
        if flow is None:
            raise NotFound("no such sign-in request in this vault")
        return flow

    def _back(self, flow: AuthorizationCodeRow, **params: str) -> str:
        values = dict(params)
        if flow.state is not None:
            values["state"] = flow.state
        values["iss"] = self._issuer  # RFC 9207
        joiner = "&" if "?" in flow.redirect_uri else "?"
        return flow.redirect_uri + joiner + urlencode(values)

    # -- 4. the service redeems the code (the token endpoint) -------------------------------

    def redeem(
        self,
        service: ServiceInfo,
        *,
        code: str,
        redirect_uri: str,
        code_verifier: str,
        jkt: str,
    ) -> CodeOutcome:
        if not code.startswith(CODE_PREFIX) or len(code) > 100:
            return CodeOutcome("invalid")
        with self._uow() as uow:
            flow = uow.grants.flow_by_code(_sha256(code))
            if flow is None or flow.service_id != service.service_id:
                return CodeOutcome("invalid")  # another service's attempt leaves it alone
            now = self._clock.now()
            grant = uow.grants.get(flow.resident_id, flow.grant_id, for_update=True)
            if grant is None:
                return CodeOutcome("invalid")
            if flow.code_used_at is not None:
                # A second use: someone else may hold the code. End the grant and its tokens.
                self._grants.end_for_token_reuse(uow, grant, now)
                uow.commit()
                return CodeOutcome("reused")
            flow.code_used_at = now  # one attempt per code, whatever its outcome
            outcome = CodeOutcome("invalid")
            fresh = flow.code_expires_at is not None and flow.code_expires_at > now
            same_uri = hmac.compare_digest(flow.redirect_uri.encode(), redirect_uri.encode())
            if not fresh or not same_uri or not pkce_matches(code_verifier, flow.code_challenge):
                pass  # invalid_grant
            elif flow.dpop_jkt is not None and not hmac.compare_digest(flow.dpop_jkt, jkt):
                outcome = CodeOutcome("dpop_mismatch")
            elif grant.status == "approved" and grant.tokens_issued_at is None:
                pair = self._tokens.issue(uow, grant, jkt, now)
                grant.tokens_issued_at = now
                procedure = uow.grants.procedure(grant.resident_id, grant.procedure_id)
                granted = stored.authorization_details(grant, procedure.ref if procedure else None)
                subject = self._registry.subject(service.service_id, grant.resident_id)
                outcome = CodeOutcome("approved", pair, granted, subject)
            uow.commit()
            return outcome
