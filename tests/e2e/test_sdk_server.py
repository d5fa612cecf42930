"""The service SDK and `regie service ...` against a real server over HTTP.

One `regie serve` (uvicorn, SQLite) for the module. The clinic's key is made with `regie
service keygen` and registered with `regie services add --jwks --event-endpoint`; its event
endpoint is a WSGI app around the SDK's `EventReceiver.handle_push`, served on loopback, so
the vault's pusher really delivers SETs to it. Residents act over HTTP through the resident
API; the service only through the SDK (or the CLI, which uses the SDK).
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import anyio
import httpx
import pytest
from typer.testing import CliRunner

import clients.sdk as sdk
from clients.cli.main import app as cli
from keys.note import Verifier, open_checkpoint
from support.residents import Resident, sign_up
from support.server import RegieServer, free_port
from vault.audit import merkle

pytestmark = pytest.mark.slow

CLINIC = "huisarts-de-linde"
SCHOOL = "school-regenboog"
MEDICATION = {"metformine": "500 mg"}


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class Vault:
    server: RegieServer
    key_file: Path
    school_key: Path
    receiver: sdk.EventReceiver
    pushed: list[sdk.Event]  # every event pushed to the clinic's endpoint, in arrival order
    cache: sdk.GrantCache  # shared by the receiver (purges) and the tests' clients (fills)

    @property
    def base(self) -> str:
        return self.server.base

    def pushed_event(self, event_type: str, grant_id: str, timeout: float = 20) -> sdk.Event:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in self.pushed:
                if event.type == event_type and event.grant_id == grant_id:
                    return event
            time.sleep(0.1)
        raise AssertionError(f"no {event_type} pushed for {grant_id}: {self.pushed}")


def push_endpoint(receiver: sdk.EventReceiver) -> Callable[..., list[bytes]]:
    """An RFC 8935 endpoint as a WSGI app (what docs/integrators.md shows)."""

    def events_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        try:
            receiver.handle_push(body, {"Content-Type": environ.get("CONTENT_TYPE", "")})
        except sdk.SetRejected as e:
            start_response("400 Bad Request", [("Content-Type", "application/json")])
            return [e.response_body]
        except sdk.RegieError:
            start_response("503 Service Unavailable", [])
            return [b""]
        start_response("202 Accepted", [])
        return [b""]

    return events_app


@pytest.fixture(scope="module")
def vault(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Vault]:
    tmp = tmp_path_factory.mktemp("sdk-e2e")
    server = RegieServer(tmp, env={"REGIE_EVENTS_PUSH_INTERVAL_SECONDS": "0.2"})
    with server:
        key_file, jwks_file = tmp / "clinic-key.jwk", tmp / "clinic-jwks.json"
        server.cli("service", "keygen", str(key_file), "--jwks", str(jwks_file))
        push_port = free_port()
        server.cli(
            "services", "add",
            "--name", "Huisartsenpraktijk De Linde",
            "--organisation", "ura:12345678",
            "--kind", "care-provider",
            "--datatype", "health.medication",
            "--action", "read", "--action", "write",
            "--jwks", str(jwks_file),
            "--client-id", CLINIC,
            "--event-endpoint", f"http://127.0.0.1:{push_port}/regie/events",
        )  # fmt: skip
        # The school has no event endpoint: it polls (RFC 8936).
        school_key = tmp / "school-key.jwk"
        server.cli("service", "keygen", str(school_key), "--jwks", str(tmp / "school.json"))
        server.cli(
            "services", "add",
            "--name", "Basisschool De Regenboog",
            "--organisation", "oin:00000001234567890000",
            "--kind", "school",
            "--datatype", "education.grades", "--datatype", "health.medication",
            "--action", "read", "--action", "write",
            "--jwks", str(tmp / "school.json"),
            "--client-id", SCHOOL,
        )  # fmt: skip
        pushed: list[sdk.Event] = []
        cache = sdk.GrantCache()
        receiver = sdk.EventReceiver(
            server.base, client_id=CLINIC, handlers=[pushed.append, cache.handle]
        )
        endpoint = make_server(
            "127.0.0.1",
            push_port,
            push_endpoint(receiver),
            server_class=WSGIServer,
            handler_class=QuietHandler,
        )
        thread = threading.Thread(target=endpoint.serve_forever, daemon=True)
        thread.start()
        try:
            yield Vault(server, key_file, school_key, receiver, pushed, cache)
        finally:
            endpoint.shutdown()
            endpoint.server_close()
            receiver.close()


@pytest.fixture
def http(vault: Vault) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=vault.base, timeout=10) as client:
        yield client


def resident(http: httpx.Client, base: str) -> tuple[Resident, str]:
    """A resident with a medication record; and the record's id."""
    anna = sign_up(http, "Anna", origin=base)  # type: ignore[arg-type]
    made = http.post(
        "/v1/me/records",
        headers=anna.headers,
        json={
            "category": "health",
            "type": "health.medication",
            "title": "Medicatieoverzicht",
            "content": MEDICATION,
        },
    )
    assert made.status_code == 201, made.text
    return anna, str(made.json()["id"])


