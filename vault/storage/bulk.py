"""Bulk rows on PostgreSQL: COPY into a table, in the caller's transaction.

The sweeper writes thousands of access events and outbox rows per transaction. As one
INSERT per row (an executemany, which psycopg pipelines) the server parses, plans and runs
each row as a statement of its own; as arrays through `unnest` it parses every value twice
(the claims are long JSON texts, quoted inside an array literal). COPY streams the rows in
PostgreSQL's binary format: no statement per row, no text to parse, one round trip per
batch. It runs on the unit of work's own connection, so the rows commit or roll back with
everything else the transaction does (I2), and a row the table refuses (a constraint, a
wrong type) fails the COPY and with it the transaction, with the error SQLAlchemy would
raise for the same failure of a statement (`IntegrityError`, `OperationalError`, ...).

Only the table and column names go into the statement text, and both are constants of the
callers (never input): psycopg quotes them as identifiers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

__all__ = ["copy_rows"]


def copy_rows(
    session: Session,
    table: str,
    columns: Sequence[tuple[str, str]],
    rows: Iterable[Sequence[Any]],
) -> None:
    """COPY `rows` (tuples in the order of `columns`, given as (name, PostgreSQL type)) into
    `table` on `session`'s connection (PostgreSQL only), inside its transaction."""
    driver = session.connection().connection.driver_connection
    if driver is None:  # pragma: no cover - a live session always has its connection
        raise RuntimeError("the session has no database connection")
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
        sql.Identifier(table), sql.SQL(", ").join(sql.Identifier(c) for c, _ in columns)
    )
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            copy.set_types([t for _, t in columns])
            for row in rows:
                copy.write_row(row)
    except psycopg.Error as e:
        # SQLAlchemy's error for the driver's, as a statement run through it would raise:
        # the unit of work turns an unreachable database into `StorageUnavailable`.
        raise DBAPIError.instance(statement.as_string(driver), None, e, psycopg.Error) from e
