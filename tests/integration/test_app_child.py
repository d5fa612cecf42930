"""A child's vault in the app, over HTTP: a parent gives the other parent access (a parent's
mandate, with a code), who then sees the child's vault as their own child's; a parent
deletes the child's vault after a warning and a passkey confirmation of their own session
(another resident's passkey, no confirmation, a forged form, another resident's or an
ordinary mandate: nothing deleted); the last parent cannot delete their own vault first."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from conftest import ORIGIN
from fastapi.testclient import TestClient
from test_app_account import passkey_step
from test_app_pages import _bearer, csrf_of, sign_up_in_app
from test_app_people import accept, code_of, mandates, offer

from support.passkeys import SoftPasskey


@pytest.fixture
def other(client: TestClient) -> Iterator[TestClient]:
    """A second resident's browser on the same server."""
    with TestClient(client.app, base_url=ORIGIN) as c:
        yield c


def make_child(client: TestClient, name: str = "Sam") -> str:
    form = client.get("/people/child")
    made = client.post("/people/child", data={"csrf": csrf_of(form.text), "display_name": name})
    assert f"De kluis van {name} is gemaakt." in made.text
    [child] = [m for m in mandates(client)["acting_for"] if m["kind"] == "parent"]
    return str(child["id"])


def give_other_parent(client: TestClient, other: TestClient, mandate_id: str) -> str:
    page = client.get(f"/people/{mandate_id}/parent")
    assert page.status_code == 200
    made = client.post(f"/people/{mandate_id}/parent", data={"csrf": csrf_of(page.text)})
    assert made.status_code == 200, made.text
    assert "Geef de code alleen aan de andere ouder van Sam." in made.text
    status, done = accept(other, code_of(made.text))
    assert status == 200, done
    assert "Gelukt. U kunt nu in de kluis van Sam, net als de andere ouder." in done
    [held] = [m for m in mandates(other)["acting_for"] if m["kind"] == "parent"]
    return str(held["id"])


def confirm_and_delete(
    client: TestClient, mandate_id: str, passkey: SoftPasskey | None
) -> tuple[int, str]:
    token = csrf_of(client.get(f"/people/{mandate_id}/delete").text)
    data = {"csrf": token, "flow_id": "", "credential": ""}
    if passkey is not None:
        ceremony = client.post("/confirm/options", data={"csrf": token}).json()
        data["flow_id"] = ceremony["flow_id"]
        data["credential"] = json.dumps(passkey.get(ceremony["public_key"]))
    done = client.post(f"/people/{mandate_id}/delete", data=data)
    return done.status_code, done.text


def test_a_parent_gives_the_other_parent_access(client: TestClient, other: TestClient) -> None:
    sign_up_in_app(client, "Marieke")
    sign_up_in_app(other, "Jan")
    child = make_child(client)
    page = client.get(f"/people/{child}").text
    assert "Alleen u kunt nu in de kluis van Sam." in page
    assert "Langer kan niet: dan is Sam 18 jaar of ouder." in page
    form = client.get(f"/people/{child}/parent").text
    assert "De andere ouder kan dan alles wat u kunt in de kluis van Sam:" in form
    second = give_other_parent(client, other, child)
    # Jan lists Sam under his children's vaults, and may do what Marieke may there.
    listed = other.get("/people").text
    assert "Naar de kluis van Sam" in listed
    held = other.get(f"/people/{second}").text
    assert "een ouder van Sam gaf u toegang, met een code." in held
    assert "Marieke: Loopt nu" in held
    assert f"/people/{second}/delete" in held
    assert "Jan: Loopt nu" in client.get(f"/people/{child}").text
    # Marieke's own vault gained nothing: nobody acts for her.
    assert mandates(client)["acting_for_me"] == []
    # English, once.
    english = client.post(
        "/language",
        data={"csrf": csrf_of(page), "lang": "en", "next": f"/people/{child}/parent"},
    )
    assert "Give another parent access to the vault of Sam" in english.text