def code(http: httpx.Client, who: Resident) -> str:
    return str(http.post("/v1/me/connection-codes", headers=who.headers).json()["code"])


def answer(http: httpx.Client, who: Resident, verb: str = "approve") -> None:
    (waiting,) = http.get("/v1/me/requests", headers=who.headers).json()["grants"]
    body = {} if verb == "approve" else None
    done = http.post(f"/v1/me/grants/{waiting['id']}/{verb}", json=body, headers=who.headers)
    assert done.status_code == 200, done.text


def test_the_sync_client_over_http(vault: Vault, http: httpx.Client) -> None:
    anna, record_id = resident(http, vault.base)
    with sdk.ServiceClient(
        vault.base, client_id=CLINIC, key=vault.key_file, cache=vault.cache
    ) as clinic:
        subject = clinic.connect(code(http, anna))
        request = clinic.request_access(
            subject,
            datatypes=["health.medication"],
            actions=["read", "write"],
            purpose="Medicatiebeoordeling voor uw behandeling",
            procedure=sdk.Procedure("BEH-2026-0042", "Fysiotherapie knie"),
        )
        answer(http, anna)
        grant = clinic.wait(request)
        assert vault.pushed_event("grant-approved", grant.grant_id).subject == subject
        assert [r.id for r in clinic.list_records(grant)] == [record_id]
        assert clinic.read_record(grant, record_id).content == MEDICATION
        written = clinic.write_record(
            grant, type="health.medication", title="Medicatieadvies", content={"a": 1}, sign=True
        )
        signature = clinic.verify_signature(clinic.read_record(grant, written.id))
        assert signature.issuer == CLINIC
        assert clinic.close_procedure(subject, "BEH-2026-0042") == 1
        with pytest.raises(sdk.GrantEnded):
            clinic.read_record(grant, record_id)
    ended = vault.pushed_event("grant-ended", grant.grant_id)
    assert (ended.reason, ended.procedure) == ("procedure-closed", "BEH-2026-0042")


def test_the_async_client_over_http_and_a_push_purges_the_cache(
    vault: Vault, http: httpx.Client
) -> None:
    anna, record_id = resident(http, vault.base)
    connection_code = code(http, anna)

    def revoke(grant_id: str) -> None:
        done = http.post(f"/v1/me/grants/{grant_id}/revoke", headers=anna.headers)
        assert done.status_code == 200, done.text

    async def flow() -> None:
        async with sdk.AsyncServiceClient(
            vault.base, client_id=CLINIC, key=vault.key_file, cache=vault.cache
        ) as clinic:
            subject = await clinic.connect(connection_code)
            request = await clinic.request_access(
                subject,
                datatypes=["health.medication"],
                actions=["read"],
                purpose="Medicatiebeoordeling voor uw behandeling",
                procedure="BEH-2026-0050",
            )
            await anyio.to_thread.run_sync(answer, http, anna)
            grant = await clinic.wait(request)
            assert (await clinic.read_record(grant, record_id)).content == MEDICATION
            assert set(vault.cache.items(grant.grant_id)) == {record_id}
            # Anna revokes in her app. The clinic does nothing, but the pushed grant-ended
            # purges what it fetched: treatment done, data gone, on the service's side too.
            await anyio.to_thread.run_sync(revoke, grant.grant_id)
            ended = await anyio.to_thread.run_sync(
                vault.pushed_event, "grant-ended", grant.grant_id
            )
            assert ended.reason == "revoked"
            assert vault.cache.items(grant.grant_id) == {}
            with pytest.raises(sdk.GrantEnded):
                await clinic.read_record(grant, record_id)

    anyio.run(flow)


