"""Three residents and a container on a fake clock, for the people tests (mandates, acting
for someone): Anna (the principal), Pieter Bewind (her representative) and Mallory."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Connection
from sqlalchemy.orm import sessionmaker

from api.app import create_app
from api.bootstrap import build_container
from api.container import Container
from api.settings import Settings
from support.clock import FakeClock
from support.residents import Resident, sign_up


@dataclass
class World:
    c: Container
    client: TestClient
    clock: FakeClock
    anna: Resident
    pieter: Resident
    mallory: Resident


def world(settings: Settings, connection: Connection) -> Iterator[World]:
    """The body of a `w` fixture (over the `settings` and `connection` fixtures)."""
    clock = FakeClock()
    factory = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    c = build_container(settings, session_factory=factory, clock=clock)
    with TestClient(create_app(settings, container=c), base_url="http://localhost:8000") as client:
        yield World(
            c,
            client,
            clock,
            sign_up(client, "Anna"),
            sign_up(client, "Pieter Bewind"),
            sign_up(client, "Mallory"),
        )


def offer(w: World, **overrides: object) -> dict:  # type: ignore[type-arg]
    body = {
        "categories": ["debts", "income"],
        "actions": ["read", "decide-requests"],
        "valid_until": (w.clock.now() + timedelta(days=365)).isoformat(),
        "label": "Beschermingsbewind",
        **overrides,
    }
    r = w.client.post("/v1/me/people/mandates", json=body, headers=w.anna.headers)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def accept(w: World, who: Resident, code: str):  # type: ignore[no-untyped-def]
    return w.client.post("/v1/me/people/accept", json={"code": code}, headers=who.headers)


def people(w: World, who: Resident) -> dict:  # type: ignore[type-arg]
    r = w.client.get("/v1/me/people", headers=who.headers)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]
