"""PostgreSQL session limits of a server's connections (vault/storage/engine.py `Timeouts`):
a statement that runs too long is cancelled and answered as an outage (503, never a 500 or a
hung worker), a transaction left idle is ended (its locks released), on the sync engine and
both async ones, and the database URL's own options (a search_path) are kept."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ORIGIN, Database, drop_database, new_database
from sqlalchemy import text

from api.bootstrap import build_container
from api.container import Container
from api.settings import Settings
from vault.errors import StorageUnavailable

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg(tmp_path: Path) -> Iterator[Database]:
    db = new_database("postgresql", tmp_path)
    yield db
    drop_database(db)


@pytest.fixture
def c(tmp_path: Path, pg: Database) -> Iterator[Container]:
    settings = Settings(
        mode="development",
        data_dir=tmp_path / "var",
        public_url=ORIGIN,
        database_url=pg.url,
        db_statement_timeout_seconds=1,
        db_idle_in_transaction_seconds=1,
        events_push=False,
        sweep_interval_seconds=0,
        audit_integrate_interval_seconds=0,
    )
    built = build_container(settings)
    yield built
    assert built.engine is not None
    built.engine.dispose()

    async def dispose() -> None:
        for engine in built.async_engines:
            await engine.dispose()

    asyncio.run(dispose())


def test_every_engine_sets_the_limits_and_keeps_the_urls_options(
    c: Container, pg: Database
) -> None:
    assert c.engine is not None
    with c.engine.connect() as conn:
        assert conn.scalar(text("SHOW statement_timeout")) == "1s"
        assert conn.scalar(text("SHOW idle_in_transaction_session_timeout")) == "1s"
        assert conn.scalar(text("SHOW search_path")) == pg.schema

    async def shown() -> list[tuple[str, str, str]]:
        out = []
        for engine in c.async_engines:  # the writer and the autocommit reader
            async with engine.connect() as conn:
                out.append(
                    (
                        await conn.scalar(text("SHOW statement_timeout")),
                        await conn.scalar(text("SHOW idle_in_transaction_session_timeout")),
                        await conn.scalar(text("SHOW search_path")),
                    )
                )
        return out

    assert asyncio.run(shown()) == [("1s", "1s", pg.schema)] * 2


def test_a_statement_over_the_limit_is_cancelled_as_an_outage(c: Container) -> None:
    started = time.monotonic()
    with pytest.raises(StorageUnavailable), c.uow() as uow:
        uow.session.execute(text("SELECT pg_sleep(5)"))
    assert time.monotonic() - started < 4  # cancelled at 1 s, not run to its end


def test_a_transaction_left_idle_is_ended_and_answered_as_an_outage(c: Container) -> None:
    def idle_then_use() -> None:
        with c.uow() as uow:
            uow.session.execute(text("SELECT 1"))  # a transaction is open now
            time.sleep(1.6)
            uow.session.execute(text("SELECT 1"))

    with pytest.raises(StorageUnavailable):
        idle_then_use()
    with c.uow() as uow:  # the pool has let the ended connection go
        assert uow.session.scalar(text("SELECT 1")) == 1


def test_the_clis_engine_has_no_limits(pg: Database) -> None:
    """Migrations may take long: `regie migrate` builds its engine without timeouts."""
    from vault.storage.engine import build_engine

    engine = build_engine(pg.url)
    with engine.connect() as conn:
        assert conn.scalar(text("SHOW statement_timeout")) == "0"
    engine.dispose()
