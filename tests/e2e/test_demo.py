"""`regie demo` for real: a subprocess that starts its own vault (uvicorn, temporary SQLite),
plays the mission's story over HTTP and checks itself. The test reads what it printed: every
part's key outcome, the resident's log in sentences (Dutch and English), exit code 0, and
nothing left behind in the temporary directory. The caller's REGIE_* settings do not leak
in (a production mode and an unreachable database here would make the demo fail if they
did). When a step goes otherwise, `regie demo` says so and exits 1."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clients.cli.main import app as cli
from clients.demo import story
from clients.sdk import GrantCache
from support.server import REPO, regie_command

pytestmark = pytest.mark.slow

OUTCOMES = [
    "signed_up",
    "school.writes",
    "school.verified",
    "school.tampered",
    "care.read",
    "care.closed",
    "care.purged",
    "care.refused",
    "home.narrowed",
    "home.read",
    "home.refused",
    "home.revoked",
    "mandate.accepted",
    "mandate.sees",
    "mandate.refused",
    "mandate.writes",
    "mandate.decided",
    "mandate.logged",
    "mandate.stopped",
    "audit.signed_in",
    "audit.verified",
    "audit.tampered",
    "audit.log",
]


def run_demo(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {
        **os.environ,
        "TMPDIR": str(temp),
        "COLUMNS": "200",  # one sentence per line, for the assertions
        "REGIE_MODE": "production",
        "REGIE_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none",
    }
    done = subprocess.run(
        [regie_command(), "demo", *args],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert list(temp.iterdir()) == [], "the demo left its temporary directory behind"
    return done


def test_the_demo_tells_the_story_and_checks_it(tmp_path: Path) -> None:
    done = run_demo(tmp_path)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    out = done.stdout
    checked = re.findall(r"^✓ .*\[([a-z_.]+)\]$", out, flags=re.MULTILINE)
    assert checked == OUTCOMES
    # Each part's key outcome, as printed.
    assert "geschreven door Basisschool De Regenboog (school-regenboog)" in out
    assert "written by Basisschool De Regenboog (school-regenboog)" in out
    assert re.search(r"clears the cache: 1 gone, 0 left", out)
    assert re.search(
        r"read the overview again\. The vault refuses: GrantEnded \(\w+, HTTP 4\d\d\)", out
    )
    assert re.search(
        r"read the payslip\. The vault refuses: AccessDenied \([\w-]+, HTTP 403\)", out
    )
    assert re.search(
        r"open the medication overview anyway\. The vault refuses: "
        r"AccessDenied \(category-not-in-scope, HTTP 403\)",
        out,
    )
    assert "can do nothing more for her: AccessDenied (mandate-ended, HTTP 403)" in out
    assert re.search(r"verifies it offline against the signed checkpoint .*: OK", out)
    # The resident's log, in sentences, Dutch then English.
    assert "Gemeente Voorbeeldstad wilde uw loonstrook bekijken, maar had geen toegang" in out
    assert "Gemeente Voorbeeldstad wanted to view your payslip, but had no access" in out
    assert "Huisartsenpraktijk De Linde heeft uw medicatieoverzicht bekeken" in out
    assert "Basisschool De Regenboog put your grades in your vault" in out
    assert "U heeft de toegang van Gemeente Voorbeeldstad gestopt" in out
    assert re.search(r"Uw betalingsregeling is in uw kluis gezet, .*, gedaan door Jan Bakker", out)
    assert re.search(
        r"Kredietbank Voorbeeldstad was given access .*, done by Jan Bakker for you", out
    )
    assert "All checks passed" in out
    assert "Traceback" not in done.stderr


def test_json_output_for_scripts(tmp_path: Path) -> None:
    done = run_demo(tmp_path, "--json")
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    assert json.loads(done.stdout) == {"ok": True, "outcomes": OUTCOMES}


def test_a_failed_expectation_exits_1_and_says_which(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> list[str]:
        raise story.DemoFailed("the clinic could still read after the treatment was closed")

    monkeypatch.setattr(story, "play", broken)
    result = CliRunner().invoke(cli, ["demo"])
    assert result.exit_code == 1
    assert "the clinic could still read after the treatment was closed" in result.output
    assert "Het verhaal liep niet zoals verwacht" in result.output
    result = CliRunner().invoke(cli, ["demo", "--json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["ok"] is False


def test_the_demo_catches_a_cache_that_is_not_purged(monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo's own check, for real: a receiver that forgets to purge fails the demo."""
    monkeypatch.setattr(GrantCache, "purge", lambda self, grant_id: 0)
    result = CliRunner().invoke(cli, ["demo", "--json"])
    assert result.exit_code == 1, result.output
    assert json.loads(result.stdout) == {
        "ok": False,
        "problem": "the event purged 0 records; 1 left",
    }
