"""Mandates over HTTP (/v1/me/people): offer, accept with the code, revoke, give up, expire,
a child's vault; and the attacks: a code used twice, an expired code, someone else's
mandate id, a forged one, and acting for someone on a route that does not allow it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Connection, select

from api.settings import Settings
from support.people import World, accept, offer, people, world
from vault.storage.orm import AccessEventRow, MandateRow


@pytest.fixture
def w(settings: Settings, connection: Connection) -> Iterator[World]:
    yield from world(settings, connection)


def test_offer_accept_and_both_sides_see_it(w: World) -> None:
    made = offer(w)
    assert made["mandate"]["status"] == "offered"
    assert made["mandate"]["name"] == ""  # nobody has accepted yet
    r = accept(w, w.pieter, made["code"].lower().replace("-", " "))  # typed loosely
    assert r.status_code == 200, r.text
    held = r.json()
    assert held["status"] == "active"
    assert held["role"] == "representative"
    assert held["name"] == "Anna"
    assert held["label"] == "Beschermingsbewind"
    mine = people(w, w.anna)
    assert mine["acting_for"] == []
    [given] = mine["acting_for_me"]
    assert given["id"] == held["id"]
    assert given["name"] == "Pieter Bewind"
    assert [h["status"] for h in given["history"]] == ["offered", "active"]
    assert [m["id"] for m in people(w, w.pieter)["acting_for"]] == [held["id"]]
    assert people(w, w.mallory) == {"acting_for": [], "acting_for_me": []}


def test_the_label_and_names_are_sealed(w: World) -> None:
    made = offer(w)
    accept(w, w.pieter, made["code"])
    with w.c.uow() as uow:
        row = uow.session.scalars(select(MandateRow)).one()
        assert row.label_ct is not None
        assert b"Beschermingsbewind" not in row.label_ct
        assert row.representative_name_ct is not None
        assert b"Pieter" not in row.representative_name_ct
        assert row.code_hash is None  # spent


def test_a_code_works_once(w: World) -> None:
    made = offer(w)
    assert accept(w, w.pieter, made["code"]).status_code == 200
    again = accept(w, w.mallory, made["code"])
    assert again.status_code == 401
    assert again.headers["content-type"] == "application/problem+json"
    assert people(w, w.mallory)["acting_for"] == []


def test_an_expired_code_lapses_the_offer(w: World) -> None:
    made = offer(w)
    w.clock.advance(minutes=15, seconds=1)
    assert accept(w, w.pieter, made["code"]).status_code == 401
    [given] = people(w, w.anna)["acting_for_me"]
    assert given["status"] == "lapsed"
    assert [h["status"] for h in given["history"]] == ["offered", "lapsed"]


def test_a_wrong_or_own_code_is_refused(w: World) -> None:
    made = offer(w)
    assert accept(w, w.pieter, "AAAAA-AAAAA").status_code == 401
    own = accept(w, w.anna, made["code"])
    assert own.status_code == 422
    assert accept(w, w.pieter, made["code"]).status_code == 200  # not spent by the refusals


def test_revoke_by_the_principal_and_give_up_by_the_representative(w: World) -> None:
    first = offer(w)
    mid = accept(w, w.pieter, first["code"]).json()["id"]
    r = w.client.post(f"/v1/me/people/mandates/{mid}/revoke", headers=w.anna.headers)
    assert r.status_code == 200
    assert (r.json()["status"], r.json()["end_reason"]) == ("ended", "revoked")
    # Ended is final: giving up afterwards changes nothing.
    after = w.client.post(f"/v1/me/people/mandates/{mid}/give-up", headers=w.pieter.headers)
    assert after.json()["end_reason"] == "revoked"

    second = offer(w)
    mid2 = accept(w, w.pieter, second["code"]).json()["id"]
    r = w.client.post(f"/v1/me/people/mandates/{mid2}/give-up", headers=w.pieter.headers)
    assert (r.json()["status"], r.json()["end_reason"]) == ("ended", "given-up")


def test_someone_elses_or_a_forged_mandate_id_finds_nothing(w: World) -> None:
    mid = accept(w, w.pieter, offer(w)["code"]).json()["id"]
    for who, action in ((w.mallory, "revoke"), (w.mallory, "give-up"), (w.pieter, "revoke")):
        r = w.client.post(f"/v1/me/people/mandates/{mid}/{action}", headers=who.headers)
        assert r.status_code == 404, (who.name, action)
    forged = uuid.uuid4()
    for action in ("revoke", "give-up"):
        r = w.client.post(f"/v1/me/people/mandates/{forged}/{action}", headers=w.anna.headers)
        assert r.status_code == 404
    assert people(w, w.anna)["acting_for_me"][0]["status"] == "active"


def test_a_mandate_expires_by_time(w: World) -> None:
    made = offer(w, valid_until=(w.clock.now() + timedelta(minutes=20)).isoformat())
    mid = accept(w, w.pieter, made["code"]).json()["id"]
    w.clock.advance(minutes=20)
    [held] = people(w, w.pieter)["acting_for"]
    assert (held["id"], held["status"], held["end_reason"]) == (mid, "ended", "expired")


@pytest.mark.parametrize(
    "overrides",
    [
        {"categories": ["secrets"]},
        {"categories": []},
        {"actions": ["delete-vault"]},
        {"actions": []},
        {"valid_until": "2000-01-01T00:00:00Z"},
        {"valid_until": "2099-01-01T00:00:00Z"},  # beyond the 5-year maximum
        {"valid_from": "2000-01-01T00:00:00Z"},
        {"label": "x" * 201},
        {"extra": 1},
    ],
)
def test_bad_offers_get_problem_details(w: World, overrides: dict) -> None:  # type: ignore[type-arg]
    body = {
        "categories": ["debts"],
        "actions": ["read"],
        "valid_until": (w.clock.now() + timedelta(days=30)).isoformat(),
        **overrides,
    }
    r = w.client.post("/v1/me/people/mandates", json=body, headers=w.anna.headers)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"


def test_acting_for_someone_is_refused_where_a_route_does_not_allow_it(w: World) -> None:
    mid = accept(w, w.pieter, offer(w)["code"]).json()["id"]
    act = {**w.pieter.headers, "Regie-Act-For": mid}
    for method, path in (
        ("GET", "/v1/me"),
        ("GET", "/v1/me/export"),
        ("DELETE", "/v1/me"),
        ("GET", "/v1/me/passkeys"),
        ("GET", "/v1/me/sessions"),
        ("GET", "/v1/me/people"),
        ("POST", "/v1/me/people/children"),
    ):
        r = w.client.request(method, path, headers=act, json={"display_name": "x"})
        assert r.status_code == 403, (method, path, r.text)
        assert r.json()["reason"] == "not-for-representatives"
    assert (
        w.client.get("/v1/me", headers=w.pieter.headers).json()["display_name"] == "Pieter Bewind"
    )
    assert w.client.get("/v1/me", headers=w.anna.headers).status_code == 200  # nothing deleted


def test_a_child_vault_with_the_parents_standing_mandate(w: World) -> None:
    r = w.client.post(
        "/v1/me/people/children", json={"display_name": "Sanne"}, headers=w.anna.headers
    )
    assert r.status_code == 201, r.text
    child = r.json()
    assert (child["kind"], child["role"], child["name"], child["status"]) == (
        "parent",
        "representative",
        "Sanne",
        "active",
    )
    assert set(child["actions"]) == {"read", "write", "decide-requests"}
    assert "health" in child["categories"]
    assert len(child["categories"]) == 10
    [held] = people(w, w.anna)["acting_for"]
    assert held["id"] == child["id"]
    bad = w.client.post(
        "/v1/me/people/children", json={"display_name": " "}, headers=w.anna.headers
    )
    assert bad.status_code == 422


def test_lifecycle_changes_are_in_the_principals_log(w: World) -> None:
    mid = accept(w, w.pieter, offer(w)["code"]).json()["id"]
    w.client.post(f"/v1/me/people/mandates/{mid}/revoke", headers=w.anna.headers)
    with w.c.uow() as uow:
        names = [
            (e.name, e.actor)
            for e in uow.session.scalars(
                select(AccessEventRow)
                .where(AccessEventRow.name.like("mandate.%"))
                .order_by(AccessEventRow.at)
            )
        ]
    assert sorted(names) == sorted(
        [
            ("mandate.offered", "resident"),
            ("mandate.active", "representative"),
            ("mandate.ended", "resident"),
        ]
    )


def test_deleting_the_representatives_vault_ends_what_they_held(w: World) -> None:
    mid = accept(w, w.pieter, offer(w)["code"]).json()["id"]
    pieter_id = w.c.identity.authenticate(w.pieter.token).resident_id
    w.c.residents.delete_vault(pieter_id)
    [given] = people(w, w.anna)["acting_for_me"]
    assert (given["id"], given["status"], given["end_reason"]) == (mid, "ended", "vault-deleted")


def test_the_principals_log_tells_the_mandate_story_in_words(w: World) -> None:
    made = offer(w)
    w.clock.advance(seconds=1)
    mid = accept(w, w.pieter, made["code"]).json()["id"]
    w.clock.advance(seconds=1)
    w.client.post(f"/v1/me/people/mandates/{mid}/revoke", headers=w.anna.headers)
    r = w.client.get("/v1/me/log", headers=w.anna.headers)
    assert r.status_code == 200, r.text
    texts = [e["text_nl"] for e in r.json()["entries"] if e["name"].startswith("mandate.")]
    assert len(texts) == 3
    assert texts[0].startswith("U hebt gestopt dat iemand dingen voor u regelt")
    assert texts[1].startswith("Iemand die u dat vroeg, mag nu dingen voor u regelen")
    assert texts[2].startswith("U hebt iemand gevraagd om dingen voor u te regelen")
