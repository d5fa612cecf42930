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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from vault.audit.events import AccessEvent, AccessLog, ReplayClaim, record
from vault.errors import AuthenticationFailed
from vault.grants import stored
from vault.grants.model import TokenFacts, TokenPair
from vault.grants.policy import Permit
from vault.ports import Clock
from vault.storage import queries
from vault.storage.async_uow import AsyncUnitOfWorkFactory
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
        async_uow: AsyncUnitOfWorkFactory | None = None,
        log: AccessLog | None = None,
    ) -> None:
        if access_lifetime > timedelta(minutes=5):
            raise ValueError("access tokens live 5 minutes at most")
        self._uow = uow
        self._async_uow = async_uow
        self._log = log
        self._clock = clock
        self._lifetime = access_lifetime
        self.on_reuse = on_reuse

    def mint(
        self, grant: IssuableGrant, jkt: str, now: datetime
    ) -> tuple[TokenPair, list[dict[str, object]]]:
        """A new access + refresh pair for an approved grant, and the `oauth_tokens` rows
        (hashes only) that the caller stores in its transaction."""
        if grant.valid_until is None or grant.status != "approved":
            raise AuthenticationFailed("the grant is not approved")
        access = ACCESS_PREFIX + secrets.token_urlsafe(32)
        refresh = REFRESH_PREFIX + secrets.token_urlsafe(32)
        access_until = min(now + self._lifetime, grant.valid_until)
        rows: list[dict[str, object]] = [
            {
                "token_hash": token_hash(token),
                "kind": kind,
                "resident_id": grant.resident_id,
                "grant_id": grant.grant_id,
                "service_id": grant.service_id,
                "jkt": jkt,
                "created_at": now,
                "expires_at": until,
                "revoked_at": None,
                "rotated_at": None,
            }
            for token, kind, until in (
                (access, "access", access_until),
                (refresh, "refresh", grant.valid_until),
            )
        ]
        pair = TokenPair(access, refresh, int((access_until - now).total_seconds()), grant.grant_id)
        return pair, rows

    def issue(self, uow: SqlUnitOfWork, grant: GrantRow, jkt: str, now: datetime) -> TokenPair:
        """A new access + refresh pair for an approved grant, in the caller's transaction."""
        pair, rows = self.mint(grant, jkt, now)
        for values in rows:
            uow.tokens.add(OAuthTokenRow(**values))
        return pair

    async def authenticate(
        self, access_token: str, jkt: str, claims: Sequence[ReplayClaim]
    ) -> TokenFacts:
        """The grant an access token speaks for, if it is live and the DPoP key matches.

        Says nothing about the grant itself: the access check (policy.decide) runs next, on
        current state. `claims` (the DPoP proof's `jti`) are committed before it returns or
        refuses (`ReplayDetected` if seen before).
        """
        if not well_formed_access_token(access_token):
            raise AuthenticationFailed("invalid access token")
        if self._async_uow is None or self._log is None:
            raise RuntimeError("TokenService.authenticate needs the async unit of work")
        async with self._async_uow(read_only=True) as uow:
            result = await uow.execute(
                queries.TOKEN_FACTS, {"token_hash": token_hash(access_token)}
            )
            row: Any = result.first()
        now = self._clock.now()
        try:
            who = checked_token(row, jkt, now)
        finally:
            await self._log.commit(claims, None, now)
        return who

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
            granted = stored.authorization_details(grant, procedure.ref if procedure else None)
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


class IssuableGrant(Protocol):
    """What minting tokens reads of a grant: a `GrantRow`, or a row of `GRANT_FOR_POLL`."""

    @property
    def resident_id(self) -> uuid.UUID: ...
    @property
    def grant_id(self) -> uuid.UUID: ...
    @property
    def service_id(self) -> uuid.UUID: ...
    @property
    def status(self) -> str: ...
    @property
    def valid_until(self) -> datetime | None: ...


def well_formed_access_token(token: str) -> bool:
    return token.startswith(ACCESS_PREFIX) and len(token) <= 100


def checked_token(row: Any, jkt: str, now: datetime) -> TokenFacts:
    """The facts of an access token as read by `queries.TOKEN_FACTS*` (None: not found), if
    it is an access token bound to `jkt`, not revoked and not expired; else
    `AuthenticationFailed`. A revoked token says why its grant ended."""
    kind = row.token_kind if row is not None else None
    if row is None or kind != "access" or not hmac.compare_digest(row.token_jkt, jkt):
        raise AuthenticationFailed("invalid access token")
    if row.token_revoked_at is not None:
        reason = row.end_reason or "ended"
        raise AuthenticationFailed(f"the grant of this token has ended ({reason})")
    if row.token_expires_at <= now:
        raise AuthenticationFailed("the access token has expired: refresh it")
    return TokenFacts(row.token_resident_id, row.token_grant_id, row.token_service_id)


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
