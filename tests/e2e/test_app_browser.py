"""The resident app as a person uses it: Debian's headless Chromium, driven by Playwright,
against a real server (`regie migrate`, `regie serve`) on a port of its own, with a passkey
from Chromium's virtual authenticator (CDP `WebAuthn`).

The journey: sign up -> add a record -> a service (driven here over the API) asks ->
approve narrower -> the service reads -> stop the access -> the service's next read fails;
then export and delete the vault. axe-core checks every screen (no serious or critical
violations), each screen is saved at 360x740 under docs/screenshots/, approve and stop are
done once more with the keyboard only, and the CSP, CSRF and cookie flags are checked in the
browser. The journey runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from conftest import PG_URL, pg_schema_url, require_postgres
from sqlalchemy import create_engine, text

from support.service_client import ServiceAgent

pytestmark = [pytest.mark.browser, pytest.mark.slow]

playwright_api = pytest.importorskip("playwright.sync_api")
axe_module = pytest.importorskip("axe_playwright_python.sync_playwright")

REPO = Path(__file__).resolve().parents[2]
SHOTS = REPO / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PORTS = range(8500, 8600)  # this suite's share of the machine's ports
VIEWPORT = {"width": 360, "height": 740}


# -- the server ----------------------------------------------------------------------------


def _regie() -> str:
    beside = Path(sys.executable).with_name("regie")
    return str(beside) if beside.exists() else (shutil.which("regie") or "regie")


def _free_port() -> int:
    for port in PORTS:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 8500-8599")


def _cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [_regie(), *args],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert done.returncode == 0, f"regie {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@dataclass
class Server:
    kind: str
    base: str
    env: dict[str, str]
    tmp: Path
    log: Path


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    tmp = tmp_path_factory.mktemp(f"app-{request.param}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGIE_")}
    schema = None
    if request.param == "postgresql":
        require_postgres()
        schema = f"regie_app_{uuid.uuid4().hex[:10]}"
        admin = create_engine(PG_URL)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        admin.dispose()
        env["REGIE_DATABASE_URL"] = pg_schema_url(schema)
    port = _free_port()
    base = f"http://localhost:{port}"  # a host name: browsers refuse an IP as passkey RP id
    env.update(REGIE_MODE="development", REGIE_PUBLIC_URL=base, REGIE_DATA_DIR=str(tmp / "data"))
    env["REGIE_RATE_LIMITS"] = "false"  # tested in tests/integration/test_rate_limits.py
    _cli(env, "migrate")
    log = tmp / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [_regie(), "serve", "--port", str(port)],
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            assert proc.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.3)
        yield Server(request.param, base, env, tmp, log)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        served = log.read_text(errors="replace")
        if schema:
            admin = create_engine(PG_URL)
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            admin.dispose()
        assert "Traceback" not in served, served[-4000:]


def register_service(server: Server, http: httpx.Client, *extra: str) -> ServiceAgent:
    agent = ServiceAgent(http, f"linde-{uuid.uuid4().hex[:8]}", base=server.base)
    jwks = server.tmp / f"{agent.client_id}.jwks.json"
    jwks.write_text(json.dumps(agent.jwks))
    _cli(
        server.env,
        "services",
        "add",
        "--name",
        "Huisartsenpraktijk De Linde",
        "--organisation",
        "ura:12345678",
        "--kind",
        "care-provider",
        "--datatype",
        "health.medication",
        "--datatype",
        "health.allergies",
        "--action",
        "read",
        "--action",
        "write",
        "--jwks",
        str(jwks),
        "--client-id",
        agent.client_id,
        *extra,
    )
    return agent


# -- the browser ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@dataclass
class Person:
    page: Any
    context: Any
    base: str
    kind: str
    shots: bool
    checked: dict[str, int]

    def go(self, path: str) -> None:
        self.page.goto(self.base + path)

    def look(self, name: str, *, shot: bool = True) -> None:
        """axe-core on this screen (no serious or critical violation), then a screenshot
        (unless `shot` is false: a screen worth checking, not worth showing)."""
        results = axe_module.Axe().run(self.page)
        bad = [
            v for v in results.response["violations"] if v.get("impact") in ("serious", "critical")
        ]
        assert bad == [], f"{name}: " + json.dumps(
            [
                {"id": v["id"], "impact": v["impact"], "nodes": [n["html"] for n in v["nodes"]]}
                for v in bad
            ],
            indent=1,
        )
        self.checked[name] = len(results.response["violations"])
        if self.shots and shot:
            SHOTS.mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)

    def link(self, name: str) -> Any:
        return self.page.get_by_role("link", name=name, exact=True)

    def button(self, name: str) -> Any:
        return self.page.get_by_role("button", name=name, exact=True)


def person(browser: Any, server: Server, *, shots: bool = False) -> Person:
    context = browser.new_context(viewport=VIEWPORT, locale="nl-NL", accept_downloads=True)
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
            }
        },
    )
    page.set_default_timeout(15_000)
    return Person(page, context, server.base, server.kind, shots, {})


def sign_up(p: Person, name: str, *, look: bool = False) -> None:
    p.go("/")
    if look:
        p.look("01-welcome")
    p.link("Maak een kluis").click()
    p.page.get_by_label("Hoe wilt u genoemd worden?").fill(name)
    if look:
        p.look("02-sign-up")
    p.button("Maak mijn kluis").click()
    p.page.get_by_role("heading", name="Uw herstelcodes").wait_for()
    codes = p.page.locator(".regie-codes code").all_inner_texts()
    assert len(codes) == 10
    assert all(re.fullmatch(r"[0-9A-Z]{4}(-[0-9A-Z]{4}){3}", c) for c in codes)
    if look:
        p.look("03-recovery-codes")
    p.link("Ik heb de codes bewaard").click()
    p.page.get_by_role("heading", name=f"Hallo {name}").wait_for()


def service_asks(server: Server, http: httpx.Client, p: Person) -> tuple[ServiceAgent, str, str]:
    """The service connects with the resident's code and asks; returns it, the subject and
    the auth_req_id."""
    agent = register_service(server, http)
    p.go("/connect")
    p.button("Maak een code").click()
    code = p.page.locator(".regie-bigcode code").inner_text()
    if p.shots:
        p.look("09-connection-code")
    subject = agent.connect(code)
    asked = agent.ask(subject)
    assert asked.status_code == 200, asked.text
    return agent, subject, asked.json()["auth_req_id"]


def add_record(p: Person, title: str, record_type: str, note: str, *, look: bool = False) -> str:
    p.go("/data")
    p.link("Iets toevoegen").click()
    p.page.get_by_label("Wat is het?").select_option(record_type)
    p.page.get_by_label("Naam", exact=True).fill(title)
    p.page.get_by_label("Tekst", exact=True).fill(note)
    if look:
        p.look("05-add-record")
    p.button("Bewaar in mijn kluis").click()
    p.page.get_by_role("heading", name=title).wait_for()
    if look:
        p.look("06-record")
    return str(p.page.url.rsplit("/", 1)[1])


# -- the journey ----------------------------------------------------------------------------


def test_the_journey(browser: Any, server: Server) -> None:
    shots = server.kind == "sqlite"
    p = person(browser, server, shots=shots)
    with httpx.Client(base_url=server.base, timeout=30) as http:
        sign_up(p, "Anna", look=shots)
        if shots:
            p.look("04-home-empty")

        cookies = {c["name"]: c for c in p.context.cookies()}
        session = cookies["regie-session"]
        assert session["httpOnly"] is True
        assert session["sameSite"] == "Lax"
        assert session["secure"] is False  # localhost only; __Host- and Secure elsewhere
        assert cookies["regie-csrf"]["httpOnly"] is True
        assert cookies["regie-csrf"]["sameSite"] == "Strict"

        medication = add_record(
            p, "Mijn medicijnen", "health.medication", "Metformine 500 mg", look=shots
        )
        add_record(p, "Allergie", "health.allergies", "Noten")
        p.go("/data")
        p.page.get_by_role("heading", name="Gezondheid").wait_for()
        if shots:
            p.look("07-my-data")

        agent, _, auth_req_id = service_asks(server, http, p)

        # Home shows the question; open it (tap 1), untick allergies and make it read only
        # (the narrowing), approve (tap 2 + the two ticks).
        p.go("/")
        p.page.get_by_text("Huisartsenpraktijk De Linde vraagt om uw gegevens.").wait_for()
        if shots:
            p.look("08-home-request-waiting")
        p.page.get_by_role("link", name=re.compile("^Bekijk de vraag")).click()
        p.page.get_by_role(
            "heading", name="Huisartsenpraktijk De Linde vraagt om uw gegevens"
        ).wait_for()
        assert p.page.get_by_text("Medicatiebeoordeling voor uw behandeling").is_visible()
        assert p.page.get_by_text("Fysiotherapie knie (BEH-2026-0042)").is_visible()
        if shots:
            p.look("10-request")
        p.page.get_by_label("Allergieën").uncheck()
        p.page.get_by_label(re.compile("^Alleen lezen")).check()
        p.button("Ja, geef toegang").click()
        p.page.get_by_text("Gelukt. Huisartsenpraktijk De Linde heeft nu toegang.").wait_for()
        if shots:
            p.look("11-approved")

        # The service redeems its request and reads, within what was granted only.
        issued = agent.poll(auth_req_id)
        assert issued.status_code == 200, issued.text
        token = issued.json()["access_token"]
        assert issued.json()["authorization_details"][0]["datatypes"] == ["health.medication"]
        assert issued.json()["authorization_details"][0]["actions"] == ["read"]
        read = agent.call("GET", f"/v1/service/records/{medication}", token)
        assert read.status_code == 200, read.text
        assert read.json()["content"] == {"text": "Metformine 500 mg"}

        # Who sees what; stop it (one tap, then the confirmation).
        p.link("Wie ziet wat").click()
        p.page.get_by_role("heading", name="Huisartsenpraktijk De Linde").wait_for()
        if shots:
            p.look("12-who-sees-what")
        p.page.get_by_role("link", name=re.compile("^Stoppen")).click()
        p.page.get_by_text("Als u stopt, kan Huisartsenpraktijk De Linde").wait_for()
        if shots:
            p.look("13-stop-confirm")
        p.button("Ja, stop de toegang").click()
        p.page.get_by_text("De toegang van Huisartsenpraktijk De Linde is gestopt.").wait_for()

        after = agent.call("GET", f"/v1/service/records/{medication}", token)
        assert after.status_code == 401, after.text
        assert "ended" in after.json()["error_description"]

        p.go("/access")
        assert p.page.get_by_text("Geen enkele dienst kan nu uw gegevens zien.").is_visible()
        if shots:
            p.look("14-who-sees-what-after")
            p.page.get_by_role("link", name=re.compile("^Huisartsenpraktijk De Linde")).click()
            p.page.get_by_role("heading", name="Wat er gebeurde").wait_for()
            p.look("15-grant-history")

        # Account: sessions, keys, recovery codes.
        p.link("Mijn account").click()
        p.page.get_by_text("Dit toestel, nu").wait_for()
        if shots:
            p.look("16-account-sessions")

        # The language switch.
        p.button("English").click()
        p.page.get_by_role("heading", name="My account").wait_for()
        if shots:
            p.look("17-account-english")
        p.button("Nederlands").click()
        p.page.get_by_role("heading", name="Mijn account").wait_for()

        # Export everything.
        p.go("/export")
        if shots:
            p.look("18-export")
        with p.page.expect_download() as download:
            p.link("Download mijn gegevens").click()
        saved = server.tmp / "export.zip"
        download.value.save_as(saved)
        with zipfile.ZipFile(saved) as archive:
            assert json.loads(archive.read("manifest.json"))["format"] == "regie-export/1"

        # Delete the vault: a warning, then a passkey confirmation.
        p.go("/delete")
        assert p.page.get_by_text("Let op: dit kunt u niet terugdraaien.").is_visible()
        if shots:
            p.look("19-delete")
        p.button("Bevestig met mijn sleutel en gooi weg").click()
        p.page.get_by_role("heading", name="Uw kluis is weggegooid").wait_for()
        if shots:
            p.look("20-deleted")
        assert "regie-session" not in {c["name"] for c in p.context.cookies()}
        print(f"\naxe violations (all impacts) per screen on {server.kind}: {p.checked}")
    p.context.close()


# -- who looked at my data -------------------------------------------------------------------


def test_who_looked_at_my_data_with_a_verified_proof(browser: Any, server: Server) -> None:
    """A service reads; the resident sees it as a sentence (home and the log screen), filters
    the log, and opens the entry's proof, checked by the app: all with the keyboard."""
    shots = server.kind == "sqlite"
    p = person(browser, server, shots=shots)
    with httpx.Client(base_url=server.base, timeout=30) as http:
        sign_up(p, "Dewi")
        medication = add_record(p, "Mijn medicijnen", "health.medication", "Metformine 500 mg")
        agent, _, auth_req_id = service_asks(server, http, p)
        p.go("/")
        p.page.get_by_role("link", name=re.compile("^Bekijk de vraag")).click()
        p.button("Ja, geef toegang").click()
        p.page.get_by_text("heeft nu toegang").wait_for()
        token = agent.poll(auth_req_id).json()["access_token"]
        read = agent.call("GET", f"/v1/service/records/{medication}", token)
        assert read.status_code == 200, read.text

        looked = re.compile(
            r"^Huisartsenpraktijk De Linde heeft uw medicatieoverzicht bekeken voor "
            r"medicatiebeoordeling voor uw behandeling, op \d+ \w+ om \d\d:\d\d\.$"
        )
        p.go("/")
        p.page.get_by_role("heading", name="Recent bekeken").wait_for()
        assert p.page.get_by_text(looked).is_visible()

        # To the log with the keyboard; the integrator takes events in every second, so
        # the entry can be checked within a few.
        tab_to(p, r"^Bekijk wie uw gegevens bekeek$")
        p.page.keyboard.press("Enter")
        p.page.get_by_role("heading", name="Wie heeft mijn gegevens bekeken?").wait_for()
        check = p.page.get_by_role(
            "link", name=re.compile(r"^Controleer dit\W+Huisartsenpraktijk De Linde heeft uw")
        )
        deadline = time.monotonic() + 20
        while not check.first.is_visible():
            assert time.monotonic() < deadline, "the read did not reach the verified log"
            time.sleep(0.5)
            p.page.reload()
        entry = p.page.locator(".regie-log > li").filter(has=p.page.get_by_text(looked))
        assert entry.count() == 1
        gave = p.page.locator(".regie-log__text", has_text="U gaf Huisartsenpraktijk De Linde")
        assert gave.is_visible()
        if shots:
            p.look("21-log")

        # Filter by subject with a plain GET form: the school's or other subjects hide it.
        p.page.get_by_label("Onderwerp").select_option("education")
        p.button("Laat zien").click()
        p.page.wait_for_url(re.compile(r"category=education"))
        assert p.page.get_by_text("Hier past niets bij.").is_visible()
        p.page.get_by_label("Onderwerp").select_option("health")
        p.page.get_by_label("Dienst").select_option(label="Huisartsenpraktijk De Linde")
        p.button("Laat zien").click()
        p.page.wait_for_url(re.compile(r"category=health"))
        assert p.page.get_by_text(looked).is_visible()
        assert gave.count() == 0  # the decision is about no subject

        # The proof, reached with the keyboard, checked by the app.
        tab_to(p, r"^Controleer dit")
        p.page.keyboard.press("Enter")
        p.page.wait_for_url(re.compile(r"proof="))
        verified = p.page.get_by_text("Dit staat in het gecontroleerde logboek.")
        verified.wait_for()
        tab_to(p, r"^Voor wie het precies wil weten$")
        p.page.keyboard.press("Enter")
        facts = p.page.locator(".regie-proof dl")
        facts.wait_for()
        assert re.search(
            r"Plaats in het logboek\s+regel \d+ \(technisch: index \d+\)", facts.inner_text()
        )
        if shots:
            p.look("22-log-proof")

        # In English, the same entry.
        p.button("English").click()
        p.page.get_by_role("heading", name="Who looked at my data?").wait_for()
        assert p.page.get_by_text(
            re.compile(r"^Huisartsenpraktijk De Linde viewed your medication overview")
        ).is_visible()
        assert p.page.get_by_text("This entry is in the verified log.").is_visible()
    p.context.close()


