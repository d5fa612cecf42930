#!/usr/bin/env python3
"""The grant API under load, on PostgreSQL: (a) a service reads a 1 KiB record with a DPoP-bound
access token, (b) a service redeems an approved CIBA request at /oauth/token (private_key_jwt +
DPoP). Bounded wrk runs on 127.0.0.1 with the peers' settings; JSON lines for summarize.py.

Run from the repository root with the project venv (normally through run_grant_bench.sh):

    .venv/bin/python tests/perf/grant_bench.py run --out /tmp/regie_grant_bench/x   # ~8-12 min
    .venv/bin/python tests/perf/grant_bench.py run --workers 1 --reps 1 --duration 2 --warmup 1
    .venv/bin/python tests/perf/grant_bench.py report RESULTS.jsonl   # bars, from a results file

`run`: a fresh schema `regie_bench_<hex>` in database `test` (postgres@127.0.0.1, trust auth;
$REGIE_BENCH_POSTGRES_URL overrides), `regie migrate`, `regie services add` (inline JWKS). Per
worker count W: uvicorn --factory api.main:app_from_environment --workers W --no-access-log
--log-level warning on 127.0.0.1:PORT (what `regie serve` runs, without its access log), with
REGIE_MODE=development and REGIE_PUBLIC_URL=http://localhost:PORT. The first server start signs
a resident up over HTTP (SoftPasskey), creates a 1 KiB JSON record, connects the service, asks,
approves and polls for tokens: the flow of tests/integration/test_oauth_flow.py.

wrk cannot sign a JWT per request, and DPoP proofs and client assertions are single-use, so
every wrk run gets a pool file written just before it (tests/perf/grant_bench.lua sends one
line per request and stops when the pool runs out; such a run is repeated with a bigger pool,
never recorded):
- read:  a fresh access token (refresh_token grant over HTTP), then DPoP proofs for
  GET /v1/service/records/{id} with unique jti, `ath` of that token and `iat` = now;
- token: approved requests made in-process (build_container on the same schema and keyring:
  GrantService.request + approve, the same calls the endpoints make), then per request a unique
  client assertion and DPoP proof for POST /oauth/token, grant_type CIBA.
Pools hold 1.6 x (best req/s so far x seconds) + 500 items. Proofs and assertions are signed
with `cryptography` (ES256, the keys of tests/support/service_client.ServiceAgent); one item of
each pool is checked over HTTP first (and is not in the pool).

Each scenario: a warm-up (--warmup s at the first concurrency), then --reps runs of
`wrk -t1 -cN -d{duration}s --latency --timeout 5s` per concurrency, 1 s apart: the wrk call
and its output parsing are /work/shared/peers/bench.py's own functions (imported), and the
JSON lines have bench.py's fields (server CPU = uvicorn tree) plus: ok (HTTP 200s counted by
the Lua script), statuses, pool/used, server user/system CPU and context switches per request,
PostgreSQL CPU (all backends, and this server's own via application_name), backends opened
during the run, machine CPU, load average.
--diag-c1 (default on): with 1 worker, one more run per scenario at c=1 (no contention; a
diagnostic row, not a bar). --profile S: then, with 1 worker, py-spy (--nonblocking) per
scenario under c=32: S s of the GIL holder, then S s of all active threads, summarised as
text (needs py-spy in the venv). `sql-count` lists the SQL of one token request and one read.
Finally the schema is dropped (also on error / Ctrl-C) and the servers stopped by PID.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import json
import math
import os
import re
import secrets
import shutil
import statistics as st
import subprocess
import sys
import time
import urllib.parse
import uuid
import warnings
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
PEERS = Path(os.environ.get("PEERS_SRC", "/work/shared/peers"))
sys.path.insert(0, str(PEERS))
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

# support.residents imports fastapi.testclient, which warns about httpx on import: not ours.
warnings.filterwarnings("ignore", message=".*httpx.*")

from bench import parse, run_wrk  # noqa: E402  (the peers' wrk call and parser)
from cpu_ticks import tree_ticks  # noqa: E402

HZ = os.sysconf("SC_CLK_TCK")
LUA = HERE / "grant_bench.lua"
CIBA = "urn:openid:params:grant-type:ciba"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
CLIENT_ID = "bench-clinic"
RECORD_BYTES = 1024
READ, TOKEN = "read-1KiB", "token-ciba-pkjwt-dpop"
APP_NAME = "regie_bench"
PYSPY_RATE = 200  # samples per second


def log(*a: object) -> None:
    print(*a, file=sys.stderr, flush=True)


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# ----------------------------------------------------------------------------- signing
class Es256:
    """Fast compact ES256 JWS with the private key of a joserfc ECKey (client side only)."""

    def __init__(self, key: Any, header: dict[str, Any]) -> None:
        from cryptography.hazmat.primitives import hashes  # noqa: TID251 - client side
        from cryptography.hazmat.primitives.asymmetric import ec  # noqa: TID251

        self._key = key.private_key
        self._algo = ec.ECDSA(hashes.SHA256())
        self._header = b64(json.dumps(header, separators=(",", ":")).encode())

    def sign(self, claims: dict[str, Any]) -> str:
        from cryptography.hazmat.primitives.asymmetric.utils import (  # noqa: TID251
            decode_dss_signature,
        )

        signing_input = self._header + "." + b64(json.dumps(claims, separators=(",", ":")).encode())
        r, s = decode_dss_signature(self._key.sign(signing_input.encode(), self._algo))
        return signing_input + "." + b64(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


class Pools:
    """Single-use DPoP proofs and client assertions for one service agent."""

    def __init__(self, agent: Any, public_url: str) -> None:
        self.public = public_url
        self.dpop = Es256(
            agent.dpop_key,
            {"typ": "dpop+jwt", "alg": "ES256", "jwk": agent.dpop_key.as_dict(private=False)},
        )
        self.client = Es256(agent.key, {"alg": "ES256", "kid": agent.key.kid})

    def proof(self, method: str, path: str, now: int, token: str | None = None) -> str:
        claims: dict[str, Any] = {
            "jti": secrets.token_urlsafe(16),
            "htm": method,
            "htu": self.public + path,
            "iat": now,
        }
        if token:
            claims["ath"] = b64(hashlib.sha256(token.encode()).digest())
        return self.dpop.sign(claims)

    def assertion(self, now: int, lifetime: int = 900) -> str:
        return self.client.sign(
            {
                "iss": CLIENT_ID,
                "sub": CLIENT_ID,
                "aud": self.public,
                "jti": secrets.token_urlsafe(16),
                "iat": now,
                "exp": now + lifetime,
            }
        )

    def token_item(self, auth_req_id: str, now: int) -> tuple[str, str]:
        body = urllib.parse.urlencode(
            {
                "grant_type": CIBA,
                "auth_req_id": auth_req_id,
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": self.assertion(now),
            }
        )
        return body, self.proof("POST", "/oauth/token", now)


# ----------------------------------------------------------------------------- processes
def _procs() -> list[tuple[int, int, str, int, int]]:
    """(pid, ppid, comm, utime+stime, cutime+cstime) of every process."""
    out = []
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            s = (p / "stat").read_text()
        except OSError:
            continue
        rest = s[s.rfind(")") + 2 :].split()
        out.append(
            (
                int(p.name),
                int(rest[1]),
                s[s.find("(") + 1 : s.rfind(")")],
                int(rest[11]) + int(rest[12]),
                int(rest[13]) + int(rest[14]),
            )
        )
    return out


def pg_and_machine_ticks() -> tuple[int, int]:
    """(ticks of all `postgres` processes incl. exited backends, machine busy ticks)."""
    procs = _procs()
    comms = {pid: comm for pid, _, comm, _, _ in procs}
    pg = 0
    for _pid, ppid, comm, t, ct in procs:
        if comm == "postgres":
            pg += t + (ct if comms.get(ppid) != "postgres" else 0)
    v = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return pg, sum(v) - v[3] - v[4]


def tree_detail(root: int) -> tuple[int, int, dict[int, int]]:
    """(user ticks, system ticks, {thread id: voluntary + involuntary context switches}) of
    PID's tree, every thread (the threadpool hands requests and the GIL between threads)."""
    procs = _procs()
    children: dict[int, list[int]] = defaultdict(list)
    for pid, ppid, *_ in procs:
        children[ppid].append(pid)
    user = system = 0
    switches: dict[int, int] = {}
    stack = [root]
    while stack:
        pid = stack.pop()
        stack.extend(children.get(pid, []))
        try:
            rest = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            user, system = user + int(rest[11]), system + int(rest[12])
            for task in Path(f"/proc/{pid}/task").iterdir():
                n = 0
                for line in (task / "status").read_text().splitlines():
                    if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                        n += int(line.split()[1])
                switches[int(task.name)] = n
        except (OSError, IndexError, ValueError):
            continue
    return user, system, switches


