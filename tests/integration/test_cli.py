"""The `regie` command line through typer's runner, on a real SQLite database."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clients.cli.main import app


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key in list(__import__("os").environ):
        if key.startswith("REGIE_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("REGIE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("REGIE_MODE", "development")
    monkeypatch.setenv("REGIE_KEK_RETIRE_GRACE_SECONDS", "0")
    return tmp_path / "data"


runner = CliRunner()


def test_migrate_creates_the_database(env: Path) -> None:
    result = runner.invoke(app, ["migrate"])
    assert result.exit_code == 0, result.output
    assert "(was empty)" in result.output
    assert (env / "regie.db").exists()
    again = runner.invoke(app, ["migrate"])
    assert "(was 0" in again.output  # at a revision already (not "was empty")


def test_keys_status_rotate_retire(env: Path) -> None:
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    status = runner.invoke(app, ["keys", "status", "--json"])
    assert status.exit_code == 0, status.output
    body = json.loads(status.output)
    assert body["backend"] == "local"
    assert body["current_version"] == 1
    assert {k["alg"] for k in body["signing_keys"]} == {"ES256", "Ed25519"}
    assert stat.S_IMODE((env / "keyring.json").stat().st_mode) == 0o600

    rotated = runner.invoke(app, ["keys", "rotate", "--json"])
    assert rotated.exit_code == 0, rotated.output
    outcome = json.loads(rotated.output)
    assert outcome["current_version"] == 2
    assert outcome["not_retired"] == {}

    signing = runner.invoke(app, ["keys", "rotate-signing", "--json"])
    assert signing.exit_code == 0, signing.output
    new_kids = json.loads(signing.output)["new_signing_kids"]
    assert len(new_kids) == 2
    after = json.loads(runner.invoke(app, ["keys", "status", "--json"]).output)
    assert after["current_version"] == 2  # signing rotation leaves the KEK alone
    assert set(new_kids) <= {k["kid"] for k in after["signing_keys"]}
    assert len(after["signing_keys"]) == 4  # the old ones stay published for now

    refused = runner.invoke(app, ["keys", "retire", "2"])
    assert refused.exit_code == 1
    assert "current" in refused.output

    retired = runner.invoke(app, ["keys", "retire", "1"])
    assert retired.exit_code == 0, retired.output
    versions = json.loads(runner.invoke(app, ["keys", "status", "--json"]).output)["versions"]
    assert [(v["version"], v["state"]) for v in versions] == [(1, "retired"), (2, "active")]
    table = runner.invoke(app, ["keys", "status"])
    assert "2 (current)" in table.output


def test_serve_refuses_unsafe_production_settings(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REGIE_MODE", "production")
    monkeypatch.setenv("REGIE_PUBLIC_URL", "http://vault.example.nl")
    result = runner.invoke(app, ["serve"])
    assert result.exit_code == 1
    assert "refusing to start in production mode" in result.output


def test_serve_refuses_an_unmigrated_database(env: Path) -> None:
    result = runner.invoke(app, ["serve"])
    assert result.exit_code == 1
    assert "regie migrate" in result.output


def _stamp(env: Path, revision: str) -> None:
    import sqlite3

    with sqlite3.connect(env / "regie.db") as db:
        db.execute("UPDATE alembic_version SET version_num = ?", (revision,))


def test_serve_and_migrate_refuse_a_database_migrated_by_a_newer_regie(env: Path) -> None:
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    _stamp(env, "9999_from_the_future")
    for command in (["serve"], ["migrate"]):
        result = runner.invoke(app, command)
        assert result.exit_code == 1, result.output
        assert "9999_from_the_future" in result.output
        # Rich wraps at the terminal width, so where a line breaks depends on the revision id.
        assert "newer Regie" in " ".join(result.output.split())
    # Nothing was changed: the stamp is still there.
    import sqlite3

    with sqlite3.connect(env / "regie.db") as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchone() == (
            "9999_from_the_future",
        )


def test_serve_refuses_a_database_behind_the_code(env: Path) -> None:
    from vault.storage.migrate import head_revision

    assert runner.invoke(app, ["migrate"]).exit_code == 0
    _stamp(env, "0001")
    result = runner.invoke(app, ["serve"])
    assert result.exit_code == 1, result.output
    assert f"at migration 0001, not {head_revision()}: run `regie migrate`" in result.output


def test_bad_configuration_is_one_clear_line(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGIE_PUBLIC_URL", "not a url")
    result = runner.invoke(app, ["migrate"])
    assert result.exit_code == 1
    assert "Configuration error" in result.output


def test_retire_says_why_it_retired_nothing(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGIE_KEK_RETIRE_GRACE_SECONDS", "3600")
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    assert runner.invoke(app, ["keys", "status"]).exit_code == 0  # makes KEK version 1
    result = runner.invoke(app, ["keys", "rotate", "--retire"])
    assert result.exit_code == 0, result.output
    assert "KEK version 1 not retired yet" in result.output
    assert "wait 3600 s" in result.output


def test_a_misspelt_setting_is_reported(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGIE_DATABSE_URL", "sqlite:///elsewhere.db")
    result = runner.invoke(app, ["migrate"])
    assert result.exit_code == 0
    assert "REGIE_DATABSE_URL is not a Regie setting" in result.output


def test_an_unusable_key_backend_is_one_clear_line(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REGIE_KEY_BACKEND", "pkcs11")
    monkeypatch.setenv("REGIE_PKCS11_MODULE", "/nonexistent/libpkcs11.so")
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    result = runner.invoke(app, ["keys", "status"])
    assert result.exit_code == 1
    assert "the key backend cannot be used" in result.output
    assert "Traceback" not in result.output


def test_services_add_list_show_rotate_disable(env: Path, tmp_path: Path) -> None:
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    jwks = tmp_path / "jwks.json"
    jwks.write_text(
        json.dumps(
            {
                "keys": [
                    {
                        "kty": "OKP",
                        "crv": "Ed25519",
                        "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
                        "kid": "a",
                    }
                ]
            }
        )
    )
    added = runner.invoke(
        app,
        [
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
            "--datatype",
            "housing.address",
            "--action",
            "read",
            "--jwks",
            str(jwks),
            "--client-id",
            "gemeente-utrecht",
            "--json",
        ],
    )
    assert added.exit_code == 0, added.output
    body = json.loads(added.output)
    assert body["ceiling"] == {
        "datatypes": ["housing.address", "income.benefits"],
        "actions": ["read"],
    }
    assert body["jwks_kids"] == ["a"]
    listed = json.loads(runner.invoke(app, ["services", "list", "--json"]).output)
    assert [s["client_id"] for s in listed] == ["gemeente-utrecht"]
    assert "Gemeente Utrecht" in runner.invoke(app, ["services", "show", "gemeente-utrecht"]).output
    jwks.write_text(
        json.dumps(
            {
                "keys": [
                    {
                        "kty": "OKP",
                        "crv": "Ed25519",
                        "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
                        "kid": "b",
                    }
                ]
            }
        )
    )
    assert (
        runner.invoke(
            app, ["services", "rotate-keys", "gemeente-utrecht", "--jwks", str(jwks)]
        ).exit_code
        == 0
    )
    assert json.loads(
        runner.invoke(app, ["services", "show", "gemeente-utrecht", "--json"]).output
    )["jwks_kids"] == ["b"]
    update = ["services", "update", "gemeente-utrecht"]
    ping = ["--token-delivery-mode", "ping", "--notification-endpoint", "https://u.example/ping"]
    updated = runner.invoke(
        app, [*update, *ping, "--event-endpoint", "https://u.example/ev", "--json"]
    )
    assert updated.exit_code == 0, updated.output
    shown = json.loads(updated.output)
    assert shown["backchannel_token_delivery_mode"] == "ping"
    assert shown["backchannel_client_notification_endpoint"] == "https://u.example/ping"
    assert shown["event_endpoint"] == "https://u.example/ev"
    # Back to poll: the notification endpoint goes with it; and the event endpoint is removed.
    updated = runner.invoke(
        app, [*update, "--token-delivery-mode", "poll", "--no-event-endpoint", "--json"]
    )
    assert updated.exit_code == 0, updated.output
    shown = json.loads(updated.output)
    assert shown["backchannel_token_delivery_mode"] == "poll"
    assert shown["backchannel_client_notification_endpoint"] is None
    assert shown["event_endpoint"] is None
    for refused, message in (
        ([], "nothing to change"),
        (["--token-delivery-mode", "ping"], "notification endpoint"),
        (["--event-endpoint", "https://u.example/ev", "--no-event-endpoint"], "not both"),
        (["--redirect-uri", "https://u.example/cb", "--no-redirect-uris"], "not both"),
        (["--event-endpoint", "http://u.example/ev"], "https"),
    ):
        result = runner.invoke(app, [*update, *refused])
        assert result.exit_code == 1, result.output
        assert message in result.output, result.output
    result = runner.invoke(app, ["services", "update", "no-such-service", "--name", "X"])
    assert result.exit_code == 1, result.output
    assert runner.invoke(app, ["services", "disable", "gemeente-utrecht"]).exit_code == 0
    assert (
        json.loads(runner.invoke(app, ["services", "show", "gemeente-utrecht", "--json"]).output)[
            "status"
        ]
        == "disabled"
    )


def test_services_add_refuses_bad_input(env: Path, tmp_path: Path) -> None:
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    private = tmp_path / "private.json"
    private.write_text(
        json.dumps({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "x", "d": "secret"}]})
    )
    base = ["services", "add", "--name", "X", "--kind", "school", "--datatype", "education.grades"]
    cases = [
        (["--organisation", "oin:123", "--jwks-uri", "https://x.example/jwks"], "organisation"),
        (["--organisation", "kvk:12345678", "--jwks", str(private)], "private key"),
        (["--organisation", "kvk:12345678"], "JWKS or a jwks_uri"),
        (["--organisation", "kvk:12345678", "--jwks-uri", "http://x.example/jwks"], "https"),
    ]
    for extra, message in cases:
        result = runner.invoke(app, [*base, *extra])
        assert result.exit_code == 1, result.output
        assert message in result.output
    bad_type = runner.invoke(
        app,
        [
            "services",
            "add",
            "--name",
            "X",
            "--kind",
            "school",
            "--organisation",
            "kvk:12345678",
            "--datatype",
            "astrology.chart",
            "--jwks-uri",
            "https://x.example/j",
        ],
    )
    assert "unknown datatypes" in bad_type.output
    assert runner.invoke(app, ["services", "show", "nobody"]).exit_code == 1


def test_grants_sweep_once(env: Path) -> None:
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    result = runner.invoke(app, ["grants", "sweep", "--once", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {
        "expired": 0,
        "lapsed": 0,
        "procedures_closed": 0,
        "events_purged": 0,
        "requests_purged": 0,
        "buckets_purged": 0,
        "uploads_purged": 0,
    }


def test_grants_sweep_once_drops_the_rate_limit_buckets_that_are_full_again(env: Path) -> None:
    """`--once` runs the server loop's whole round: also the buckets whose `tat` has passed
    (a full bucket is the same as no row), and not the ones still counting."""
    from sqlalchemy import text

    from api.ratelimit import nanoseconds
    from clients.cli.main import _container

    assert runner.invoke(app, ["migrate"]).exit_code == 0
    c = _container()
    now = nanoseconds(c.clock.now())
    rows = [(b"full-1", now - 10**9), (b"full-2", 1), (b"counting", now + 3600 * 10**9)]
    with c.uow() as uow:
        for bucket, tat in rows:
            uow.session.execute(
                text("INSERT INTO rate_limit_buckets (bucket, tat, granted) VALUES (:b, :t, true)"),
                {"b": bucket.ljust(32, b"\0"), "t": tat},
            )
        uow.commit()
    result = runner.invoke(app, ["grants", "sweep", "--once", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["buckets_purged"] == 2
    with c.uow() as uow:
        left = uow.session.scalars(text("SELECT bucket FROM rate_limit_buckets")).all()
    assert left == [b"counting".ljust(32, b"\0")]
    again = runner.invoke(app, ["grants", "sweep", "--once", "--json"])
    assert json.loads(again.output)["buckets_purged"] == 0
