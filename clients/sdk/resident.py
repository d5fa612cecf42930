"""The resident's side of the vault: `ResidentClient` (blocking) and `AsyncResidentClient`.

Both cover the whole resident API (docs/api.md): passkey sign-up and sign-in (the browser's
WebAuthn JSON is passed through untouched), recovery codes, sessions, records with versions
and files, the catalogue, connection codes, requests, grants, my access log with its
proofs, export and deleting the vault.

The two clients share everything but the waiting: each API call is described once, as a
`_Call` (method, path, arguments, and how to read the answer), and the sync client sends it
with `SyncHttp`, the async one with `AsyncHttp`. A method on one client and its twin on the
other are one line each, so they cannot drift apart.

A client holds at most one session token. Signing up or in stores the new token on the
client (and returns it); `with_token` gives a client for another session over the same
connection, which is how a web app serves many residents with one connection pool.
Errors are the SDK's tree (`clients.sdk._errors`).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx

from clients.sdk._errors import AuthError, ProtocolError
from clients.sdk._http import DEFAULT_TIMEOUT, AsyncHttp, SyncHttp, json_body

T = TypeVar("T")

# -- what the API answers, typed ------------------------------------------------------------


def _time(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ProtocolError(f"expected a time, got {type(value).__name__}")
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _maybe_time(value: Any) -> datetime | None:
    return None if value is None else _time(value)


def _dict(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ProtocolError(f"expected an object, got {type(value).__name__}")
    return value


@dataclass(frozen=True, slots=True)
class Ceremony:
    """A started WebAuthn ceremony: give `public_key` to the browser, finish with `flow_id`."""

    flow_id: str
    public_key: dict[str, Any]
    expires_at: datetime

    @classmethod
    def of(cls, d: dict[str, Any]) -> Ceremony:
        return cls(str(d["flow_id"]), _dict(d["public_key"]), _time(d["expires_at"]))


@dataclass(frozen=True, slots=True)
class SignedIn:
    session_token: str
    expires_at: datetime
    auth_method: str  # passkey | recovery
    recovery_codes: tuple[str, ...] = ()  # sign-up only: shown this once

    @classmethod
    def of(cls, d: dict[str, Any]) -> SignedIn:
        return cls(
            str(d["session_token"]),
            _time(d["expires_at"]),
            str(d["auth_method"]),
            tuple(str(c) for c in d.get("recovery_codes") or ()),
        )

    def __repr__(self) -> str:  # never print a token or recovery codes by accident
        return f"SignedIn(auth_method={self.auth_method!r}, expires_at={self.expires_at!r})"


@dataclass(frozen=True, slots=True)
class Me:
    display_name: str
    created_at: datetime
    recovery_codes_left: int
    auth_method: str
    session_expires_at: datetime

    @classmethod
    def of(cls, d: dict[str, Any]) -> Me:
        return cls(
            str(d["display_name"]),
            _time(d["created_at"]),
            int(d["recovery_codes_left"]),
            str(d["auth_method"]),
            _time(d["session_expires_at"]),
        )


@dataclass(frozen=True, slots=True)
class Passkey:
    id: str
    created_at: datetime
    last_used_at: datetime | None
    backed_up: bool
    transports: tuple[str, ...]

    @classmethod
    def of(cls, d: dict[str, Any]) -> Passkey:
        return cls(
            str(d["id"]),
            _time(d["created_at"]),
            _maybe_time(d.get("last_used_at")),
            bool(d["backed_up"]),
            tuple(str(t) for t in d.get("transports") or ()),
        )


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    auth_method: str
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    current: bool

    @classmethod
    def of(cls, d: dict[str, Any]) -> Session:
        return cls(
            str(d["id"]),
            str(d["auth_method"]),
            _time(d["created_at"]),
            _time(d["last_used_at"]),
            _time(d["expires_at"]),
            bool(d["current"]),
        )


@dataclass(frozen=True, slots=True)
class FileInfo:
    media_type: str
    filename: str
    size_bytes: int

    @classmethod
    def of(cls, d: dict[str, Any] | None) -> FileInfo | None:
        if d is None:
            return None
        return cls(str(d["media_type"]), str(d["filename"]), int(d["size_bytes"]))


@dataclass(frozen=True, slots=True)
class Signature:
    """An issuer's detached JWS over the record (see docs/services.md)."""

    jws: str
    issuer: str
    kid: str
    alg: str

    @classmethod
    def of(cls, d: dict[str, Any] | None) -> Signature | None:
        if d is None:
            return None
        return cls(str(d["jws"]), str(d["issuer"]), str(d["kid"]), str(d["alg"]))


@dataclass(frozen=True, slots=True)
class Provenance:
    """Who wrote the record: `resident`, `service` (with its id and grant) or
    `representative` (someone acting for the resident: the mandate's id, and their name as
    the mandate holds it; None when the mandate is gone)."""

    written_by: str  # resident | representative | service
    service_id: str | None
    grant_id: str | None
    mandate_id: str | None = None
    representative: str | None = None

    @classmethod
    def of(cls, d: dict[str, Any]) -> Provenance:
        sid, gid, mid = d.get("service_id"), d.get("grant_id"), d.get("mandate_id")
        name = d.get("representative")
        return cls(
            str(d["written_by"]),
            None if sid is None else str(sid),
            None if gid is None else str(gid),
            None if mid is None else str(mid),
            None if name is None else str(name),
        )


@dataclass(frozen=True, slots=True)
class Record:
    id: str
    category: str
    type: str
    kind: str  # json | file
    current_version: int
    version: int | None  # the version shown; None for a file record before its first upload
    title: str | None
    content: Any
    file: FileInfo | None
    provenance: Provenance
    signature: Signature | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, d: dict[str, Any]) -> Record:
        return cls(
            id=str(d["id"]),
            category=str(d["category"]),
            type=str(d["type"]),
            kind=str(d["kind"]),
            current_version=int(d["current_version"]),
            version=None if d.get("version") is None else int(d["version"]),
            title=d.get("title"),
            content=d.get("content"),
            file=FileInfo.of(d.get("file")),
            provenance=Provenance.of(_dict(d["provenance"])),
            signature=Signature.of(d.get("signature")),
            created_at=_time(d["created_at"]),
            updated_at=_time(d["updated_at"]),
        )


@dataclass(frozen=True, slots=True)
class Version:
    version: int
    title: str
    written_by: str  # resident | representative | service
    created_at: datetime
    file: FileInfo | None
    signature: Signature | None
    mandate_id: str | None = None  # written_by representative: the mandate, and their name
    representative: str | None = None

    @classmethod
    def of(cls, d: dict[str, Any]) -> Version:
        mid, name = d.get("mandate_id"), d.get("representative")
        return cls(
            int(d["version"]),
            str(d["title"]),
            str(d["written_by"]),
            _time(d["created_at"]),
            FileInfo.of(d.get("file")),
            Signature.of(d.get("signature")),
            None if mid is None else str(mid),
            None if name is None else str(name),
        )