def switches_between(before: dict[int, int], after: dict[int, int]) -> int:
    """Context switches of the threads alive at the end (threads that ended are missed)."""
    return sum(n - before.get(tid, 0) for tid, n in after.items())


class BackendSampler:
    """Polls pg_stat_activity (every `every` s) for this benchmark's backends (application_name)
    while wrk runs: how many distinct backends served the run, how many were opened during it
    (pool overflow connections are closed and reopened), and their CPU as last seen. Backends
    that live shorter than one poll are missed, so both are lower bounds."""

    def __init__(self, admin_url: str, every: float = 0.2) -> None:
        import threading

        self._conninfo = admin_url.replace("postgresql+psycopg://", "postgresql://", 1)
        self._every = every
        self._stop = threading.Event()
        self.first: dict[int, int] = {}
        self.last: dict[int, int] = {}
        self.at_start: set[int] = set()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> BackendSampler:
        self.at_start = set(self._poll_once(None))
        self.first = dict(self.last)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _poll_once(self, conn: Any) -> list[int]:
        import psycopg

        own = conn or psycopg.connect(self._conninfo, connect_timeout=5, autocommit=True)
        try:
            pids = [
                int(r[0])
                for r in own.execute(
                    "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (APP_NAME,)
                ).fetchall()
            ]
        finally:
            if conn is None:
                own.close()
        for pid in pids:
            try:
                rest = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            self.last[pid] = int(rest[11]) + int(rest[12])
        return pids

    def _run(self) -> None:
        import psycopg

        with psycopg.connect(self._conninfo, connect_timeout=5, autocommit=True) as conn:
            while not self._stop.wait(self._every):
                self._poll_once(conn)
            self._poll_once(conn)

    def cpu_ticks(self) -> int:
        return sum(t - self.first.get(pid, 0) for pid, t in self.last.items())

    def opened(self) -> int:
        return len(set(self.last) - self.at_start)


def loadavg() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def http_ok(url: str) -> bool:
    import httpx

    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def variant_setup(variant: str) -> tuple[list[str], list[str], dict[str, str]]:
    """(command prefix, uvicorn app arguments, extra environment) of a diagnostic variant:
    parts joined by "+": `pin1` (taskset: every thread of the server on CPU 1), `threadsN`
    (anyio's threadpool limited to N threads, tests/perf/grant_bench_app.py), `poolN`
    (REGIE_DB_POOL_SIZE=N). `base` is Regie as `regie serve` runs it."""
    prefix: list[str] = []
    app = ["api.main:app_from_environment"]
    env: dict[str, str] = {}
    for part in variant.split("+"):
        if part == "base":
            continue
        if m := re.fullmatch(r"pin(\d+)", part):
            prefix = ["taskset", "-c", m.group(1)]
        elif m := re.fullmatch(r"threads(\d+)", part):
            app = ["grant_bench_app:app_with_thread_limit", "--app-dir", str(HERE)]
            env["GRANT_BENCH_THREADS"] = m.group(1)
        elif m := re.fullmatch(r"pool(\d+)", part):
            env["REGIE_DB_POOL_SIZE"] = m.group(1)
        else:
            raise SystemExit(f"unknown variant part {part!r}")
    return prefix, app, env


