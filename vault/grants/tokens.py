"""Access and refresh tokens (invariant I5): opaque, random, stored as SHA-256 hashes, bound to
one grant and to the service's DPoP key (`cnf.jkt`).

Access tokens live at most `access_lifetime` (5 minutes) and never past the grant's end.
Refresh tokens rotate: each use returns a new pair and retires the old refresh token; if a
retired one is used again, someone holds a copy, so the grant ends (reason token-reuse) and
every token under it dies. Ending a grant revokes all its tokens (GrantService._end).

A service may introspect (RFC 7662) and revoke (RFC 7009) its own tokens, and only its own:
`introspect` reports a token active only while the token and its grant are both live;
`revoke` of a refresh token revokes every token of the grant without ending the grant.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from vault.audit.events import AccessEvent, record
from vault.errors import AuthenticationFailed
from vault.grants import stored
from vault.grants.model import TokenFacts, TokenPair
from vault.grants.policy import Permit
from vault.ports import Clock
from vault.storage.orm import GrantRow, OAuthTokenRow
from vault.storage.unit_of_work import SqlUnitOfWork, UnitOfWorkFactory

ACCESS_PREFIX = "rat_"
REFRESH_PREFIX = "rrt_"


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


@dataclass(frozen=True, slots=True)
class RefreshOutcome:
    tokens: TokenPair | None
    reused: bool = False


class TokenService:
    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        clock: Clock,
        access_lifetime: timedelta = timedelta(minutes=5),
        on_reuse: Callable[[SqlUnitOfWork, GrantRow, datetime], None] | None = None,
    ) -> None:
        if access_lifetime > timedelta(minutes=5):
            raise ValueError("access tokens live 5 minutes at most")
        self._uow = uow
        self._clock = clock
        self._lifetime = access_lifetime
        self.on_reuse = on_reuse

    def issue(self, uow: SqlUnitOfWork, grant: GrantRow, jkt: str, now: datetime) -> TokenPair:
        """A new access + refresh pair for an approved grant, in the caller's transaction."""
        if grant.valid_until is None or grant.status != "approved":
            raise AuthenticationFailed("the grant is not approved")
        access = ACCESS_PREFIX + secrets.token_urlsafe(32)
        refresh = REFRESH_PREFIX + secrets.token_urlsafe(32)
        access_until = min(now + self._lifetime, grant.valid_until)
        for token, kind, until in (
            (access, "access", access_until),
            (refresh, "refresh", grant.valid_until),
        ):
            uow.tokens.add(
                OAuthTokenRow(
                    token_hash=token_hash(token),
                    kind=kind,
                    resident_id=grant.resident_id,
                    grant_id=grant.grant_id,
                    service_id=grant.service_id,
                    jkt=jkt,
                    created_at=now,
                    expires_at=until,
                    revoked_at=None,
                    rotated_at=None,
                )
            )
        return TokenPair(access, refresh, int((access_until - now).total_seconds()), grant.grant_id)

    def authenticate(self, access_token: str, jkt: str) -> TokenFacts:
        """The grant an access token speaks for, if it is live and the DPoP key matches.

        Says nothing about the grant itself: the access check (policy.decide) runs next, on
        current state.
        """
        if not access_token.startswith(ACCESS_PREFIX) or len(access_token) > 100:
            raise AuthenticationFailed("invalid access token")
        with self._uow() as uow:
            row = uow.tokens.get(token_hash(access_token))
            now = self._clock.now()
            if row is None or row.kind != "access" or not hmac.compare_digest(row.jkt, jkt):
                raise AuthenticationFailed("invalid access token")
            if row.revoked_at is not None:
                grant = uow.grants.get(row.resident_id, row.grant_id)
                reason = grant.end_reason if grant is not None and grant.end_reason else "ended"
                raise AuthenticationFailed(f"the grant of this token has ended ({reason})")
            if row.expires_at <= now:
                raise AuthenticationFailed("the access token has expired: refresh it")
            return TokenFacts(row.resident_id, row.grant_id, row.service_id)

    def refresh(self, service_id: uuid.UUID, refresh_token: str, jkt: str) -> RefreshOutcome:
        """Exchange a refresh token for a new pair; a reused one ends the grant."""
        if not refresh_token.startswith(REFRESH_PREFIX) or len(refresh_token) > 100:
            return RefreshOutcome(None)
        with self._uow() as uow:
            row = uow.tokens.get(token_hash(refresh_token), for_update=True)
            now = self._clock.now()
            if row is None or row.kind != "refresh" or row.service_id != service_id:
                return RefreshOutcome(None)
            if not hmac.compare_digest(row.jkt, jkt):
                return RefreshOutcome(None)
            grant = uow.grants.get(row.resident_id, row.grant_id, for_update=True)
            if grant is None:
                return RefreshOutcome(None)
            if row.rotated_at is not None:
                if self.on_reuse is not None:
                    self.on_reuse(uow, grant, now)
                uow.commit()
                return RefreshOutcome(None, reused=True)
            if row.revoked_at is not None or row.expires_at <= now or grant.status != "approved":
                return RefreshOutcome(None)
            if grant.valid_until is None or grant.valid_until <= now:
                return RefreshOutcome(None)
            row.rotated_at = now
            pair = self.issue(uow, grant, jkt, now)
            uow.commit()
            return RefreshOutcome(pair)

    # -- introspection (RFC 7662) and revocation (RFC 7009) ---------------------------------

    def introspect(
        self, service_id: uuid.UUID, token: str, now: datetime
    ) -> TokenIntrospection | None:
        """What an active token of this service stands for, or None when it is not active.

        None for anything the service should not learn about: an unknown token, another
        service's, one that is expired, revoked or (refresh) rotated, and one whose grant is
        not live now (not approved, past its end, its procedure closed or past its planned
        end; the liveness of `policy.decide`, asked with a datatype and action the grant holds,
        as `ServiceAccess.list_records` does).
        """
        kind = _kind_of(token)
        if kind is None:
            return None
        with self._uow() as uow:
            row = uow.tokens.get(token_hash(token))
            if row is None or row.kind != kind or row.service_id != service_id:
                return None
            if row.revoked_at is not None or row.rotated_at is not None or row.expires_at <= now:
                return None
            grant = uow.grants.get(row.resident_id, row.grant_id)
            if grant is None or not _grant_is_live(uow, grant, now):
                return None
            procedure = uow.grants.procedure(grant.resident_id, grant.procedure_id)
            granted = stored.authorization_details(grant, procedure)
            return TokenIntrospection(
                kind=kind,
                resident_id=row.resident_id,
                grant_id=row.grant_id,
                service_id=row.service_id,
                jkt=row.jkt,
                issued_at=row.created_at,
                expires_at=row.expires_at,
                authorization_details=granted,
            )

    def revoke(self, service_id: uuid.UUID, token: str) -> bool:
        """Revoke one of this service's tokens; True when something was revoked.

        An access token: that token. A refresh token: it and every token of its grant (RFC 7009
        §2.1); the grant itself stays approved (ending it is relinquishing). An unknown token,
        another service's, or one already revoked or rotated: nothing happens (RFC 7009 §2.2).
        """
        kind = _kind_of(token)
        if kind is None:
            return False
        with self._uow() as uow:
            row = uow.tokens.get(token_hash(token), for_update=True)
            now = self._clock.now()
            if row is None or row.kind != kind or row.service_id != service_id:
                return False
            if row.revoked_at is not None or row.rotated_at is not None:
                return False
            if kind == "access":
                row.revoked_at = now
            else:
                uow.tokens.revoke_grant(row.resident_id, row.grant_id, now)
            record(
                uow,
                AccessEvent(
                    resident_id=row.resident_id,
                    name="token.revoked",
                    outcome="done",
                    actor="service",
                    reason=kind,
                    service_id=row.service_id,
                    grant_id=row.grant_id,
                ),
                now,
            )
            uow.commit()
            return True


@dataclass(frozen=True, slots=True)
class TokenIntrospection:
    """An active token: what RFC 7662 reports, before the endpoint maps it (subject, client)."""

    kind: Literal["access", "refresh"]
    resident_id: uuid.UUID  # internal: the endpoint answers with the pairwise subject
    grant_id: uuid.UUID
    service_id: uuid.UUID
    jkt: str
    issued_at: datetime
    expires_at: datetime
    authorization_details: dict[str, object]


def _kind_of(token: str) -> Literal["access", "refresh"] | None:
    if len(token) > 100:
        return None
    if token.startswith(ACCESS_PREFIX):
        return "access"
    if token.startswith(REFRESH_PREFIX):
        return "refresh"
    return None


def _grant_is_live(uow: SqlUnitOfWork, grant: GrantRow, now: datetime) -> bool:
    """Whether the grant would permit any access it holds right now (for introspection)."""
    datatypes, actions = stored.granted_datatypes(grant), stored.granted_actions(grant)
    if not datatypes or not actions:
        return False
    decision = stored.check(
        uow,
        grant,
        service_id=grant.service_id,
        resident_id=grant.resident_id,
        datatype=min(datatypes),
        action=min(actions),
        now=now,
    )
    return isinstance(decision, Permit)
