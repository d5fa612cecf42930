"""Auditors: appointed by the operator, enrolled with a one-time code, signed in with a passkey.

Auditors are their own principals, not residents: their own table, passkeys and sessions
(`AuditorRow`, `AuditorCredentialRow`, `AuditorSessionRow`). The WebAuthn ceremony is the
residents' one (`vault.identity.service`: challenges in the database, single use, user
verification required, the same relying party); only where the result is stored differs.
The separation is structural, so a session of one kind can never pass for the other:

- auditor session tokens start with `rga_` and are looked up in `auditor_sessions` only;
  resident tokens start with `rgs_` and are looked up in `resident_sessions` only;
- an auditor's passkey is in `auditor_credentials`, which resident sign-in never reads (and
  the other way round), and the challenges carry their own purposes (`auditor-enrol`,
  `auditor-login`) that the other ceremonies refuse.

Enrolment: `appoint(name)` returns a code shown once, stored as a keyed hash, valid for
`enrolment_ttl`. The auditor starts a passkey registration with it and finishes with it; the
code is spent by the first registration that finishes (a conditional update, so two at once
cannot both succeed). A removed auditor's passkeys are deleted and sessions ended.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update

from keys.secrets import KeyedHasher
from vault.audit.events import operator_event, record
from vault.errors import AuthenticationFailed, Conflict, InvalidInput, NotFound
from vault.identity.service import (
    RECOVERY_ALPHABET,
    Ceremony,
    IdentityPolicy,
    authentication_options,
    consume_challenge,
    credential_id_of,
    normalise_recovery_code,
    registration_options,
    start_challenge,
    verify_assertion,
    verify_registration,
)
from vault.ports import Clock
from vault.storage.orm import AuditorCredentialRow, AuditorRow, AuditorSessionRow
from vault.storage.unit_of_work import UnitOfWorkFactory

ENROLMENT_PURPOSE = "auditor-enrolment"
TOKEN_PREFIX = "rga_"  # noqa: S105  # nosec B105 - a prefix that tells the kind of token, not a secret
_SESSION_TOUCH_EVERY = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class AuditorInfo:
    auditor_id: uuid.UUID
    name: str
    status: str  # invited | active | removed
    created_at: datetime
    enrolled_at: datetime | None
    passkeys: int


@dataclass(frozen=True, slots=True)
class Appointment:
    """A new auditor and the enrolment code to give them (shown once)."""

    auditor: AuditorInfo
    code: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class AuditorSignedIn:
    auditor_id: uuid.UUID
    session_token: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class AuditorSession:
    """A live auditor session (what every /v1/auditor route receives)."""

    session_id: uuid.UUID
    auditor_id: uuid.UUID
    auth_time: datetime
    expires_at: datetime


def _token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def _clean_name(value: str) -> str:
    name = " ".join(value.split())
    if not 1 <= len(name) <= 64:
        raise InvalidInput("an auditor's name of 1 to 64 characters is needed")
    return name


class AuditorService:
    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        hasher: KeyedHasher,
        clock: Clock,
        policy: IdentityPolicy,
        enrolment_ttl: timedelta = timedelta(hours=24),
    ) -> None:
        self._uow = uow
        self._hasher = hasher
        self._clock = clock
        self._policy = policy
        self._enrolment_ttl = enrolment_ttl

    # -- the operator ----------------------------------------------------------------------
    # Each change is logged as the operator's, in its own transaction (I2). The entry does not
    # name the auditor (a person): the operator's `regie auditors list` does, by time.

    def appoint(self, name: str, *, operator: str) -> Appointment:
        """A new auditor, not yet enrolled; `Conflict` if the name is taken."""
        clean = _clean_name(name)
        raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(20))  # 100 bits
        now = self._clock.now()
        expires = now + self._enrolment_ttl
        row = AuditorRow(
            auditor_id=uuid.uuid4(),
            name=clean,
            status="invited",
            created_at=now,
            enrolment_hash=self._code_hash(raw),
            enrolment_expires_at=expires,
            enrolled_at=None,
            removed_at=None,
        )
        with self._uow() as uow:
            if uow.session.scalar(select(AuditorRow).where(AuditorRow.name == clean)) is not None:
                raise Conflict(f"there is already an auditor named {clean!r}")
            uow.session.add(row)
            record(uow, operator_event("auditor.appointed", operator), now)
            uow.commit()
        code = "-".join(raw[i : i + 4] for i in range(0, 20, 4))
        return Appointment(self._info(row, 0), code, expires)

    def all(self) -> list[AuditorInfo]:
        with self._uow() as uow:
            rows = uow.session.scalars(select(AuditorRow).order_by(AuditorRow.created_at)).all()
            counted = uow.session.execute(
                select(AuditorCredentialRow.auditor_id, func.count()).group_by(
                    AuditorCredentialRow.auditor_id
                )
            ).all()
            counts = {row[0]: int(row[1]) for row in counted}
            return [self._info(r, counts.get(r.auditor_id, 0)) for r in rows]

    def remove(self, auditor_id_or_name: str, *, operator: str) -> AuditorInfo:
        """Remove an auditor: passkeys deleted, sessions ended, an unused code void."""
        now = self._clock.now()
        with self._uow() as uow:
            row = self._find(uow.session, auditor_id_or_name)
            if row.status == "removed":
                raise Conflict(f"{row.name} was already removed")
            row.status = "removed"
            row.removed_at = now
            row.enrolment_hash = None
            uow.session.execute(
                delete(AuditorCredentialRow).where(
                    AuditorCredentialRow.auditor_id == row.auditor_id
                )
            )
            uow.session.execute(
                update(AuditorSessionRow)
                .where(
                    AuditorSessionRow.auditor_id == row.auditor_id,
                    AuditorSessionRow.revoked_at.is_(None),
                )
                .values(revoked_at=now)
            )
            record(uow, operator_event("auditor.removed", operator), now)
            uow.commit()
            return self._info(row, 0)

    @staticmethod
    def _find(session: Any, key: str) -> AuditorRow:
        try:
            wanted = uuid.UUID(key)
        except ValueError:
            row = session.scalar(select(AuditorRow).where(AuditorRow.name == _clean_name(key)))
        else:
            row = session.get(AuditorRow, wanted)
        if row is None:
            raise NotFound(f"no auditor {key!r}")
        result: AuditorRow = row
        return result

    @staticmethod
    def _info(row: AuditorRow, passkeys: int) -> AuditorInfo:
        return AuditorInfo(
            row.auditor_id, row.name, row.status, row.created_at, row.enrolled_at, passkeys
        )

    # -- enrolment -------------------------------------------------------------------------

    def _code_hash(self, raw: str) -> bytes:
        return self._hasher.digest(ENROLMENT_PURPOSE, raw.encode())

    def _invited(self, session: Any, code: str) -> AuditorRow:
        """The auditor a live, unspent code belongs to, or `AuthenticationFailed` (one message
        for unknown, spent and expired codes: the answer tells a guesser nothing)."""
        normalised = normalise_recovery_code(code)
        refused = AuthenticationFailed("this enrolment code is not valid (or no longer)")
        if len(normalised) != 20:
            raise refused
        row = session.scalar(
            select(AuditorRow).where(AuditorRow.enrolment_hash == self._code_hash(normalised))
        )
        if (
            row is None
            or row.status != "invited"
            or row.enrolment_expires_at is None
            or row.enrolment_expires_at <= self._clock.now()
        ):
            raise refused
        result: AuditorRow = row
        return result

    def begin_enrolment(self, code: str) -> Ceremony:
        """Options for the auditor's passkey; the code is checked, not yet spent."""
        with self._uow() as uow:
            auditor = self._invited(uow.session, code)
            flow_id, challenge, expires = start_challenge(
                uow, self._clock, self._policy, "auditor-enrol", auditor.auditor_id
            )
            options = registration_options(
                self._policy,
                user_id=auditor.auditor_id.bytes,
                name=f"{auditor.name} (auditor)",
                challenge=challenge,
            )
            uow.commit()
        return Ceremony(flow_id, options, expires)

    def finish_enrolment(
        self, flow_id: uuid.UUID, code: str, credential: dict[str, Any]
    ) -> AuditorSignedIn:
        """Register the passkey, spend the code, and sign the auditor in."""
        with self._uow() as uow:
            challenge = consume_challenge(uow, self._clock, flow_id, "auditor-enrol")
            auditor = self._invited(uow.session, code)
            if challenge.resident_id != auditor.auditor_id:
                raise AuthenticationFailed("this attempt was started with another code")
            verified = verify_registration(self._policy, challenge.challenge, credential)
            if uow.session.get(AuditorCredentialRow, verified.credential_id) is not None:
                raise AuthenticationFailed("this passkey is already registered")
            now = self._clock.now()
            spent = uow.session.execute(
                update(AuditorRow)
                .where(
                    AuditorRow.auditor_id == auditor.auditor_id,
                    AuditorRow.status == "invited",
                    AuditorRow.enrolment_hash == auditor.enrolment_hash,
                )
                .values(status="active", enrolment_hash=None, enrolled_at=now)
                .execution_options(synchronize_session=False)
            )
            if spent.rowcount != 1:  # type: ignore[attr-defined]
                raise AuthenticationFailed("this enrolment code is not valid (or no longer)")
            transports = (credential.get("response") or {}).get("transports") or []
            uow.session.add(
                AuditorCredentialRow(
                    credential_id=verified.credential_id,
                    auditor_id=auditor.auditor_id,
                    public_key=verified.credential_public_key,
                    sign_count=verified.sign_count,
                    transports=",".join(str(t) for t in transports)[:128],
                    backed_up=bool(verified.credential_backed_up),
                    created_at=now,
                    last_used_at=None,
                )
            )
            token, session = self._new_session(uow.session, auditor.auditor_id, now)
            uow.commit()
        return AuditorSignedIn(auditor.auditor_id, token, session.expires_at)

    # -- sign-in and sessions --------------------------------------------------------------

    def begin_login(self) -> Ceremony:
        with self._uow() as uow:
            flow_id, challenge, expires = start_challenge(
                uow, self._clock, self._policy, "auditor-login", None
            )
            options = authentication_options(self._policy, challenge=challenge)
            uow.commit()
        return Ceremony(flow_id, options, expires)

    def finish_login(self, flow_id: uuid.UUID, credential: dict[str, Any]) -> AuditorSignedIn:
        with self._uow() as uow:
            challenge = consume_challenge(uow, self._clock, flow_id, "auditor-login")
            stored = uow.session.get(
                AuditorCredentialRow, credential_id_of(credential), with_for_update=True
            )
            if stored is None:
                raise AuthenticationFailed("this passkey is not registered for an auditor")
            stored.sign_count = verify_assertion(
                self._policy, challenge.challenge, credential, stored.public_key, stored.sign_count
            )
            now = self._clock.now()
            stored.last_used_at = now
            auditor = uow.session.get(AuditorRow, stored.auditor_id)
            if auditor is None or auditor.status != "active":
                raise AuthenticationFailed("this passkey is not registered for an auditor")
            token, session = self._new_session(uow.session, stored.auditor_id, now)
            uow.commit()
        return AuditorSignedIn(stored.auditor_id, token, session.expires_at)

    def _new_session(
        self, session: Any, auditor_id: uuid.UUID, now: datetime
    ) -> tuple[str, AuditorSessionRow]:
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        row = AuditorSessionRow(
            session_id=uuid.uuid4(),
            token_hash=_token_hash(token),
            auditor_id=auditor_id,
            auth_time=now,
            created_at=now,
            last_seen_at=now,
            expires_at=now + self._policy.session_max,
            revoked_at=None,
        )
        session.add(row)
        return token, row

    def authenticate(self, token: str) -> AuditorSession:
        """The live auditor session behind a bearer token, or `AuthenticationFailed`. A
        resident's token never matches: other prefix, other table."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            raise AuthenticationFailed("not signed in as an auditor")
        with self._uow() as uow:
            row = uow.session.scalar(
                select(AuditorSessionRow).where(AuditorSessionRow.token_hash == _token_hash(token))
            )
            now = self._clock.now()
            if (
                row is None
                or row.revoked_at is not None
                or row.expires_at <= now
                or row.last_seen_at + self._policy.session_idle <= now
            ):
                raise AuthenticationFailed("not signed in as an auditor, or the session has ended")
            auditor = uow.session.get(AuditorRow, row.auditor_id)
            if auditor is None or auditor.status != "active":
                raise AuthenticationFailed("not signed in as an auditor, or the session has ended")
            if now - row.last_seen_at >= _SESSION_TOUCH_EVERY:
                row.last_seen_at = now
                uow.commit()
            return AuditorSession(row.session_id, row.auditor_id, row.auth_time, row.expires_at)

    def sign_out(self, session: AuditorSession) -> None:
        with self._uow() as uow:
            row = uow.session.get(AuditorSessionRow, session.session_id)
            if row is not None and row.revoked_at is None:
                row.revoked_at = self._clock.now()
            uow.commit()


__all__ = [
    "Appointment",
    "AuditorInfo",
    "AuditorService",
    "AuditorSession",
    "AuditorSignedIn",
]
