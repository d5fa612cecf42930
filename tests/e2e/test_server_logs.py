"""What a real `regie serve` writes: JSON lines only, our access log instead of uvicorn's,
trace ids that match the `traceparent` clients got, and no secret or personal data, with
REGIE_LOG_LEVEL=debug, for the flow of tests/support/log_flow.py.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, select

from support.log_flow import FLOW_ROUTES, RecordingAgent, leaks, realistic_flow, resident_ids
from support.server import RegieServer
from vault import tracecontext
from vault.storage.orm import ResidentRow

pytestmark = pytest.mark.slow

CLINIC = "huisarts-de-linde"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegieServer]:
    tmp = tmp_path_factory.mktemp("logs-e2e")
    # Two workers: the logging configuration must reach the worker processes too.
    with RegieServer(tmp, workers=2, env={"REGIE_LOG_LEVEL": "debug"}) as srv:
        yield srv


def server_lines(server: RegieServer) -> list[str]:
    """The server's output without the one line `regie serve` prints before uvicorn starts."""
    return [
        line
        for line in server.log.read_text().splitlines()
        if line.strip() and not line.startswith("Regie serves on")
    ]


def parsed(server: RegieServer) -> list[dict[str, Any]]:
    return [json.loads(line) for line in server_lines(server)]


def test_every_line_is_json_and_uvicorns_access_log_is_off(server: RegieServer) -> None:
    caller = tracecontext.start()
    answered = httpx.get(server.base + "/healthz", headers={"traceparent": caller.traceparent})
    echoed = tracecontext.parse_traceparent(answered.headers["traceparent"])
    assert echoed is not None
    assert echoed.trace_id == caller.trace_id
    lines = parsed(server)  # raises if a line is not JSON
    assert any(x["message"].startswith("Started server process") for x in lines)
    access = [x for x in lines if x["logger"] == "regie.access"]
    assert any(
        x.get("route") == "/healthz" and x["trace_id"] == caller.trace_id and x.get("status") == 200
        for x in access
    )
    assert not [x for x in lines if x["logger"] == "uvicorn.access"]
    assert all(x["time"].endswith("Z") for x in lines)


def test_no_secret_or_personal_data_in_the_servers_output(
    server: RegieServer, tmp_path: Path
) -> None:
    with (
        httpx.Client(base_url=server.base, timeout=10) as http,
        httpx.Client(base_url=server.base, timeout=10) as app,
    ):
        agent = RecordingAgent(http, CLINIC, base=server.base)
        jwks = tmp_path / "clinic-jwks.json"
        jwks.write_text(json.dumps(agent.jwks))
        server.cli(
            "services", "add",
            "--name", "Huisartsenpraktijk De Linde",
            "--organisation", "ura:12345678",
            "--kind", "care-provider",
            "--datatype", "health.medication", "--datatype", "health.allergies",
            "--action", "read", "--action", "write",
            "--jwks", str(jwks),
            "--client-id", CLINIC,
        )  # fmt: skip
        secrets = realistic_flow(http, app, agent, origin=server.base)
    engine = create_engine(f"sqlite:///{server.tmp / 'data' / 'regie.db'}")
    with engine.connect() as conn:
        ids = [uuid.UUID(str(i)) for i in conn.scalars(select(ResidentRow.resident_id))]
    engine.dispose()
    secrets |= resident_ids(ids)
    assert len(ids) == 2
    lines = parsed(server)
    routes = {(x.get("method"), x.get("route")) for x in lines if x["logger"] == "regie.access"}
    assert routes >= FLOW_ROUTES  # the output holds the flow
    # A leak would be named here: e.g. ['access token'] had a handler logged its headers.
    assert leaks("\n".join(server_lines(server)), secrets) == []
