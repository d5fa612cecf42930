"""Access and refresh tokens (invariant I5): opaque, random, stored as SHA-256 hashes, bound to
one grant and to the service's DPoP key (`cnf.jkt`).

Access tokens live at most `access_lifetime` (5 minutes) and never past the grant's end.
Refresh tokens rotate: each use returns a new pair and retires the old refresh token; if a
retired one is used again, someone holds a copy, so the grant ends (reason token-reuse) and
every token under it dies. Ending a grant revokes all its tokens (GrantService._end).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from vault.errors import AuthenticationFailed
from vault.grants.model import TokenFacts, TokenPair
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
