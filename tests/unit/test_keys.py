"""keys/: the AEAD recipe, data keys and their bindings, the keyring file, signing keys."""

from __future__ import annotations

import os
import stat
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from keys import aead
from keys.errors import DecryptionError, KeyRetirementRefused, KeyringError, UnknownKeyVersion
from keys.keyring import KeyringFile
from keys.local import LocalKekBackend
from keys.secrets import KeyedHasher
from keys.service import SEAL_CONTEXT, Binding, DataKey, KeyService, WrappedDataKey
from keys.signing import SigningKeyring
from keys.unsafe import UnsafeMemoryKekBackend

HERE = Binding("record_versions", "content_ct", "rec-1/1")


def test_seal_requires_associated_data() -> None:
    with pytest.raises(ValueError, match="associated data"):
        aead.seal(aead.new_key(), b"x", b"")
    with pytest.raises(ValueError, match="at least one part"):
        aead.encode_associated_data()


def test_associated_data_encoding_is_unambiguous() -> None:
    assert aead.encode_associated_data("ab", "c") != aead.encode_associated_data("a", "bc")
    assert aead.encode_associated_data(1) == aead.encode_associated_data("1")
    with pytest.raises(TypeError):
        aead.encode_associated_data(True)


def test_every_open_failure_is_the_same_opaque_error() -> None:
    key = aead.new_key()
    sealed = aead.seal(key, b"medicatie", b"ctx")
    cases = [
        (aead.new_key(), sealed, b"ctx"),  # wrong key
        (key, sealed, b"other"),  # wrong associated data
        (key, sealed[:-1] + bytes([sealed[-1] ^ 1]), b"ctx"),  # flipped tag bit
        (key, b"\x02" + sealed[1:], b"ctx"),  # unknown format
        (key, sealed[:10], b"ctx"),  # truncated
    ]
    messages = set()
    for k, blob, ad in cases:
        with pytest.raises(DecryptionError) as info:
            aead.open_sealed(k, blob, ad)
        messages.add(str(info.value))
    assert messages == {"ciphertext could not be opened"}


def test_two_seals_of_the_same_plaintext_differ() -> None:
    key = aead.new_key()
    assert aead.seal(key, b"same", b"ctx") != aead.seal(key, b"same", b"ctx")


@pytest.fixture
def keyring(tmp_path: Path) -> KeyringFile:
    return KeyringFile(tmp_path / "keys" / "keyring.json")


@pytest.fixture
def service(keyring: KeyringFile) -> KeyService:
    return KeyService(kek=LocalKekBackend(keyring))


def test_ciphertext_moved_to_another_row_column_table_or_resident_fails(
    service: KeyService,
) -> None:
    anna, bob = uuid.uuid4(), uuid.uuid4()
    _, anna_key = service.new_data_key(anna)
    _, bob_key = service.new_data_key(bob)
    sealed = anna_key.seal(b"Anna's medication", HERE)
    assert anna_key.open(sealed, HERE) == b"Anna's medication"
    elsewhere = [
        Binding(HERE.table, HERE.column, "rec-2/1"),  # another row
        Binding(HERE.table, "title_ct", HERE.row),  # another column
        Binding("residents", HERE.column, HERE.row),  # another table
    ]
    for binding in elsewhere:
        with pytest.raises(DecryptionError):
            anna_key.open(sealed, binding)
    with pytest.raises(DecryptionError):
        bob_key.open(sealed, HERE)  # another resident, same place


def test_ciphertext_of_another_data_key_version_fails(service: KeyService) -> None:
    anna = uuid.uuid4()
    _, v1 = service.new_data_key(anna, 1)
    _, v2 = service.new_data_key(anna, 2)
    with pytest.raises(DecryptionError):
        v2.open(v1.seal(b"x", HERE), HERE)