# -- an auditor ------------------------------------------------------------------------------


def test_an_auditor_enrols_filters_checks_a_proof_and_exports(browser: Any, server: Server) -> None:
    """The operator appoints an auditor (`regie auditors add`); the auditor enrols a passkey
    with the code, signs out and in again, filters the log, opens an entry whose proof the
    page checks, checks the checkpoint, and downloads both exports; the JSON Lines export
    verifies offline (`regie audit verify`), and every query shows in the log itself."""
    shots = server.kind == "sqlite"
    resident = person(browser, server)
    with httpx.Client(base_url=server.base, timeout=30) as http:
        # Something to audit: a resident's medication read by a service under a grant.
        # The server is the module's: earlier tests' entries come before `since`, a whole
        # second this test waits for (the filter counts in seconds; an earlier test's last
        # read in the same second as `since` would be counted as this test's).
        now = datetime.now(ZoneInfo("Europe/Amsterdam"))
        start = (now + timedelta(seconds=1)).replace(microsecond=0)
        time.sleep((start - now).total_seconds())
        since = start.strftime("%Y-%m-%dT%H:%M:%S")
        sign_up(resident, "Eva")
        medication = add_record(resident, "Mijn medicijnen", "health.medication", "Metformine")
        agent, _, auth_req_id = service_asks(server, http, resident)
        resident.go("/")
        resident.page.get_by_role("link", name=re.compile("^Bekijk de vraag")).click()
        resident.button("Ja, geef toegang").click()
        resident.page.get_by_text("heeft nu toegang").wait_for()
        token = agent.poll(auth_req_id).json()["access_token"]
        assert agent.call("GET", f"/v1/service/records/{medication}", token).status_code == 200
    resident.context.close()

    appointed = json.loads(
        _cli(server.env, "auditors", "add", f"A. Jansen {uuid.uuid4().hex[:6]}", "--json")
    )
    assert appointed["enrol_page"] == f"{server.base}/auditor/enrol"
    p = person(browser, server, shots=shots)
    p.go("/auditor")
    p.page.wait_for_url(re.compile(r"/auditor/sign-in$"))
    p.page.get_by_role("heading", name="Inloggen als auditor").wait_for()
    if shots:
        p.look("30-auditor-sign-in")
    p.link("Aanmelden met een code").click()
    p.page.get_by_label("Aanmeldcode").fill("KB34-T9B6-ZA07-N0TA-2PNP")  # a wrong one first
    p.button("Maak mijn passkey").click()
    p.page.get_by_text("Deze aanmeldcode is niet (meer) geldig.").wait_for()
    p.page.get_by_label("Aanmeldcode").fill(appointed["code"].lower())
    if shots:
        p.look("31-auditor-enrol")
    p.button("Maak mijn passkey").click()
    p.page.get_by_role("heading", name="Logboek", exact=True).wait_for()
    cookies = {c["name"]: c for c in p.context.cookies()}
    session = cookies["regie-auditor-session"]
    assert session["value"].startswith("rga_")
    assert session["httpOnly"] is True
    assert session["sameSite"] == "Strict"
    assert "regie-session" not in cookies

    # Sign out, and in again with the passkey just made.
    p.button("Uitloggen").click()
    p.page.get_by_role("heading", name="U bent uitgelogd").wait_for()
    p.link("Inloggen als auditor").click()
    p.button("Inloggen met mijn passkey").click()
    p.page.get_by_role("heading", name="Logboek", exact=True).wait_for()

    # Entries reach the signed log within a few seconds (the integrator runs every second).
    entries = p.page.locator(".regie-audit-list > li")
    deadline = time.monotonic() + 20
    while entries.count() == 0:
        assert time.monotonic() < deadline, "nothing reached the verified log"
        time.sleep(0.5)
        p.page.reload()
    if shots:
        p.look("32-auditor-log")
    seen = p.page.get_by_text(
        re.compile(r"^Gelezen in het controlepunt van \d+ regels")
    ).inner_text()
    seen_size = re.findall(r"\d+", seen)[0]  # a size the vault signed (it signs per batch)

    # Filter from this test's start: refused attempts (none), then allowed ones: the read.
    p.page.get_by_text("Filters", exact=True).click()
    p.page.get_by_label("Vanaf (Nederlandse tijd)").fill(since)
    p.page.get_by_label("Uitkomst").select_option("deny")
    p.button("Zoek").click()
    p.page.wait_for_url(re.compile(r"outcome=deny"))
    assert p.page.get_by_text("Geen regels die aan alle filters voldoen.").is_visible()
    p.page.get_by_label("Uitkomst").select_option("permit")
    p.button("Zoek").click()
    p.page.wait_for_url(re.compile(r"outcome=permit"))
    reads = entries.filter(has_text="record.read")
    deadline = time.monotonic() + 20
    while reads.count() == 0:
        assert time.monotonic() < deadline, "the read did not reach the verified log"
        time.sleep(0.5)
        p.page.reload()
    assert entries.filter(has_text="geweigerd").count() == 0
    assert entries.filter(has_text="uitgevoerd").count() == 0
    assert reads.count() == 1
    filtered = p.page.url
    if shots:
        p.look("33-auditor-filtered")

    # One entry: every member, and its proof checked by the page.
    reads.first.get_by_role("link", name=re.compile(r"record\.read")).click()
    p.page.wait_for_url(re.compile(r"/auditor/events/\d+\?size=\d+$"))
    p.page.get_by_text(re.compile(r"^Bewezen: deze regel staat op index \d+")).wait_for()
    assert p.page.get_by_text(medication, exact=True).is_visible()
    if shots:
        p.look("34-auditor-proof")

    # The checkpoint, and that it extends the one the list was read in.
    p.link("Controlepunt").click()
    p.page.get_by_text(re.compile(r"^De handtekening klopt")).wait_for()
    p.page.get_by_label("Grootte van het eerdere controlepunt").fill(seen_size)
    p.button("Controleer").click()
    p.page.get_by_text(
        re.compile(rf"^Ja: het logboek van \d+ regels breidt dat van {seen_size} regels uit")
    ).wait_for()
    if shots:
        p.look("35-auditor-checkpoint")

    # A checkpoint the auditor kept, pasted in: signed by the log, and the latest extends it.
    kept = httpx.get(f"{server.base}/v1/audit/checkpoint", params={"size": seen_size}, timeout=10)
    assert kept.status_code == 200, kept.text
    p.page.get_by_label("Ondertekend controlepunt").fill(kept.text)
    p.button("Controleer dit controlepunt").click()
    p.page.get_by_text(
        re.compile(rf"^Ja: dit controlepunt van {seen_size} regels is door het logboek ondertekend")
    ).wait_for()
    p.page.get_by_text(re.compile(r"^Consistentiebewijs: \d+ hashes")).wait_for()
    if shots:
        p.look("37-auditor-consistency")
    # The same note with its size changed: the signature no longer holds, and the page says so.
    p.page.get_by_label("Ondertekend controlepunt").fill(
        kept.text.replace(f"\n{seen_size}\n", f"\n{int(seen_size) + 1}\n", 1)
    )
    p.button("Controleer dit controlepunt").click()
    p.page.get_by_text(re.compile(r"^De handtekening klopt niet met de sleutel")).wait_for()
    p.look("37-auditor-consistency-tampered", shot=False)

    # Export what the filter selected, both ways; the JSON Lines verifies offline.
    p.page.goto(filtered)
    p.link("Exporteer wat deze filters selecteren").click()
    p.page.get_by_role("heading", name="Exporteren").wait_for()
    if shots:
        p.look("36-auditor-export")
    with p.page.expect_download() as download:
        p.link("Download als JSON Lines (.jsonl)").click()
    jsonl = server.tmp / "audit.jsonl"
    download.value.save_as(jsonl)
    with p.page.expect_download() as download:
        p.link("Download als CSV (.csv)").click()
    table = server.tmp / "audit.csv"
    download.value.save_as(table)
    assert table.read_text().startswith("index,leaf_hash,")
    lines = jsonl.read_text().splitlines()
    header = json.loads(lines[0])
    assert len(lines) > 1
    assert {json.loads(line)["entry"]["outcome"] for line in lines[1:]} == {"permit"}
    checkpoint = server.tmp / "checkpoint.txt"
    checkpoint.write_text(header["checkpoint"])
    key = httpx.get(f"{server.base}/v1/audit/key", timeout=10).json()["verifier_key"]
    verified = _cli(
        server.env, "audit", "verify", str(jsonl), "--checkpoint", str(checkpoint), "--key", key
    )
    assert "verified" in verified.lower()

    # Every query these pages made is an entry of the log, as the auditor's.
    deadline = time.monotonic() + 20
    while True:
        mine = httpx.get(
            f"{server.base}/v1/auditor/events",
            params={"limit": 1000},
            headers={"Authorization": f"Bearer {_auditor_token(p)}"},
            timeout=10,
        ).json()["events"]
        logged = [e["entry"]["name"] for e in mine if e["entry"]["actor"] == "auditor"]
        if logged.count("audit.export") >= 2:
            break
        assert time.monotonic() < deadline, logged
        time.sleep(0.5)
    assert logged.count("audit.query") >= 5
    print(f"\naxe violations (all impacts) per auditor screen on {server.kind}: {p.checked}")
    p.context.close()


