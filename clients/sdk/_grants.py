"""What a service asks for and what it holds: purposes, procedures, requests, grants, tokens.

`AccessRequest`, `BrowserAuthorization` and `Grant` are plain values a service may keep in its
own database (or, for a browser flow, the resident's session at its site) and hand back later
(`to_dict` / `from_dict`); none holds an access or refresh token (a ping-mode request holds the
`client_notification_token` its ping will carry, a browser flow its `state` and PKCE verifier).
Tokens live in a `TokenStore`: `MemoryTokenStore` (the default, gone with the process) or
`FileTokenStore` (one JSON file, mode 0600, what the CLI uses). A refresh token rotates on every
use and an old one used again ends the grant, so a store must always keep the newest pair, and
a persistent store needs a persistent DPoP key too: the tokens are bound to it
(`StoredGrant.jkt`).
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Final, Protocol

from clients.sdk._errors import ProtocolError
from clients.sdk._records import parse_time

__all__ = [
    "DPV_CONSENT",
    "DPV_SERVICE_PROVISION",
    "AccessRequest",
    "BrowserAuthorization",
    "FileTokenStore",
    "Grant",
    "MemoryTokenStore",
    "Procedure",
    "Purpose",
    "StoredGrant",
    "TokenStore",
]

DPV_SERVICE_PROVISION: Final = "https://w3id.org/dpv#ServiceProvision"
DPV_CONSENT: Final = "https://w3id.org/dpv#Consent"
DETAILS_TYPE: Final = "regie:records"


def _instant(moment: date | datetime) -> str:
    """A date as `YYYY-MM-DD`; a time in UTC as `YYYY-MM-DDTHH:MM:SSZ` (it must be aware)."""
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            raise ValueError("give times with a time zone (e.g. datetime.now(UTC))")
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return moment.isoformat()


@dataclass(frozen=True, slots=True)
class Purpose:
    """Why you ask: `text` is what the resident reads (plain words); `id` a DPV purpose URI."""

    text: str
    id: str = DPV_SERVICE_PROVISION

    def to_wire(self) -> dict[str, str]:
        return {"id": self.id, "text": self.text}


@dataclass(frozen=True, slots=True)
class Procedure:
    """Your treatment, enrolment or case: access ends when it ends."""

    ref: str
    description: str | None = None
    planned_end: date | datetime | None = None

    def to_wire(self) -> dict[str, str]:
        wire = {"ref": self.ref}
        if self.description is not None:
            wire["description"] = self.description
        if self.planned_end is not None:
            wire["planned_end"] = _instant(self.planned_end)
        return wire


def authorization_details(
    *,
    datatypes: Sequence[str],
    actions: Sequence[str],
    purpose: Purpose,
    procedure: Procedure,
    valid_until: date | datetime | None,
    legal_basis: str,
) -> list[dict[str, Any]]:
    """The RFC 9396 `authorization_details` of type `regie:records` for one request."""
    if isinstance(datatypes, str) or isinstance(actions, str):
        raise TypeError("datatypes and actions are lists of strings, not one string")
    if not datatypes or not actions:
        raise ValueError("ask for at least one datatype and one action")
    detail: dict[str, Any] = {
        "type": DETAILS_TYPE,
        "actions": list(dict.fromkeys(actions)),
        "datatypes": list(dict.fromkeys(datatypes)),
        "purpose": purpose.to_wire(),
        "legal_basis": legal_basis,
        "procedure": procedure.to_wire(),
    }
    if valid_until is not None:
        detail["valid_until"] = _instant(valid_until)
    return [detail]


@dataclass(frozen=True, slots=True)
class AccessRequest:
    """A request waiting for the resident (CIBA `auth_req_id`): keep it, `wait` on it later.

    `auth_req_id` redeems the grant once approved (with your client authentication): it is
    left out of the repr. `notification_token` is set for a request in CIBA ping mode: the
    bearer token the vault's ping carries (`clients.sdk.ping.check_ping`); secret, also left
    out of the repr.
    """

    auth_req_id: str = field(repr=False)
    subject: str
    procedure: str
    datatypes: tuple[str, ...]
    actions: tuple[str, ...]
    interval: int  # seconds between polls, as the vault asked
    expires_at: datetime  # when the request lapses unanswered
    notification_token: str | None = field(default=None, repr=False)  # ping mode only

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "auth_req_id": self.auth_req_id,
            "subject": self.subject,
            "procedure": self.procedure,
            "datatypes": list(self.datatypes),
            "actions": list(self.actions),
            "interval": self.interval,
            "expires_at": _instant(self.expires_at),
        }
        if self.notification_token is not None:
            d["notification_token"] = self.notification_token
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> AccessRequest:
        return cls(
            auth_req_id=str(d["auth_req_id"]),
            subject=str(d["subject"]),
            procedure=str(d["procedure"]),
            datatypes=tuple(d["datatypes"]),
            actions=tuple(d["actions"]),
            interval=int(d["interval"]),
            expires_at=parse_time(d["expires_at"], "expires_at"),
            notification_token=(
                None if d.get("notification_token") is None else str(d["notification_token"])
            ),
        )


@dataclass(frozen=True, slots=True)
class BrowserAuthorization:
    """A browser flow started with `start_authorization`: send the resident's browser to `url`
    and keep the rest (in their session at your site) until the browser comes back to
    `redirect_uri`; then `finish_authorization` with it.

    `state` ties the answer to this browser (RFC 6749 §10.12) and `code_verifier` (RFC 7636)
    proves at the token endpoint that you started the flow: both are secret to this session,
    left out of the repr. `expires_at` is when `url` stops working if the resident never
    opens it.
    """

    url: str
    redirect_uri: str
    state: str = field(repr=False)
    code_verifier: str = field(repr=False)
    procedure: str
    expires_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "redirect_uri": self.redirect_uri,
            "state": self.state,
            "code_verifier": self.code_verifier,
            "procedure": self.procedure,
            "expires_at": _instant(self.expires_at),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> BrowserAuthorization:
        return cls(
            url=str(d["url"]),
            redirect_uri=str(d["redirect_uri"]),
            state=str(d["state"]),
            code_verifier=str(d["code_verifier"]),
            procedure=str(d["procedure"]),
            expires_at=parse_time(d["expires_at"], "expires_at"),
        )


@dataclass(frozen=True, slots=True)
class Grant:
    """What the resident gave (possibly narrower than asked): act under it with the client."""

    grant_id: str
    subject: str
    procedure: str
    datatypes: tuple[str, ...]
    actions: tuple[str, ...]
    purpose: str  # the DPV purpose URI
    legal_basis: str
    valid_until: datetime | None

    @classmethod
    def from_details(cls, grant_id: str, subject: str, details: object) -> Grant:
        """From the token response's `authorization_details` (what was granted)."""
        if not (isinstance(details, list) and len(details) == 1 and isinstance(details[0], dict)):
            raise ProtocolError("the vault sent no authorization_details with the grant")
        d = details[0]
        try:
            if d.get("type") != DETAILS_TYPE:
                raise ProtocolError(f"the granted authorization_details are not {DETAILS_TYPE}")
            valid_until = d.get("valid_until")
            return cls(
                grant_id=grant_id,
                subject=subject,
                procedure=str(d["procedure"]["ref"]),
                datatypes=tuple(str(t) for t in d["datatypes"]),
                actions=tuple(str(a) for a in d["actions"]),
                purpose=str(d["purpose"]["id"]),
                legal_basis=str(d.get("legal_basis") or DPV_CONSENT),
                valid_until=parse_time(valid_until, "valid_until") if valid_until else None,
            )
        except (KeyError, TypeError) as e:
            raise ProtocolError("the granted authorization_details are not readable") from e

    def allows(self, datatype: str, action: str) -> bool:
        """Whether this grant, as given, covers `action` on `datatype` (the vault decides)."""
        return datatype in self.datatypes and action in self.actions

    def to_dict(self) -> dict[str, Any]:
        return {
            "grant_id": self.grant_id,
            "subject": self.subject,
            "procedure": self.procedure,
            "datatypes": list(self.datatypes),
            "actions": list(self.actions),
            "purpose": self.purpose,
            "legal_basis": self.legal_basis,
            "valid_until": _instant(self.valid_until) if self.valid_until else None,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Grant:
        return cls(
            grant_id=str(d["grant_id"]),
            subject=str(d["subject"]),
            procedure=str(d["procedure"]),
            datatypes=tuple(d["datatypes"]),
            actions=tuple(d["actions"]),
            purpose=str(d["purpose"]),
            legal_basis=str(d["legal_basis"]),
            valid_until=parse_time(d["valid_until"], "valid_until") if d["valid_until"] else None,
        )


@dataclass(frozen=True, slots=True)
class StoredGrant:
    """A grant with its current tokens. The tokens are left out of the repr."""

    grant: Grant
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    access_expires_at: float  # seconds since the epoch
    jkt: str  # the thumbprint of the DPoP key the tokens are bound to

    def to_dict(self) -> dict[str, Any]:
        return {
            "grant": self.grant.to_dict(),
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "access_expires_at": self.access_expires_at,
            "jkt": self.jkt,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> StoredGrant:
        return cls(
            grant=Grant.from_dict(d["grant"]),
            access_token=str(d["access_token"]),
            refresh_token=str(d["refresh_token"]),
            access_expires_at=float(d["access_expires_at"]),
            jkt=str(d["jkt"]),
        )


class TokenStore(Protocol):
    """Where a client keeps each grant's newest tokens, and which grants have ended.

    Calls for one grant are serialised by the client (one refresh at a time);
    implementations must be safe across grants. `end` drops a grant's tokens for good and
    remembers why (`ended` answers that reason, or None for a grant not known to have
    ended), so that a later call says "ended" rather than "unknown".
    """

    def load(self, grant_id: str) -> StoredGrant | None: ...

    def save(self, stored: StoredGrant) -> None: ...

    def end(self, grant_id: str, reason: str) -> None: ...

    def ended(self, grant_id: str) -> str | None: ...

    def grants(self) -> list[StoredGrant]: ...


class MemoryTokenStore:
    """Tokens in this process only: a restart loses every grant (ask the resident again)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._grants: dict[str, StoredGrant] = {}
        self._ended: dict[str, str] = {}

    def load(self, grant_id: str) -> StoredGrant | None:
        with self._lock:
            return self._grants.get(grant_id)

    def save(self, stored: StoredGrant) -> None:
        with self._lock:
            self._grants[stored.grant.grant_id] = stored

    def end(self, grant_id: str, reason: str) -> None:
        with self._lock:
            self._grants.pop(grant_id, None)
            self._ended[grant_id] = reason

    def ended(self, grant_id: str) -> str | None:
        with self._lock:
            return self._ended.get(grant_id)

    def grants(self) -> list[StoredGrant]:
        with self._lock:
            return list(self._grants.values())

    def __repr__(self) -> str:
        return f"MemoryTokenStore({len(self._grants)} grants)"


class FileTokenStore:
    """Tokens in one JSON file (mode 0600), rewritten atomically on every change, with an
    advisory lock (`<file>.lock`) so that several processes on one machine take turns."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(f"{self.path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                _flock(fd)
                try:
                    document = json.loads(self.path.read_text(encoding="utf-8"))
                except FileNotFoundError:
                    document = {}
                except ValueError as e:
                    raise ProtocolError(f"the token file {self.path} is damaged") from e
                if not isinstance(document, dict):
                    raise ProtocolError(f"the token file {self.path} is damaged")
                document.setdefault("grants", {})
                document.setdefault("ended", {})
                before = json.dumps(document, sort_keys=True)
                yield document
                if json.dumps(document, sort_keys=True) != before:
                    temporary = self.path.with_name(self.path.name + ".tmp")
                    out = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                    with os.fdopen(out, "w", encoding="utf-8") as f:
                        json.dump(document, f, indent=2)
                        f.flush()
                        os.fsync(f.fileno())
                    temporary.replace(self.path)
            finally:
                os.close(fd)  # closing releases the lock

    def load(self, grant_id: str) -> StoredGrant | None:
        with self._locked() as document:
            entry = document["grants"].get(grant_id)
            return StoredGrant.from_dict(entry) if entry else None

    def save(self, stored: StoredGrant) -> None:
        with self._locked() as document:
            document["grants"][stored.grant.grant_id] = stored.to_dict()

    def end(self, grant_id: str, reason: str) -> None:
        with self._locked() as document:
            document["grants"].pop(grant_id, None)
            document["ended"][grant_id] = reason

    def ended(self, grant_id: str) -> str | None:
        with self._locked() as document:
            reason = document["ended"].get(grant_id)
            return str(reason) if reason is not None else None

    def grants(self) -> list[StoredGrant]:
        with self._locked() as document:
            return [StoredGrant.from_dict(e) for e in document["grants"].values()]

    def __repr__(self) -> str:
        return f"FileTokenStore({os.fspath(self.path)!r})"


def _flock(fd: int) -> None:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: one process at a time, by convention
        return
    fcntl.flock(fd, fcntl.LOCK_EX)