def test_wrapped_data_key_is_bound_to_its_resident(service: KeyService) -> None:
    anna, bob = uuid.uuid4(), uuid.uuid4()
    wrapped, _ = service.new_data_key(anna)
    stolen = WrappedDataKey(bob, wrapped.version, wrapped.kek_version, wrapped.wrapped)
    fresh = KeyService(kek=service.kek)  # no cache
    with pytest.raises(DecryptionError):
        fresh.data_key(stolen)


def test_wrong_kek_fails(keyring: KeyringFile, tmp_path: Path) -> None:
    service = KeyService(kek=LocalKekBackend(keyring))
    wrapped, _ = service.new_data_key(uuid.uuid4())
    other = KeyService(kek=LocalKekBackend(KeyringFile(tmp_path / "other.json")))
    assert other.kek.current_version() == wrapped.kek_version  # same number, different key
    with pytest.raises(DecryptionError):
        other.data_key(wrapped)


def test_rotation_rewraps_and_the_old_kek_can_be_retired(keyring: KeyringFile) -> None:
    backend = LocalKekBackend(keyring)
    service = KeyService(kek=backend, cache_ttl_seconds=0)
    anna = uuid.uuid4()
    wrapped, key = service.new_data_key(anna)
    sealed = key.seal(b"grades", HERE)
    assert wrapped.kek_version == 1
    v2 = backend.create_version()
    assert backend.current_version() == v2 == 2
    again = service.rewrap(wrapped, v2)
    assert again.kek_version == 2
    assert service.data_key(again).open(sealed, HERE) == b"grades"
    backend.retire(1)
    with pytest.raises(UnknownKeyVersion):
        service.data_key(wrapped)  # the old wrapping is dead for good
    assert service.data_key(again).open(sealed, HERE) == b"grades"
    with pytest.raises(KeyRetirementRefused):
        backend.retire(2)  # never the current one


def test_another_process_rotation_is_seen(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    server = LocalKekBackend(KeyringFile(path))
    cli = LocalKekBackend(KeyringFile(path))
    server_keys = KeyService(kek=server, cache_ttl_seconds=0)
    wrapped, _ = server_keys.new_data_key(uuid.uuid4())
    v2 = cli.create_version()
    rewrapped = KeyService(kek=cli).rewrap(wrapped, v2)
    # The server has never loaded version 2; it reloads the file and opens it.
    assert server_keys.data_key(rewrapped).resident_id == wrapped.resident_id
    assert server.current_version() == 2


def test_keyring_is_created_private(tmp_path: Path) -> None:
    path = tmp_path / "fresh" / "keyring.json"
    KeyringFile(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660])
def test_keyring_readable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "keyring.json"
    KeyringFile(path)
    path.chmod(mode)
    with pytest.raises(KeyringError, match="readable by others"):
        KeyringFile(path)


def test_keyring_in_another_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, b'{"format": "something-else"}')
    os.close(fd)
    with pytest.raises(KeyringError):
        KeyringFile(path)


def test_data_key_cache_expires(keyring: KeyringFile) -> None:
    now = [0.0]
    service = KeyService(
        kek=LocalKekBackend(keyring), cache_ttl_seconds=10, monotonic=lambda: now[0]
    )
    wrapped, _ = service.new_data_key(uuid.uuid4())
    service.data_key(wrapped)
    assert service.cache_hits == 1
    now[0] = 11
    service.data_key(wrapped)
    assert service.cache_misses == 1
    service.forget(wrapped.resident_id)
    service.data_key(wrapped)
    assert service.cache_misses == 2


def test_data_key_repr_does_not_show_the_key(service: KeyService) -> None:
    _, key = service.new_data_key(uuid.uuid4())
    assert "key=" not in repr(key).replace("resident_id", "")


def test_unsafe_backend_names_itself() -> None:
    backend = UnsafeMemoryKekBackend()
    assert "unsafe" in backend.name
    service = KeyService(kek=backend)
    wrapped, key = service.new_data_key(uuid.uuid4())
    assert KeyService(kek=backend).data_key(wrapped).open(key.seal(b"x", HERE), HERE) == b"x"


