"""Faults an operator will meet, against a real server on a PostgreSQL cluster of the test's own.

1. PostgreSQL restarts under load: while it is down every request is answered 503
   problem+json with Retry-After (never a 500, never a hang), and once it is back requests
   succeed again without restarting Regie; every write that was acknowledged is still there.
2. A worker is killed with SIGKILL under write load (JSON records and streamed file uploads):
   the supervisor starts a new one; every acknowledged record reads back exactly; nothing
   half-written is visible (a record either opens completely or does not exist, an upload cut
   off mid-stream leaves the record without that version).

The cluster is private (tests/support/server.py), so stopping it touches no other test.
"""

from __future__ import annotations

import hashlib
import os
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from support.residents import Resident, sign_up
from support.server import PostgresCluster, RegieServer

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

WRITERS = 4


@dataclass
class Outcome:
    t_start: float
    t_end: float
    op: str
    status: int  # 0: no HTTP response
    media: str = ""
    retry_after: str | None = None
    record_id: str | None = None
    title: str | None = None
    detail: str = ""


@dataclass
class Load:
    outcomes: list[Outcome] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)
    uploading: set[str] = field(default_factory=set)  # record ids with an upload under way

    def add(self, outcome: Outcome) -> None:
        with self.lock:
            self.outcomes.append(outcome)


def _writer(base: str, anna: Resident, load: Load, i: int, *, files: bool = False) -> None:
    n = 0
    while not load.stop.is_set():
        n += 1
        # A new connection now and then, so the load reaches every worker.
        with httpx.Client(base_url=base, timeout=20, headers=anna.headers) as http:
            for _ in range(10):
                if load.stop.is_set():
                    return
                title = f"Notitie {i}-{n}-{uuid.uuid4().hex[:6]}"
                kind = "file" if files and n % 2 == 0 else "json"
                body: dict[str, object] = {"category": "care", "type": "care.care_plan"}
                body |= {"title": title, "kind": kind}
                if kind == "json":
                    body["content"] = {"tekst": title, "n": n}
                t0 = time.monotonic()
                try:
                    r = http.post("/v1/me/records", json=body)
                except httpx.HTTPError as e:
                    load.add(Outcome(t0, time.monotonic(), "create", 0, detail=type(e).__name__))
                    continue
                created = r.json().get("id") if r.status_code == 201 else None
                load.add(
                    Outcome(
                        t0,
                        time.monotonic(),
                        "create",
                        r.status_code,
                        r.headers.get("content-type", ""),
                        r.headers.get("retry-after"),
                        created,
                        title,
                        r.text[:200] if r.status_code >= 400 else "",
                    )
                )
                if created and kind == "file":
                    t1 = time.monotonic()
                    with load.lock:
                        load.uploading.add(created)
                    try:
                        up = http.put(
                            f"/v1/me/records/{created}/file",
                            content=_slow_body(_file_bytes(created)),
                            headers={
                                "Content-Type": "application/pdf",
                                "Content-Disposition": 'attachment; filename="plan.pdf"',
                            },
                        )
                        status, media = up.status_code, up.headers.get("content-type", "")
                    except httpx.HTTPError as e:
                        status, media = 0, type(e).__name__
                    with load.lock:
                        load.uploading.discard(created)
                    load.add(Outcome(t1, time.monotonic(), "upload", status, media, None, created))


FILE_BYTES = 2 * 1024 * 1024


