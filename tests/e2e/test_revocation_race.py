"""Revocation race against a real server: 2 uvicorn workers on PostgreSQL.

Reader threads hammer GET /v1/service/records/{id} with a DPoP-bound token (a fresh proof per
request) while the grant is ended, either by the service closing the procedure or by the
resident revoking the grant. Every request is timed with time.monotonic(). A request whose
start (taken just before it is handed to httpx, after its proof was signed) is later than the
moment the close/revoke response arrived must not be served: zero tolerance, every one of
them must get 401 (token revoked) or 403 (grant ended).

The server is the real thing: `regie migrate`, then `regie serve --workers 2` in a process
group of its own, a service registered with `regie services add`, a resident signed up with a
software passkey, all over loopback HTTP. PostgreSQL is a fresh schema, dropped at the end.
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
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from conftest import PG_URL, pg_schema_url, require_postgres
from sqlalchemy import create_engine, text

from support.residents import sign_up
from support.service_client import ServiceAgent

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
WORKERS = 2
READERS = 8
WARMUP_SECONDS = 1.0  # load before the close
AFTER_SECONDS = 1.0  # load after the close returned
MAX_LOAD_SECONDS = 30.0  # hard bound on the whole race
ROTATE_EVERY = 25  # a reader opens a new connection this often, so both workers get readers
START_SECONDS = 60  # regie serve: until both workers have started
CLI_SECONDS = 60
REF = "BEH-2026-0042"  # the procedure ref that support.service_client.details asks under


def _regie() -> str:
    beside = Path(sys.executable).with_name("regie")
    if beside.exists():
        return str(beside)
    found = shutil.which("regie")
    assert found, "the `regie` command is not installed (pip install -e .)"
    return found


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [_regie(), *args],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=CLI_SECONDS,
        check=False,
    )
    assert done.returncode == 0, (
        f"regie {' '.join(args)}: {done.returncode}\n{done.stdout}\n{done.stderr}"
    )
    return done.stdout


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's process group (supervisor and workers), SIGKILL after 10 s."""
    pgid = proc.pid  # start_new_session: the server leads a group of its own
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        proc.poll()  # reap the supervisor, so that only live workers keep the group alive
        if not _group_alive(pgid):
            break
        time.sleep(0.1)
    else:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
    proc.wait()


def _tail(log: Path, lines: int = 40) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError as e:
        return f"(no log: {e})"


def _children(pid: int) -> set[int]:
    kids = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces, so split after the last ')'.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            kids.add(int(entry.name))
    return kids