def test_the_cli_client_commands(vault: Vault, http: httpx.Client, tmp_path: Path) -> None:
    runner = CliRunner()
    who = ["--vault", vault.base, "--client-id", SCHOOL, "--key", str(vault.school_key)]
    state = ["--state", str(tmp_path / "state")]

    def regie(*args: str, code: int = 0) -> Any:
        result = runner.invoke(cli, ["service", *args, *who, *state, "--json"])
        assert result.exit_code == code, (args, result.output)
        return json.loads(result.stdout)

    anna, record_id = resident(http, vault.base)
    subject = regie("connect", code(http, anna))["subject"]
    asked = regie(
        "request",
        "--subject", subject,
        "--datatype", "health.medication",
        "--action", "read", "--action", "write",
        "--purpose", "Medicatiebeoordeling voor uw behandeling",
        "--procedure", "BEH-2026-0060",
        "--binding-message", "Code 4711",
    )  # fmt: skip
    assert asked["interval"] == 5
    assert regie("wait", asked["auth_req_id"], "--timeout", "1", code=6)["error"] == (
        "authorization_pending"
    )
    answer(http, anna)
    grant = regie("wait", asked["auth_req_id"])
    assert grant["datatypes"] == ["health.medication"]
    grant_id = grant["grant_id"]
    assert [g["grant_id"] for g in regie("grants")] == [grant_id]
    assert [r["id"] for r in regie("read", grant_id)] == [record_id]
    assert regie("read", grant_id, record_id)["content"] == MEDICATION
    written = regie(
        "write", grant_id,
        "--type", "health.medication",
        "--title", "Medicatieadvies",
        "--content", '{"advies": "blijft 500 mg"}',
        "--sign",
    )  # fmt: skip
    assert written["signature"]["issuer"] == SCHOOL
    checked = regie("read", grant_id, written["id"], "--verify")
    assert checked["content"] == {"advies": "blijft 500 mg"}
    (approved,) = regie("events")["events"]  # the school polls; nothing is pushed to it
    assert (approved["type"], approved["grant_id"]) == ("grant-approved", grant_id)
    assert regie("events")["events"] == [approved]  # not acknowledged: offered again
    assert regie("events", "--ack", approved["jti"])["events"] == []  # acknowledged: taken
    assert regie("events")["events"] == []
    assert regie("close", "--subject", subject, "--procedure", "BEH-2026-0060") == {
        "ended_grants": 1
    }
    assert regie("read", grant_id, code=4)["error"] == "grant-ended"

    # The resident says no: exit code 3. An unknown request: 1.
    denied = regie(
        "request",
        "--subject", subject,
        "--datatype", "health.medication",
        "--purpose", "Nog een keer",
        "--procedure", "BEH-2026-0061",
    )  # fmt: skip
    answer(http, anna, "deny")
    assert regie("wait", denied["auth_req_id"], code=3)["error"] == "access_denied"
    assert regie("wait", denied["auth_req_id"], code=1)["error"] == "error"

    # A key that is not the registered one: exit code 7.
    other = tmp_path / "other.jwk"
    sdk.ServiceKey.generate().save(other)
    bad = runner.invoke(
        cli,
        ["service", "connect", "X", "--vault", vault.base, "--client-id", SCHOOL,
         "--key", str(other), *state, "--json"],
    )  # fmt: skip
    assert bad.exit_code == 7, bad.output
    assert json.loads(bad.stdout)["error"] == "invalid_client"

    # No vault listening there: exit code 8 (try again later).
    nowhere = f"http://127.0.0.1:{free_port()}"
    down = runner.invoke(
        cli,
        ["service", "connect", "X", "--vault", nowhere, "--client-id", SCHOOL,
         "--key", str(vault.school_key), *state, "--json"],
    )  # fmt: skip
    assert down.exit_code == 8, down.output


def test_the_server_integrates_every_event_into_the_signed_log(
    vault: Vault, http: httpx.Client, tmp_path: Path
) -> None:
    """After a flow over HTTP, the server's integrator has every event in a checkpoint it
    signed; a proof served over HTTP verifies; an operator's export verifies offline."""
    anna, record_id = resident(http, vault.base)
    with sdk.ServiceClient(vault.base, client_id=CLINIC, key=vault.key_file) as clinic:
        subject = clinic.connect(code(http, anna))
        request = clinic.request_access(
            subject,
            datatypes=["health.medication"],
            actions=["read"],
            purpose="Controle",
            procedure=sdk.Procedure("BEH-2026-0077", "Controle"),
        )
        answer(http, anna)
        grant = clinic.wait(request)
        clinic.read_record(grant, record_id)
    key = http.get("/v1/audit/key").json()
    verifier = Verifier.parse(key["verifier_key"])
    # Every event committed so far is integrated within a few rounds (1 s apart).
    export, cp_file = tmp_path / "log.jsonl", tmp_path / "cp.txt"
    deadline = time.monotonic() + 20
    while True:
        vault.server.cli("audit", "export", "--out", str(export), "--checkpoint-out", str(cp_file))
        lines = export.read_text().splitlines()
        names = [json.loads(line)["entry"]["name"] for line in lines[1:]]
        if "record.read" in names and "grant.approved" in names:
            break
        assert time.monotonic() < deadline, names
        time.sleep(0.5)
    signed = open_checkpoint(cp_file.read_bytes(), verifier, key["origin"])
    last = signed.size - 1
    proof = http.get(
        "/v1/audit/proof/inclusion", params={"index": last, "size": signed.size}
    ).json()
    merkle.verify_inclusion(
        base64.b64decode(proof["leaf_hash"]),
        last,
        signed.size,
        [base64.b64decode(h) for h in proof["hashes"]],
        signed.root_hash,
    )
    done = vault.server.cli(
        "audit", "verify", str(export), "--checkpoint", str(cp_file), "--key", key["verifier_key"]
    )
    assert "VERIFIED" in done.stdout


