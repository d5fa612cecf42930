"""Residents sign up and sign in with passkeys (WebAuthn); sessions; recovery codes.

Verification is the `webauthn` package's; this module decides policy:
- user verification is required (a passkey is then two factors in one gesture);
- every challenge is single-use and expires after `challenge_ttl`, stored in the database so
  any worker can finish what another began; a replayed assertion finds its challenge used;
- the relying party is the configured public URL: its host is the RP id, its origin the one
  origin accepted;
- session tokens are random, shown once, stored as SHA-256 hashes; a session ends after
  `session_idle` without use or `session_max` after sign-in, whichever comes first;
- recovery codes are shown once at registration, stored as keyed hashes (keys.KeyedHasher),
  each usable once. A recovery sign-in is marked as such so the app can ask for a new passkey.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import webauthn
from webauthn.helpers import base64url_to_bytes
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from keys.secrets import KeyedHasher
from vault.errors import (
    AuthenticationFailed,
    Conflict,
    InvalidInput,
    NotFound,
    ReauthenticationRequired,
)
from vault.ports import Clock
from vault.residents.keys import VaultKeys
from vault.residents.service import name_binding
from vault.storage.orm import (
    AuthChallengeRow,
    PasskeyCredentialRow,
    RecoveryCodeRow,
    ResidentRow,
    SessionRow,
)
from vault.storage.unit_of_work import SqlUnitOfWork, UnitOfWorkFactory

RECOVERY_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
RECOVERY_PURPOSE = "recovery-code"
SESSION_TOUCH_EVERY = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class IdentityPolicy:
    rp_id: str
    rp_name: str
    origin: str
    challenge_ttl: timedelta = timedelta(minutes=5)
    session_idle: timedelta = timedelta(minutes=30)
    session_max: timedelta = timedelta(hours=12)
    reauth_window: timedelta = timedelta(minutes=5)
    recovery_codes: int = 10


@dataclass(frozen=True, slots=True)
class Ceremony:
    """A started WebAuthn ceremony: the id to finish it with, and the browser's options."""

    flow_id: uuid.UUID
    public_key: dict[str, Any]
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class SignedIn:
    resident_id: uuid.UUID
    session_token: str
    expires_at: datetime
    auth_method: str
    recovery_codes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PasskeyInfo:
    credential_id: bytes
    created_at: datetime
    last_used_at: datetime | None
    backed_up: bool
    transports: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SessionEntry:
    """One live session of a resident, as the resident's sessions list shows it."""

    session_id: uuid.UUID
    auth_method: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class SessionInfo:
    session_id: uuid.UUID
    resident_id: uuid.UUID
    auth_method: str
    auth_time: datetime
    expires_at: datetime


def _token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


# -- the WebAuthn ceremony, for every kind of principal (residents here, auditors in
# vault/identity/auditors.py): challenges in the database, verification by `webauthn`. ------


def start_challenge(
    uow: SqlUnitOfWork,
    clock: Clock,
    policy: IdentityPolicy,
    purpose: str,
    subject_id: uuid.UUID | None,
) -> tuple[uuid.UUID, bytes, datetime]:
    """A new single-use challenge for `purpose`, bound to `subject_id` (a resident or an
    auditor, or None for a discoverable sign-in); returns (flow id, challenge, expiry)."""
    now = clock.now()
    uow.auth.purge_challenges(now - timedelta(hours=1))
    flow_id, challenge = uuid.uuid4(), secrets.token_bytes(32)
    expires = now + policy.challenge_ttl
    uow.auth.add(
        AuthChallengeRow(
            challenge_id=flow_id,
            purpose=purpose,
            challenge=challenge,
            resident_id=subject_id,
            expires_at=expires,
            used_at=None,
        )
    )
    return flow_id, challenge, expires


def consume_challenge(
    uow: SqlUnitOfWork, clock: Clock, flow_id: uuid.UUID, purpose: str
) -> AuthChallengeRow:
    """Mark the challenge used now, whatever follows: a second attempt always fails. A
    challenge of another purpose (another ceremony, another kind of principal) is refused."""
    row = uow.auth.challenge(flow_id)
    now = clock.now()
    if row is None or row.purpose != purpose or row.used_at is not None or row.expires_at < now:
        raise AuthenticationFailed("this sign-in attempt has expired or was already used")
    row.used_at = now
    uow.commit()
    return row


