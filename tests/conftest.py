"""Fixtures shared by the whole suite.

Databases: every test that asks for `db` runs twice, on SQLite and on PostgreSQL. Each
database is built once per session by Alembic (never `create_all`), PostgreSQL in a schema of
its own; each test runs inside a transaction that is rolled back (savepoints make the
services' own commits nest), as warehouse's suite does.

PostgreSQL is found at REGIE_TEST_POSTGRES_URL (default: the local server, database `test`).
When it cannot be reached the PostgreSQL half is skipped, unless REGIE_TEST_POSTGRES=required
(CI), which makes it fail instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.orm import sessionmaker

from api.app import create_app
from api.bootstrap import build_container
from api.container import Container
from api.settings import Settings
from vault.storage.engine import build_engine
from vault.storage.migrate import upgrade

PG_URL = os.environ.get(
    "REGIE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
PG_REQUIRED = os.environ.get("REGIE_TEST_POSTGRES") == "required"
ORIGIN = "http://localhost:8000"
# Most tests sign many residents up from one address in a second: rate limits are off for
# them, and on in the tests of the limits (tests/integration/test_rate_limits.py), which
# pass rate_limits=True. Servers started by tests get REGIE_RATE_LIMITS=false too.
os.environ.setdefault("REGIE_RATE_LIMITS", "false")


@dataclass
class Database:
    kind: str  # sqlite | postgresql
    url: str
    engine: Engine
    schema: str | None = None


def postgres_reachable() -> str | None:
    """None when PostgreSQL answers, else the reason."""
    try:
        engine = create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as e:  # noqa: BLE001 - any failure means unreachable; we report it
        return f"{type(e).__name__}: {e}"


def pg_schema_url(schema: str) -> str:
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options=-csearch_path%3D{schema}"


def require_postgres() -> None:
    reason = postgres_reachable()
    if reason is None:
        return
    message = f"PostgreSQL at {PG_URL} is unreachable: {reason}"
    if PG_REQUIRED:
        pytest.fail(message + " (REGIE_TEST_POSTGRES=required)", pytrace=False)
    pytest.skip(message)


def new_database(kind: str, tmp_dir: Path) -> Database:
    """A freshly migrated database of `kind`; drop it with `drop_database`."""
    if kind == "sqlite":
        url = f"sqlite:///{tmp_dir / f'regie-{uuid.uuid4().hex[:8]}.db'}"
        engine = build_engine(url)
        upgrade(engine)
        return Database(kind, url, engine)
    require_postgres()
    schema = f"regie_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    url = pg_schema_url(schema)
    engine = build_engine(url, pool_size=5)
    upgrade(engine)
    return Database(kind, url, engine, schema)


def drop_database(db: Database) -> None:
    db.engine.dispose()
    if db.schema:
        admin = create_engine(PG_URL)
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{db.schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(
    scope="session", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    db = new_database(request.param, tmp_path_factory.mktemp("db"))
    yield db
    drop_database(db)


@pytest.fixture
def connection(database: Database) -> Iterator[Connection]:
    """One connection in an outer transaction that is rolled back after the test."""
    conn = database.engine.connect()
    outer = conn.begin()
    try:
        yield conn
    finally:
        outer.rollback()
        conn.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        mode="development",
        data_dir=tmp_path / "var",
        public_url=ORIGIN,
        key_backend="local",
        dek_cache_ttl_seconds=60,
        kek_retire_grace_seconds=0,
    )


@pytest.fixture
def container(settings: Settings, connection: Connection) -> Container:
    factory = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    return build_container(settings, session_factory=factory)


@pytest.fixture
def client(settings: Settings, container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(settings, container=container), base_url=ORIGIN) as c:
        yield c
