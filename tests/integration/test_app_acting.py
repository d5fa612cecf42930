"""Acting for someone in the resident app, over HTTP: a representative's pages under
`/people/{mandate_id}/` (the principal's data in scope, their requests, who sees what, their
log with its proofs checked by the app, stopping a whole service, ending a procedure), a
parent's home with the child's waiting request, and attacks: another resident's mandate id,
the principal's own id, a read-only mandate posting write forms, a category outside the
mandate, a mandate stopped mid-session, a proof of an entry Jan does not see, a procedure
reaching outside the mandate, CSRF refused."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import ORIGIN
from fastapi.testclient import TestClient
from test_app_pages import _bearer, csrf_of, sign_up_in_app
from test_app_people import accept, code_of, mandates, offer

from api.container import Container
from support.service_client import ServiceAgent, register_clinic_and_school


@pytest.fixture
def jan(client: TestClient) -> Iterator[TestClient]:
    """The representative's browser on the same server."""
    with TestClient(client.app, base_url=ORIGIN) as c:
        yield c


def add_record(client: TestClient, base: str, record_type: str, title: str) -> TestClient:
    form = client.get(f"{base}/data/new")
    added = client.post(
        f"{base}/data/new",
        data={"csrf": csrf_of(form.text), "type": record_type, "title": title, "text": title},
        follow_redirects=False,
    )
    assert added.status_code == 303, added.text
    return added.headers["location"]


def give(marieke: TestClient, jan: TestClient, categories: list[str], actions: list[str]) -> str:
    status, page = offer(marieke, categories=categories, actions=actions)
    assert status == 200, page
    status, page = accept(jan, code_of(page))
    assert status == 200, page
    mandate_id: str = mandates(jan)["acting_for"][0]["id"]
    return mandate_id


def records(client: TestClient) -> list[dict[str, object]]:
    found: list[dict[str, object]] = client.get("/v1/me/records", headers=_bearer(client)).json()[
        "records"
    ]
    return found


def clinic_asks(container: Container, marieke: TestClient) -> ServiceAgent:
    clinic, _ = register_clinic_and_school(container, marieke)
    page = marieke.post("/connect", data={"csrf": csrf_of(marieke.get("/connect").text)})
    code = re.search(r"<code>([^<]+)</code>", page.text)
    assert code
    assert clinic.ask(clinic.connect(code.group(1))).status_code == 200
    return clinic


def test_a_representative_acts_within_the_mandate(
    client: TestClient, jan: TestClient, container: Container
) -> None:
    marieke = client
    sign_up_in_app(marieke, "Marieke")
    sign_up_in_app(jan, "Jan")
    add_record(marieke, "", "health.medication", "Mijn medicijnen")
    add_record(marieke, "", "income.payslip", "Loonstrook maart")
    mid = give(marieke, jan, ["health", "debts"], ["read", "decide-requests"])
    base = f"/people/{mid}"

    people = jan.get("/people").text
    assert f'href="{base}/home"' in people
    assert "Regelen voor Marieke" in people
    assert f'href="{base}/home"' in jan.get(base).text  # the mandate's own page

    home = jan.get(f"{base}/home")
    assert home.status_code == 200
    assert "U regelt dit voor Marieke" in home.text
    assert "Terug naar uw eigen kluis" in home.text
    assert "Er wachten geen vragen voor Marieke." in home.text
    data = jan.get(f"{base}/data").text
    assert "Gegevens van Marieke" in data
    assert "Mijn medicijnen" in data
    assert "Loonstrook maart" not in data  # income is not in the mandate
    assert f"{base}/data/new" not in data  # read only: no way to add
    record_path = re.search(rf'href="({base}/data/[0-9a-f-]+)"', data)
    assert record_path
    shown = jan.get(record_path.group(1)).text
    assert "U regelt dit voor Marieke" in shown
    assert "/edit" not in shown
    assert "/delete" not in shown

    # English too.
    jan.post("/language", data={"csrf": csrf_of(home.text), "lang": "en", "next": "/"})
    assert "You are acting for Marieke" in jan.get(f"{base}/home").text
    jan.post("/language", data={"csrf": csrf_of(home.text), "lang": "nl", "next": "/"})

    # The clinic asks Marieke; Jan approves it narrower for her.
    clinic_asks(container, marieke)
    home = jan.get(f"{base}/home").text
    assert "Huisartsenpraktijk De Linde vraagt om gegevens van Marieke." in home
    request_path = re.search(rf'href="({base}/requests/[0-9a-f-]+)"', home)
    assert request_path
    request = jan.get(request_path.group(1))
    assert f'action="{request_path.group(1)}"' in request.text
    answered = jan.post(
        request_path.group(1),
        data={
            "csrf": csrf_of(request.text),
            "decision": "approve",
            "datatypes": "health.medication",
        },
    )
    assert answered.status_code == 200, answered.text
    assert f'href="{base}/access"' in answered.text
    [grant] = marieke.get("/v1/me/grants", headers=_bearer(marieke)).json()["grants"]
    assert grant["status"] == "approved"
    assert grant["datatypes"] == ["health.medication"]
    assert "Er wachten geen vragen op u." in marieke.get("/").text

    access = jan.get(f"{base}/access").text
    assert "Wie kan de gegevens van Marieke zien" in access
    assert "Huisartsenpraktijk De Linde" in access
    assert f"{base}/access/{grant['id']}/stop" in access
    assert "/access/services/" not in access  # one grant: its own stop link is enough
    detail = jan.get(f"{base}/access/{grant['id']}").text
    assert f'href="{base}/access/procedures/{grant["procedure"]["id"]}/close"' in detail

    # Marieke's log says who did it, for her; Jan sees it in hers too.
    log = marieke.get("/log").text
    assert "gedaan door Jan voor u" in log
    jans = jan.get(f"{base}/log").text
    assert "Logboek van Marieke" in jans
    assert "gedaan door Jan voor u" in jans
    # His own log is not hers.
    assert "gedaan door Jan" not in jan.get("/log").text


