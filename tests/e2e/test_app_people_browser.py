"""Screen 7, people, as two people use it: Debian's headless Chromium (Playwright), a real
server, a virtual passkey per browser context (the fixtures of test_app_browser.py).

Anna offers Bram a mandate, Bram accepts it with the code in his own browser, Anna sees it
running and stops it; a wrong code gets a kind answer; a parent makes a child's vault,
connects a service for the child, gives the other parent access, and deletes the vault; Jan,
acting for Marieke, checks an entry's proof in her log.
axe-core checks every new screen (no serious or critical violation) and each is saved at
360x740 as docs/screenshots/40-*.png and on; offering and stopping are done once more with
the keyboard only.
"""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
import pytest
from test_app_browser import (
    Person,
    Server,
    add_record,
    browser,
    person,
    register_service,
    server,
    service_asks,
    sign_up,
    tab_to,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

__all__ = ["browser", "server"]  # the fixtures, shared with test_app_browser.py


def mandates(p: Person) -> dict[str, list[dict[str, Any]]]:
    token = next(c["value"] for c in p.context.cookies() if c["name"] == "regie-session")
    answer = p.page.request.get(
        p.base + "/v1/me/people", headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.ok, answer.text()
    people: dict[str, list[dict[str, Any]]] = answer.json()
    return people


def test_a_mandate_offered_accepted_and_stopped_and_a_childs_vault(
    browser: Any, server: Server
) -> None:
    shots = server.kind == "sqlite"
    anna = person(browser, server, shots=shots)
    bram = person(browser, server, shots=shots)
    sign_up(anna, "Anna")
    sign_up(bram, "Bram")

    # Anna: from home to People, then offer.
    anna.link("Naar Mensen").click()
    anna.page.get_by_role("heading", name="Mensen", exact=True).wait_for()
    assert anna.page.get_by_text("Niemand mag nu dingen voor u regelen.").is_visible()
    anna.look("40-people-empty")
    anna.link("Iemand een machtiging geven").click()
    anna.page.get_by_label("Schulden", exact=True).check()
    anna.page.get_by_label("Inkomen", exact=True).check()
    anna.page.get_by_label("beslissen over verzoeken").check()
    anna.page.get_by_label("Waarom?").fill("Beschermingsbewind")
    anna.look("41-offer")
    anna.button("Maak de code").click()
    anna.page.get_by_role("heading", name="De machtiging is klaar").wait_for()
    code = anna.page.locator(".regie-bigcode code").inner_text()
    assert re.fullmatch(r"[0-9A-Z]{5}-[0-9A-Z]{5}", code)
    assert anna.page.get_by_text(re.compile(r"^Deze code werkt 15 minuten")).is_visible()
    anna.look("42-code")

    # Bram, in his own browser: first a wrong code, then the right one.
    bram.link("Mensen").click()
    bram.link("Ik heb een code gekregen").click()
    bram.page.get_by_label("De code").fill("AAAAA-BBBBB")
    bram.button("Vul de code in").click()
    bram.page.get_by_text("Deze code werkt niet (meer).", exact=False).wait_for()
    bram.look("43-accept-wrong-code")
    bram.page.get_by_label("De code").fill(code)
    bram.look("44-accept")
    bram.button("Vul de code in").click()
    bram.page.get_by_text("Gelukt. U mag nu dingen regelen voor Anna.").wait_for()
    assert bram.page.get_by_text("Beschermingsbewind").is_visible()
    bram.look("45-accepted")
    bram.link("Terug naar Mensen").click()
    assert bram.page.get_by_role("link", name="Regelen voor Anna").is_visible()
    bram.look("46-people-representative")
    bram.page.get_by_role("link", name=re.compile(r"^Ik stop hiermee.*Anna")).click()
    bram.page.get_by_role("heading", name="Stoppen met regelen voor Anna?").wait_for()
    bram.look("47-stop-acting-confirm")
    bram.link("Nee, ga terug").click()  # not now: Anna stops it below

    # Anna sees it running, with Bram's name, and stops it.
    anna.go("/people")
    assert anna.page.get_by_text("Loopt nu").is_visible()
    anna.page.get_by_role("heading", name="Bram").wait_for()
    anna.look("48-people-active")
    anna.page.get_by_role("link", name=re.compile(r"^Meer hierover.*Bram")).click()
    anna.page.get_by_role("heading", name="Bram mag dingen voor u regelen").wait_for()
    anna.look("49-mandate")
    anna.page.get_by_role("link", name=re.compile(r"^Stoppen.*Bram")).click()
    anna.page.get_by_text("Als u stopt, kan Bram meteen niets meer voor u regelen.").wait_for()
    anna.look("50-stop-confirm")
    anna.button("Ja, stop de machtiging").click()
    anna.page.get_by_text(
        "De machtiging is gestopt. Bram kan niets meer voor u regelen."
    ).wait_for()
    ended = mandates(anna)["acting_for_me"]
    assert [(m["status"], m["end_reason"]) for m in ended] == [("ended", "revoked")]
    assert [m["status"] for m in mandates(bram)["acting_for"]] == ["ended"]
    anna.link("Terug naar Mensen").click()
    anna.link("Bram mocht dingen voor u regelen").click()
    anna.page.get_by_text(re.compile("de machtiging stopte, want u heeft het gestopt")).wait_for()
    anna.look("51-mandate-history")

    # A parent makes a child's vault and sees it listed.
    anna.go("/people")
    anna.link("Een kluis maken voor mijn kind").click()
    anna.page.get_by_label("Naam van uw kind").fill("Sanne")
    anna.look("52-child")
    anna.button("Maak de kluis").click()
    anna.page.get_by_text("De kluis van Sanne is gemaakt.").wait_for()
    anna.link("Terug naar Mensen").click()
    anna.page.get_by_role("heading", name="Sanne").wait_for()
    anna.look("53-people-child")
    anna.page.get_by_role("link", name=re.compile(r"^Meer hierover.*Sanne")).click()
    anna.page.get_by_role("heading", name="De kluis van Sanne", exact=True).wait_for()
    anna.look("54-child-vault")
    assert [m["kind"] for m in mandates(anna)["acting_for"]] == ["parent"]

    # English, once.
    anna.go("/people")
    anna.button("English").click()
    anna.page.get_by_role("heading", name="Who may arrange things for me").wait_for()
    anna.look("55-people-english")
    anna.button("Nederlands").click()
    print(f"\naxe violations (all impacts) per people screen on {server.kind}: {anna.checked}")
    print(f"... and Bram's: {bram.checked}")
    anna.context.close()
    bram.context.close()


def test_offer_and_stop_with_the_keyboard_only(browser: Any, server: Server) -> None:
    if server.kind != "sqlite":
        pytest.skip("once is enough: the journey covers PostgreSQL")
    anna = person(browser, server)
    bram = person(browser, server)
    sign_up(anna, "Anna")
    sign_up(bram, "Bram")
    # Anna offers: to People, the form, one subject, the reason, the button; all by keys.
    anna.go("/")
    tab_to(anna, r"^Mensen$")
    anna.page.keyboard.press("Enter")
    anna.page.wait_for_url(re.compile(r"/people$"))
    tab_to(anna, r"^Iemand een machtiging geven$")
    anna.page.keyboard.press("Enter")
    anna.page.wait_for_url(re.compile(r"/people/offer$"))
    tab_to(anna, r"^debts$", attribute="value")
    anna.page.keyboard.press("Space")
    assert anna.page.get_by_label("Schulden", exact=True).is_checked()
    tab_to(anna, r"^label$", attribute="id")
    anna.page.keyboard.type("Hulp bij mijn schulden")
    tab_to(anna, r"^Maak de code$")
    anna.page.keyboard.press("Enter")
    anna.page.get_by_role("heading", name="De machtiging is klaar").wait_for()
    code = anna.page.locator(".regie-bigcode code").inner_text()
    # Bram accepts, by keys too.
    bram.go("/people/accept")
    tab_to(bram, r"^code$", attribute="id")
    bram.page.keyboard.type(code)
    bram.page.keyboard.press("Enter")
    bram.page.get_by_text("Gelukt. U mag nu dingen regelen voor Anna.").wait_for()
    # Anna stops it: the stop link, the confirmation, by keys.
    anna.go("/people")
    tab_to(anna, r"^Stoppen")
    anna.page.keyboard.press("Enter")
    anna.page.wait_for_url(re.compile(r"/stop$"))
    tab_to(anna, r"^Ja, stop de machtiging$")
    anna.page.keyboard.press("Enter")
    anna.page.get_by_text("De machtiging is gestopt.", exact=False).wait_for()
    given = mandates(anna)["acting_for_me"]
    assert [(m["status"], m["end_reason"], m["categories"]) for m in given] == [
        ("ended", "revoked", ["debts"])
    ]
    assert given[0]["label"] == "Hulp bij mijn schulden"
    anna.context.close()
    bram.context.close()


def test_acting_for_someone_and_for_a_child(browser: Any, server: Server) -> None:
    shots = server.kind == "sqlite"
    marieke = person(browser, server, shots=shots)
    jan = person(browser, server, shots=shots)
    sign_up(marieke, "Marieke")
    sign_up(jan, "Jan")
    add_record(marieke, "Mijn medicijnen", "health.medication", "Metformine 500 mg")
    add_record(marieke, "Loonstrook maart", "income.payslip", "2.100 euro")

    # Marieke gives Jan a mandate over her health data: read and decide.
    marieke.go("/people/offer")
    marieke.page.get_by_label("Gezondheid", exact=True).check()
    marieke.page.get_by_label("beslissen over verzoeken").check()
    marieke.page.get_by_label("Waarom?").fill("Hulp bij mijn zorg")
    marieke.button("Maak de code").click()
    code = marieke.page.locator(".regie-bigcode code").inner_text()
    jan.go("/people/accept")
    jan.page.get_by_label("De code").fill(code)
    jan.button("Vul de code in").click()
    jan.page.get_by_text("Gelukt. U mag nu dingen regelen voor Marieke.").wait_for()

    # Jan acts for her: her overview, her data in scope only.
    jan.link("Regelen voor Marieke").click()
    jan.page.get_by_role("heading", name="Regelen voor Marieke").wait_for()
    assert jan.page.get_by_text("U regelt dit voor Marieke").is_visible()
    mandate_id = re.search(r"/people/([0-9a-f-]+)/home$", jan.page.url)
    assert mandate_id
    base = f"/people/{mandate_id.group(1)}"
    jan.look("56-acting-home")
    jan.link("Bekijk de gegevens van Marieke").click()
    jan.page.get_by_role("heading", name="Gegevens van Marieke").wait_for()
    assert jan.link("Mijn medicijnen").is_visible()
    assert jan.page.get_by_text("Loonstrook maart").count() == 0
    assert jan.link("Iets toevoegen").count() == 0  # read only
    jan.look("57-acting-data")

    # A service asks Marieke; Jan approves it for her, narrower.
    with httpx.Client(base_url=server.base, timeout=30) as http:
        marieke.shots = False  # screen 09 (the connection code) is the journey's
        agent, _, auth_req_id = service_asks(server, http, marieke)
        marieke.shots = shots
        jan.go(f"{base}/home")
        jan.page.get_by_text(
            "Huisartsenpraktijk De Linde vraagt om gegevens van Marieke."
        ).wait_for()
        jan.page.get_by_role("link", name=re.compile(r"^Bekijk de vraag")).click()
        jan.page.get_by_role("heading", name=re.compile("Huisartsenpraktijk De Linde")).wait_for()
        assert jan.page.get_by_text("U regelt dit voor Marieke").is_visible()
        jan.look("58-acting-request")
        jan.page.get_by_label("Allergieën").uncheck()
        jan.button("Ja, geef toegang").click()
        jan.page.locator(".regie-done").wait_for()
        jan.look("59-acting-approved")
        issued = agent.poll(auth_req_id)
        assert issued.status_code == 200, issued.text
        assert issued.json()["authorization_details"][0]["datatypes"] == ["health.medication"]
    jan.go(f"{base}/access")
    jan.page.get_by_role("heading", name="Wie kan de gegevens van Marieke zien").wait_for()
    jan.look("60-acting-access")
    jan.go(f"{base}/log")
    jan.page.get_by_role("heading", name="Logboek van Marieke").wait_for()
    # The integrator takes events in every second: her entries get their "check" links.
    check = jan.page.get_by_role("link", name=re.compile(r"^Controleer dit"))
    deadline = time.monotonic() + 20
    while not check.first.is_visible():
        assert time.monotonic() < deadline, "her log did not reach the verified log"
        time.sleep(0.5)
        jan.page.reload()
    jan.look("61-acting-log")
    # One entry's proof, checked by the app as for one's own log.
    check.first.click()
    jan.page.wait_for_url(re.compile(r"/log\?proof="))
    jan.page.get_by_text("Dit staat in het gecontroleerde logboek.").wait_for()
    assert jan.page.get_by_text("U regelt dit voor Marieke").is_visible()
    jan.page.get_by_text("Voor wie het precies wil weten").click()
    facts = jan.page.locator(".regie-proof dl")
    facts.wait_for()
    assert re.search(
        r"Plaats in het logboek\s+regel \d+ \(technisch: index \d+\)", facts.inner_text()
    )
    jan.look("66-acting-log-proof")

    # Marieke sees what Jan did, in her log; then she stops the mandate.
    marieke.go("/log")
    assert marieke.page.get_by_text(re.compile(r"gedaan door Jan voor u")).first.is_visible()
    marieke.look("62-log-done-by-jan")
    marieke.go("/people")
    marieke.page.get_by_role("link", name=re.compile(r"^Stoppen.*Jan")).click()
    marieke.button("Ja, stop de machtiging").click()
    marieke.page.get_by_text("De machtiging is gestopt.", exact=False).wait_for()

    # Jan's next page says kindly that it has ended.
    jan.go(f"{base}/data")
    jan.page.get_by_text("U kunt niets meer regelen voor Marieke.", exact=False).wait_for()
    assert jan.page.get_by_text("U regelt dit voor Marieke").count() == 0
    jan.look("63-acting-ended")

    # A parent connects the child's clinic from Sam's overview ("Een dienst koppelen voor
    # Sam"); then a request for the child's data waits on her own home.
    marieke.go("/people/child")
    marieke.page.get_by_label("Naam van uw kind").fill("Sam")
    marieke.button("Maak de kluis").click()
    marieke.page.get_by_text("De kluis van Sam is gemaakt.").wait_for()
    [parent] = [m for m in mandates(marieke)["acting_for"] if m["kind"] == "parent"]
    marieke.go(f"/people/{parent['id']}/home")
    marieke.link("Een dienst koppelen voor Sam").click()
    marieke.page.get_by_role("heading", name="Een dienst koppelen voor Sam").wait_for()
    marieke.button("Maak een code").click()
    child_code = marieke.page.locator(".regie-bigcode code").inner_text()
    assert marieke.page.get_by_text("U regelt dit voor Sam").is_visible()
    marieke.look("71-child-connect")
    with httpx.Client(base_url=server.base, timeout=30) as http:
        clinic = register_service(server, http)
        asked = clinic.ask(clinic.connect(child_code))
        assert asked.status_code == 200, asked.text
        marieke.go("/")
        marieke.page.get_by_text(re.compile(r"^Er wacht een verzoek voor Sam")).wait_for()
        marieke.look("64-home-child-request")
        marieke.page.get_by_role("link", name=re.compile(r"^Bekijk de vraag.*Sam")).click()
        marieke.page.get_by_text("U regelt dit voor Sam").wait_for()
        marieke.look("65-child-request")
        marieke.button("Ja, geef toegang").click()
        marieke.page.locator(".regie-done").wait_for()
        issued = clinic.poll(asked.json()["auth_req_id"])
        assert issued.status_code == 200, issued.text
    marieke.go("/")
    assert marieke.page.get_by_text(re.compile(r"^Er wacht een verzoek voor Sam")).count() == 0

    # Marieke gives Jan a parent's access to Sam's vault: a code, which Jan enters.
    marieke.go(f"/people/{parent['id']}")
    assert marieke.page.get_by_text("Alleen u kunt nu in de kluis van Sam.").is_visible()
    marieke.link("Een andere ouder toegang geven").click()
    marieke.page.get_by_role(
        "heading", name="Een andere ouder toegang geven tot de kluis van Sam"
    ).wait_for()
    marieke.look("67-child-second-parent")
    marieke.button("Maak de code").click()
    second_code = marieke.page.locator(".regie-bigcode code").inner_text()
    jan.go("/people/accept")
    jan.page.get_by_label("De code").fill(second_code)
    jan.button("Vul de code in").click()
    jan.page.get_by_text(
        "Gelukt. U kunt nu in de kluis van Sam, net als de andere ouder."
    ).wait_for()
    assert [m["kind"] for m in mandates(jan)["acting_for"] if m["status"] == "active"] == ["parent"]
    marieke.go(f"/people/{parent['id']}")
    marieke.page.get_by_text("Jan: Loopt nu").wait_for()
    marieke.look("68-child-vault-two-parents")

    # Marieke deletes Sam's vault: a warning, then a confirmation with her own passkey.
    marieke.link("Gooi de kluis van Sam weg").click()
    marieke.page.get_by_role("heading", name="De kluis van Sam weggooien").wait_for()
    assert marieke.page.get_by_text("Let op: dit kunt u niet terugdraaien.").is_visible()
    marieke.look("69-child-delete")
    marieke.button("Bevestig met mijn sleutel en gooi weg").click()
    marieke.page.get_by_text("De kluis van Sam is weggegooid.", exact=False).wait_for()
    marieke.look("70-child-deleted")
    assert [m for m in mandates(marieke)["acting_for"] if m["kind"] == "parent"] == []
    assert [m for m in mandates(jan)["acting_for"] if m["kind"] == "parent"] == []
    print(f"\naxe violations per acting screen on {server.kind}: {jan.checked} {marieke.checked}")
    marieke.context.close()
    jan.context.close()