def verify_registration(
    policy: IdentityPolicy, challenge: bytes, credential: dict[str, Any]
) -> Any:
    """The `webauthn` verification of a new passkey (user verification required)."""
    try:
        return webauthn.verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=policy.rp_id,
            expected_origin=policy.origin,
            require_user_verification=True,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError) as e:
        raise AuthenticationFailed("the passkey could not be verified") from e


def credential_id_of(credential: dict[str, Any]) -> bytes:
    """The raw credential id of an assertion, to look its public key up."""
    try:
        return base64url_to_bytes(str(credential["rawId"]))
    except (KeyError, ValueError, TypeError) as e:
        raise AuthenticationFailed("the passkey answer is incomplete") from e


def verify_assertion(
    policy: IdentityPolicy,
    challenge: bytes,
    credential: dict[str, Any],
    public_key: bytes,
    sign_count: int,
) -> int:
    """Check a sign-in assertion against the stored public key; returns the new sign count."""
    try:
        verified = webauthn.verify_authentication_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=policy.rp_id,
            expected_origin=policy.origin,
            credential_public_key=public_key,
            credential_current_sign_count=sign_count,
            require_user_verification=True,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError) as e:
        raise AuthenticationFailed("the passkey could not be verified") from e
    return int(verified.new_sign_count)


def registration_options(
    policy: IdentityPolicy,
    *,
    user_id: bytes,
    name: str,
    challenge: bytes,
    exclude: list[bytes] | None = None,
) -> dict[str, Any]:
    """Options for a new discoverable passkey with user verification, as browser JSON."""
    options = webauthn.generate_registration_options(
        rp_id=policy.rp_id,
        rp_name=policy.rp_name,
        user_id=user_id,
        user_name=name,
        user_display_name=name,
        challenge=challenge,
        timeout=int(policy.challenge_ttl.total_seconds() * 1000),
        exclude_credentials=[PublicKeyCredentialDescriptor(id=c) for c in exclude or []],
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
    )
    loaded: dict[str, Any] = json.loads(webauthn.options_to_json(options))
    return loaded