def test_a_write_mandate_adds_changes_and_deletes(client: TestClient, jan: TestClient) -> None:
    marieke = client
    sign_up_in_app(marieke, "Marieke")
    sign_up_in_app(jan, "Jan")
    mid = give(marieke, jan, ["debts"], ["read", "write"])
    base = f"/people/{mid}"
    form = jan.get(f"{base}/data/new").text
    assert 'value="debts.payment_plan"' in form
    assert 'value="health.medication"' not in form  # only the mandate's categories
    path = add_record(jan, base, "debts.payment_plan", "Betalingsregeling")
    assert path.startswith(f"{base}/data/")
    [made] = records(marieke)
    assert made["title"] == "Betalingsregeling"
    shown = jan.get(path).text
    assert f'href="{path}/edit"' in shown
    edit = jan.get(f"{path}/edit")
    changed = jan.post(
        f"{path}/edit",
        data={"csrf": csrf_of(edit.text), "title": "Regeling 2027", "text": "50 euro per maand"},
        follow_redirects=False,
    )
    assert changed.status_code == 303
    assert changed.headers["location"] == path
    assert records(marieke)[0]["title"] == "Regeling 2027"
    assert jan.get(path).text.count(", door u</p>") == 2  # both versions are Jan's
    confirm = jan.get(f"{path}/delete")
    gone = jan.post(f"{path}/delete", data={"csrf": csrf_of(confirm.text)})
    assert gone.status_code == 200
    assert f'href="{base}/data"' in gone.text
    assert records(marieke) == []


def test_someone_elses_mandate_id_is_not_found(client: TestClient, jan: TestClient) -> None:
    marieke = client
    sign_up_in_app(marieke, "Marieke")
    sign_up_in_app(jan, "Jan")
    mid = give(marieke, jan, ["health"], ["read"])
    with TestClient(client.app, base_url=ORIGIN) as carla:
        sign_up_in_app(carla, "Carla")
        for path in ("home", "data", "log", "access"):
            page = carla.get(f"/people/{mid}/{path}")
            assert page.status_code == 404, path
            assert "Deze pagina bestaat niet" in page.text
    # The principal cannot "act for herself" with the mandate she gave.
    assert marieke.get(f"/people/{mid}/data").status_code == 404
    # A made-up id is the same.
    assert jan.get(f"/people/{uuid.uuid4()}/data").status_code == 404