def _auditor_token(p: Person) -> str:
    return str(
        next(c["value"] for c in p.context.cookies() if c["name"] == "regie-auditor-session")
    )


# -- keyboard only ---------------------------------------------------------------------------


def tab_to(p: Person, pattern: str, *, attribute: str | None = None, limit: int = 80) -> None:
    """Press Tab until the focused element's text (or `attribute`) matches `pattern`."""
    wanted = re.compile(pattern)
    p.page.wait_for_load_state()
    for _ in range(limit):
        p.page.keyboard.press("Tab")
        label = p.page.evaluate(
            "(attribute) => { const e = document.activeElement; if (!e) return '';"
            " if (attribute) return e.getAttribute(attribute) || '';"
            " return e.innerText || e.value || ''; }",
            attribute,
        )
        if wanted.search(label.strip()):
            return
    raise AssertionError(f"no focusable element matching {pattern!r} within {limit} tabs")


def test_approve_and_stop_with_the_keyboard_only(browser: Any, server: Server) -> None:
    if server.kind != "sqlite":
        pytest.skip("once is enough: the journey covers PostgreSQL")
    p = person(browser, server)
    with httpx.Client(base_url=server.base, timeout=30) as http:
        sign_up(p, "Bram")
        add_record(p, "Medicijnen", "health.medication", "Ibuprofen")
        agent, _, auth_req_id = service_asks(server, http, p)
        p.go("/")
        tab_to(p, r"^Bekijk de vraag")
        p.page.keyboard.press("Enter")
        p.page.wait_for_url(re.compile(r"/requests/"))
        p.page.get_by_role("heading", name=re.compile("vraagt om uw gegevens")).wait_for()
        # Untick allergies with the space bar (the narrowing), then approve with Enter.
        tab_to(p, r"^health\.allergies$", attribute="value")
        p.page.keyboard.press("Space")
        assert not p.page.get_by_label("Allergieën").is_checked()
        tab_to(p, r"^Ja, geef toegang$")
        p.page.keyboard.press("Enter")
        p.page.get_by_text("heeft nu toegang").wait_for()
        p.page.wait_for_load_state()
        assert agent.poll(auth_req_id).status_code == 200
        # To "who sees what" and stop it, keyboard only.
        tab_to(p, r"^Bekijk wie wat ziet$")
        p.page.keyboard.press("Enter")
        p.page.wait_for_url(re.compile(r"/access$"))
        tab_to(p, r"^Stoppen")
        p.page.keyboard.press("Enter")
        p.page.wait_for_url(re.compile(r"/stop$"))
        tab_to(p, r"^Ja, stop de toegang$")
        p.page.keyboard.press("Enter")
        p.page.get_by_text("is gestopt").wait_for()
        grants = http.get(
            "/v1/me/grants",
            headers={
                "Authorization": "Bearer "
                + next(c["value"] for c in p.context.cookies() if c["name"] == "regie-session")
            },
        ).json()["grants"]
        assert [(g["status"], g["end_reason"]) for g in grants] == [("ended", "revoked")]
        assert grants[0]["datatypes"] == ["health.medication"]
    p.context.close()