def test_a_parent_stops_the_other_parents_access(client: TestClient, other: TestClient) -> None:
    sign_up_in_app(client, "Marieke")
    sign_up_in_app(other, "Jan")
    child = make_child(client)
    second = give_other_parent(client, other, child)
    page = client.get(f"/people/{child}").text
    [stop_path] = re.findall(rf'href="(/people/{child}/mandates/[0-9a-f-]+/stop)"', page)
    assert "Toegang van Jan stoppen" in page
    confirm = client.get(stop_path)
    assert confirm.status_code == 200
    assert "Als u stopt, kan Jan niet meer in de kluis van Sam." in confirm.text
    # CSRF first: a forged form changes nothing.
    assert client.post(stop_path, data={}).status_code == 403
    assert "Jan: Loopt nu" in client.get(f"/people/{child}").text
    done = client.post(stop_path, data={"csrf": csrf_of(confirm.text)})
    assert done.status_code == 200, done.text
    assert "Jan kan niet meer in de kluis van Sam." in done.text
    assert "Alleen u kunt nu in de kluis van Sam." in client.get(f"/people/{child}").text
    assert other.get(f"/people/{second}/home").status_code == 403  # Jan is out
    assert client.get(f"/people/{child}/home").status_code == 200  # Marieke is not
    # Stopped once: the page is gone; someone else's or a made-up id is a kind 404.
    assert client.get(stop_path).status_code == 404
    assert client.get(f"/people/{child}/mandates/{child}/stop").status_code == 404  # my own
    # Jan, no parent any more, has no such page for Marieke.
    assert other.get(f"/people/{second}/mandates/{child}/stop").status_code == 404


def test_a_parent_withdraws_an_offer_to_the_other_parent(client: TestClient) -> None:
    sign_up_in_app(client, "Marieke")
    child = make_child(client)
    page = client.get(f"/people/{child}/parent")
    made = client.post(f"/people/{child}/parent", data={"csrf": csrf_of(page.text)})
    code = code_of(made.text)
    listed = client.get(f"/people/{child}").text
    assert "Dit aanbod stoppen" in listed
    [path] = re.findall(rf'href="(/people/{child}/mandates/[0-9a-f-]+/stop)"', listed)
    confirm = client.get(path)
    assert "Een aanbod voor de kluis van Sam stoppen" in confirm.text
    assert "Als u stopt, werkt de code niet meer." in confirm.text
    done = client.post(path, data={"csrf": csrf_of(confirm.text)})
    assert "De code werkt niet meer." in done.text
    assert "Alleen u kunt nu in de kluis van Sam." in client.get(f"/people/{child}").text
    with TestClient(client.app, base_url=ORIGIN) as jan:
        sign_up_in_app(jan, "Jan")
        status, _ = accept(jan, code)
        assert status != 200  # the withdrawn code opens nothing


def test_a_parent_lets_a_grandparent_help_and_stops_it(
    client: TestClient, other: TestClient
) -> None:
    """An ordinary mandate over the child's vault, given from the child's page (under the
    parent's mandate): no last day after the parent's own; listed on the child's page; the
    grandparent acts for the child within it; the parent stops it there."""
    sign_up_in_app(client, "Marieke")
    sign_up_in_app(other, "Oma")
    child = make_child(client)
    page = client.get(f"/people/{child}").text
    assert "Niemand anders mag iets regelen voor Sam." in page
    form = client.get(f"/people/{child}/offer")
    assert form.status_code == 200
    assert "Iemand iets laten regelen voor Sam" in form.text
    until = re.search(r'<input[^>]*id="until"[^>]*>', form.text)
    assert until
    latest = re.search(r'max="(\d{4}-\d{2}-\d{2})"', until.group(0))
    assert latest
    [mine] = [m for m in mandates(client)["acting_for"] if m["id"] == child]
    parent_last = datetime.fromisoformat(str(mine["valid_until"])) - timedelta(seconds=1)
    assert (
        latest.group(1) <= parent_last.astimezone(ZoneInfo("Europe/Amsterdam")).date().isoformat()
    )
    data = {
        "csrf": csrf_of(form.text),
        "categories": ["education"],
        "actions": ["read"],
        "until": (datetime.now(UTC) + timedelta(days=30)).date().isoformat(),
        "label": "Oma helpt met school",
    }
    made = client.post(f"/people/{child}/offer", data=data)
    assert made.status_code == 200, made.text
    status, done = accept(other, code_of(made.text))
    assert status == 200, done
    [held] = [m for m in mandates(other)["acting_for"] if m["kind"] != "parent"]
    assert other.get(f"/people/{held['id']}/home").status_code == 200  # Oma acts for Sam
    page = client.get(f"/people/{child}").text
    [stop_path] = re.findall(rf'href="(/people/{child}/mandates/[0-9a-f-]+/stop)"', page)
    assert "Toegang van Oma stoppen" in page
    confirm = client.get(stop_path)
    stopped = client.post(stop_path, data={"csrf": csrf_of(confirm.text)})
    assert "Oma kan niet meer in de kluis van Sam." in stopped.text
    assert other.get(f"/people/{held['id']}/home").status_code == 403
    # Past the parent's own end: refused kindly, with the last possible day.
    data["until"] = (datetime.now(UTC) + timedelta(days=19 * 366)).date().isoformat()
    data["csrf"] = csrf_of(client.get(f"/people/{child}/offer").text)
    late = client.post(f"/people/{child}/offer", data=data)
    assert late.status_code == 422
    assert "zo lang heeft u zelf toegang tot de kluis van Sam" in late.text