def test_a_read_only_mandate_cannot_write(client: TestClient, jan: TestClient) -> None:
    marieke = client
    sign_up_in_app(marieke, "Marieke")
    sign_up_in_app(jan, "Jan")
    record_path = add_record(marieke, "", "health.medication", "Mijn medicijnen")
    record_id = record_path.rsplit("/", 1)[1]
    income = add_record(marieke, "", "income.payslip", "Loonstrook").rsplit("/", 1)[1]
    mid = give(marieke, jan, ["health"], ["read"])
    base = f"/people/{mid}"
    token = csrf_of(jan.get(f"{base}/home").text)

    # The form pages are not offered...
    page = jan.get(f"{base}/data/new")
    assert page.status_code == 403
    assert "Dit valt buiten wat Marieke u toestond." in page.text
    assert jan.get(f"{base}/data/{record_id}/edit").status_code == 403
    assert jan.get(f"{base}/data/{record_id}/delete").status_code == 403
    # ... and posting them anyway is refused by the API, kindly, with nothing changed.
    posted = jan.post(
        f"{base}/data/new",
        data={"csrf": token, "type": "health.allergies", "title": "Pinda", "text": "x"},
    )
    assert posted.status_code == 403
    assert "Dit valt buiten wat Marieke u toestond." in posted.text
    assert "U regelt dit voor Marieke" in posted.text
    edited = jan.post(
        f"{base}/data/{record_id}/edit", data={"csrf": token, "title": "Anders", "text": "y"}
    )
    assert edited.status_code == 403
    deleted = jan.post(f"{base}/data/{record_id}/delete", data={"csrf": token})
    assert deleted.status_code == 403
    assert sorted(str(r["title"]) for r in records(marieke)) == ["Loonstrook", "Mijn medicijnen"]
    # A record outside the mandate's categories, by its id: the API refuses, kindly.
    outside = jan.get(f"{base}/data/{income}")
    assert outside.status_code == 403
    assert "Dit valt buiten wat Marieke u toestond." in outside.text
    # Requests are not in this mandate: the page is refused too.
    assert jan.get(f"{base}/access").status_code == 403
    # Marieke's log has the refused attempts.
    assert "Jan wilde iets voor u regelen" in marieke.get("/log").text


def test_many_refused_steps_get_a_kind_page_of_their_own(
    client: TestClient, jan: TestClient
) -> None:
    """Beyond the bound on refusals (10 at once), the API answers 429 `too-many-refusals`:
    the page says why in words, not the sign-in limit's sentence."""
    marieke = client
    sign_up_in_app(marieke, "Marieke")
    sign_up_in_app(jan, "Jan")
    income = add_record(marieke, "", "income.payslip", "Loonstrook").rsplit("/", 1)[1]
    mid = give(marieke, jan, ["health"], ["read"])
    pages = [jan.get(f"/people/{mid}/data/{income}") for _ in range(11)]
    assert [p.status_code for p in pages] == [403] * 10 + [429]
    assert "Dit valt buiten wat Marieke u toestond." in pages[0].text
    assert "wat deze machtiging niet toestaat" in pages[-1].text
    assert "inloggen" not in pages[-1].text  # not the connection's sign-in limit
    assert "Jan probeerde vaak iets voor u te doen zonder toestemming" in marieke.get("/log").text


def test_a_mandate_stopped_mid_session(
    client: TestClient, jan: TestClient, container: Container
) -> None:
    marieke = client
    sign_up_in_app(marieke, "Marieke")
    sign_up_in_app(jan, "Jan")
    mid = give(marieke, jan, ["health"], ["read", "decide-requests"])
    base = f"/people/{mid}"
    clinic_asks(container, marieke)
    home = jan.get(f"{base}/home").text
    request_path = re.search(rf'href="({base}/requests/[0-9a-f-]+)"', home)
    assert request_path
    request = jan.get(request_path.group(1))
    # CSRF: a post without the token does nothing.
    forged = jan.post(request_path.group(1), data={"decision": "approve"})
    assert forged.status_code == 403
    assert "Daarom hebben we niets gedaan." in forged.text
    assert marieke.get("/v1/me/requests", headers=_bearer(marieke)).json()["grants"]

    # Marieke stops the mandate while Jan has the request open.
    confirm = marieke.get(f"/people/{mid}/stop")
    marieke.post(f"/people/{mid}/stop", data={"csrf": csrf_of(confirm.text)})
    answered = jan.post(
        request_path.group(1), data={"csrf": csrf_of(request.text), "decision": "approve"}
    )
    assert answered.status_code == 403
    assert "U kunt niets meer regelen voor Marieke. De toestemming is gestopt." in answered.text
    assert "U regelt dit voor Marieke" not in answered.text
    [waiting] = marieke.get("/v1/me/requests", headers=_bearer(marieke)).json()["grants"]
    assert waiting["status"] == "requested"
    for path in ("home", "data", "log"):
        page = jan.get(f"{base}/{path}")
        assert page.status_code == 403
        assert "De toestemming is gestopt." in page.text
    assert f'href="{base}/home"' not in jan.get("/people").text