class Server:
    """`uvicorn --factory api.main:app_from_environment` with W workers, stopped by PID."""

    def __init__(
        self, workers: int, port: int, env: dict[str, str], logf: Path, variant: str = "base"
    ) -> None:
        uvicorn = Path(sys.executable).parent / "uvicorn"
        prefix, app, extra = variant_setup(variant)
        env = {**env, **extra}
        self.cmd = [
            *prefix,
            str(uvicorn),
            "--factory",
            *app,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--no-access-log",
            "--log-level",
            "warning",
        ]
        self.workers, self.port, self.logf = workers, port, logf
        with logf.open("ab") as lf:
            self.proc = subprocess.Popen(
                self.cmd, cwd=REPO, stdout=lf, stderr=subprocess.STDOUT, env=env
            )
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"Regie died at start, see {logf}")
            if http_ok(f"http://127.0.0.1:{port}/healthz"):
                time.sleep(2)  # let all workers come up (as the peers do)
                return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"Regie not up after 60 s, see {logf}")

    @property
    def pid(self) -> int:
        return self.proc.pid

    def worker_pids(self) -> list[int]:
        kids = [pid for pid, ppid, comm, *_ in _procs() if ppid == self.pid]
        # uvicorn --workers 1 serves in the main process; with more, in spawned children
        # (multiprocessing also starts a resource tracker child, which is not a worker).
        if self.workers == 1:
            return [self.pid]
        return [k for k in kids if "resource_tracker" not in _cmdline(k)]

    def stop(self) -> None:
        """TERM by PID, wait up to 10 s, then KILL that PID; then its former children."""
        kids = [pid for pid, ppid, *_ in _procs() if ppid == self.pid]
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        for k in kids:
            for _ in range(25):
                if not Path(f"/proc/{k}").exists():
                    break
                time.sleep(0.2)
            else:
                log(f"worker {k} still up; TERM")
                os.kill(k, 15)


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


# ----------------------------------------------------------------------------- the vault
def record_content() -> dict[str, Any]:
    """A JSON document whose compact serialisation is exactly RECORD_BYTES bytes."""
    meds = [
        {"naam": n, "dosis": d, "frequentie": "2x daags", "sinds": "2025-03-01"}
        for n, d in [("metformine", "500 mg"), ("lisinopril", "10 mg"), ("atorvastatine", "20 mg")]
    ]
    doc: dict[str, Any] = {"medicatie": meds, "voorschrijver": "Huisartsenpraktijk De Linde"}
    doc["notitie"] = ""
    short = RECORD_BYTES - len(json.dumps(doc, separators=(",", ":")))
    doc["notitie"] = "x" * short
    assert len(json.dumps(doc, separators=(",", ":"))) == RECORD_BYTES
    return doc


class Vault:
    """Schema, keyring, the registered service and a resident with one 1 KiB record."""

    def __init__(self, out: Path, port: int, admin_url: str) -> None:
        self.out, self.port, self.admin_url = out, port, admin_url
        self.public = f"http://localhost:{port}"
        self.schema = f"regie_bench_{uuid.uuid4().hex[:10]}"
        sep = "&" if "?" in admin_url else "?"
        # application_name lets wrk_once count the CPU of this server's PostgreSQL backends.
        self.url = (
            f"{admin_url}{sep}options=-csearch_path%3D{self.schema}&application_name={APP_NAME}"
        )
        self.data_dir = out / "var"
        self.env = {
            **os.environ,
            "REGIE_MODE": "development",
            # The benchmark hammers the token endpoint from one address by design.
            "REGIE_RATE_LIMITS": "false",
            "REGIE_DATA_DIR": str(self.data_dir),
            "REGIE_DATABASE_URL": self.url,
            "REGIE_PUBLIC_URL": self.public,
            "REGIE_HOST": "127.0.0.1",
            "REGIE_PORT": str(port),
        }
        self.agent: Any = None
        self.tokens: dict[str, str] = {}
        self.record_id = ""
        self.subject = ""
        self.resident: Any = None
        self.stock: list[str] = []  # approved, unredeemed auth_req_ids
        self._http: Any = None

    # -- setup --------------------------------------------------------------------------
    def create(self) -> None:
        from sqlalchemy import create_engine, text

        admin = create_engine(self.admin_url, connect_args={"connect_timeout": 5})
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{self.schema}"'))
        admin.dispose()
        log(f"schema {self.schema}")
        regie = str(Path(sys.executable).parent / "regie")
        subprocess.run([regie, "migrate"], env=self.env, cwd=REPO, check=True, timeout=120)

        from support.service_client import ServiceAgent

        self.agent = ServiceAgent(None, CLIENT_ID, base=self.public)
        jwks = self.out / "service-jwks.json"
        jwks.write_text(json.dumps(self.agent.jwks))
        subprocess.run(
            [
                regie,
                "services",
                "add",
                "--name",
                "Huisartsenpraktijk De Linde (bench)",
                "--organisation",
                "ura:12345678",
                "--kind",
                "care-provider",
                "--datatype",
                "health.medication",
                "--action",
                "read",
                "--jwks",
                str(jwks),
                "--client-id",
                CLIENT_ID,
                "--json",
            ],
            env=self.env,
            cwd=REPO,
            check=True,
            timeout=120,
            stdout=subprocess.DEVNULL,
        )

    def drop(self) -> None:
        from sqlalchemy import create_engine, text

        if self._http is not None:
            self._http.close()
        admin = create_engine(self.admin_url, connect_args={"connect_timeout": 5})
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))
        admin.dispose()
        log(f"dropped schema {self.schema}")

    def http(self) -> Any:
        import httpx

        if self._http is None:
            self._http = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=30)
        return self._http

    def flow(self) -> None:
        """Over HTTP, against a running server: sign up, record, connect, ask, approve, poll."""
        from support.residents import sign_up

        http = self.http()
        self.agent.http = http
        self.resident = sign_up(http, "Anna Bench", origin=self.public)
        made = http.post(
            "/v1/me/records",
            headers=self.resident.headers,
            json={
                "category": "health",
                "type": "health.medication",
                "title": "Medicatieoverzicht",
                "content": record_content(),
            },
        )
        assert made.status_code == 201, made.text
        self.record_id = made.json()["id"]
        code = http.post("/v1/me/connection-codes", headers=self.resident.headers).json()["code"]
        self.subject = self.agent.connect(code)
        asked = self.agent.ask(self.subject, datatypes=["health.medication"], actions=["read"])
        assert asked.status_code == 200, asked.text
        waiting = http.get("/v1/me/requests", headers=self.resident.headers).json()["grants"]
        assert len(waiting) == 1, waiting
        done = http.post(
            f"/v1/me/grants/{waiting[0]['id']}/approve", json={}, headers=self.resident.headers
        )
        assert done.status_code == 200, done.text
        got = self.agent.poll(asked.json()["auth_req_id"])
        assert got.status_code == 200, got.text
        self.tokens = got.json()
        read = self.agent.call(
            "GET", f"/v1/service/records/{self.record_id}", self.tokens["access_token"]
        )
        assert read.status_code == 200, read.text
        assert read.json()["content"] == record_content(), read.text

    def refresh(self) -> str:
        self.agent.http = self.http()
        got = self.agent.refresh(self.tokens["refresh_token"])
        assert got.status_code == 200, got.text
        self.tokens = got.json()
        return self.tokens["access_token"]

    # -- approved requests for the token runs (in-process, same schema and keyring) ------
    def top_up(self, n: int) -> None:
        """Make approved, unredeemed requests until the stock holds n (2 processes)."""
        if len(self.stock) >= n:
            return
        import multiprocessing as mp

        need = n - len(self.stock)
        chunks = [min(250, need - i) for i in range(0, need, 250)]
        job = (str(self.data_dir), self.url, self.public, self.resident.token, self.subject)
        t0 = time.time()
        with mp.get_context("spawn").Pool(2) as pool:
            for ids in pool.imap_unordered(_make_approved, [(*job, k) for k in chunks]):
                self.stock += ids
        log(f"  {need} approved requests made in {time.time() - t0:.1f} s")


