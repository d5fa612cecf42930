"""Engines for the two supported databases: SQLite (embedded default) and PostgreSQL.

Two engines per process on the same database: the sync engine the resident side, the CLI and
the background workers use, and the async engine (psycopg async, aiosqlite) the data API and
the token endpoint use (ADR 0001). Neither pings a connection before each checkout: a
connection that died is found by the statement that uses it, SQLAlchemy then discards the
pool's stale connections, and the unit of work turns the error into `StorageUnavailable`
(503 problem+json). The next request connects afresh.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

_SQLITE_CONNECT = {"check_same_thread": False, "timeout": 15}


@dataclass(frozen=True, slots=True)
class Timeouts:
    """PostgreSQL session limits for a server's connections, so that no statement and no
    forgotten transaction can hold a worker or its locks for ever: `statement` (a statement
    running longer is cancelled: the request gets 503) and `idle_in_transaction` (a session
    left idle inside a transaction is ended, which releases its locks). The CLI's engines
    (migrations) have none: a migration may rightly take long."""

    statement_seconds: float
    idle_in_transaction_seconds: float


def _with_timeouts(url: URL, timeouts: Timeouts | None) -> URL:
    """`url` with the libpq `options` that set the limits for every connection it opens (kept
    beside options already there, such as a test's search_path); no extra round trip."""
    if timeouts is None:
        return url
    given = url.query.get("options", "")
    options = " ".join(
        part
        for part in (
            given if isinstance(given, str) else " ".join(given),
            f"-c statement_timeout={int(timeouts.statement_seconds * 1000)}",
            "-c idle_in_transaction_session_timeout="
            f"{int(timeouts.idle_in_transaction_seconds * 1000)}",
        )
        if part
    )
    return url.update_query_dict({"options": options})


def build_engine(
    url: str, *, pool_size: int = 10, echo: bool = False, timeouts: Timeouts | None = None
) -> Engine:
    """An engine tuned for `url`'s dialect (`timeouts`: PostgreSQL only)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(
            url,
            echo=echo,
            # One engine serves the threadpool; SQLite connections are used by one thread at a time.
            connect_args=_SQLITE_CONNECT,
        )
        _sqlite_proper_transactions(engine)
        return engine
    if parsed.get_backend_name() == "postgresql":
        return create_engine(
            _with_timeouts(parsed, timeouts), echo=echo, pool_size=pool_size, max_overflow=pool_size
        )
    raise ValueError(
        f"unsupported database {parsed.get_backend_name()!r}: use sqlite or postgresql"
    )


def build_async_engines(
    url: str, *, pool_size: int = 10, echo: bool = False, timeouts: Timeouts | None = None
) -> tuple[AsyncEngine, AsyncEngine | None]:
    """(the async engine, an async engine for reads or None): on PostgreSQL the reader's
    connections are in autocommit mode (a statement is its own snapshot, with no BEGIN and
    ROLLBACK round trips); on SQLite reads use the one engine in deferred transactions."""
    engine = build_async_engine(url, pool_size=pool_size, echo=echo, timeouts=timeouts)
    if engine.dialect.name != "postgresql":
        return engine, None
    reader = build_async_engine(
        url, pool_size=pool_size, echo=echo, autocommit=True, timeouts=timeouts
    )
    return engine, reader


def build_async_engine(
    url: str,
    *,
    pool_size: int = 10,
    echo: bool = False,
    autocommit: bool = False,
    timeouts: Timeouts | None = None,
) -> AsyncEngine:
    """The async engine for the same database `build_engine(url)` reaches.

    PostgreSQL: psycopg 3 in async mode (the same `postgresql+psycopg` URL). The pool is not
    allowed to overflow: under load, requests queue for one of `pool_size` connections
    instead of opening and closing extra backends (each one a PostgreSQL fork). SQLite:
    aiosqlite, with the same pragmas and IMMEDIATE write transactions as the sync engine.
    """
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        engine = create_async_engine(
            parsed.set(drivername="sqlite+aiosqlite"), echo=echo, connect_args=_SQLITE_CONNECT
        )
        _sqlite_proper_transactions(engine.sync_engine)
        return engine
    if backend == "postgresql":
        return create_async_engine(
            _with_timeouts(parsed.set(drivername="postgresql+psycopg"), timeouts),
            echo=echo,
            pool_size=pool_size,
            max_overflow=0,
            pool_timeout=10,
            **({"isolation_level": "AUTOCOMMIT"} if autocommit else {}),
        )
    raise ValueError(f"unsupported database {backend!r}: use sqlite or postgresql")


def _sqlite_proper_transactions(engine: Engine) -> None:
    """Let SQLAlchemy, not pysqlite, decide when transactions begin.

    pysqlite's own transaction handling breaks SAVEPOINT and defers BEGIN until the first
    write; this is the recipe from SQLAlchemy's SQLite dialect documentation
    ("Serializable isolation / Savepoints / Transactional DDL"). Foreign keys are off by
    default in SQLite, and WAL lets readers work while one writer commits.

    Transactions begin IMMEDIATE: a deferred transaction that has read cannot become a writer
    once another connection has committed (SQLITE_BUSY_SNAPSHOT, which the busy timeout does
    not cover), so under concurrent writes it would fail at once. IMMEDIATE makes writers
    queue on the busy timeout instead; our transactions are short, and SQLite is the
    single-node embedded default (PostgreSQL is the production database). A read-only unit
    of work (execution option `regie_read_only`, vault/storage/async_uow.py) begins DEFERRED:
    it never writes, so it need not queue behind writers.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        read_only = conn.get_execution_options().get("regie_read_only", False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")
