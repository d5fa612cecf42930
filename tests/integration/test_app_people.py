"""Screen 7, people, over HTTP: offer a mandate (the code shown once), accept it as another
resident, see it on both sides, stop it from either side, a child's vault; kind errors for a
wrong, expired or own code; CSRF on every new form; another resident's mandate is a 404."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from conftest import ORIGIN
from fastapi.testclient import TestClient
from sqlalchemy import Connection
from sqlalchemy.orm import sessionmaker
from test_app_pages import _bearer, csrf_of, sign_up_in_app

from api.app import create_app
from api.bootstrap import build_container
from api.settings import Settings
from support.clock import FakeClock


def today() -> datetime:
    return datetime.now(ZoneInfo("Europe/Amsterdam"))


@pytest.fixture
def other(client: TestClient) -> Iterator[TestClient]:
    """A second resident's browser on the same server."""
    with TestClient(client.app, base_url=ORIGIN) as c:
        yield c


def offer(client: TestClient, **fields: object) -> tuple[int, str]:
    page = client.get("/people/offer")
    assert page.status_code == 200
    until = (today() + timedelta(days=90)).isoformat()
    data = {
        "csrf": csrf_of(page.text),
        "categories": ["debts", "income"],
        "actions": ["read", "decide-requests"],
        "until": until,
        "label": "Beschermingsbewind",
        **fields,
    }
    done = client.post("/people/offer", data=data)
    return done.status_code, done.text


def code_of(html: str) -> str:
    found = re.search(r'<p class="regie-bigcode"><code>([^<]+)</code>', html)
    assert found, "no code on the page"
    return found.group(1)


def accept(client: TestClient, code: str) -> tuple[int, str]:
    page = client.get("/people/accept")
    done = client.post("/people/accept", data={"csrf": csrf_of(page.text), "code": code})
    return done.status_code, done.text


def mandates(client: TestClient) -> dict[str, list[dict[str, object]]]:
    people: dict[str, list[dict[str, object]]] = client.get(
        "/v1/me/people", headers=_bearer(client)
    ).json()
    return people


def test_offer_accept_see_and_stop(client: TestClient, other: TestClient) -> None:
    sign_up_in_app(client, "Anna")
    sign_up_in_app(other, "Bram")
    home = client.get("/")
    assert 'href="/people"' in home.text
    assert "Niemand regelt iets voor u" in home.text
    assert "Niemand mag nu dingen voor u regelen." in client.get("/people").text

    status, page = offer(client)
    assert status == 200, page
    code = code_of(page)
    assert re.fullmatch(r"[0-9A-Z]{5}-[0-9A-Z]{5}", code)
    assert "Deze code werkt 15 minuten" in page
    assert "Inkomen, Schulden" in page
    assert "lezen, beslissen over verzoeken" in page
    assert "Beschermingsbewind" in page
    waiting = client.get("/people").text
    assert "Nog niemand" in waiting
    assert "Wacht op de code." in waiting
    assert code not in waiting  # shown once: never again

    status, page = accept(other, code.lower().replace("-", ""))
    assert status == 200, page
    assert "Gelukt. U mag nu dingen regelen voor Anna." in page
    assert "Beschermingsbewind" in page
    assert "Regelen voor Anna" in page  # the way in to act for her
    held = other.get("/people").text
    assert "Voor wie regel ik dingen" in held
    assert "Anna" in held
    assert "Mensen voor wie u dingen regelt: 1" in other.get("/").text

    given = client.get("/people").text
    assert "Bram" in given
    assert "Loopt nu" in given
    mandate_id = mandates(client)["acting_for_me"][0]["id"]
    detail = client.get(f"/people/{mandate_id}").text
    assert "Bram mag dingen voor u regelen" in detail
    assert "u maakte de machtiging en de code." in detail
    assert "Bram vulde de code in. De machtiging ging lopen." in detail

    # The same code a second time: spent.
    sign_up_in_app(third := TestClient(client.app, base_url=ORIGIN), "Carla")
    status, page = accept(third, code)
    assert status == 401
    assert "Deze code werkt niet (meer)." in page
    third.close()

    confirm = client.get(f"/people/{mandate_id}/stop")
    assert "Als u stopt, kan Bram meteen niets meer voor u regelen." in confirm.text
    stopped = client.post(f"/people/{mandate_id}/stop", data={"csrf": csrf_of(confirm.text)})
    assert "De machtiging is gestopt. Bram kan niets meer voor u regelen." in stopped.text
    ended = mandates(client)["acting_for_me"][0]
    assert (ended["status"], ended["end_reason"]) == ("ended", "revoked")
    after = client.get("/people").text
    assert "Niemand mag nu dingen voor u regelen." in after
    assert "Bram mocht dingen voor u regelen" in after
    assert (
        "de machtiging stopte, want u heeft het gestopt."
        in client.get(f"/people/{mandate_id}").text
    )
    assert "Anna heeft het gestopt" in other.get(f"/people/{mandate_id}").text
    # Stopping twice is no error: it had stopped already.
    again = client.post(f"/people/{mandate_id}/stop", data={"csrf": csrf_of(confirm.text)})
    assert "loopt niet (meer)" in again.text


