"""The container builds the log key on start-up, from the keyring, under REGIE_LOG_NAME."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Connection
from sqlalchemy.orm import sessionmaker

from api.bootstrap import build_container
from api.container import Container
from api.settings import Settings
from keys.errors import KeyringError
from keys.note import Verifier


def rebuild(settings: Settings, connection: Connection) -> Container:
    factory = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    return build_container(settings, session_factory=factory)


def test_the_log_key_is_made_at_start_up_and_kept(
    settings: Settings, container: Container, connection: Connection
) -> None:
    assert container.log_key.name == "localhost/audit"  # the host of REGIE_PUBLIC_URL
    doc = json.loads(settings.resolved_keyring_path.read_text())
    assert doc["log"]["signer_key"].startswith("PRIVATE+KEY+localhost/audit+")
    vkey = container.log_key.verifier_key
    assert Verifier.parse(vkey).name == "localhost/audit"
    assert rebuild(settings, connection).log_key.verifier_key == vkey


def test_start_up_under_another_log_name_is_refused(
    settings: Settings, container: Container, connection: Connection
) -> None:
    container.log_key.ensure()
    renamed = settings.model_copy(update={"log_name": "vault.example.nl/audit"})
    with pytest.raises(KeyringError, match="REGIE_LOG_NAME=localhost/audit"):
        rebuild(renamed, connection)
