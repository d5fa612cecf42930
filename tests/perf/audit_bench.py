#!/usr/bin/env python3
"""The verifiable log at scale: integration rate, proof latency, export and offline verify.

Bars (issue "Verifiable access log"): integrate >= 10,000 appends/s; an inclusion proof at
1M entries in < 5 ms; verifying an export of 1M entries in < 30 s.

    .venv/bin/python tests/perf/audit_bench.py --events 1000000            # PostgreSQL, ~4 min
    .venv/bin/python tests/perf/audit_bench.py --events 100000 --db sqlite
    .venv/bin/python tests/perf/audit_bench.py --events 200000 --profile integrate

Steps, each timed on its own (wall clock; the CPU of this process and, on PostgreSQL, of the
server's backends is what is measured, so run it on a quiet machine):
1. a fresh schema `regie_bench_audit_<hex>` in database `test` (postgres@127.0.0.1, trust auth;
   $REGIE_BENCH_POSTGRES_URL overrides) or a temporary SQLite file, migrated with Alembic;
2. N access events inserted in batches of 10,000 with the hot path's INSERT (not a bar: in
   production they arrive with the requests they record), then ANALYZE (PostgreSQL);
3. the production `Integrator` (vault/audit/log.py) with batch --batch, until nothing waits:
   sequencing, leaf hashing, tiles, one signed checkpoint per round -> appends/s;
4. --proofs inclusion proofs at random indices and consistency proofs from random older
   sizes, through `LogReader` (an inclusion proof: one statement for its checkpoint and
   tiles + hashing), each verified; the inclusion figures also split by whether the entry's
   level-0 tile was cached ("cold": read and hashed once), and a second pass over the same
   indices ("warm pass"); the bar's figure is the first pass, all indices;
5. `LogReader.export()` to a file, then `vault.audit.verify.verify_export` on it (what
   `regie audit verify` runs), timed separately; then `regie audit verify` itself on it, as
   a process of this checkout (interpreter start and its progress bar included).
The schema is dropped at the end (also on error). Prints one JSON object with the figures
(for integration and verify also this process's CPU seconds, `*_cpu_s`: on a shared machine
they move less than the wall clock) and the load average (/proc/loadavg) at the start and the
end.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import hmac
import io
import json
import os
import pstats
import random
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.orm import sessionmaker

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from keys import note
from vault.audit import merkle
from vault.audit.events import AccessEvent, event_row
from vault.audit.log import Integrator, LogReader
from vault.audit.verify import verify_export
from vault.storage import queries
from vault.storage.engine import build_engine
from vault.storage.migrate import upgrade
from vault.storage.unit_of_work import SqlUnitOfWork

ROOT = Path(__file__).resolve().parents[2]
PG_URL = os.environ.get(
    "REGIE_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
ORIGIN = "bench.example/audit"


class Clock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class BenchSigner:
    """The log key's shape (keys/logkey.py) over a throw-away Ed25519 key."""

    def __init__(self) -> None:
        self._signer = note.Signer.generate(ORIGIN)
        self.name = ORIGIN
        self.verifier_key = self._signer.verifier.verifier_key

    def sign(self, body: str) -> bytes:
        return note.sign(body, [self._signer])


def subject_hasher() -> object:
    key = secrets.token_bytes(32)
    return lambda value: hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def insert_events(uow_factory: object, n: int, dialect: str) -> float:
    start = time.perf_counter()
    t0 = datetime(2026, 12, 2, tzinfo=UTC)
    residents = [uuid.uuid4() for _ in range(1000)]
    services = [uuid.uuid4() for _ in range(20)]
    done = 0
    while done < n:
        rows = []
        for i in range(done, min(n, done + 10_000)):
            event = AccessEvent(
                resident_id=residents[i % len(residents)],
                name="record.read",
                outcome="permit" if i % 10 else "deny",
                reason=None if i % 10 else "grant-revoked",
                actor="service",
                actor_id=str(services[i % len(services)]),
                service_id=services[i % len(services)],
                grant_id=uuid.uuid4(),
                procedure_id=uuid.uuid4(),
                record_id=uuid.uuid4(),
                datatype="health.medication",
                action="read",
            )
            rows.append(event_row(event, t0 + timedelta(microseconds=i)))
        with uow_factory() as uow:  # type: ignore[operator]
            uow.session.execute(*queries.insert_access_events(dialect, rows))
            uow.commit()
        done += len(rows)
    return time.perf_counter() - start