_CONTAINER: Any = None


def _make_approved(job: tuple[str, str, str, str, str, int]) -> list[str]:
    """In a pool process: k requests by the service, then the resident approves all pending.

    What the endpoints call (GrantService.request, .approve). Two processes run this at once:
    a request the other process approved first is skipped (Conflict)."""
    global _CONTAINER
    data_dir, url, public, session_token, subject, k = job
    from api.bootstrap import build_container
    from api.oauth import rar
    from api.settings import Settings
    from support.service_client import details
    from vault.errors import Conflict

    if _CONTAINER is None:
        _CONTAINER = build_container(
            Settings(mode="development", data_dir=data_dir, database_url=url, public_url=public)
        )
    c = _CONTAINER
    service = c.services.by_client_id(CLIENT_ID)
    resident_id = c.identity.authenticate(session_token).resident_id
    spec = rar.parse(details(datatypes=["health.medication"], actions=["read"]), "Code 4711")
    ids = [c.grants.request(service, subject, spec).auth_req_id for _ in range(k)]
    for g in c.grants.pending(resident_id):
        with contextlib.suppress(Conflict):  # the other process approved it first
            c.grants.approve(resident_id, g.grant_id)
    return ids


# ----------------------------------------------------------------------------- runs
class Scenario:
    def __init__(self, kind: str, vault: Vault, pools: Pools, initial_rps: float) -> None:
        self.kind, self.vault, self.pools = kind, vault, pools
        self.best_rps = initial_rps
        self.path = f"/v1/service/records/{vault.record_id}" if kind == READ else "/oauth/token"

    def size(self, duration: float, factor: float = 1.6) -> int:
        return math.ceil(factor * self.best_rps * duration) + 500

    def prepare(self, n: int, pool_file: Path) -> dict[str, str]:
        """Write a pool of n items (+1 checked over HTTP now); the wrk environment."""
        http = self.vault.http()
        if self.kind == READ:
            token = self.vault.refresh()
            now = int(time.time())
            check = http.get(
                self.path,
                headers={
                    "Authorization": f"DPoP {token}",
                    "DPoP": self.pools.proof("GET", self.path, now, token),
                },
            )
            assert check.status_code == 200, check.text
            assert len(check.content) > RECORD_BYTES, check.text
            t0 = time.time()
            with pool_file.open("w") as f:
                for _ in range(n):
                    f.write(self.pools.proof("GET", self.path, now, token) + "\n")
            env = {"MODE": "read", "TOKEN": token}
        else:
            self.vault.top_up(n + 1)
            now = int(time.time())
            body, proof = self.pools.token_item(self.vault.stock.pop(0), now)
            check = http.post(
                self.path,
                content=body,
                headers={"Content-Type": "application/x-www-form-urlencoded", "DPoP": proof},
            )
            assert check.status_code == 200, check.text
            assert check.json()["token_type"] == "DPoP", check.text
            t0 = time.time()
            with pool_file.open("w") as f:
                for auth_req_id in self.vault.stock[:n]:
                    body, proof = self.pools.token_item(auth_req_id, now)
                    f.write(f"{body}\t{proof}\n")
            env = {"MODE": "token"}
        log(f"  pool of {n} written in {time.time() - t0:.1f} s")
        return {**env, "REQ_PATH": self.path, "POOL": str(pool_file), "NTHREADS": "1"}

    def consumed(self, used: int) -> None:
        if self.kind == TOKEN:
            del self.vault.stock[:used]  # sent = redeemed (or at least spent)


def wrk_once(
    sc: Scenario, server: Server, conns: int, duration: int, out: Path, tag: str
) -> tuple[dict[str, Any], str, dict[str, Any]] | None:
    """One wrk run with a fresh pool; None when the pool ran out (the caller retries)."""
    pool = out / "pool.txt"
    stats = out / "lua-stats.jsonl"
    wenv = sc.prepare(sc.size(duration), pool)
    wenv["STATS"] = str(stats)
    args = argparse.Namespace(
        threads=1, lua=str(LUA), header=[], url=f"http://127.0.0.1:{server.port}{sc.path}"
    )
    saved = {k: os.environ.get(k) for k in wenv}
    os.environ.update(wenv)  # run_wrk (bench.py) passes our environment on to wrk
    n_before = len(stats.read_text().splitlines()) if stats.exists() else 0
    try:
        load0 = loadavg()
        sampler = BackendSampler(sc.vault.admin_url).__enter__()
        d0 = tree_detail(server.pid)
        t0, k0, (pg0, m0) = time.time(), tree_ticks(server.pid), pg_and_machine_ticks()
        ru0 = os.times()
        cmd, text = run_wrk(args, conns, duration)
        ru1 = os.times()
        t1, k1, (pg1, m1) = time.time(), tree_ticks(server.pid), pg_and_machine_ticks()
        d1 = tree_detail(server.pid)
        sampler.__exit__()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    pool.unlink(missing_ok=True)
    el = t1 - t0
    lines = stats.read_text().splitlines() if stats.exists() else []
    lua: dict[str, Any] = (
        json.loads(lines[-1]) if len(lines) > n_before else {"used": 0, "exhausted": True}
    )
    sc.consumed(int(lua.get("used", 0)))
    (out / "raw").mkdir(exist_ok=True)
    (out / "raw" / f"{tag}.txt").write_text(" ".join(cmd) + "\n" + text)
    if lua.get("exhausted"):
        log(f"  {tag}: pool of {lua.get('pool')} ran out after {lua.get('used')} requests")
        return None
    rec: dict[str, Any] = {
        "server_cpu_pct": round((k1 - k0) / HZ / el * 100, 1),
        "wrk_cpu_pct": round(
            ((ru1.children_user - ru0.children_user) + (ru1.children_system - ru0.children_system))
            / el
            * 100,
            1,
        ),
        "pg_cpu_pct": round((pg1 - pg0) / HZ / el * 100, 1),
        # only the backends of this server's connections (BackendSampler: lower bounds);
        # pg_cpu_pct above is every postgres process, other sessions' included
        "pg_own_cpu_pct": round(sampler.cpu_ticks() / HZ / el * 100, 1),
        "pg_own_backends": len(sampler.last),
        "pg_backends_opened": sampler.opened(),
        "machine_cpu_pct": round((m1 - m0) / HZ / el * 100, 1),
        "load1_before": load0,
        "cmd": " ".join(cmd),
    }
    rec.update(parse(text))
    statuses: dict[str, int] = {k: int(v) for k, v in (lua.get("statuses") or {}).items()}
    rec["statuses"] = statuses
    rec["ok"] = statuses.get("200", 0)
    rec["ok_rps"] = round(rec["ok"] / duration, 1)
    rec["not_200"] = sum(v for k, v in statuses.items() if k != "200")
    rec["pool"], rec["used"] = lua.get("pool"), lua.get("used")
    rec["server_user_pct"] = round((d1[0] - d0[0]) / HZ / el * 100, 1)
    rec["server_sys_pct"] = round((d1[1] - d0[1]) / HZ / el * 100, 1)
    if rec["requests"]:
        rec["ctx_switches_per_req"] = round(switches_between(d0[2], d1[2]) / rec["requests"], 1)
    if rec["rps"]:
        rec["server_cpu_ms_per_req"] = round(rec["server_cpu_pct"] / 100 / rec["rps"] * 1000, 3)
    return rec, text, lua


