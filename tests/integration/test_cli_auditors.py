"""`regie auditors add|list|remove` through typer's runner, on a real SQLite database; the
code it prints enrols an auditor through the API of the same deployment."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.settings import Settings
from clients.cli.main import app
from support.auditors import enrol
from support.passkeys import SoftPasskey

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key in list(os.environ):
        if key.startswith("REGIE_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("REGIE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("REGIE_MODE", "development")
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    return tmp_path / "data"


def test_add_prints_a_one_time_code_that_enrols_once(env: Path) -> None:
    added = runner.invoke(app, ["auditors", "add", "A. Jansen", "--json"])
    assert added.exit_code == 0, added.output
    body = json.loads(added.output)
    assert body["status"] == "invited"
    assert body["enrol_url"].endswith("/v1/auditor/enrol/options")
    assert body["enrol_page"].endswith("/auditor/enrol")
    expires = datetime.fromisoformat(body["expires_at"])
    assert timedelta(hours=23) < expires - datetime.now(UTC) <= timedelta(hours=24)
    human = runner.invoke(app, ["auditors", "add", "B. de Boer"])
    assert human.exit_code == 0
    assert "shown once" in human.output

    with TestClient(
        create_app(Settings(), resident_app=False), base_url="http://localhost:8000"
    ) as client:
        assert enrol(client, body["code"], SoftPasskey())["status"] == 201
        assert enrol(client, body["code"], SoftPasskey())["status"] == 401

    listed = json.loads(runner.invoke(app, ["auditors", "list", "--json"]).output)
    assert [(a["name"], a["status"], a["passkeys"]) for a in listed] == [
        ("A. Jansen", "active", 1),
        ("B. de Boer", "invited", 0),
    ]
    assert "A. Jansen" in runner.invoke(app, ["auditors", "list"]).output


def test_names_are_unique_and_remove_is_final(env: Path) -> None:
    assert runner.invoke(app, ["auditors", "add", "A. Jansen"]).exit_code == 0
    twice = runner.invoke(app, ["auditors", "add", "A.  Jansen"])
    assert twice.exit_code == 1
    assert "already" in twice.output
    assert runner.invoke(app, ["auditors", "add", " "]).exit_code == 1

    [made] = json.loads(runner.invoke(app, ["auditors", "list", "--json"]).output)
    removed = runner.invoke(app, ["auditors", "remove", made["auditor_id"]])
    assert removed.exit_code == 0, removed.output
    assert runner.invoke(app, ["auditors", "remove", "A. Jansen"]).exit_code == 1
    assert runner.invoke(app, ["auditors", "remove", "Nobody"]).exit_code == 1
    [after] = json.loads(runner.invoke(app, ["auditors", "list", "--json"]).output)
    assert after["status"] == "removed"
