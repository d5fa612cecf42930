"""Configuration: defaults, validation, and the refusal of unsafe settings in production."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from api.settings import Settings, UnsafeSettingsError


def test_defaults_are_the_embedded_vault(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(__import__("os").environ):
        if key.startswith("REGIE_"):
            monkeypatch.delenv(key)
    s = Settings()
    assert s.mode == "production"
    assert s.resolved_database_url.startswith("sqlite:///")
    assert s.resolved_database_url.endswith("/var/regie.db")
    assert s.resolved_keyring_path == Path("var/keyring.json")
    assert s.rp_id == "localhost"
    assert s.max_file_bytes == 25 * 1024 * 1024
    s.assert_safe()  # the embedded default is safe on one's own machine


def test_environment_prefix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("REGIE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("REGIE_PUBLIC_URL", "https://vault.example.nl/")
    s = Settings()
    assert s.resolved_database_url == f"sqlite:///{tmp_path / 'regie.db'}"
    assert s.public_url == "https://vault.example.nl"
    assert s.rp_id == "vault.example.nl"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"key_backend": "unsafe-memory"}, "unsafe-memory"),
        ({"public_url": "http://vault.example.nl"}, "plain HTTP"),
        ({"key_backend": "pkcs11", "pkcs11_pin": SecretStr("1234")}, "PIN"),
        ({"key_backend": "pkcs11"}, "PIN"),
    ],
)
def test_production_refuses_unsafe_settings(changes: dict, reason: str) -> None:
    s = Settings(mode="production", **changes)
    with pytest.raises(UnsafeSettingsError, match=reason):
        s.assert_safe()
    Settings(mode="development", **changes).assert_safe()  # allowed on a developer's machine


def test_production_accepts_https_and_a_real_pin() -> None:
    Settings(
        mode="production",
        public_url="https://vault.example.nl",
        key_backend="pkcs11",
        pkcs11_pin=SecretStr("k3W9-p0ssible-pin"),
    ).assert_safe()


@pytest.mark.parametrize(
    "url", ["ftp://x", "localhost:8000", "https://vault.example.nl/regie", "https://"]
)
def test_public_url_must_be_an_origin(url: str) -> None:
    with pytest.raises(ValidationError):
        Settings(public_url=url)


def test_unknown_settings_are_refused() -> None:
    with pytest.raises(ValidationError):
        Settings(databse_url="sqlite://")  # type: ignore[call-arg]


def test_the_pin_is_not_shown() -> None:
    s = Settings(pkcs11_pin=SecretStr("k3W9-p0ssible-pin"))
    assert "k3W9" not in repr(s)
    assert "k3W9" not in str(s.model_dump())


def test_the_log_name_defaults_to_the_public_host() -> None:
    assert Settings().resolved_log_name == "localhost/audit"
    assert (
        Settings(public_url="https://vault.example.nl:8443").resolved_log_name
        == "vault.example.nl/audit"
    )
    assert Settings(log_name="regie.example/log1").resolved_log_name == "regie.example/log1"


@pytest.mark.parametrize("name", ["", "vault example", "vault+audit", "a\tb"])
def test_a_log_name_must_be_a_note_key_name(name: str) -> None:
    with pytest.raises(ValidationError, match="log_name"):
        Settings(log_name=name)
