"""`regie audit ...` through typer's runner on a real SQLite database: integrate, prove,
export, and verify offline — also a log changed behind Regie's back."""

from __future__ import annotations

import json
import os
import sqlite3
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.bootstrap import build_container
from api.settings import Settings
from clients.cli.main import app
from vault.audit.events import AccessEvent, record

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key in list(os.environ):
        if key.startswith("REGIE_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("REGIE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("REGIE_MODE", "development")
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    c = build_container(Settings())
    with c.uow() as uow:
        for i in range(40):
            record(
                uow,
                AccessEvent(
                    resident_id=uuid.uuid4(),
                    name="record.read",
                    outcome="permit",
                    actor="service",
                    service_id=uuid.uuid4(),
                    datatype="education.grades",
                    action="read",
                ),
                datetime(2026, 12, 2, 10, 0, i, tzinfo=UTC),
            )
        uow.commit()
    return tmp_path / "data"


def said(result: object) -> str:
    """What a command printed, with rich's line wrapping undone."""
    return " ".join(getattr(result, "output", "").split())


def ok(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.output


def test_integrate_prove_export_verify(env: Path, tmp_path: Path) -> None:
    assert "integrated 40 events; the log has 40" in ok(["audit", "integrate", "--once"])
    note = ok(["audit", "checkpoint"])
    assert note.split("\n")[:2] == ["localhost/audit", "40"]
    assert "\n\n\u2014 localhost/audit " in note
    key = ok(["audit", "key"]).strip()
    assert key.startswith("localhost/audit+")
    proof = json.loads(ok(["audit", "prove", "17", "--json"]))
    assert (proof["index"], proof["size"]) == (17, 40)
    assert len(proof["hashes"]) == 6
    assert "proof verified" in ok(["audit", "prove", "17"])
    assert json.loads(ok(["audit", "consistency", "40", "--json"]))["hashes"] == []

    export, cp = tmp_path / "log.jsonl", tmp_path / "checkpoint.txt"
    assert "exported 40 entries" in ok(
        ["audit", "export", "--out", str(export), "--checkpoint-out", str(cp)]
    )
    (tmp_path / "log.vkey").write_text(key + "\n")
    verified = ok(
        [
            "audit",
            "verify",
            str(export),
            "--checkpoint",
            str(cp),
            "--key",
            f"@{tmp_path / 'log.vkey'}",
        ]
    )
    assert "VERIFIED" in verified
    assert "40 entries (complete log)" in verified

    # Someone with database access changes a logged event: the next export names it.
    with sqlite3.connect(env / "regie.db") as db:
        db.execute("UPDATE access_events SET datatype = 'health.medication' WHERE seq = 5")
    ok(["audit", "export", "--out", str(export)])
    bad = runner.invoke(
        app, ["audit", "verify", str(export), "--checkpoint", str(cp), "--key", key]
    )
    assert bad.exit_code == 1
    assert "NOT VERIFIED (first bad index: 5)" in said(bad)
    assert "changed" in said(bad)


def test_every_audit_command_speaks_json_for_scripts(env: Path, tmp_path: Path) -> None:
    assert json.loads(ok(["audit", "integrate", "--once", "--json"])) == {
        "integrated": 40,
        "size": 40,
    }
    consistency = ok(["audit", "consistency", "40"])  # for people: a sentence and the hashes
    assert "size 40 is a prefix of the log of size 40 (proof verified)" in consistency
    assert json.loads(ok(["audit", "consistency", "40", "--json"]))["new_size"] == 40
    export, cp = tmp_path / "log.jsonl", tmp_path / "checkpoint.txt"
    exported = json.loads(
        ok(["audit", "export", "--out", str(export), "--checkpoint-out", str(cp), "--json"])
    )
    assert (exported["entries"], exported["out"]) == (40, str(export))
    assert exported["root_hash"] == json.loads(ok(["audit", "checkpoint", "--json"]))["root_hash"]
    key = ok(["audit", "key"]).strip()
    verify = ["audit", "verify", str(export), "--checkpoint", str(cp), "--json"]
    assert json.loads(ok([*verify, "--key", key])) == {
        "verified": True,
        "entries": 40,
        "complete": True,
        "origin": "localhost/audit",
        "size": 40,
    }
    with sqlite3.connect(env / "regie.db") as db:
        db.execute("UPDATE access_events SET datatype = 'health.medication' WHERE seq = 7")
    ok(["audit", "export", "--out", str(export)])
    bad = runner.invoke(app, [*verify, "--key", key])
    assert bad.exit_code == 1
    refused = json.loads(bad.stdout)  # the verdict on standard output, the message on stderr
    assert (refused["verified"], refused["index"]) == (False, 7)
    assert "changed" in refused["detail"]
    missing = runner.invoke(app, [*verify, "--key", f"@{tmp_path / 'no-such.vkey'}"])
    assert missing.exit_code == 1  # a sentence, not a traceback
    assert json.loads(missing.stdout)["verified"] is False
    assert "cannot read the key" in said(missing)


def test_verify_refuses_what_is_not_a_checkpoint_or_key(env: Path, tmp_path: Path) -> None:
    ok(["audit", "integrate", "--once"])
    export, cp = tmp_path / "log.jsonl", tmp_path / "checkpoint.txt"
    ok(["audit", "export", "--out", str(export), "--checkpoint-out", str(cp)])
    key = ok(["audit", "key"]).strip()
    (tmp_path / "junk.txt").write_text("hello\n")
    junk = runner.invoke(
        app,
        ["audit", "verify", str(export), "--checkpoint", str(tmp_path / "junk.txt"), "--key", key],
    )
    assert junk.exit_code == 1
    assert "is not a checkpoint" in said(junk)
    wrong = runner.invoke(
        app, ["audit", "verify", str(export), "--checkpoint", str(cp), "--key", "nonsense"]
    )
    assert wrong.exit_code == 1
    assert "does not verify under this key" in said(wrong)


def test_prove_and_checkpoint_say_what_is_missing(env: Path) -> None:
    none = runner.invoke(app, ["audit", "checkpoint"])
    assert none.exit_code == 1
    assert "no checkpoint yet" in said(none)
    ok(["audit", "integrate", "--once"])
    beyond = runner.invoke(app, ["audit", "prove", "40"])
    assert beyond.exit_code == 1
    assert "not in the checkpoint of size 40" in said(beyond)