def _file_bytes(record_id: str) -> bytes:
    """2 MiB that only this record's upload carries (so any mix-up shows)."""
    seed = hashlib.sha256(record_id.encode()).digest()
    return (seed * (FILE_BYTES // len(seed) + 1))[:FILE_BYTES]


def _slow_body(content: bytes) -> Iterator[bytes]:
    """The upload in 64 KiB pieces over about half a second, so a kill can cut it off."""
    for start in range(0, len(content), 64 * 1024):
        time.sleep(0.015)
        yield content[start : start + 64 * 1024]


def _run_load(
    base: str, anna: Resident, *, files: bool = False
) -> tuple[Load, list[threading.Thread]]:
    load = Load()
    threads = [
        threading.Thread(target=_writer, args=(base, anna, load, i), kwargs={"files": files})
        for i in range(WRITERS)
    ]
    for t in threads:
        t.daemon = True
        t.start()
    return load, threads


def _finish(load: Load, threads: list[threading.Thread]) -> None:
    load.stop.set()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a writer hung"


def _all_records(base: str, anna: Resident) -> dict[str, dict[str, object]]:
    with httpx.Client(base_url=base, timeout=30, headers=anna.headers) as http:
        listed = http.get("/v1/me/records")
        assert listed.status_code == 200, listed.text
        return {str(r["id"]): r for r in listed.json()["records"]}


@pytest.fixture
def cluster() -> Iterator[PostgresCluster]:
    try:
        with PostgresCluster() as pg:
            yield pg
    except RuntimeError as e:  # the server programs are not installed
        pytest.skip(str(e))


def test_postgres_restart_under_load(tmp_path: Path, cluster: PostgresCluster) -> None:
    with RegieServer(tmp_path, database_url=cluster.url, workers=2) as server:
        with httpx.Client(base_url=server.base, timeout=20) as http:
            anna = sign_up(http, "Anna", origin=server.base)
        load, threads = _run_load(server.base, anna)
        time.sleep(1.5)
        t_down = time.monotonic()
        cluster.stop("fast")
        t_down_done = time.monotonic()
        time.sleep(2.0)
        t_up = time.monotonic()
        cluster.start()
        t_up_done = time.monotonic()
        # Back: wait until writes succeed again (bounded), then a little more load.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with load.lock:
                recovered = [o for o in load.outcomes if o.t_start > t_up_done and o.status == 201]
            if len(recovered) >= 20:
                break
            time.sleep(0.2)
        time.sleep(0.5)
        _finish(load, threads)

        outcomes = load.outcomes
        statuses = Counter(o.status for o in outcomes)
        print(f"\n{len(outcomes)} requests: {dict(statuses)}")
        assert statuses[500] == 0, [o for o in outcomes if o.status == 500][:3]
        assert not [o for o in outcomes if o.status == 0], "a request got no HTTP answer"
        during = [o for o in outcomes if o.t_start > t_down_done and o.t_end < t_up]
        assert during, "no request was made while PostgreSQL was down"
        for o in during:
            assert o.status == 503, o
            assert o.media.startswith("application/problem+json"), o
            assert o.retry_after is not None, o
        after = [o for o in outcomes if o.t_start > t_up_done]
        assert sum(o.status == 201 for o in after) >= 20, "writes did not recover"
        assert all(o.status in (201, 503) for o in outcomes), Counter(o.status for o in outcomes)
        print(
            f"down {t_down_done - t_down:.2f} s, up {t_up_done - t_up:.2f} s; "
            f"{len(during)} requests answered 503 while down, {len(after)} after"
        )

        # Nothing acknowledged was lost.
        stored = _all_records(server.base, anna)
        acknowledged = {o.record_id: o.title for o in outcomes if o.status == 201}
        missing = [rid for rid in acknowledged if rid not in stored]
        assert not missing, f"{len(missing)} acknowledged records are gone"
        assert all(stored[rid]["title"] == title for rid, title in acknowledged.items())
        assert not server.logged_errors(), server.logged_errors()[:5]


def test_a_worker_killed_under_write_load_loses_nothing(
    tmp_path: Path, cluster: PostgresCluster
) -> None:
    with RegieServer(tmp_path, database_url=cluster.url, workers=2) as server:
        with httpx.Client(base_url=server.base, timeout=20) as http:
            anna = sign_up(http, "Anna", origin=server.base)
        load, threads = _run_load(server.base, anna, files=True)
        time.sleep(1.5)
        killed: list[int] = []
        # Kill one worker while uploads are under way. If no upload was cut off (they all ran
        # on the other worker), kill every worker at once while uploads are in flight: then
        # some upload is cut off for certain. (Killing "the other one" by PID order is not
        # enough: the replacement has the highest PID and may not have taken a request yet.)
        starts = 2
        for victims in ("one", "all"):
            _wait_for_uploads_in_flight(load)
            pids = server.worker_pids()
            chosen = pids[:1] if victims == "one" else pids
            for victim in chosen:
                os.kill(victim, signal.SIGKILL)
            killed += chosen
            t_kill = time.monotonic()
            starts += len(chosen)
            # The supervisor replaces the workers: more start-ups in the log, new PIDs.
            server.wait_for_workers(starts, seconds=60)
            assert not set(chosen) & set(server.worker_pids())
            assert len(server.worker_pids()) == 2
            time.sleep(1.0)
            with load.lock:
                if any(o.op == "upload" and o.status == 0 for o in load.outcomes):
                    break
        _finish(load, threads)

        outcomes = load.outcomes
        print(f"\n{len(outcomes)} requests: {dict(Counter((o.op, o.status) for o in outcomes))}")
        assert not [o for o in outcomes if o.status >= 500], "a request failed with a 5xx"
        assert sum(o.t_start > t_kill and o.status == 201 for o in outcomes) > 0

        stored = _all_records(server.base, anna)
        acknowledged = {
            o.record_id: o.title for o in outcomes if o.status == 201 and o.op == "create"
        }
        assert all(rid in stored for rid in acknowledged), "an acknowledged record is gone"
        uploaded = {o.record_id for o in outcomes if o.op == "upload" and o.status == 200}
        with httpx.Client(base_url=server.base, timeout=30, headers=anna.headers) as http:
            for rid, record in stored.items():
                opened = http.get(f"/v1/me/records/{rid}")
                assert opened.status_code == 200, opened.text  # every stored record opens
                if record["kind"] == "json":
                    assert opened.json()["content"]["tekst"] == record["title"]
                    continue
                got = http.get(f"/v1/me/records/{rid}/file")
                if rid in uploaded:
                    assert got.status_code == 200, got.text
                if got.status_code == 200:  # present means complete and exactly this record's
                    assert got.content == _file_bytes(rid)
                else:  # an upload cut off by the kill: no version, no partial content
                    assert got.status_code == 404, got.text
                    assert opened.json()["current_version"] == 0
        cut_off = [o for o in outcomes if o.op == "upload" and o.status == 0]
        assert cut_off, "no upload was cut off by the kills: the test proved nothing about them"
        print(
            f"killed {killed}; {len(stored)} records stored, {len(uploaded)} uploads done,"
            f" {len(cut_off)} uploads cut off"
        )


def _wait_for_uploads_in_flight(load: Load, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with load.lock:
            if len(load.uploading) >= 2:
                return
        time.sleep(0.01)
    raise AssertionError("no uploads were under way")
