"""Every text the app shows exists in Dutch and English, with the same placeholders."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

import clients.app
from clients.app import texts

APP = Path(clients.app.__file__).parent
# t("key" ...) in templates and views; "status." ~ x style keys are checked by prefix.
USED = re.compile(r"""\bt\(\s*["']([a-z0-9_.\-]+)["']""")
PREFIXED = re.compile(r"""\bt\(\s*["']([a-z_]+\.)["']\s*~""")


def used_keys() -> tuple[set[str], set[str]]:
    keys: set[str] = set()
    prefixes: set[str] = set()
    for path in [*APP.glob("templates/*.html"), *APP.glob("*.py")]:
        source = path.read_text()
        keys |= set(USED.findall(source))
        prefixes |= set(PREFIXED.findall(source))
    return keys, prefixes


def test_every_key_used_is_in_the_catalogue() -> None:
    keys, prefixes = used_keys()
    assert len(keys) > 100
    missing = sorted(k for k in keys - set(texts.TEXTS) if not k.endswith("."))
    assert missing == []
    for prefix in prefixes:
        assert any(k.startswith(prefix) for k in texts.TEXTS), prefix


def test_keys_built_from_api_values_cover_every_value() -> None:
    for status in ("requested", "approved", "denied", "lapsed", "ended"):
        assert f"status.{status}" in texts.TEXTS
    for reason in (
        "revoked",
        "relinquished",
        "procedure-closed",
        "expired",
        "token-reuse",
        "vault-deleted",
    ):
        assert f"reason.{reason}" in texts.TEXTS
    for status in ("requested", "approved", "denied", "lapsed", "ended"):
        assert f"history.{status}" in texts.TEXTS


@pytest.mark.parametrize("key", sorted(texts.TEXTS))
def test_both_languages_are_written_and_agree_on_placeholders(key: str) -> None:
    nl, en = texts.TEXTS[key]
    assert nl.strip()
    assert en.strip()
    assert texts.placeholders(nl) == texts.placeholders(en)


def test_no_jargon_in_dutch() -> None:
    banned = ("autorisatie", "intrekken", "ingetrokken", "authenticat", "token", "fout van u")
    for key, (nl, _) in texts.TEXTS.items():
        for word in banned:
            assert word not in nl.lower(), f"{key}: {word}"


def test_dates_read_as_people_write_them() -> None:
    moment = datetime(2027, 2, 1, 9, 5, tzinfo=UTC)
    assert texts.date(moment, "nl") == "1 februari 2027"
    assert texts.date(moment, "en") == "1 February 2027"
    assert texts.date_time(moment, "nl") == "1 februari 2027 om 10:05"  # Dutch winter time
    assert texts.text("home.title", "en", name="Anna") == "Hello Anna"
