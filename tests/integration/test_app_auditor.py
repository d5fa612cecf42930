"""The auditors' pages (/auditor/) over HTTP, without a browser: enrolment with the code and
a passkey, sign-in and out, sessions that do not cross between residents and auditors, CSRF,
the filters, an entry's proof checked (and failing on a changed entry), the checkpoint and
its consistency, the downloads, every page's query in the log, and no record contents.
The browser test (tests/e2e/test_app_browser.py) drives the same pages in Chromium."""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from conftest import ORIGIN
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from test_app_pages import csrf_of, sign_up_in_app

from api.container import Container
from support.passkeys import SoftPasskey
from support.residents import make_resident
from vault.audit.events import AccessEvent, record
from vault.audit.verify import verify_export
from vault.storage.orm import AccessEventRow, AuditorRow

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # 10:00 Dutch time
SERVICE_A, SERVICE_B = uuid.uuid4(), uuid.uuid4()
CARE = "https://w3id.org/dpv#ServiceProvision"
RESEARCH = "https://w3id.org/dpv#ResearchAndDevelopment"
MARKER = "Zeldzaam-Geheim-7319"


def seed(c: Container, n: int = 12) -> uuid.UUID:
    """`n` integrated reads, an hour apart from T0: service A then B, care or research,
    every third refused; the odd ones of one resident (with a residents row: a pseudonym
    filter matches residents on record only). Returns that resident's id."""
    resident = make_resident(c)
    with c.uow() as uow:
        for i in range(n):
            record(
                uow,
                AccessEvent(
                    resident_id=resident if i % 2 else uuid.uuid4(),
                    name="record.read",
                    outcome="deny" if i % 3 == 0 else "permit",
                    reason="grant-revoked" if i % 3 == 0 else None,
                    actor="service",
                    actor_id=str(SERVICE_A if i < n // 2 else SERVICE_B),
                    service_id=SERVICE_A if i < n // 2 else SERVICE_B,
                    datatype="health.medication",
                    action="read",
                    purpose=CARE if i % 4 else RESEARCH,
                ),
                T0 + timedelta(hours=i),
            )
        uow.commit()
    c.integrator.run_once()
    return resident


def enrol_in_app(client: TestClient, container: Container, name: str = "A. Jansen") -> SoftPasskey:
    """Appoint (as `regie auditors add` does) and enrol through the pages, as the script does."""
    code = container.auditors.appoint(name, operator="test-operator").code
    page = client.get("/auditor/enrol")
    assert page.status_code == 200
    token = csrf_of(page.text)
    started = client.post("/auditor/enrol/options", data={"csrf": token, "code": code.lower()})
    assert started.status_code == 200, started.text
    ceremony = started.json()
    passkey = SoftPasskey(ORIGIN)
    done = client.post(
        "/auditor/enrol",
        data={
            "csrf": token,
            "code": code,
            "flow_id": ceremony["flow_id"],
            "credential": json.dumps(passkey.create(ceremony["public_key"])),
        },
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/auditor"
    return passkey


def sign_in_in_app(client: TestClient, passkey: SoftPasskey) -> None:
    page = client.get("/auditor/sign-in")
    token = csrf_of(page.text)
    ceremony = client.post("/auditor/sign-in/options", data={"csrf": token}).json()
    done = client.post(
        "/auditor/sign-in",
        data={
            "csrf": token,
            "flow_id": ceremony["flow_id"],
            "credential": json.dumps(passkey.get(ceremony["public_key"])),
        },
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text


def indices(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<li class="regie-list__item" id="i-(\d+)">', html)]


def logged_queries(c: Container) -> list[tuple[str, str | None, str | None]]:
    with c.uow() as uow:
        rows = uow.session.execute(
            select(AccessEventRow.name, AccessEventRow.action, AccessEventRow.reason)
            .where(AccessEventRow.actor == "auditor")
            .order_by(AccessEventRow.at)
        ).all()
    return [(r[0], r[1], r[2]) for r in rows]


# -- enrol, sign in, sign out ---------------------------------------------------------------


def test_an_auditor_enrols_with_the_code_signs_out_and_in_again(
    client: TestClient, container: Container
) -> None:
    passkey = enrol_in_app(client, container)
    cookie = next(c for c in client.cookies.jar if c.name == "regie-auditor-session")
    assert cookie.value.startswith("rga_")
    assert cookie.has_nonstandard_attr("HttpOnly")
    page = client.get("/auditor")
    assert page.status_code == 200
    assert '<h1 class="utrecht-heading-1">Logboek</h1>' in page.text
    assert "Uitloggen" in page.text
    with container.uow() as uow:
        row = uow.session.scalar(select(AuditorRow).where(AuditorRow.name == "A. Jansen"))
        assert row is not None
        assert row.status == "active"

    out = client.post("/auditor/sign-out", data={"csrf": csrf_of(page.text)})
    assert out.status_code == 200
    assert "U bent uitgelogd" in out.text
    assert "regie-auditor-session=" in out.headers["set-cookie"]
    assert "samesite=strict" in out.headers["set-cookie"].lower()
    gone = client.get("/auditor", follow_redirects=False)
    assert gone.status_code == 303
    assert gone.headers["location"] == "/auditor/sign-in"
    # The API ended that session too: the old token opens nothing.
    assert (
        client.get(
            "/v1/auditor/events", headers={"Authorization": f"Bearer {cookie.value}"}
        ).status_code
        == 401
    )

    sign_in_in_app(client, passkey)
    again = client.get("/auditor")
    assert again.status_code == 200
    assert "nog geen controlepunt ondertekend" in again.text


def test_a_wrong_or_spent_code_is_refused_kindly(client: TestClient, container: Container) -> None:
    code = container.auditors.appoint("B. de Vries", operator="test-operator").code
    token = csrf_of(client.get("/auditor/enrol").text)
    for wrong in ("", "KB34-T9B6-ZA07-N0TA-2PNP", "x" * 20):
        refused = client.post("/auditor/enrol/options", data={"csrf": token, "code": wrong})
        assert refused.status_code == 422
        assert "aanmeldcode" in refused.json()["error"]
    # A passkey answer with a code that is not the one the ceremony started with.
    ceremony = client.post("/auditor/enrol/options", data={"csrf": token, "code": code}).json()
    other = container.auditors.appoint("C. Bakker", operator="test-operator").code
    done = client.post(
        "/auditor/enrol",
        data={
            "csrf": token,
            "code": other,
            "flow_id": ceremony["flow_id"],
            "credential": json.dumps(SoftPasskey(ORIGIN).create(ceremony["public_key"])),
        },
    )
    assert done.status_code == 401
    assert "niet (meer) geldig" in done.text or "lukte niet" in done.text
    assert "regie-auditor-session" not in {c.name for c in client.cookies.jar}
    # Without the script, the page says what is needed.
    plain = client.post("/auditor/enrol", data={"csrf": token, "code": code})
    assert plain.status_code == 422
    assert "JavaScript" in plain.text


def test_a_residents_passkey_does_not_sign_in_an_auditor(
    client: TestClient, container: Container
) -> None:
    resident_key, _ = sign_up_in_app(client, "Anna")
    client.cookies.clear()
    token = csrf_of(client.get("/auditor/sign-in").text)
    ceremony = client.post("/auditor/sign-in/options", data={"csrf": token}).json()
    done = client.post(
        "/auditor/sign-in",
        data={
            "csrf": token,
            "flow_id": ceremony["flow_id"],
            "credential": json.dumps(resident_key.get(ceremony["public_key"])),
        },
    )
    assert done.status_code == 401
    assert "hoort niet bij een auditor" in done.text
    assert "regie-auditor-session" not in {c.name for c in client.cookies.jar}


# -- sessions do not cross -------------------------------------------------------------------


def test_a_resident_session_does_not_open_auditor_pages(
    client: TestClient, container: Container
) -> None:
    sign_up_in_app(client, "Anna")
    resident_token = client.cookies.get("regie-session")
    assert resident_token
    assert resident_token.startswith("rgs_")
    for path in ("/auditor", "/auditor/checkpoint", "/auditor/export", "/auditor/events/0"):
        page = client.get(path, follow_redirects=False)
        assert page.status_code == 303, path
        assert page.headers["location"] == "/auditor/sign-in"
    download = client.get("/auditor/export/jsonl", follow_redirects=False)
    assert download.status_code == 303
    # Even in the auditor's cookie a resident token is not taken; and a made-up auditor
    # token is refused by the API (the page says the session ended).
    client.cookies.set("regie-auditor-session", resident_token)
    assert client.get("/auditor", follow_redirects=False).status_code == 303
    client.cookies.set("regie-auditor-session", "rga_" + "x" * 43)
    ended = client.get("/auditor")
    assert ended.status_code == 401
    assert "U bent uitgelogd" in ended.text
    # The resident's own pages still work.
    assert "Hallo Anna" in client.get("/").text


def test_an_auditor_session_does_not_open_resident_pages(
    client: TestClient, container: Container
) -> None:
    enrol_in_app(client, container)
    auditor_token = client.cookies.get("regie-auditor-session")
    assert auditor_token
    assert "Welkom bij Regie" in client.get("/").text  # not signed in as a resident
    for path in ("/data", "/log", "/access", "/account", "/export/download"):
        page = client.get(path, follow_redirects=False)
        assert page.status_code == 303, path
        assert page.headers["location"] == "/sign-in"
    client.cookies.set("regie-session", auditor_token)
    assert client.get("/data", follow_redirects=False).status_code == 303
    client.cookies.set("regie-session", "rgs_" + auditor_token[4:])
    ended = client.get("/data")  # the API knows no such resident session
    assert ended.status_code == 401
    assert "U bent uitgelogd" in ended.text


# -- CSRF -------------------------------------------------------------------------------------


def test_a_forged_post_is_refused_and_does_nothing(
    client: TestClient, container: Container
) -> None:
    enrol_in_app(client, container)
    page = client.get("/auditor")
    resident_bound = csrf_of(client.get("/").text)  # a token of the resident area
    for data, headers in (
        ({}, {}),
        ({"csrf": "x" * 43}, {}),
        ({"csrf": resident_bound}, {}),
        ({"csrf": csrf_of(page.text)}, {"Origin": "https://evil.example"}),
        ({"csrf": csrf_of(page.text)}, {"Origin": "null"}),
    ):
        refused = client.post("/auditor/sign-out", data=data, headers=headers)
        assert refused.status_code == 403, data
        assert "niets gedaan" in refused.text
    assert client.get("/auditor").status_code == 200  # still signed in
    for path in ("/auditor/enrol/options", "/auditor/sign-in/options", "/auditor/language"):
        assert client.post(path, data={"code": "x"}).status_code == 403, path


# -- the entries and their filters -------------------------------------------------------------


def test_filters_select_by_time_service_purpose_outcome_and_subject(
    client: TestClient, container: Container
) -> None:
    resident = seed(container)
    enrol_in_app(client, container)
    everything = client.get("/auditor")
    assert indices(everything.text) == list(range(12))
    assert "Gelezen in het controlepunt van 12 regels." in everything.text

    def shown(**params: str) -> list[int]:
        page = client.get("/auditor", params=params)
        assert page.status_code == 200, page.text
        return indices(page.text)

    assert shown(outcome="deny") == [0, 3, 6, 9]
    assert shown(service=str(SERVICE_B)) == [6, 7, 8, 9, 10, 11]
    assert shown(purpose=RESEARCH) == [0, 4, 8]
    pseudonym = container.audit.subject_hash(str(resident))
    assert shown(subject=pseudonym.upper()) == [1, 3, 5, 7, 9, 11]
    # Dutch time: 10:00 local is T0; `until` is excluded.
    assert shown(since="2026-12-01T12:00", until="2026-12-01T15:00") == [2, 3, 4]
    assert shown(since="2026-12-01T12:00:00", outcome="permit", service=str(SERVICE_A)) == [2, 4, 5]
    assert shown(outcome="deny", subject=pseudonym) == [3, 9]
    empty = client.get("/auditor", params={"since": "2027-01-01T00:00"})
    assert "Geen regels die aan alle filters voldoen." in empty.text

    # Each line links to filters on its service, purpose and resident.
    assert f'href="/auditor?service={SERVICE_A}"' in everything.text
    assert f'href="/auditor?subject={pseudonym}"' in everything.text

    # Bad filters: a sentence at the field, the form kept, no query made.
    before = len(logged_queries(container))
    for params, sentence in (
        ({"since": "gisteren"}, "Geef datum en tijd"),
        ({"since": "2026-12-02T00:00", "until": "2026-12-01T00:00"}, "moet na"),
        ({"service": "de-linde"}, "Een dienst-id is een UUID"),
        ({"purpose": "geen uri"}, "zonder spaties"),
        ({"outcome": "maybe"}, "Kies permit, deny of done"),
        ({"subject": "abc"}, "64 tekens"),
    ):
        bad = client.get("/auditor", params=params)
        assert bad.status_code == 422, params
        assert sentence in bad.text, params
        assert 'aria-invalid="true"' in bad.text
    assert len(logged_queries(container)) == before


def test_an_operators_change_is_listed_filtered_on_its_actor_and_proven(
    client: TestClient, container: Container
) -> None:
    seed(container)
    enrol_in_app(client, container)  # the operator's `auditor.appointed`
    container.integrator.run_once()
    everything = client.get("/auditor")
    assert indices(everything.text) == list(range(13))
    assert 'href="/auditor?actor=operator"' in everything.text  # the line's "filter on this"
    operators = client.get("/auditor", params={"actor": "operator"})
    assert operators.status_code == 200
    assert indices(operators.text) == [12]
    assert "Auditor aangesteld <code>auditor.appointed</code>" in operators.text  # its label
    assert '<option value="operator" selected>' in operators.text
    assert indices(client.get("/auditor", params={"actor": "service"}).text) == list(range(12))
    bad = client.get("/auditor", params={"actor": "admin"})
    assert bad.status_code == 422
    assert "Kies een van de namen in de lijst." in bad.text
    page = client.get("/auditor/events/12")
    assert "Auditor aangesteld <code>auditor.appointed</code>" in page.text
    assert "Bewezen: deze regel staat op index 12 in het ondertekende logboek van 13 regels" in (
        page.text
    )
    # No data subject: both members present, as null.
    assert re.search(r"<code>subject</code></dt><dd><span[^>]*>null</span>", page.text)
    assert re.search(r"<code>subject_id_type</code></dt><dd><span[^>]*>null</span>", page.text)
    assert container.audit.subject_hash("test-operator") in page.text


def test_pages_are_pinned_to_one_checkpoint(client: TestClient, container: Container) -> None:
    seed(container, 60)
    enrol_in_app(client, container)
    first = client.get("/auditor")
    assert indices(first.text) == list(range(50))
    nxt = re.search(r'href="(/auditor\?[^"]+)">Volgende regels', first.text)
    assert nxt
    link = nxt.group(1).replace("&amp;", "&")
    assert "after=49" in link
    assert "size=" in link
    seed(container, 5)  # the log grows; the next page still reads the same tree
    second = client.get(link)
    assert indices(second.text) == list(range(50, 60))
    assert "Volgende regels" not in second.text
    assert "Terug naar de eerste regels" in second.text
    # A size no checkpoint has: back to the latest.
    stale = client.get("/auditor?size=999999", follow_redirects=False)
    assert stale.status_code == 303


# -- one entry and its proof -------------------------------------------------------------------


def test_an_entry_shows_every_member_and_its_checked_proof(
    client: TestClient, container: Container
) -> None:
    seed(container)
    enrol_in_app(client, container)
    listed = client.get("/auditor?outcome=deny")
    link = re.search(r'href="(/auditor/events/3\?size=12)"', listed.text)
    assert link
    page = client.get(link.group(1))
    assert page.status_code == 200
    assert "Bewezen: deze regel staat op index 3 in het ondertekende logboek van 12 regels" in (
        page.text
    )
    for member in ("event_id", "trace_id", "subject_id_type", "legal_basis"):
        assert f"<code>{member}</code>" in page.text
    assert "grant-revoked" in page.text
    assert "Inclusiebewijs: 4 hashes" in page.text
    assert client.get("/auditor/events/12").status_code == 404  # not in the log (yet)
    assert client.get("/auditor/events/99999999999999999999").status_code == 404


def test_a_changed_entry_is_not_proven(client: TestClient, container: Container) -> None:
    seed(container)
    enrol_in_app(client, container)
    with container.uow() as uow:
        uow.session.execute(
            update(AccessEventRow).where(AccessEventRow.seq == 3).values(outcome="permit")
        )
        uow.commit()
    page = client.get("/auditor/events/3")
    assert page.status_code == 200
    assert "Niet bewezen" in page.text
    assert "the entry differs from what was logged" in page.text
    assert "Bewezen:" not in page.text
    assert "Bewezen:" in client.get("/auditor/events/4").text


# -- the checkpoint --------------------------------------------------------------------------


def test_the_checkpoint_is_verified_and_extends_an_earlier_one(
    client: TestClient, container: Container
) -> None:
    seed(container, 5)
    enrol_in_app(client, container)  # the operator's `auditor.appointed`: entry 6
    seed(container, 5)
    page = client.get("/auditor/checkpoint")
    assert page.status_code == 200
    assert "De handtekening klopt: dit is het logboek van 11 regels." in page.text
    key = client.get("/v1/audit/key").json()
    assert key["verifier_key"] in page.text
    consistent = client.get("/auditor/checkpoint?old=5")
    assert "Ja: het logboek van 11 regels breidt dat van 5 regels uit." in consistent.text
    unsigned = client.get("/auditor/checkpoint?old=7")  # signed were 5 and 11 only
    assert unsigned.status_code == 400
    assert "De vault ondertekende geen controlepunt van 7 regels." in unsigned.text
    for bad in ("0", "12", "vijf", "-1"):
        refused = client.get(f"/auditor/checkpoint?old={bad}")
        assert refused.status_code == 400, bad
        assert "Geef een grootte van 1 tot en met 11." in refused.text


# -- exports ----------------------------------------------------------------------------------


def test_exports_download_as_jsonl_and_csv(client: TestClient, container: Container) -> None:
    seed(container)
    enrol_in_app(client, container)
    page = client.get("/auditor/export?outcome=deny&size=12")
    assert page.status_code == 200
    jsonl_link = re.search(r'href="(/auditor/export/jsonl\?[^"]+)"', page.text)
    csv_link = re.search(r'href="(/auditor/export/csv\?[^"]+)"', page.text)
    assert jsonl_link
    assert csv_link

    excerpt = client.get(jsonl_link.group(1).replace("&amp;", "&"))
    assert excerpt.status_code == 200
    assert excerpt.headers["content-disposition"] == 'attachment; filename="regie-audit.jsonl"'
    assert excerpt.headers["content-type"].startswith("application/jsonl")
    lines = excerpt.text.splitlines()
    header = json.loads(lines[0])
    assert [json.loads(line)["index"] for line in lines[1:]] == [0, 3, 6, 9]
    assert all(json.loads(line)["inclusion"] for line in lines[1:])
    key = client.get("/v1/audit/key").json()["verifier_key"]
    verified = verify_export(
        iter(excerpt.text.splitlines(keepends=True)),
        checkpoint=header["checkpoint"].encode(),
        verifier_key=key,
    )
    assert verified.entries == 4

    complete = client.get("/auditor/export/jsonl")
    assert len(complete.text.splitlines()) == 13
    table = client.get(csv_link.group(1).replace("&amp;", "&"))
    assert table.status_code == 200
    assert table.headers["content-disposition"] == 'attachment; filename="regie-audit.csv"'
    assert table.headers["regie-checkpoint-size"] == "12"
    rows = list(csv.DictReader(io.StringIO(table.text)))
    assert [r["index"] for r in rows] == ["0", "3", "6", "9"]
    assert {r["outcome"] for r in rows} == {"deny"}

    bad = client.get("/auditor/export/jsonl?since=morgen")
    assert bad.status_code == 422
    assert client.get("/auditor/export/xml").status_code == 422


# -- every query is logged; no contents ------------------------------------------------------------


def test_every_page_query_is_logged_as_the_auditors(
    client: TestClient, container: Container
) -> None:
    seed(container)
    enrol_in_app(client, container)
    client.get("/auditor")
    client.get("/auditor?outcome=deny&service=" + str(SERVICE_A))
    client.get("/auditor/events/2")
    client.get("/auditor/export/jsonl?purpose=" + RESEARCH)
    client.get("/auditor/export/csv")
    client.get("/auditor/checkpoint")  # the public log: no auditor query
    assert logged_queries(container) == [
        ("audit.query", "query", None),
        ("audit.query", "query", "service_id,outcome=deny"),
        ("audit.query", "query", None),
        ("audit.export", "jsonl", "purpose"),
        ("audit.export", "csv", None),
    ]


def test_no_page_or_export_holds_record_contents_or_names(
    client: TestClient, container: Container
) -> None:
    sign_up_in_app(client, f"Anna {MARKER}")
    token = client.cookies.get("regie-session")
    assert token
    anna = container.identity.authenticate(token).resident_id
    made = container.records.create(
        anna,
        category="health",
        record_type="health.medication",
        title=f"Medicatie {MARKER}",
        content={"note": MARKER},
    )
    with container.uow() as uow:
        record(
            uow,
            AccessEvent(
                resident_id=anna,
                name="record.read",
                outcome="permit",
                actor="service",
                service_id=SERVICE_A,
                record_id=made.record_id,
                datatype="health.medication",
                action="read",
                purpose=CARE,
            ),
            T0,
        )
        uow.commit()
    container.integrator.run_once()
    client.cookies.clear()
    enrol_in_app(client, container)
    listed = client.get("/auditor")
    index = max(indices(listed.text))
    pages = [
        listed.text,
        client.get(f"/auditor/events/{index}").text,
        client.get("/auditor/export/jsonl").text,
        client.get("/auditor/export/csv").text,
        client.get("/auditor/checkpoint").text,
    ]
    assert str(made.record_id) in pages[1]  # the access is there...
    for text in pages:
        assert MARKER not in text  # ...its contents and the resident's name are not
        assert "Medicatie" not in text
        assert "Anna" not in text


# -- language and headers ----------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/auditor/sign-in", "/auditor/enrol"])
def test_auditor_pages_carry_the_strict_csp(client: TestClient, path: str) -> None:
    h = client.get(path).headers
    assert "script-src 'self'" in h["content-security-policy"]
    assert "unsafe-inline" not in h["content-security-policy"]
    assert h["cache-control"] == "no-store"
    assert h["x-frame-options"] == "DENY"


def test_the_pages_are_in_english_too(client: TestClient, container: Container) -> None:
    seed(container, 2)
    enrol_in_app(client, container)
    page = client.get("/auditor?outcome=done")
    switched = client.post(
        "/auditor/language",
        data={"csrf": csrf_of(page.text), "lang": "en", "next": "/auditor?outcome=done"},
        follow_redirects=False,
    )
    assert switched.status_code == 303
    assert switched.headers["location"] == "/auditor?outcome=done"
    english = client.get("/auditor?outcome=done")
    assert '<h1 class="utrecht-heading-1">The log</h1>' in english.text
    assert "No entries match all the filters." in english.text
    assert "Latest checkpoint" in client.get("/auditor/checkpoint").text