# -- CSP, CSRF, focus ------------------------------------------------------------------------


def test_an_injected_inline_script_does_not_run(browser: Any, server: Server) -> None:
    if server.kind != "sqlite":
        pytest.skip("a header check: once is enough")
    p = person(browser, server)
    response = p.page.goto(server.base + "/sign-in")
    assert response is not None
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    violations = p.page.evaluate(
        """() => new Promise((resolve) => {
            const seen = [];
            document.addEventListener(
                'securitypolicyviolation', (e) => seen.push(e.violatedDirective));
            const s = document.createElement('script');
            s.textContent = 'window.injected = true;';
            document.body.appendChild(s);
            const img = document.createElement('img');
            img.setAttribute('src', 'x');
            img.setAttribute('onerror', 'window.injected = true');
            document.body.appendChild(img);
            setTimeout(() => resolve(seen), 500);
        })"""
    )
    assert p.page.evaluate("() => window.injected") is None
    assert any(v.startswith("script-src") for v in violations), violations
    # The app's own script file does run (it is what makes passkeys work).
    assert p.page.evaluate("() => typeof PublicKeyCredential") == "function"
    p.context.close()


def test_a_forged_form_from_another_site_is_refused(browser: Any, server: Server) -> None:
    if server.kind != "sqlite":
        pytest.skip("once is enough")
    p = person(browser, server)
    sign_up(p, "Carla")
    evil = "http://127.0.0.1:9/evil"  # another site; its page is served by the test itself
    p.page.route(
        evil,
        lambda route: route.fulfill(
            content_type="text/html",
            body=(
                f'<form id="f" method="post" action="{server.base}/account/sign-out-everywhere">'
                '<input name="csrf" value="guessed"></form>'
                "<script>document.getElementById('f').submit()</script>"
            ),
        ),
    )
    p.page.goto(evil)
    p.page.wait_for_url(f"{server.base}/account/sign-out-everywhere")
    assert "Daarom hebben we niets gedaan" in p.page.content()
    # Still signed in: the forged post did nothing.
    p.go("/")
    p.page.get_by_role("heading", name="Hallo Carla").wait_for()
    p.context.close()


