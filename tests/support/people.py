"""Three residents and a container on a fake clock, for the people tests (mandates, acting
for someone): Anna (the principal), Pieter Bewind (her representative) and Mallory."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

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


def act(who: Resident, mandate_id: object) -> dict[str, str]:
    """`who`'s headers for a request under `mandate_id` (`Regie-Act-For`)."""
    return {**who.headers, "Regie-Act-For": str(mandate_id)}


def refused(r: Any, reason: str) -> None:
    assert r.status_code == 403, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["reason"] == reason, r.text


def child_of(w: World, parent: Resident, name: str = "Sanne") -> str:
    """A child's vault made by `parent`: the id of the parent's mandate for it."""
    r = w.client.post("/v1/me/people/children", json={"display_name": name}, headers=parent.headers)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def reauthenticate(w: World, who: Resident) -> None:
    """A passkey confirmation of `who`'s session (what destructive steps need)."""
    ceremony = w.client.post("/v1/me/reauthenticate/options", headers=who.headers).json()
    done = w.client.post(
        "/v1/me/reauthenticate/verify",
        headers=who.headers,
        json={
            "flow_id": ceremony["flow_id"],
            "credential": who.passkey.get(ceremony["public_key"]),
        },
    )
    assert done.status_code == 204, done.text


def rid(w: World, who: Resident) -> uuid.UUID:
    """`who`'s resident id (from their session)."""
    return w.c.identity.authenticate(who.token).resident_id


def mandate(w: World, **overrides: object) -> str:
    """Anna's mandate for Pieter (debts and health: read and decide-requests, by default)."""
    made = offer(w, **{"categories": ["debts", "health"], **overrides})
    r = accept(w, w.pieter, made["code"])
    assert r.status_code == 200, r.text
    return str(r.json()["id"])