def test_the_representative_stops_acting(client: TestClient, other: TestClient) -> None:
    sign_up_in_app(client, "Anna")
    sign_up_in_app(other, "Bram")
    _, page = offer(client)
    accept(other, code_of(page))
    mandate_id = mandates(other)["acting_for"][0]["id"]
    confirm = other.get(f"/people/{mandate_id}/stop")
    assert "Stoppen met regelen voor Anna?" in confirm.text
    assert "Dan moet Anna u een nieuwe code geven." in confirm.text
    done = other.post(f"/people/{mandate_id}/stop", data={"csrf": csrf_of(confirm.text)})
    assert "U bent gestopt. U regelt niets meer voor Anna." in done.text
    assert mandates(client)["acting_for_me"][0]["end_reason"] == "given-up"
    assert "Gestopt: Bram is ermee gestopt" in client.get(f"/people/{mandate_id}").text


def test_withdrawing_an_offer_the_code_then_finds_nothing(
    client: TestClient, other: TestClient
) -> None:
    sign_up_in_app(client, "Anna")
    sign_up_in_app(other, "Bram")
    _, page = offer(client)
    mandate_id = mandates(client)["acting_for_me"][0]["id"]
    confirm = client.get(f"/people/{mandate_id}/stop")
    assert "Als u stopt, werkt de code niet meer." in confirm.text
    done = client.post(f"/people/{mandate_id}/stop", data={"csrf": csrf_of(confirm.text)})
    assert "De code werkt niet meer." in done.text
    status, answer = accept(other, code_of(page))
    assert status == 401
    assert "Deze code werkt niet (meer)." in answer


def test_wrong_and_own_codes_get_a_kind_answer(client: TestClient, other: TestClient) -> None:
    sign_up_in_app(client, "Anna")
    sign_up_in_app(other, "Bram")
    status, page = accept(other, "AAAAA-BBBBB")
    assert status == 401
    assert "Deze code werkt niet (meer)." in page
    assert 'value="AAAAA-BBBBB"' in page  # kept, to look at again
    status, page = accept(other, "")
    assert status == 422
    assert "Vul de code in die u kreeg." in page
    _, made = offer(client)
    code = code_of(made)
    status, page = accept(client, code)
    assert status == 422
    assert "Dit is een code die u zelf heeft gemaakt." in page
    # Not spent by the mistake: the representative can still use it.
    status, page = accept(other, code)
    assert status == 200, page
    # Still signed in after all of it.
    assert "Hallo Bram" in other.get("/").text


