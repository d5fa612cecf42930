"""The PKCS#11 KEK backend against a real token: SoftHSM2, a fresh token for every test.

SoftHSM2 reads ``SOFTHSM2_CONF`` when the module is initialised, and python-pkcs11 keeps one
loaded module per path for the whole process. So every token fixture points
``SOFTHSM2_CONF`` at its own directory and then re-initialises the module (C_Finalize +
C_Initialize), and finalises it again when the test is over.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import pkcs11
import pytest
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11.exceptions import AttributeSensitive, KeyUnextractable, PKCS11Error

from keys import aead
from keys.errors import (
    DecryptionError,
    KeyBackendUnavailable,
    KeyRetirementRefused,
    UnknownKeyVersion,
)
from keys.interfaces import KekBackend
from keys.pkcs11 import MARKER_APPLICATION, Pkcs11KekBackend
from keys.service import Binding, KeyService

pytestmark = pytest.mark.softhsm

MODULE = os.environ.get("REGIE_SOFTHSM_MODULE", "/usr/lib/softhsm/libsofthsm2.so")
PIN = "1234-regie"
SO_PIN = "so-5678-regie"
ROOT = Path(__file__).resolve().parents[2]
AD = aead.encode_associated_data("test", "pkcs11")


def _require_softhsm() -> str:
    util = shutil.which("softhsm2-util")
    missing = [
        name for name, ok in (("softhsm2-util", util), (MODULE, Path(MODULE).exists())) if not ok
    ]
    if missing or util is None:
        message = (
            f"SoftHSM2 is not installed ({', '.join(missing)} missing); `make test` installs it"
        )
        if os.environ.get("CI") or os.environ.get("REGIE_TEST_SOFTHSM") == "required":
            pytest.fail(message)
        pytest.skip(message)
    return util


@dataclass(frozen=True)
class SoftHsmToken:
    module: str
    label: str
    pin: str
    conf: Path
    lock_dir: Path

    def env(self) -> dict[str, str]:
        return {**os.environ, "SOFTHSM2_CONF": str(self.conf)}


@pytest.fixture
def token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SoftHsmToken]:
    util = _require_softhsm()
    tokendir = tmp_path / "tokens"
    tokendir.mkdir()
    conf = tmp_path / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {tokendir}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    label = f"regie-test-{uuid4().hex[:12]}"
    subprocess.run(
        [util, "--init-token", "--free", "--label", label, "--so-pin", SO_PIN, "--pin", PIN],
        env={**os.environ, "SOFTHSM2_CONF": str(conf)},
        check=True,
        capture_output=True,
        text=True,
    )
    monkeypatch.setenv("SOFTHSM2_CONF", str(conf))
    lib = pkcs11.lib(MODULE)
    lib.reinitialize()  # read this test's SOFTHSM2_CONF, not the previous one's
    assert [t.label for t in lib.get_tokens(token_label=label)] == [label]
    yield SoftHsmToken(MODULE, label, PIN, conf, tmp_path)
    pkcs11.lib(MODULE).finalize()


@pytest.fixture
def make_backend(token: SoftHsmToken) -> Iterator[Callable[..., Pkcs11KekBackend]]:
    made: list[Pkcs11KekBackend] = []

    def make(**overrides: Any) -> Pkcs11KekBackend:
        kwargs: dict[str, Any] = {
            "module_path": token.module,
            "token_label": token.label,
            "pin": token.pin,
            "lock_dir": str(token.lock_dir),
        }
        backend = Pkcs11KekBackend(**(kwargs | overrides))
        made.append(backend)
        return backend

    yield make
    for backend in made:
        backend.close()


@pytest.fixture
def backend(make_backend: Callable[..., Pkcs11KekBackend]) -> Pkcs11KekBackend:
    return make_backend()


@pytest.fixture
def token_session(token: SoftHsmToken, backend: Pkcs11KekBackend) -> Iterator[pkcs11.Session]:
    """A public session of the test itself; it sees private objects while `backend` is logged in."""
    backend.check()  # logs the process in
    session = pkcs11.lib(MODULE).get_token(token_label=token.label).open(rw=True)
    yield session
    session.close()


def _secret_keys(session: pkcs11.Session, label: str) -> list[Any]:
    return list(
        session.get_objects({Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.LABEL: label})
    )


# --- wrapping -------------------------------------------------------------------------------


def test_is_a_kek_backend(backend: Pkcs11KekBackend) -> None:
    kek: KekBackend = backend
    assert kek.name == "pkcs11"
    assert PIN not in repr(backend)


def test_round_trip(backend: Pkcs11KekBackend) -> None:
    assert backend.current_version() == 1
    assert backend.current_version() == 1  # made once
    data_key = aead.new_key()
    wrapped = backend.wrap(1, data_key, AD)
    assert wrapped[:1] == b"\x01"
    assert len(wrapped) == 1 + 12 + 32 + 16
    assert data_key not in wrapped
    assert backend.unwrap(1, wrapped, AD) == data_key
    assert backend.wrap(1, data_key, AD) != wrapped  # a fresh IV every time


def test_wrong_associated_data_fails(backend: Pkcs11KekBackend) -> None:
    version = backend.current_version()
    data_key = aead.new_key()
    wrapped = backend.wrap(version, data_key, AD)
    other = aead.encode_associated_data("test", "pkcs11", "other")
    with pytest.raises(DecryptionError) as caught:
        backend.unwrap(version, wrapped, other)
    assert str(caught.value) == "ciphertext could not be opened"
    with pytest.raises(DecryptionError):
        backend.unwrap(version, wrapped, b"")
    # The failed operation left the session usable.
    assert backend.unwrap(version, wrapped, AD) == data_key


def test_every_tampered_byte_fails(backend: Pkcs11KekBackend) -> None:
    version = backend.current_version()
    data_key = aead.new_key()
    wrapped = backend.wrap(version, data_key, AD)
    for index in range(len(wrapped)):
        tampered = bytearray(wrapped)
        tampered[index] ^= 0x01
        with pytest.raises(DecryptionError):
            backend.unwrap(version, bytes(tampered), AD)
    for malformed in (wrapped[:-1], wrapped + b"\x00", b"", b"\x02" + wrapped[1:]):
        with pytest.raises(DecryptionError):
            backend.unwrap(version, malformed, AD)
    assert backend.unwrap(version, wrapped, AD) == data_key


def test_wrap_refuses_bad_input(backend: Pkcs11KekBackend) -> None:
    version = backend.current_version()
    with pytest.raises(ValueError, match="32 bytes"):
        backend.wrap(version, b"short", AD)
    with pytest.raises(ValueError, match="associated data"):
        backend.wrap(version, aead.new_key(), b"")


def test_unknown_version(backend: Pkcs11KekBackend) -> None:
    backend.current_version()
    with pytest.raises(UnknownKeyVersion):
        backend.wrap(7, aead.new_key(), AD)
    with pytest.raises(UnknownKeyVersion):
        backend.unwrap(7, b"\x01" + bytes(60), AD)


# --- versions -------------------------------------------------------------------------------


def test_old_version_still_opens_after_rotation(backend: Pkcs11KekBackend) -> None:
    data_key = aead.new_key()
    wrapped_v1 = backend.wrap(backend.current_version(), data_key, AD)
    assert backend.create_version() == 2
    assert backend.current_version() == 2
    assert backend.unwrap(1, wrapped_v1, AD) == data_key
    with pytest.raises(DecryptionError):  # a different key
        backend.unwrap(2, wrapped_v1, AD)
    assert backend.unwrap(2, backend.wrap(2, data_key, AD), AD) == data_key


def test_versions_record_timestamps(backend: Pkcs11KekBackend) -> None:
    assert backend.versions() == []
    before = datetime.now(UTC)
    backend.current_version()
    backend.create_version()
    backend.create_version()
    after = datetime.now(UTC)
    infos = backend.versions()
    assert [i.version for i in infos] == [1, 2, 3]
    assert [i.state for i in infos] == ["active", "active", "active"]
    assert all(before <= i.created_at <= after for i in infos)
    assert infos[0].created_at <= infos[1].created_at <= infos[2].created_at
    assert infos[0].superseded_at is not None
    assert infos[0].superseded_at >= infos[1].created_at
    assert infos[1].superseded_at is not None
    assert infos[1].superseded_at >= infos[2].created_at
    assert infos[2].superseded_at is None
    assert all(i.retired_at is None for i in infos)


def test_retire_destroys_the_key(backend: Pkcs11KekBackend, token_session: pkcs11.Session) -> None:
    data_key = aead.new_key()
    wrapped_v1 = backend.wrap(backend.current_version(), data_key, AD)
    backend.create_version()
    backend.retire(1)

    with pytest.raises(UnknownKeyVersion) as caught:
        backend.unwrap(1, wrapped_v1, AD)
    assert caught.value.version == 1
    with pytest.raises(UnknownKeyVersion):
        backend.wrap(1, data_key, AD)
    with pytest.raises(UnknownKeyVersion):
        backend.retire(1)
    with pytest.raises(UnknownKeyVersion):
        backend.retire(99)

    v1, v2 = backend.versions()
    assert (v1.version, v1.state) == (1, "retired")
    assert v1.retired_at is not None
    assert v1.superseded_at is not None
    assert (v2.version, v2.state, v2.retired_at) == (2, "active", None)
    # The key material is gone from the token; the non-secret marker is what is left.
    assert _secret_keys(token_session, "regie-kek-1") == []
    assert len(_secret_keys(token_session, "regie-kek-2")) == 1
    markers = list(
        token_session.get_objects(
            {Attribute.CLASS: ObjectClass.DATA, Attribute.APPLICATION: MARKER_APPLICATION}
        )
    )
    assert {m[Attribute.LABEL] for m in markers} == {"regie-kek-1", "regie-kek-2"}
    # Numbers are never reused.
    assert backend.create_version() == 3


def test_retiring_the_current_version_is_refused(backend: Pkcs11KekBackend) -> None:
    assert backend.current_version() == 1
    with pytest.raises(KeyRetirementRefused):
        backend.retire(1)
    backend.create_version()
    with pytest.raises(KeyRetirementRefused):
        backend.retire(2)
    backend.retire(1)
    assert backend.current_version() == 2


def test_key_objects_are_not_extractable(
    backend: Pkcs11KekBackend, token_session: pkcs11.Session
) -> None:
    backend.current_version()
    (key,) = _secret_keys(token_session, "regie-kek-1")
    assert key[Attribute.KEY_TYPE] == KeyType.AES
    assert key[Attribute.VALUE_LEN] == 32
    assert key[Attribute.TOKEN] is True
    assert key[Attribute.PRIVATE] is True
    assert key[Attribute.EXTRACTABLE] is False
    assert key[Attribute.NEVER_EXTRACTABLE] is True
    assert key[Attribute.SENSITIVE] is True
    assert key[Attribute.ALWAYS_SENSITIVE] is True
    assert key[Attribute.MODIFIABLE] is False
    assert key[Attribute.WRAP] is False
    assert key[Attribute.ENCRYPT] is True
    assert key[Attribute.DECRYPT] is True
    with pytest.raises(AttributeSensitive):
        key[Attribute.VALUE]
    # CKR_ACTION_PROHIBITED (the key is not modifiable; python-pkcs11 has no class for it).
    with pytest.raises(PKCS11Error):
        key[Attribute.EXTRACTABLE] = True
    # Nor can it be wrapped out under another key.
    wrapping_key = token_session.generate_key(
        KeyType.AES, 256, label="test-wrapping-key", template={Attribute.WRAP: True}
    )
    with pytest.raises(KeyUnextractable):
        wrapping_key.wrap_key(key, mechanism=Mechanism.AES_KEY_WRAP_PAD)
    wrapping_key.destroy()


# --- failures -------------------------------------------------------------------------------


def test_wrong_pin_is_unavailable(make_backend: Callable[..., Pkcs11KekBackend]) -> None:
    backend = make_backend(pin="not-the-pin")
    with pytest.raises(KeyBackendUnavailable, match="rejected the PIN") as caught:
        backend.check()
    assert caught.value.__cause__ is not None
    # Not tried again: repeated wrong PINs could lock a real HSM.
    with pytest.raises(KeyBackendUnavailable, match="not trying again"):
        backend.current_version()


def test_a_second_pin_in_the_same_process_is_refused(
    make_backend: Callable[..., Pkcs11KekBackend],
) -> None:
    make_backend().check()
    with pytest.raises(KeyBackendUnavailable, match="different PIN"):
        make_backend(pin="not-the-pin").check()


def test_missing_module_is_unavailable(tmp_path: Path) -> None:
    backend = Pkcs11KekBackend(
        module_path=str(tmp_path / "libmissing.so"),
        token_label="regie",
        pin=PIN,
        lock_dir=str(tmp_path),
    )
    with pytest.raises(KeyBackendUnavailable, match="cannot load PKCS#11 module") as caught:
        backend.check()
    assert caught.value.__cause__ is not None
    with pytest.raises(KeyBackendUnavailable):
        backend.wrap(1, aead.new_key(), AD)
    backend.close()


def test_missing_token_is_unavailable(make_backend: Callable[..., Pkcs11KekBackend]) -> None:
    backend = make_backend(token_label="no-such-token")
    with pytest.raises(KeyBackendUnavailable, match="no PKCS#11 token labelled"):
        backend.check()


def test_closed_backend_is_unavailable(backend: Pkcs11KekBackend) -> None:
    backend.current_version()
    backend.close()
    backend.close()  # idempotent
    with pytest.raises(KeyBackendUnavailable, match="closed"):
        backend.current_version()


def test_reopens_a_lost_session(backend: Pkcs11KekBackend) -> None:
    data_key = aead.new_key()
    wrapped = backend.wrap(backend.current_version(), data_key, AD)
    # Every session of the process dies, the login with them.
    pkcs11.lib(MODULE).reinitialize()
    assert backend.unwrap(1, wrapped, AD) == data_key
    backend.check()


# --- several users ----------------------------------------------------------------------------


def test_concurrent_wrap_and_unwrap(backend: Pkcs11KekBackend) -> None:
    version = backend.current_version()

    def work(worker: int) -> int:
        for op in range(50):
            data_key = aead.new_key()
            ad = aead.encode_associated_data("worker", worker, op)
            wrapped = backend.wrap(version, data_key, ad)
            assert backend.unwrap(version, wrapped, ad) == data_key
        return worker

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert sorted(pool.map(work, range(8))) == list(range(8))


def test_two_instances_share_the_token(make_backend: Callable[..., Pkcs11KekBackend]) -> None:
    first, second = make_backend(), make_backend()
    data_key = aead.new_key()
    wrapped_v1 = first.wrap(first.current_version(), data_key, AD)
    assert second.current_version() == 1
    assert second.unwrap(1, wrapped_v1, AD) == data_key  # second now holds a handle of v1
    assert first.create_version() == 2
    assert second.current_version() == 2
    first.retire(1)
    with pytest.raises(UnknownKeyVersion):  # its cached handle died with the key
        second.unwrap(1, wrapped_v1, AD)
    # Closing one does not log the other out.
    first.close()
    assert second.unwrap(2, second.wrap(2, data_key, AD), AD) == data_key


_CHILD = textwrap.dedent(
    """
    import sys
    from keys.pkcs11 import Pkcs11KekBackend

    module, label, pin, lock_dir = sys.argv[1:5]
    with Pkcs11KekBackend(
        module_path=module, token_label=label, pin=pin, lock_dir=lock_dir
    ) as backend:
        print(",".join(str(backend.create_version()) for _ in range(8)))
    """
)


def test_processes_creating_versions_at_once_get_distinct_versions(
    token: SoftHsmToken, backend: Pkcs11KekBackend
) -> None:
    assert backend.current_version() == 1
    env = token.env() | {"PYTHONPATH": str(ROOT)}
    children = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                _CHILD,
                token.module,
                token.label,
                token.pin,
                str(token.lock_dir),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outcomes: list[tuple[int, str, str]] = []
    try:
        for child in children:
            out, err = child.communicate(timeout=120)
            outcomes.append((child.returncode, out, err))
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.communicate()
    made: list[int] = []
    for returncode, out, err in outcomes:
        assert returncode == 0, err
        made += [int(v) for v in out.strip().split(",")]
    assert len(made) == len(set(made)) == 24
    infos = backend.versions()
    assert [i.version for i in infos] == sorted({1, *made})
    assert all(i.state == "active" for i in infos)
    assert [i.superseded_at is None for i in infos].count(True) == 1  # only the current one
    assert backend.current_version() == max(made)
    for info in infos:
        data_key = aead.new_key()
        assert (
            backend.unwrap(info.version, backend.wrap(info.version, data_key, AD), AD) == data_key
        )


def _markers(session: pkcs11.Session) -> list[tuple[str, dict[str, Any]]]:
    found = session.get_objects(
        {Attribute.CLASS: ObjectClass.DATA, Attribute.APPLICATION: MARKER_APPLICATION}
    )
    markers = [(str(m[Attribute.LABEL]), json.loads(m[Attribute.VALUE])) for m in list(found)]
    return sorted(markers, key=lambda m: (m[0], m[1]["event"]))


@pytest.mark.parametrize("rival_pending", [True, False])
def test_a_rival_claim_on_the_same_number_makes_way(
    backend: Pkcs11KekBackend,
    token_session: pkcs11.Session,
    monkeypatch: pytest.MonkeyPatch,
    rival_pending: bool,
) -> None:
    """Another host claims version 2 just after we did (which no file lock can prevent).

    The rival's claim is either still pending (or its process died) or already confirmed.
    """
    assert backend.current_version() == 1
    original = Pkcs11KekBackend._write_marker
    rivals: list[int] = []

    def write_marker(self: Pkcs11KekBackend, session: Any, version: int, *a: Any, **kw: Any) -> Any:
        ours = original(self, session, version, *a, **kw)
        if kw.get("pending") and not rivals:
            rivals.append(version)
            at = datetime.now(UTC)
            original(
                self, session, version, "created", at, key_id=b"2:rival", pending=rival_pending
            )
        return ours

    monkeypatch.setattr(Pkcs11KekBackend, "_write_marker", write_marker)
    assert backend.create_version() == 3
    monkeypatch.undo()
    assert rivals == [2]
    # Our claim on 2 was withdrawn and no key was made for it; the rival's claim is left alone.
    claims = [(label, doc["key_id"]) for label, doc in _markers(token_session) if "key_id" in doc]
    rival_label = "regie-kek-2.pending" if rival_pending else "regie-kek-2"
    assert [c for c in claims if c[1].startswith("2:")] == [(rival_label, "2:rival")]
    assert _secret_keys(token_session, "regie-kek-2") == []
    assert len(_secret_keys(token_session, "regie-kek-3")) == 1
    assert backend.current_version() == 3
    data_key = aead.new_key()
    assert backend.unwrap(3, backend.wrap(3, data_key, AD), AD) == data_key


def test_a_left_over_claim_is_skipped(
    backend: Pkcs11KekBackend, token_session: pkcs11.Session
) -> None:
    """A claim whose creator died before finishing is never used, and its number not reused."""
    assert backend.current_version() == 1
    token_session.create_object(
        {
            Attribute.CLASS: ObjectClass.DATA,
            Attribute.TOKEN: True,
            Attribute.PRIVATE: True,
            Attribute.LABEL: "regie-kek-2.pending",
            Attribute.APPLICATION: MARKER_APPLICATION,
            Attribute.VALUE: b'{"at": "2024-01-01T00:00:00+00:00", "event": "created",'
            b' "format": 1, "key_id": "2:dead", "version": 2}',
        }
    )
    assert backend.current_version() == 1
    assert [i.version for i in backend.versions()] == [1]
    with pytest.raises(UnknownKeyVersion):
        backend.wrap(2, aead.new_key(), AD)
    assert backend.create_version() == 3


def test_other_prefixes_and_malformed_markers_are_ignored(
    make_backend: Callable[..., Pkcs11KekBackend], token_session: pkcs11.Session
) -> None:
    ours, theirs = make_backend(), make_backend(label_prefix="other-kek")
    assert ours.current_version() == 1
    assert theirs.current_version() == 1
    assert theirs.create_version() == 2
    for value in (b"not json", b'{"format": 2}', b'{"format": 1, "version": 9}'):
        token_session.create_object(
            {
                Attribute.CLASS: ObjectClass.DATA,
                Attribute.TOKEN: True,
                Attribute.PRIVATE: True,
                Attribute.LABEL: "regie-kek-9",
                Attribute.APPLICATION: MARKER_APPLICATION,
                Attribute.VALUE: value,
            }
        )
    assert [i.version for i in ours.versions()] == [1]
    assert ours.current_version() == 1
    assert ours.create_version() == 10  # never a number someone wrote down
    assert [i.version for i in theirs.versions()] == [1, 2]


# --- with the key service ---------------------------------------------------------------------


def test_key_service_round_trip_and_rewrap(backend: Pkcs11KekBackend) -> None:
    resident = uuid4()
    binding = Binding(table="records", column="value", row="row-1")
    service = KeyService(kek=backend)
    wrapped, key = service.new_data_key(resident)
    assert wrapped.kek_version == 1
    sealed = key.seal(b"BSN 123456782", binding)

    # A fresh service has nothing cached: the HSM unwraps.
    fresh = KeyService(kek=backend)
    assert fresh.data_key(wrapped).open(sealed, binding) == b"BSN 123456782"
    assert fresh.cache_misses == 1

    new_version = backend.create_version()
    rewrapped = service.rewrap(wrapped, new_version)
    assert rewrapped.kek_version == new_version == 2
    assert rewrapped.wrapped != wrapped.wrapped
    backend.retire(1)

    assert KeyService(kek=backend).data_key(rewrapped).open(sealed, binding) == b"BSN 123456782"
    with pytest.raises(UnknownKeyVersion):
        KeyService(kek=backend).data_key(wrapped)
    # The wrapped key is bound to its resident: another one's record cannot borrow it.
    stolen = type(rewrapped)(uuid4(), rewrapped.version, rewrapped.kek_version, rewrapped.wrapped)
    with pytest.raises(DecryptionError):
        KeyService(kek=backend).data_key(stolen)


def test_a_key_destroyed_behind_our_back_reads_as_retired(
    backend: Pkcs11KekBackend, token_session: pkcs11.Session
) -> None:
    data_key = aead.new_key()
    wrapped = backend.wrap(backend.current_version(), data_key, AD)  # the handle is cached
    backend.create_version()
    for key in _secret_keys(token_session, "regie-kek-1"):
        key.destroy()
    with pytest.raises(UnknownKeyVersion):
        backend.unwrap(1, wrapped, AD)
    v1, v2 = backend.versions()
    assert (v1.state, v1.retired_at, v2.state) == ("retired", None, "active")