@dataclass(frozen=True, slots=True)
class Label:
    nl: str
    en: str

    def get(self, language: str) -> str:
        return self.en if language == "en" else self.nl


@dataclass(frozen=True, slots=True)
class RecordType:
    code: str
    label: Label


@dataclass(frozen=True, slots=True)
class Category:
    code: str
    label: Label
    types: tuple[RecordType, ...]


@dataclass(frozen=True, slots=True)
class Catalogue:
    categories: tuple[Category, ...]

    @classmethod
    def of(cls, d: dict[str, Any]) -> Catalogue:
        return cls(
            tuple(
                Category(
                    str(c["code"]),
                    Label(**c["label"]),
                    tuple(RecordType(str(t["code"]), Label(**t["label"])) for t in c["types"]),
                )
                for c in d["categories"]
            )
        )

    def category(self, code: str) -> Category | None:
        return next((c for c in self.categories if c.code == code), None)

    def type_label(self, code: str) -> Label | None:
        for c in self.categories:
            for t in c.types:
                if t.code == code:
                    return t.label
        return None


@dataclass(frozen=True, slots=True)
class ConnectionCode:
    code: str
    expires_at: datetime

    @classmethod
    def of(cls, d: dict[str, Any]) -> ConnectionCode:
        return cls(str(d["code"]), _time(d["expires_at"]))


@dataclass(frozen=True, slots=True)
class Authorization:
    """A service's browser-flow request (authorization code + PKCE) waiting for my answer."""

    grant_id: str
    client_id: str
    redirect_uri: str

    @classmethod
    def of(cls, d: dict[str, Any]) -> Authorization:
        return cls(str(d["grant_id"]), str(d["client_id"]), str(d["redirect_uri"]))


@dataclass(frozen=True, slots=True)
class MandateStep:
    at: datetime
    status: str
    actor: str
    reason: str | None


@dataclass(frozen=True, slots=True)
class Mandate:
    """A mandate as I see it: one I gave (`role` "principal") or hold ("representative")."""

    id: str
    kind: str  # mandate | parent
    role: str  # principal | representative
    name: str  # the other person
    status: str  # offered | active | lapsed | ended
    end_reason: str | None
    categories: tuple[str, ...]
    actions: tuple[str, ...]
    valid_from: datetime
    valid_until: datetime
    label: str
    code_expires_at: datetime | None
    created_at: datetime
    accepted_at: datetime | None
    ended_at: datetime | None
    history: tuple[MandateStep, ...]

    @classmethod
    def of(cls, d: dict[str, Any]) -> Mandate:
        return cls(
            id=str(d["id"]),
            kind=str(d["kind"]),
            role=str(d["role"]),
            name=str(d["name"]),
            status=str(d["status"]),
            end_reason=d.get("end_reason"),
            categories=tuple(str(c) for c in d["categories"]),
            actions=tuple(str(a) for a in d["actions"]),
            valid_from=_time(d["valid_from"]),
            valid_until=_time(d["valid_until"]),
            label=str(d["label"]),
            code_expires_at=_maybe_time(d.get("code_expires_at")),
            created_at=_time(d["created_at"]),
            accepted_at=_maybe_time(d.get("accepted_at")),
            ended_at=_maybe_time(d.get("ended_at")),
            history=tuple(
                MandateStep(_time(h["at"]), str(h["status"]), str(h["actor"]), h.get("reason"))
                for h in d["history"]
            ),
        )


@dataclass(frozen=True, slots=True)
class People:
    acting_for: tuple[Mandate, ...]  # people I act for
    acting_for_me: tuple[Mandate, ...]  # people who act for me

    @classmethod
    def of(cls, d: dict[str, Any]) -> People:
        return cls(
            tuple(Mandate.of(m) for m in d["acting_for"]),
            tuple(Mandate.of(m) for m in d["acting_for_me"]),
        )


@dataclass(frozen=True, slots=True)
class MandateOffer:
    mandate: Mandate
    code: str  # shown once: hand it to the representative; works once, 15 minutes
    code_expires_at: datetime

    @classmethod
    def of(cls, d: dict[str, Any]) -> MandateOffer:
        return cls(Mandate.of(d["mandate"]), str(d["code"]), _time(d["code_expires_at"]))


@dataclass(frozen=True, slots=True)
class LoggedService:
    id: str
    name: str

    @classmethod
    def of(cls, d: dict[str, Any]) -> LoggedService:
        return cls(str(d["id"]), str(d["name"]))


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One event of my access log, with its ready sentences (Dutch B1 and English)."""

    id: str
    at: datetime
    name: str  # record.read, record.list, record.write, grant.approved, ...
    outcome: str  # permit | deny | done
    reason: str | None
    service: LoggedService | None
    datatype: str | None
    action: str | None
    grant_id: str | None
    log_index: int | None  # None until the event is in the verifiable log
    text_nl: str
    text_en: str

    def text(self, language: str) -> str:
        return self.text_en if language == "en" else self.text_nl

    @classmethod
    def of(cls, d: dict[str, Any]) -> LogEntry:
        service = d.get("service")
        index = d.get("log_index")
        return cls(
            str(d["id"]),
            _time(d["at"]),
            str(d["name"]),
            str(d["outcome"]),
            None if d.get("reason") is None else str(d["reason"]),
            None if service is None else LoggedService.of(_dict(service)),
            None if d.get("datatype") is None else str(d["datatype"]),
            None if d.get("action") is None else str(d["action"]),
            None if d.get("grant_id") is None else str(d["grant_id"]),
            None if index is None else int(index),
            str(d["text_nl"]),
            str(d["text_en"]),
        )


@dataclass(frozen=True, slots=True)
class LogPage:
    entries: tuple[LogEntry, ...]  # newest first
    next_before: str | None  # give as `before` for the next, older page; None: no more
    services: tuple[LoggedService, ...]  # every service in my log, for a filter

    @classmethod
    def of(cls, d: dict[str, Any]) -> LogPage:
        nxt = d.get("next_before")
        return cls(
            tuple(LogEntry.of(_dict(e)) for e in d["entries"]),
            None if nxt is None else str(nxt),
            tuple(LoggedService.of(_dict(s)) for s in d["services"]),
        )


@dataclass(frozen=True, slots=True)
class LogProof:
    """An RFC 9162 inclusion proof of one of my events against a signed checkpoint. Hashes
    are standard base64, as served; check it with `vault.audit.merkle` and `keys.note`."""

    event_id: str
    index: int
    size: int
    leaf_hash: str
    hashes: tuple[str, ...]
    root_hash: str
    checkpoint: str  # the signed note
    origin: str
    verifier_key: str

    @classmethod
    def of(cls, d: dict[str, Any]) -> LogProof:
        return cls(
            str(d["event_id"]),
            int(d["index"]),
            int(d["size"]),
            str(d["leaf_hash"]),
            tuple(str(h) for h in d["hashes"]),
            str(d["root_hash"]),
            str(d["checkpoint"]),
            str(d["origin"]),
            str(d["verifier_key"]),
        )


@dataclass(frozen=True, slots=True)
class LogKey:
    """The verifiable log's name and public key (C2SP signed-note verifier key)."""

    origin: str
    verifier_key: str

    @classmethod
    def of(cls, d: dict[str, Any]) -> LogKey:
        return cls(str(d["origin"]), str(d["verifier_key"]))


