"""Screen 7, people, as two people use it: Debian's headless Chromium (Playwright), a real
server, a virtual passkey per browser context (the fixtures of test_app_browser.py).

Anna offers Bram a mandate, Bram accepts it with the code in his own browser, Anna sees it
running and stops it; a wrong code gets a kind answer; a parent makes a child's vault.
axe-core checks every new screen (no serious or critical violation) and each is saved at
360x740 as docs/screenshots/40-*.png and on; offering and stopping are done once more with
the keyboard only.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from test_app_browser import Person, Server, browser, person, server, sign_up, tab_to

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
    anna.page.get_by_role("heading", name="De kluis van Sanne").wait_for()
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
