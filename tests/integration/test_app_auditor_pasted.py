"""The checkpoint page takes a checkpoint note the auditor kept: its signature is checked under
the pinned key and the consistency proof from it to the latest is shown, or the page says
exactly why not. Attacks: a tampered root or signature, another log, another key under the
log's name, a signed checkpoint larger than the log, one the vault never stored, one whose
tree the log does not extend, and text that is no note at all."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from test_app_auditor import enrol_in_app, seed
from test_app_pages import csrf_of

from api.container import Container
from keys.note import Checkpoint, Signer, sign_checkpoint


@pytest.fixture
def log(client: TestClient, container: Container) -> Container:
    """A log with checkpoints of 5 and 11 entries (the sixth: the auditor's appointment), and
    the auditor signed in to the pages."""
    seed(container, 5)
    enrol_in_app(client, container)
    seed(container, 5)
    assert container.audit.checkpoint().size == 11
    return container


def paste(client: TestClient, note: str | bytes) -> tuple[int, str]:
    token = csrf_of(client.get("/auditor/checkpoint").text)
    text = note.decode() if isinstance(note, bytes) else note
    response = client.post("/auditor/checkpoint", data={"csrf": token, "note": text})
    return response.status_code, response.text


def signed_by_log(c: Container, size: int, root: bytes) -> str:
    return c.log_key.sign_checkpoint(Checkpoint(c.log_key.name, size, root)).decode()


def other_root(seed_text: str) -> bytes:
    return hashlib.sha256(seed_text.encode()).digest()


def test_an_earlier_checkpoint_is_signed_and_extended_with_the_proof_shown(
    client: TestClient, log: Container
) -> None:
    old = log.audit.checkpoint(5).note
    # As a browser sends a textarea: CRLF line ends, and here without the final newline.
    status, page = paste(client, old.replace("\n", "\r\n").rstrip())
    assert status == 200
    assert "Ja: dit controlepunt van 5 regels is door het logboek ondertekend" in page
    assert "het logboek van 11 regels breidt het uit" in page
    proof = log.audit.consistency(5, 11)
    assert proof.hashes
    assert f"Consistentiebewijs: {len(proof.hashes)} hashes" in page
    for h in proof.hashes:
        assert base64.b64encode(h).decode() in page


def test_the_latest_checkpoint_itself_is_the_same_tree(client: TestClient, log: Container) -> None:
    status, page = paste(client, log.audit.checkpoint().note)
    assert status == 200
    assert "Ja: dit is het laatste controlepunt zelf (11 regels)" in page


def test_a_tampered_root_or_signature_is_a_bad_signature(
    client: TestClient, log: Container
) -> None:
    old = log.audit.checkpoint(5).note
    origin, size, _root, rest = old.split("\n", 3)
    forged_root = "\n".join([origin, size, base64.b64encode(other_root("x")).decode(), rest])
    status, page = paste(client, forged_root)
    assert status == 200
    assert "De handtekening klopt niet met de sleutel van dit logboek." in page
    assert "Ja:" not in page
    name, signature = old.rstrip("\n").rsplit(" ", 1)
    raw = bytearray(base64.b64decode(signature))
    raw[-1] ^= 1
    status, page = paste(client, f"{name} {base64.b64encode(bytes(raw)).decode()}\n")
    assert "De handtekening klopt niet met de sleutel van dit logboek." in page
    # Another key that calls itself the log: its signature is not the log's.
    impostor = Signer.generate(log.log_key.name)
    forged = sign_checkpoint(Checkpoint(log.log_key.name, 5, other_root("y")), impostor)
    status, page = paste(client, forged)
    assert "De handtekening klopt niet met de sleutel van dit logboek." in page


def test_another_logs_checkpoint_is_named_as_such(client: TestClient, log: Container) -> None:
    elsewhere = Signer.generate("elsewhere.example/audit")
    note = sign_checkpoint(Checkpoint("elsewhere.example/audit", 3, other_root("z")), elsewhere)
    status, page = paste(client, note)
    assert status == 200
    assert "Dit controlepunt is van een ander logboek: elsewhere.example/audit." in page
    assert f"controlepunten van {log.log_key.name}" in page


def test_a_signed_checkpoint_larger_than_the_log_is_reported(
    client: TestClient, log: Container
) -> None:
    status, page = paste(client, signed_by_log(log, 20, other_root("future")))
    assert status == 200
    assert "dit controlepunt telt 20 regels: meer dan de 11 regels van het laatste" in page
    assert "size 20 &gt; latest size 11" in page


def test_a_signed_checkpoint_the_vault_never_stored_is_reported(
    client: TestClient, log: Container
) -> None:
    status, page = paste(client, signed_by_log(log, 7, other_root("seven")))
    assert status == 200
    assert "de vault zegt dat hij geen controlepunt van 7 regels heeft" in page


def test_a_signed_checkpoint_the_log_does_not_extend_is_inconsistent(
    client: TestClient, log: Container
) -> None:
    # Size 5 was signed with another root: a split view, or a rewritten log.
    status, page = paste(client, signed_by_log(log, 5, other_root("rewritten")))
    assert status == 200
    assert "Nee: de handtekening klopt, maar het logboek van 11 regels breidt dit" in page
    assert "controlepunt van 5 regels niet uit" in page
    assert "Consistentiebewijs:" in page  # the proof that did not verify is shown
    status, page = paste(client, signed_by_log(log, 11, other_root("split")))
    assert "breidt dit controlepunt van 11 regels niet uit" in page
    assert "another root hash for the same size" in page


@pytest.mark.parametrize(
    "text",
    [
        "hallo",
        "localhost/audit\n5\nnot base64!\n\n— localhost/audit AAAA\n",
        "localhost/audit\n5\n" + base64.b64encode(b"\0" * 32).decode() + "\n",  # no signature
    ],
)
def test_text_that_is_no_signed_checkpoint_is_said_so(
    client: TestClient, log: Container, text: str
) -> None:
    status, page = paste(client, text)
    assert status == 400
    assert "Dit is geen ondertekend controlepunt, of er ontbreekt een stuk." in page


def test_an_empty_or_overlong_paste_gets_a_sentence_at_the_field(
    client: TestClient, log: Container
) -> None:
    status, page = paste(client, "   ")
    assert status == 400
    assert "Plak eerst een controlepunt in het veld." in page
    status, page = paste(client, "x" * 5000)
    assert status == 400
    assert "meer dan 4096 tekens" in page


def test_the_form_needs_the_auditors_session_and_token(client: TestClient, log: Container) -> None:
    note = log.audit.checkpoint(5).note
    refused = client.post("/auditor/checkpoint", data={"csrf": "forged", "note": note})
    assert refused.status_code == 403
    token = csrf_of(client.get("/auditor/checkpoint").text)
    client.cookies.clear()
    anonymous = client.post(
        "/auditor/checkpoint", data={"csrf": token, "note": note}, follow_redirects=False
    )
    assert anonymous.status_code in (303, 403)
    assert "Ja:" not in anonymous.text


@pytest.mark.parametrize(
    "make",
    [
        lambda c: signed_by_log(c, 0, hashlib.sha256(b"").digest()),  # the empty tree
        lambda c: signed_by_log(c, 10**19, other_root("huge")),
        lambda c: signed_by_log(c, 11, other_root("x")) + "— localhost/audit " + "A" * 3000 + "\n",
        lambda c: "\n\n" * 1000,
        lambda c: "\x00\u202e\ufeff\n\n\x00\n",
    ],
    ids=["size-0", "size-1e19", "long-signature-line", "only-blank-lines", "control-characters"],
)
def test_hostile_pastes_get_an_answer_never_a_500(
    client: TestClient, log: Container, make: Callable[[Container], str]
) -> None:
    status, page = paste(client, make(log))
    assert status in (200, 400), page
    assert "controlepunt" in page
