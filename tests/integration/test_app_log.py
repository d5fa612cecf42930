"""Screen 6, "Wie heeft mijn gegevens bekeken?", over HTTP without a browser: pages, filters,
stale or foreign links, and the proof told in words before and after integration.
The browser test (tests/e2e/test_app_browser.py) drives the same page in Chromium."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from test_app_pages import sign_up_in_app

from api.container import Container
from support.service_client import register_clinic_and_school
from vault.audit.events import AccessEvent, record

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def signed_in_resident(client: TestClient, container: Container, name: str) -> uuid.UUID:
    sign_up_in_app(client, name)
    token = client.cookies.get("regie-session")
    assert token
    return container.identity.authenticate(token).resident_id


def reads(container: Container, resident_id: uuid.UUID, service_id: uuid.UUID, n: int) -> None:
    """`n` reads of the resident's medication by the service, a minute apart."""
    with container.uow() as uow:
        for i in range(n):
            record(
                uow,
                AccessEvent(
                    resident_id=resident_id,
                    name="record.read",
                    outcome="permit",
                    actor="service",
                    service_id=service_id,
                    datatype="health.medication",
                    action="read",
                ),
                T0 + timedelta(minutes=i),
            )
        uow.commit()


def sentences(html: str) -> list[str]:
    return re.findall(r'<p class="utrecht-paragraph regie-log__text">([^<]+)</p>', html)


def test_the_log_pages_filters_and_proves(client: TestClient, container: Container) -> None:
    anna = signed_in_resident(client, container, "Anna")
    clinic, _ = register_clinic_and_school(container, client)
    clinic_id = container.services.by_client_id(clinic.client_id).service_id
    reads(container, anna, clinic_id, 25)
    reads(container, uuid.uuid4(), clinic_id, 3)  # someone else's: never shown

    first = client.get("/log")
    assert first.status_code == 200
    shown = sentences(first.text)
    assert len(shown) == 20
    assert shown[0] == (
        "Huisartsenpraktijk De Linde heeft uw medicatieoverzicht bekeken met de toegang die u "
        "gaf, op 1 december om 10:24."
    )
    older = re.search(r'href="(/log\?before=[^"]+)">Oudere gebeurtenissen', first.text)
    assert older
    second = client.get(older.group(1).replace("&amp;", "&"))
    assert len(sentences(second.text)) == 5
    assert sentences(second.text)[-1].endswith("op 1 december om 10:00.")
    assert "Terug naar het nieuwste" in second.text
    assert "Oudere gebeurtenissen" not in second.text

    # Filters: a subject without events, a service, and links that no longer fit.
    assert "Hier past niets bij." in client.get("/log?category=education").text
    assert len(sentences(client.get(f"/log?service={clinic_id}&category=health").text)) == 20
    assert len(sentences(client.get("/log?category=nonsense&before=not-a-uuid").text)) == 20
    foreign = client.get(f"/log?category=health&before={uuid.uuid4()}", follow_redirects=False)
    assert foreign.status_code == 303
    assert foreign.headers["location"] == "/log?category=health"

    # The newest entry's proof: not yet, then verified after the integrator's round.
    event = re.search(r'id="e-([0-9a-f-]{36})"', first.text)
    assert event
    pending = client.get(f"/log?proof={event.group(1)}")
    assert "Dit komt zo in het gecontroleerde logboek." in pending.text
    assert "Controleer dit" not in pending.text
    container.integrator.run_once()
    listed = client.get("/log")
    assert listed.text.count(">Controleer dit<") == 20
    proven = client.get(f"/log?proof={event.group(1)}")
    assert "Dit staat in het gecontroleerde logboek." in proven.text
    assert re.search(r"regel \d+ \(technisch: index \d+\)", proven.text)
    assert proven.text.count(">Controleer dit<") == 19

    # Home: the last three looks, and the way to the screen.
    home = client.get("/")
    assert "Recent bekeken" in home.text
    assert home.text.count("heeft uw medicatieoverzicht bekeken") == 3
    assert 'href="/log"' in home.text


def test_an_empty_log_says_so_in_both_languages(client: TestClient, container: Container) -> None:
    signed_in_resident(client, container, "Bram")
    page = client.get("/log")
    assert "Er staat nog niets in uw logboek." in page.text
    assert "Nog geen enkele dienst heeft uw gegevens bekeken." in client.get("/").text
    form = client.get("/log?category=health")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token
    switched = client.post(
        "/language",
        data={"csrf": token.group(1), "lang": "en", "next": "/log?category=health"},
        follow_redirects=False,
    )
    assert switched.headers["location"] == "/log?category=health"
    english = client.get("/log?category=health")
    assert "Who looked at my data?" in english.text
    assert "Nothing matches." in english.text