def test_a_parent_deletes_the_childs_vault_with_a_passkey(
    client: TestClient, other: TestClient
) -> None:
    marieke_key, _ = sign_up_in_app(client, "Marieke")
    jan_key, _ = sign_up_in_app(other, "Jan")
    child = make_child(client)
    r = client.post(
        "/v1/me/records",
        json={"category": "health", "type": "health.allergies", "title": "Noten", "content": {}},
        headers={**_bearer(client), "Regie-Act-For": child},
    )
    assert r.status_code == 201, r.text
    warning = client.get(f"/people/{child}/delete")
    assert warning.status_code == 200
    assert "Let op: dit kunt u niet terugdraaien." in warning.text
    assert "Ook een andere ouder" in warning.text
    # No confirmation, or another resident's passkey: nothing deleted, a kind sentence.
    for key in (None, jan_key):
        status, page = confirm_and_delete(client, child, key)
        assert status == 401
        assert "Er is niets veranderd" in page
        assert [m["status"] for m in mandates(client)["acting_for"]] == ["active"]
    # A forged form (no CSRF token): refused, nothing deleted.
    forged = client.post(f"/people/{child}/delete", data={"flow_id": "", "credential": ""})
    assert forged.status_code == 403
    assert [m["status"] for m in mandates(client)["acting_for"]] == ["active"]
    # Another resident cannot reach the page for Marieke's child.
    assert other.get(f"/people/{child}/delete").status_code == 404
    status, page = confirm_and_delete(other, child, jan_key)
    assert status == 404
    # Confirmed with her own passkey: gone, and so is Sam from her people page.
    status, page = confirm_and_delete(client, child, marieke_key)
    assert status == 200, page
    assert "De kluis van Sam is weggegooid." in page
    assert mandates(client)["acting_for"] == []
    assert "Naar de kluis van Sam" not in client.get("/people").text
    assert client.get(f"/people/{child}/delete").status_code == 404


def test_only_a_parents_running_mandate_has_these_pages(
    client: TestClient, other: TestClient
) -> None:
    sign_up_in_app(client, "Anna")
    sign_up_in_app(other, "Bram")
    _, page = offer(client)
    status, _ = accept(other, code_of(page))
    assert status == 200
    [ordinary] = mandates(other)["acting_for"]
    for path in ("parent", "delete"):
        assert other.get(f"/people/{ordinary['id']}/{path}").status_code == 404
        assert client.get(f"/people/{ordinary['id']}/{path}").status_code == 404
    token = csrf_of(other.get("/people").text)
    refused = other.post(f"/people/{ordinary['id']}/parent", data={"csrf": token})
    assert refused.status_code == 404
    assert mandates(client)["acting_for_me"][0]["kind"] == "mandate"


def test_the_last_parent_is_told_to_see_to_the_childs_vault_first(client: TestClient) -> None:
    key, _ = sign_up_in_app(client, "Marieke")
    make_child(client)
    refused = passkey_step(client, "/confirm/options", "/delete", key, create=False)
    assert refused.status_code == 422  # type: ignore[attr-defined]
    assert "Uw kluis is niet weggegooid." in refused.text  # type: ignore[attr-defined]
    assert "Hallo Marieke" in client.get("/").text
    assert [m["status"] for m in mandates(client)["acting_for"]] == ["active"]
