"""A child's second parent over HTTP: a parent offers the other parent a `parent` mandate
(`POST /v1/me/people/parents` under `Regie-Act-For`), who accepts it with the code and can
then manage the child's vault as fully; the last parent's mandate cannot be ended (the
child's vault could not be opened any more); and nothing given under a parent's mandate
outlasts it. Attacked: without the header, under an ordinary mandate (for the child or for
someone else), the offering parent's own code, another resident's mandate ids."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection

from api.settings import Settings
from support.people import (
    World,
    accept,
    act,
    child_of,
    mandate,
    people,
    reauthenticate,
    refused,
    world,
)
from support.residents import sign_in
from vault.records.catalogue import CATEGORIES

ALL_ACTIONS = ["decide-requests", "read", "write"]


@pytest.fixture
def w(settings: Settings, connection: Connection) -> Iterator[World]:
    yield from world(settings, connection)


def offer_parent(w: World, headers: dict[str, str], label: str = "Tweede ouder") -> Any:
    return w.client.post("/v1/me/people/parents", json={"label": label}, headers=headers)


def second_parent(w: World, parent: str) -> str:
    """Anna (the child's parent, by `parent`) makes Pieter the second parent: his mandate."""
    made = offer_parent(w, act(w.anna, parent))
    assert made.status_code == 201, made.text
    held = accept(w, w.pieter, made.json()["code"])
    assert held.status_code == 200, held.text
    return str(held.json()["id"])


def ordinary_for_child(w: World, parent: str, until: datetime | None = None) -> Any:
    body = {
        "categories": ["health"],
        "actions": ["read"],
        "valid_until": (until or w.clock.now() + timedelta(days=30)).isoformat(),
        "label": "Oppas",
    }
    return w.client.post("/v1/me/people/mandates", json=body, headers=act(w.anna, parent))


def test_a_parent_gives_the_other_parent_the_same_powers(w: World) -> None:
    parent = child_of(w, w.anna)
    own = next(m for m in people(w, w.anna)["acting_for"] if m["id"] == parent)
    made = offer_parent(w, act(w.anna, parent))
    assert made.status_code == 201, made.text
    offered = made.json()["mandate"]
    assert (offered["kind"], offered["status"], offered["label"]) == (
        "parent",
        "offered",
        "Tweede ouder",
    )
    assert (sorted(offered["categories"]), sorted(offered["actions"])) == (
        sorted(CATEGORIES),
        ALL_ACTIONS,
    )
    assert offered["valid_until"] == own["valid_until"]  # the same end: the child's majority
    # The offering parent pasting the code by mistake: refused, and the code is not spent.
    mistake = accept(w, w.anna, made.json()["code"])
    assert mistake.status_code == 422, mistake.text
    held = accept(w, w.pieter, made.json()["code"])
    assert held.status_code == 200, held.text
    second = held.json()["id"]
    assert (held.json()["kind"], held.json()["name"], held.json()["status"]) == (
        "parent",
        "Sanne",
        "active",
    )
    # Pieter now lists Sanne among his children's vaults, and manages it as Anna does:
    # records, the child's mandates (give one, end one), and another parent's mandate.
    assert [m["kind"] for m in people(w, w.pieter)["acting_for"]] == ["parent"]
    r = w.client.post(
        "/v1/me/records",
        json={"category": "health", "type": "health.allergies", "title": "Noten", "content": {}},
        headers=act(w.pieter, second),
    )
    assert r.status_code == 201, r.text
    body = {
        "categories": ["health"],
        "actions": ["read"],
        "valid_until": (w.clock.now() + timedelta(days=30)).isoformat(),
        "label": "Oppas",
    }
    sitter = w.client.post("/v1/me/people/mandates", json=body, headers=act(w.pieter, second))
    assert sitter.status_code == 201, sitter.text
    sitter_id = sitter.json()["mandate"]["id"]
    assert accept(w, w.mallory, sitter.json()["code"]).status_code == 200
    listed = w.client.get("/v1/me/people", headers=act(w.pieter, second)).json()
    assert {m["id"] for m in listed["acting_for_me"]} == {parent, second, sitter_id}
    ended = w.client.post(
        f"/v1/me/people/mandates/{sitter_id}/revoke", headers=act(w.pieter, second)
    )
    assert (ended.json()["status"], ended.json()["end_reason"]) == ("ended", "revoked")
    # The child's log names who did it (as Pieter sees it: his own steps under his mandate).
    texts = [
        e["text_nl"]
        for e in w.client.get("/v1/me/log", headers=act(w.pieter, second)).json()["entries"]
        if e["name"] == "mandate.ended"
    ]
    assert texts
    assert all(t.endswith("gedaan door Pieter Bewind voor u.") for t in texts)


def test_only_a_parent_gives_a_parents_mandate(w: World) -> None:
    parent = child_of(w, w.anna)
    # For one's own vault (no header): there is no parent to be.
    refused(offer_parent(w, w.anna.headers), "not-a-parent")
    # An ordinary representative of Anna's own vault.
    anna_for_pieter = mandate(w, actions=["read", "write", "decide-requests"])
    refused(offer_parent(w, act(w.pieter, anna_for_pieter)), "not-for-representatives")
    # Someone with an ordinary mandate for the child's vault, even with every action.
    made = w.client.post(
        "/v1/me/people/mandates",
        json={
            "categories": sorted(CATEGORIES),
            "actions": ALL_ACTIONS,
            "valid_until": (w.clock.now() + timedelta(days=30)).isoformat(),
        },
        headers=act(w.anna, parent),
    )
    assert made.status_code == 201, made.text
    ordinary = accept(w, w.mallory, made.json()["code"]).json()["id"]
    refused(offer_parent(w, act(w.mallory, ordinary)), "not-for-representatives")
    # Someone else using Anna's parent mandate id, or a made-up one.
    refused(offer_parent(w, act(w.mallory, parent)), "no-mandate")
    refused(offer_parent(w, act(w.anna, uuid.uuid4())), "no-mandate")
    # None of this made an offer.
    listed = w.client.get("/v1/me/people", headers=act(w.anna, parent)).json()["acting_for_me"]
    assert sorted(m["kind"] for m in listed) == ["mandate", "parent"]
    # An ordinary representative never ends a parent's mandate either.
    refused(
        w.client.post(f"/v1/me/people/mandates/{parent}/revoke", headers=act(w.mallory, ordinary)),
        "not-for-representatives",
    )
    # A label over 200 characters is a problem, not a 500.
    long = offer_parent(w, act(w.anna, parent), label="x" * 201)
    assert long.status_code == 422
    assert long.headers["content-type"] == "application/problem+json"


def test_the_second_parent_deletes_the_childs_vault(w: World) -> None:
    parent = child_of(w, w.anna)
    second = second_parent(w, parent)
    reauthenticate(w, w.pieter)
    gone = w.client.delete(f"/v1/me/people/children/{second}", headers=w.pieter.headers)
    assert gone.status_code == 204, gone.text
    refused(w.client.get("/v1/me/records", headers=act(w.anna, parent)), "no-mandate")
    assert parent not in {m["id"] for m in people(w, w.anna)["acting_for"]}


def test_the_last_parent_cannot_leave_the_childs_vault_unmanaged(w: World) -> None:
    parent = child_of(w, w.anna)
    # Alone: neither ending it for the child nor giving it up.
    alone = w.client.post(f"/v1/me/people/mandates/{parent}/revoke", headers=act(w.anna, parent))
    assert alone.status_code == 409, alone.text
    assert alone.headers["content-type"] == "application/problem+json"
    assert "last parent" in alone.json()["detail"]
    given_up = w.client.post(f"/v1/me/people/mandates/{parent}/give-up", headers=w.anna.headers)
    assert given_up.status_code == 409, given_up.text
    # An offer to a second parent that nobody accepted yet does not count.
    waiting = offer_parent(w, act(w.anna, parent))
    assert waiting.status_code == 201
    again = w.client.post(f"/v1/me/people/mandates/{parent}/give-up", headers=w.anna.headers)
    assert again.status_code == 409, again.text
    withdrawn = w.client.post(
        f"/v1/me/people/mandates/{waiting.json()['mandate']['id']}/revoke",
        headers=act(w.anna, parent),
    )
    assert withdrawn.json()["status"] == "ended"
    # With a second parent, one of them may stop; then the other is the last again.
    second = second_parent(w, parent)
    stepped_down = w.client.post(f"/v1/me/people/mandates/{parent}/give-up", headers=w.anna.headers)
    assert stepped_down.status_code == 200, stepped_down.text
    assert stepped_down.json()["end_reason"] == "given-up"
    refused(w.client.get("/v1/me/records", headers=act(w.anna, parent)), "mandate-ended")
    last = w.client.post(f"/v1/me/people/mandates/{second}/revoke", headers=act(w.pieter, second))
    assert last.status_code == 409, last.text
    assert w.client.get("/v1/me/records", headers=act(w.pieter, second)).status_code == 200


def test_a_parent_ends_the_other_parents_mandate_but_not_the_last(w: World) -> None:
    parent = child_of(w, w.anna)
    second = second_parent(w, parent)
    ended = w.client.post(f"/v1/me/people/mandates/{second}/revoke", headers=act(w.anna, parent))
    assert (ended.json()["status"], ended.json()["end_reason"]) == ("ended", "revoked")
    refused(w.client.get("/v1/me/records", headers=act(w.pieter, second)), "mandate-ended")
    own = w.client.post(f"/v1/me/people/mandates/{parent}/revoke", headers=act(w.anna, parent))
    assert own.status_code == 409, own.text
    # Another parent's mandate id is not Pieter's to give up, nor Mallory's to end.
    assert (
        w.client.post(f"/v1/me/people/mandates/{parent}/give-up", headers=w.pieter.headers)
    ).status_code == 404
    assert (
        w.client.post(f"/v1/me/people/mandates/{parent}/revoke", headers=w.mallory.headers)
    ).status_code == 404


def test_nothing_given_for_the_child_outlasts_the_parents_mandate(w: World) -> None:
    parent = child_of(w, w.anna)
    # Fourteen years on, the parent's mandate has some four years left (it ends when Sanne
    # is 18 at the latest); a five-year mandate for her would run past it.
    w.clock.advance(days=14 * 365)
    sign_in(w.client, w.anna)
    own = next(m for m in people(w, w.anna)["acting_for"] if m["id"] == parent)
    end = datetime.fromisoformat(own["valid_until"])
    too_long = ordinary_for_child(w, parent, until=end + timedelta(days=1))
    assert too_long.status_code == 422, too_long.text
    assert too_long.headers["content-type"] == "application/problem+json"
    assert datetime.fromisoformat(too_long.json()["valid_until_max"]) == end
    assert "at the latest" in too_long.json()["detail"]
    exactly = ordinary_for_child(w, parent, until=end)
    assert exactly.status_code == 201, exactly.text
    assert exactly.json()["mandate"]["valid_until"] == own["valid_until"]
    # A second parent's mandate ends with the first's, whenever it is given.
    made = offer_parent(w, act(w.anna, parent))
    assert made.json()["mandate"]["valid_until"] == own["valid_until"]
    # One's own vault keeps the ordinary limit only (five years), no cap from elsewhere.
    body = {
        "categories": ["debts"],
        "actions": ["read"],
        "valid_until": (end + timedelta(days=30)).isoformat(),
    }
    mine = w.client.post("/v1/me/people/mandates", json=body, headers=w.anna.headers)
    assert mine.status_code == 201, mine.text


def test_at_the_end_every_parents_mandate_expires_and_is_not_renewed(w: World) -> None:
    parent = child_of(w, w.anna)
    second = second_parent(w, parent)
    w.clock.advance(days=18 * 365 + 6)
    sign_in(w.client, w.anna)
    sign_in(w.client, w.pieter)
    refused(w.client.get("/v1/me/records", headers=act(w.anna, parent)), "mandate-expired")
    refused(w.client.get("/v1/me/records", headers=act(w.pieter, second)), "mandate-expired")
    assert [(m["status"], m["end_reason"]) for m in people(w, w.anna)["acting_for"]] == [
        ("ended", "expired")
    ]
    # Nor can a fresh offer bring a parent back.
    refused(offer_parent(w, act(w.anna, parent)), "mandate-ended")


def test_the_last_parent_cannot_delete_their_own_vault_before_the_childs(w: World) -> None:
    parent = child_of(w, w.anna)
    reauthenticate(w, w.anna)
    refused_delete = w.client.delete("/v1/me", headers=w.anna.headers)
    assert refused_delete.status_code == 409, refused_delete.text
    assert refused_delete.headers["content-type"] == "application/problem+json"
    assert "last parent" in refused_delete.json()["detail"]
    # Nothing was deleted: her vault, her session and Sanne's vault are as they were.
    assert w.client.get("/v1/me", headers=w.anna.headers).status_code == 200
    assert w.client.get("/v1/me/records", headers=act(w.anna, parent)).status_code == 200
    # With a second parent she may go; Pieter keeps Sanne's vault.
    second = second_parent(w, parent)
    gone = w.client.delete("/v1/me", headers=w.anna.headers)
    assert gone.status_code == 204, gone.text
    assert w.client.get("/v1/me/records", headers=act(w.pieter, second)).status_code == 200
    listed = w.client.get("/v1/me/people", headers=act(w.pieter, second)).json()
    ended = {m["id"]: (m["status"], m["end_reason"]) for m in listed["acting_for_me"]}
    assert ended[parent] == ("ended", "vault-deleted")
    # Now Pieter is the last parent: his own vault cannot go first either.
    reauthenticate(w, w.pieter)
    assert w.client.delete("/v1/me", headers=w.pieter.headers).status_code == 409
