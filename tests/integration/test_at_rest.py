"""What lies on disk: no plaintext in the database files or a dump; rotation; shredding.

These tests need committed data, so each builds its own database (not the rolled-back
per-test transaction of the other integration tests).
"""

from __future__ import annotations

import shutil
import subprocess
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import ORIGIN, PG_URL, Database, drop_database, new_database
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import SAWarning

from api.app import create_app
from api.bootstrap import build_container
from api.container import Container
from api.settings import Settings
from support.residents import Resident, make_resident, sign_in, sign_up
from vault.errors import VaultError

SECRETS = {
    "name": "Annabel Zwart-Uniekenaam",
    "title": "Zeldzame titel 7f3a",
    "content": "Geheime inhoud 9c2e over metformine",
    "filename": "brief-uniek-4d1b.pdf",
    "file": "Bestandsinhoud 5e6f van de gemeente",
}


@dataclass
class Vault:
    db: Database
    settings: Settings
    container: Container
    client: TestClient
    data_dir: Path


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def vault(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Vault]:
    db = new_database(request.param, tmp_path)
    settings = Settings(
        mode="development",
        data_dir=tmp_path / "var",
        database_url=db.url,
        public_url=ORIGIN,
        kek_retire_grace_seconds=0,
    )
    container = build_container(settings, engine=db.engine)
    with TestClient(create_app(settings, container=container), base_url=ORIGIN) as client:
        yield Vault(db, settings, container, client, tmp_path)
    drop_database(db)


def store_secrets(client: TestClient) -> tuple[Resident, str]:
    anna = sign_up(client, SECRETS["name"])
    made = client.post(
        "/v1/me/records",
        json={
            "category": "health",
            "type": "health.medication",
            "title": SECRETS["title"],
            "content": {"note": SECRETS["content"]},
        },
        headers=anna.headers,
    )
    assert made.status_code == 201
    doc = client.post(
        "/v1/me/records",
        json={
            "category": "documents",
            "type": "documents.letter",
            "title": SECRETS["title"],
            "kind": "file",
        },
        headers=anna.headers,
    ).json()
    uploaded = client.put(
        f"/v1/me/records/{doc['id']}/file",
        content=SECRETS["file"].encode() * 3000,  # several chunks
        headers={
            **anna.headers,
            "Content-Type": "application/pdf",
            "Content-Disposition": f'attachment; filename="{SECRETS["filename"]}"',
        },
    )
    assert uploaded.status_code == 200
    return anna, made.json()["id"]


def checkpoint(vault: Vault) -> None:
    """Move SQLite's write-ahead log into the database file (outside any transaction)."""
    raw = vault.db.engine.raw_connection()
    try:
        raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # type: ignore[union-attr]
    finally:
        raw.close()


def dump(vault: Vault) -> bytes:
    """Every byte the database keeps: the SQLite files, or a pg_dump of the schema."""
    if vault.db.kind == "sqlite":
        checkpoint(vault)
        path = Path(vault.db.url.removeprefix("sqlite:///"))
        return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    if shutil.which("pg_dump") is None:
        pytest.fail("pg_dump is needed to scan PostgreSQL (Debian package postgresql-client)")
    url = PG_URL.replace("postgresql+psycopg://", "postgresql://")
    return subprocess.run(
        ["pg_dump", "--no-owner", "--schema", str(vault.db.schema), "--dbname", url],
        check=True,
        capture_output=True,
    ).stdout


def test_no_plaintext_in_the_stored_database(vault: Vault) -> None:
    store_secrets(vault.client)
    raw = dump(vault)
    # The scan works: clear catalogue codes are found...
    assert b"health.medication" in raw
    # ...and none of what the resident stored is.
    for label, secret in SECRETS.items():
        for form in (secret, secret.lower(), secret.upper()):
            assert form.encode() not in raw, f"{label} found in the {vault.db.kind} database"
    # Nor in the data directory (keyring and anything else written there).
    for path in (vault.data_dir / "var").rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            for label, secret in SECRETS.items():
                assert secret.encode() not in content, f"{label} found in {path.name}"


def test_rotation_rewraps_every_data_key_and_everything_still_opens(vault: Vault) -> None:
    residents = [store_secrets(vault.client) for _ in range(3)]
    rotation = vault.container.key_rotation
    before = rotation.status()
    assert before.data_keys_by_version == {1: 3}
    seen: list[tuple[int, int]] = []
    result = rotation.rotate(
        operator="test-operator", progress=lambda done, total: seen.append((done, total))
    )
    assert result.new_version == 2
    assert result.rewrapped == 3
    assert seen[-1] == (3, 3)
    assert rotation.status().data_keys_by_version == {2: 3}
    assert rotation.retire_unused(operator="test-operator") == [1]
    # Drop cached data keys: what must keep the data readable is the rewrapped key, not a cache.
    for anna, _ in residents:
        vault.container.keys.forget(vault.container.identity.authenticate(anna.token).resident_id)
    for anna, rid in residents:
        record = vault.client.get(f"/v1/me/records/{rid}", headers=anna.headers)
        assert record.status_code == 200
        assert record.json()["content"] == {"note": SECRETS["content"]}
    # Resuming when there is nothing left to do is harmless.
    assert rotation.rotate(operator="test-operator", new_version=False).rewrapped == 0


def test_retiring_a_kek_that_still_wraps_data_keys_is_refused(vault: Vault) -> None:
    from keys.errors import KeyRetirementRefused

    store_secrets(vault.client)
    kek = vault.container.keys.kek
    kek.create_version()  # a new KEK, but nothing rewrapped yet
    with pytest.raises(KeyRetirementRefused, match="still wraps 1 data keys"):
        vault.container.key_rotation.retire(1, operator="test-operator")


