"""keys/logkey.py: the log key lives in the keyring, is made once, and never changes."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
from pathlib import Path

import pytest

from keys import note
from keys.errors import KeyringError, UnverifiedNote
from keys.keyring import FORMAT, KeyringFile
from keys.logkey import LogKey
from keys.note import Checkpoint, Verifier
from keys.signing import SigningKeyring

NAME = "vault.example.nl/audit"
ROOT = hashlib.sha256(b"root").digest()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "keys" / "keyring.json"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_log_key_is_made_once_and_stable_across_reloads(path: Path) -> None:
    first = LogKey(KeyringFile(path), NAME)
    first.ensure()
    vkey = first.verifier_key
    assert vkey.startswith(f"{NAME}+{first.key_id:08x}+")
    assert Verifier.parse(vkey) == first.verifier
    entry = json.loads(path.read_text())["log"]
    assert entry["signer_key"].startswith(f"PRIVATE+KEY+{NAME}+")
    # A restart (a new process: new file object, new LogKey) finds the same key.
    for _ in range(3):
        again = LogKey(KeyringFile(path), NAME)
        assert again.verifier_key == vkey
    assert json.loads(path.read_text())["log"] == entry
    assert mode(path) == 0o600


def test_the_log_key_signs_checkpoints_its_verifier_key_opens(path: Path) -> None:
    key = LogKey(KeyringFile(path), NAME)
    cp = Checkpoint(NAME, 42, ROOT)
    signed = key.sign_checkpoint(cp)
    verifier = Verifier.parse(LogKey(KeyringFile(path), NAME).verifier_key)
    assert note.open_checkpoint(signed, verifier, NAME) == cp
    opened = note.open(key.sign("any text\n"), [verifier])
    assert opened.text == "any text\n"
    assert [(s.name, s.key_id) for s in opened.signatures] == [(NAME, key.key_id)]


def test_a_log_key_in_another_keyring_is_another_key(tmp_path: Path) -> None:
    a = LogKey(KeyringFile(tmp_path / "a" / "keyring.json"), NAME)
    b = LogKey(KeyringFile(tmp_path / "b" / "keyring.json"), NAME)
    assert a.verifier_key != b.verifier_key
    with pytest.raises(UnverifiedNote):
        note.open_checkpoint(a.sign_checkpoint(Checkpoint(NAME, 1, ROOT)), b.verifier, NAME)


def test_an_older_keyring_without_a_log_key_gets_one_and_keeps_the_rest(path: Path) -> None:
    path.parent.mkdir(mode=0o700)
    old = {
        "format": FORMAT,
        "created_at": "2026-01-01T00:00:00+00:00",
        "kek": [],
        "signing": [],
        "secrets": {"deployment": "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI="},
    }
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, json.dumps(old).encode())
    os.close(fd)
    key = LogKey(KeyringFile(path, create=False), NAME)
    key.ensure()
    doc = json.loads(path.read_text())
    assert {k: v for k, v in doc.items() if k != "log"} == old
    assert Verifier.parse(key.verifier_key).name == NAME
    assert mode(path) == 0o600


def test_rotating_the_signing_keys_leaves_the_log_key_alone(path: Path) -> None:
    keyring = KeyringFile(path)
    signing = SigningKeyring(keyring)
    signing.ensure()
    key = LogKey(keyring, NAME)
    vkey = key.verifier_key
    signing.rotate()
    assert LogKey(KeyringFile(path), NAME).verifier_key == vkey
    public = Verifier.parse(vkey).public_key
    ed25519 = [k for k in signing.jwks()["keys"] if k.get("crv") == "Ed25519"]
    assert ed25519  # the token keys are published; the log key is not one of them
    assert all(base64.urlsafe_b64decode(k["x"] + "=") != public for k in ed25519)


def test_the_log_key_of_another_log_name_is_refused(path: Path) -> None:
    LogKey(KeyringFile(path), "localhost/audit").ensure()
    with pytest.raises(KeyringError, match="REGIE_LOG_NAME=localhost/audit"):
        LogKey(KeyringFile(path), NAME).ensure()
    with pytest.raises(KeyringError):
        LogKey(KeyringFile(path), NAME).sign("x\n")


def test_a_damaged_log_key_entry_is_refused(path: Path) -> None:
    keyring = KeyringFile(path)
    LogKey(keyring, NAME).ensure()

    def damage(doc: dict) -> None:
        skey = doc["log"]["signer_key"]
        doc["log"]["signer_key"] = skey[:-2] + ("A" if skey[-2] != "A" else "B") + skey[-1]

    keyring.update(damage)
    with pytest.raises(KeyringError, match="unusable"):
        LogKey(KeyringFile(path), NAME).ensure()
    keyring.update(lambda doc: doc.update(log={"created_at": "x"}))
    with pytest.raises(KeyringError, match="unusable"):
        LogKey(KeyringFile(path), NAME).ensure()


def test_a_keyring_readable_by_others_stops_the_log_key_at_once(path: Path) -> None:
    key = LogKey(KeyringFile(path), NAME)
    key.sign("before\n")
    path.chmod(0o644)
    with pytest.raises(KeyringError, match="readable by others"):
        key.sign("after\n")


@pytest.mark.parametrize("name", ["", "vault.example.nl audit", "a+b"])
def test_a_log_name_that_is_no_key_name_is_refused(path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="not a note key name"):
        LogKey(KeyringFile(path), name)


def test_a_checkpoint_of_another_origin_is_not_signed(path: Path) -> None:
    with pytest.raises(ValueError, match="does not sign for log"):
        LogKey(KeyringFile(path), NAME).sign_checkpoint(Checkpoint("other/audit", 1, ROOT))


def test_the_secret_is_not_in_the_repr(path: Path) -> None:
    key = LogKey(KeyringFile(path), NAME)
    key.ensure()
    # PRIVATE+KEY+<name>+<key id>+<base64>: the name has no '+', the base64 may.
    secret = json.loads(path.read_text())["log"]["signer_key"].split("+", 4)[4]
    assert len(secret) == 44
    assert secret not in repr(key)
