"""The resident app over HTTP, without a browser: routing beside the API, CSRF, cookies,
headers, kind errors, and the form flows (the passkey step done as the page's script does).
The browser tests (tests/e2e/test_app_browser.py) drive the same pages in Chromium."""

from __future__ import annotations

import re

import pytest
from conftest import ORIGIN
from fastapi.testclient import TestClient

from api.container import Container
from support.passkeys import SoftPasskey
from support.service_client import register_clinic_and_school


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def sign_up_in_app(client: TestClient, name: str = "Anna") -> tuple[SoftPasskey, str]:
    page = client.get("/sign-up")
    assert page.status_code == 200
    token = csrf_of(page.text)
    started = client.post("/sign-up/options", data={"csrf": token, "display_name": name})
    assert started.status_code == 200, started.text
    ceremony = started.json()
    passkey = SoftPasskey(ORIGIN)
    import json

    done = client.post(
        "/sign-up",
        data={
            "csrf": token,
            "display_name": name,
            "flow_id": ceremony["flow_id"],
            "credential": json.dumps(passkey.create(ceremony["public_key"])),
        },
    )
    assert done.status_code == 200, done.text
    assert "herstelcodes" in done.text.lower()
    return passkey, done.text


def test_api_paths_keep_problem_json_and_app_paths_get_a_kind_page(client: TestClient) -> None:
    api = client.get("/v1/no-such-thing")
    assert api.status_code == 404
    assert api.headers["content-type"] == "application/problem+json"
    assert client.get("/healthz").json() == {"status": "ok"}
    page = client.get("/no-such-page")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "Deze pagina bestaat niet" in page.text
    assert client.get("/openapi.json").status_code == 200


def test_pages_carry_a_strict_csp_and_the_security_headers(client: TestClient) -> None:
    for path in ("/", "/sign-up", "/sign-in", "/no-such-page"):
        h = client.get(path).headers
        csp = h["content-security-policy"]
        assert "script-src 'self'" in csp
        assert "default-src 'none'" in csp
        assert "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert h["x-frame-options"] == "DENY"
        assert h["cache-control"] == "no-store"
        assert h["x-content-type-options"] == "nosniff"
    static = client.get("/static/regie.css")
    assert static.status_code == 200
    assert static.headers["cache-control"].startswith("public")


def test_no_inline_script_or_style_in_any_template() -> None:
    from pathlib import Path

    import clients.app

    for template in (Path(clients.app.__file__).parent / "templates").glob("*.html"):
        html = template.read_text()
        assert "style=" not in html, template.name
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), template.name
        assert " on" not in re.sub(r"\s+", " ", html).replace(" one", ""), template.name


def test_a_forged_post_is_refused_and_changes_nothing(client: TestClient) -> None:
    sign_up_in_app(client)
    before = client.get("/connect")
    assert before.status_code == 200
    # No token, a wrong token, a token for another binding, another origin: all refused.
    for data, headers in (
        ({}, {}),
        ({"csrf": "x" * 43}, {}),
        ({"csrf": csrf_of(before.text)}, {"Origin": "https://evil.example"}),
    ):
        refused = client.post("/connect", data=data, headers=headers)
        assert refused.status_code == 403
        assert "niets gedaan" in refused.text
    ok = client.post("/connect", data={"csrf": csrf_of(before.text)})
    assert ok.status_code == 200
    assert "Uw code" in ok.text


def test_cookies_are_httponly_and_samesite(client: TestClient) -> None:
    first = client.get("/")
    pre = first.headers["set-cookie"]
    assert "regie-csrf=" in pre
    assert "httponly" in pre.lower()
    assert "samesite=strict" in pre.lower()
    sign_up_in_app(client)
    session = [c for c in client.cookies.jar if c.name == "regie-session"]
    assert session
    assert session[0].value.startswith("rgs_")
    assert session[0].has_nonstandard_attr("HttpOnly")


