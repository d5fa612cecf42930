"""KEKs kept in a PKCS#11 token (an HSM, or SoftHSM2 in tests).

Every KEK version is one AES-256 secret key that never leaves the token: it is generated
inside it with ``CKA_TOKEN``, ``CKA_PRIVATE`` and ``CKA_SENSITIVE`` true and ``CKA_EXTRACTABLE``,
``CKA_MODIFIABLE`` and ``CKA_COPYABLE`` false, and may only ``CKA_ENCRYPT``/``CKA_DECRYPT``.
Data keys are wrapped by encrypting them inside the token with ``CKM_AES_GCM`` (a random
96-bit IV, a 128-bit tag, the caller's associated data as AAD). Wire format of a wrapped key:
``0x01 ‖ iv (12 bytes) ‖ ciphertext ‖ tag (16 bytes)``, the same layout as `keys.aead`.

What lives in the token, for label prefix ``P`` (default ``regie-kek``) and version ``N``:

* the key: ``CKO_SECRET_KEY``, ``CKA_LABEL = "P-N"``, ``CKA_ID = b"N:<16 hex digits>"`` (the
  version, then a random suffix that ties the key to its "created" marker below);
* markers: small non-secret ``CKO_DATA`` objects with ``CKA_APPLICATION = "regie/kek-marker/v1"``,
  ``CKA_LABEL = "P-N"`` and as ``CKA_VALUE`` a JSON document
  ``{"format": 1, "version": N, "event": "created" | "superseded" | "retired", "at": <ISO 8601
  UTC>, "key_id": <CKA_ID of the key, "created" only>}``.

Markers are written once and never changed (only the label of a "created" marker changes, see
below), so two processes can record events at the same time without losing each other's
updates; when an event was recorded twice the earliest time counts. ``CKA_START_DATE`` and
``CKA_END_DATE`` are not used: they hold days, not instants. ``KekInfo.created_at``,
``superseded_at`` and ``retired_at`` come from the markers. A version is active while it has a
"created" marker and no "retired" one; the highest active version is current. Retiring
destroys the key object first and then records the "retired" marker, so retired versions stay
listed by `versions()` and their numbers are never used again. `versions()` also reports a
version whose key object has disappeared as retired.

Creating a version is guarded against other processes creating the same number: the
"created" marker is first stored as ``"P-N.pending"``; the creator then lists the markers again
and, if anyone else claimed ``N`` meanwhile, removes its own claim and tries a higher number
after a short random pause. Only the sole claimant generates the key and renames its marker to
``"P-N"``, which is what makes the version exist. At most one claim per number can win (the
later of two claimants always sees the earlier one). A claim left behind by a crashed process
is ignored, but its number is skipped.

That argument needs a token whose searches see every object stored before them, which an HSM
is but SoftHSM2 is not: a SoftHSM2 process re-reads the token directory only when the token's
generation counter differs from the one it last wrote, so its own write can hide another
process's object written just before (two processes then both "win" a number; the tests found
this). SoftHSM2 also rewrites its token file on login, which can make another process that
reads it at that moment fail or miss the token. So creating and retiring versions and opening
sessions also hold an exclusive `flock` on a lock file named after module and token (in
`lock_dir`, default the system temporary directory): processes on one host take turns, and each
lists the token before it writes, which makes SoftHSM2 re-read it. Between hosts (a network
HSM) the claim protocol does the work.

Threads: python-pkcs11 initialises the module with ``C_Initialize(NULL)``, under which SoftHSM2
uses no locks of its own, so every call into a module goes through one `threading.Lock`. The
lock belongs to the module path rather than to a backend instance, because all backends of the
process share the module's state. Each backend opens one session and reuses it; when the
session is lost (closed, device removed, logged out, module finalised) it opens a new one and
tries once more before raising `KeyBackendUnavailable`.

Login: PKCS#11 login state belongs to the process, not to a session, and python-pkcs11 logs
the whole process out when a logged-in session is closed. All backends of one process on the
same module and token therefore share one logged-in session (kept until the last of them
closes) and do their work in their own public sessions. A rejected PIN is never retried by
the same backend instance, so a misconfiguration cannot lock the token's user PIN.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import re
import secrets
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar, cast

import pkcs11
from pkcs11 import Attribute, GCMParams, KeyType, Mechanism, ObjectClass
from pkcs11.exceptions import (
    AttributeTypeInvalid,
    DeviceError,
    DeviceRemoved,
    KeyHandleInvalid,
    MultipleTokensReturned,
    NoSuchToken,
    ObjectHandleInvalid,
    PinExpired,
    PinIncorrect,
    PinInvalid,
    PinLenRange,
    PinLocked,
    PKCS11Error,
    SessionClosed,
    SessionHandleInvalid,
    TokenNotPresent,
    TokenNotRecognised,
    UserAlreadyLoggedIn,
    UserNotLoggedIn,
    UserPinNotInitialized,
)

from keys.errors import (
    DecryptionError,
    KeyBackendUnavailable,
    KeyRetirementRefused,
    UnknownKeyVersion,
)
from keys.interfaces import KekInfo

if sys.platform != "win32":
    import fcntl

FORMAT_V1 = b"\x01"
IV_BYTES = 12
TAG_BITS = 128
KEY_BYTES = 32
WRAPPED_BYTES = len(FORMAT_V1) + IV_BYTES + KEY_BYTES + TAG_BITS // 8

MARKER_APPLICATION = "regie/kek-marker/v1"
_PENDING = ".pending"
_VERSION_RE = re.compile(r"[1-9][0-9]{0,9}")
_CREATE_ATTEMPTS = 8
_FIND_ATTEMPTS = 5
_PROBE_LABEL = "regie-kek-login-probe"

Event = Literal["created", "superseded", "retired"]
_EVENTS: frozenset[str] = frozenset({"created", "superseded", "retired"})

# Errors that mean the session (or the login, or the device) is gone rather than that the
# operation was refused: the backend drops its session, opens a new one and tries once more.
_LOST_ERRORS: tuple[type[PKCS11Error], ...] = (
    SessionHandleInvalid,
    SessionClosed,
    DeviceRemoved,
    DeviceError,
    TokenNotPresent,
    TokenNotRecognised,
    UserNotLoggedIn,
)
# A key object that was destroyed (e.g. retired by another process) after we looked it up.
_STALE_HANDLE_ERRORS: tuple[type[PKCS11Error], ...] = (KeyHandleInvalid, ObjectHandleInvalid)

T = TypeVar("T")


class _AesKey(Protocol):
    """The part of python-pkcs11's (dynamically mixed-in) secret key API that is used here."""

    def encrypt(self, data: bytes, buffer_size: int = ..., **kwargs: Any) -> Any: ...

    def decrypt(self, data: bytes, buffer_size: int = ..., **kwargs: Any) -> Any: ...

    def destroy(self) -> None: ...


