"""Backup and restore as docs/operations.md#backup-and-restore tells an operator to do it:
a copy of the keyring and a `pg_dump` of the database, taken while the server runs; restored
into a fresh PostgreSQL cluster and a fresh data directory, the vault opens, the resident
signs in with the passkey they made before, their records open, services are still
registered, the log verifies offline and grows consistently with its checkpoint from before
the backup; a vault deleted before the backup is not in it.

And the horizon of deletion: an *older* backup, from before a vault was deleted, restored
with the keyring as it is after the KEK was rotated and the old one retired, gives no
plaintext of that vault (nor of any other: its data keys were wrapped with the retired KEK).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

import clients.sdk as sdk
from support.residents import Resident, sign_up
from support.server import PostgresCluster, RegieServer, register_clinic

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

CLINIC = "huisarts-de-linde"
MEDICATION = {"metformine": "500 mg, twee keer per dag"}
BRAM_SECRET = {"notitie": "Bram zijn eigen geheim"}
ENV = {"REGIE_AUDIT_INTEGRATE_INTERVAL_SECONDS": "0.2", "REGIE_KEK_RETIRE_GRACE_SECONDS": "0"}


def libpq(url: str) -> str:
    """The SQLAlchemy URL as a libpq one (what pg_dump and pg_restore take)."""
    return url.replace("postgresql+psycopg://", "postgresql://")


def on_database(url: str, database: str) -> str:
    return url.rsplit("/", 1)[0] + f"/{database}"


def run(*command: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, f"{command[0]}: {done.stdout}\n{done.stderr}"


def back_up(server: RegieServer, url: str, into: Path) -> None:
    """The operator's backup job (docs/operations.md): the keyring, then a consistent dump
    of the live database."""
    into.mkdir()
    shutil.copy2(server.tmp / "data" / "keyring.json", into / "keyring.json")  # keeps 0600
    run("pg_dump", "--format=custom", f"--file={into / 'regie.dump'}", libpq(url))


def restore(backup: Path, cluster: PostgresCluster, database: str, tmp: Path) -> RegieServer:
    """A fresh instance from a backup: a new database with the dump restored into it, and a
    data directory holding the keyring copy. `regie serve`'s `regie migrate` finds the schema
    at head and changes nothing."""
    admin = create_engine(cluster.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{database}"'))
    admin.dispose()
    url = on_database(cluster.url, database)
    run("pg_restore", "--no-owner", "--exit-on-error", f"--dbname={libpq(url)}",
        str(backup / "regie.dump"))  # fmt: skip
    data = tmp / "data"
    data.mkdir(parents=True, mode=0o700)
    shutil.copy2(backup / "keyring.json", data / "keyring.json")
    return RegieServer(tmp, database_url=url, env=ENV)


def integrated(server: RegieServer) -> dict[str, Any]:
    """The latest checkpoint, once every committed event is under it."""
    engine = create_engine(server.env["REGIE_DATABASE_URL"])
    deadline = time.monotonic() + 20
    try:
        while True:
            with engine.connect() as conn:
                waiting = conn.scalar(text("SELECT count(*) FROM access_events WHERE seq IS NULL"))
            if waiting == 0:
                break
            assert time.monotonic() < deadline, f"{waiting} events not integrated"
            time.sleep(0.1)
    finally:
        engine.dispose()
    latest: dict[str, Any] = json.loads(server.cli("audit", "checkpoint", "--json").stdout)
    return latest


def write(http: httpx.Client, who: Resident, content: dict[str, str]) -> str:
    made = http.post(
        "/v1/me/records",
        headers=who.headers,
        json={"category": "health", "type": "health.medication", "title": "Medicatie",
              "content": content},
    )  # fmt: skip
    assert made.status_code == 201, made.text
    record_id: str = made.json()["id"]
    return record_id


def sign_in_at(http: httpx.Client, who: Resident, origin: str) -> httpx.Response:
    """The resident's own passkey, used at the restored instance's origin."""
    ceremony = http.post("/v1/auth/passkeys/login/options").json()
    return http.post(
        "/v1/auth/passkeys/login/verify",
        json={"flow_id": ceremony["flow_id"],
              "credential": who.passkey.get(ceremony["public_key"], origin=origin)},
    )  # fmt: skip


def session(signed_in: httpx.Response) -> dict[str, str]:
    assert signed_in.status_code == 200, signed_in.text
    return {"Authorization": f"Bearer {signed_in.json()['session_token']}"}


@pytest.fixture
def clusters() -> Iterator[tuple[PostgresCluster, PostgresCluster]]:
    try:
        with PostgresCluster() as source, PostgresCluster() as fresh:
            yield source, fresh
    except RuntimeError as e:  # the server programs are not installed
        pytest.skip(str(e))


def test_a_backup_restores_and_a_deleted_vault_stays_unreadable(
    tmp_path: Path, clusters: tuple[PostgresCluster, PostgresCluster]
) -> None:
    source, fresh = clusters
    (tmp_path / "live").mkdir()
    server = RegieServer(tmp_path / "live", database_url=source.url, env=ENV)
    with server:
        key = register_clinic(server, tmp_path, CLINIC)
        with httpx.Client(base_url=server.base, timeout=20) as http:
            anna = sign_up(http, "Anna", origin=server.base)
            anna_record = write(http, anna, MEDICATION)
            bram = sign_up(http, "Bram", origin=server.base)
            bram_record = write(http, bram, BRAM_SECRET)
            code = http.post("/v1/me/connection-codes", headers=anna.headers).json()["code"]
            with sdk.ServiceClient(server.base, client_id=CLINIC, key=key) as clinic:
                request = clinic.request_access(
                    clinic.connect(code),
                    datatypes=["health.medication"],
                    actions=["read"],
                    purpose="Controle",
                    procedure=sdk.Procedure("BEH-1", "Controle"),
                )
                (waiting,) = http.get("/v1/me/requests", headers=anna.headers).json()["grants"]
                approve = f"/v1/me/grants/{waiting['id']}/approve"
                assert http.post(approve, json={}, headers=anna.headers).status_code == 200
                grant = clinic.wait(request)
                assert clinic.read_record(grant, anna_record).content == MEDICATION

            # An older backup, while Bram's vault is still there.
            back_up(server, source.url, tmp_path / "backup-old")
            # Bram deletes his vault; then tonight's backup.
            assert http.delete("/v1/me", headers=bram.headers).status_code == 204
            before = integrated(server)
            back_up(server, source.url, tmp_path / "backup")
        # Later the KEK is rotated and the old one retired; keyring backups older than the
        # rotation are deleted, as docs/operations.md asks. This is the keyring that is left.
        rotated = json.loads(server.cli("keys", "rotate", "--retire", "--json").stdout)
        assert rotated["retired_versions"] == [1], rotated
        keyring_now = tmp_path / "keyring-after-retirement.json"
        shutil.copy2(tmp_path / "live" / "data" / "keyring.json", keyring_now)
        verifier = server.cli("audit", "key").stdout.strip()

    # -- tonight's backup into a fresh cluster and data directory --------------------------
    restored = restore(tmp_path / "backup", fresh, "regie", tmp_path / "restored")
    with restored, httpx.Client(base_url=restored.base, timeout=20) as http:
        headers = session(sign_in_at(http, anna, restored.base))
        own = http.get(f"/v1/me/records/{anna_record}", headers=headers)
        assert own.status_code == 200, own.text
        assert own.json()["content"] == MEDICATION
        # Her grant to the clinic came along; she stops it here (a new entry in the log).
        (live,) = http.get("/v1/me/grants", headers=headers).json()["grants"]
        assert (live["id"], live["status"]) == (waiting["id"], "approved")
        stopped = http.post(f"/v1/me/grants/{live['id']}/revoke", json={}, headers=headers)
        assert stopped.status_code == 200, stopped.text
        # Bram's vault was deleted before the backup: no passkey, no record, no data key.
        assert sign_in_at(http, bram, restored.base).status_code == 401
        engine = create_engine(restored.env["REGIE_DATABASE_URL"])
        with engine.connect() as conn:
            left = conn.execute(
                text("SELECT (SELECT count(*) FROM records), (SELECT count(*) FROM data_keys)")
            ).one()
        engine.dispose()
        assert tuple(left) == (1, 1)  # Anna's record and data key only
        listed = json.loads(restored.cli("services", "list", "--json").stdout)
        assert [s["client_id"] for s in listed] == [CLINIC]
        # The log: signed with the same log key, the export verifies offline, and it grows
        # from the checkpoint of before the backup, consistently.
        assert restored.cli("audit", "key").stdout.strip() == verifier
        export, checkpoint = tmp_path / "export.jsonl", tmp_path / "checkpoint"
        after = integrated(restored)
        assert after["size"] > before["size"]  # the revocation, logged here
        restored.cli("audit", "export", "--out", str(export), "--checkpoint-out", str(checkpoint))
        verified = restored.cli(
            "audit", "verify", str(export), "--checkpoint", str(checkpoint), "--key", verifier
        )
        assert "VERIFIED" in verified.stdout, verified.stdout
        proof = json.loads(
            restored.cli("audit", "consistency", str(before["size"]), "--json").stdout
        )
        assert proof["new_size"] >= after["size"]
        assert restored.logged_errors() == []

    # -- the older backup, with the keyring of after the retirement --------------------------
    old = tmp_path / "backup-old"
    shutil.copy2(keyring_now, old / "keyring.json")
    stale = restore(old, fresh, "regie_old", tmp_path / "restored-old")
    with stale, httpx.Client(base_url=stale.base, timeout=20) as http:
        # Bram's passkey is in that backup, so he can sign in; his vault does not open.
        headers = session(sign_in_at(http, bram, stale.base))
        read = http.get(f"/v1/me/records/{bram_record}", headers=headers)
        assert read.status_code == 503, read.text
        assert read.headers["content-type"] == "application/problem+json"
        assert BRAM_SECRET["notitie"] not in read.text
        assert http.get("/v1/me/export", headers=headers).status_code == 503
        assert stale.logged_errors() == []
