"""Engines for the two supported databases: SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url


def build_engine(url: str, *, pool_size: int = 10, echo: bool = False) -> Engine:
    """An engine tuned for `url`'s dialect."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(
            url,
            echo=echo,
            # One engine serves the threadpool; SQLite connections are used by one thread at a time.
            connect_args={"check_same_thread": False, "timeout": 15},
        )
        _sqlite_proper_transactions(engine)
        return engine
    if parsed.get_backend_name() == "postgresql":
        return create_engine(
            url,
            echo=echo,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_pre_ping=True,
        )
    raise ValueError(
        f"unsupported database {parsed.get_backend_name()!r}: use sqlite or postgresql"
    )


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
    single-node embedded default (PostgreSQL is the production database).
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
        conn.exec_driver_sql("BEGIN IMMEDIATE")
