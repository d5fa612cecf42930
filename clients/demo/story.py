"""`regie demo`: the mission's story, played over HTTP against a real vault, with the SDK.

Every actor uses only what it would use in real life: the resident and the auditor the
resident and auditor clients (signing in with a passkey, here a demo-only software one),
each organisation a `ServiceClient` with its own registered key, the clinic's event endpoint
an `EventReceiver`. The demo checks itself: when an outcome is not the expected one it stops
with `DemoFailed`, and `regie demo` exits non-zero.

The parts, in the order of the mission (docs/demo.md):
1. a school's signed grades travel with the child to the next school, which checks the
   first school's signature against its published keys;
2. a care provider reads the medication overview for one treatment; the treatment is
   closed; the vault's pushed "grant ended" event purges the provider's cache, and its next
   read is refused;
3. the municipality asks for income and housing, gets housing only, and loses it again;
4. a debt administrator, with his own vault and passkey, acts for the resident under a
   mandate (debts and income): he sees only what it covers, writes a payment plan, decides
   a lender's request for her; her log says "done by him for you"; she stops it;
5. an auditor exports the log and verifies it offline; the resident's log, in sentences.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from rich.console import Console

from clients.demo import texts
from clients.demo.passkey import DemoSoftwarePasskey
from clients.demo.vault import DemoVault, RegisteredService
from clients.sdk import (
    AccessDenied,
    Event,
    EventReceiver,
    GrantCache,
    LogInvalid,
    NotFound,
    Procedure,
    RegieError,
    ServiceClient,
    SetRejected,
    SignatureInvalid,
)
from clients.sdk.auditor import AuditorClient
from clients.sdk.resident import LogEntry, LogKey, ResidentClient

RESIDENT = "Marieke de Vries"
ADMINISTRATOR = "Jan Bakker"
AUDITOR = "A. Jansen, ADR"
GRADES = {"leerling": "Sam", "groep": 8, "rekenen": 7.5, "taal": 8, "lezen": 9}
MEDICATION = {"metformine": "500 mg, 2x per dag", "omeprazol": "20 mg, 1x per dag"}
PAYSLIP = {"maand": "2026-11", "netto": 2140.55}
RENTAL = {"adres": "Lindelaan 12, Voorbeeldstad", "huur": 845.0, "sinds": "2019-04-01"}
PAYMENT_PLAN = {"schuldeiser": "Energie Voorbeeldstad", "bedrag": 1240.0, "per_maand": 50.0}
EVENT_WAIT_SECONDS = 30
LOG_WAIT_SECONDS = 30


class DemoFailed(Exception):
    """An outcome of the story was not the expected one (the message says which)."""


def expect(condition: bool, problem: str) -> None:
    if not condition:
        raise DemoFailed(problem)


@dataclass
class Narrator:
    """Dutch first, English second; `quiet` prints only the checks' outcomes."""

    console: Console
    quiet: bool = False
    outcomes: list[str] = field(default_factory=list)

    def title(self, key: str) -> None:
        if not self.quiet:
            self.console.print()
            self.console.rule(f"[bold]{texts.nl(key)}[/bold]", align="left")
            self.console.print(f"[dim]{texts.en(key)}[/dim]", highlight=False)

    def say(self, key: str, **values: object) -> None:
        if not self.quiet:
            self.console.print(f"  {texts.nl(key, **values)}", highlight=False)
            self.console.print(f"  [dim]{texts.en(key, **values)}[/dim]", highlight=False)

    def ok(self, key: str, **values: object) -> None:
        """A checked outcome: always printed, with the key that names it (tests read it)."""
        self.outcomes.append(key)
        self.console.print(
            f"[green]✓[/green] {texts.nl(key, **values)}  [dim]\\[{key}][/dim]", highlight=False
        )
        self.console.print(f"  [dim]{texts.en(key, **values)}[/dim]", highlight=False)