@dataclass(frozen=True, slots=True)
class Procedure:
    id: str
    ref: str
    description: str | None
    planned_end: datetime | None
    status: str
    closed_by: str | None
    closed_at: datetime | None

    @classmethod
    def of(cls, d: dict[str, Any]) -> Procedure:
        return cls(
            str(d["id"]),
            str(d["ref"]),
            d.get("description"),
            _maybe_time(d.get("planned_end")),
            str(d["status"]),
            d.get("closed_by"),
            _maybe_time(d.get("closed_at")),
        )


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    at: datetime
    status: str
    actor: str
    reason: str | None
    details: dict[str, Any] | None

    @classmethod
    def of(cls, d: dict[str, Any]) -> HistoryEntry:
        return cls(
            _time(d["at"]), str(d["status"]), str(d["actor"]), d.get("reason"), d.get("details")
        )


@dataclass(frozen=True, slots=True)
class Asked:
    """What the service asked for (a grant may be narrower)."""

    datatypes: tuple[str, ...]
    actions: tuple[str, ...]
    valid_until: datetime


@dataclass(frozen=True, slots=True)
class Grant:
    """A request or grant: a consent record from request to end, with its history."""

    id: str
    service_id: str
    service_name: str
    status: str  # requested | approved | denied | lapsed | ended
    end_reason: str | None
    requested: Asked
    datatypes: tuple[str, ...]
    actions: tuple[str, ...]
    valid_until: datetime | None
    purpose_id: str
    purpose_text: str
    legal_basis: str
    binding_message: str | None
    procedure: Procedure
    request_expires_at: datetime
    created_at: datetime
    decided_at: datetime | None
    ended_at: datetime | None
    history: tuple[HistoryEntry, ...] = field(default=())

    @property
    def active(self) -> bool:
        """Approved and not ended (the vault checks expiry on every access as well)."""
        return self.status == "approved"

    @classmethod
    def of(cls, d: dict[str, Any]) -> Grant:
        asked = _dict(d["requested"])
        return cls(
            id=str(d["id"]),
            service_id=str(d["service"]["id"]),
            service_name=str(d["service"]["name"]),
            status=str(d["status"]),
            end_reason=d.get("end_reason"),
            requested=Asked(
                tuple(asked["datatypes"]), tuple(asked["actions"]), _time(asked["valid_until"])
            ),
            datatypes=tuple(d["datatypes"]),
            actions=tuple(d["actions"]),
            valid_until=_maybe_time(d.get("valid_until")),
            purpose_id=str(d["purpose"]["id"]),
            purpose_text=str(d["purpose"]["text"]),
            legal_basis=str(d["legal_basis"]),
            binding_message=d.get("binding_message"),
            procedure=Procedure.of(_dict(d["procedure"])),
            request_expires_at=_time(d["request_expires_at"]),
            created_at=_time(d["created_at"]),
            decided_at=_maybe_time(d.get("decided_at")),
            ended_at=_maybe_time(d.get("ended_at")),
            history=tuple(HistoryEntry.of(h) for h in d.get("history") or ()),
        )


@dataclass(frozen=True, slots=True)
class Download:
    """A file being downloaded: what it is, before its bytes."""

    filename: str
    media_type: str
    size_bytes: int | None


# -- calls, described once --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Call(Generic[T]):
    method: str
    path: str
    read: Callable[[httpx.Response], T]
    json: Any = None
    params: Mapping[str, Any] | None = None
    authenticated: bool = True

    def kwargs(self) -> dict[str, Any]:
        kw: dict[str, Any] = {}
        if self.json is not None:
            kw["json"] = self.json
        if self.params:
            kw["params"] = self.params
        return kw


def _nothing(_: httpx.Response) -> None:
    return None


def _json(read: Callable[[dict[str, Any]], T]) -> Callable[[httpx.Response], T]:
    def reader(response: httpx.Response) -> T:
        body = json_body(response)
        try:
            return read(_dict(body))
        except (KeyError, TypeError, ValueError) as e:
            raise ProtocolError(
                f"unexpected answer to {response.request.method} {response.request.url.path}",
                status=response.status_code,
            ) from e

    return reader


def _id(value: str | uuid.UUID) -> str:
    """A path segment from an id; refuses anything that is not a UUID (no path tricks)."""
    return str(uuid.UUID(str(value)))


def _content_disposition(filename: str) -> str:
    # RFC 6266 with an RFC 8187 UTF-8 name: residents' file names are rarely ASCII.
    return f"attachment; filename*=UTF-8''{quote(filename, safe='')}"


def _download_info(response: httpx.Response) -> Download:
    message = Message()
    message["content-disposition"] = response.headers.get("content-disposition", "")
    length = response.headers.get("content-length")
    return Download(
        filename=message.get_filename() or "download",
        media_type=response.headers.get("content-type", "application/octet-stream"),
        size_bytes=int(length) if length and length.isdigit() else None,
    )