def test_keyed_hash_depends_on_purpose_and_deployment(tmp_path: Path) -> None:
    one = KeyedHasher(KeyringFile(tmp_path / "a.json"))
    two = KeyedHasher(KeyringFile(tmp_path / "b.json"))
    assert one.digest("p", b"v") == one.digest("p", b"v")
    assert one.digest("p", b"v") != one.digest("q", b"v")
    assert one.digest("p", b"v") != two.digest("p", b"v")


def test_jwks_verifies_what_the_vault_signs(keyring: KeyringFile) -> None:
    signing = SigningKeyring(keyring)
    signing.ensure()
    jwks = KeySet.import_key_set(signing.jwks())
    for alg in ("ES256", "Ed25519"):
        token = signing.sign_jwt({"iss": "https://vault.example"}, alg=alg, typ="secevent+jwt")  # type: ignore[arg-type]
        decoded = jwt.decode(token, jwks, algorithms=[alg])
        assert decoded.claims["iss"] == "https://vault.example"
        assert decoded.header["typ"] == "secevent+jwt"
    assert all("d" not in k for k in signing.jwks()["keys"])  # never a private part


def test_rotated_signing_keys_stay_published_until_pruned(keyring: KeyringFile) -> None:
    signing = SigningKeyring(keyring, publish_seconds=3600)
    signing.ensure()
    old_token = signing.sign_jwt({"n": 1})
    old_kids = {k["kid"] for k in signing.jwks()["keys"]}
    new_kids = set(signing.rotate())
    published = {k["kid"] for k in signing.jwks()["keys"]}
    assert old_kids | new_kids == published
    assert jwt.decode(old_token, KeySet.import_key_set(signing.jwks()), algorithms=["ES256"])
    assert signing.prune(datetime.now(UTC)) == []
    gone = signing.prune(datetime.now(UTC) + timedelta(hours=2))
    assert set(gone) == old_kids
    assert {k["kid"] for k in signing.jwks()["keys"]} == new_kids


def test_ed25519_signature_for_signed_notes(keyring: KeyringFile) -> None:
    signing = SigningKeyring(keyring)
    kid, signature = signing.sign_bytes(b"vault.example/audit\n1\nroot\n")
    jwk = next(k for k in signing.jwks()["keys"] if k["kid"] == kid)
    assert jwk["crv"] == "Ed25519"
    assert len(signature) == 64


def test_superseded_keys_leave_the_jwks_after_the_window_even_unpruned(
    keyring: KeyringFile,
) -> None:
    signing = SigningKeyring(keyring, publish_seconds=60)
    signing.ensure()
    old = {k["kid"] for k in signing.jwks()["keys"]}
    new = set(signing.rotate())
    later = datetime.now(UTC) + timedelta(seconds=61)
    assert {k["kid"] for k in signing.jwks(now=later)["keys"]} == new
    assert old <= {k["kid"] for k in signing.jwks()["keys"]}


def test_a_data_key_binds_exactly_the_documented_associated_data() -> None:
    """The associated data of a record ciphertext is the encoding of (context, table, column,
    row, resident, version), however DataKey assembles it: stored ciphertexts keep opening."""
    raw, resident = aead.new_key(), uuid.uuid4()
    key = DataKey(resident, 3, raw)
    place = Binding("record_versions", "title_ct", "r1/2")
    sealed = key.seal(b"titel", place)
    full = aead.encode_associated_data(
        SEAL_CONTEXT, "record_versions", "title_ct", "r1/2", str(resident), 3
    )
    assert aead.open_sealed(raw, sealed, full) == b"titel"
    assert key.open(aead.seal(raw, b"inhoud", full), place) == b"inhoud"
    for other in (
        Binding("record_versions", "content_ct", "r1/2"),
        Binding("record_versions", "title_ct", "r1/3"),
    ):
        with pytest.raises(DecryptionError):
            key.open(sealed, other)
    with pytest.raises(DecryptionError):
        DataKey(resident, 4, raw).open(sealed, place)
    with pytest.raises(DecryptionError):
        DataKey(uuid.uuid4(), 3, raw).open(sealed, place)