def authentication_options(
    policy: IdentityPolicy, *, challenge: bytes, allow: list[bytes] | None = None
) -> dict[str, Any]:
    """Options for a sign-in assertion (any discoverable passkey, or only `allow`)."""
    options = webauthn.generate_authentication_options(
        rp_id=policy.rp_id,
        challenge=challenge,
        timeout=int(policy.challenge_ttl.total_seconds() * 1000),
        allow_credentials=[PublicKeyCredentialDescriptor(id=c) for c in allow or []] or None,
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    loaded: dict[str, Any] = json.loads(webauthn.options_to_json(options))
    return loaded


def normalise_recovery_code(code: str) -> str:
    cleaned = "".join(ch for ch in code.upper() if ch.isalnum())
    return cleaned.translate(str.maketrans("OIL", "011"))


class IdentityService:
    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        keys: VaultKeys,
        hasher: KeyedHasher,
        clock: Clock,
        policy: IdentityPolicy,
    ) -> None:
        self._uow = uow
        self._keys = keys
        self._hasher = hasher
        self._clock = clock
        self._policy = policy

    # -- ceremonies ------------------------------------------------------------------------

    def _start(
        self, uow: SqlUnitOfWork, purpose: str, resident_id: uuid.UUID | None
    ) -> tuple[uuid.UUID, bytes, datetime]:
        return start_challenge(uow, self._clock, self._policy, purpose, resident_id)

    def _consume(self, uow: SqlUnitOfWork, flow_id: uuid.UUID, purpose: str) -> AuthChallengeRow:
        return consume_challenge(uow, self._clock, flow_id, purpose)

    def begin_registration(self, display_name: str) -> Ceremony:
        name = _clean_display_name(display_name)
        resident_id = uuid.uuid4()
        with self._uow() as uow:
            flow_id, challenge, expires = self._start(uow, "register", resident_id)
            options = registration_options(
                self._policy, user_id=resident_id.bytes, name=name, challenge=challenge
            )
            uow.commit()
        return Ceremony(flow_id, options, expires)

    def finish_registration(
        self, flow_id: uuid.UUID, credential: dict[str, Any], display_name: str
    ) -> SignedIn:
        name = _clean_display_name(display_name)
        with self._uow() as uow:
            row = self._consume(uow, flow_id, "register")
            if row.resident_id is None:
                raise AuthenticationFailed("this sign-up attempt is not valid")
            verified = verify_registration(self._policy, row.challenge, credential)
            if uow.auth.credential(verified.credential_id) is not None:
                raise AuthenticationFailed("this passkey is already registered")
            now = self._clock.now()
            resident_id = row.resident_id
            key = self._keys.create(uow, resident_id, now)
            uow.residents.add(
                ResidentRow(
                    resident_id=resident_id,
                    status="active",
                    display_name_ct=key.seal(name.encode(), name_binding(resident_id)),
                    dek_version=key.version,
                    created_at=now,
                    deleted_at=None,
                )
            )
            uow.auth.add(_credential_row(resident_id, verified, credential, now))
            codes = self._new_recovery_codes(uow, resident_id, now)
            token, session = self._new_session(uow, resident_id, "passkey", now)
            uow.commit()
        return SignedIn(resident_id, token, session.expires_at, "passkey", codes)

    def begin_login(self) -> Ceremony:
        with self._uow() as uow:
            flow_id, challenge, expires = self._start(uow, "login", None)
            options = authentication_options(self._policy, challenge=challenge)
            uow.commit()
        return Ceremony(flow_id, options, expires)

    def finish_login(self, flow_id: uuid.UUID, credential: dict[str, Any]) -> SignedIn:
        with self._uow() as uow:
            row = self._consume(uow, flow_id, "login")
            stored = self._verify_assertion(uow, row, credential)
            resident = uow.residents.get(stored.resident_id)
            if resident is None or resident.status != "active":
                raise AuthenticationFailed("this passkey is not registered")
            token, session = self._new_session(uow, stored.resident_id, "passkey", row.used_at)
            uow.commit()
        return SignedIn(stored.resident_id, token, session.expires_at, "passkey")

    def _verify_assertion(
        self, uow: SqlUnitOfWork, row: AuthChallengeRow, credential: dict[str, Any]
    ) -> PasskeyCredentialRow:
        raw_id = credential_id_of(credential)
        stored = uow.auth.credential(raw_id)
        if stored is None:
            raise AuthenticationFailed("this passkey is not registered")
        user_handle = (credential.get("response") or {}).get("userHandle")
        if user_handle and base64url_to_bytes(str(user_handle)) != stored.resident_id.bytes:
            raise AuthenticationFailed("this passkey belongs to someone else")
        stored.sign_count = verify_assertion(
            self._policy, row.challenge, credential, stored.public_key, stored.sign_count
        )
        stored.last_used_at = self._clock.now()
        return stored

    def begin_add_passkey(self, resident_id: uuid.UUID) -> Ceremony:
        """A further passkey for a signed-in resident (e.g. after a recovery sign-in)."""
        with self._uow() as uow:
            resident = self._keys.active_resident(uow, resident_id)
            name = self._display_name(uow, resident)
            flow_id, challenge, expires = self._start(uow, "add-passkey", resident_id)
            options = registration_options(
                self._policy,
                user_id=resident_id.bytes,
                name=name or "Regie",
                challenge=challenge,
                exclude=[c.credential_id for c in uow.auth.credentials(resident_id)],
            )
            uow.commit()
        return Ceremony(flow_id, options, expires)

    def finish_add_passkey(
        self, resident_id: uuid.UUID, flow_id: uuid.UUID, credential: dict[str, Any]
    ) -> None:
        with self._uow() as uow:
            row = self._consume(uow, flow_id, "add-passkey")
            if row.resident_id != resident_id:
                raise AuthenticationFailed("this attempt belongs to another session")
            verified = verify_registration(self._policy, row.challenge, credential)
            if uow.auth.credential(verified.credential_id) is not None:
                raise AuthenticationFailed("this passkey is already registered")
            uow.auth.add(_credential_row(resident_id, verified, credential, self._clock.now()))
            uow.commit()

    def begin_reauthentication(self, session: SessionInfo) -> Ceremony:
        """A passkey assertion limited to this resident's own passkeys, to confirm a
        destructive action (step-up). Bound to the resident, so another person's passkey on a
        shared device cannot confirm it."""
        with self._uow() as uow:
            self._keys.active_resident(uow, session.resident_id)
            flow_id, challenge, expires = self._start(uow, "reauthenticate", session.resident_id)
            options = authentication_options(
                self._policy,
                challenge=challenge,
                allow=[c.credential_id for c in uow.auth.credentials(session.resident_id)],
            )
            uow.commit()
        return Ceremony(flow_id, options, expires)

    def finish_reauthentication(
        self, session: SessionInfo, flow_id: uuid.UUID, credential: dict[str, Any]
    ) -> None:
        """Check the assertion and mark this session as signed in with a passkey just now."""
        with self._uow() as uow:
            row = self._consume(uow, flow_id, "reauthenticate")
            if row.resident_id != session.resident_id:
                raise AuthenticationFailed("this attempt belongs to another session")
            stored = self._verify_assertion(uow, row, credential)
            if stored.resident_id != session.resident_id:
                raise AuthenticationFailed("this passkey belongs to someone else")
            live = next(
                (
                    s
                    for s in uow.auth.sessions(session.resident_id)
                    if s.session_id == session.session_id and s.revoked_at is None
                ),
                None,
            )
            if live is None:
                raise AuthenticationFailed("not signed in, or the session has ended")
            live.auth_method = "passkey"
            live.auth_time = row.used_at or self._clock.now()
            uow.commit()

    def passkeys(self, resident_id: uuid.UUID) -> list[PasskeyInfo]:
        with self._uow() as uow:
            return [
                PasskeyInfo(
                    c.credential_id,
                    c.created_at,
                    c.last_used_at,
                    c.backed_up,
                    tuple(t for t in c.transports.split(",") if t),
                )
                for c in uow.auth.credentials(resident_id)
            ]

    def remove_passkey(self, session: SessionInfo, credential_id: bytes) -> None:
        """Remove a lost or stolen passkey. Needs a recent sign-in; never the last passkey,
        so a resident cannot lock themselves out by accident."""
        self.require_recent_sign_in(session)
        with self._uow() as uow:
            mine = uow.auth.credentials(session.resident_id)
            target = next((c for c in mine if c.credential_id == credential_id), None)
            if target is None:
                raise NotFound("no such passkey in this account")
            if len(mine) == 1:
                raise Conflict("this is your only passkey: add another one before removing it")
            uow.session.delete(target)
            uow.commit()

    def _display_name(self, uow: SqlUnitOfWork, resident: ResidentRow) -> str:
        if not resident.display_name_ct:
            return ""
        key = self._keys.current(uow, resident)
        return key.open(resident.display_name_ct, name_binding(resident.resident_id)).decode()

    # -- recovery codes --------------------------------------------------------------------

    def _new_recovery_codes(
        self, uow: SqlUnitOfWork, resident_id: uuid.UUID, now: datetime
    ) -> tuple[str, ...]:
        codes = []
        for _ in range(self._policy.recovery_codes):
            raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(16))  # 80 bits
            codes.append("-".join(raw[i : i + 4] for i in range(0, 16, 4)))
            uow.auth.add(
                RecoveryCodeRow(
                    code_hash=self._hasher.digest(RECOVERY_PURPOSE, raw.encode()),
                    resident_id=resident_id,
                    created_at=now,
                    used_at=None,
                )
            )
        return tuple(codes)

    def recover(self, code: str) -> SignedIn:
        """Sign in with a recovery code; the code is spent whatever happens next."""
        normalised = normalise_recovery_code(code)
        if len(normalised) != 16:
            raise AuthenticationFailed("this recovery code is not valid")
        with self._uow() as uow:
            row = uow.auth.recovery_code(self._hasher.digest(RECOVERY_PURPOSE, normalised.encode()))
            if row is None or row.used_at is not None:
                raise AuthenticationFailed("this recovery code is not valid")
            now = self._clock.now()
            row.used_at = now
            resident = uow.residents.get(row.resident_id)
            if resident is None or resident.status != "active":
                raise AuthenticationFailed("this recovery code is not valid")
            token, session = self._new_session(uow, row.resident_id, "recovery", now)
            uow.commit()
        return SignedIn(row.resident_id, token, session.expires_at, "recovery")

    def regenerate_recovery_codes(self, session: SessionInfo) -> tuple[str, ...]:
        """New recovery codes (shown once); the old ones stop working. Needs a recent sign-in."""
        self.require_recent_sign_in(session)
        with self._uow() as uow:
            self._keys.active_resident(uow, session.resident_id)
            uow.auth.delete_recovery_codes(session.resident_id)
            codes = self._new_recovery_codes(uow, session.resident_id, self._clock.now())
            uow.commit()
        return codes

    def recovery_codes_left(self, resident_id: uuid.UUID) -> int:
        with self._uow() as uow:
            return sum(1 for r in uow.auth.recovery_codes(resident_id) if r.used_at is None)

    # -- sessions --------------------------------------------------------------------------

    def _new_session(
        self, uow: SqlUnitOfWork, resident_id: uuid.UUID, method: str, now: datetime | None
    ) -> tuple[str, SessionRow]:
        moment = now or self._clock.now()
        token = "rgs_" + secrets.token_urlsafe(32)
        row = SessionRow(
            session_id=uuid.uuid4(),
            token_hash=_token_hash(token),
            resident_id=resident_id,
            auth_method=method,
            auth_time=moment,
            created_at=moment,
            last_seen_at=moment,
            expires_at=moment + self._policy.session_max,
            revoked_at=None,
        )
        uow.auth.add(row)
        return token, row

    def authenticate(self, token: str) -> SessionInfo:
        """The live session behind a bearer token, or `AuthenticationFailed`."""
        if not token.startswith("rgs_") or len(token) > 200:
            raise AuthenticationFailed("not signed in")
        with self._uow() as uow:
            row = uow.auth.session_by_token(_token_hash(token))
            now = self._clock.now()
            if (
                row is None
                or row.revoked_at is not None
                or row.expires_at <= now
                or row.last_seen_at + self._policy.session_idle <= now
            ):
                raise AuthenticationFailed("not signed in, or the session has ended")
            if now - row.last_seen_at >= SESSION_TOUCH_EVERY:
                row.last_seen_at = now  # idle clock; written at most once a minute
                uow.commit()
            return SessionInfo(
                row.session_id, row.resident_id, row.auth_method, row.auth_time, row.expires_at
            )

    def require_recent_sign_in(self, session: SessionInfo) -> None:
        """Destructive actions need a passkey sign-in within the re-authentication window."""
        if (
            session.auth_method != "passkey"
            or self._clock.now() - session.auth_time > self._policy.reauth_window
        ):
            raise ReauthenticationRequired("sign in again with your passkey to confirm this action")

    def _live(self, row: SessionRow, now: datetime) -> bool:
        return (
            row.revoked_at is None
            and row.expires_at > now
            and row.last_seen_at + self._policy.session_idle > now
        )

    def sessions(self, resident_id: uuid.UUID) -> list[SessionEntry]:
        """The resident's live sessions, oldest first (ended ones are not shown)."""
        now = self._clock.now()
        with self._uow() as uow:
            return [
                SessionEntry(
                    r.session_id, r.auth_method, r.created_at, r.last_seen_at, r.expires_at
                )
                for r in uow.auth.sessions(resident_id)
                if self._live(r, now)
            ]

    def end_session(self, resident_id: uuid.UUID, session_id: uuid.UUID) -> None:
        """Sign one of the resident's sessions out (e.g. a phone left somewhere)."""
        with self._uow() as uow:
            now = self._clock.now()
            row = next(
                (r for r in uow.auth.sessions(resident_id) if r.session_id == session_id), None
            )
            if row is None or not self._live(row, now):
                raise NotFound("no such session, or it has already ended")
            row.revoked_at = now
            uow.commit()

    def sign_out(self, session: SessionInfo) -> None:
        with self._uow() as uow:
            for row in uow.auth.sessions(session.resident_id):
                if row.session_id == session.session_id and row.revoked_at is None:
                    row.revoked_at = self._clock.now()
            uow.commit()

    def sign_out_everywhere(self, resident_id: uuid.UUID) -> int:
        with self._uow() as uow:
            now = self._clock.now()
            ended = 0
            for row in uow.auth.sessions(resident_id):
                if row.revoked_at is None and row.expires_at > now:
                    row.revoked_at = now
                    ended += 1
            uow.commit()
            return ended


def _clean_display_name(value: str) -> str:
    name = " ".join(value.split())
    if not 1 <= len(name) <= 64:
        raise InvalidInput("a name of 1 to 64 characters is needed")
    return name


def _credential_row(
    resident_id: uuid.UUID,
    verified: Any,
    credential: dict[str, Any],
    now: datetime,
) -> PasskeyCredentialRow:
    transports = (credential.get("response") or {}).get("transports") or []
    return PasskeyCredentialRow(
        credential_id=verified.credential_id,
        resident_id=resident_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        transports=",".join(str(t) for t in transports)[:128],
        backed_up=bool(verified.credential_backed_up),
        created_at=now,
        last_used_at=None,
    )


__all__ = [
    "Ceremony",
    "IdentityPolicy",
    "IdentityService",
    "PasskeyInfo",
    "SessionEntry",
    "SessionInfo",
    "SignedIn",
]