def bench_scenario(
    sc: Scenario,
    server: Server,
    name: str,
    args: argparse.Namespace,
    out: Path,
    *,
    conns: list[int] | None = None,
    reps: int | None = None,
    warmup: int | None = None,
    note: str | None = None,
) -> None:
    """bench.py's sequence: a warm-up at the first concurrency, then reps per concurrency."""
    conns = conns or [int(c) for c in args.conns.split(",")]
    reps = args.reps if reps is None else reps
    warmup = args.warmup if warmup is None else warmup
    if warmup:
        for _attempt in range(4):
            got = wrk_once(sc, server, conns[0], warmup, out, f"{name}_warmup".replace("/", "_"))
            if got is not None:
                sc.best_rps = got[0]["rps"] or sc.best_rps  # pools follow the measured rate
                break
            sc.best_rps *= 2
        time.sleep(1)
    for c, rep in [(c, r) for c in conns for r in range(1, reps + 1)]:
        for _attempt in range(4):
            tag = f"{name}_c{c}_r{rep}".replace("/", "_")
            got = wrk_once(sc, server, c, args.duration, out, tag)
            if got is not None:
                break
            sc.best_rps *= 2
            time.sleep(1)
        else:
            raise RuntimeError(f"{name} c={c}: the pool ran out 4 times")
        rec, _, _ = got
        sc.best_rps = max(sc.best_rps, rec["rps"] or 0)
        rec = {
            "name": name,
            "conns": c,
            "rep": rep,
            "duration_s": args.duration,
            "wrk_threads": 1,
            "note": args.note if note is None else note,
            **rec,
        }
        with args.results.open("a") as f:
            f.write(json.dumps(rec) + "\n")
        print(
            f"{name:32s} c={c:<3d} r{rep} rps={rec['rps']} ok={rec['ok']} p50={rec['p50_ms']}ms "
            f"p99={rec['p99_ms']}ms srvCPU={rec['server_cpu_pct']}% "
            f"(sys {rec['server_sys_pct']}%, {rec.get('server_cpu_ms_per_req')} ms/req, "
            f"{rec.get('ctx_switches_per_req')} cs/req) pgCPU={rec['pg_own_cpu_pct']}% "
            f"(backends {rec['pg_own_backends']}, opened {rec['pg_backends_opened']}) "
            f"machine={rec['machine_cpu_pct']}% wrkCPU={rec['wrk_cpu_pct']}% "
            f"not200={rec['not_200']} {rec['socket_errors']}",
            flush=True,
        )
        time.sleep(1)


