"""What a real `regie serve` writes: JSON lines only, our access log instead of uvicorn's,
trace ids that match the `traceparent` clients got, and no secret or personal data, with
REGIE_LOG_LEVEL=debug, for the flow of tests/support/log_flow.py.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
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


def parsed_once(server: RegieServer, done: Callable[[list[dict[str, Any]]], bool]) -> Any:
    """The server's lines once `done` holds for them (within 10 s): a request's access line
    is written when the app returns, just after the client has its answer."""
    deadline = time.monotonic() + 10
    while not done(lines := parsed(server)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return lines


def flow_logged(lines: list[dict[str, Any]]) -> bool:
    routes = {(x.get("method"), x.get("route")) for x in lines if x["logger"] == "regie.access"}
    return routes >= FLOW_ROUTES


def test_every_line_is_json_and_uvicorns_access_log_is_off(server: RegieServer) -> None:
    caller = tracecontext.start()
    answered = httpx.get(server.base + "/healthz", headers={"traceparent": caller.traceparent})
    echoed = tracecontext.parse_traceparent(answered.headers["traceparent"])
    assert echoed is not None
    assert echoed.trace_id == caller.trace_id

    def healthz_logged(lines: list[dict[str, Any]]) -> bool:
        return any(
            x["logger"] == "regie.access"
            and x.get("route") == "/healthz"
            and x.get("trace_id") == caller.trace_id
            and x.get("status") == 200
            for x in lines
        )

    lines = parsed_once(server, healthz_logged)  # raises if a line is not JSON
    assert healthz_logged(lines)
    assert any(x["message"].startswith("Started server process") for x in lines)
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
    assert flow_logged(parsed_once(server, flow_logged))  # the output holds the flow
    # A leak would be named here: e.g. ['access token'] had a handler logged its headers.
    # (Tried: with libraries let down to DEBUG in api/logs.py this fails with
    # ['resident id 0 (hex)'], from the SQL parameters the database drivers log.)
    assert leaks("\n".join(server_lines(server)), secrets) == []