def _is_lost(error: PKCS11Error) -> bool:
    # python-pkcs11 raises a bare PKCS11Error for CKR_CRYPTOKI_NOT_INITIALIZED (someone finalised
    # the library under us): reopening initialises it again.
    return isinstance(error, _LOST_ERRORS) or type(error) is PKCS11Error


def _describe(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _now() -> datetime:
    return datetime.now(UTC)


def _earliest(current: datetime | None, candidate: datetime) -> datetime:
    return candidate if current is None or candidate < current else current


# --- process-wide state shared by every backend on the same module --------------------------

# python-pkcs11 initialises the module with C_Initialize(NULL), which tells it that the
# application will not call it from several threads at once; SoftHSM2 then runs without its
# own mutexes. So every use of a module goes through one lock. It is shared by all backends
# on the same module (the library state is per process, not per backend instance).
_REGISTRY_LOCK = threading.Lock()
_MODULE_LOCKS: dict[str, threading.Lock] = {}


def _module_lock(module_path: str) -> threading.Lock:
    with _REGISTRY_LOCK:
        return _MODULE_LOCKS.setdefault(module_path, threading.Lock())


@dataclass(slots=True)
class _Login:
    """The logged-in session of one token, shared by the backends of this process."""

    session: pkcs11.Session
    pin: str
    users: int = 0


_LOGINS: dict[tuple[str, str], _Login] = {}


def _probe_login(session: pkcs11.Session) -> None:
    """Raise if the session is gone or the process is not logged in any more.

    Searching a logged-out token silently hides private objects; creating a private session
    object fails loudly (CKR_USER_NOT_LOGGED_IN) instead, so that is what is tried here.
    """
    probe = session.create_object(
        {
            Attribute.CLASS: ObjectClass.DATA,
            Attribute.TOKEN: False,
            Attribute.PRIVATE: True,
            Attribute.LABEL: _PROBE_LABEL,
        }
    )
    probe.destroy()


def _close_quietly(session: pkcs11.Session | None) -> None:
    if session is None:
        return
    with contextlib.suppress(PKCS11Error):  # the session is gone already
        session.close()


# --- markers ------------------------------------------------------------------------------


@dataclass(slots=True)
class _Marker:
    obj: pkcs11.Object
    version: int
    event: Event
    at: datetime
    pending: bool
    key_id: bytes | None


@dataclass(slots=True)
class _Version:
    version: int
    created_at: datetime
    key_id: bytes
    superseded_at: datetime | None = None
    retired_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.retired_at is None


@dataclass(slots=True)
class _Scan:
    versions: dict[int, _Version] = field(default_factory=dict)
    # The highest number anyone ever claimed (pending claims included): never reused.
    highest: int = 0

    def active(self) -> list[int]:
        return sorted(v for v, info in self.versions.items() if info.active)


class Pkcs11KekBackend:
    """AES-256-GCM key wrapping inside a PKCS#11 token, one non-extractable key per version."""

    name = "pkcs11"

    def __init__(
        self,
        *,
        module_path: str,
        token_label: str,
        pin: str,
        label_prefix: str = "regie-kek",
        lock_dir: str | None = None,
    ) -> None:
        if not label_prefix or _PENDING in label_prefix:
            raise ValueError("label_prefix must be non-empty and must not contain '.pending'")
        self._module_path = module_path
        self._token_label = token_label
        self._pin = pin
        self._prefix = label_prefix
        self._lock = _module_lock(module_path)
        digest = hashlib.sha256(f"{module_path}\0{token_label}".encode()).hexdigest()
        self._lock_path = Path(lock_dir or tempfile.gettempdir()) / f"regie-kek-{digest[:24]}.lock"
        self._session: pkcs11.Session | None = None
        self._holds_login = False
        self._pin_rejected = False
        self._closed = False
        # Key objects of the current session, by version (saves a search per wrap/unwrap).
        self._keys: dict[int, _AesKey] = {}

    def __repr__(self) -> str:  # never show the PIN
        return (
            f"Pkcs11KekBackend(module_path={self._module_path!r}, "
            f"token_label={self._token_label!r}, label_prefix={self._prefix!r})"
        )

    def __enter__(self) -> Pkcs11KekBackend:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- KekBackend ---------------------------------------------------------------------

    def current_version(self) -> int:
        def op(session: pkcs11.Session) -> int:
            active = self._scan(session).active()
            if active:
                return active[-1]
            self._create(session, only_if_none=True)
            # Another process may have made a version at the same time: use the highest.
            active = self._scan(session).active()
            if not active:
                raise KeyBackendUnavailable("no KEK version is active after creating one")
            return active[-1]

        return self._run("current_version", op)

    def wrap(self, version: int, data_key: bytes, associated_data: bytes) -> bytes:
        if len(data_key) != KEY_BYTES:
            raise ValueError("a data key is 32 bytes")
        if not associated_data:
            raise ValueError("associated data is required")
        iv = os.urandom(IV_BYTES)
        params = GCMParams(iv, associated_data, TAG_BITS)

        def use(key: _AesKey) -> bytes:
            sealed = key.encrypt(data_key, mechanism=Mechanism.AES_GCM, mechanism_param=params)
            if not isinstance(sealed, bytes) or len(sealed) != KEY_BYTES + TAG_BITS // 8:
                raise KeyBackendUnavailable("the token returned a malformed AES-GCM ciphertext")
            return FORMAT_V1 + iv + sealed

        return self._run("wrap", lambda session: self._with_key(session, version, use))

    def unwrap(self, version: int, wrapped: bytes, associated_data: bytes) -> bytes:
        if len(wrapped) != WRAPPED_BYTES or wrapped[:1] != FORMAT_V1 or not associated_data:
            raise DecryptionError
        iv = wrapped[1 : 1 + IV_BYTES]
        params = GCMParams(iv, associated_data, TAG_BITS)

        def use(key: _AesKey) -> bytes:
            try:
                opened = key.decrypt(
                    wrapped[1 + IV_BYTES :], mechanism=Mechanism.AES_GCM, mechanism_param=params
                )
            except PKCS11Error as e:
                if _is_lost(e) or isinstance(e, _STALE_HANDLE_ERRORS):
                    raise
                # Wrong tag (SoftHSM says CKR_GENERAL_ERROR), wrong AAD, tampered bytes: opaque.
                raise DecryptionError from e
            if not isinstance(opened, bytes) or len(opened) != KEY_BYTES:
                raise DecryptionError
            return opened

        return self._run("unwrap", lambda session: self._with_key(session, version, use))

    def create_version(self) -> int:
        return self._run(
            "create_version", lambda session: self._create(session, only_if_none=False)
        )

    def retire(self, version: int) -> None:
        def op(session: pkcs11.Session) -> None:
            with self._host_lock():
                self._retire(session, version)

        self._run("retire", op)

    def versions(self) -> list[KekInfo]:
        def op(session: pkcs11.Session) -> list[KekInfo]:
            scan = self._scan(session)
            if not scan.versions:
                _probe_login(session)
            out: list[KekInfo] = []
            for number in sorted(scan.versions):
                info = scan.versions[number]
                retired = info.retired_at is not None or not self._find_keys(
                    session, number, info.key_id
                )
                out.append(
                    KekInfo(
                        version=number,
                        state="retired" if retired else "active",
                        created_at=info.created_at,
                        superseded_at=info.superseded_at,
                        retired_at=info.retired_at,
                    )
                )
            return out

        return self._run("versions", op)

    def check(self) -> None:
        def op(session: pkcs11.Session) -> None:
            _probe_login(session)
            self._scan(session)

        self._run("check", op)

    def close(self) -> None:
        """Close this backend's session and give up its share of the login. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._drop_session()
            self._release_login()

    # --- sessions -----------------------------------------------------------------------

    def _run(self, what: str, op: Callable[[pkcs11.Session], T]) -> T:
        """Run `op` on the session under the module lock; reopen once if the session is lost."""
        with self._lock:
            if self._closed:
                raise KeyBackendUnavailable("the PKCS#11 KEK backend is closed")
            last: PKCS11Error | None = None
            for _attempt in range(2):
                session = self._session if self._session is not None else self._open()
                try:
                    return op(session)
                except PKCS11Error as e:
                    if not _is_lost(e):
                        raise KeyBackendUnavailable(
                            f"PKCS#11 {what} failed on token {self._token_label!r}: {_describe(e)}"
                        ) from e
                    self._drop_session()
                    last = e
            raise KeyBackendUnavailable(
                f"PKCS#11 session on token {self._token_label!r} lost during {what}"
                f" and again after reopening: {_describe(last) if last else 'unknown'}"
            ) from last

    def _open(self) -> pkcs11.Session:
        if self._pin_rejected:
            raise KeyBackendUnavailable(
                f"token {self._token_label!r} rejected the configured PIN; not trying again "
                "(repeated attempts could lock the PIN)"
            )
        # SoftHSM2 rewrites its token file on login, and a process that reads it meanwhile
        # (initialising, looking for the token, logging in) can fail with CKR_GENERAL_ERROR or
        # not find the token at all; so opening takes turns with the other processes too.
        with self._host_lock():
            return self._open_locked()

    def _open_locked(self) -> pkcs11.Session:
        try:
            lib = pkcs11.lib(self._module_path)
        except (PKCS11Error, OSError) as e:
            raise KeyBackendUnavailable(
                f"cannot load PKCS#11 module {self._module_path!r}: {_describe(e)}"
            ) from e
        try:
            token = lib.get_token(token_label=self._token_label)
        except NoSuchToken as e:
            raise KeyBackendUnavailable(
                f"no PKCS#11 token labelled {self._token_label!r} in {self._module_path!r}"
            ) from e
        except MultipleTokensReturned as e:
            raise KeyBackendUnavailable(
                f"more than one PKCS#11 token is labelled {self._token_label!r}"
            ) from e
        except PKCS11Error as e:
            raise KeyBackendUnavailable(
                f"cannot list the tokens of {self._module_path!r}: {_describe(e)}"
            ) from e
        try:
            if Mechanism.AES_GCM not in token.slot.get_mechanisms():
                raise KeyBackendUnavailable(
                    f"token {self._token_label!r} does not offer CKM_AES_GCM"
                )
            self._ensure_login(token)
            session = token.open(rw=True)
        except PKCS11Error as e:
            raise KeyBackendUnavailable(
                f"cannot open a session on token {self._token_label!r}: {_describe(e)}"
            ) from e
        self._session = session
        self._keys.clear()
        return session

    def _drop_session(self) -> None:
        self._keys.clear()
        session, self._session = self._session, None
        _close_quietly(session)

    def _login_key(self) -> tuple[str, str]:
        return (self._module_path, self._token_label)

    def _ensure_login(self, token: pkcs11.Token) -> None:
        """Make sure the process is logged in to `token`, sharing one login per token."""
        with _REGISTRY_LOCK:
            login = _LOGINS.get(self._login_key())
        if login is not None and not hmac.compare_digest(
            login.pin.encode("utf-8"), self._pin.encode("utf-8")
        ):
            raise KeyBackendUnavailable(
                f"token {self._token_label!r} is already logged in in this process with a "
                "different PIN"
            )
        if login is not None:
            try:
                _probe_login(login.session)
            except PKCS11Error:
                _close_quietly(login.session)
                login.session = self._login(token)
        else:
            login = _Login(session=self._login(token), pin=self._pin)
            with _REGISTRY_LOCK:
                _LOGINS[self._login_key()] = login
        if not self._holds_login:
            login.users += 1
            self._holds_login = True

    def _login(self, token: pkcs11.Token) -> pkcs11.Session:
        try:
            return token.open(rw=True, user_pin=self._pin)
        except (PinIncorrect, PinInvalid, PinLenRange) as e:
            self._pin_rejected = True
            raise KeyBackendUnavailable(
                f"token {self._token_label!r} rejected the PIN ({type(e).__name__})"
            ) from e
        except (PinLocked, PinExpired, UserPinNotInitialized) as e:
            self._pin_rejected = True
            raise KeyBackendUnavailable(
                f"the user PIN of token {self._token_label!r} cannot be used ({type(e).__name__})"
            ) from e
        except UserAlreadyLoggedIn:
            # Something outside this module logged the process in already; its login covers
            # our sessions too. (python-pkcs11 leaves the session it opened for the failed
            # C_Login open; it is released when the module is finalised.)
            return token.open(rw=True)

    def _release_login(self) -> None:
        if not self._holds_login:
            return
        self._holds_login = False
        with _REGISTRY_LOCK:
            login = _LOGINS.get(self._login_key())
            if login is None:
                return
            login.users -= 1
            if login.users > 0:
                return
            del _LOGINS[self._login_key()]
        _close_quietly(login.session)  # logs the process out of the token

    # --- objects ------------------------------------------------------------------------

    def _label(self, version: int) -> str:
        return f"{self._prefix}-{version}"

    def _parse_label(self, label: str) -> tuple[int, bool] | None:
        pending = label.endswith(_PENDING)
        base = label.removesuffix(_PENDING)
        head = f"{self._prefix}-"
        if not base.startswith(head) or not _VERSION_RE.fullmatch(base[len(head) :]):
            return None
        return int(base[len(head) :]), pending

    def _markers(self, session: pkcs11.Session) -> tuple[list[_Marker], int, set[int]]:
        """Every well-formed marker of this prefix, the highest version number claimed, and
        the versions that have a marker which cannot be read (malformed or half-written)."""
        found = _find(
            session, {Attribute.CLASS: ObjectClass.DATA, Attribute.APPLICATION: MARKER_APPLICATION}
        )
        markers: list[_Marker] = []
        highest = 0
        unreadable: set[int] = set()
        for obj in found:
            attrs = _attributes(obj, [Attribute.LABEL, Attribute.VALUE])
            if attrs is None:
                continue
            parsed = self._parse_label(str(attrs[Attribute.LABEL]))
            if parsed is None:
                continue  # another prefix
            version, pending = parsed
            highest = max(highest, version)
            marker = _parse_marker(obj, version, pending, attrs[Attribute.VALUE])
            if marker is not None:
                markers.append(marker)
            else:
                unreadable.add(version)
        return markers, highest, unreadable

    def _scan(self, session: pkcs11.Session) -> _Scan:
        markers, highest, _ = self._markers(session)
        scan = _Scan(highest=highest)
        for m in markers:
            if m.event == "created" and not m.pending and m.key_id is not None:
                if m.version in scan.versions:
                    raise KeyBackendUnavailable(
                        f"token {self._token_label!r} holds two KEKs for version {m.version}"
                        f" ({self._label(m.version)}); repair the token by hand"
                    )
                scan.versions[m.version] = _Version(m.version, m.at, m.key_id)
        for m in markers:
            info = scan.versions.get(m.version)
            if info is None:
                continue
            if m.event == "superseded":
                info.superseded_at = _earliest(info.superseded_at, m.at)
            elif m.event == "retired":
                info.retired_at = _earliest(info.retired_at, m.at)
        return scan

    def _write_marker(
        self,
        session: pkcs11.Session,
        version: int,
        event: Event,
        at: datetime,
        *,
        key_id: bytes | None = None,
        pending: bool = False,
    ) -> pkcs11.Object:
        doc: dict[str, object] = {
            "format": 1,
            "version": version,
            "event": event,
            "at": at.isoformat(),
        }
        if key_id is not None:
            doc["key_id"] = key_id.decode("ascii")
        label = self._label(version) + (_PENDING if pending else "")
        return session.create_object(
            {
                Attribute.CLASS: ObjectClass.DATA,
                Attribute.TOKEN: True,
                Attribute.PRIVATE: True,
                Attribute.LABEL: label,
                Attribute.APPLICATION: MARKER_APPLICATION,
                Attribute.VALUE: json.dumps(doc, sort_keys=True).encode("utf-8"),
            }
        )

    def _find_keys(self, session: pkcs11.Session, version: int, key_id: bytes) -> list[_AesKey]:
        found = _find(
            session,
            {
                Attribute.CLASS: ObjectClass.SECRET_KEY,
                Attribute.LABEL: self._label(version),
                Attribute.ID: key_id,
            },
        )
        return [cast(_AesKey, obj) for obj in found]

    def _key(self, session: pkcs11.Session, version: int) -> _AesKey:
        cached = self._keys.get(version)
        if cached is not None:
            return cached
        info = self._scan(session).versions.get(version)
        keys = (
            []
            if info is None or not info.active
            else self._find_keys(session, version, info.key_id)
        )
        if len(keys) != 1:
            _probe_login(session)  # "unknown" must not be a logged-out token's answer
            raise UnknownKeyVersion(version)
        self._keys[version] = keys[0]
        return keys[0]

    def _with_key(self, session: pkcs11.Session, version: int, use: Callable[[_AesKey], T]) -> T:
        for _attempt in range(2):
            key = self._key(session, version)
            try:
                return use(key)
            except _STALE_HANDLE_ERRORS:
                # Destroyed since we looked it up (retired by another process): look again.
                self._keys.pop(version, None)
        raise UnknownKeyVersion(version)

    def _retire(self, session: pkcs11.Session, version: int) -> None:
        scan = self._scan(session)
        active = scan.active()
        if version not in active:
            _probe_login(session)  # "unknown" must not be a logged-out token's answer
            raise UnknownKeyVersion(version)
        if version == active[-1]:
            raise KeyRetirementRefused("the current KEK cannot be retired; rotate first")
        self._keys.pop(version, None)
        # Destroy the key material first: if we die before the marker is written, the
        # version already reads as retired in `versions()` and cannot unwrap anything.
        for key in self._find_keys(session, version, scan.versions[version].key_id):
            key.destroy()
        self._write_marker(session, version, "retired", _now())

    @contextlib.contextmanager
    def _host_lock(self) -> Iterator[None]:
        """Serialise opening, creating and retiring between the processes of this host."""
        if sys.platform == "win32":  # no flock; HSM tokens are coherent, SoftHSM2 is for tests
            yield
            return
        flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            fd = os.open(self._lock_path, flags, 0o600)
        except OSError as e:
            raise KeyBackendUnavailable(
                f"cannot open the KEK lock file {self._lock_path}: {_describe(e)}"
            ) from e
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock

    def _create(self, session: pkcs11.Session, *, only_if_none: bool) -> int:
        with self._host_lock():
            return self._create_locked(session, only_if_none=only_if_none)

    def _create_locked(self, session: pkcs11.Session, *, only_if_none: bool) -> int:
        # Listing first (in `_scan`) also makes SoftHSM2 re-read the token directory.
        for attempt in range(_CREATE_ATTEMPTS):
            scan = self._scan(session)
            active = scan.active()
            if only_if_none and active:  # another process made the first one meanwhile
                return active[-1]
            version = scan.highest + 1
            key_id = f"{version}:{secrets.token_hex(8)}".encode("ascii")
            now = _now()
            claim = self._write_marker(
                session, version, "created", now, key_id=key_id, pending=True
            )
            markers, _, unreadable = self._markers(session)
            rivals = [
                m
                for m in markers
                if m.version == version and m.event == "created" and m.key_id != key_id
            ]
            if rivals or version in unreadable:  # a claim we cannot read counts as a rival
                # Someone else claimed this number: withdraw and try a higher one, after a
                # short random pause so two claimants do not keep colliding.
                claim.destroy()
                time.sleep((10 + secrets.randbelow(40)) * (attempt + 1) / 1000)
                continue
            try:
                self._generate_key(session, version, key_id)
            except BaseException:
                _destroy_quietly([claim])
                raise
            claim[Attribute.LABEL] = self._label(version)  # the version exists from here on
            self._record_superseded(session, now)
            return version
        raise KeyBackendUnavailable(
            "could not create a KEK version: other processes kept claiming the same number"
        )

    def _generate_key(self, session: pkcs11.Session, version: int, key_id: bytes) -> None:
        template: dict[Attribute, Any] = {
            Attribute.TOKEN: True,
            Attribute.PRIVATE: True,
            Attribute.SENSITIVE: True,
            Attribute.EXTRACTABLE: False,
            Attribute.ENCRYPT: True,
            Attribute.DECRYPT: True,
            Attribute.WRAP: False,
            Attribute.UNWRAP: False,
            Attribute.SIGN: False,
            Attribute.VERIFY: False,
            Attribute.DERIVE: False,
            Attribute.MODIFIABLE: False,
        }
        # PKCS#11 2.40 attributes; tokens that predate them get the key without them.
        optional: dict[Attribute, Any] = {Attribute.COPYABLE: False, Attribute.DESTROYABLE: True}
        for extra in (optional, {}):
            try:
                session.generate_key(
                    KeyType.AES,
                    KEY_BYTES * 8,
                    id=key_id,
                    label=self._label(version),
                    store=True,
                    template={**template, **extra},
                )
                return
            except AttributeTypeInvalid:
                if not extra:
                    raise

    def _record_superseded(self, session: pkcs11.Session, now: datetime) -> None:
        scan = self._scan(session)
        active = scan.active()
        for version in active[:-1]:
            if scan.versions[version].superseded_at is None:
                self._write_marker(session, version, "superseded", now)


def _parse_marker(obj: pkcs11.Object, version: int, pending: bool, raw: object) -> _Marker | None:
    """A marker from its stored JSON, or None when it is not one of ours or is malformed."""
    if not isinstance(raw, bytes):
        return None
    try:
        doc = json.loads(raw.decode("utf-8"))
    except ValueError:
        return None
    if not isinstance(doc, dict) or doc.get("format") != 1 or doc.get("version") != version:
        return None
    event = doc.get("event")
    at_text = doc.get("at")
    if event not in _EVENTS or not isinstance(at_text, str):
        return None
    try:
        at = datetime.fromisoformat(at_text)
    except ValueError:
        return None
    if at.tzinfo is None or (pending and event != "created"):
        return None
    key_id: bytes | None = None
    if event == "created":
        text = doc.get("key_id")
        if not isinstance(text, str) or not text.isascii():
            return None
        key_id = text.encode("ascii")
    return _Marker(obj, version, cast(Event, event), at, pending, key_id)


def _find(session: pkcs11.Session, template: dict[Attribute, Any]) -> list[pkcs11.Object]:
    """The objects matching `template`, searched again if one vanished during the search.

    SoftHSM2 fails C_FindObjects with CKR_OBJECT_HANDLE_INVALID when another process destroys a
    matching object meanwhile (a withdrawn claim, a retired key); a fresh search does not.
    """
    for attempt in range(_FIND_ATTEMPTS):
        try:
            return list(session.get_objects(template))
        except _STALE_HANDLE_ERRORS:
            if attempt == _FIND_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def _attributes(obj: pkcs11.Object, names: list[Attribute]) -> dict[Attribute, Any] | None:
    """The attributes of a found object, or None if another process destroyed it meanwhile."""
    try:
        return obj.get_attributes(names)
    except _STALE_HANDLE_ERRORS:
        return None


def _destroy_quietly(objects: Iterable[pkcs11.Object]) -> None:
    for obj in objects:
        with contextlib.suppress(PKCS11Error):  # best effort while already failing
            obj.destroy()


__all__ = ["MARKER_APPLICATION", "Pkcs11KekBackend"]
