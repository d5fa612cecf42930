"""The auditor's side of the vault: `AuditorClient` (blocking) and `AsyncAuditorClient`.

Both cover the public verifiable log (`/v1/audit/...`: the key, checkpoints, inclusion and
consistency proofs) and the auditor API (`/v1/auditor/...`: passkey enrolment and sign-in,
the log's entries filtered and paged, exports streamed to a file), see docs/auditors.md.

Signing in. An auditor signs in with a passkey, as a resident does: `begin_sign_in()` gives
the WebAuthn options, the authenticator's `PublicKeyCredential` JSON goes to
`finish_sign_in(...)` untouched, and the session token (`rga_...`) is kept on the client.
The ceremony needs an authenticator (a browser, a security key); an auditor who signed in
elsewhere passes that session's token: `AuditorClient(url, token="rga_...")`.

Verifying offline. Nothing the vault serves is taken on its word: `verify_inclusion`,
`verify_consistency` and `verify_export` check what they fetched (or were given) against
the log's key that the auditor *pinned* (from the operator's publication, not from the
vault at the time of checking; `key()` is for a first look). The checks are the vault's own
pure verifiers, `keys.note` (signed checkpoints), `vault.audit.merkle` (RFC 9162 proofs)
and `vault.audit.verify` (exports): as `clients/app/proof.py`, this is the one place the SDK
borrows from the vault, so an auditor runs the very code the operator's tests attack. They
do no I/O. A failure raises `LogInvalid`, naming the first entry concerned where there is one.

The two clients share everything but the waiting: each API call is described once, as a
`_Call`, as in `clients.sdk.resident`.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

import anyio
import httpx

from clients.sdk._errors import AuthError, LogInvalid, ProtocolError
from clients.sdk._http import DEFAULT_TIMEOUT, AsyncHttp, SyncHttp
from clients.sdk.resident import Ceremony, LogKey, _Call, _dict, _json, _time
from keys.errors import NoteError
from keys.note import Checkpoint as NoteCheckpoint
from keys.note import Verifier, open_checkpoint
from vault.audit import leaf, merkle
from vault.audit.verify import ExportInvalid, Verified
from vault.audit.verify import verify_export as _verify_export_lines
from vault.errors import ProofError

T = TypeVar("T")

__all__ = [
    "AsyncAuditorClient",
    "AuditorClient",
    "AuditorSession",
    "Checkpoint",
    "ConsistencyProof",
    "EventPage",
    "InclusionProof",
    "LoggedEntry",
    "Verified",
    "verify_consistency",
    "verify_export",
    "verify_inclusion",
]

ExportFormat = Literal["jsonl", "csv"]

# -- what the API answers, typed ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AuditorSession:
    session_token: str
    expires_at: datetime

    @classmethod
    def of(cls, d: dict[str, Any]) -> AuditorSession:
        return cls(str(d["session_token"]), _time(d["expires_at"]))

    def __repr__(self) -> str:  # never print a token by accident
        return f"AuditorSession(expires_at={self.expires_at!r})"


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A signed checkpoint as served: `size` and `root_hash` (base64) are read from the note
    unverified; `verified(key)` checks the signature."""

    size: int
    root_hash: str
    note: str  # the signed note (C2SP tlog-checkpoint)

    @classmethod
    def of(cls, d: dict[str, Any]) -> Checkpoint:
        return cls(int(d["size"]), str(d["root_hash"]), str(d["checkpoint"]))

    @classmethod
    def from_note(cls, note: str) -> Checkpoint:
        try:
            body = NoteCheckpoint.parse(note.split("\n\n", 1)[0] + "\n")
        except (NoteError, ValueError) as e:
            raise ProtocolError("the vault served something that is not a checkpoint") from e
        return cls(body.size, base64.b64encode(body.root_hash).decode(), note)

    def verified(self, key: LogKey) -> NoteCheckpoint:
        """The checkpoint, when its signature verifies under `key` and it is that log's and
        of the size it claims; else `LogInvalid`."""
        try:
            verifier = Verifier.parse(key.verifier_key)
            if verifier.name != key.origin:
                raise LogInvalid("the key is not the log's: its name is not the origin")
            opened = open_checkpoint(self.note.encode(), verifier, key.origin)
        except NoteError as e:
            raise LogInvalid(f"the checkpoint does not verify under the pinned key: {e}") from e
        if opened.size != self.size or base64.b64encode(opened.root_hash).decode() != (
            self.root_hash
        ):
            raise LogInvalid("the checkpoint says another size or root than was served with it")
        return opened


