"""Every operator change at the command line is an entry in the verifiable log: `regie
services add|update|disable|rotate-keys`, `regie auditors add|remove`, `regie keys
rotate|retire|rotate-signing`, and `regie audit export` (a read of every resident's entries),
through typer's runner on a real SQLite database. The log with
them verifies offline (`regie audit verify`); a change whose entry cannot be written does not
happen."""

from __future__ import annotations

import getpass
import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from api.bootstrap import build_container
from api.settings import Settings
from clients.cli.main import app

runner = CliRunner()
OPERATOR = "A. Beheer"
JWKS = {
    "keys": [
        {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
            "kid": "a",
        }
    ]
}


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key in list(os.environ):
        if key.startswith("REGIE_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("REGIE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("REGIE_MODE", "development")
    monkeypatch.setenv("REGIE_KEK_RETIRE_GRACE_SECONDS", "0")
    # Signing keys are destroyed once superseded (no publication window), so that
    # `rotate-signing` destroys some on its second run.
    monkeypatch.setenv("REGIE_SIGNING_PUBLISH_SECONDS", "0")
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    (tmp_path / "jwks.json").write_text(json.dumps(JWKS))
    return tmp_path / "data"


def ok(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.output


def add_service(jwks: Path, client_id: str = "gemeente-utrecht", *more: str) -> list[str]:
    return [
        "services",
        "add",
        "--name",
        "Gemeente Utrecht",
        "--organisation",
        "oin:00000001002220647000",
        "--kind",
        "municipality",
        "--datatype",
        "income.benefits",
        "--jwks",
        str(jwks),
        "--client-id",
        client_id,
        *more,
    ]


def operator_entries(data: Path) -> list[dict[str, Any]]:
    """The log's entries by operators, after integrating, from a complete export that
    `regie audit verify` has checked."""
    ok(["audit", "integrate", "--once"])
    export, checkpoint = data.parent / "log.jsonl", data.parent / "checkpoint.txt"
    ok(["audit", "export", "--out", str(export), "--checkpoint-out", str(checkpoint)])
    c = build_container(Settings())
    verified = ok(
        [
            "audit",
            "verify",
            str(export),
            "--checkpoint",
            str(checkpoint),
            "--key",
            c.log_key.verifier_key,
        ]
    )
    assert "verified" in verified.lower(), verified
    lines = [json.loads(line) for line in export.read_text().splitlines()[1:]]
    return [line["entry"] for line in lines if line["entry"]["actor"] == "operator"]


def hashed(name: str) -> str:
    return build_container(Settings()).audit.subject_hash(name)


def test_each_operator_command_is_an_entry_that_verifies(env: Path) -> None:
    jwks = env.parent / "jwks.json"
    added = json.loads(ok([*add_service(jwks), "--json", "--operator", OPERATOR]))
    service_id = added["service_id"]
    ok(["services", "rotate-keys", "gemeente-utrecht", "--jwks", str(jwks), "--operator", OPERATOR])
    ping = ["--token-delivery-mode", "ping", "--notification-endpoint", "https://x.example/ping"]
    ok(["services", "update", "gemeente-utrecht", *ping, "--operator", OPERATOR])
    ok(["services", "disable", "gemeente-utrecht", "--operator", OPERATOR])
    appointed = json.loads(ok(["auditors", "add", "B. Jansen", "--json", "--operator", OPERATOR]))
    ok(["auditors", "remove", appointed["auditor_id"], "--operator", OPERATOR])
    ok(["keys", "status"])  # makes KEK 1 (first use: no one's change)
    ok(["keys", "rotate", "--operator", OPERATOR])  # KEK 1 -> 2
    ok(["keys", "rotate", "--resume", "--operator", OPERATOR])
    ok(["keys", "retire", "1", "--operator", OPERATOR])
    ok(["keys", "rotate-signing", "--operator", OPERATOR])  # nothing past the window yet
    ok(["keys", "rotate-signing", "--operator", OPERATOR])  # the first keys are destroyed

    entries = operator_entries(env)
    assert [(e["name"], e["reason"], e["service_id"]) for e in entries] == [
        ("service.registered", None, service_id),
        ("service.keys-rotated", None, service_id),
        ("service.updated", "mode,ping", service_id),
        ("service.disabled", None, service_id),
        ("auditor.appointed", None, None),
        ("auditor.removed", None, None),
        ("key.rotated", "kek", None),
        ("key.rewrapped", "kek-version=2", None),
        ("key.retired", "kek-version=1", None),
        ("key.rotated", "signing", None),
        ("key.retired", "signing", None),
        ("key.rotated", "signing", None),
    ]
    # The export just made read every resident's entries: it is the operator's entry too.
    [exported] = [e for e in operator_entries(env) if e["name"] == "audit.export"]
    assert (exported["action"], exported["actor_id"]) == ("jsonl", hashed(getpass.getuser()))
    for e in [*entries, exported]:
        # No data subject; the operator's name only as a keyed hash (no plaintext name).
        assert (e["subject"], e["subject_id_type"]) == (None, None)
        assert (e["actor"], e["outcome"], e["status_code"]) == ("operator", "done", "OK")
        assert e["actor_id"] == (hashed(OPERATOR) if e in entries else hashed(getpass.getuser()))
        assert OPERATOR not in json.dumps(e)


def test_the_operator_is_the_os_user_unless_named(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    jwks = env.parent / "jwks.json"
    ok(add_service(jwks, "svc-one"))
    monkeypatch.setenv("REGIE_OPERATOR", "C. Dienst")
    ok(add_service(jwks, "svc-two"))
    ok(add_service(jwks, "svc-three", "--operator", "D. Nacht"))
    assert [e["actor_id"] for e in operator_entries(env)] == [
        hashed(getpass.getuser()),
        hashed("C. Dienst"),
        hashed("D. Nacht"),
    ]


@pytest.mark.parametrize(
    "name", ["", "   ", "x" * 65, "00000000-0000-0000-0000-000000000000", "tab\there\x07"]
)
def test_a_bad_operator_name_changes_nothing(env: Path, name: str) -> None:
    result = runner.invoke(app, [*add_service(env.parent / "jwks.json"), "--operator", name])
    assert result.exit_code == 1, result.output
    assert "operator" in result.output
    assert json.loads(ok(["services", "list", "--json"])) == []


def _refuse_events(data: Path) -> None:
    """The database refuses every new log entry from now on (as a full or broken log would)."""
    db = sqlite3.connect(data / "regie.db")
    db.execute(
        "CREATE TRIGGER refuse_events BEFORE INSERT ON access_events "
        "BEGIN SELECT RAISE(ABORT, 'the log refuses'); END"
    )
    db.commit()
    db.close()


def _state() -> dict[str, Any]:
    return {
        "services": json.loads(ok(["services", "list", "--json"])),
        "auditors": json.loads(ok(["auditors", "list", "--json"])),
        "keys": json.loads(ok(["keys", "status", "--json"])),
    }


def test_a_change_whose_entry_cannot_be_written_does_not_happen(env: Path) -> None:
    jwks = env.parent / "jwks.json"
    ok(add_service(jwks, "svc-live"))
    appointed = json.loads(ok(["auditors", "add", "B. Jansen", "--json"]))
    ok(["keys", "status"])
    ok(["keys", "rotate"])  # KEK 2 is current; KEK 1 could be retired
    before = _state()
    _refuse_events(env)
    for args in (
        add_service(jwks, "svc-new"),
        ["services", "disable", "svc-live"],
        ["services", "rotate-keys", "svc-live", "--jwks", str(jwks)],
        ["auditors", "add", "E. Nieuw"],
        ["auditors", "remove", appointed["auditor_id"]],
        ["keys", "rotate"],
        ["keys", "rotate", "--resume"],
        ["keys", "retire", "1"],
        ["keys", "rotate-signing"],
        ["audit", "export", "--out", str(env.parent / "refused.jsonl")],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 1, (args, result.output)
        assert "Traceback" not in result.output
    assert _state() == before
    assert not (env.parent / "refused.jsonl").exists()


def test_the_changing_commands_speak_json_for_scripts(env: Path) -> None:
    jwks = env.parent / "jwks.json"
    again = json.loads(ok(["migrate", "--json"]))
    assert again["revision"] == again["was"]
    assert again["created_database"] is False
    ok([*add_service(jwks), "--operator", OPERATOR])
    rotated = json.loads(
        ok(["services", "rotate-keys", "gemeente-utrecht", "--jwks", str(jwks), "--json"])
    )
    assert (rotated["client_id"], rotated["jwks_kids"]) == ("gemeente-utrecht", ["a"])
    disabled = json.loads(ok(["services", "disable", "gemeente-utrecht", "--json"]))
    assert disabled["status"] == "disabled"
    appointed = json.loads(ok(["auditors", "add", "B. Jansen", "--json"]))
    removed = json.loads(ok(["auditors", "remove", appointed["auditor_id"], "--json"]))
    assert (removed["auditor_id"], removed["status"]) == (appointed["auditor_id"], "removed")
    ok(["keys", "status"])  # KEK 1
    ok(["keys", "rotate"])  # KEK 2; KEK 1 rewrapped away from
    assert json.loads(ok(["keys", "retire", "1", "--json"])) == {"retired": 1}