def test_focus_is_visible(browser: Any, server: Server) -> None:
    if server.kind != "sqlite":
        pytest.skip("once is enough")
    p = person(browser, server)
    p.go("/")
    p.page.keyboard.press("Tab")
    p.page.keyboard.press("Tab")
    style = p.page.evaluate(
        "() => { const s = getComputedStyle(document.activeElement);"
        " return [s.outlineStyle, s.outlineWidth, s.boxShadow]; }"
    )
    assert style[0] != "none" or style[2] != "none", style
    p.context.close()


CALLBACK = "http://127.0.0.1:9/callback"  # the service's site; the test itself answers it


def test_a_service_signs_the_resident_in_with_the_code_flow(browser: Any, server: Server) -> None:
    """Authorization code + PKCE in the browser: the service pushes its request, the resident
    is sent to /oauth/authorize, signs in with her passkey, narrows and approves on the
    request screen, and lands on the service's redirect URI with code, state and iss; the
    service redeems the code (DPoP) and reads."""
    if server.kind != "sqlite":
        pytest.skip("once is enough: the integration tests run the flow on PostgreSQL")
    import base64
    import hashlib
    import secrets
    from urllib.parse import parse_qs, urlencode, urlsplit

    from support.service_client import details

    p = person(browser, server)
    landed: list[str] = []

    def service_site(route: Any) -> None:
        landed.append(route.request.url)
        route.fulfill(content_type="text/html", body="<title>Kliniek</title><h1>Terug</h1>")

    p.page.route(CALLBACK + "*", service_site)
    with httpx.Client(base_url=server.base, timeout=30) as http:
        sign_up(p, "Dirk")
        add_record(p, "Medicijnen", "health.medication", "Ibuprofen")
        p.context.clear_cookies()  # signed out; the passkey stays on the authenticator
        agent = register_service(server, http, "--redirect-uri", CALLBACK)
        verifier = secrets.token_urlsafe(48)
        challenge = (
            base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
            .decode()
            .rstrip("=")
        )
        pushed = http.post(
            "/oauth/par",
            data=agent.form(
                response_type="code",
                client_id=agent.client_id,
                redirect_uri=CALLBACK,
                code_challenge=challenge,
                code_challenge_method="S256",
                state="s-42",
                authorization_details=details(),
                dpop_jkt=agent.dpop_key.thumbprint(),
            ),
        )
        assert pushed.status_code == 201, pushed.text
        query = urlencode(
            {"client_id": agent.client_id, "request_uri": pushed.json()["request_uri"]}
        )
        p.go(f"/oauth/authorize?{query}")
        p.page.wait_for_url(re.compile(r"/sign-in\?next="))
        p.page.get_by_text("Daarna ziet u wat de dienst vraagt").wait_for()
        p.button("Inloggen met mijn sleutel").click()
        p.page.wait_for_url(re.compile(r"/authorize/[0-9a-f-]{36}$"))
        p.page.get_by_role("heading", name=re.compile("vraagt om uw gegevens")).wait_for()
        p.look("23-code-flow-request")
        p.page.get_by_label("Allergieën").uncheck()
        p.button("Ja, geef toegang").click()
        p.page.wait_for_url(CALLBACK + "*")
        assert len(landed) == 1
        params = {k: v[0] for k, v in parse_qs(urlsplit(landed[0]).query).items()}
        assert params["state"] == "s-42"
        assert params["iss"] == server.base
        issued = http.post(
            "/oauth/token",
            data=agent.form(
                grant_type="authorization_code",
                code=params["code"],
                redirect_uri=CALLBACK,
                code_verifier=verifier,
            ),
            headers={"DPoP": agent.proof("POST", "/oauth/token")},
        )
        assert issued.status_code == 200, issued.text
        body = issued.json()
        assert body["authorization_details"][0]["datatypes"] == ["health.medication"]
        assert body["sub"]
        listed = agent.call("GET", "/v1/service/records", body["access_token"])
        assert listed.status_code == 200, listed.text
        assert len(listed.json()["records"]) == 1
    p.context.close()


