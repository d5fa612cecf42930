"""Alembic environment: runs against the URL given by `vault.storage.migrate` or alembic.ini.

`regie migrate` passes the configured database URL (and, in tests, an open connection) through
`config.attributes`; plain `alembic` commands read `REGIE_DATABASE_URL`.
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Connection

from vault.storage.engine import build_engine
from vault.storage.orm import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.attributes.get("url") or os.environ.get("REGIE_DATABASE_URL")
    if not url:
        raise SystemExit("set REGIE_DATABASE_URL (or use `regie migrate`)")
    engine = build_engine(url)
    try:
        with engine.connect() as conn:
            _run(conn)
            conn.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run against a database")
run_migrations_online()
