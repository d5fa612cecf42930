"""`make run-postgres` on a machine with a PostgreSQL server: it creates the database, migrates
it and serves with two workers; a second run finds the database there and migrates nothing;
SIGTERM stops every process. Run against the local server with a database of the test's own
(dropped at the end)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import PG_URL, require_postgres
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from support.server import REPO, free_port, tail

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture
def database_url() -> Iterator[str]:
    require_postgres()
    name = f"regie_make_{uuid.uuid4().hex[:8]}"
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    yield url
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _make_run_postgres(tmp: Path, url: str, port: int) -> tuple[subprocess.Popen[bytes], Path]:
    venv = Path(sys.executable).parent.parent
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGIE_")}
    env.update(REGIE_DATABASE_URL=url, REGIE_DATA_DIR=str(tmp / "data"), REGIE_RATE_LIMITS="false")
    log = tmp / f"make-{port}.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            # This interpreter's venv, taken as installed (-o): the test must not reinstall it.
            ["make", "--no-print-directory", "-o", f"{venv}/.installed", "run-postgres",
             f"VENV={venv}", f"PORT={port}", "WORKERS=2"],
            cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    return proc, log


def _wait_ready(proc: subprocess.Popen[bytes], log: Path, port: int) -> dict[str, object]:
    deadline = time.monotonic() + 90
    with httpx.Client(base_url=f"http://localhost:{port}", timeout=5) as http:
        while True:
            assert proc.poll() is None, f"make run-postgres exited:\n{tail(log)}"
            with contextlib.suppress(httpx.HTTPError):
                ready = http.get("/readyz")
                started = log.read_text(errors="replace").count("Application startup complete")
                if ready.status_code == 200 and started >= 2:
                    return dict(ready.json())
            assert time.monotonic() < deadline, f"not ready in 90 s:\n{tail(log)}"
            time.sleep(0.3)


def _stop(proc: subprocess.Popen[bytes]) -> int:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        return proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise


def test_make_run_postgres_creates_migrates_and_serves_with_two_workers(
    tmp_path: Path, database_url: str
) -> None:
    port = free_port()
    proc, log = _make_run_postgres(tmp_path, database_url, port)
    try:
        ready = _wait_ready(proc, log, port)
    finally:
        _stop(proc)
    first = log.read_text(errors="replace")
    assert "created the database" in first
    assert "(was empty)" in first
    assert ready["checks"] == {"database": "ok", "keys": "ok"}, ready
    assert first.count("Started server process") >= 2  # two workers, not one
    # The tables are in the database make created, not in SQLite.
    engine = create_engine(database_url)
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM alembic_version")) == 1
    engine.dispose()
    assert not (tmp_path / "data" / "regie.db").exists()

    # Again: the database is there and up to date; nothing is created or migrated.
    log.unlink()
    proc, log = _make_run_postgres(tmp_path, database_url, port)
    try:
        _wait_ready(proc, log, port)
    finally:
        _stop(proc)
    second = log.read_text(errors="replace")
    assert "created the database" not in second
    assert "(was empty)" not in second
