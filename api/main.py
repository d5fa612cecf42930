"""The uvicorn entry point: settings from the environment, a migrated database, the app.

`uvicorn --factory api.main:app_from_environment` (what `regie serve` runs, also with several
workers): each worker builds its own container from the same environment.
"""

from __future__ import annotations

from fastapi import FastAPI

from api.app import create_app
from api.bootstrap import build_container
from api.settings import Settings
from vault.storage.migrate import current_revision, head_revision


class DatabaseNotMigrated(RuntimeError):
    pass


def app_from_environment() -> FastAPI:
    settings = Settings()
    container = build_container(settings)
    if container.engine is not None:
        current, head = current_revision(container.engine), head_revision()
        if current != head:
            raise DatabaseNotMigrated(
                f"the database is at migration {current or 'none'}, this code needs {head}: "
                "run `regie migrate` first"
            )
    return create_app(settings, container=container)
