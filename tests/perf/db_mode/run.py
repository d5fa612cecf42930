#!/usr/bin/env python3
"""Sync vs async SQLAlchemy under FastAPI/uvicorn: bounded wrk runs on 127.0.0.1, markdown table.

Run from the repository root with the project venv (needs psycopg + cryptography for the setup):

    .venv/bin/python tests/perf/db_mode/run.py            # 1 and 2 workers, ~6.5-8 min
    .venv/bin/python tests/perf/db_mode/run.py --workers 1 --reps 1 --duration 3   # smoke run
    # shared machine: redo measurements disturbed by other load (bounded by --retries)
    .venv/bin/python tests/perf/db_mode/run.py --quiet-wait 30 --max-other 25 --retries 2
    # table from stored results, only measurements with other-CPU <= 25 %
    .venv/bin/python tests/perf/db_mode/run.py --summarize results.jsonl --max-other 25

Steps: create schema bench_db_mode in database `test` (plain SQL; 10,000 rows of 1 KiB payload,
AES-256-GCM encrypted, over 1,000 residents). Then for each worker count and each of REPS
repetitions, both apps in alternating order (app_sync.py on :8301, app_async.py on :8302):
start uvicorn (--no-access-log --log-level warning, 127.0.0.1), check the endpoints answer
correctly, then per endpoint: wait (bounded, --quiet-wait) for the shared machine to be idle,
a 3 s wrk warm-up, one `wrk -t1 -c32 -d10s --latency --timeout 5s` run with cycle.lua over
100 ids; stop the server by PID. Finally DROP SCHEMA bench_db_mode CASCADE (also on error,
Ctrl-C or SIGTERM) and print the table (median over repetitions).
Both engines: pool_size=20, max_overflow=0.

wrk handling, parsing and CPU accounting follow /work/shared/peers/bench.py (same settings),
copied here so the benchmark is self-contained. Raw wrk output and JSON lines go to --out
(default /tmp/regie_db_mode). Installs nothing except `wrk` via apt-get if it is missing.
DSN: $REGIE_BENCH_DSN, else postgres@127.0.0.1:5432/test, else root@ (trust auth).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import secrets
import shutil
import signal
import statistics as st
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import psycopg
from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: TID251 - benchmark only

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
SCHEMA = "bench_db_mode"
N_ROWS, N_RESIDENTS, N_IDS, PAYLOAD = 10_000, 1_000, 100, 1024
APPS = {"sync": ("app_sync:app", 8301), "async": ("app_async:app", 8302)}
ENDPOINTS = {"GET /rows/{id}": ("GET", ""), "POST /rows/{id}/touch": ("POST", "/touch")}
HZ = os.sysconf("SC_CLK_TCK")
UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def log(*a: object) -> None:
    print(*a, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- database
def pick_dsn() -> str:
    """SQLAlchemy URL; the first candidate role that can connect wins."""
    if os.environ.get("REGIE_BENCH_DSN"):
        return os.environ["REGIE_BENCH_DSN"]
    last: Exception | None = None
    for user in ("postgres", "root"):
        url = f"postgresql+psycopg://{user}@127.0.0.1:5432/test"
        try:
            psycopg.connect(libpq(url), connect_timeout=5).close()
            return url
        except psycopg.OperationalError as e:
            last = e
    raise SystemExit(f"no PostgreSQL role usable at 127.0.0.1:5432/test: {last}")


def libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def setup_db(conninfo: str, key: bytes, ids_file: Path) -> None:
    aead = AESGCM(key)
    residents = [uuid.uuid4() for _ in range(N_RESIDENTS)]
    rows = []
    for i in range(N_ROWS):
        rid, res = uuid.uuid4(), residents[i % N_RESIDENTS]
        nonce = secrets.token_bytes(12)
        rows.append(
            (rid, res, nonce + aead.encrypt(nonce, secrets.token_bytes(PAYLOAD), rid.bytes))
        )
    with psycopg.connect(conninfo, connect_timeout=5) as conn, conn.cursor() as cur:
        cur.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        cur.execute(f"CREATE SCHEMA {SCHEMA}")
        cur.execute(
            f"CREATE TABLE {SCHEMA}.rows (id uuid PRIMARY KEY, resident_id uuid NOT NULL,"
            " payload bytea NOT NULL)"
        )
        cur.execute(f"CREATE INDEX ON {SCHEMA}.rows (resident_id)")
        cur.execute(
            f"CREATE TABLE {SCHEMA}.events (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
            " row_id uuid NOT NULL, resident_id uuid NOT NULL, action text NOT NULL,"
            " at timestamptz NOT NULL DEFAULT now())"
        )
        with cur.copy(f"COPY {SCHEMA}.rows (id, resident_id, payload) FROM STDIN") as cp:
            for r in rows:
                cp.write_row(r)
        conn.commit()
        conn.autocommit = True
        cur.execute(f"VACUUM ANALYZE {SCHEMA}.rows")
    pick = random.Random(1).sample(rows, N_IDS)
    ids_file.write_text("".join(f"{r[0]} {r[1]}\n" for r in pick))


def drop_schema(conninfo: str) -> None:
    with psycopg.connect(conninfo, connect_timeout=5, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    log(f"dropped schema {SCHEMA}")


def count_events(conninfo: str) -> int:
    with psycopg.connect(conninfo, connect_timeout=5) as conn:
        row = conn.execute(f"SELECT count(*) FROM {SCHEMA}.events").fetchone()  # noqa: S608
        return int(row[0]) if row else 0


# ---------------------------------------------------------------- CPU accounting
def _procs() -> list[tuple[int, int, str, int, int]]:
    """(pid, ppid, comm, utime+stime, cutime+cstime) of every process."""
    out = []
    for p in Path("/proc").iterdir():
        d = p.name
        if not d.isdigit():
            continue
        try:
            s = (p / "stat").read_text()
        except OSError:
            continue
        comm = s[s.find("(") + 1 : s.rfind(")")]
        rest = s[s.rfind(")") + 2 :].split()
        out.append(
            (
                int(d),
                int(rest[1]),
                comm,
                int(rest[11]) + int(rest[12]),
                int(rest[13]) + int(rest[14]),
            )
        )
    return out


def ticks(root: int) -> tuple[int, int, int]:
    """(server tree ticks, postgres ticks, machine busy ticks)."""
    procs = _procs()
    children: dict[int, list[int]] = {}
    tk = {}
    pg = 0
    comms = {pid: comm for pid, _, comm, _, _ in procs}
    for pid, ppid, comm, t, ct in procs:
        children.setdefault(ppid, []).append(pid)
        tk[pid] = t
        if comm == "postgres":
            pg += t
            if comms.get(ppid) != "postgres":  # postmaster: plus its exited backends
                pg += ct
    srv, stack = 0, [root]
    while stack:
        p = stack.pop()
        srv += tk.get(p, 0)
        stack.extend(children.get(p, []))
    f = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]
    v = [int(x) for x in f]
    busy = sum(v) - v[3] - v[4]  # minus idle, iowait
    return srv, pg, busy


def machine_busy_pct(interval: float = 1.0) -> float:
    def busy() -> tuple[int, int]:
        v = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
        return sum(v) - v[3] - v[4], sum(v)

    b0, t0 = busy()
    time.sleep(interval)
    b1, t1 = busy()
    return (b1 - b0) / max(t1 - t0, 1) * 100 * (os.cpu_count() or 1)


def wait_quiet(max_wait: float, limit: float = 25.0) -> float:
    """Wait (bounded) until the machine is nearly idle (other sessions share it); return seconds."""
    t0 = time.time()
    while time.time() - t0 < max_wait:
        if machine_busy_pct() < limit:
            break
    return time.time() - t0


# ---------------------------------------------------------------- wrk
def to_ms(v: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", v)
    return float(m.group(1)) * UNIT_MS[m.group(2)] if m else float("nan")


def parse(out: str) -> dict[str, object]:
    r: dict[str, object] = {}
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    r["rps"] = float(m.group(1)) if m else None
    for pct in ("50", "75", "90", "99"):
        m = re.search(rf"^\s+{pct}%\s+(\S+)", out, re.M)
        r[f"p{pct}_ms"] = to_ms(m.group(1)) if m else None
    m = re.search(r"(\d+) requests in", out)
    r["requests"] = int(m.group(1)) if m else 0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    r["non2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: (.*)", out)
    r["socket_errors"] = m.group(1).strip() if m else ""
    return r


def run_wrk(url: str, conns: int, duration: int, env: dict[str, str]) -> tuple[list[str], str]:
    cmd = [
        "wrk",
        "-t1",
        f"-c{conns}",
        f"-d{duration}s",
        "--latency",
        "--timeout",
        "5s",
        "-s",
        str(HERE / "cycle.lua"),
        url,
    ]
    p = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, **env}
    )
    try:
        out, _ = p.communicate(timeout=duration + 30)  # hard stop even if wrk hangs
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
    return cmd, out


def ensure_wrk() -> None:
    if shutil.which("wrk"):
        return
    log("wrk missing: apt-get install -y wrk")
    subprocess.run(
        ["apt-get", "install", "-y", "wrk"], check=False, timeout=300, stdout=subprocess.DEVNULL
    )
    if not shutil.which("wrk"):
        subprocess.run(["apt-get", "update"], check=False, timeout=300, stdout=subprocess.DEVNULL)
        subprocess.run(
            ["apt-get", "install", "-y", "wrk"], check=True, timeout=300, stdout=subprocess.DEVNULL
        )


# ---------------------------------------------------------------- servers
def http(method: str, url: str, headers: dict[str, str]) -> tuple[int, dict[str, object] | None]:
    data = b"" if method == "POST" else None
    req = urllib.request.Request(url, data, headers, method=method)  # noqa: S310 - loopback only
    try:
        with urllib.request.urlopen(req, timeout=5) as r:  # noqa: S310
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, None


def start_server(
    app: str, port: int, workers: int, env: dict[str, str], logf: Path, first: tuple[str, str]
) -> subprocess.Popen[bytes]:
    cmd = [
        str(REPO / ".venv/bin/uvicorn"),
        app,
        "--app-dir",
        str(HERE),
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
    with logf.open("wb") as lf:
        proc = subprocess.Popen(cmd, stdout=lf, stderr=subprocess.STDOUT, env={**os.environ, **env})
    deadline = time.time() + 30
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{app} died, see {logf}")
        try:
            if (
                http(
                    "GET", f"http://127.0.0.1:{port}/rows/{first[0]}", {"X-Resident-Id": first[1]}
                )[0]
                == 200
            ):
                time.sleep(2 if workers > 1 else 0.5)  # let all workers come up
                return proc
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    stop_server(proc)
    raise RuntimeError(f"{app} not up after 30 s, see {logf}")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    """TERM by PID, wait up to 10 s, then KILL that PID; then check its former children."""
    kids = [pid for pid, ppid, *_ in _procs() if ppid == proc.pid]
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    for k in kids:
        for _ in range(25):
            if not Path(f"/proc/{k}").exists():
                break
            time.sleep(0.2)
        else:
            log(f"child {k} still up; TERM")
            os.kill(k, 15)


def check(port: int, ids: list[tuple[str, str]]) -> None:
    base = f"http://127.0.0.1:{port}"
    rid, res = ids[0]
    code, body = http("GET", f"{base}/rows/{rid}", {"X-Resident-Id": res})
    assert code == 200, code
    assert body, body
    assert body["length"] == PAYLOAD, body
    code, _ = http("GET", f"{base}/rows/{rid}", {"X-Resident-Id": ids[1][1]})
    assert code == 404, f"wrong resident must give 404, got {code}"
    code, body = http("POST", f"{base}/rows/{rid}/touch", {"X-Resident-Id": res})
    assert code == 200, code
    assert body, body
    assert isinstance(body["event"], int), body


# ---------------------------------------------------------------- main
def measure(
    proc: subprocess.Popen[bytes], url: str, args: argparse.Namespace, wenv: dict[str, str]
) -> tuple[dict[str, object], str]:
    t0, k0, r0 = time.time(), ticks(proc.pid), os.times()
    cmd, o = run_wrk(url, args.conns, args.duration, wenv)
    t1, k1, r1 = time.time(), ticks(proc.pid), os.times()
    el = t1 - t0
    wrk_s = (r1.children_user - r0.children_user) + (r1.children_system - r0.children_system)
    rec: dict[str, object] = {
        "conns": args.conns,
        "duration_s": args.duration,
        "server_cpu_pct": round((k1[0] - k0[0]) / HZ / el * 100, 1),
        "pg_cpu_pct": round((k1[1] - k0[1]) / HZ / el * 100, 1),
        "machine_cpu_pct": round((k1[2] - k0[2]) / HZ / el * 100, 1),
        "wrk_cpu_pct": round(wrk_s / el * 100, 1),
        "cmd": " ".join(cmd),
    }
    rec["other_cpu_pct"] = round(
        float(rec["machine_cpu_pct"])  # type: ignore[arg-type]
        - float(rec["server_cpu_pct"])  # type: ignore[arg-type]
        - float(rec["pg_cpu_pct"])  # type: ignore[arg-type]
        - float(rec["wrk_cpu_pct"]),  # type: ignore[arg-type]
        1,
    )
    rec.update(parse(o))
    if rec["rps"]:
        rec["app_cpu_ms_per_req"] = round(
            float(rec["server_cpu_pct"]) / 100 / float(rec["rps"]) * 1000,  # type: ignore[arg-type]
            3,
        )
    return rec, o


def one_server(
    mode: str, workers: int, rep: int, args: argparse.Namespace, ctx: dict[str, object]
) -> list[dict[str, object]]:
    """Start one app, check it, warm up + measure each endpoint once, stop it by PID."""
    out: Path = ctx["out"]  # type: ignore[assignment]
    ids: list[tuple[str, str]] = ctx["ids"]  # type: ignore[assignment]
    conninfo = str(ctx["conninfo"])
    app, port = APPS[mode]
    logf = out / f"{mode}-{workers}w-r{rep}.log"
    proc = start_server(app, port, workers, ctx["env"], logf, ids[0])  # type: ignore[arg-type]
    recs = []
    try:
        check(port, ids)
        for ep, (method, suffix) in ENDPOINTS.items():
            wenv = {"IDS_FILE": str(ctx["ids_file"]), "METHOD": method, "SUFFIX": suffix}
            url = f"http://127.0.0.1:{port}/"
            ev0 = count_events(conninfo)
            sent = 0
            for attempt in range(1, args.retries + 2):
                waited = wait_quiet(args.quiet_wait) if args.quiet_wait else 0.0
                if args.warmup:
                    _, o = run_wrk(url, args.conns, args.warmup, wenv)
                    sent += int(parse(o)["requests"])  # type: ignore[call-overload]
                    time.sleep(0.5)
                rec, o = measure(proc, url, args, wenv)
                rec = {"mode": mode, "workers": workers, "endpoint": ep, "rep": rep, **rec}
                rec["waited_quiet_s"] = round(waited, 1)
                rec["attempt"] = attempt
                sent += int(rec["requests"])  # type: ignore[call-overload]
                busy = float(rec["other_cpu_pct"]) > args.max_other  # type: ignore[arg-type]
                rec["rejected"] = busy and attempt <= args.retries
                name = f"{mode}-{workers}w-{method.lower()}-r{rep}-a{attempt}.txt"
                (out / "raw" / name).write_text(str(rec["cmd"]) + "\n" + o)
                if method == "POST" and not rec["rejected"]:
                    time.sleep(0.3)
                    rec["events_inserted"] = count_events(conninfo) - ev0
                    rec["touch_completed"] = sent  # wrk-completed incl. warm-up; <= inserted
                with (out / "results.jsonl").open("a") as f:
                    f.write(json.dumps(rec) + "\n")
                log(
                    f"{workers}w r{rep} {mode:5s} {ep:22s} quiet-wait={waited:.0f}s "
                    f"rps={rec['rps']} p50={rec['p50_ms']}ms "
                    f"p99={rec['p99_ms']}ms srv={rec['server_cpu_pct']}% pg={rec['pg_cpu_pct']}% "
                    f"wrk={rec['wrk_cpu_pct']}% other={rec['other_cpu_pct']}% "
                    f"non2xx={rec['non2xx']} {rec['socket_errors']}"
                    + (
                        f" events={rec['events_inserted']}/{sent}"
                        if "events_inserted" in rec
                        else ""
                    )
                    + (" REJECTED (machine busy), retrying" if rec["rejected"] else "")
                )
                time.sleep(0.5)
                if not rec["rejected"]:
                    recs.append(rec)
                    break
    finally:
        stop_server(proc)
    return recs


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--workers", default="1,2", help="uvicorn worker counts, e.g. 1 or 1,2")
    ap.add_argument("--modes", default="sync,async", help="which apps, e.g. async")
    ap.add_argument("--conns", type=int, default=32)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--out", default="/tmp/regie_db_mode")
    ap.add_argument(
        "--quiet-wait",
        type=float,
        default=5,
        help="before each measurement, wait up to this many s for machine CPU < 25 %% (0: off)",
    )
    ap.add_argument(
        "--max-other",
        type=float,
        default=1000,
        help="reject a measurement whose other-CPU %% exceeds this and retry (default: never);"
        " with --summarize: leave such measurements out",
    )
    ap.add_argument("--retries", type=int, default=0, help="retries per rejected measurement")
    ap.add_argument("--keep-schema", action="store_true", help="keep bench_db_mode at the end")
    ap.add_argument(
        "--summarize",
        nargs="+",
        metavar="JSONL",
        help="run nothing: print the table over these results.jsonl files (pooled)",
    )
    args = ap.parse_args()
    # SIGTERM (e.g. from `timeout`) -> SystemExit, so servers are stopped and the schema dropped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.summarize:
        got = [json.loads(ln) for f in args.summarize for ln in Path(f).read_text().splitlines()]
        got = [r for r in got if not r.get("rejected")]
        got = [r for r in got if float(r["other_cpu_pct"]) <= args.max_other]
        print(summarize(got, args, f"Pooled from: {', '.join(args.summarize)}."))
        return

    out = Path(args.out)
    (out / "raw").mkdir(parents=True, exist_ok=True)
    (out / "results.jsonl").write_text("")
    ids_file = out / "ids.txt"
    ensure_wrk()
    dsn = pick_dsn()
    conninfo = libpq(dsn)
    key = secrets.token_bytes(32)
    t_start = time.time()
    log(f"DSN {dsn}; setting up {N_ROWS} rows ...")
    setup_db(conninfo, key, ids_file)
    ctx: dict[str, object] = {
        "out": out,
        "ids_file": ids_file,
        "ids": [tuple(line.split()) for line in ids_file.read_text().splitlines()],
        "conninfo": conninfo,
        "env": {"BENCH_KEY_HEX": key.hex(), "REGIE_BENCH_DSN": dsn},
    }
    recs: list[dict[str, object]] = []
    try:
        # Interleaved: each repetition restarts both apps, and who goes first alternates, so
        # drift and other load on the shared machine hit both modes alike.
        n = 0
        for workers in (int(w) for w in args.workers.split(",")):
            for rep in range(1, args.reps + 1):
                modes = [m for m in ("sync", "async") if m in args.modes.split(",")]
                for mode in modes if n % 2 == 0 else modes[::-1]:
                    recs += one_server(mode, workers, rep, args, ctx)
                n += 1
    finally:
        if not args.keep_schema:
            drop_schema(conninfo)
    footer = f"{versions(dsn)}. Total run {time.time() - t_start:.0f} s."
    table = summarize(recs, args, footer)
    (out / "table.md").write_text(table)
    print(table)


def versions(dsn: str) -> str:
    import fastapi
    import sqlalchemy
    import uvicorn

    with psycopg.connect(libpq(dsn), connect_timeout=5) as c:
        row = c.execute("SHOW server_version").fetchone()
    wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False).stdout.split()
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((ln.split(":", 1)[1].strip() for ln in cpuinfo if ln.startswith("model name")), "?")
    return ", ".join(
        [
            f"Python {platform.python_version()}",
            f"FastAPI {fastapi.__version__}",
            f"uvicorn {uvicorn.__version__}",
            f"SQLAlchemy {sqlalchemy.__version__}",
            f"psycopg {psycopg.__version__} ({psycopg.pq.__impl__})",
            f"PostgreSQL {row[0] if row else '?'} (same host)",
            f"wrk {wrk[1] if len(wrk) > 1 else '?'}",
            f"{os.cpu_count()} CPUs ({cpu})",
        ]
    )


Rec = dict[str, object]


def med(rs: list[Rec], k: str) -> float:
    return st.median(float(x[k]) for x in rs if x.get(k) is not None)  # type: ignore[arg-type]


def summarize(recs: list[Rec], args: argparse.Namespace, footer: str) -> str:
    groups: dict[tuple[int, str, str], list[Rec]] = {}
    for r in recs:
        groups.setdefault((int(str(r["workers"])), str(r["endpoint"]), str(r["mode"])), []).append(
            r
        )
    cols = [
        "workers", "endpoint", "mode", "req/s (median)", "req/s min–max", "p50 ms", "p99 ms",
        "app CPU %", "app CPU ms/req", "PG CPU %", "wrk CPU %", "other CPU %", "errors", "n",
    ]  # fmt: skip
    lines = [
        f"wrk -t1 -c{args.conns} -d{args.duration}s --latency --timeout 5s, cycle.lua over "
        f"{N_IDS} ids; {args.warmup} s warm-up; median over n runs (apps restarted per "
        "repetition, order alternating). CPU % = utime+stime over the run, 100 % = one core; "
        "app CPU ms/req = app CPU time / requests; other = whole machine minus app, PostgreSQL "
        "and wrk (other sessions on the shared machine).",
        footer,
        "",
        "| " + " | ".join(cols) + " |",
        "|" + "---|" * len(cols),
    ]
    for (w, ep, mode), rs in sorted(
        groups.items(), key=lambda kv: (*kv[0][:2], kv[0][2] != "sync")
    ):
        rps = [float(str(x["rps"])) for x in rs if x["rps"] is not None]
        errs = sum(int(str(x["non2xx"])) for x in rs)
        sock = "; ".join(str(x["socket_errors"]) for x in rs if x["socket_errors"])
        cells = [
            str(w), f"`{ep}`", mode, f"{med(rs, 'rps'):.0f}", f"{min(rps):.0f}–{max(rps):.0f}",
            f"{med(rs, 'p50_ms'):.1f}", f"{med(rs, 'p99_ms'):.1f}",
            f"{med(rs, 'server_cpu_pct'):.0f}", f"{med(rs, 'app_cpu_ms_per_req'):.2f}",
            f"{med(rs, 'pg_cpu_pct'):.0f}",
            f"{med(rs, 'wrk_cpu_pct'):.0f}", f"{med(rs, 'other_cpu_pct'):.0f}",
            f"{errs} non-2xx" + (f"; {sock}" if sock else ""), str(len(rs)),
        ]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    for (w, ep, mode), rs in sorted(groups.items()):
        if mode == "async" and (w, ep, "sync") in groups:
            ratio = med(rs, "rps") / med(groups[(w, ep, "sync")], "rps")
            lines.append(f"- {w} worker(s), `{ep}`: async/sync req/s (medians) = {ratio:.2f}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