class _Calls:
    """Every resident API call, described; shared by both clients."""

    # sign-up and sign-in
    @staticmethod
    def begin_sign_up(display_name: str) -> _Call[Ceremony]:
        return _Call(
            "POST",
            "/v1/auth/passkeys/register/options",
            _json(Ceremony.of),
            json={"display_name": display_name},
            authenticated=False,
        )

    @staticmethod
    def finish_sign_up(
        flow_id: str, display_name: str, credential: Mapping[str, Any]
    ) -> _Call[SignedIn]:
        return _Call(
            "POST",
            "/v1/auth/passkeys/register/verify",
            _json(SignedIn.of),
            json={"flow_id": flow_id, "display_name": display_name, "credential": credential},
            authenticated=False,
        )

    @staticmethod
    def begin_sign_in() -> _Call[Ceremony]:
        return _Call(
            "POST", "/v1/auth/passkeys/login/options", _json(Ceremony.of), authenticated=False
        )

    @staticmethod
    def finish_sign_in(flow_id: str, credential: Mapping[str, Any]) -> _Call[SignedIn]:
        return _Call(
            "POST",
            "/v1/auth/passkeys/login/verify",
            _json(SignedIn.of),
            json={"flow_id": flow_id, "credential": credential},
            authenticated=False,
        )

    @staticmethod
    def recover(code: str) -> _Call[SignedIn]:
        return _Call(
            "POST",
            "/v1/auth/recovery",
            _json(SignedIn.of),
            json={"code": code},
            authenticated=False,
        )

    # the session
    sign_out = staticmethod(lambda: _Call("POST", "/v1/auth/sign-out", _nothing))
    sign_out_everywhere = staticmethod(
        lambda: _Call("POST", "/v1/auth/sign-out-everywhere", _nothing)
    )
    me = staticmethod(lambda: _Call("GET", "/v1/me", _json(Me.of)))
    sessions = staticmethod(
        lambda: _Call(
            "GET", "/v1/me/sessions", _json(lambda d: [Session.of(s) for s in d["sessions"]])
        )
    )

    @staticmethod
    def end_session(session_id: str) -> _Call[None]:
        return _Call("DELETE", f"/v1/me/sessions/{_id(session_id)}", _nothing)

    begin_reauthentication = staticmethod(
        lambda: _Call("POST", "/v1/me/reauthenticate/options", _json(Ceremony.of))
    )

    @staticmethod
    def finish_reauthentication(flow_id: str, credential: Mapping[str, Any]) -> _Call[None]:
        return _Call(
            "POST",
            "/v1/me/reauthenticate/verify",
            _nothing,
            json={"flow_id": flow_id, "credential": credential},
        )

    # passkeys and recovery codes
    begin_add_passkey = staticmethod(
        lambda: _Call("POST", "/v1/me/passkeys/options", _json(Ceremony.of))
    )

    @staticmethod
    def finish_add_passkey(flow_id: str, credential: Mapping[str, Any]) -> _Call[None]:
        return _Call(
            "POST",
            "/v1/me/passkeys/verify",
            _nothing,
            json={"flow_id": flow_id, "credential": credential},
        )

    passkeys = staticmethod(
        lambda: _Call(
            "GET", "/v1/me/passkeys", _json(lambda d: [Passkey.of(p) for p in d["passkeys"]])
        )
    )

    @staticmethod
    def remove_passkey(passkey_id: str) -> _Call[None]:
        return _Call("DELETE", f"/v1/me/passkeys/{quote(passkey_id, safe='')}", _nothing)

    new_recovery_codes = staticmethod(
        lambda: _Call(
            "POST",
            "/v1/me/recovery-codes",
            _json(lambda d: tuple(str(c) for c in d["recovery_codes"])),
        )
    )

    # records
    catalogue = staticmethod(
        lambda: _Call("GET", "/v1/catalogue", _json(Catalogue.of), authenticated=False)
    )

    @staticmethod
    def records(category: str | None) -> _Call[list[Record]]:
        return _Call(
            "GET",
            "/v1/me/records",
            _json(lambda d: [Record.of(r) for r in d["records"]]),
            params={"category": category} if category else None,
        )

    @staticmethod
    def record(record_id: str, version: int | None) -> _Call[Record]:
        path = f"/v1/me/records/{_id(record_id)}"
        if version is not None:
            path += f"/versions/{int(version)}"
        return _Call("GET", path, _json(Record.of))

    @staticmethod
    def create_record(
        category: str, record_type: str, title: str, kind: str, content: Any
    ) -> _Call[Record]:
        body: dict[str, Any] = {"category": category, "type": record_type, "title": title}
        if kind == "file":
            body["kind"] = "file"
        else:
            body["content"] = content
        return _Call("POST", "/v1/me/records", _json(Record.of), json=body)

    @staticmethod
    def update_record(
        record_id: str,
        title: str | None,
        content: Any,
        expected_version: int | None,
        *,
        has_content: bool,
    ) -> _Call[Record]:
        body: dict[str, Any] = {}
        if title is not None:
            body["title"] = title
        if has_content:
            body["content"] = content
        if expected_version is not None:
            body["expected_version"] = expected_version
        return _Call("PATCH", f"/v1/me/records/{_id(record_id)}", _json(Record.of), json=body)

    @staticmethod
    def delete_record(record_id: str) -> _Call[None]:
        return _Call("DELETE", f"/v1/me/records/{_id(record_id)}", _nothing)

    @staticmethod
    def versions(record_id: str) -> _Call[list[Version]]:
        return _Call(
            "GET",
            f"/v1/me/records/{_id(record_id)}/versions",
            _json(lambda d: [Version.of(v) for v in d["versions"]]),
        )

    # access
    connection_code = staticmethod(
        lambda: _Call("POST", "/v1/me/connection-codes", _json(ConnectionCode.of))
    )
    requests = staticmethod(
        lambda: _Call("GET", "/v1/me/requests", _json(lambda d: [Grant.of(g) for g in d["grants"]]))
    )
    grants = staticmethod(
        lambda: _Call("GET", "/v1/me/grants", _json(lambda d: [Grant.of(g) for g in d["grants"]]))
    )

    @staticmethod
    def grant(grant_id: str) -> _Call[Grant]:
        return _Call("GET", f"/v1/me/grants/{_id(grant_id)}", _json(Grant.of))

    @staticmethod
    def approve(
        grant_id: str,
        datatypes: Iterable[str] | None,
        actions: Iterable[str] | None,
        valid_until: datetime | None,
    ) -> _Call[Grant]:
        body: dict[str, Any] = {}
        if datatypes is not None:
            body["datatypes"] = list(datatypes)
        if actions is not None:
            body["actions"] = list(actions)
        if valid_until is not None:
            if valid_until.tzinfo is None:
                raise ValueError("valid_until needs a time zone (use UTC)")
            body["valid_until"] = valid_until.isoformat()
        return _Call("POST", f"/v1/me/grants/{_id(grant_id)}/approve", _json(Grant.of), json=body)

    @staticmethod
    def deny(grant_id: str) -> _Call[Grant]:
        return _Call("POST", f"/v1/me/grants/{_id(grant_id)}/deny", _json(Grant.of))

    # the browser flow: the answer is where to send the browser
    @staticmethod
    def start_authorization(client_id: str, request_uri: str) -> _Call[Authorization]:
        return _Call(
            "POST",
            "/v1/me/authorizations",
            _json(Authorization.of),
            json={"client_id": client_id, "request_uri": request_uri},
        )

    @staticmethod
    def authorization(grant_id: str) -> _Call[Authorization]:
        return _Call("GET", f"/v1/me/authorizations/{_id(grant_id)}", _json(Authorization.of))

    @staticmethod
    def approve_authorization(
        grant_id: str,
        datatypes: Iterable[str] | None,
        actions: Iterable[str] | None,
        valid_until: datetime | None,
    ) -> _Call[str]:
        body = _Calls.approve(grant_id, datatypes, actions, valid_until).json
        return _Call(
            "POST",
            f"/v1/me/authorizations/{_id(grant_id)}/approve",
            _json(lambda d: str(d["redirect_to"])),
            json=body,
        )

    @staticmethod
    def deny_authorization(grant_id: str) -> _Call[str]:
        return _Call(
            "POST",
            f"/v1/me/authorizations/{_id(grant_id)}/deny",
            _json(lambda d: str(d["redirect_to"])),
        )

    @staticmethod
    def revoke(grant_id: str) -> _Call[Grant]:
        return _Call("POST", f"/v1/me/grants/{_id(grant_id)}/revoke", _json(Grant.of))

    @staticmethod
    def revoke_service(service_id: str) -> _Call[int]:
        return _Call(
            "POST",
            f"/v1/me/services/{_id(service_id)}/revoke",
            _json(lambda d: int(d["stopped"])),
        )

    @staticmethod
    def close_procedure(procedure_id: str) -> _Call[int]:
        return _Call(
            "POST",
            f"/v1/me/procedures/{_id(procedure_id)}/close",
            _json(lambda d: int(d["stopped"])),
        )

    # people: mandates and children's vaults
    people = staticmethod(lambda: _Call("GET", "/v1/me/people", _json(People.of)))

    @staticmethod
    def offer_mandate(
        categories: Iterable[str],
        actions: Iterable[str],
        valid_until: datetime,
        valid_from: datetime | None,
        label: str,
    ) -> _Call[MandateOffer]:
        for when in (valid_until, valid_from):
            if when is not None and when.tzinfo is None:
                raise ValueError("mandate times need a time zone (use UTC)")
        body: dict[str, Any] = {
            "categories": list(categories),
            "actions": list(actions),
            "valid_until": valid_until.isoformat(),
            "label": label,
        }
        if valid_from is not None:
            body["valid_from"] = valid_from.isoformat()
        return _Call("POST", "/v1/me/people/mandates", _json(MandateOffer.of), json=body)

    @staticmethod
    def offer_parent_mandate(label: str) -> _Call[MandateOffer]:
        return _Call("POST", "/v1/me/people/parents", _json(MandateOffer.of), json={"label": label})

    @staticmethod
    def accept_mandate(code: str) -> _Call[Mandate]:
        return _Call("POST", "/v1/me/people/accept", _json(Mandate.of), json={"code": code})

    @staticmethod
    def revoke_mandate(mandate_id: str) -> _Call[Mandate]:
        return _Call("POST", f"/v1/me/people/mandates/{_id(mandate_id)}/revoke", _json(Mandate.of))

    @staticmethod
    def give_up_mandate(mandate_id: str) -> _Call[Mandate]:
        return _Call("POST", f"/v1/me/people/mandates/{_id(mandate_id)}/give-up", _json(Mandate.of))

    @staticmethod
    def new_child(display_name: str) -> _Call[Mandate]:
        return _Call(
            "POST",
            "/v1/me/people/children",
            _json(Mandate.of),
            json={"display_name": display_name},
        )

    @staticmethod
    def delete_child_vault(mandate_id: str) -> _Call[None]:
        return _Call("DELETE", f"/v1/me/people/children/{_id(mandate_id)}", _nothing)

    @staticmethod
    def log(
        before: str | None,
        limit: int | None,
        service_id: str | None,
        datatype: str | None,
        names: Iterable[str] | None,
    ) -> _Call[LogPage]:
        params: dict[str, Any] = {}
        if before is not None:
            params["before"] = _id(before)
        if limit is not None:
            params["limit"] = int(limit)
        if service_id is not None:
            params["service"] = _id(service_id)
        if datatype is not None:
            params["datatype"] = datatype
        if names is not None:
            params["name"] = list(names)
        return _Call("GET", "/v1/me/log", _json(LogPage.of), params=params or None)

    @staticmethod
    def log_proof(event_id: str) -> _Call[LogProof]:
        return _Call("GET", f"/v1/me/log/{_id(event_id)}/proof", _json(LogProof.of))

    log_key = staticmethod(
        lambda: _Call("GET", "/v1/audit/key", _json(LogKey.of), authenticated=False)
    )

    delete_vault = staticmethod(lambda: _Call("DELETE", "/v1/me", _nothing))


