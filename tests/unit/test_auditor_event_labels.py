"""Every entry name the vault can write has a label on the auditors' pages, in Dutch and
English. The names are collected from the source: every string literal in vault/ and api/
of the form `<family>.<act>` for the families of docs/audit-format.md (they are passed
through helpers, so no one call shape finds them all), and the names built with an
f-string. A new event without a label fails here."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from clients.app import texts

REPO = Path(__file__).resolve().parents[2]
FAMILIES = "audit|auditor|connection|grant|key|log|mandate|procedure|record|service|token|vault"
NAME = re.compile(rf"^({FAMILIES})\.[a-z-]+$")
NOT_EVENTS = {"log.jsonl"}  # a file in the resident's export (vault/records/export.py)
# Names made with an f-string, by where: the statuses each can take.
FORMATTED = {
    "grant": ("approved", "denied", "lapsed", "ended"),  # vault/grants/service.py f"grant.{status}"
    "mandate": ("active", "lapsed", "ended"),  # vault/representation/service.py
}


def names_in_source() -> set[str]:
    found: set[str] = set()
    for path in [*REPO.glob("vault/**/*.py"), *REPO.glob("api/**/*.py")]:
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            value = node.value if isinstance(node, ast.Constant) else None
            if isinstance(value, str) and NAME.match(value) and value not in NOT_EVENTS:
                found.add(value)
    for prefix, statuses in FORMATTED.items():
        found.update(f"{prefix}.{status}" for status in statuses)
    return found


def test_the_collection_finds_the_known_names() -> None:
    found = names_in_source()
    # The collector itself must work: these are written in different ways.
    assert {"record.read", "service.registered", "audit.query", "grant.approved"} <= found
    assert len(found) >= 25, sorted(found)


def test_every_name_the_vault_writes_has_a_label_in_both_languages() -> None:
    missing = sorted(names_in_source() - set(texts.EVENT_LABELS))
    assert not missing, f"no auditor label (clients/app/texts.py EVENT_LABELS) for {missing}"
    for name, (nl, en) in texts.EVENT_LABELS.items():
        assert nl.strip(), name
        assert en.strip(), name
        assert nl != en, name
        assert texts.event_label(name, "nl") == nl
        assert texts.event_label(name, "en") == en
    assert texts.event_label("no.such-name", "nl") is None