def test_secure_host_cookies_off_localhost() -> None:
    from clients.app.security import CookieNames

    assert CookieNames.for_origin("http://localhost:8000").secure is False
    remote = CookieNames.for_origin("https://vault.example.nl")
    assert remote.secure is True
    assert remote.session.startswith("__Host-")


def test_the_whole_flow_through_the_forms(client: TestClient, container: Container) -> None:
    sign_up_in_app(client, "Anna")
    home = client.get("/")
    assert "Hallo Anna" in home.text
    assert "Er wachten geen vragen op u." in home.text
    # Add a record.
    form = client.get("/data/new")
    added = client.post(
        "/data/new",
        data={
            "csrf": csrf_of(form.text),
            "type": "health.medication",
            "title": "Mijn medicijnen",
            "text": "Metformine 500 mg",
        },
        follow_redirects=False,
    )
    assert added.status_code == 303
    record_path = added.headers["location"]
    assert "Metformine 500 mg" in client.get(record_path).text
    # A service connects with a code and asks.
    clinic, _ = register_clinic_and_school(container, client)
    code_page = client.post("/connect", data={"csrf": csrf_of(form.text)})
    code = re.search(r"<code>([^<]+)</code>", code_page.text)
    assert code
    subject = clinic.connect(code.group(1))
    assert clinic.ask(subject).status_code == 200
    home = client.get("/")
    assert "Huisartsenpraktijk De Linde vraagt om uw gegevens." in home.text
    request_path = re.search(r'href="(/requests/[^"]+)"', home.text)
    assert request_path
    request = client.get(request_path.group(1))
    assert "Medicatiebeoordeling voor uw behandeling" in request.text
    assert "Fysiotherapie knie (BEH-2026-0042)" in request.text
    # Approve narrower: one datatype, read only.
    answered = client.post(
        request_path.group(1),
        data={
            "csrf": csrf_of(request.text),
            "decision": "approve",
            "datatypes": "health.medication",
            "read_only": "yes",
        },
    )
    assert answered.status_code == 200, answered.text
    grant = client.get("/v1/me/grants", headers=_bearer(client)).json()["grants"][0]
    assert grant["datatypes"] == ["health.medication"]
    assert grant["actions"] == ["read"]
    # Who sees what, then stop it.
    access = client.get("/access")
    assert "Huisartsenpraktijk De Linde" in access.text
    stop_page = client.get(f"/access/{grant['id']}/stop")
    assert "Als u stopt" in stop_page.text
    stopped = client.post(f"/access/{grant['id']}/stop", data={"csrf": csrf_of(stop_page.text)})
    assert "is gestopt" in stopped.text
    assert "Geen enkele dienst kan nu uw gegevens zien." in client.get("/access").text
    history = client.get(f"/access/{grant['id']}").text
    assert "Huisartsenpraktijk De Linde vroeg om toegang." in history
    assert "u zei ja." in history
    assert "de toegang stopte, want u heeft het gestopt." in history


def _bearer(client: TestClient) -> dict[str, str]:
    token = next(c.value for c in client.cookies.jar if c.name == "regie-session")
    return {"Authorization": f"Bearer {token}"}


def test_an_ended_session_gets_a_kind_sign_in_page(client: TestClient) -> None:
    sign_up_in_app(client)
    client.post("/v1/auth/sign-out", headers=_bearer(client))
    page = client.get("/data")
    assert page.status_code == 401
    assert "omdat u een tijdje niets deed" in page.text
    assert client.get("/data", follow_redirects=False).status_code in (303, 307)