def test_a_new_resident_signs_up_in_the_middle_of_the_code_flow(
    browser: Any, server: Server
) -> None:
    """A resident without a vault follows a service's sign-in link: the sign-in page offers
    a vault, she makes one with her passkey, keeps her recovery codes, and lands on the same
    request screen (saved as 23-consent), which sends her back to the service."""
    if server.kind != "sqlite":
        pytest.skip("once is enough: the integration tests run the flow on PostgreSQL")
    import base64
    import hashlib
    import secrets
    from urllib.parse import parse_qs, urlencode, urlsplit

    from support.service_client import details

    p = person(browser, server, shots=True)
    landed: list[str] = []

    def service_site(route: Any) -> None:
        landed.append(route.request.url)
        route.fulfill(content_type="text/html", body="<title>Kliniek</title><h1>Terug</h1>")

    p.page.route(CALLBACK + "*", service_site)
    with httpx.Client(base_url=server.base, timeout=30) as http:
        agent = register_service(server, http, "--redirect-uri", CALLBACK)
        verifier = secrets.token_urlsafe(48)
        challenge = (
            base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
            .decode()
            .rstrip("=")
        )
        pushed = http.post(
            "/oauth/par",
            data=agent.form(
                response_type="code",
                client_id=agent.client_id,
                redirect_uri=CALLBACK,
                code_challenge=challenge,
                code_challenge_method="S256",
                state="s-43",
                authorization_details=details(),
            ),
        )
        assert pushed.status_code == 201, pushed.text
        query = urlencode(
            {"client_id": agent.client_id, "request_uri": pushed.json()["request_uri"]}
        )
        p.go(f"/oauth/authorize?{query}")
        p.page.wait_for_url(re.compile(r"/sign-in\?next="))
        p.link("Maak een kluis").click()
        p.page.wait_for_url(re.compile(r"/sign-up\?next="))
        p.page.get_by_text("Maak eerst uw kluis. Daarna ziet u wat de dienst vraagt.").wait_for()
        p.page.get_by_label("Hoe wilt u genoemd worden?").fill("Fatima")
        p.button("Maak mijn kluis").click()
        p.page.get_by_role("heading", name="Uw herstelcodes").wait_for()
        assert len(p.page.locator(".regie-codes code").all_inner_texts()) == 10
        p.page.get_by_text("Daarna ziet u wat de dienst vraagt.").wait_for()
        p.link("Ik heb de codes bewaard").click()
        p.page.wait_for_url(re.compile(r"/authorize/[0-9a-f-]{36}$"))
        p.page.get_by_role("heading", name=re.compile("vraagt om uw gegevens")).wait_for()
        p.look("23-consent")
        p.button("Ja, geef toegang").click()
        p.page.wait_for_url(CALLBACK + "*")
        assert len(landed) == 1
        params = {k: v[0] for k, v in parse_qs(urlsplit(landed[0]).query).items()}
        assert params["state"] == "s-43"
        issued = http.post(
            "/oauth/token",
            data=agent.form(
                grant_type="authorization_code",
                code=params["code"],
                redirect_uri=CALLBACK,
                code_verifier=verifier,
            ),
            headers={"DPoP": agent.proof("POST", "/oauth/token")},
        )
        assert issued.status_code == 200, issued.text
        assert issued.json()["sub"]
    p.context.close()