# -- the clinic's event endpoint -----------------------------------------------------------


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class Pushed:
    """Every event pushed to the clinic, with how much of the cache it purged."""

    events: list[tuple[Event, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_for(self, event_type: str, grant_id: str) -> tuple[Event, int]:
        deadline = time.monotonic() + EVENT_WAIT_SECONDS
        while time.monotonic() < deadline:
            with self.lock:
                for event, purged in self.events:
                    if event.type == event_type and event.grant_id == grant_id:
                        return event, purged
            time.sleep(0.1)
        raise DemoFailed(f"no {event_type} event was pushed within {EVENT_WAIT_SECONDS} s")


def bind_push_server(avoid: int) -> WSGIServer:
    """The clinic's push endpoint's socket, bound now (before the vault is told its URL) on a
    port the system picks, never `avoid` (the vault's own port, chosen but not yet bound):
    a port picked and released first could be taken by someone else meanwhile."""
    while True:
        server = make_server(
            "127.0.0.1", 0, _no_app, server_class=WSGIServer, handler_class=_QuietHandler
        )
        if server.server_port != avoid:
            return server
        server.server_close()


def _no_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    start_response("503 Service Unavailable", [])
    return [b""]


@contextmanager
def event_endpoint(
    server: WSGIServer, vault_url: str, client_id: str, cache: GrantCache
) -> Iterator[Pushed]:
    """An RFC 8935 push endpoint on the bound `server`, as docs/integrators.md shows: every
    SET is verified (signature, issuer, audience, freshness, jti) before its handlers run;
    a verified event that ends access purges the grant's cache (`GrantCache.handle`)."""
    pushed = Pushed()

    def purge(event: Event) -> None:
        purged = cache.purge(event.grant_id) if event.ends_access else 0
        with pushed.lock:
            pushed.events.append((event, purged))

    receiver = EventReceiver(vault_url, client_id=client_id, handlers=[purge])

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        try:
            receiver.handle_push(body, {"Content-Type": environ.get("CONTENT_TYPE", "")})
        except SetRejected as e:
            start_response("400 Bad Request", [("Content-Type", "application/json")])
            return [e.response_body]
        except RegieError:
            start_response("503 Service Unavailable", [])
            return [b""]
        start_response("202 Accepted", [])
        return [b""]

    server.set_app(app)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield pushed
    finally:
        server.shutdown()
        server.server_close()
        receiver.close()


# -- the story -------------------------------------------------------------------------------


@dataclass
class Cast:
    vault: DemoVault
    resident: ResidentClient
    school: RegisteredService
    new_school: RegisteredService
    clinic: RegisteredService
    municipality: RegisteredService
    lender: RegisteredService
    pushed: Pushed
    cache: GrantCache

    def service(self, who: RegisteredService, **kw: Any) -> ServiceClient:
        return ServiceClient(self.vault.url, client_id=who.client_id, key=who.key, **kw)

    def approve_waiting(self, **narrower: Any) -> str:
        """The resident opens the app and approves the one waiting request (or narrower)."""
        waiting = self.resident.requests()
        expect(len(waiting) == 1, f"expected one waiting request, found {len(waiting)}")
        self.resident.approve(waiting[0].id, **narrower)
        return waiting[0].id


def the_school(cast: Cast, say: Narrator) -> None:
    say.title("school.title")
    name = RESIDENT.split()[0]
    with cast.service(cast.school) as school:
        subject = school.connect(cast.resident.connection_code().code)
        enrolment = Procedure("INSCHRIJVING-2026-SAM", "Inschrijving Sam, groep 8")
        asked = school.request_access(
            subject,
            datatypes=["education.grades"],
            actions=["write"],
            purpose="Rapporten van Sam bewaren in de kluis van zijn ouder",
            procedure=enrolment,
        )
        say.say("school.asks", school=cast.school.name, name=name)
        cast.approve_waiting()
        grant = school.wait(asked)
        written = school.write_record(
            grant, type="education.grades", title="Rapport groep 8", content=GRADES, sign=True
        )
        expect(
            written.signature is not None and written.signature.issuer == cast.school.client_id,
            "the school's report was stored without its signature",
        )
        say.ok("school.writes", school=cast.school.name)
        ended = school.close_procedure(subject, enrolment.ref)
        expect(ended == 1, f"closing the enrolment ended {ended} grants, not 1")
        say.say("school.leaves", school=cast.school.name)

    with cast.service(cast.new_school) as new_school:
        subject = new_school.connect(cast.resident.connection_code().code)
        asked = new_school.request_access(
            subject,
            datatypes=["education.grades"],
            actions=["read"],
            purpose="Leerlingdossier van Sam bij de inschrijving",
            procedure=Procedure("INSCHRIJVING-2027-0107", "Inschrijving Sam, groep 1 brugklas"),
        )
        cast.approve_waiting()
        say.say("school.new_asks", school=cast.new_school.name, name=name)
        grant = new_school.wait(asked)
        listed = new_school.list_records(grant)
        expect(len(listed) == 1, f"the new school sees {len(listed)} reports, not 1")
        report = new_school.read_record(grant, listed[0].id)
        expect(report.content == GRADES, "the new school read other grades than were written")
        signature = new_school.verify_signature(report)  # against /v1/issuers/<issuer>
        expect(
            signature.issuer == cast.school.client_id,
            f"the report's signature names {signature.issuer}, not the first school",
        )
        say.ok(
            "school.verified",
            school=cast.new_school.name,
            issuer=f"{cast.school.name} ({signature.issuer})",
        )
        changed = dataclasses.replace(report, content={**GRADES, "rekenen": 10})
        try:
            new_school.verify_signature(changed)
        except SignatureInvalid:
            say.ok("school.tampered")
        else:
            raise DemoFailed("a changed report passed the signature check")


def the_treatment(cast: Cast, say: Narrator) -> None:
    say.title("care.title")
    name = RESIDENT.split()[0]
    clinic_name = cast.clinic.name
    overview = cast.resident.create_record(
        "health", "health.medication", "Medicatieoverzicht", MEDICATION
    )
    treatment = Procedure("BEH-2026-0042", "Fysiotherapie knie")
    # The clinic's medication module keeps what it reads in a GrantCache (filled by the
    # client); the clinic's event endpoint purges it when the vault says the grant ended.
    with cast.service(cast.clinic, cache=cast.cache) as clinic:
        subject = clinic.connect(cast.resident.connection_code().code)
        asked = clinic.request_access(
            subject,
            datatypes=["health.medication"],
            actions=["read"],
            purpose="Medicatiebeoordeling voor uw behandeling",
            procedure=treatment,
        )
        say.say("care.asks", clinic=clinic_name, procedure=treatment.ref)
        cast.approve_waiting()
        say.say("care.approved", name=name)
        grant = clinic.wait(asked)
        read = clinic.read_record(grant, overview.id)
        expect(read.content == MEDICATION, "the clinic read another overview than the resident's")
        kept = len(cast.cache.items(grant.grant_id))
        expect(kept == 1, f"the clinic's cache holds {kept} records, not 1")
        say.ok("care.read", clinic=clinic_name, count=kept)

        # The treatment ends: the clinic's patient file system closes it (another program
        # of the same clinic, with the same key: the medication module is not told).
        with cast.service(cast.clinic) as patient_file:
            ended = patient_file.close_procedure(subject, treatment.ref)
        expect(ended == 1, f"closing the treatment ended {ended} grants, not 1")
        say.ok("care.closed", clinic=clinic_name, ended=ended)

        event, purged = cast.pushed.wait_for("grant-ended", grant.grant_id)
        expect(event.reason == "procedure-closed", f"the grant ended for {event.reason}")
        expect(event.procedure == treatment.ref, "the event names another treatment")
        left = len(cast.cache.items(grant.grant_id))
        expect(purged == 1 and left == 0, f"the event purged {purged} records; {left} left")
        say.ok("care.purged", reason=event.reason, purged=purged, count=len(cast.cache))

        try:
            clinic.read_record(grant, overview.id)
        except AccessDenied as e:  # GrantEnded is one
            say.ok("care.refused", clinic=clinic_name, error=_refusal(e))
        else:
            raise DemoFailed("the clinic could still read after the treatment was closed")


def the_home_care(cast: Cast, say: Narrator) -> None:
    say.title("home.title")
    name = RESIDENT.split()[0]
    municipality = cast.municipality.name
    payslip = cast.resident.create_record(
        "income", "income.payslip", "Loonstrook november", PAYSLIP
    )
    rental = cast.resident.create_record(
        "housing", "housing.rental_contract", "Huurcontract Lindelaan", RENTAL
    )
    with cast.service(cast.municipality) as town:
        subject = town.connect(cast.resident.connection_code().code)
        asked = town.request_access(
            subject,
            datatypes=["income.payslip", "housing.rental_contract"],
            actions=["read"],
            purpose="Beoordeling hulp bij het huishouden (Wmo)",
            procedure=Procedure("WMO-2026-1234", "Hulp bij het huishouden"),
        )
        say.say("home.asks", municipality=municipality)
        grant_id = cast.approve_waiting(datatypes=["housing.rental_contract"])
        grant = town.wait(asked)
        expect(
            grant.datatypes == ("housing.rental_contract",),
            f"the municipality got {grant.datatypes}, not housing only",
        )
        say.ok("home.narrowed", name=name)
        listed = [r.id for r in town.list_records(grant)]
        expect(listed == [rental.id], f"the municipality sees {len(listed)} records, not 1")
        contract = town.read_record(grant, rental.id)
        expect(contract.content == RENTAL, "the municipality read another contract")
        say.ok("home.read", municipality=municipality)
        try:
            town.read_record(grant, payslip.id)
        except (AccessDenied, NotFound) as e:
            say.ok("home.refused", municipality=municipality, error=_refusal(e))
        else:
            raise DemoFailed("the municipality could read the payslip it was not given")

        cast.resident.revoke(grant_id)
        try:
            town.read_record(grant, rental.id)
        except AccessDenied:
            say.ok("home.revoked", name=name, municipality=municipality)
        else:
            raise DemoFailed("the municipality could still read after the revoke")


def the_mandate(cast: Cast, say: Narrator) -> None:
    """Part 4: everything the administrator does goes through his own session plus the
    mandate (`ResidentClient.acting_for`), never through hers."""
    say.title("mandate.title")
    name = RESIDENT.split()[0]
    admin_name = ADMINISTRATOR.split()[0]
    lender = cast.lender.name
    offer = cast.resident.offer_mandate(
        categories=["debts", "income"],
        actions=["read", "write", "decide-requests"],
        valid_until=datetime.now(UTC) + timedelta(days=365),
        label="Beschermingsbewind",
    )
    say.say("mandate.offered", name=name, administrator=ADMINISTRATOR)
    with ResidentClient(cast.vault.url) as admin:
        passkey = DemoSoftwarePasskey(cast.vault.url)
        ceremony = admin.begin_sign_up(ADMINISTRATOR)
        admin.finish_sign_up(ceremony.flow_id, ADMINISTRATOR, passkey.create(ceremony.public_key))
        accepted = admin.accept_mandate(offer.code)
        expect(accepted.status == "active", f"the mandate is {accepted.status}, not active")
        say.ok("mandate.accepted", administrator=ADMINISTRATOR)

        for_her = admin.acting_for(accepted.id)
        seen = for_her.records()
        categories = {r.category for r in seen}
        expect(
            bool(seen) and categories <= {"debts", "income"},
            f"under the mandate he sees the categories {sorted(categories)}",
        )
        titles = ", ".join(f"'{r.title}'" for r in seen)
        say.ok("mandate.sees", administrator=admin_name, name=name, titles=titles)
        medication = [r for r in cast.resident.records() if r.category == "health"]
        expect(len(medication) == 1, "the resident has no medication overview to protect")
        try:
            for_her.record(medication[0].id)
        except (AccessDenied, NotFound) as e:
            say.ok("mandate.refused", administrator=admin_name, error=_refusal(e))
        else:
            raise DemoFailed("the administrator opened a record outside his mandate")

        plan = for_her.create_record(
            "debts", "debts.payment_plan", "Betalingsregeling energie", PAYMENT_PLAN
        )
        expect(
            plan.id in {r.id for r in cast.resident.records()},
            "the payment plan is not in the resident's own vault",
        )
        say.ok("mandate.writes", administrator=admin_name, name=name)

        with cast.service(cast.lender) as bank:
            subject = bank.connect(cast.resident.connection_code().code)
            asked = bank.request_access(
                subject,
                datatypes=["debts.payment_plan"],
                actions=["read"],
                purpose="Schuldhulpverlening: een overzicht van de regelingen",
                procedure=Procedure("SHV-2026-0311", "Schuldhulptraject"),
            )
            say.say("mandate.asks", lender=lender)
            waiting = for_her.requests()
            expect(len(waiting) == 1, f"the administrator sees {len(waiting)} requests, not 1")
            for_her.approve(waiting[0].id)
            grant = bank.wait(asked)
            read = bank.read_record(grant, plan.id)
            expect(read.content == PAYMENT_PLAN, "the lender read another payment plan")
            say.ok("mandate.decided", administrator=admin_name, name=name, lender=lender)

        # The log entry names him in its sentence only (the leaf holds no names).
        done_by = f"gedaan door {ADMINISTRATOR} voor u"
        by_him = [e for e in _my_log_once_integrated(cast.resident) if done_by in e.text_nl]
        expect(bool(by_him), "the resident's log does not say what the administrator did")
        written = [e for e in by_him if e.name == "record.created"]
        expect(len(written) == 1, f"the log shows {len(written)} writes by him, not 1")
        say.ok(
            "mandate.logged",
            name=name,
            sentence=written[0].text_nl,
            sentence_en=written[0].text_en,
        )

        cast.resident.revoke_mandate(accepted.id)
        try:
            for_her.records()
        except AccessDenied as e:
            say.ok("mandate.stopped", name=name, administrator=admin_name, error=_refusal(e))
        else:
            raise DemoFailed("the administrator could still act after the mandate was stopped")


def the_audit(cast: Cast, say: Narrator, auditor_code: str, log_key: LogKey) -> None:
    say.title("audit.title")
    entries = _my_log_once_integrated(cast.resident)
    with AuditorClient(cast.vault.url, key=log_key) as auditor:
        passkey = DemoSoftwarePasskey(cast.vault.url)
        ceremony = auditor.begin_enrolment(auditor_code)
        auditor.finish_enrolment(
            ceremony.flow_id, auditor_code, passkey.create(ceremony.public_key)
        )
        ceremony = auditor.begin_sign_in()  # and later, signing in again with the passkey
        auditor.finish_sign_in(ceremony.flow_id, passkey.get(ceremony.public_key))
        say.ok("audit.signed_in", auditor=AUDITOR)

        checkpoint = auditor.checkpoint()
        newest = max(e.log_index for e in entries if e.log_index is not None)
        expect(newest < checkpoint.size, "the checkpoint does not cover the resident's log")
        export = auditor.export(cast.vault.dir / "log.jsonl", size=checkpoint.size)
        verified = auditor.verify_export(export, checkpoint)  # offline, under the pinned key
        expect(
            verified.complete and verified.entries == checkpoint.size,
            f"the export verified {verified.entries} of {checkpoint.size} entries",
        )
        say.ok("audit.verified", entries=verified.entries)

        lines = export.read_text().splitlines()
        item = json.loads(lines[-1])
        item["entry"]["outcome"] = "deny" if item["entry"]["outcome"] != "deny" else "permit"
        lines[-1] = json.dumps(item)
        tampered = cast.vault.dir / "log-changed.jsonl"
        tampered.write_text("\n".join(lines) + "\n")
        try:
            auditor.verify_export(tampered, checkpoint)
        except LogInvalid as e:
            say.ok("audit.tampered", index=e.index)
        else:
            raise DemoFailed("a changed export passed verification")

    say.ok("audit.log", name=RESIDENT.split()[0], count=len(entries))
    for entry in [] if say.quiet else entries:
        say.console.print(f"  • {entry.text_nl}", highlight=False)
        say.console.print(f"    [dim]{entry.text_en}[/dim]", highlight=False)
    names = {e.name for e in entries}
    expect(
        {"grant.approved", "record.write", "record.read"} <= names,
        f"the resident's log lacks approvals, writes or reads: {sorted(names)}",
    )
    expect(any(e.outcome == "deny" for e in entries), "the resident's log shows no refusal")


def _refusal(e: RegieError) -> str:
    """What the vault answered, as the SDK raised it: `GrantEnded (invalid_grant, HTTP 400)`."""
    said = ", ".join(part for part in (e.reason or e.code, e.status and f"HTTP {e.status}") if part)
    return f"{type(e).__name__} ({said})" if said else type(e).__name__


def _my_log_once_integrated(resident: ResidentClient) -> list[LogEntry]:
    """The resident's whole log, oldest first, once every entry is in the verifiable log
    (the server integrates in the background, about once a second)."""
    deadline = time.monotonic() + LOG_WAIT_SECONDS
    while True:
        entries: list[LogEntry] = []
        before: str | None = None
        while True:
            page = resident.log(before=before, limit=100)
            entries.extend(page.entries)
            if page.next_before is None:
                break
            before = page.next_before
        if entries and all(e.log_index is not None for e in entries):
            return sorted(entries, key=lambda e: e.log_index or 0)
        if time.monotonic() > deadline:
            raise DemoFailed(f"the log did not take in every event within {LOG_WAIT_SECONDS} s")
        time.sleep(0.5)


def play(console: Console, *, quiet: bool = False) -> list[str]:
    """Play the whole story; the keys of the checked outcomes, in order. `DemoFailed` (or an
    SDK error) when something went otherwise than it should."""
    say = Narrator(console, quiet)
    if not quiet:
        console.rule(f"[bold]{texts.nl('title')}[/bold]")
        console.print(f"[dim]{texts.en('title')}[/dim]", justify="center")
    with DemoVault() as vault:
        say.say("starting", url=vault.url)
        push_server = bind_push_server(avoid=vault.port)
        push_port = push_server.server_port
        school = vault.add_service(
            client_id="school-regenboog",
            name="Basisschool De Regenboog",
            organisation="oin:00000001234567890000",
            kind="school",
            datatypes=["education.grades"],
            actions=["write"],
        )
        new_school = vault.add_service(
            client_id="school-de-horizon",
            name="Scholengemeenschap De Horizon",
            organisation="oin:00000001234567890001",
            kind="school",
            datatypes=["education.grades"],
            actions=["read"],
        )
        clinic = vault.add_service(
            client_id="huisarts-de-linde",
            name="Huisartsenpraktijk De Linde",
            organisation="ura:12345678",
            kind="care-provider",
            datatypes=["health.medication"],
            actions=["read"],
            event_endpoint=f"http://127.0.0.1:{push_port}/regie/events",
        )
        municipality = vault.add_service(
            client_id="gemeente-voorbeeldstad",
            name="Gemeente Voorbeeldstad",
            organisation="oin:00000001002220647000",
            kind="municipality",
            datatypes=["income.payslip", "housing.rental_contract"],
            actions=["read"],
        )
        lender = vault.add_service(
            client_id="kredietbank-voorbeeldstad",
            name="Kredietbank Voorbeeldstad",
            organisation="oin:00000001002220647001",
            kind="municipality",
            datatypes=["debts.overview", "debts.payment_plan"],
            actions=["read"],
        )
        auditor = vault.appoint_auditor(AUDITOR)
        log_key = vault.log_key()  # the operator publishes it; the auditor pins it
        say.say("registered")
        vault.start()
        cache = GrantCache()
        with (
            event_endpoint(push_server, vault.url, clinic.client_id, cache) as pushed,
            ResidentClient(vault.url) as resident,
        ):
            passkey = DemoSoftwarePasskey(vault.url)
            ceremony = resident.begin_sign_up(RESIDENT)
            resident.finish_sign_up(ceremony.flow_id, RESIDENT, passkey.create(ceremony.public_key))
            ceremony = resident.begin_sign_in()
            resident.finish_sign_in(ceremony.flow_id, passkey.get(ceremony.public_key))
            say.ok("signed_up", name=RESIDENT)
            cast = Cast(
                vault, resident, school, new_school, clinic, municipality, lender, pushed, cache
            )
            the_school(cast, say)
            the_treatment(cast, say)
            the_home_care(cast, say)
            the_mandate(cast, say)
            the_audit(cast, say, auditor.code, log_key)
        errors = vault.logged_errors()
        expect(not errors, f"the vault logged {len(errors)} errors, the first: {errors[:1]}")
    say.say("stopped")
    return say.outcomes