def test_a_parent_decides_a_childs_request_from_home(
    client: TestClient, container: Container
) -> None:
    anna = client
    sign_up_in_app(anna, "Anna")
    page = anna.get("/people/child")
    made = anna.post("/people/child", data={"csrf": csrf_of(page.text), "display_name": "Sam"})
    assert made.status_code == 200
    [parent] = mandates(anna)["acting_for"]
    base = f"/people/{parent['id']}"
    assert f'href="{base}/home"' in anna.get("/people").text
    assert "Naar de kluis van Sam" in anna.get("/people").text
    assert "U regelt dit voor Sam" in anna.get(f"{base}/home").text

    # The parent makes a connection code for the child's vault and gives it to the school,
    # which asks for the child's data.
    _, school = register_clinic_and_school(container, anna)
    assert f'href="{base}/connect"' in anna.get(f"{base}/home").text
    form = anna.get(f"{base}/connect")
    assert "Een dienst koppelen voor Sam" in form.text
    assert "U regelt dit voor Sam" in form.text
    assert f'action="{base}/connect"' in form.text
    page = anna.post(f"{base}/connect", data={"csrf": csrf_of(form.text)})
    assert page.status_code == 200, page.text
    assert "De code voor Sam" in page.text
    code = re.search(r"<code>([^<]+)</code>", page.text)
    assert code
    assert (
        school.ask(school.connect(code.group(1)), datatypes=["education.grades"]).status_code == 200
    )
    me = container.identity.authenticate(_bearer(anna)["Authorization"][7:]).resident_id
    child_id = container.people.acting_for(me, uuid.UUID(str(parent["id"]))).principal_id
    with container.uow() as uow:  # the code connected the child, not the parent
        assert len(uow.services.connections_of(child_id)) == 1
    home = anna.get("/").text
    assert "Er wacht een verzoek voor Sam: Basisschool De Regenboog vraagt om gegevens" in home
    request_path = re.search(rf'href="({base}/requests/[0-9a-f-]+)"', home)
    assert request_path
    request = anna.get(request_path.group(1))
    assert "U regelt dit voor Sam" in request.text
    answered = anna.post(
        request_path.group(1),
        data={
            "csrf": csrf_of(request.text),
            "decision": "approve",
            "datatypes": "education.grades",
        },
    )
    assert answered.status_code == 200, answered.text
    assert "Er wacht een verzoek voor Sam" not in anna.get("/").text
    assert "Basisschool De Regenboog" in anna.get(f"{base}/access").text
    assert "gedaan door Anna voor u" in anna.get(f"{base}/log").text