def _established_owners(port: int, pids: list[int]) -> Counter[int]:
    """How many established server-side connections on `port` each of `pids` holds."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            if len(cols) > 9 and cols[3] == "01" and int(cols[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(cols[9])
    owners: Counter[int] = Counter()
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    link = str(fd.readlink())
                    if link.startswith("socket:[") and link[8:-1] in inodes:
                        owners[pid] += 1
    return owners


@dataclass
class Server:
    port: int
    base: str
    env: dict[str, str]
    workers: list[int]
    log: Path
    tmp: Path


def _wait_for_workers(proc: subprocess.Popen[bytes], base: str, log: Path) -> list[int]:
    """/healthz answers and both workers have logged their start; their PIDs."""
    deadline = time.monotonic() + START_SECONDS
    healthy = False
    with httpx.Client(base_url=base, timeout=5) as http:
        while True:
            rc = proc.poll()
            assert rc is None, f"regie serve exited with {rc}:\n{_tail(log)}"
            if not healthy:
                with contextlib.suppress(httpx.HTTPError):
                    healthy = http.get("/healthz").status_code == 200
            text_ = log.read_text(errors="replace")
            started = [int(p) for p in re.findall(r"Started server process \[(\d+)\]", text_)]
            complete = text_.count("Application startup complete")
            if healthy and len(set(started)) == WORKERS and complete >= WORKERS:
                workers = sorted(set(started))
                assert set(workers) <= _children(proc.pid), (
                    f"workers {workers} are not children of the server {proc.pid}"
                )
                return workers
            assert time.monotonic() < deadline, (
                f"no {WORKERS} started workers and /healthz within {START_SECONDS} s:\n{_tail(log)}"
            )
            time.sleep(0.2)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    require_postgres()
    schema = f"regie_race_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    try:
        tmp = tmp_path_factory.mktemp("race")
        port = _free_port()
        base = f"http://localhost:{port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("REGIE_")}
        env.update(
            REGIE_DATABASE_URL=pg_schema_url(schema),
            REGIE_MODE="development",
            REGIE_PUBLIC_URL=base,
            REGIE_DATA_DIR=str(tmp / "data"),
            REGIE_RATE_LIMITS="false",
        )
        _cli(env, "migrate")
        log = tmp / "serve.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [_regie(), "serve", "--workers", str(WORKERS), "--port", str(port)],
                cwd=REPO,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            workers = _wait_for_workers(proc, base, log)
            print(f"\nregie serve on {base}: supervisor {proc.pid}, workers {workers}")
            yield Server(port, base, env, workers, log, tmp)
        finally:
            _stop(proc)
            served = log.read_text(errors="replace")
            if "Traceback" in served or '"stack"' in served or '"status": 500' in served:
                print(f"\n--- the server logged errors ({log}) ---\n{_tail(log, 80)}")
    finally:
        admin = create_engine(PG_URL)
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@dataclass
class Attempt:
    reader: int
    t_start: float
    t_end: float
    status: int  # 0: no HTTP response
    error: str = ""  # OAuth error / problem reason / exception for a refusal


@dataclass
class Race:
    attempts: list[Attempt] = field(default_factory=list)
    t_close_sent: float = 0.0
    t_close_returned: float = 0.0
    owners: Counter[int] = field(default_factory=Counter)  # worker PID -> samples with conns
    cpu: dict[int, float] = field(default_factory=dict)  # worker PID -> CPU seconds in the race


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _refusal(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:120]
    if not isinstance(body, dict):
        return str(body)[:120]
    if "error" in body:  # OAuth (RFC 6750 / 9449): invalid_token, invalid_dpop_proof
        return f"{body['error']}: {body.get('error_description', '')}"[:160]
    return f"{str(body.get('type', '')).rsplit('/', 1)[-1]}: {body.get('reason', '')}"[:160]


def _race(
    server: Server, agent: ServiceAgent, token: str, path: str, end_the_grant: Callable[[], float]
) -> Race:
    race = Race()
    stop = threading.Event()
    closing = threading.Event()
    hard_stop = time.monotonic() + MAX_LOAD_SECONDS
    per_reader: list[list[Attempt]] = [[] for _ in range(READERS)]
    crashed: list[BaseException] = []

    def reader(i: int) -> None:
        out = per_reader[i]
        client: httpx.Client | None = None
        try:
            n = 0
            while not stop.is_set() and time.monotonic() < hard_stop:
                if client is None or n % ROTATE_EVERY == 0:
                    if client is not None:
                        client.close()
                    client = httpx.Client(base_url=server.base, timeout=10)
                n += 1
                headers = {
                    "Authorization": f"DPoP {token}",
                    "DPoP": agent.proof("GET", path, token=token),  # single-use: one per request
                }
                t_start = time.monotonic()
                try:
                    response = client.get(path, headers=headers)
                except httpx.HTTPError as e:
                    out.append(Attempt(i, t_start, time.monotonic(), 0, f"{type(e).__name__}: {e}"))
                    continue
                t_end = time.monotonic()
                status = response.status_code
                out.append(
                    Attempt(i, t_start, t_end, status, "" if status == 200 else _refusal(response))
                )
        except BaseException as e:  # noqa: BLE001 - reported by the main thread
            crashed.append(e)
        finally:
            if client is not None:
                client.close()

    def monitor() -> None:
        while not stop.is_set():
            if not closing.is_set():  # else the close call's own connection would count
                seen = _established_owners(server.port, server.workers)
                if not closing.is_set():
                    race.owners.update(dict.fromkeys(seen, 1))
            stop.wait(0.05)

    cpu_before = {pid: _cpu_seconds(pid) for pid in server.workers}
    threads = [threading.Thread(target=reader, args=(i,), daemon=True) for i in range(READERS)]
    threads.append(threading.Thread(target=monitor, daemon=True))
    for t in threads:
        t.start()
    try:
        # Warm up for WARMUP_SECONDS and until reads are being served (on a loaded machine
        # the readers' first requests can take longer than the warm-up), bounded by hard_stop.
        time.sleep(WARMUP_SECONDS)
        while time.monotonic() < hard_stop - AFTER_SECONDS - 1:
            if sum(a.status == 200 for out in per_reader for a in out) >= READERS:
                break
            time.sleep(0.05)
        closing.set()
        race.t_close_sent = time.monotonic()
        race.t_close_returned = end_the_grant()
        closing.clear()
        time.sleep(max(0.0, min(AFTER_SECONDS, hard_stop - time.monotonic())))
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=15)
    assert not any(t.is_alive() for t in threads), "a reader did not stop"
    assert not crashed, f"a reader failed: {crashed[0]!r}"
    race.cpu = {pid: _cpu_seconds(pid) - cpu_before[pid] for pid in server.workers}
    race.attempts = sorted((a for out in per_reader for a in out), key=lambda a: a.t_start)
    return race


@pytest.mark.parametrize("ender", ["service-closes-procedure", "resident-revokes-grant"])
def test_no_read_starting_after_the_grant_ended_succeeds(server: Server, ender: str) -> None:
    with httpx.Client(base_url=server.base, timeout=30) as http:
        agent = ServiceAgent(http, f"race-{uuid.uuid4().hex[:8]}", base=server.base)
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
        )
        anna = sign_up(http, "Anna Race", origin=server.base)  # type: ignore[arg-type]
        made = http.post(
            "/v1/me/records",
            headers=anna.headers,
            json={
                "category": "health",
                "type": "health.medication",
                "title": "Medicatieoverzicht",
                "content": {"metformine": "500 mg"},
            },
        )
        assert made.status_code == 201, made.text
        record_id = made.json()["id"]
        code = http.post("/v1/me/connection-codes", headers=anna.headers)
        assert code.status_code in (200, 201), code.text
        subject = agent.connect(code.json()["code"])
        asked = agent.ask(subject)
        assert asked.status_code == 200, asked.text
        waiting = http.get("/v1/me/requests", headers=anna.headers).json()["grants"]
        assert len(waiting) == 1
        grant_id = waiting[0]["id"]
        approved = http.post(f"/v1/me/grants/{grant_id}/approve", json={}, headers=anna.headers)
        assert approved.status_code == 200, approved.text
        issued = agent.poll(asked.json()["auth_req_id"])
        assert issued.status_code == 200, issued.text
        token = issued.json()["access_token"]
        path = f"/v1/service/records/{record_id}"
        first = agent.call("GET", path, token)
        assert first.status_code == 200, first.text

    # The setup client is closed: during the race only readers (and, while it lasts, the
    # close call on a connection of its own) talk to the server.
    # Returns time.monotonic() as soon as the response has arrived.
    def end_the_grant() -> float:
        with httpx.Client(base_url=server.base, timeout=10) as closer:
            if ender == "service-closes-procedure":
                closed = closer.post(
                    "/v1/service/procedures/close", data=agent.form(subject=subject, ref=REF)
                )
                returned = time.monotonic()
                assert closed.status_code == 200, closed.text
                assert closed.json() == {"ended_grants": 1}
            else:
                revoked = closer.post(f"/v1/me/grants/{grant_id}/revoke", headers=anna.headers)
                returned = time.monotonic()
                assert revoked.status_code == 200, revoked.text
                assert (revoked.json()["status"], revoked.json()["end_reason"]) == (
                    "ended",
                    "revoked",
                )
        return returned

    race = _race(server, agent, token, path, end_the_grant)

    closed_at = race.t_close_returned
    attempts = race.attempts
    before = [a for a in attempts if a.t_start < race.t_close_sent]
    done_before = [a for a in before if a.t_end < race.t_close_sent]  # the grant was live
    in_flight = [a for a in attempts if race.t_close_sent <= a.t_start <= closed_at]
    after = [a for a in attempts if a.t_start > closed_at]
    ok_before = [a for a in before if a.status == 200]
    ok_finishing_late = [a for a in before + in_flight if a.status == 200 and a.t_end > closed_at]
    ok_after = [a for a in after if a.status == 200]
    refused_after = [a for a in after if a.status in (401, 403)]
    cpu = {pid: round(seconds, 2) for pid, seconds in race.cpu.items()}
    print(
        f"\n[{ender}] reads: {len(attempts)} in {attempts[-1].t_end - attempts[0].t_start:.2f} s"
        f" by {READERS} readers; close took {(closed_at - race.t_close_sent) * 1000:.0f} ms"
        f"\n  started before the close was sent: {len(before)}"
        f" ({len(ok_before)} ok; {dict(Counter((a.status, a.error) for a in before))});"
        f" of them finished before it was sent: {len(done_before)}"
        f" ({dict(Counter(a.status for a in done_before))})"
        f"\n  started while the close was in flight: {len(in_flight)}"
        f" ({dict(Counter((a.status, a.error) for a in in_flight))})"
        f"\n  started after the close returned: {len(after)}"
        f" ({len(ok_after)} ok, {len(refused_after)} refused;"
        f" {dict(Counter((a.status, a.error) for a in after))})"
        f"\n  ok reads that started before and finished after the close returned:"
        f" {len(ok_finishing_late)}"
        f"\n  workers (PID: samples holding reader connections) {dict(race.owners)},"
        f" CPU seconds {cpu}"
    )
    assert ok_before, "no read succeeded before the close: the race tested nothing"
    refused_live = [a for a in done_before if a.status != 200]
    assert not refused_live, f"reads refused while the grant was live: {refused_live[:5]}"
    assert after, "no read started after the close returned: the race tested nothing"
    assert not ok_after, (
        f"{len(ok_after)} read(s) started after the close returned and succeeded; first:"
        f" {ok_after[0]} (it started"
        f" {(ok_after[0].t_start - closed_at) * 1000:.1f} ms after the close returned)"
    )
    assert len(refused_after) == len(after), (
        f"reads after the close that were not refused with 401/403:"
        f" {[a for a in after if a.status not in (401, 403)][:5]}"
    )
    # 401 must be about the token's ended grant (not a broken DPoP proof); 403 grant-ended.
    wrong = [
        a
        for a in refused_after
        if (a.status == 401 and not a.error.startswith("invalid_token: the grant of this token"))
        or (a.status == 403 and not a.error.startswith("grant-ended"))
    ]
    assert not wrong, f"refusals for another reason than the ended grant: {wrong[:5]}"
    unexpected = [a for a in attempts if a.status not in (200, 401, 403)]
    assert not unexpected, f"reads that failed otherwise: {unexpected[:5]}"
    assert len(race.owners) == WORKERS, (  # the close and the reads meet across processes
        f"only workers {sorted(race.owners)} of {server.workers} held reader connections"
    )