_UNSET: Any = object()


ACT_FOR_HEADER = "Regie-Act-For"


class _Base:
    """What both clients keep: the session token, the mandate it acts under (if any), and
    how a call becomes request arguments."""

    token: str | None
    # A mandate id: every call is made for its principal (`Regie-Act-For`, docs/people.md).
    act_for: str | None = None

    def _headers(self) -> dict[str, str]:
        if not self.token:
            raise AuthError("not signed in: sign in first, or give the client a token")
        headers = {"Authorization": f"Bearer {self.token}"}
        if self.act_for is not None:
            headers[ACT_FOR_HEADER] = self.act_for
        return headers

    def _auth(self, call: _Call[Any]) -> dict[str, Any]:
        kw = call.kwargs()
        if call.authenticated:
            kw["headers"] = self._headers()
        return kw

    def _stream_headers(self) -> dict[str, str]:
        return self._headers()

    def __repr__(self) -> str:
        state = "signed in" if self.token else "signed out"
        acting = f", acting for mandate {self.act_for}" if self.act_for else ""
        return f"{type(self).__name__}({state}{acting})"


class ResidentClient(_Base):
    """A blocking client for one resident's session.

    `ResidentClient("https://vault.example.nl")`, or over an existing connection:
    `ResidentClient(http=SyncHttp(...), token=...)`.
    """

    def __init__(
        self,
        base_url: str | None = None,
        *,
        http: SyncHttp | None = None,
        token: str | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        allow_http: bool = False,
    ) -> None:
        if http is None:
            if base_url is None:
                raise ValueError("give the vault's base_url, or an http connection")
            http = SyncHttp(base_url, transport=transport, timeout=timeout, allow_http=allow_http)
        self.http = http
        self.token = token

    def with_token(self, token: str | None) -> ResidentClient:
        """A client for another session over the same connection."""
        return ResidentClient(http=self.http, token=token)

    def acting_for(self, mandate_id: str | uuid.UUID) -> ResidentClient:
        """A client for the same session that acts under `mandate_id` (one I hold, from
        `people().acting_for`): records, requests and grants (also `revoke_service`, only
        what the mandate may decide on, and `close_procedure`, only a procedure wholly in
        it), and the log with its proofs (`log_proof`, for an entry the log shows) are then
        the principal's, as far as the mandate reaches; other calls are refused (403,
        `not-for-representatives`). This client itself is unchanged."""
        other = ResidentClient(http=self.http, token=self.token)
        other.act_for = _id(mandate_id)
        return other

    def _run(self, call: _Call[T]) -> T:
        return call.read(self.http.request(call.method, call.path, **self._auth(call)))

    def _signed(self, call: _Call[SignedIn]) -> SignedIn:
        signed = self._run(call)
        self.token = signed.session_token
        return signed

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> ResidentClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # sign-up and sign-in: pass the browser's PublicKeyCredential JSON through untouched
    def begin_sign_up(self, display_name: str) -> Ceremony:
        return self._run(_Calls.begin_sign_up(display_name))

    def finish_sign_up(
        self, flow_id: str, display_name: str, credential: Mapping[str, Any]
    ) -> SignedIn:
        return self._signed(_Calls.finish_sign_up(flow_id, display_name, credential))

    def begin_sign_in(self) -> Ceremony:
        return self._run(_Calls.begin_sign_in())

    def finish_sign_in(self, flow_id: str, credential: Mapping[str, Any]) -> SignedIn:
        return self._signed(_Calls.finish_sign_in(flow_id, credential))

    def recover(self, code: str) -> SignedIn:
        return self._signed(_Calls.recover(code))

    def sign_out(self) -> None:
        self._run(_Calls.sign_out())
        self.token = None

    def sign_out_everywhere(self) -> None:
        self._run(_Calls.sign_out_everywhere())
        self.token = None

    def me(self) -> Me:
        return self._run(_Calls.me())

    def sessions(self) -> list[Session]:
        return self._run(_Calls.sessions())

    def end_session(self, session_id: str) -> None:
        self._run(_Calls.end_session(session_id))

    def begin_reauthentication(self) -> Ceremony:
        return self._run(_Calls.begin_reauthentication())

    def finish_reauthentication(self, flow_id: str, credential: Mapping[str, Any]) -> None:
        self._run(_Calls.finish_reauthentication(flow_id, credential))

    def begin_add_passkey(self) -> Ceremony:
        return self._run(_Calls.begin_add_passkey())

    def finish_add_passkey(self, flow_id: str, credential: Mapping[str, Any]) -> None:
        self._run(_Calls.finish_add_passkey(flow_id, credential))

    def passkeys(self) -> list[Passkey]:
        return self._run(_Calls.passkeys())

    def remove_passkey(self, passkey_id: str) -> None:
        self._run(_Calls.remove_passkey(passkey_id))

    def new_recovery_codes(self) -> tuple[str, ...]:
        return self._run(_Calls.new_recovery_codes())

    # records
    def catalogue(self) -> Catalogue:
        return self._run(_Calls.catalogue())

    def records(self, category: str | None = None) -> list[Record]:
        return self._run(_Calls.records(category))

    def record(self, record_id: str, version: int | None = None) -> Record:
        return self._run(_Calls.record(record_id, version))

    def create_record(
        self,
        category: str,
        record_type: str,
        title: str,
        content: Any = None,
        *,
        kind: str = "json",
    ) -> Record:
        return self._run(_Calls.create_record(category, record_type, title, kind, content))

    def update_record(
        self,
        record_id: str,
        *,
        title: str | None = None,
        content: Any = _UNSET,
        expected_version: int | None = None,
    ) -> Record:
        return self._run(
            _Calls.update_record(
                record_id, title, content, expected_version, has_content=content is not _UNSET
            )
        )

    def delete_record(self, record_id: str) -> None:
        self._run(_Calls.delete_record(record_id))

    def versions(self, record_id: str) -> list[Version]:
        return self._run(_Calls.versions(record_id))

    def upload_file(
        self,
        record_id: str,
        content: bytes | Iterable[bytes],
        *,
        filename: str,
        media_type: str,
    ) -> Record:
        """Upload a file record's content (streamed when `content` is an iterable)."""
        response = self.http.request(
            "PUT",
            f"/v1/me/records/{_id(record_id)}/file",
            content=content,
            headers={
                **self._stream_headers(),
                "Content-Type": media_type,
                "Content-Disposition": _content_disposition(filename),
            },
        )
        return _json(Record.of)(response)

    @contextmanager
    def download_file(
        self, record_id: str, version: int | None = None
    ) -> Iterator[tuple[Download, Iterator[bytes]]]:
        """`with client.download_file(id) as (info, chunks): ...`, streamed."""
        params = {"version": int(version)} if version is not None else None
        with self.http.stream(
            "GET",
            f"/v1/me/records/{_id(record_id)}/file",
            params=params,
            headers=self._stream_headers(),
        ) as response:
            yield _download_info(response), response.iter_bytes()

    @contextmanager
    def export(self) -> Iterator[Iterator[bytes]]:
        """The whole vault as a zip (regie-export/1: records, grants, my own log and the log's
        checkpoint; docs/export-format.md), streamed: `with client.export() as z:`."""
        with self.http.stream("GET", "/v1/me/export", headers=self._stream_headers()) as r:
            yield r.iter_bytes()

    # access
    def connection_code(self) -> ConnectionCode:
        return self._run(_Calls.connection_code())

    def requests(self) -> list[Grant]:
        return self._run(_Calls.requests())

    def grants(self) -> list[Grant]:
        return self._run(_Calls.grants())

    def grant(self, grant_id: str) -> Grant:
        return self._run(_Calls.grant(grant_id))

    def approve(
        self,
        grant_id: str,
        *,
        datatypes: Iterable[str] | None = None,
        actions: Iterable[str] | None = None,
        valid_until: datetime | None = None,
    ) -> Grant:
        """Approve as asked, or narrower (fewer datatypes, fewer actions, an earlier end)."""
        return self._run(_Calls.approve(grant_id, datatypes, actions, valid_until))

    def deny(self, grant_id: str) -> Grant:
        return self._run(_Calls.deny(grant_id))

    def start_authorization(self, client_id: str, request_uri: str) -> Authorization:
        """Take up a service's pushed request (browser flow); single use."""
        return self._run(_Calls.start_authorization(client_id, request_uri))

    def authorization(self, grant_id: str) -> Authorization:
        return self._run(_Calls.authorization(grant_id))

    def approve_authorization(
        self,
        grant_id: str,
        *,
        datatypes: Iterable[str] | None = None,
        actions: Iterable[str] | None = None,
        valid_until: datetime | None = None,
    ) -> str:
        """Approve a browser-flow request: the URL to send the browser to (with the code)."""
        return self._run(_Calls.approve_authorization(grant_id, datatypes, actions, valid_until))

    def deny_authorization(self, grant_id: str) -> str:
        return self._run(_Calls.deny_authorization(grant_id))

    def revoke(self, grant_id: str) -> Grant:
        return self._run(_Calls.revoke(grant_id))

    def revoke_service(self, service_id: str) -> int:
        """Stop every grant and request of one service: how many were stopped. Under a
        mandate, only those whose datatypes all lie in its `decide-requests` categories."""
        return self._run(_Calls.revoke_service(service_id))

    def people(self) -> People:
        """People I act for, and people who act for me."""
        return self._run(_Calls.people())

    def offer_mandate(
        self,
        *,
        categories: Iterable[str],
        actions: Iterable[str],
        valid_until: datetime,
        valid_from: datetime | None = None,
        label: str = "",
    ) -> MandateOffer:
        return self._run(_Calls.offer_mandate(categories, actions, valid_until, valid_from, label))

    def offer_parent_mandate(self, label: str = "") -> MandateOffer:
        """On a client `acting_for(my parent's mandate)`: offer another parent a parent's
        mandate for the child's vault (same powers, same end as mine), and its code."""
        return self._run(_Calls.offer_parent_mandate(label))

    def accept_mandate(self, code: str) -> Mandate:
        return self._run(_Calls.accept_mandate(code))

    def revoke_mandate(self, mandate_id: str) -> Mandate:
        return self._run(_Calls.revoke_mandate(mandate_id))

    def give_up_mandate(self, mandate_id: str) -> Mandate:
        return self._run(_Calls.give_up_mandate(mandate_id))

    def new_child(self, display_name: str) -> Mandate:
        """A vault for my child, with my standing parent's mandate over it."""
        return self._run(_Calls.new_child(display_name))

    def delete_child_vault(self, mandate_id: str) -> None:
        """Delete my child's vault for good, by my parent's mandate for it; needs a passkey
        confirmation of the last 5 minutes."""
        self._run(_Calls.delete_child_vault(mandate_id))

    def close_procedure(self, procedure_id: str) -> int:
        """End a procedure: its grants end (how many), its requests lapse. Under a mandate,
        `AccessDenied` (`category-not-in-scope`) if any of its grants reaches outside it."""
        return self._run(_Calls.close_procedure(procedure_id))

    def log(
        self,
        *,
        before: str | None = None,
        limit: int | None = None,
        service_id: str | None = None,
        datatype: str | None = None,
        names: Iterable[str] | None = None,
    ) -> LogPage:
        """My access log, newest first: `datatype` is a type or a whole category; `names`
        only these events (`record.read`, ...); `before` the previous page's `next_before`."""
        return self._run(_Calls.log(before, limit, service_id, datatype, names))

    def log_proof(self, event_id: str) -> LogProof:
        """The inclusion proof of one of my events (under a mandate: of the principal's log,
        an entry `log` shows); `NotFound` until it is in the log, and for any other event."""
        return self._run(_Calls.log_proof(event_id))

    def log_key(self) -> LogKey:
        return self._run(_Calls.log_key())

    def delete_vault(self) -> None:
        """Delete the vault for good; needs a passkey confirmation of the last 5 minutes."""
        self._run(_Calls.delete_vault())
        self.token = None


