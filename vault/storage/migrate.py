"""Apply and inspect Alembic migrations programmatically."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(*, url: str | None = None, connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if url is not None:
        cfg.attributes["url"] = url
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database to `revision` (one transaction on PostgreSQL)."""
    with engine.begin() as conn:
        command.upgrade(alembic_config(connection=conn), revision)


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def is_known_revision(revision: str) -> bool:
    """Whether this version of Regie has migration `revision` (False: the database was
    migrated by a newer version, whose schema this code must not use or downgrade)."""
    scripts = ScriptDirectory.from_config(alembic_config())
    return any(script.revision == revision for script in scripts.walk_revisions())


def ahead_problem(current: str | None) -> str | None:
    """Why a database at migration `current` is ahead of this code (migrated by a newer
    Regie), or None. Neither `serve` nor `migrate` may touch such a database."""
    if current is None or is_known_revision(current):
        return None
    return (
        f"the database is at migration {current}, which this version of Regie does not"
        f" know (its newest is {head_revision()}): the database was migrated by a newer Regie;"
        " run that version, or restore a backup made for this one"
    )


def schema_problem(current: str | None) -> str | None:
    """Why a database at migration `current` cannot be served by this code, or None."""
    head = head_revision()
    if current == head:
        return None
    return ahead_problem(current) or (
        f"the database is at migration {current or 'none'}, not {head}: run `regie migrate`"
    )