# ----------------------------------------------------------------------------- profile
def profile(sc: Scenario, server: Server, seconds: int, out: Path, name: str) -> list[Path]:
    """py-spy on the one worker while wrk (c=32) runs: first S s of samples of the thread that
    holds the GIL (where the CPU goes), then S s of all non-idle threads (also shows waits for
    PostgreSQL and for the GIL). Raw collapsed stacks, one file each."""
    pyspy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(pyspy).exists():
        log("py-spy not found: pip install py-spy into the venv for --profile")
        return []
    pid = server.worker_pids()[0]
    pool = out / "pool.txt"
    stats = out / "lua-stats.jsonl"
    duration = 2 * seconds + 8
    wenv = sc.prepare(sc.size(duration, factor=2.0), pool)
    wenv.update(STATS=str(stats))
    cmd = ["wrk", "-t1", "-c32", f"-d{duration}s", "--latency", "--timeout", "5s", "-s", str(LUA)]
    cmd.append(f"http://127.0.0.1:{server.port}{sc.path}")
    wrk = subprocess.Popen(
        cmd, env={**os.environ, **wenv}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    made = []
    time.sleep(2)
    for mode, extra in (("gil", ["--gil"]), ("active", [])):
        raw = out / f"profile-{name}-{mode}.txt"
        spy = [pyspy, "record", "--pid", str(pid), "--duration", str(seconds)]
        spy += ["--rate", str(PYSPY_RATE)]
        spy += ["--nonblocking", "--format", "raw", "--output", str(raw), *extra]
        res = subprocess.run(spy, capture_output=True, text=True, timeout=seconds + 60)
        if res.returncode != 0 or not raw.exists():
            log(f"py-spy failed ({res.returncode}): {res.stderr.strip()[-500:]}")
        else:
            made.append(raw)
    text, _ = wrk.communicate(timeout=duration + 30)
    pool.unlink(missing_ok=True)
    (out / "raw" / f"profile-{name}-wrk.txt").write_text(" ".join(cmd) + "\n" + text)
    lua = json.loads(stats.read_text().splitlines()[-1])
    sc.consumed(int(lua.get("used", 0)))
    log(f"  profile {name}: {parse(text)['rps']} req/s under py-spy, statuses {lua['statuses']}")
    return made


# (label, frame regex, parent regex): inclusive shares; a sub-step counts samples whose stack
# also holds the parent. Frames are py-spy's "Class.function (short/path.py:line)".
DPOP, CLIENT, SQLA = (
    r"DpopVerifier\.verify \(",
    r"ClientAssertionVerifier\.authenticate \(",
    r"\(sqlalchemy/",
)
STEPS: list[tuple[str, str, str | None]] = [
    ("DPoP proof check (DpopVerifier.verify)", DPOP, None),
    ("  ECDSA P-256 signature check", r"ESAlgorithm\.verify \(", DPOP),
    ("  replay cache insert + commit (SqlReplayCache.first_use)", r"first_use \(", DPOP),
    ("client assertion check (ClientAssertionVerifier.authenticate)", CLIENT, None),
    ("  ECDSA P-256 signature check", r"ESAlgorithm\.verify \(", CLIENT),
    ("  registered keys: lookup + JWK import (key_set)", r"JwksClientKeys\.key_set \(", CLIENT),
    ("  replay cache insert + commit (SqlReplayCache.first_use)", r"first_use \(", CLIENT),
    ("service lookup (ServiceRegistry.by_client_id)", r"ServiceRegistry\.by_client_id \(", None),
    ("access-token lookup (TokenService.authenticate)", r"TokenService\.authenticate \(", None),
    ("read under the grant (ServiceAccess.read_record)", r"ServiceAccess\.read_record \(", None),
    ("  grant check (_decide: grant, procedure, service)", r"ServiceAccess\._decide \(", None),
    ("  access event (audit record)", r"^record \(vault/audit/", None),
    ("  record + key unwrap + AES-GCM decrypt", r"RecordService\.", None),
    ("CIBA poll + token issue (GrantService.poll)", r"GrantService\.poll \(", None),
    ("  token pair insert (TokenService.issue)", r"TokenService\.issue \(", None),
    ("response model + JSON (serialize_response)", r"serialize_response \(", None),
    ("form parsing (starlette Request.form)", r"Request\.(_get_form|form) \(", None),
    ("SQLAlchemy, any frame (ORM + Core + psycopg below it)", SQLA, None),
    ("  psycopg below SQLAlchemy (driver, sockets)", r"\(psycopg/", SQLA),
    (
        "  pool checkout incl. pre-ping (pool_pre_ping=True)",
        r"_ConnectionFairy\._checkout \(",
        SQLA,
    ),
    ("  new PostgreSQL connections (pool overflow)", r"__connect \(|connect \(psycopg/", SQLA),
    ("  Session.commit", r"Session\.commit \(", SQLA),
    ("  Session.close / rollback at the end of a unit of work", r"Session\.close \(", SQLA),
]
LIBS: list[tuple[str, str]] = [
    ("cryptography / OpenSSL (ECDSA, AES, hashes)", r"\(cryptography/"),
    ("joserfc", r"\(joserfc/"),
    ("psycopg", r"\(psycopg/"),
    ("SQLAlchemy", r"\(sqlalchemy/|<sqlalchemy generated"),
    ("pydantic", r"\(pydantic"),
    ("FastAPI", r"\(fastapi/"),
    ("Starlette", r"\(starlette/"),
    (
        "uvicorn / httptools / event loop (uvloop, asyncio)",
        r"\(uvicorn/|httptools|uvloop|\(asyncio/",
    ),
    ("anyio", r"\(anyio/"),
    ("threading / queue (thread hand-off, locks)", r"\(threading\.py|\(queue\.py|\(concurrent/"),
    ("json", r"\(json/"),
    ("Regie code (api/, vault/, keys/)", r"\((api|vault|keys)/"),
]


def summarise_profile(raw: Path, top: int = 20, ticks: int = 0) -> str:
    """Text summary of py-spy raw (collapsed) stacks: steps (inclusive), libraries (self)."""
    total = 0
    steps: Counter[str] = Counter()
    libs: Counter[str] = Counter()
    leaf: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    step_re = [
        (i, label, re.compile(rx), re.compile(parent) if parent else None)
        for i, (label, rx, parent) in enumerate(STEPS)
    ]
    lib_re = [(label, re.compile(rx)) for label, rx in LIBS]
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        count = int(n)
        frames = stack.split(";")
        total += count
        pool_thread = frames[0].startswith("Thread._bootstrap")
        threads["threadpool threads (sync code)" if pool_thread else "event-loop thread"] += count
        for i, label, rx, parent in step_re:
            if any(rx.search(f) for f in frames) and (
                parent is None or any(parent.search(f) for f in frames)
            ):
                steps[f"{i:02d}{label}"] += count
        last = frames[-1]
        leaf[last] += count
        for label, rx in lib_re:
            if rx.search(last):
                libs[label] += count
                break
        else:
            libs["other (stdlib)"] += count
    if not total:
        return "(no samples)"

    def pct(n: int) -> str:
        return f"{100 * n / total:5.1f} %"

    lines = [f"{total} samples"]
    if ticks and raw.name.endswith("-gil.txt"):
        lines[0] += (
            f" in {ticks} sampling ticks: some thread held the GIL in {100 * total / ticks:.0f} %"
            " of them"
        )
    lines += [f"  {pct(n)}  {label}" for label, n in threads.most_common()]
    lines.append("Inclusive, by step (sub-steps indented; steps overlap where nested):")
    lines += [f"  {pct(n)}  {key[2:]}" for key, n in sorted(steps.items())]
    lines.append("Self time, by library of the innermost frame:")
    lines += [f"  {pct(n)}  {label}" for label, n in libs.most_common()]
    lines.append(f"Top {top} innermost frames:")
    lines += [f"  {pct(n)}  {f}" for f, n in leaf.most_common(top)]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- report
def medians(path: Path) -> dict[tuple[str, int], dict[str, float]]:
    groups: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    for line in path.read_text().splitlines():
        if line.strip():
            r = json.loads(line)
            groups[(r["name"], r["conns"])].append(r)
    return {
        k: {
            "rps": st.median(r["rps"] for r in rs),
            "p99_ms": st.median(r["p99_ms"] for r in rs),
            "n": len(rs),
        }
        for k, rs in groups.items()
    }


def report(path: Path) -> str:
    m = medians(path)
    if not any(n.startswith(("fastapi-", "oidc/")) for n, _ in m):
        return "\n".join(detail(path))  # no peers in this file: no bars
    out = ["| bar | workers | conc | Regie | peer | ratio / value | target | result |"]
    out.append("|---|---|---|---|---|---|---|---|")
    workers = sorted({int(n.split("-")[1][0]) for n, _ in m if n.startswith("regie-")})
    conns = sorted({c for n, c in m if n.startswith("regie-")})
    for w in workers:
        for c in conns:
            mine, peer = m.get((f"regie-{w}w/{READ}", c)), m.get((f"fastapi-{w}w/ping", c))
            if mine and peer:
                ratio = mine["rps"] / peer["rps"]
                out.append(
                    f"| (a) read ≥ 50 % of FastAPI | {w} | {c} | {mine['rps']:.0f} req/s | "
                    f"{peer['rps']:.0f} req/s | {100 * ratio:.1f} % | ≥ 50 % | "
                    f"{'pass' if ratio >= 0.5 else f'FAIL (needs {0.5 / ratio:.1f}x)'} |"
                )
        mine = m.get((f"regie-{w}w/{READ}", 32))
        if mine:
            p99 = mine["p99_ms"]
            out.append(
                f"| (a) read p99 at c=32 | {w} | 32 | {p99:.1f} ms | | {p99:.1f} ms | < 25 ms | "
                f"{'pass' if p99 < 25 else f'FAIL ({p99 / 25:.1f}x the limit)'} |"
            )
    for w in workers:
        for c in conns:
            mine = m.get((f"regie-{w}w/{TOKEN}", c))
            peer = m.get(("oidc/token-client_credentials", c))
            if mine and peer:
                ratio = mine["rps"] / peer["rps"]
                out.append(
                    f"| (b) token ≥ 1.0x oidc-provider | {w} | {c} | {mine['rps']:.0f} req/s | "
                    f"{peer['rps']:.0f} req/s | {ratio:.2f}x | ≥ 1.0x | "
                    f"{'pass' if ratio >= 1.0 else f'FAIL (needs {1 / ratio:.1f}x)'} |"
                )
    return "\n".join([*out, "", *detail(path)])


def detail(path: Path) -> list[str]:
    """Regie's rows with the fields bench.py does not record (medians over repetitions)."""
    groups: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    for line in path.read_text().splitlines():
        if line.strip():
            r = json.loads(line)
            if r["name"].startswith("regie-"):
                groups[(r["name"], r["conns"])].append(r)

    def med(rs: list[dict[str, Any]], key: str) -> float:
        values = [r[key] for r in rs if r.get(key) is not None]
        return st.median(values) if values else float("nan")

    out = [
        "| scenario | conc | req/s | server CPU % | of it system % | server CPU ms/req "
        "| context switches/req | PostgreSQL CPU % (own backends) | backends opened per run "
        "| machine CPU % | other CPU % | HTTP 200 / all | n |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (name, conns), rs in groups.items():
        other = st.median(
            r["machine_cpu_pct"] - r["server_cpu_pct"] - r["pg_cpu_pct"] - r["wrk_cpu_pct"]
            for r in rs
        )
        ok = sum(r["ok"] for r in rs)
        answered = sum(sum(r["statuses"].values()) for r in rs)
        out.append(
            f"| {name} | {conns} | {med(rs, 'rps'):.0f} | {med(rs, 'server_cpu_pct'):.0f} | "
            f"{med(rs, 'server_sys_pct'):.0f} | {med(rs, 'server_cpu_ms_per_req'):.1f} | "
            f"{med(rs, 'ctx_switches_per_req'):.0f} | {med(rs, 'pg_own_cpu_pct'):.0f} | "
            f"{med(rs, 'pg_backends_opened'):.0f} | {med(rs, 'machine_cpu_pct'):.0f} | "
            f"{other:.0f} | {ok} / {answered} | {len(rs)} |"
        )
    return out


# ----------------------------------------------------------------------------- sql count
def sql_count(admin_url: str) -> str:
    """In-process (TestClient) on a fresh schema: the SQL statements, transactions and pool
    checkouts of one token request and of one read (the second read: caches warm)."""
    import tempfile

    from fastapi.testclient import TestClient
    from sqlalchemy import Engine, Pool, create_engine, event, text

    from api.app import create_app
    from api.bootstrap import build_container
    from api.settings import Settings
    from support.residents import sign_up
    from support.service_client import ServiceAgent
    from vault.storage.migrate import upgrade

    tmp = Path(tempfile.mkdtemp(prefix="regie_sqlcount_"))
    schema = f"regie_bench_{uuid.uuid4().hex[:10]}"
    sep = "&" if "?" in admin_url else "?"
    url = f"{admin_url}{sep}options=-csearch_path%3D{schema}"
    admin = create_engine(admin_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    origin = "http://localhost:8000"
    settings = Settings(
        mode="development", data_dir=tmp / "var", public_url=origin, database_url=url
    )
    c = build_container(settings)
    engine = c.engine
    assert engine is not None  # built from the URL, not from a session factory
    out: list[str] = []
    try:
        upgrade(engine)
        seen: list[str] = []
        checkouts = [0]

        def on_sql(_conn: Any, _cur: Any, statement: str, *_: Any) -> None:
            words = statement.split()
            if words[0] == "SELECT" and "FROM" in words:
                seen.append("SELECT ... FROM " + words[words.index("FROM") + 1])  # noqa: S608 - a label, not SQL
            else:
                seen.append(" ".join(words[:3]))

        def on_checkout(*_: Any) -> None:
            checkouts[0] += 1

        begins = [0]
        commits = [0]

        def on_begin(conn: Any) -> None:
            # An AUTOCOMMIT connection (the async reader) begins nothing on the server.
            if not getattr(conn.connection.dbapi_connection, "autocommit", False):
                begins[0] += 1

        def on_commit(_conn: Any) -> None:
            commits[0] += 1

        # On the Engine and Pool classes: the sync engine and both async engines (whose sync
        # engines the container keeps to itself) are counted.
        event.listen(Engine, "before_cursor_execute", on_sql)
        event.listen(Engine, "begin", on_begin)
        event.listen(Engine, "commit", on_commit)
        event.listen(Pool, "checkout", on_checkout)
        # The hot path's statements on psycopg directly (vault/storage/hot_path.py) pass no
        # SQLAlchemy event: counted where they are sent (SQLAlchemy itself uses cursors).
        import psycopg

        raw_execute = psycopg.AsyncConnection.execute

        async def counted(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
            on_sql(None, None, str(query), "raw psycopg")
            return await raw_execute(self, query, *args, **kwargs)

        psycopg.AsyncConnection.execute = counted  # type: ignore[method-assign]
        with TestClient(create_app(settings, container=c), base_url=origin) as client:
            agent = ServiceAgent(client, CLIENT_ID)
            c.services.add(
                operator="test-operator",
                name="Clinic",
                organisation="ura:12345678",
                kind="care-provider",
                datatypes=["health.medication"],
                actions=["read"],
                jwks=agent.jwks,
                client_id=CLIENT_ID,
            )
            anna = sign_up(client, "Anna")
            made = client.post(
                "/v1/me/records",
                headers=anna.headers,
                json={
                    "category": "health",
                    "type": "health.medication",
                    "title": "Medicatieoverzicht",
                    "content": record_content(),
                },
            )
            record_id = made.json()["id"]
            code = client.post("/v1/me/connection-codes", headers=anna.headers).json()["code"]
            subject = agent.connect(code)
            asked = agent.ask(subject, datatypes=["health.medication"], actions=["read"])
            waiting = client.get("/v1/me/requests", headers=anna.headers).json()["grants"]
            client.post(f"/v1/me/grants/{waiting[0]['id']}/approve", json={}, headers=anna.headers)
            steps = [
                (
                    "POST /oauth/token (CIBA, approved)",
                    lambda: agent.poll(asked.json()["auth_req_id"]),
                ),
                ("GET /v1/service/records/{id} (1st)", None),
                ("GET /v1/service/records/{id} (2nd)", None),
            ]
            token = ""
            for label, call in steps:
                seen.clear()
                checkouts[0] = begins[0] = commits[0] = 0
                if call is None:
                    got = agent.call("GET", f"/v1/service/records/{record_id}", token)
                else:
                    got = call()
                    token = got.json()["access_token"]
                assert got.status_code == 200, got.text
                out.append(
                    f"{label}: {len(seen)} SQL statements, {begins[0]} transactions"
                    f" ({commits[0]} committed), {checkouts[0]} pool checkouts (no pre-ping);"
                    f" round trips to PostgreSQL: {len(seen) + 2 * begins[0]}"
                    " (each statement, and BEGIN and COMMIT/ROLLBACK per transaction)"
                )
                out += [f"    {x}" for x in seen]
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
        shutil.rmtree(tmp, ignore_errors=True)
    return "\n".join(out)


# ----------------------------------------------------------------------------- main
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument(
        "--out", type=Path, default=Path("/tmp/regie_grant_bench") / time.strftime("%Y%m%d-%H%M%S")
    )
    r.add_argument("--results", type=Path, help="JSON lines (default OUT/results.jsonl)")
    r.add_argument("--workers", default="1,2")
    r.add_argument("--conns", default="32,64")
    r.add_argument("--reps", type=int, default=3)
    r.add_argument("--duration", type=int, default=10)
    r.add_argument("--warmup", type=int, default=3)
    r.add_argument("--scenarios", default=f"{READ},{TOKEN}")
    r.add_argument("--port", type=int, default=8400)
    r.add_argument("--profile", type=int, default=0, help="py-spy seconds per scenario (1 worker)")
    r.add_argument("--note", default="")
    r.add_argument(
        "--variants",
        default="base",
        help="comma-separated server variants (diagnostics), e.g. base,pin1,threads4,pool40",
    )
    r.add_argument(
        "--diag-c1",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="with 1 worker, also one run per scenario at c=1 (diagnostic, not a bar)",
    )
    r.add_argument(
        "--postgres",
        default=os.environ.get(
            "REGIE_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
    )
    p = sub.add_parser("report")
    p.add_argument("results", type=Path)
    s = sub.add_parser("profile-summary")
    s.add_argument("raw", type=Path)
    s.add_argument("--seconds", type=int, default=0, help="py-spy duration (for the GIL share)")
    q = sub.add_parser("sql-count")
    q.add_argument(
        "--postgres",
        default=os.environ.get(
            "REGIE_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
    )
    args = ap.parse_args()

    if args.cmd == "report":
        print(report(args.results))
        return
    if args.cmd == "profile-summary":
        print(summarise_profile(args.raw, ticks=PYSPY_RATE * args.seconds))
        return
    if args.cmd == "sql-count":
        print(sql_count(args.postgres))
        return

    if not shutil.which("wrk"):
        sys.exit("wrk is missing: bash /work/shared/peers/setup.sh (or apt-get install wrk)")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "raw").mkdir(exist_ok=True)
    args.results = args.results or args.out / "results.jsonl"
    vault = Vault(args.out, args.port, args.postgres)
    server: Server | None = None
    initial = {READ: 400.0, TOKEN: 200.0}  # req/s guesses for the first pool sizes
    try:
        vault.create()
        for w in [int(x) for x in args.workers.split(",")]:
            for variant in args.variants.split(","):
                label = f"regie-{w}w" + ("" if variant == "base" else f"+{variant}")
                server = Server(w, args.port, vault.env, args.out / f"{label}.log", variant)
                log(f"{label}: pid {server.pid}, workers {server.worker_pids()}: {server.cmd}")
                if not vault.record_id:
                    vault.flow()
                pools = Pools(vault.agent, vault.public)
                for kind in args.scenarios.split(","):
                    sc = Scenario(kind, vault, pools, initial[kind])
                    bench_scenario(sc, server, f"{label}/{kind}", args, args.out)
                    initial[kind] = sc.best_rps
                if args.diag_c1 and w == 1 and variant == "base":
                    # No concurrency: the CPU a request costs without threadpool contention.
                    for kind in args.scenarios.split(","):
                        sc = Scenario(kind, vault, pools, initial[kind] / 4)
                        bench_scenario(
                            sc, server, f"regie-1w/{kind}", args, args.out, conns=[1], reps=1,
                            note="diagnostic: one connection",
                        )  # fmt: skip
                if args.profile and w == 1 and variant == "base":
                    for kind in args.scenarios.split(","):
                        sc = Scenario(kind, vault, pools, initial[kind])
                        for raw in profile(sc, server, args.profile, args.out, kind):
                            summary = summarise_profile(raw, ticks=PYSPY_RATE * args.profile)
                            raw.with_suffix(".summary").write_text(summary + "\n")
                            print(f"--- {raw.name}\n{summary}", flush=True)
                server.stop()
                server = None
    finally:
        if server is not None:
            server.stop()
        vault.drop()


if __name__ == "__main__":
    main()
