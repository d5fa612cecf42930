"""The async unit of work: what the data API and the token endpoint run on (ADR 0001).

One connection per unit of work, Core statements only (`vault/storage/queries.py`); nothing
is written unless `commit` is called. A read-only unit of work runs its statements in
autocommit mode on PostgreSQL (no BEGIN/ROLLBACK round trips: each statement is one
snapshot, and the hot path reads with one statement) and in a deferred transaction on SQLite.
An autocommit unit of work is for one statement that is a transaction of its own (the
rate-limit upsert, vault/storage/rate_buckets.py): on PostgreSQL it runs on the writer in
autocommit mode, with no BEGIN/COMMIT round trips; on SQLite it is an ordinary write
transaction (`commit` is still called).

A database that cannot be reached, a connection that died and a pool that stays exhausted
all surface as `StorageUnavailable` (503 problem+json), never as a 500.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, Protocol

from sqlalchemy import CursorResult, Executable
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from vault.errors import StorageUnavailable
from vault.storage.unit_of_work import SessionFactory, unreachable

Parameters = Mapping[str, Any] | Sequence[Mapping[str, Any]] | None
_unreachable = unreachable


class AsyncUnitOfWork(Protocol):
    """One transaction (or, read-only, one snapshot per statement) on one connection."""

    dialect: str  # "postgresql" | "sqlite"

    async def __aenter__(self) -> AsyncUnitOfWork: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def execute(
        self, statement: Executable, parameters: Parameters = None
    ) -> CursorResult[Any]: ...

    async def commit(self) -> None: ...


class AsyncUnitOfWorkFactory(Protocol):
    def __call__(self, *, read_only: bool = False, autocommit: bool = False) -> AsyncUnitOfWork: ...


class SqlAsyncUnitOfWork:
    """`AsyncUnitOfWork` on an `AsyncEngine` (psycopg async, aiosqlite)."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        read_only: bool = False,
        reader: AsyncEngine | None = None,
        autocommit: bool = False,
    ) -> None:
        self._engine = reader if read_only and reader is not None else engine
        # The other engine on the same database: when this one finds the server gone, the
        # other's idle connections are gone too.
        self._sibling = (engine if self._engine is reader else reader) if reader else None
        self._read_only = read_only
        self.dialect = engine.dialect.name
        # Set per checkout and reset by the pool on return (psycopg: a client-side flag).
        self._autocommit = autocommit and self.dialect == "postgresql"
        self._conn: AsyncConnection | None = None

    async def __aenter__(self) -> SqlAsyncUnitOfWork:
        try:
            conn = await self._engine.connect()
            if self._read_only and self.dialect != "postgresql":
                conn = await conn.execution_options(regie_read_only=True)
            elif self._autocommit:
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        except Exception as e:
            if _unreachable(e):
                raise StorageUnavailable("the database cannot be reached") from e
            raise
        self._conn = conn
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await conn.rollback()
                await conn.close()
            except Exception as e:
                if exc is None and not _unreachable(e):
                    raise
                # The connection is gone; the pool has already discarded it.
        if exc is not None and _unreachable(exc):
            invalidated = isinstance(exc, DBAPIError) and exc.connection_invalidated
            if self._sibling is not None and invalidated:
                # SQLAlchemy has discarded this engine's pool; a fresh one for the other, so
                # that the next request does not meet a dead connection there either.
                await self._sibling.dispose()
            raise StorageUnavailable("the database cannot be reached") from exc

    async def execute(
        self, statement: Executable, parameters: Parameters = None
    ) -> CursorResult[Any]:
        if self._conn is None:
            raise RuntimeError("use the unit of work as `async with`")
        return await self._conn.execute(statement, parameters)

    async def commit(self) -> None:
        if self._conn is None:
            raise RuntimeError("use the unit of work as `async with`")
        await self._conn.commit()


def async_uow_factory(
    engine: AsyncEngine, reader: AsyncEngine | None = None
) -> AsyncUnitOfWorkFactory:
    """Units of work on `engine`; read-only ones on `reader` when given (on PostgreSQL an
    engine whose connections are in autocommit mode from the start, so a checkout sets no
    isolation level)."""

    def factory(*, read_only: bool = False, autocommit: bool = False) -> AsyncUnitOfWork:
        return SqlAsyncUnitOfWork(engine, read_only=read_only, reader=reader, autocommit=autocommit)

    return factory


class BlockingUnitOfWork:
    """`AsyncUnitOfWork` over a Session from a sync session factory: the same Core statements,
    run synchronously inside the coroutine, so it blocks the event loop while the database
    works.

    For tests only: each test runs in one rolled-back connection that the sync services and
    the async hot path must share, and an AsyncEngine cannot share a sync connection.
    `api.bootstrap.build_container` uses it only when handed a session factory, and refuses
    that outside development mode. Production uses `SqlAsyncUnitOfWork`.
    """

    def __init__(self, factory: SessionFactory, *, read_only: bool = False) -> None:
        self._factory = factory
        self._read_only = read_only
        self.dialect = ""

    async def __aenter__(self) -> BlockingUnitOfWork:
        self._session = self._factory()
        bind = self._session.get_bind()
        self.dialect = bind.dialect.name
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self._session.rollback()
        finally:
            self._session.close()
        if exc is not None and _unreachable(exc):
            raise StorageUnavailable("the database cannot be reached") from exc

    async def execute(
        self, statement: Executable, parameters: Parameters = None
    ) -> CursorResult[Any]:
        result: CursorResult[Any] = self._session.connection().execute(statement, parameters)
        return result

    async def commit(self) -> None:
        self._session.commit()


def blocking_uow_factory(factory: SessionFactory) -> AsyncUnitOfWorkFactory:
    def make(*, read_only: bool = False, autocommit: bool = False) -> AsyncUnitOfWork:
        # The test's one rolled-back connection: an autocommit statement commits a savepoint.
        return BlockingUnitOfWork(factory, read_only=read_only)

    return make