@dataclass(frozen=True, slots=True)
class InclusionProof:
    index: int
    size: int
    leaf_hash: str
    hashes: tuple[str, ...]
    checkpoint: Checkpoint

    @classmethod
    def of(cls, d: dict[str, Any]) -> InclusionProof:
        return cls(
            int(d["index"]),
            int(d["size"]),
            str(d["leaf_hash"]),
            tuple(str(h) for h in d["hashes"]),
            Checkpoint.from_note(str(d["checkpoint"])),
        )


@dataclass(frozen=True, slots=True)
class ConsistencyProof:
    old_size: int
    new_size: int
    hashes: tuple[str, ...]
    checkpoint: Checkpoint  # the newer one

    @classmethod
    def of(cls, d: dict[str, Any]) -> ConsistencyProof:
        return cls(
            int(d["old_size"]),
            int(d["new_size"]),
            tuple(str(h) for h in d["hashes"]),
            Checkpoint.from_note(str(d["checkpoint"])),
        )


@dataclass(frozen=True, slots=True)
class LoggedEntry:
    """One entry of the log (metadata only, docs/audit-format.md) with the tree's leaf hash."""

    index: int
    leaf_hash: str
    entry: dict[str, str | None]

    @classmethod
    def of(cls, d: dict[str, Any]) -> LoggedEntry:
        entry = _dict(d["entry"])
        return cls(
            int(d["index"]),
            str(d["leaf_hash"]),
            {str(k): None if v is None else str(v) for k, v in entry.items()},
        )


@dataclass(frozen=True, slots=True)
class EventPage:
    checkpoint: Checkpoint  # the checkpoint this page is read in
    events: tuple[LoggedEntry, ...]
    next_after: int | None  # give as `after` (with `size=checkpoint.size`); None: no more

    @classmethod
    def of(cls, d: dict[str, Any]) -> EventPage:
        nxt = d.get("next_after")
        return cls(
            Checkpoint.of(_dict(d["checkpoint"])),
            tuple(LoggedEntry.of(_dict(e)) for e in d["events"]),
            None if nxt is None else int(nxt),
        )


# -- verifying, offline (pure: no I/O) ------------------------------------------------------