def test_a_representative_says_no_and_stops_for_the_principal(
    client: TestClient, jan: TestClient, container: Container
) -> None:
    marieke = client
    sign_up_in_app(marieke, "Marieke")
    sign_up_in_app(jan, "Jan")
    mid = give(marieke, jan, ["health"], ["read", "decide-requests"])
    base = f"/people/{mid}"
    clinic = clinic_asks(container, marieke)
    home = jan.get(f"{base}/home").text
    request_path = re.search(rf'href="({base}/requests/[0-9a-f-]+)"', home)
    assert request_path
    request = jan.get(request_path.group(1))
    assert "Huisartsenpraktijk De Linde vraagt om gegevens van Marieke" in request.text
    denied = jan.post(
        request_path.group(1), data={"csrf": csrf_of(request.text), "decision": "deny"}
    )
    assert denied.status_code == 200
    assert "U heeft nee gezegd." in denied.text
    assert f'href="{base}/home"' in denied.text
    [grant] = marieke.get("/v1/me/grants", headers=_bearer(marieke)).json()["grants"]
    assert grant["status"] == "denied"

    # A second request, approved, then stopped by Jan for her.
    code_page = marieke.post("/connect", data={"csrf": csrf_of(marieke.get("/connect").text)})
    code = re.search(r"<code>([^<]+)</code>", code_page.text)
    assert code
    assert clinic.ask(clinic.connect(code.group(1))).status_code == 200
    home = jan.get(f"{base}/home").text
    request_path = re.search(rf'href="({base}/requests/[0-9a-f-]+)"', home)
    assert request_path
    request = jan.get(request_path.group(1))
    jan.post(
        request_path.group(1),
        data={
            "csrf": csrf_of(request.text),
            "decision": "approve",
            "datatypes": ["health.medication", "health.allergies"],
        },
    )
    active = [
        g
        for g in marieke.get("/v1/me/grants", headers=_bearer(marieke)).json()["grants"]
        if g["status"] == "approved"
    ]
    assert len(active) == 1
    confirm = jan.get(f"{base}/access/{active[0]['id']}/stop")
    assert f'action="{base}/access/{active[0]["id"]}/stop"' in confirm.text
    stopped = jan.post(
        f"{base}/access/{active[0]['id']}/stop", data={"csrf": csrf_of(confirm.text)}
    )
    assert stopped.status_code == 200
    assert "is gestopt" in stopped.text
    grants = marieke.get("/v1/me/grants", headers=_bearer(marieke)).json()["grants"]
    assert all(g["status"] != "approved" for g in grants)
    assert "Geen enkele dienst kan nu uw gegevens zien." in marieke.get("/access").text


def test_a_read_only_representative_cannot_connect_a_service(
    client: TestClient, jan: TestClient
) -> None:
    """The connect page under a mandate without decide-requests: the API refuses, the app
    says so kindly, and no code is shown."""
    marieke = client
    sign_up_in_app(marieke, "Marieke")
    sign_up_in_app(jan, "Jan")
    mid = give(marieke, jan, ["debts"], ["read"])
    base = f"/people/{mid}"
    assert f'href="{base}/connect"' not in jan.get(f"{base}/home").text
    form = jan.get(f"{base}/connect")
    refused = jan.post(f"{base}/connect", data={"csrf": csrf_of(form.text)})
    assert refused.status_code == 403, refused.text
    assert "<code>" not in refused.text
    assert "Marieke" in refused.text
    forged = jan.post(f"{base}/connect", data={"csrf": "forged"})
    assert forged.status_code == 403
    assert "<code>" not in forged.text


def connected(
    container: Container, marieke: TestClient
) -> tuple[ServiceAgent, str, ServiceAgent, str]:
    """The clinic and the school, each connected to Marieke: (agent, subject) twice."""
    clinic, school = register_clinic_and_school(container, marieke)
    subjects = []
    for agent in (clinic, school):
        page = marieke.post("/connect", data={"csrf": csrf_of(marieke.get("/connect").text)})
        code = re.search(r"<code>([^<]+)</code>", page.text)
        assert code
        subjects.append(agent.connect(code.group(1)))
    return clinic, subjects[0], school, subjects[1]


def approved(
    marieke: TestClient, agent: ServiceAgent, subject: str, ref: str, datatypes: list[str]
) -> dict[str, Any]:
    """The service asks under procedure `ref`; Marieke approves it herself (over the API)."""
    before = {
        g["id"] for g in marieke.get("/v1/me/grants", headers=_bearer(marieke)).json()["grants"]
    }
    asked = agent.ask(subject, datatypes=datatypes, procedure={"ref": ref, "description": ref})
    assert asked.status_code == 200, asked.text
    [grant] = [
        g
        for g in marieke.get("/v1/me/grants", headers=_bearer(marieke)).json()["grants"]
        if g["id"] not in before
    ]
    r = marieke.post(f"/v1/me/grants/{grant['id']}/approve", json={}, headers=_bearer(marieke))
    assert r.status_code == 200, r.text
    found: dict[str, Any] = r.json()
    return found