def test_deleted_vault_is_gone_and_its_backup_dies_with_the_retired_kek(vault: Vault) -> None:
    from keys.errors import KeysError
    from keys.service import KeyService, WrappedDataKey
    from vault.records.service import content_binding

    anna, rid = store_secrets(vault.client)
    resident_id = vault.container.identity.authenticate(anna.token).resident_id
    record_id = uuid.UUID(rid)
    # The backup: what a dump taken now holds of Anna (her wrapped data key and a ciphertext).
    with vault.container.uow() as uow:
        dek = uow.data_keys.get(resident_id, 1)
        version = uow.records.version(resident_id, record_id, 1)
        assert dek is not None
        assert version is not None
        assert version.content_ct is not None
        backup_key = WrappedDataKey(dek.resident_id, dek.version, dek.kek_version, dek.wrapped)
        backup_ct = version.content_ct
    file_backup = None
    if vault.db.kind == "sqlite":  # also a whole copy of the database file
        db_path = Path(vault.db.url.removeprefix("sqlite:///"))
        checkpoint(vault)
        file_backup = vault.data_dir / "backup.db"
        shutil.copy(db_path, file_backup)

    sign_in(vault.client, anna)  # a fresh passkey sign-in, as deletion demands
    assert vault.client.delete("/v1/me", headers=anna.headers).status_code == 204
    assert vault.client.get("/v1/me", headers=anna.headers).status_code == 401  # sessions ended
    with vault.container.uow() as uow:
        assert uow.data_keys.get(resident_id, 1) is None
        assert uow.records.all(resident_id) == []
        assert uow.residents.get(resident_id).status == "deleted"  # type: ignore[union-attr]

    def backup_opens() -> bool:
        keys = KeyService(kek=vault.container.keys.kek, cache_ttl_seconds=0)
        try:
            plain = keys.data_key(backup_key).open(backup_ct, content_binding(record_id, 1))
        except KeysError:
            return False
        assert SECRETS["content"].encode() in plain
        return True

    def file_backup_opens() -> bool:
        restored = Settings(
            mode="development",
            data_dir=vault.data_dir / "var",
            database_url=f"sqlite:///{file_backup}",
            public_url=ORIGIN,
            dek_cache_ttl_seconds=0,
        )
        c = build_container(restored)
        try:
            c.records.get(resident_id, record_id)
            return True
        except VaultError:
            return False
        finally:
            assert c.engine is not None
            c.engine.dispose()

    # Until the KEK is retired, the backup still opens: that is the documented horizon.
    assert backup_opens()
    assert file_backup is None or file_backup_opens()
    rotation = vault.container.key_rotation
    rotation.rotate(operator="test-operator")
    assert rotation.retire_unused(operator="test-operator") == [1]
    assert not backup_opens()
    assert file_backup is None or not file_backup_opens()


def test_deleting_the_vault_needs_a_recent_passkey_sign_in(vault: Vault) -> None:
    anna, _ = store_secrets(vault.client)
    recovery = vault.client.post("/v1/auth/recovery", json={"code": anna.recovery_codes[0]}).json()
    headers = {"Authorization": f"Bearer {recovery['session_token']}"}
    refused = vault.client.delete("/v1/me", headers=headers)
    assert refused.status_code == 403
    assert refused.json()["type"].endswith("/problems/reauthentication-required")
    assert vault.client.get("/v1/me/records", headers=anna.headers).json()["records"]


def test_alembic_models_and_migrations_agree(vault: Vault) -> None:
    from alembic import command

    from vault.storage.migrate import alembic_config, head_revision

    with vault.db.engine.connect() as conn, warnings.catch_warnings():
        # SQLite's reflection cannot read an index on an expression (ix_event_outbox_finished)
        # and says so; Alembic then leaves it out of the comparison. PostgreSQL's run compares
        # it in full.
        warnings.filterwarnings(
            "ignore", "Skipped unsupported reflection of expression-based index", SAWarning
        )
        warnings.filterwarnings(
            "ignore", "autogenerate skipping metadata-specified expression-based index", UserWarning
        )
        command.check(alembic_config(connection=conn))
        assert (
            conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
            == head_revision()
        )


def test_rotation_is_safe_while_the_server_creates_data_keys(vault: Vault) -> None:
    """A server (its own keyring handle) makes new residents' data keys while the CLI (another
    handle on the same file) rotates; after a resumed run every key is under the new KEK and
    opens, and the old KEK can be retired."""
    import threading

    cli = build_container(vault.settings, engine=vault.db.engine)
    server = vault.container
    made: list[uuid.UUID] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def create_residents() -> None:
        try:
            while not stop.is_set() or len(made) < 20:
                rid = make_resident(server)
                made.append(rid)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    assert server.keys.kek.current_version() == 1  # the first KEK exists before the race
    worker = threading.Thread(target=create_residents)
    worker.start()
    first = cli.key_rotation.rotate(operator="test-operator")
    stop.set()
    worker.join(timeout=60)
    assert not errors, errors
    assert first.new_version == 2
    # --resume picks up keys made meanwhile
    cli.key_rotation.rotate(operator="test-operator", new_version=False)
    assert cli.key_rotation.status().data_keys_by_version == {2: len(made)}
    assert cli.key_rotation.retire_unused(operator="test-operator") == [1]
    fresh = build_container(vault.settings, engine=vault.db.engine)
    with fresh.uow() as uow:
        for rid in made:
            row = uow.data_keys.get(rid, 1)
            assert row is not None
            from keys.service import WrappedDataKey

            fresh.keys.data_key(
                WrappedDataKey(row.resident_id, row.version, row.kek_version, row.wrapped)
            )
