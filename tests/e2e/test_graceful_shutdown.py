"""Graceful shutdown: on SIGTERM a real server finishes its background work before it exits.

The pusher and the integrator of a `regie serve` are set to wait minutes between rounds, so
that an event committed after start-up is neither pushed nor integrated while it serves.
SIGTERM then stops the server: with the default drain the "grant approved" event reaches the
service's endpoint and every committed access event is in the signed log before the process
is gone; with `REGIE_SHUTDOWN_DRAIN_SECONDS=0` both wait in the database for the next start
(which shows that the drain, not a round by chance, did the work).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx
import pytest

import clients.sdk as sdk
from support.residents import sign_up
from support.server import RegieServer
from support.set_receiver import PushEndpoint, SetReceiver

pytestmark = pytest.mark.slow

CLINIC = "huisarts-de-linde"


def _log_state(db: Path) -> tuple[int, int, int]:
    """(events, integrated events, latest checkpoint size) as stored."""
    with sqlite3.connect(db) as conn:
        events = conn.execute("SELECT count(*) FROM access_events").fetchone()[0]
        integrated = conn.execute(
            "SELECT count(*) FROM access_events WHERE seq IS NOT NULL"
        ).fetchone()[0]
        size = conn.execute("SELECT coalesce(max(size), 0) FROM audit_checkpoints").fetchone()[0]
    return int(events), int(integrated), int(size)


@pytest.mark.parametrize("drain", [True, False], ids=["drain", "no-drain"])
def test_sigterm_pushes_due_events_and_integrates_the_log_before_exit(
    tmp_path: Path, drain: bool
) -> None:
    env = {
        # One round at start-up, then nothing for minutes: only the drain can do the work.
        "REGIE_EVENTS_PUSH_INTERVAL_SECONDS": "300",
        "REGIE_AUDIT_INTEGRATE_INTERVAL_SECONDS": "60",
        "REGIE_SWEEP_INTERVAL_SECONDS": "0",
    }
    if not drain:
        env["REGIE_SHUTDOWN_DRAIN_SECONDS"] = "0"
    server = RegieServer(tmp_path, env=env)
    db = tmp_path / "data" / "regie.db"
    with server, httpx.Client(base_url=server.base, timeout=20) as http:
        jwks = http.get(
            http.get("/.well-known/oauth-authorization-server").json()["jwks_uri"]
        ).json()
        receiver = SetReceiver(jwks=jwks, issuer=server.base, audience=CLINIC)
        with PushEndpoint(receiver) as endpoint:
            key, jwks_file = tmp_path / "clinic.jwk", tmp_path / "clinic.json"
            server.cli("service", "keygen", str(key), "--jwks", str(jwks_file))
            server.cli(
                "services", "add", "--name", "Huisartsenpraktijk De Linde",
                "--organisation", "ura:12345678", "--kind", "care-provider",
                "--datatype", "health.medication", "--action", "read",
                "--jwks", str(jwks_file), "--client-id", CLINIC,
                "--event-endpoint", endpoint.url,
            )  # fmt: skip
            anna = sign_up(http, "Anna", origin=server.base)
            record_id = http.post(
                "/v1/me/records",
                headers=anna.headers,
                json={"category": "health", "type": "health.medication",
                      "title": "Medicatie", "content": {"metformine": "500 mg"}},
            ).json()["id"]  # fmt: skip
            code = http.post("/v1/me/connection-codes", headers=anna.headers).json()["code"]
            with sdk.ServiceClient(server.base, client_id=CLINIC, key=key) as clinic:
                subject = clinic.connect(code)
                request = clinic.request_access(
                    subject,
                    datatypes=["health.medication"],
                    actions=["read"],
                    purpose="Controle",
                    procedure=sdk.Procedure("BEH-1", "Controle"),
                )
                (waiting,) = http.get("/v1/me/requests", headers=anna.headers).json()["grants"]
                approved = http.post(
                    f"/v1/me/grants/{waiting['id']}/approve", json={}, headers=anna.headers
                )
                assert approved.status_code == 200, approved.text
                grant = clinic.wait(request)
                for _ in range(3):
                    clinic.read_record(grant, record_id)

            # While it serves, neither loop has done this work.
            assert receiver.handled == {}
            events, integrated, _ = _log_state(db)
            assert events >= 3
            assert integrated < events

            server.stop()  # SIGTERM, as `docker stop` sends it

            pushed = [e.event_type for e in receiver.handled.values()]
            events, integrated, size = _log_state(db)
            if drain:
                assert pushed == ["grant-approved"]
                assert events == integrated == size
            else:
                assert pushed == []
                assert integrated < events
    assert server.logged_errors() == []