def test_the_offer_form_says_kindly_what_is_missing(client: TestClient) -> None:
    sign_up_in_app(client, "Anna")
    for fields, message in (
        ({"categories": []}, "Kies minstens één onderwerp."),
        ({"categories": ["no-such-thing"]}, "Kies minstens één onderwerp."),
        ({"actions": []}, "Kies minstens één ding dat de ander mag doen."),
        ({"actions": ["delete-vault"]}, "Kies minstens één ding dat de ander mag doen."),
        ({"until": today().isoformat()}, "Deze datum kan niet."),
        ({"until": "morgen"}, "Deze datum kan niet."),
        ({"until": (today() + timedelta(days=6 * 366)).isoformat()}, "Deze datum kan niet."),
        ({"label": "  "}, "Schrijf kort op waarom"),
        ({"start": (today() - timedelta(days=1)).isoformat()}, "Deze begindatum kan niet."),
        ({"start": (today() + timedelta(days=400)).isoformat()}, "Deze begindatum kan niet."),
        ({"start": "volgende week"}, "Deze begindatum kan niet."),
        (  # ends before it starts
            {
                "start": (today() + timedelta(days=20)).isoformat(),
                "until": (today() + timedelta(days=10)).isoformat(),
            },
            "Deze datum kan niet.",
        ),
    ):
        status, page = offer(client, **fields)
        assert status == 422, (fields, page[:300])
        assert message in page, fields
    # What was chosen stays chosen.
    status, page = offer(client, label="")
    assert 'value="debts" checked' in page
    assert mandates(client)["acting_for_me"] == []


def test_a_mandate_that_starts_later(client: TestClient, other: TestClient) -> None:
    """A start day after today: the mandate begins at midnight of that day (Dutch time); the
    representative who accepted it sees it as starting later and cannot act yet."""
    sign_up_in_app(client, "Anna")
    sign_up_in_app(other, "Bram")
    start = (today() + timedelta(days=7)).date()
    status, page = offer(client, start=start.isoformat())
    assert status == 200, page[:300]
    status, page = accept(other, code_of(page))
    assert status == 200, page[:300]
    [given] = mandates(client)["acting_for_me"]
    begins = datetime.fromisoformat(str(given["valid_from"])).astimezone(
        ZoneInfo("Europe/Amsterdam")
    )
    assert (begins.date(), begins.time()) == (start, time(0))
    [held] = mandates(other)["acting_for"]
    assert other.get(f"/people/{held['id']}/home").status_code == 403  # not yet
    # Today's date (the default) means: from now.
    status, page = offer(client, start=today().date().isoformat())
    assert status == 200, page[:300]
    [newest] = [m for m in mandates(client)["acting_for_me"] if m["id"] != given["id"]]
    assert datetime.fromisoformat(str(newest["valid_from"])) <= datetime.now(UTC)


def test_a_childs_vault(client: TestClient) -> None:
    sign_up_in_app(client, "Anna")
    assert "U heeft nog geen kluis voor een kind gemaakt." in client.get("/people").text
    form = client.get("/people/child")
    empty = client.post("/people/child", data={"csrf": csrf_of(form.text), "display_name": " "})
    assert empty.status_code == 422
    assert "Vul de naam van uw kind in." in empty.text
    made = client.post("/people/child", data={"csrf": csrf_of(form.text), "display_name": "Sanne"})
    assert "De kluis van Sanne is gemaakt." in made.text
    page = client.get("/people").text
    assert "Kluizen van mijn kinderen" in page
    assert "Sanne" in page
    assert "Kluizen van uw kinderen: 1" in client.get("/").text
    child = mandates(client)["acting_for"][0]
    assert child["kind"] == "parent"
    detail = client.get(f"/people/{child['id']}").text
    assert "De kluis van Sanne" in detail
    assert "Alles in de kluis" in detail
    assert "u maakte de kluis van Sanne." in detail
    # A parent's mandate is not stopped here: nobody could open the child's vault again.
    assert f"/people/{child['id']}/stop" not in page + detail
    refused = client.post(f"/people/{child['id']}/stop", data={"csrf": csrf_of(form.text)})
    assert "loopt niet (meer)" in refused.text
    assert mandates(client)["acting_for"][0]["status"] == "active"


def test_another_residents_mandate_is_not_found(client: TestClient, other: TestClient) -> None:
    sign_up_in_app(client, "Anna")
    sign_up_in_app(other, "Bram")
    offer(client)
    mandate_id = mandates(client)["acting_for_me"][0]["id"]
    for path in (f"/people/{mandate_id}", f"/people/{mandate_id}/stop"):
        page = other.get(path)
        assert page.status_code == 404
        assert "Deze pagina bestaat niet" in page.text
    token = csrf_of(other.get("/people").text)
    refused = other.post(f"/people/{mandate_id}/stop", data={"csrf": token})
    assert refused.status_code == 404
    assert mandates(client)["acting_for_me"][0]["status"] == "offered"


