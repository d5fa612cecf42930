"""The verifiable log survives kill -9: a real server (2 workers, PostgreSQL cluster of the
test's own) integrates while a service reads under load; the whole server is killed with
SIGKILL mid-way; after a restart every committed event is integrated exactly once and the
operator's export verifies offline against the latest signed checkpoint."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

import clients.sdk as sdk
from support.residents import sign_up
from support.server import PostgresCluster, RegieServer, register_clinic

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

CLINIC = "huisarts-de-linde"


@pytest.fixture
def cluster() -> Iterator[PostgresCluster]:
    try:
        with PostgresCluster() as pg:
            yield pg
    except RuntimeError as e:  # the server programs are not installed
        pytest.skip(str(e))


def _counts(url: str) -> tuple[int, int, int]:
    """(events, integrated events, latest checkpoint size) as stored."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            events = conn.scalar(text("SELECT count(*) FROM access_events"))
            integrated = conn.scalar(
                text("SELECT count(*) FROM access_events WHERE seq IS NOT NULL")
            )
            size = conn.scalar(text("SELECT coalesce(max(size), 0) FROM audit_checkpoints"))
        return int(events or 0), int(integrated or 0), int(size or 0)
    finally:
        engine.dispose()


def test_a_server_killed_while_it_appends_loses_no_event(
    tmp_path: Path, cluster: PostgresCluster
) -> None:
    server = RegieServer(
        tmp_path,
        database_url=cluster.url,
        workers=2,
        env={"REGIE_AUDIT_INTEGRATE_INTERVAL_SECONDS": "0.2"},
    )
    with server:
        key = register_clinic(server, tmp_path, CLINIC)
        with httpx.Client(base_url=server.base, timeout=20) as http:
            anna = sign_up(http, "Anna", origin=server.base)
            made = http.post(
                "/v1/me/records",
                headers=anna.headers,
                json={"category": "health", "type": "health.medication",
                      "title": "Medicatie", "content": {"metformine": "500 mg"}},
            )  # fmt: skip
            record_id = made.json()["id"]
            code = http.post("/v1/me/connection-codes", headers=anna.headers).json()["code"]
            # One client for the whole test, shared by the reader threads (the SDK holds a
            # grant's tokens under a lock); closed at the end.
            clinic = sdk.ServiceClient(server.base, client_id=CLINIC, key=key)
            subject = clinic.connect(code)
            request = clinic.request_access(
                subject,
                datatypes=["health.medication"],
                actions=["read"],
                purpose="Controle",
                procedure=sdk.Procedure("BEH-1", "Controle"),
            )
            (waiting,) = http.get("/v1/me/requests", headers=anna.headers).json()["grants"]
            http.post(f"/v1/me/grants/{waiting['id']}/approve", json={}, headers=anna.headers)
            grant = clinic.wait(request)

        stop = threading.Event()
        reads: list[int] = []
        failures: list[str] = []

        def read_in_a_loop() -> None:
            while not stop.is_set():
                try:
                    clinic.read_record(grant, record_id)
                    reads.append(1)
                except (sdk.RegieError, httpx.HTTPError) as e:
                    failures.append(type(e).__name__)
                    time.sleep(0.05)  # the server is down for a moment

        threads = [threading.Thread(target=read_in_a_loop) for _ in range(3)]
        for t in threads:
            t.start()
        # Kill the whole server (supervisor and both workers) while reads and integration run.
        deadline = time.monotonic() + 30
        while _counts(cluster.url)[2] < 50 or len(reads) < 100:
            assert time.monotonic() < deadline, (_counts(cluster.url), len(reads), failures[-5:])
            time.sleep(0.1)
        assert server.proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.proc.pid, signal.SIGKILL)
        server.proc.wait()
        server.proc = None
        before = _counts(cluster.url)
        server.start()
        time.sleep(1.0)
        stop.set()
        for t in threads:
            t.join(30)
        clinic.close()
        # After the restart, every committed event is integrated: none lost, none twice.
        deadline = time.monotonic() + 30
        while True:
            events, integrated, size = _counts(cluster.url)
            if events == integrated == size:
                break
            assert time.monotonic() < deadline, (events, integrated, size)
            time.sleep(0.2)
        assert events >= before[0]
        print(f"\nkilled at {before}; after restart {events} events, checkpoint size {size}")
        export, cp = tmp_path / "log.jsonl", tmp_path / "cp.txt"
        server.cli("audit", "export", "--out", str(export), "--checkpoint-out", str(cp))
        vkey = server.cli("audit", "key").stdout.strip()
        done = server.cli("audit", "verify", str(export), "--checkpoint", str(cp), "--key", vkey)
        assert "VERIFIED" in done.stdout
        assert f"{size} entries (complete log)" in " ".join(done.stdout.split())
        assert not server.logged_errors()
