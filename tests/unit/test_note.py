"""keys/note.py: C2SP signed notes and tlog checkpoints, attacked.

The vectors come from Go's reference implementation, repository golang/mod, file
sumdb/note/note_test.go (TestNewVerifier, TestNewSigner, TestSign, TestOpen), and from the
example in C2SP/C2SP tlog-checkpoint.md. Ed25519 is deterministic, so our signatures must
equal Go's byte for byte.
"""

from __future__ import annotations

import base64
import hashlib

import pytest

from keys import note
from keys.errors import (
    CheckpointOriginMismatch,
    InvalidNoteSignature,
    MalformedCheckpoint,
    MalformedNote,
    MalformedNoteKey,
    NoteError,
    UnverifiedNote,
)
from keys.note import Checkpoint, Signature, Signer, Verifier

# -- Go's vectors (golang/mod sumdb/note/note_test.go) ----------------------------------------
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_B64 = (
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
)
ENOCH_B64 = (
    "rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ="
)
PETER_SIG = f"\u2014 PeterNeumann {PETER_B64}\n"
ENOCH_SIG = f"\u2014 EnochRoot {ENOCH_B64}\n"
PETER = Signature("PeterNeumann", 0xC74F20A3, PETER_B64)
ENOCH = Signature("EnochRoot", 0xAF0CFE78, ENOCH_B64)

# -- the example of C2SP tlog-checkpoint.md ----------------------------------------------------
SOFA = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"


def msg(*parts: str) -> bytes:
    return "".join(parts).encode()


@pytest.fixture(scope="module")
def peter() -> Verifier:
    return Verifier.parse(PETER_VKEY)


@pytest.fixture(scope="module")
def enoch() -> Verifier:
    return Verifier.parse(ENOCH_VKEY)


# -- keys ----------------------------------------------------------------------------------------


def test_go_signer_key_signs_go_s_note_byte_for_byte() -> None:
    signed = note.sign(TEXT, [Signer.parse(PETER_SKEY)])
    assert signed == msg(TEXT, "\n", PETER_SIG)


def test_key_strings_round_trip() -> None:
    signer = Signer.parse(PETER_SKEY)
    assert signer.signer_key == PETER_SKEY
    assert signer.verifier.verifier_key == PETER_VKEY
    assert Verifier.parse(PETER_VKEY).verifier_key == PETER_VKEY
    assert Verifier.parse(PETER_VKEY) == signer.verifier
    assert Verifier.parse(ENOCH_VKEY).verifier_key == ENOCH_VKEY


def test_key_id_is_the_first_four_bytes_of_the_sha256_of_name_newline_type_and_key() -> None:
    public = base64.b64decode(PETER_VKEY.rsplit("+", 1)[1])[1:]
    assert len(public) == 32
    digest = hashlib.sha256(b"PeterNeumann" + b"\x0a" + b"\x01" + public).digest()
    assert note.key_id("PeterNeumann", public) == int.from_bytes(digest[:4], "big") == 0xC74F20A3
    # The name is part of the id: the same key under another name is another key.
    assert note.key_id("PeterNeumann2", public) != 0xC74F20A3


def test_a_generated_key_round_trips_and_signs_what_its_verifier_accepts() -> None:
    signer = Signer.generate("vault.example/audit")
    again = Signer.parse(signer.signer_key)
    assert again.verifier == signer.verifier
    assert Verifier.parse(signer.verifier.verifier_key) == signer.verifier
    opened = note.open(note.sign("hi\n", [signer]), [again.verifier])
    assert opened.text == "hi\n"
    assert [(s.name, s.key_id) for s in opened.signatures] == [(signer.name, signer.key_id)]


def test_the_secret_is_never_in_a_repr() -> None:
    signer = Signer.parse(PETER_SKEY)
    assert "AYEKFALV" not in repr(signer)
    assert repr(signer) == "Signer(PeterNeumann+c74f20a3)"


def test_verifier_fields_cannot_be_changed_after_the_check(peter: Verifier) -> None:
    with pytest.raises(AttributeError):
        peter.key_id = 1  # type: ignore[misc]
    with pytest.raises(AttributeError):
        peter.name = "EnochRoot"  # type: ignore[misc]