def p99(figures: list[float]) -> float:
    ordered = sorted(figures)
    return ordered[max(0, int(len(ordered) * 0.99) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--db", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--proofs", type=int, default=1000)
    parser.add_argument(
        "--keep-export",
        type=Path,
        metavar="DIR",
        help="leave the export, its checkpoint and the verifier key in DIR (export.jsonl, "
        "checkpoint.note, verifier.key)",
    )
    parser.add_argument(
        "--profile",
        choices=["integrate", "proofs"],
        help="cProfile one step, print the top 25 (cumulative, then own time)",
    )
    args = parser.parse_args()
    load_start = Path("/proc/loadavg").read_text().split()[:3]

    tmp = Path(tempfile.mkdtemp(prefix="regie_audit_bench_"))
    schema = None
    if args.db == "postgresql":
        schema = f"regie_bench_audit_{uuid.uuid4().hex[:8]}"
        admin = create_engine(PG_URL)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    else:
        url = f"sqlite:///{tmp / 'bench.db'}"
    engine = build_engine(url, pool_size=2)
    try:
        upgrade(engine)
        factory = sessionmaker(bind=engine, expire_on_commit=False)

        def uow() -> SqlUnitOfWork:
            return SqlUnitOfWork(factory)

        out: dict[str, object] = {"db": args.db, "events": args.events, "batch": args.batch}
        out["insert_s"] = round(insert_events(uow, args.events, args.db), 2)
        if args.db == "postgresql":
            # Statistics as autovacuum would have them for a table this size. Without, the
            # planner takes the fresh backlog for a few rows and, in the first rounds, sorts
            # every waiting event for each batch: the figure would depend on when autovacuum
            # happens to run (within its minute, or not at all in a short run).
            with engine.begin() as conn:
                conn.execute(text("ANALYZE access_events"))
        signer = BenchSigner()
        hasher = subject_hasher()
        integrator = Integrator(
            uow=uow, clock=Clock(), signer=signer, subject_hash=hasher, batch=args.batch
        )
        profiler = cProfile.Profile() if args.profile == "integrate" else None
        start, cpu = time.perf_counter(), time.process_time()
        if profiler:
            profiler.enable()
        rounds = 0
        while integrator.run_once():
            rounds += 1
        if profiler:
            profiler.disable()
        took = time.perf_counter() - start
        out["integrate_s"] = round(took, 2)
        # This process's CPU (all its threads), not the database's: what a loaded machine
        # changes least, so old and new code compare by it best.
        out["integrate_cpu_s"] = round(time.process_time() - cpu, 2)
        out["integrate_rounds"] = rounds
        out["appends_per_s"] = round(args.events / took)

        reader = LogReader(uow=uow, subject_hash=hasher)  # type: ignore[arg-type]
        latest = reader.checkpoint()
        assert latest.size == args.events
        history = [cp.size for cp in reader.checkpoints(limit=1000)]
        rng = random.Random(1)
        if args.profile == "proofs":
            profiler = cProfile.Profile()
            profiler.enable()
        inclusion_ms = []
        # The bar's figure: random indices, as they come. Split by whether the entry's
        # level-0 tile was in the reader's cache (cold: read and hashed once), and a second
        # pass over the same indices, all cached by then (warm).
        split: dict[bool, list[float]] = {True: [], False: []}
        indices = [rng.randrange(args.events) for _ in range(args.proofs)]
        for index in indices:
            cached = reader._tiles.get((0, index >> 8)) is not None
            t = time.perf_counter()
            proof = reader.inclusion(index)
            inclusion_ms.append((time.perf_counter() - t) * 1000)
            split[cached].append(inclusion_ms[-1])
            merkle.verify_inclusion(
                proof.leaf_hash, index, proof.size, proof.hashes, latest.root_hash
            )
        warm_ms = []
        for index in indices:
            t = time.perf_counter()
            reader.inclusion(index)
            warm_ms.append((time.perf_counter() - t) * 1000)
        consistency_ms = []
        for _ in range(min(args.proofs, 200)):
            old = rng.choice(history)
            t = time.perf_counter()
            c = reader.consistency(old)
            consistency_ms.append((time.perf_counter() - t) * 1000)
            merkle.verify_consistency(
                old, c.new_size, reader.checkpoint(old).root_hash, latest.root_hash, c.hashes
            )
        if args.profile == "proofs" and profiler:
            profiler.disable()
        inclusion_ms.sort()
        consistency_ms.sort()
        out["inclusion_ms_median"] = round(statistics.median(inclusion_ms), 3)
        out["inclusion_ms_p99"] = round(p99(inclusion_ms), 3)
        for name, figures in (("cold", split[False]), ("cached", split[True])):
            if figures:
                out[f"inclusion_{name}_n"] = len(figures)
                out[f"inclusion_{name}_ms_median"] = round(statistics.median(figures), 3)
                out[f"inclusion_{name}_ms_p99"] = round(p99(figures), 3)
        out["inclusion_warm_pass_ms_median"] = round(statistics.median(warm_ms), 3)
        out["inclusion_warm_pass_ms_p99"] = round(p99(warm_ms), 3)
        out["consistency_ms_median"] = round(statistics.median(consistency_ms), 3)

        export = tmp / "export.jsonl"
        t = time.perf_counter()
        with export.open("w", encoding="utf-8") as f:
            for line in reader.export():
                f.write(line + "\n")
        out["export_s"] = round(time.perf_counter() - t, 2)
        out["export_mb"] = round(export.stat().st_size / 1e6, 1)
        t, cpu = time.perf_counter(), time.process_time()
        with export.open(encoding="utf-8") as f:
            result = verify_export(
                f, checkpoint=latest.note.encode(), verifier_key=signer.verifier_key
            )
        out["verify_s"] = round(time.perf_counter() - t, 2)
        out["verify_cpu_s"] = round(time.process_time() - cpu, 2)
        assert result.entries == args.events
        (tmp / "checkpoint.note").write_text(latest.note, encoding="utf-8")
        (tmp / "verifier.key").write_text(signer.verifier_key, encoding="utf-8")
        t = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-c",
                "from clients.cli.entry import main; main()",
                "audit",
                "verify",
                str(export),
                "--checkpoint",
                str(tmp / "checkpoint.note"),
                "--key",
                f"@{tmp / 'verifier.key'}",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        out["cli_verify_s"] = round(time.perf_counter() - t, 2)
        if args.keep_export:
            args.keep_export.mkdir(parents=True, exist_ok=True)
            for name in ("export.jsonl", "checkpoint.note", "verifier.key"):
                shutil.move(tmp / name, args.keep_export / name)
        out["loadavg_start"] = " ".join(load_start)
        out["loadavg_end"] = " ".join(Path("/proc/loadavg").read_text().split()[:3])
        print(json.dumps(out))
        if profiler:
            buf = io.StringIO()
            stats = pstats.Stats(profiler, stream=buf)
            stats.sort_stats("cumulative").print_stats(25)
            stats.sort_stats("tottime").print_stats(25)
            print(buf.getvalue())
    finally:
        engine.dispose()
        if schema:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            admin.dispose()
        for p in tmp.iterdir():
            p.unlink()
        tmp.rmdir()


if __name__ == "__main__":
    main()