def _hash(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as e:
        raise LogInvalid(f"{what} is not base64") from e
    if len(raw) != merkle.HASH_SIZE:
        raise LogInvalid(f"{what} is not a 32-byte hash")
    return raw


def verify_inclusion(
    proof: InclusionProof, key: LogKey, *, entry: Mapping[str, str | None] | None = None
) -> NoteCheckpoint:
    """Check that `proof` shows its leaf at its index of the checkpoint it names, signed by
    `key`; with `entry`, also that the leaf is that entry's (its canonical hash). Returns the
    verified checkpoint; raises `LogInvalid`."""
    opened = proof.checkpoint.verified(key)
    if opened.size != proof.size:
        raise LogInvalid("the proof is against a checkpoint of another size", index=proof.index)
    leaf_hash = _hash(proof.leaf_hash, "the leaf hash")
    if entry is not None:
        try:
            own = leaf.leaf_hash(dict(entry))
        except ValueError as e:
            raise LogInvalid(f"not a valid entry: {e}", index=proof.index) from e
        if own != leaf_hash:
            raise LogInvalid("the entry differs from what was logged", index=proof.index)
    hashes = [_hash(h, "a proof hash") for h in proof.hashes]
    try:
        merkle.verify_inclusion(leaf_hash, proof.index, proof.size, hashes, opened.root_hash)
    except ProofError as e:
        raise LogInvalid(
            f"the entry is not in the checkpoint's tree: {e.detail}", index=proof.index
        ) from e
    return opened


def verify_consistency(
    old: Checkpoint, proof: ConsistencyProof, key: LogKey
) -> tuple[NoteCheckpoint, NoteCheckpoint]:
    """Check that the checkpoint in `proof` extends `old` (no entry of `old` changed, moved
    or dropped), both signed by `key`. Returns both verified; raises `LogInvalid`."""
    old_opened = old.verified(key)
    new_opened = proof.checkpoint.verified(key)
    if (old_opened.size, new_opened.size) != (proof.old_size, proof.new_size):
        raise LogInvalid("the proof is between checkpoints of other sizes")
    hashes = [_hash(h, "a proof hash") for h in proof.hashes]
    try:
        merkle.verify_consistency(
            old_opened.size, new_opened.size, old_opened.root_hash, new_opened.root_hash, hashes
        )
    except ProofError as e:
        raise LogInvalid(f"the newer checkpoint does not extend the older: {e.detail}") from e
    return old_opened, new_opened


def verify_export(path: str | os.PathLike[str], checkpoint: Checkpoint, key: LogKey) -> Verified:
    """Verify a JSON Lines export (docs/audit-format.md) against `checkpoint` under `key`:
    no entry changed, reordered or missing, and the entries build the checkpoint's root (a
    complete export) or each prove their place in it (an excerpt). Raises `LogInvalid`."""
    checkpoint.verified(key)
    try:
        with Path(path).open(encoding="utf-8") as lines:
            return _verify_export_lines(
                lines, checkpoint=checkpoint.note.encode(), verifier_key=key.verifier_key
            )
    except ExportInvalid as e:
        raise LogInvalid(e.detail, index=e.index) from e
    except (OSError, UnicodeDecodeError) as e:
        raise LogInvalid(f"the export cannot be read ({type(e).__name__})") from e


# -- calls, described once --------------------------------------------------------------------


def _checkpoint_note(response: httpx.Response) -> Checkpoint:
    return Checkpoint.from_note(response.text)


def _filters(
    since: datetime | None,
    until: datetime | None,
    service_id: str | None,
    purpose: str | None,
    outcome: str | None,
    subject: str | None,
    actor: str | None,
    size: int | None,
) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if since is not None:
        params["since"] = since.isoformat()
    if until is not None:
        params["until"] = until.isoformat()
    for name, value in (
        ("service", service_id),
        ("purpose", purpose),
        ("outcome", outcome),
        ("subject", subject),
        ("actor", actor),
    ):
        if value is not None:
            params[name] = str(value)
    if size is not None:
        params["size"] = int(size)
    return params


class _Calls:
    """Every auditor call, described; shared by both clients."""

    @staticmethod
    def begin_enrolment(code: str) -> _Call[Ceremony]:
        return _Call(
            "POST",
            "/v1/auditor/enrol/options",
            _json(Ceremony.of),
            json={"code": code},
            authenticated=False,
        )

    @staticmethod
    def finish_enrolment(
        flow_id: str, code: str, credential: Mapping[str, Any]
    ) -> _Call[AuditorSession]:
        return _Call(
            "POST",
            "/v1/auditor/enrol/verify",
            _json(AuditorSession.of),
            json={"flow_id": flow_id, "code": code, "credential": dict(credential)},
            authenticated=False,
        )

    @staticmethod
    def begin_sign_in() -> _Call[Ceremony]:
        return _Call(
            "POST", "/v1/auditor/auth/login/options", _json(Ceremony.of), authenticated=False
        )

    @staticmethod
    def finish_sign_in(flow_id: str, credential: Mapping[str, Any]) -> _Call[AuditorSession]:
        return _Call(
            "POST",
            "/v1/auditor/auth/login/verify",
            _json(AuditorSession.of),
            json={"flow_id": flow_id, "credential": dict(credential)},
            authenticated=False,
        )

    @staticmethod
    def sign_out() -> _Call[None]:
        return _Call("POST", "/v1/auditor/auth/sign-out", lambda _: None)

    @staticmethod
    def key() -> _Call[LogKey]:
        return _Call("GET", "/v1/audit/key", _json(LogKey.of), authenticated=False)

    @staticmethod
    def checkpoint(size: int | None) -> _Call[Checkpoint]:
        params = {"size": int(size)} if size is not None else None
        return _Call(
            "GET", "/v1/audit/checkpoint", _checkpoint_note, params=params, authenticated=False
        )

    @staticmethod
    def checkpoints(after: int, limit: int) -> _Call[list[Checkpoint]]:
        return _Call(
            "GET",
            "/v1/audit/checkpoints",
            _json(lambda d: [Checkpoint.of(_dict(c)) for c in d["checkpoints"]]),
            params={"after": int(after), "limit": int(limit)},
            authenticated=False,
        )

    @staticmethod
    def inclusion(index: int, size: int | None) -> _Call[InclusionProof]:
        params: dict[str, Any] = {"index": int(index)}
        if size is not None:
            params["size"] = int(size)
        return _Call(
            "GET",
            "/v1/audit/proof/inclusion",
            _json(InclusionProof.of),
            params=params,
            authenticated=False,
        )

    @staticmethod
    def consistency(old: int, new: int | None) -> _Call[ConsistencyProof]:
        params: dict[str, Any] = {"old": int(old)}
        if new is not None:
            params["new"] = int(new)
        return _Call(
            "GET",
            "/v1/audit/proof/consistency",
            _json(ConsistencyProof.of),
            params=params,
            authenticated=False,
        )

    @staticmethod
    def events(params: dict[str, Any]) -> _Call[EventPage]:
        return _Call("GET", "/v1/auditor/events", _json(EventPage.of), params=params)


class _Base:
    token: str | None
    pinned: LogKey | None

    def _auth(self, call: _Call[Any]) -> dict[str, Any]:
        kw = call.kwargs()
        if call.authenticated:
            kw["headers"] = self._headers()
        return kw

    def _headers(self) -> dict[str, str]:
        if not self.token:
            raise AuthError("not signed in: sign in first, or give the client a session token")
        return {"Authorization": f"Bearer {self.token}"}

    def _key(self, key: LogKey | None) -> LogKey:
        chosen = key or self.pinned
        if chosen is None:
            raise ValueError("pin the log's key (key=LogKey(...)) to verify against")
        return chosen

    @staticmethod
    def _events_params(after: int, limit: int, filters: dict[str, Any]) -> dict[str, Any]:
        return {**filters, "after": int(after), "limit": int(limit)}

    def __repr__(self) -> str:
        state = "signed in" if self.token else "signed out"
        return f"{type(self).__name__}({state})"


def _export_path(fmt: ExportFormat) -> str:
    if fmt not in ("jsonl", "csv"):
        raise ValueError(f"no export format {fmt!r}: jsonl or csv")
    return f"/v1/auditor/export/{fmt}"


class AuditorClient(_Base):
    """A blocking client for one auditor's session and the public log.

    `AuditorClient("https://vault.example.nl", token="rga_...", key=pinned_key)`.
    """

    def __init__(
        self,
        base_url: str | None = None,
        *,
        http: SyncHttp | None = None,
        token: str | None = None,
        key: LogKey | None = None,
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
        self.pinned = key

    def _run(self, call: _Call[T]) -> T:
        return call.read(self.http.request(call.method, call.path, **self._auth(call)))

    def _session(self, call: _Call[AuditorSession]) -> AuditorSession:
        session = self._run(call)
        self.token = session.session_token
        return session

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> AuditorClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # enrolment and sign-in: pass the authenticator's PublicKeyCredential JSON through
    def begin_enrolment(self, code: str) -> Ceremony:
        return self._run(_Calls.begin_enrolment(code))

    def finish_enrolment(
        self, flow_id: str, code: str, credential: Mapping[str, Any]
    ) -> AuditorSession:
        return self._session(_Calls.finish_enrolment(flow_id, code, credential))

    def begin_sign_in(self) -> Ceremony:
        return self._run(_Calls.begin_sign_in())

    def finish_sign_in(self, flow_id: str, credential: Mapping[str, Any]) -> AuditorSession:
        return self._session(_Calls.finish_sign_in(flow_id, credential))

    def sign_out(self) -> None:
        self._run(_Calls.sign_out())
        self.token = None

    # the public log
    def key(self) -> LogKey:
        """The key the vault says is the log's: pin it from the operator's publication."""
        return self._run(_Calls.key())

    def checkpoint(self, size: int | None = None) -> Checkpoint:
        return self._run(_Calls.checkpoint(size))

    def checkpoints(self, *, after: int = -1, limit: int = 100) -> list[Checkpoint]:
        """The checkpoint history, oldest first (sizes greater than `after`)."""
        return self._run(_Calls.checkpoints(after, limit))

    def inclusion_proof(self, index: int, size: int | None = None) -> InclusionProof:
        return self._run(_Calls.inclusion(index, size))

    def verify_inclusion(
        self,
        index: int,
        size: int | None = None,
        *,
        entry: Mapping[str, str | None] | None = None,
        key: LogKey | None = None,
    ) -> NoteCheckpoint:
        """Fetch the inclusion proof of entry `index` and check it under the pinned key."""
        return verify_inclusion(self.inclusion_proof(index, size), self._key(key), entry=entry)

    def consistency_proof(self, old: int, new: int | None = None) -> ConsistencyProof:
        return self._run(_Calls.consistency(old, new))

    def verify_consistency(
        self, old: Checkpoint, new: Checkpoint | None = None, *, key: LogKey | None = None
    ) -> tuple[NoteCheckpoint, NoteCheckpoint]:
        """Fetch the proof that `new` (default: the latest) extends `old`, and check it."""
        proof = self.consistency_proof(old.size, None if new is None else new.size)
        if new is not None and proof.checkpoint.note != new.note:
            raise LogInvalid("the proof is against another checkpoint than the one given")
        return verify_consistency(old, proof, self._key(key))

    # the auditor API (signed in)
    def events(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        service_id: str | None = None,
        purpose: str | None = None,
        outcome: str | None = None,
        subject: str | None = None,
        actor: str | None = None,
        after: int = -1,
        limit: int = 100,
        size: int | None = None,
    ) -> EventPage:
        """One page of entries matching the filters; logged as the auditor's query."""
        filters = _filters(since, until, service_id, purpose, outcome, subject, actor, size)
        return self._run(_Calls.events(self._events_params(after, limit, filters)))

    def export(
        self,
        path: str | os.PathLike[str],
        *,
        format: ExportFormat = "jsonl",
        since: datetime | None = None,
        until: datetime | None = None,
        service_id: str | None = None,
        purpose: str | None = None,
        outcome: str | None = None,
        subject: str | None = None,
        actor: str | None = None,
        size: int | None = None,
    ) -> Path:
        """Stream an export to `path` (never whole in memory); logged. A failed download
        leaves no file behind. JSON Lines is for `verify_export`, CSV for reading."""
        target = Path(path)
        params = _filters(since, until, service_id, purpose, outcome, subject, actor, size)
        try:
            with (
                self.http.stream(
                    "GET", _export_path(format), params=params, headers=self._headers()
                ) as response,
                target.open("wb") as out,
            ):
                for chunk in response.iter_bytes():
                    out.write(chunk)
        except BaseException:
            with contextlib.suppress(OSError):
                target.unlink()
            raise
        return target

    def verify_export(
        self,
        path: str | os.PathLike[str],
        checkpoint: Checkpoint,
        key: LogKey | None = None,
    ) -> Verified:
        """Verify an export offline (no network) against `checkpoint` and the pinned key."""
        return verify_export(path, checkpoint, self._key(key))


class AsyncAuditorClient(_Base):
    """The non-blocking twin of `AuditorClient`: the same methods, awaited."""

    def __init__(
        self,
        base_url: str | None = None,
        *,
        http: AsyncHttp | None = None,
        token: str | None = None,
        key: LogKey | None = None,
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
        self.pinned = key

    async def _run(self, call: _Call[T]) -> T:
        return call.read(await self.http.request(call.method, call.path, **self._auth(call)))

    async def _session(self, call: _Call[AuditorSession]) -> AuditorSession:
        session = await self._run(call)
        self.token = session.session_token
        return session

    async def aclose(self) -> None:
        await self.http.aclose()

    async def __aenter__(self) -> AsyncAuditorClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def begin_enrolment(self, code: str) -> Ceremony:
        return await self._run(_Calls.begin_enrolment(code))

    async def finish_enrolment(
        self, flow_id: str, code: str, credential: Mapping[str, Any]
    ) -> AuditorSession:
        return await self._session(_Calls.finish_enrolment(flow_id, code, credential))

    async def begin_sign_in(self) -> Ceremony:
        return await self._run(_Calls.begin_sign_in())

    async def finish_sign_in(self, flow_id: str, credential: Mapping[str, Any]) -> AuditorSession:
        return await self._session(_Calls.finish_sign_in(flow_id, credential))

    async def sign_out(self) -> None:
        await self._run(_Calls.sign_out())
        self.token = None

    async def key(self) -> LogKey:
        return await self._run(_Calls.key())

    async def checkpoint(self, size: int | None = None) -> Checkpoint:
        return await self._run(_Calls.checkpoint(size))

    async def checkpoints(self, *, after: int = -1, limit: int = 100) -> list[Checkpoint]:
        return await self._run(_Calls.checkpoints(after, limit))

    async def inclusion_proof(self, index: int, size: int | None = None) -> InclusionProof:
        return await self._run(_Calls.inclusion(index, size))

    async def verify_inclusion(
        self,
        index: int,
        size: int | None = None,
        *,
        entry: Mapping[str, str | None] | None = None,
        key: LogKey | None = None,
    ) -> NoteCheckpoint:
        proof = await self.inclusion_proof(index, size)
        return verify_inclusion(proof, self._key(key), entry=entry)

    async def consistency_proof(self, old: int, new: int | None = None) -> ConsistencyProof:
        return await self._run(_Calls.consistency(old, new))

    async def verify_consistency(
        self, old: Checkpoint, new: Checkpoint | None = None, *, key: LogKey | None = None
    ) -> tuple[NoteCheckpoint, NoteCheckpoint]:
        proof = await self.consistency_proof(old.size, None if new is None else new.size)
        if new is not None and proof.checkpoint.note != new.note:
            raise LogInvalid("the proof is against another checkpoint than the one given")
        return verify_consistency(old, proof, self._key(key))

    async def events(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        service_id: str | None = None,
        purpose: str | None = None,
        outcome: str | None = None,
        subject: str | None = None,
        actor: str | None = None,
        after: int = -1,
        limit: int = 100,
        size: int | None = None,
    ) -> EventPage:
        filters = _filters(since, until, service_id, purpose, outcome, subject, actor, size)
        return await self._run(_Calls.events(self._events_params(after, limit, filters)))

    async def export(
        self,
        path: str | os.PathLike[str],
        *,
        format: ExportFormat = "jsonl",
        since: datetime | None = None,
        until: datetime | None = None,
        service_id: str | None = None,
        purpose: str | None = None,
        outcome: str | None = None,
        subject: str | None = None,
        actor: str | None = None,
        size: int | None = None,
    ) -> Path:
        target = Path(path)
        params = _filters(since, until, service_id, purpose, outcome, subject, actor, size)
        try:
            async with (
                self.http.stream(
                    "GET", _export_path(format), params=params, headers=self._headers()
                ) as response,
                await anyio.open_file(target, "wb") as out,
            ):
                async for chunk in response.aiter_bytes():
                    await out.write(chunk)
        except BaseException:
            with contextlib.suppress(OSError):
                target.unlink()
            raise
        return target

    @asynccontextmanager
    async def export_stream(
        self,
        *,
        format: ExportFormat = "jsonl",
        since: datetime | None = None,
        until: datetime | None = None,
        service_id: str | None = None,
        purpose: str | None = None,
        outcome: str | None = None,
        subject: str | None = None,
        actor: str | None = None,
        size: int | None = None,
    ) -> AsyncIterator[tuple[int | None, AsyncIterator[bytes]]]:
        """`async with client.export_stream(format="csv") as (size, chunks):` the export as
        it arrives, for passing on (the auditor web pages); logged like `export`. `size` is
        the checkpoint a CSV was read in (`Regie-Checkpoint-Size`); a JSONL export carries
        its checkpoint in its first line (None here)."""
        params = _filters(since, until, service_id, purpose, outcome, subject, actor, size)
        async with self.http.stream(
            "GET", _export_path(format), params=params, headers=self._headers()
        ) as response:
            read_in = response.headers.get("regie-checkpoint-size")
            yield (int(read_in) if read_in and read_in.isdigit() else None), response.aiter_bytes()

    async def verify_export(
        self,
        path: str | os.PathLike[str],
        checkpoint: Checkpoint,
        key: LogKey | None = None,
    ) -> Verified:
        """As `AuditorClient.verify_export`, in a worker thread (it reads the whole file)."""
        chosen = self._key(key)
        return await anyio.to_thread.run_sync(verify_export, path, checkpoint, chosen)
