"""CI must fail, not skip, when PostgreSQL is required and cannot be reached."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEAD = "postgresql+psycopg://postgres@127.0.0.1:9/test"  # port 9 (discard): nothing listens


def run(required: bool) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGIE_")}
    env["REGIE_TEST_POSTGRES_URL"] = DEAD
    if required:
        env["REGIE_TEST_POSTGRES"] = "required"
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/integration/test_http_surface.py",
            "-k",
            "health",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_unreachable_postgres_fails_when_required() -> None:
    result = run(required=True)
    assert result.returncode != 0, result.stdout
    assert "unreachable" in result.stdout
    assert "REGIE_TEST_POSTGRES=required" in result.stdout
    assert "1 passed" in result.stdout  # the SQLite half still ran


def test_unreachable_postgres_is_skipped_when_not_required() -> None:
    result = run(required=False)
    assert result.returncode == 0, result.stdout
    assert "1 passed, 1 skipped" in result.stdout
