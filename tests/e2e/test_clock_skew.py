"""Clock skew between the processes of one deployment (issue "Production-ready", faults).

Two `regie serve` processes share one PostgreSQL database, one keyring and one public URL, as
two nodes behind a load balancer do; node B's clock runs 25 s ahead (libfaketime), within the
limits (client assertions allow 30 s, DPoP proofs are valid for 300 s back). A care provider
with an accurate clock is sent to either node at will:

- a token issued by one node is accepted by the other, both ways;
- a DPoP proof used at one node is refused as a replay at the other (replay rows expire by the
  proof's own `iat`, not by the clock of the node that stored them);
- a revoke at one node is effective for the very next request at the other.

Node C's clock runs 120 s behind: beyond the limits. Its requests fail closed with a clear
OAuth error (RFC 6749 / RFC 9449 `invalid_dpop_proof`) that says the proof is from the future;
never a 500, never an access.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import PG_URL, pg_schema_url, require_postgres
from sqlalchemy import create_engine, text

from support.residents import sign_up
from support.server import RegieServer
from support.service_client import ServiceAgent

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

FAKETIME_LIB = next(
    (
        p
        for p in (
            "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
            "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
        )
        if Path(p).exists()
    ),
    None,
)
CLINIC = "huisarts-de-linde"


@pytest.fixture
def schema_url() -> Iterator[str]:
    require_postgres()
    if FAKETIME_LIB is None:
        pytest.fail("libfaketime is missing: apt-get install faketime (make system-deps)")
    schema = f"regie_skew_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    yield pg_schema_url(schema)
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def node(tmp: Path, url: str, public_url: str | None, offset: str | None) -> RegieServer:
    env = {"REGIE_SWEEP_INTERVAL_SECONDS": "0"}
    if public_url is not None:
        env["REGIE_PUBLIC_URL"] = public_url
    if offset is not None:
        assert FAKETIME_LIB is not None
        # The whole process (uvicorn, Python's clocks) sees the shifted time; PostgreSQL not.
        env.update(LD_PRELOAD=FAKETIME_LIB, FAKETIME=offset, FAKETIME_DONT_RESET="1")
    server = RegieServer(tmp, database_url=url, env=env)
    if public_url is not None:
        server.env["REGIE_PUBLIC_URL"] = public_url
    return server


def test_nodes_with_skewed_clocks_agree_on_tokens_replays_and_revocation(
    tmp_path: Path, schema_url: str
) -> None:
    a = node(tmp_path, schema_url, None, None).start()
    try:
        b = node(tmp_path, schema_url, a.base, "+25s").start()
        c = node(tmp_path, schema_url, a.base, "-120s").start()
    except BaseException:
        a.stop()
        raise
    try:
        with (
            httpx.Client(base_url=a.base, timeout=20) as at_a,
            httpx.Client(base_url=b.base, timeout=20) as at_b,
            httpx.Client(base_url=c.base, timeout=20) as at_c,
        ):
            # The clocks really differ: each node's Date header (RFC 9110) is its own time.
            dates = [
                httpx.Headers(h.get("/healthz").headers).get("date") for h in (at_a, at_b, at_c)
            ]
            assert len(set(dates)) == 3, dates

            clinic = ServiceAgent(at_a, CLINIC, base=a.base)
            jwks = tmp_path / "clinic.json"
            jwks.write_text(json.dumps(clinic.jwks))
            a.cli(
                "services", "add", "--name", "Huisartsenpraktijk De Linde",
                "--organisation", "ura:12345678", "--kind", "care-provider",
                "--datatype", "health.medication", "--action", "read",
                "--jwks", str(jwks), "--client-id", CLINIC,
            )  # fmt: skip
            anna = sign_up(at_a, "Anna", origin=a.base)
            record_id = at_a.post(
                "/v1/me/records",
                headers=anna.headers,
                json={"category": "health", "type": "health.medication",
                      "title": "Medicatie", "content": {"metformine": "500 mg"}},
            ).json()["id"]  # fmt: skip
            code = at_a.post("/v1/me/connection-codes", headers=anna.headers).json()["code"]
            clinic.http = at_b  # connecting at the node that is ahead
            subject = clinic.connect(code)
            asked = clinic.ask(subject, datatypes=["health.medication"], actions=["read"])
            assert asked.status_code == 200, asked.text
            (waiting,) = at_a.get("/v1/me/requests", headers=anna.headers).json()["grants"]
            approved = at_a.post(
                f"/v1/me/grants/{waiting['id']}/approve", json={}, headers=anna.headers
            )
            assert approved.status_code == 200, approved.text

            # A token issued by B (ahead) serves at A, and one refreshed at A serves at B.
            issued = clinic.poll(asked.json()["auth_req_id"])
            assert issued.status_code == 200, issued.text
            token, refresh = issued.json()["access_token"], issued.json()["refresh_token"]
            path = f"/v1/service/records/{record_id}"
            clinic.http = at_a
            assert clinic.call("GET", path, token).status_code == 200
            refreshed = clinic.refresh(refresh)
            assert refreshed.status_code == 200, refreshed.text
            token = refreshed.json()["access_token"]
            clinic.http = at_b
            assert clinic.call("GET", path, token).status_code == 200

            # A proof used at A is a replay at B, whichever clock stored it.
            proof = clinic.proof("GET", path, token=token)
            headers = {"Authorization": f"DPoP {token}", "DPoP": proof}
            assert at_a.get(path, headers=headers).status_code == 200
            replayed = at_b.get(path, headers=headers)
            assert replayed.status_code == 401, replayed.text
            assert replayed.json()["error"] == "invalid_dpop_proof", replayed.text
            assert "replay" in replayed.text or "used" in replayed.text, replayed.text

            # Beyond the limits (C is 120 s behind): the client's fresh proof and assertion are
            # "from the future" for C. Refused, clearly, and nothing is read.
            clinic.http = at_c
            early = clinic.call("GET", path, token)
            assert early.status_code == 401, early.text
            assert "future" in early.text or "not yet" in early.text, early.text
            early_token = clinic.refresh(refreshed.json()["refresh_token"])
            assert early_token.status_code in (400, 401), early_token.text
            assert early_token.json()["error"] in ("invalid_client", "invalid_dpop_proof")

            # A revoke at A is effective for the very next request at B.
            (grant,) = at_a.get("/v1/me/grants", headers=anna.headers).json()["grants"]
            revoked = at_a.post(f"/v1/me/grants/{grant['id']}/revoke", headers=anna.headers)
            assert revoked.status_code == 200, revoked.text
            clinic.http = at_b
            after = clinic.call("GET", path, token)
            assert after.status_code in (401, 403), after.text
        for server in (a, b, c):
            assert server.logged_errors() == []
    finally:
        for server in (c, b, a):
            server.stop()