def test_a_representative_checks_a_proof_in_the_principals_log(
    client: TestClient, jan: TestClient, container: Container
) -> None:
    marieke = client
    sign_up_in_app(marieke, "Marieke")
    sign_up_in_app(jan, "Jan")
    add_record(marieke, "", "health.medication", "Mijn medicijnen")
    add_record(marieke, "", "income.payslip", "Loonstrook")  # not in the mandate
    mid = give(marieke, jan, ["health"], ["read"])
    base = f"/people/{mid}"
    pending = jan.get(f"{base}/log").text
    assert "Controleer dit" not in pending  # nothing in the verified log yet
    container.integrator.run_once()
    page = jan.get(f"{base}/log")
    assert page.status_code == 200
    link = re.search(rf'href="({base}/log\?proof=([0-9a-f-]+))#e-\2">Controleer dit', page.text)
    assert link, page.text
    proven = jan.get(link.group(1))
    assert proven.status_code == 200
    assert "Dit staat in het gecontroleerde logboek." in proven.text
    assert "U regelt dit voor Marieke" in proven.text
    assert re.search(r"regel \d+ \(technisch: index \d+\)", proven.text)
    # Marieke's log says Jan checked it, for her.
    assert "Er is gecontroleerd dat iets echt in uw logboek staat" in marieke.get("/log").text
    assert "gedaan door Jan voor u" in marieke.get("/log").text

    # An entry of her log Jan does not see (her payslip), by its id: no proof is shown.
    hers = marieke.get("/v1/me/log?limit=100", headers=_bearer(marieke)).json()["entries"]
    [payslip] = [e for e in hers if e.get("datatype") == "income.payslip"]
    shown = jan.get(f"{base}/log?proof={payslip['id']}")
    assert shown.status_code == 200
    assert "Dit staat in het gecontroleerde logboek." not in shown.text
    assert "Loonstrook" not in shown.text
    checks = [
        e
        for e in marieke.get("/v1/me/log?limit=100", headers=_bearer(marieke)).json()["entries"]
        if e["name"] == "log.proof"
    ]
    assert len(checks) == 1  # the one Jan asked for; the other was never asked