def test_every_new_form_refuses_a_forged_post(client: TestClient, other: TestClient) -> None:
    sign_up_in_app(client, "Anna")
    sign_up_in_app(other, "Bram")
    _, page = offer(client)
    code = code_of(page)
    mandate_id = mandates(client)["acting_for_me"][0]["id"]
    good = csrf_of(client.get("/people").text)
    until = (today() + timedelta(days=30)).isoformat()
    posts = {
        "/people/offer": {
            "categories": "debts",
            "actions": "read",
            "until": until,
            "label": "x",
        },
        "/people/child": {"display_name": "Sanne"},
        f"/people/{mandate_id}/stop": {},
    }
    for path, data in posts.items():
        for extra, headers in (
            ({}, {}),
            ({"csrf": "x" * 43}, {}),
            ({"csrf": good}, {"Origin": "https://evil.example"}),
        ):
            refused = client.post(path, data={**data, **extra}, headers=headers)
            assert refused.status_code == 403, path
            assert "niets gedaan" in refused.text
    # The accept form, for the other resident, with the first one's token too.
    for extra, headers in (({}, {}), ({"csrf": good}, {})):
        refused = other.post("/people/accept", data={"code": code, **extra}, headers=headers)
        assert refused.status_code == 403
    people = mandates(client)
    assert [m["status"] for m in people["acting_for_me"]] == ["offered"]
    assert people["acting_for"] == []
    # The code was not spent by the refused accepts.
    assert accept(other, code)[0] == 200


def test_the_people_pages_in_english(client: TestClient) -> None:
    sign_up_in_app(client, "Anna")
    token = csrf_of(client.get("/").text)
    client.post("/language", data={"csrf": token, "lang": "en", "next": "/people"})
    page = client.get("/people").text
    assert "Who may arrange things for me" in page
    assert "For whom I arrange things" in page
    assert "My children&#39;s vaults" in page
    _, made = offer(client)
    assert "This code works for 15 minutes" in made
    assert "Income, Debts" in made
    assert "read, decide on requests" in made


def test_the_latest_day_the_form_offers_is_one_the_api_takes(client: TestClient) -> None:
    sign_up_in_app(client, "Anna")
    form = client.get("/people/offer").text
    until = re.search(r'<input[^>]*id="until"[^>]*>', form)
    assert until
    latest = re.search(r'max="(\d{4}-\d{2}-\d{2})"', until.group(0))
    first = re.search(r'min="(\d{4}-\d{2}-\d{2})"', until.group(0))
    assert latest
    assert first
    for day in (first.group(1), latest.group(1)):
        status, page = offer(client, until=day)
        assert status == 200, (day, page[:400])
    assert len(mandates(client)["acting_for_me"]) == 2


def test_an_expired_code_gets_the_same_kind_answer(
    settings: Settings, connection: Connection
) -> None:
    clock = FakeClock()
    factory = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    container = build_container(settings, session_factory=factory, clock=clock)
    app = create_app(settings, container=container)
    with TestClient(app, base_url=ORIGIN) as anna, TestClient(app, base_url=ORIGIN) as bram:
        sign_up_in_app(anna, "Anna")
        sign_up_in_app(bram, "Bram")
        _, page = offer(anna)
        clock.advance(minutes=15, seconds=1)
        status, answer = accept(bram, code_of(page))
        assert status == 401
        assert "Deze code werkt niet (meer). Een code werkt één keer en 15 minuten lang." in answer
        listed = anna.get("/people").text
        assert "Een code die niet is gebruikt" in listed
        assert "Niet gebruikt: de code is verlopen" in listed
        mandate_id = mandates(anna)["acting_for_me"][0]["id"]
        detail = anna.get(f"/people/{mandate_id}").text
        assert "de code is verlopen. Niemand heeft hem gebruikt." in detail
        assert f"/people/{mandate_id}/stop" not in detail