def test_the_cli_waits_for_the_vaults_ping(
    vault: Vault, http: httpx.Client, tmp_path: Path
) -> None:
    """A ping-mode service on the command line: `request --ping` sends the token (kept in the
    state directory, never printed), `wait --listen` serves the registered notification
    endpoint, refuses forged pings (which the vault would not retry either), and fetches the
    grant once the vault's genuine ping arrives."""
    runner = CliRunner()
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}/regie/ping"
    ping_key = tmp_path / "ping-key.jwk"
    vault.server.cli("service", "keygen", str(ping_key), "--jwks", str(tmp_path / "ping.json"))
    vault.server.cli(
        "services", "add",
        "--name", "Wijkteam Oost",
        "--organisation", "oin:00000001234567899999",
        "--kind", "municipality",
        "--datatype", "health.medication",
        "--action", "read",
        "--jwks", str(tmp_path / "ping.json"),
        "--client-id", "wijkteam-oost",
        "--token-delivery-mode", "ping",
        "--notification-endpoint", endpoint,
    )  # fmt: skip
    who = ["--vault", vault.base, "--client-id", "wijkteam-oost", "--key", str(ping_key)]
    state = tmp_path / "state"

    def regie(*args: str, code: int = 0) -> Any:
        result = runner.invoke(cli, ["service", *args, *who, "--state", str(state), "--json"])
        assert result.exit_code == code, (args, result.output)
        return json.loads(result.stdout)

    anna, record_id = resident(http, vault.base)
    subject = regie("connect", code(http, anna))["subject"]
    asking = ["--subject", subject, "--datatype", "health.medication", "--purpose", "Zorg thuis"]
    # Without --ping, a ping-mode service is refused by the vault.
    refused = regie("request", *asking, "--procedure", "WT-1", code=1)
    assert refused["error"] == "invalid_request"
    asked = regie("request", *asking, "--procedure", "WT-1", "--ping")
    assert "notification_token" not in asked
    kept = json.loads((state / "requests.json").read_text())[asked["auth_req_id"]]
    token = kept["notification_token"]
    assert len(token) >= 43
    # No answer, no ping: still waiting after --timeout (exit code 6).
    late = regie("wait", asked["auth_req_id"], "--listen", endpoint, "--timeout", "1", code=6)
    assert late["error"] == "authorization_pending"

    forged: list[int] = []

    def resident_answers() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # until the CLI listens
            try:
                probe = httpx.post(endpoint, json={"auth_req_id": asked["auth_req_id"]})
                break
            except httpx.TransportError:
                time.sleep(0.1)
        forged.append(probe.status_code)  # no token
        for headers, body in (
            ({"Authorization": "Bearer " + "x" * 43}, {"auth_req_id": asked["auth_req_id"]}),
            ({"Authorization": f"Bearer {token}"}, {"auth_req_id": "rar_someone-else"}),
            ({"Authorization": f"Bearer {token}"}, {"not": "a ping"}),
        ):
            forged.append(httpx.post(endpoint, headers=headers, json=body).status_code)
        elsewhere = endpoint.replace("/regie/ping", "/other")
        forged.append(
            httpx.post(elsewhere, headers={"Authorization": f"Bearer {token}"}).status_code
        )
        answer(http, anna)

    thread = threading.Thread(target=resident_answers)
    thread.start()
    try:
        grant = regie("wait", asked["auth_req_id"], "--listen", endpoint, "--timeout", "60")
    finally:
        thread.join(timeout=30)
    assert forged == [401, 401, 401, 400, 404]
    assert grant["datatypes"] == ["health.medication"]
    assert [r["id"] for r in regie("read", grant["grant_id"])] == [record_id]
    assert asked["auth_req_id"] not in json.loads((state / "requests.json").read_text())
    # An unknown request is refused before anything is served (more: test_cli_service.py).
    bad = regie("wait", "rar_unknown", "--listen", endpoint, code=1)
    assert "no request" in bad["detail"]