def test_a_representative_stops_a_service_and_ends_a_procedure(
    client: TestClient, jan: TestClient, container: Container
) -> None:
    marieke = client
    sign_up_in_app(marieke, "Marieke")
    sign_up_in_app(jan, "Jan")
    mid = give(marieke, jan, ["health"], ["read", "decide-requests"])
    base = f"/people/{mid}"
    clinic, at_clinic, school, at_school = connected(container, marieke)
    knee = approved(marieke, clinic, at_clinic, "KNIE-1", ["health.medication"])
    back = approved(marieke, clinic, at_clinic, "RUG-2", ["health.allergies"])
    service = knee["service"]["id"]

    # Stop everything for the clinic, for Marieke.
    access = jan.get(f"{base}/access").text
    assert f'href="{base}/access/services/{service}/stop"' in access
    confirm = jan.get(f"{base}/access/services/{service}/stop")
    assert confirm.status_code == 200
    assert "U regelt dit voor Marieke" in confirm.text
    assert "de gegevens die u voor Marieke regelt" in confirm.text
    assert f'action="{base}/access/services/{service}/stop"' in confirm.text
    forged = jan.post(f"{base}/access/services/{service}/stop", data={"csrf": "forged"})
    assert forged.status_code == 403
    assert all(
        g["status"] == "approved"
        for g in marieke.get("/v1/me/grants", headers=_bearer(marieke)).json()["grants"]
    )
    done = jan.post(f"{base}/access/services/{service}/stop", data={"csrf": csrf_of(confirm.text)})
    assert done.status_code == 200, done.text
    assert (
        "Alles wat u voor Marieke regelt bij Huisartsenpraktijk De Linde, is gestopt." in done.text
    )
    assert f'href="{base}/access"' in done.text
    for g in (knee, back):
        now = marieke.get(f"/v1/me/grants/{g['id']}", headers=_bearer(marieke)).json()
        assert (now["status"], now["end_reason"]) == ("ended", "revoked")
    assert "gedaan door Jan voor u" in marieke.get("/log").text

    # End a procedure that lies wholly in the mandate.
    eye = approved(marieke, clinic, at_clinic, "OOG-3", ["health.medication"])
    procedure = eye["procedure"]["id"]
    detail = jan.get(f"{base}/access/{eye['id']}").text
    assert f'href="{base}/access/procedures/{procedure}/close"' in detail
    confirm = jan.get(f"{base}/access/procedures/{procedure}/close")
    assert "Het staat in het logboek van Marieke." in confirm.text
    assert f'action="{base}/access/procedures/{procedure}/close"' in confirm.text
    closed = jan.post(
        f"{base}/access/procedures/{procedure}/close", data={"csrf": csrf_of(confirm.text)}
    )
    assert closed.status_code == 200, closed.text
    assert "OOG-3 (OOG-3) is klaar. De toegang is gestopt." in closed.text
    now = marieke.get(f"/v1/me/grants/{eye['id']}", headers=_bearer(marieke)).json()
    assert (now["status"], now["end_reason"]) == ("ended", "procedure-closed")
    assert now["procedure"]["closed_by"] == "representative"

    # A procedure that also reaches data outside the mandate: Marieke's to end, said kindly.
    class_ = approved(marieke, school, at_school, "GROEP-5", ["health.medication"])
    approved(marieke, school, at_school, "GROEP-5", ["education.grades"])
    procedure = class_["procedure"]["id"]
    confirm = jan.get(f"{base}/access/procedures/{procedure}/close")
    assert confirm.status_code == 200
    refused = jan.post(
        f"{base}/access/procedures/{procedure}/close", data={"csrf": csrf_of(confirm.text)}
    )
    assert refused.status_code == 403, refused.text
    assert "Daarom kan alleen Marieke dit klaar melden. Er is niets veranderd." in refused.text
    assert "U regelt dit voor Marieke" in refused.text
    assert all(
        g["status"] == "approved"
        for g in marieke.get("/v1/me/grants", headers=_bearer(marieke)).json()["grants"]
        if g["procedure"]["ref"] == "GROEP-5"
    )
    assert "Jan wilde iets voor u regelen" in marieke.get("/log").text


def test_the_own_pages_stop_a_service_and_end_a_procedure(
    client: TestClient, container: Container
) -> None:
    """The same views in one's own vault (they were unreachable before: the path's UUID
    never matched the SDK's string ids, so both pages were a 404)."""
    marieke = client
    sign_up_in_app(marieke, "Marieke")
    clinic, at_clinic, _, _ = connected(container, marieke)
    knee = approved(marieke, clinic, at_clinic, "KNIE-1", ["health.medication"])
    approved(marieke, clinic, at_clinic, "RUG-2", ["health.allergies"])
    service = knee["service"]["id"]
    assert f'href="/access/services/{service}/stop"' in marieke.get("/access").text
    confirm = marieke.get(f"/access/services/{service}/stop")
    assert confirm.status_code == 200, confirm.text
    assert "kan Huisartsenpraktijk De Linde niets meer uit uw kluis zien" in confirm.text
    done = marieke.post(f"/access/services/{service}/stop", data={"csrf": csrf_of(confirm.text)})
    assert "Alles voor Huisartsenpraktijk De Linde is gestopt." in done.text
    grants = marieke.get("/v1/me/grants", headers=_bearer(marieke)).json()["grants"]
    assert {g["status"] for g in grants} == {"ended"}

    eye = approved(marieke, clinic, at_clinic, "OOG-3", ["health.medication"])
    procedure = eye["procedure"]["id"]
    assert (
        f'href="/access/procedures/{procedure}/close"' in marieke.get(f"/access/{eye['id']}").text
    )
    confirm = marieke.get(f"/access/procedures/{procedure}/close")
    assert confirm.status_code == 200, confirm.text
    closed = marieke.post(
        f"/access/procedures/{procedure}/close", data={"csrf": csrf_of(confirm.text)}
    )
    assert "is klaar. De toegang is gestopt." in closed.text
    now = marieke.get(f"/v1/me/grants/{eye['id']}", headers=_bearer(marieke)).json()
    assert (now["status"], now["procedure"]["closed_by"]) == ("ended", "resident")