def _manglings(key: str) -> list[str]:
    """Go's TestNewVerifier/TestNewSigner: every proper substring, every character + 1."""
    out = {key[i:j] for i in range(len(key) + 1) for j in range(i + 1, len(key) + 1)}
    out.discard(key)
    out |= {key[:i] + chr(ord(key[i]) + 1) + key[i + 1 :] for i in range(len(key))}
    return sorted(out)


@pytest.mark.parametrize("kind", ["verifier", "signer"])
def test_every_mangled_key_string_is_refused(kind: str) -> None:
    key, parse = (PETER_VKEY, Verifier.parse) if kind == "verifier" else (PETER_SKEY, Signer.parse)
    accepted = []
    for mangled in _manglings(key):
        try:
            parse(mangled)
        except MalformedNoteKey:
            continue
        accepted.append(mangled)
    assert accepted == []


@pytest.mark.parametrize(
    ("vkey", "reason"),
    [
        # Go's two: wrong key length and unknown algorithm, each with an adjusted key id.
        ("PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==", "malformed"),
        ("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "algorithm"),
        ("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "does not match"),
        ("PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "malformed"),
        ("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T!", "malformed"),
        ("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW=", "malformed"),
        ("PeterNeumann+c74f20a3+ ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "malformed"),
        ("Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "malformed"),
        ("+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "malformed"),
        ("PeterNeumann+c74f20a3", "malformed"),
        ("", "malformed"),
    ],
)
def test_bad_verifier_keys_are_refused(vkey: str, reason: str) -> None:
    with pytest.raises(MalformedNoteKey, match=reason):
        Verifier.parse(vkey)


def test_a_signer_key_with_another_key_s_id_is_refused() -> None:
    # The key string quoted in this task's brief: its seed is not the one whose id is c74f20a3.
    with pytest.raises(MalformedNoteKey, match="does not match"):
        Signer.parse(
            "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxEXUKIEJ"
        )
    with pytest.raises(MalformedNoteKey):
        Signer.parse(PETER_VKEY)  # a public key is not a signer key


@pytest.mark.parametrize(
    "name", ["", "a+b", "a b", "a\tb", "a\u00a0b", "a\u3000b", "a\nb", "a\x00b", "\ud800"]
)
def test_bad_key_names_are_refused(name: str) -> None:
    assert not note.valid_name(name)
    with pytest.raises(MalformedNoteKey):
        Verifier(name, bytes(32))
    with pytest.raises(MalformedNoteKey):
        Signer(name, bytes(32))


def test_good_key_names() -> None:
    for name in ["PeterNeumann", "vault.example.nl/audit", "localhost/audit", "rôle/ü", "::1/x"]:
        assert note.valid_name(name)


# -- opening notes (Go's TestOpen, and more) -----------------------------------------------------


def test_go_note_opens_with_the_known_key_and_keeps_the_unknown_one(peter: Verifier) -> None:
    opened = note.open(msg(TEXT, "\n", PETER_SIG, ENOCH_SIG), [peter])
    assert opened.text == TEXT
    assert opened.signatures == (PETER,)
    assert opened.unverified == (ENOCH,)


def test_go_note_with_both_keys_known(peter: Verifier, enoch: Verifier) -> None:
    opened = note.open(msg(TEXT, "\n", PETER_SIG, ENOCH_SIG), [peter, enoch])
    assert opened.signatures == (PETER, ENOCH)
    assert opened.unverified == ()


def test_a_note_without_a_known_signature_is_refused(peter: Verifier) -> None:
    with pytest.raises(UnverifiedNote):
        note.open(msg(TEXT, "\n", PETER_SIG, ENOCH_SIG), [])
    with pytest.raises(UnverifiedNote):
        note.open(msg(TEXT, "\n", ENOCH_SIG), [peter])


def test_repeats_are_listed_once_and_a_bad_unknown_one_is_kept_unchecked(peter: Verifier) -> None:
    # Go's "Duplicated verified and unverified signatures".
    raw = ENOCH_SIG.encode()
    enoch_abcd = (raw[:60] + b"ABCD" + raw[60:]).decode()
    opened = note.open(
        msg(TEXT, "\n", PETER_SIG, PETER_SIG, ENOCH_SIG, ENOCH_SIG, enoch_abcd), [peter]
    )
    assert opened.signatures == (PETER,)
    assert opened.unverified == (
        ENOCH,
        Signature("EnochRoot", 0xAF0CFE78, ENOCH_B64[:46] + "ABCD" + ENOCH_B64[46:]),
    )


def test_the_same_verifier_twice_is_one_verifier(peter: Verifier, enoch: Verifier) -> None:
    opened = note.open(
        msg(TEXT, "\n", PETER_SIG), [enoch, peter, enoch, Verifier.parse(ENOCH_VKEY)]
    )
    assert opened.signatures == (PETER,)


def test_two_keys_with_one_name_and_id_are_refused(peter: Verifier) -> None:
    class Colliding(Verifier):
        # An attacker-made key whose id collides with Peter's (2^32 work, so faked here).
        @property
        def key_id(self) -> int:
            return peter.key_id

    impostor = Colliding("PeterNeumann", Signer.generate("PeterNeumann").verifier.public_key)
    with pytest.raises(MalformedNoteKey, match="ambiguous key PeterNeumann\\+c74f20a3"):
        note.open(msg(TEXT, "\n", PETER_SIG), [peter, impostor])


def test_too_many_signatures_are_refused(peter: Verifier) -> None:
    assert note.open(msg(TEXT, "\n", PETER_SIG * 100), [peter]).signatures == (PETER,)
    for known in ([peter], []):
        with pytest.raises(MalformedNote):
            note.open(msg(TEXT, "\n", PETER_SIG * 101), known)


def test_an_invalid_signature_by_a_known_key_is_refused(peter: Verifier) -> None:
    # Go's "Invalid signature": four characters more inside the base64.
    raw = PETER_SIG.encode()
    with pytest.raises(InvalidNoteSignature, match="PeterNeumann\\+c74f20a3"):
        note.open(TEXT.encode() + b"\n" + raw[:60] + b"ABCD" + raw[60:], [peter])


def test_a_tampered_text_is_refused(peter: Verifier) -> None:
    for tampered in [TEXT.replace("answer", "Answer"), TEXT + "and more\n", TEXT[:-1] + " \n"]:
        with pytest.raises(InvalidNoteSignature):
            note.open(msg(tampered, "\n", PETER_SIG), [peter])


def test_a_tampered_signature_is_refused(peter: Verifier) -> None:
    raw = bytearray(base64.b64decode(PETER_B64))
    for i in (4, 20, len(raw) - 1):  # in R, in S, the last byte; the key id stays
        bad = bytearray(raw)
        bad[i] ^= 0x01
        line = f"\u2014 PeterNeumann {base64.b64encode(bytes(bad)).decode()}\n"
        with pytest.raises(InvalidNoteSignature):
            note.open(msg(TEXT, "\n", line), [peter])


def test_a_truncated_signature_by_a_known_key_is_refused(peter: Verifier) -> None:
    raw = base64.b64decode(PETER_B64)
    for cut in (raw[:5], raw[:36], raw[:-1]):
        line = f"\u2014 PeterNeumann {base64.b64encode(cut).decode()}\n"
        with pytest.raises(InvalidNoteSignature):
            note.open(msg(TEXT, "\n", line), [peter])


def test_a_bad_signature_by_a_known_key_spoils_a_good_one(peter: Verifier) -> None:
    # Stricter than Go, which checks only the first signature per key: any failure refuses.
    raw = bytearray(base64.b64decode(PETER_B64))
    raw[40] ^= 0x80
    bad = f"\u2014 PeterNeumann {base64.b64encode(bytes(raw)).decode()}\n"
    for lines in ([PETER_SIG, bad], [bad, PETER_SIG]):
        with pytest.raises(InvalidNoteSignature):
            note.open(msg(TEXT, "\n", *lines), [peter])


def test_a_signature_by_another_key_is_not_accepted(peter: Verifier) -> None:
    mallory = Signer.generate("PeterNeumann")  # same name, another key (so another id)
    forged = note.sign(TEXT, [mallory])
    with pytest.raises(UnverifiedNote):
        note.open(forged, [peter])
    # Mallory's signature presented under Peter's key id: checked with Peter's key, refused.
    sig = base64.b64decode(forged.decode().rsplit(" ", 1)[1].strip())
    line = f"\u2014 PeterNeumann {base64.b64encode(bytes.fromhex('c74f20a3') + sig[4:]).decode()}\n"
    with pytest.raises(InvalidNoteSignature):
        note.open(msg(TEXT, "\n", line), [peter])
    # Peter's signature under another name: not Peter's key.
    with pytest.raises(UnverifiedNote):
        note.open(msg(TEXT, "\n", PETER_SIG.replace("PeterNeumann", "CarmenSandiego")), [peter])


def test_a_note_with_an_extra_unknown_signature_opens_with_the_known_one(peter: Verifier) -> None:
    witness = Signer.generate("witness.example/w1")
    cosigned = note.sign(TEXT, [Signer.parse(PETER_SKEY), witness])
    opened = note.open(cosigned, [peter])
    assert opened.signatures == (PETER,)
    assert [(s.name, s.key_id) for s in opened.unverified] == [(witness.name, witness.key_id)]


@pytest.mark.parametrize(
    "bad",
    [
        # Go's badMsgs.
        msg(TEXT),
        msg(TEXT, "\n"),
        msg(TEXT, "\n", PETER_SIG[:-1]),
        b"\x01" + msg(TEXT, "\n", PETER_SIG),
        b"\xff" + msg(TEXT, "\n", PETER_SIG),
        msg(TEXT, "\n", f"\u2014 Bad Name {PETER_B64}"),
        msg(TEXT, "\n", PETER_SIG, "Unexpected line.\n"),
        # And ours.
        msg(TEXT, "\n", f"\u2014 Bad Name {PETER_B64}\n"),
        msg(TEXT, PETER_SIG),  # no blank line before the signatures
        msg(TEXT.rstrip("\n"), "\n", PETER_SIG),  # the text does not end in a newline...
        msg(TEXT, "\n", PETER_SIG.replace("\u2014", "-")),  # a hyphen, not an em dash
        msg(TEXT, "\n", PETER_SIG.replace("\u2014 ", "\u2014")),
        msg(TEXT, "\n", PETER_SIG.replace(" ", "  ", 1)),
        msg(TEXT, "\n", PETER_SIG.replace(PETER_B64, PETER_B64[:-3] + "AN=")),  # not canonical
        msg(TEXT, "\n", PETER_SIG.replace(PETER_B64, PETER_B64[:-1])),  # bad padding
        msg(TEXT, "\n", PETER_SIG.replace(PETER_B64, "")),
        msg(TEXT, "\n", PETER_SIG.replace(PETER_B64, "x08gow==")),  # the key id alone
        msg(TEXT, "\n", PETER_SIG.replace(PETER_B64, PETER_B64 + " ")),
        msg(TEXT, "\n", PETER_SIG, "\n"),  # a blank line after the signatures
        msg(TEXT, "\n", PETER_SIG.replace("\n", "\r\n")),
        msg(TEXT.replace("problem,", "problem,\t"), "\n", PETER_SIG),
        b"\xed\xa0\x80" + msg(TEXT, "\n", PETER_SIG),  # a UTF-8-encoded surrogate
        b"",
    ],
)
def test_malformed_notes_are_refused(bad: bytes, peter: Verifier) -> None:
    with pytest.raises(MalformedNote):
        note.open(bad, [peter])


def test_texts_with_blank_lines_round_trip() -> None:
    signer = Signer.generate("example.com/log")
    for text in ["\n", "a\n\nb\n", "a\n\n", "a\n\n\n", f"a\n\n{PETER_SIG}", "ed è subito sera.\n"]:
        opened = note.open(note.sign(text, [signer]), [signer.verifier])
        assert opened.text == text


@pytest.mark.parametrize("text", ["", "abc", "a\tb\n", "a\rb\n", "\x00\n", "\ud800\n"])
def test_sign_refuses_a_text_that_would_not_open(text: str) -> None:
    with pytest.raises(MalformedNote):
        note.sign(text, [Signer.parse(PETER_SKEY)])


def test_sign_needs_signers_and_each_key_once() -> None:
    peter = Signer.parse(PETER_SKEY)
    with pytest.raises(ValueError, match="at least one"):
        note.sign(TEXT, [])
    with pytest.raises(ValueError, match="same key"):
        note.sign(TEXT, [peter, Signer.parse(PETER_SKEY)])


def test_every_note_error_is_a_keys_error() -> None:
    from keys.errors import KeysError

    for error in (MalformedNote, MalformedCheckpoint, MalformedNoteKey, UnverifiedNote):
        assert issubclass(error, NoteError)
    assert issubclass(InvalidNoteSignature, NoteError)
    assert issubclass(CheckpointOriginMismatch, NoteError)
    assert issubclass(NoteError, KeysError)


# -- checkpoints -------------------------------------------------------------------------------


ROOT = hashlib.sha256(b"root").digest()
ROOT64 = base64.b64encode(ROOT).decode()
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
# 32 bytes leave two unused bits in the last character: set the lowest one.
NON_CANONICAL_ROOT64 = ROOT64[:-2] + _ALPHABET[_ALPHABET.index(ROOT64[-2]) ^ 1] + "="
URLSAFE_ROOT64 = base64.urlsafe_b64encode(ROOT).decode()


def test_the_c2sp_example_checkpoint_parses_and_writes_back() -> None:
    cp = Checkpoint.parse(SOFA)
    assert cp.origin == "example.com/behind-the-sofa"
    assert cp.size == 20852163
    assert cp.root_hash == base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
    assert cp.extensions == ()
    assert cp.body() == SOFA


def test_checkpoint_body_and_extensions_round_trip() -> None:
    cp = Checkpoint("vault.example.nl/audit", 0, ROOT, ("ext one", "— two"))
    assert cp.body() == (
        f"vault.example.nl/audit\n0\n{base64.b64encode(ROOT).decode()}\next one\n— two\n"
    )
    assert Checkpoint.parse(cp.body()) == cp


def test_a_signed_checkpoint_opens_for_its_log() -> None:
    signer = Signer.generate("vault.example.nl/audit")
    cp = Checkpoint("vault.example.nl/audit", 1048576, ROOT)
    signed = note.sign_checkpoint(cp, signer)
    assert signed.startswith((cp.body() + "\n\u2014 vault.example.nl/audit ").encode())
    assert note.open_checkpoint(signed, signer.verifier, "vault.example.nl/audit") == cp


def test_a_checkpoint_of_another_log_is_refused() -> None:
    signer = Signer.generate("other.example/audit")
    signed = note.sign_checkpoint(Checkpoint("other.example/audit", 5, ROOT), signer)
    with pytest.raises(CheckpointOriginMismatch):
        note.open_checkpoint(signed, signer.verifier, "vault.example.nl/audit")


def test_a_checkpoint_signed_by_another_key_is_refused() -> None:
    log = Signer.generate("vault.example.nl/audit")
    mallory = Signer.generate("vault.example.nl/audit")
    signed = note.sign_checkpoint(Checkpoint("vault.example.nl/audit", 5, ROOT), mallory)
    with pytest.raises(UnverifiedNote):
        note.open_checkpoint(signed, log.verifier, "vault.example.nl/audit")


def test_a_tampered_checkpoint_is_refused() -> None:
    log = Signer.generate("vault.example.nl/audit")
    signed = note.sign_checkpoint(Checkpoint("vault.example.nl/audit", 5, ROOT), log)
    with pytest.raises(InvalidNoteSignature):
        note.open_checkpoint(signed.replace(b"\n5\n", b"\n6\n"), log.verifier, log.name)


def test_a_witnessed_checkpoint_still_opens() -> None:
    log = Signer.generate("vault.example.nl/audit")
    witness = Signer.generate("witness.example/w1")
    cp = Checkpoint("vault.example.nl/audit", 7, ROOT)
    signed = note.sign(cp.body(), [log, witness])
    assert note.open_checkpoint(signed, log.verifier, log.name) == cp


def test_a_signed_note_that_is_not_a_checkpoint_is_refused() -> None:
    peter = Signer.parse(PETER_SKEY)
    with pytest.raises(MalformedCheckpoint):
        note.open_checkpoint(note.sign(TEXT, [peter]), peter.verifier, "PeterNeumann")


def test_sign_checkpoint_refuses_a_key_of_another_name() -> None:
    with pytest.raises(ValueError, match="does not sign for log"):
        note.sign_checkpoint(Checkpoint("a.example/log", 1, ROOT), Signer.generate("b.example/log"))


@pytest.mark.parametrize(
    "size", ["01", "00", "-1", "+1", "1.0", "1e3", " 1", "1 ", "", "1_000", "0x10", "١٢", "１"]
)
def test_bad_sizes_are_refused(size: str) -> None:
    with pytest.raises(MalformedCheckpoint):
        Checkpoint.parse(f"log.example\n{size}\n{ROOT64}\n")


def test_size_bounds() -> None:
    assert Checkpoint.parse(f"log.example\n0\n{ROOT64}\n").size == 0
    assert Checkpoint.parse(f"log.example\n{2**64 - 1}\n{ROOT64}\n").size == 2**64 - 1
    for size in (str(2**64), "9" * 21, "9" * 5000):
        with pytest.raises(MalformedCheckpoint):
            Checkpoint.parse(f"log.example\n{size}\n{ROOT64}\n")


@pytest.mark.parametrize(
    "root",
    [
        base64.b64encode(ROOT[:31]).decode(),
        base64.b64encode(ROOT + b"\x00").decode(),
        base64.b64encode(hashlib.sha512(b"x").digest()).decode(),
        "",
        ROOT64.rstrip("="),
        NON_CANONICAL_ROOT64,  # the same bytes, encoded with stray trailing bits
        URLSAFE_ROOT64,  # base64url is not base64
        ROOT.hex(),
    ],
)
def test_a_root_hash_that_is_not_32_bytes_of_base64_is_refused(root: str) -> None:
    with pytest.raises(MalformedCheckpoint):
        Checkpoint.parse(f"log.example\n3\n{root}\n")


@pytest.mark.parametrize(
    "text",
    [
        f"log.example\n3\n{ROOT64}",  # no final newline
        "log.example\n3\n",
        "log.example\n",
        "",
        f"\n3\n{ROOT64}\n",  # empty origin
        f"log.example\n3\n{ROOT64}\n\n",  # an empty extension line
        f"log.example\n3\n{ROOT64}\n\next\n",
        f"log.example\n\n3\n{ROOT64}\n",
        f"log.example\t\n3\n{ROOT64}\n",
        f"log.example\n3\n{ROOT64}\nex\x7ft\x01\n",
    ],
)
def test_malformed_checkpoint_texts_are_refused(text: str) -> None:
    with pytest.raises(MalformedCheckpoint):
        Checkpoint.parse(text)


@pytest.mark.parametrize(
    ("origin", "size", "root", "extensions"),
    [
        ("", 1, ROOT, ()),
        ("a\nb", 1, ROOT, ()),
        ("log", -1, ROOT, ()),
        ("log", 2**64, ROOT, ()),
        ("log", True, ROOT, ()),
        ("log", 1, ROOT[:31], ()),
        ("log", 1, ROOT64, ()),
        ("log", 1, ROOT, ("",)),
        ("log", 1, ROOT, ("a\nb",)),
        ("log", 1, ROOT, ["list"]),
    ],
)
def test_a_checkpoint_that_could_not_be_read_back_cannot_be_made(
    origin: str, size: int, root: bytes, extensions: tuple[str, ...]
) -> None:
    with pytest.raises(MalformedCheckpoint):
        Checkpoint(origin, size, root, extensions)


def test_the_test_tables_mangle_for_real() -> None:
    assert base64.b64decode(NON_CANONICAL_ROOT64) == ROOT
    assert NON_CANONICAL_ROOT64 != ROOT64
    assert URLSAFE_ROOT64 != ROOT64


def test_everything_in_all_exists() -> None:
    assert [name for name in note.__all__ if not hasattr(note, name)] == []