class AsyncResidentClient(_Base):
    """The non-blocking twin of `ResidentClient`: the same methods, awaited."""

    def __init__(
        self,
        base_url: str | None = None,
        *,
        http: AsyncHttp | None = None,
        token: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        allow_http: bool = False,
    ) -> None:
        if http is None:
            if base_url is None:
                raise ValueError("give the vault's base_url, or an http connection")
            http = AsyncHttp(base_url, transport=transport, timeout=timeout, allow_http=allow_http)
        self.http = http
        self.token = token

    def with_token(self, token: str | None) -> AsyncResidentClient:
        return AsyncResidentClient(http=self.http, token=token)

    def acting_for(self, mandate_id: str | uuid.UUID) -> AsyncResidentClient:
        """A client for the same session that acts under `mandate_id` (see
        `ResidentClient.acting_for`)."""
        other = AsyncResidentClient(http=self.http, token=self.token)
        other.act_for = _id(mandate_id)
        return other

    async def _run(self, call: _Call[T]) -> T:
        return call.read(await self.http.request(call.method, call.path, **self._auth(call)))

    async def _signed(self, call: _Call[SignedIn]) -> SignedIn:
        signed = await self._run(call)
        self.token = signed.session_token
        return signed

    async def aclose(self) -> None:
        await self.http.aclose()

    async def __aenter__(self) -> AsyncResidentClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def begin_sign_up(self, display_name: str) -> Ceremony:
        return await self._run(_Calls.begin_sign_up(display_name))

    async def finish_sign_up(
        self, flow_id: str, display_name: str, credential: Mapping[str, Any]
    ) -> SignedIn:
        return await self._signed(_Calls.finish_sign_up(flow_id, display_name, credential))

    async def begin_sign_in(self) -> Ceremony:
        return await self._run(_Calls.begin_sign_in())

    async def finish_sign_in(self, flow_id: str, credential: Mapping[str, Any]) -> SignedIn:
        return await self._signed(_Calls.finish_sign_in(flow_id, credential))

    async def recover(self, code: str) -> SignedIn:
        return await self._signed(_Calls.recover(code))

    async def sign_out(self) -> None:
        await self._run(_Calls.sign_out())
        self.token = None

    async def sign_out_everywhere(self) -> None:
        await self._run(_Calls.sign_out_everywhere())
        self.token = None

    async def me(self) -> Me:
        return await self._run(_Calls.me())

    async def sessions(self) -> list[Session]:
        return await self._run(_Calls.sessions())

    async def end_session(self, session_id: str) -> None:
        await self._run(_Calls.end_session(session_id))

    async def begin_reauthentication(self) -> Ceremony:
        return await self._run(_Calls.begin_reauthentication())

    async def finish_reauthentication(self, flow_id: str, credential: Mapping[str, Any]) -> None:
        await self._run(_Calls.finish_reauthentication(flow_id, credential))

    async def begin_add_passkey(self) -> Ceremony:
        return await self._run(_Calls.begin_add_passkey())

    async def finish_add_passkey(self, flow_id: str, credential: Mapping[str, Any]) -> None:
        await self._run(_Calls.finish_add_passkey(flow_id, credential))

    async def passkeys(self) -> list[Passkey]:
        return await self._run(_Calls.passkeys())

    async def remove_passkey(self, passkey_id: str) -> None:
        await self._run(_Calls.remove_passkey(passkey_id))

    async def new_recovery_codes(self) -> tuple[str, ...]:
        return await self._run(_Calls.new_recovery_codes())

    async def catalogue(self) -> Catalogue:
        return await self._run(_Calls.catalogue())

    async def records(self, category: str | None = None) -> list[Record]:
        return await self._run(_Calls.records(category))

    async def record(self, record_id: str, version: int | None = None) -> Record:
        return await self._run(_Calls.record(record_id, version))

    async def create_record(
        self,
        category: str,
        record_type: str,
        title: str,
        content: Any = None,
        *,
        kind: str = "json",
    ) -> Record:
        return await self._run(_Calls.create_record(category, record_type, title, kind, content))

    async def update_record(
        self,
        record_id: str,
        *,
        title: str | None = None,
        content: Any = _UNSET,
        expected_version: int | None = None,
    ) -> Record:
        return await self._run(
            _Calls.update_record(
                record_id, title, content, expected_version, has_content=content is not _UNSET
            )
        )

    async def delete_record(self, record_id: str) -> None:
        await self._run(_Calls.delete_record(record_id))

    async def versions(self, record_id: str) -> list[Version]:
        return await self._run(_Calls.versions(record_id))

    async def upload_file(
        self,
        record_id: str,
        content: bytes | AsyncIterator[bytes],
        *,
        filename: str,
        media_type: str,
    ) -> Record:
        response = await self.http.request(
            "PUT",
            f"/v1/me/records/{_id(record_id)}/file",
            content=content,
            headers={
                **self._stream_headers(),
                "Content-Type": media_type,
                "Content-Disposition": _content_disposition(filename),
            },
        )
        return _json(Record.of)(response)

    @asynccontextmanager
    async def download_file(
        self, record_id: str, version: int | None = None
    ) -> AsyncIterator[tuple[Download, AsyncIterator[bytes]]]:
        params = {"version": int(version)} if version is not None else None
        async with self.http.stream(
            "GET",
            f"/v1/me/records/{_id(record_id)}/file",
            params=params,
            headers=self._stream_headers(),
        ) as response:
            yield _download_info(response), response.aiter_bytes()

    @asynccontextmanager
    async def export(self) -> AsyncIterator[AsyncIterator[bytes]]:
        async with self.http.stream("GET", "/v1/me/export", headers=self._stream_headers()) as r:
            yield r.aiter_bytes()

    async def connection_code(self) -> ConnectionCode:
        return await self._run(_Calls.connection_code())

    async def requests(self) -> list[Grant]:
        return await self._run(_Calls.requests())

    async def grants(self) -> list[Grant]:
        return await self._run(_Calls.grants())

    async def grant(self, grant_id: str) -> Grant:
        return await self._run(_Calls.grant(grant_id))

    async def approve(
        self,
        grant_id: str,
        *,
        datatypes: Iterable[str] | None = None,
        actions: Iterable[str] | None = None,
        valid_until: datetime | None = None,
    ) -> Grant:
        return await self._run(_Calls.approve(grant_id, datatypes, actions, valid_until))

    async def deny(self, grant_id: str) -> Grant:
        return await self._run(_Calls.deny(grant_id))

    async def start_authorization(self, client_id: str, request_uri: str) -> Authorization:
        return await self._run(_Calls.start_authorization(client_id, request_uri))

    async def authorization(self, grant_id: str) -> Authorization:
        return await self._run(_Calls.authorization(grant_id))

    async def approve_authorization(
        self,
        grant_id: str,
        *,
        datatypes: Iterable[str] | None = None,
        actions: Iterable[str] | None = None,
        valid_until: datetime | None = None,
    ) -> str:
        return await self._run(
            _Calls.approve_authorization(grant_id, datatypes, actions, valid_until)
        )

    async def deny_authorization(self, grant_id: str) -> str:
        return await self._run(_Calls.deny_authorization(grant_id))

    async def revoke(self, grant_id: str) -> Grant:
        return await self._run(_Calls.revoke(grant_id))

    async def revoke_service(self, service_id: str) -> int:
        return await self._run(_Calls.revoke_service(service_id))

    async def people(self) -> People:
        """People I act for, and people who act for me."""
        return await self._run(_Calls.people())

    async def offer_mandate(
        self,
        *,
        categories: Iterable[str],
        actions: Iterable[str],
        valid_until: datetime,
        valid_from: datetime | None = None,
        label: str = "",
    ) -> MandateOffer:
        return await self._run(
            _Calls.offer_mandate(categories, actions, valid_until, valid_from, label)
        )

    async def offer_parent_mandate(self, label: str = "") -> MandateOffer:
        """On a client `acting_for(my parent's mandate)`: offer another parent a parent's
        mandate for the child's vault (same powers, same end as mine), and its code."""
        return await self._run(_Calls.offer_parent_mandate(label))

    async def accept_mandate(self, code: str) -> Mandate:
        return await self._run(_Calls.accept_mandate(code))

    async def revoke_mandate(self, mandate_id: str) -> Mandate:
        return await self._run(_Calls.revoke_mandate(mandate_id))

    async def give_up_mandate(self, mandate_id: str) -> Mandate:
        return await self._run(_Calls.give_up_mandate(mandate_id))

    async def new_child(self, display_name: str) -> Mandate:
        """A vault for my child, with my standing parent's mandate over it."""
        return await self._run(_Calls.new_child(display_name))

    async def delete_child_vault(self, mandate_id: str) -> None:
        await self._run(_Calls.delete_child_vault(mandate_id))

    async def close_procedure(self, procedure_id: str) -> int:
        return await self._run(_Calls.close_procedure(procedure_id))

    async def log(
        self,
        *,
        before: str | None = None,
        limit: int | None = None,
        service_id: str | None = None,
        datatype: str | None = None,
        names: Iterable[str] | None = None,
    ) -> LogPage:
        return await self._run(_Calls.log(before, limit, service_id, datatype, names))

    async def log_proof(self, event_id: str) -> LogProof:
        return await self._run(_Calls.log_proof(event_id))

    async def log_key(self) -> LogKey:
        return await self._run(_Calls.log_key())

    async def delete_vault(self) -> None:
        await self._run(_Calls.delete_vault())
        self.token = None


__all__ = [
    "Asked",
    "AsyncResidentClient",
    "Authorization",
    "Catalogue",
    "Category",
    "Ceremony",
    "ConnectionCode",
    "Download",
    "FileInfo",
    "Grant",
    "HistoryEntry",
    "Label",
    "Mandate",
    "MandateOffer",
    "MandateStep",
    "Me",
    "Passkey",
    "People",
    "Procedure",
    "Provenance",
    "Record",
    "RecordType",
    "ResidentClient",
    "Session",
    "Signature",
    "SignedIn",
    "Version",
]