@pytest.mark.parametrize("path", ["/data", "/access", "/account", "/connect", "/export", "/delete"])
def test_signed_out_pages_send_you_to_sign_in(client: TestClient, path: str) -> None:
    response = client.get(path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/sign-in"


def test_the_language_switch(client: TestClient) -> None:
    page = client.get("/sign-in")
    assert 'lang="nl"' in page.text
    switched = client.post(
        "/language", data={"csrf": csrf_of(page.text), "lang": "en", "next": "/sign-in"}
    )
    assert 'lang="en"' in switched.text
    assert "Sign in with my key" in switched.text
    # An outside address to go back to is not followed.
    off = client.post(
        "/language",
        data={"csrf": csrf_of(page.text), "lang": "nl", "next": "//evil.example/"},
        follow_redirects=False,
    )
    assert off.headers["location"] == "/"


def test_a_file_is_streamed_in_and_out_through_the_app(client: TestClient) -> None:
    sign_up_in_app(client)
    form = client.get("/data/new")
    content = bytes(range(256)) * 8192  # 2 MiB: past Starlette's 1 MiB spool threshold
    added = client.post(
        "/data/new",
        data={"csrf": csrf_of(form.text), "type": "care.care_plan", "title": "Zorgplan"},
        files={"file": ("zorgplan café.pdf", content, "application/pdf")},
        follow_redirects=False,
    )
    assert added.status_code == 303, added.text
    page = client.get(added.headers["location"])
    assert "Download zorgplan café.pdf" in page.text
    download = client.get(added.headers["location"] + "/file")
    assert download.status_code == 200
    assert download.content == content
    assert download.headers["content-type"] == "application/pdf"
    assert "attachment" in download.headers["content-disposition"]
    # A new file makes version 2; version 1 stays downloadable.
    edit = client.get(added.headers["location"] + "/edit")
    changed = client.post(
        added.headers["location"] + "/edit",
        data={"csrf": csrf_of(edit.text), "title": "Zorgplan", "expected_version": "1"},
        files={"file": ("plan-2.pdf", b"%PDF-2", "application/pdf")},
        follow_redirects=False,
    )
    assert changed.status_code == 303, changed.text
    assert client.get(added.headers["location"] + "/file").content == b"%PDF-2"
    assert client.get(added.headers["location"] + "/file?version=1").content == content
    assert "Versie 1" in client.get(added.headers["location"]).text


def test_a_multipart_post_without_its_token_is_refused_before_the_file(
    client: TestClient,
) -> None:
    sign_up_in_app(client)
    refused = client.post(
        "/data/new",
        data={"type": "care.care_plan", "title": "Zorgplan"},
        files={"file": ("x.pdf", b"%PDF", "application/pdf")},
    )
    assert refused.status_code == 403
    assert "Er staan 0 stukken" in client.get("/").text


def test_a_json_record_is_changed_as_a_new_version(client: TestClient) -> None:
    sign_up_in_app(client)
    form = client.get("/data/new")
    added = client.post(
        "/data/new",
        data={
            "csrf": csrf_of(form.text),
            "type": "health.allergies",
            "title": "Allergie",
            "text": "Noten",
        },
        follow_redirects=False,
    )
    path = added.headers["location"]
    edit = client.get(path + "/edit")
    client.post(
        path + "/edit",
        data={
            "csrf": csrf_of(edit.text),
            "title": "Allergieën",
            "text": "Noten, pinda",
            "expected_version": "1",
        },
    )
    page = client.get(path)
    assert "Noten, pinda" in page.text
    old = client.get(path + "/versions/1")
    assert "Dit is een oudere versie" in old.text
    assert "Noten" in old.text
    # A stale form (expected version 1 again) is refused kindly, nothing lost.
    stale = client.post(
        path + "/edit",
        data={"csrf": csrf_of(edit.text), "title": "Oud", "expected_version": "1"},
    )
    assert stale.status_code == 409
    assert "intussen ergens anders veranderd" in stale.text
    delete = client.get(path + "/delete")
    gone = client.post(path + "/delete", data={"csrf": csrf_of(delete.text)})
    assert "is weggegooid" in gone.text
    assert client.get(path).status_code == 404
