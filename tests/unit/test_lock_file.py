"""The Docker image installs requirements.lock: it must pin every runtime dependency of
pyproject.toml at a version the project accepts, each with its hashes (pip --require-hashes)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]


def _locked() -> dict[str, tuple[str, int]]:
    """name -> (version, number of hashes) from the pip-compile output."""
    pins: dict[str, tuple[str, int]] = {}
    current: str | None = None
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if match := re.match(r"^([A-Za-z0-9_.\-]+)==([^\s\\]+)", line):
            current = canonicalize_name(match.group(1))
            pins[current] = (match.group(2), 0)
        elif current and line.strip().startswith("--hash=sha256:"):
            version, hashes = pins[current]
            pins[current] = (version, hashes + 1)
    return pins


def test_every_runtime_dependency_is_locked_within_its_range_with_hashes() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = _locked()
    problems = []
    for spec in project["dependencies"]:
        requirement = Requirement(spec)
        name = canonicalize_name(requirement.name)
        if name not in pins:
            problems.append(f"{requirement.name} is not in requirements.lock (run `make lock`)")
            continue
        version, _ = pins[name]
        if not requirement.specifier.contains(version, prereleases=True):
            problems.append(f"{requirement.name}=={version} is outside {requirement.specifier}")
    problems += [f"{name} has no hash" for name, (_, hashes) in pins.items() if hashes == 0]
    assert not problems, problems


def test_the_lock_names_no_machine_specific_index() -> None:
    text = (ROOT / "requirements.lock").read_text()
    assert "--index-url" not in text
    assert "--extra-index-url" not in text
    assert "--find-links" not in text


def test_the_image_installs_the_lock_with_hashes_checked() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "--require-hashes --wheel-dir /wheels --requirement requirements.lock" in dockerfile
