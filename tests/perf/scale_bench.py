#!/usr/bin/env python3
"""Scale: does the grant check stay flat as the data grows, and how fast are expired grants swept?

    .venv/bin/python tests/perf/scale_bench.py flat                 # 1k -> 1M grants, ~25 min
    .venv/bin/python tests/perf/scale_bench.py flat --sizes 1000,10000 --events-per-grant 1
    .venv/bin/python tests/perf/scale_bench.py sweep --grants 20000 # expired grants swept
    .venv/bin/python tests/perf/scale_bench.py plot RESULTS.jsonl --out docs/scale.png

Everything runs against PostgreSQL (`REGIE_BENCH_POSTGRES_URL`, default the local server's
database `test`), in a fresh schema `regie_scale_<hex>` dropped at the end (`--keep` keeps it).

**The data generator** (`generate_until`) fills the real schema, through the real key
hierarchy, as a deployment would hold it: residents with their own data keys (wrapped by the
KEK of the keyring), records with sealed titles and contents (10 per resident: the issue's
100k residents and 1M records at 1M grants), services with pairwise connections, one
procedure per grant, grants in a realistic mix (40 % approved and running, 60 % ended, each
with its status history), and `--events-per-grant` access events each (10 gives the issue's
10M events at 1M grants), integrated into the verifiable log by the real integrator (the
Merkle tree and its signed checkpoints). Rows are written with PostgreSQL's COPY, in the
columns the ORM maps (vault/storage/orm.py); a rich progress bar per table.

**flat**: each size (grants: 1k, 10k, 100k, 1M by default) is generated in a schema of its
own and ANALYZEd; then in `--rounds` rounds, each size in turn, two things are timed one at a
time (latency, not throughput; interleaved, so a busy moment of the machine falls on every
size alike), on a fresh grant of a resident made through the API like any other:
  - the grant check: `vault.grants.stored.check` on the grant, its procedure and its service as
    stored (what every listing and write by a service runs), in a read-only unit of work;
  - an authorized read of a 1 KiB record: the ASGI app called in-process (no sockets) with a
    DPoP-bound access token and a fresh proof: token lookup, grant check, decrypt, the access
    event committed (group commit). The proofs are made before the timed loop.
The bar (issue "Production-ready"): the median at 1M grants at most 1.2x the median at 1k.

**sweep**: `--grants` approved grants whose `valid_until` has passed, for services with an
event endpoint, then the sweeper (`GrantService.sweep`, as the server's loop calls it) until
nothing is left: every grant ended, its history written, its tokens revoked, its access event
and its "grant ended" Security Event Token in the outbox (as claims: signed when delivered).
Rate, the rows checked, the time in the database driver per kind of statement, optionally a
cProfile summary (`--profile`), and the delivery-side signing of `--sign-sample` SETs.
The bar: 1M expired grants swept and notified in under 60 s.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import multiprocessing
import os
import pstats
import statistics
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))
sys.path.insert(0, str(HERE.parents[1] / "tests"))
warnings.filterwarnings("ignore", message=".*httpx.*")

from fastapi.testclient import TestClient  # noqa: E402
from perf.profile_read import by_library, call  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.progress import (  # noqa: E402
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from sqlalchemy import create_engine, select, text  # noqa: E402
from sqlalchemy import event as sa_event  # noqa: E402

from api.app import create_app  # noqa: E402
from api.bootstrap import build_container  # noqa: E402
from api.container import Container  # noqa: E402
from api.settings import Settings  # noqa: E402
from keys.service import Binding  # noqa: E402
from support.residents import sign_up  # noqa: E402
from support.service_client import BASE, ServiceAgent  # noqa: E402
from vault.events.outbox import sign_pending  # noqa: E402
from vault.grants import stored  # noqa: E402
from vault.grants.model import AccessRequestSpec  # noqa: E402
from vault.grants.service import SWEEP_BATCH  # noqa: E402
from vault.records.catalogue import TYPES  # noqa: E402
from vault.records.service import content_binding, title_binding  # noqa: E402
from vault.storage.engine import build_engine  # noqa: E402
from vault.storage.migrate import upgrade  # noqa: E402
from vault.storage.orm import OutboxRow  # noqa: E402

PG = os.environ.get("REGIE_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
console = Console(stderr=True)
RECORDS_PER_RESIDENT = 10
GRANTS_PER_RESIDENT = 10
SERVICES = 40
DATATYPES = sorted(t for t in TYPES if not t.endswith(".other"))
PURPOSE = "https://w3id.org/dpv#ServiceProvision"
GENERATED_TABLES = (
    "residents", "data_keys", "records", "record_versions", "services", "service_connections",
    "procedures", "grants", "grant_events", "access_events", "audit_tiles", "audit_checkpoints",
)  # fmt: skip
LEGAL_BASIS = "https://w3id.org/dpv#Consent"


def progress() -> Progress:
    return Progress(
        TextColumn("{task.description:<28}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    )


# -- the database ------------------------------------------------------------------------------


def new_schema() -> tuple[str, str]:
    schema = f"regie_scale_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    return f"{PG}?options=-csearch_path%3D{schema}", schema


def drop_schema(schema: str) -> None:
    admin = create_engine(PG)
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    admin.dispose()


def settings_for(url: str, data_dir: Path) -> Settings:
    return Settings(
        mode="development",
        data_dir=data_dir,
        database_url=url,
        public_url=BASE,
        events_push=False,
        sweep_interval_seconds=0,
        audit_integrate_interval_seconds=0,
        rate_limits=False,
        # The generator's COPY of a million rows is one statement: past the server's default.
        db_statement_timeout_seconds=3600,
    )


def copy_rows(
    c: Container, table: str, columns: Sequence[str], rows: Iterator[tuple[Any, ...]]
) -> None:
    """COPY `rows` into `table` on one connection of the container's engine, one transaction."""
    assert c.engine is not None
    raw = c.engine.raw_connection()
    try:
        pg = raw.driver_connection
        assert pg is not None
        with pg.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as cp:
            for row in rows:
                cp.write_row(row)
        raw.commit()
    finally:
        raw.close()


def count(c: Container, table: str) -> int:
    assert c.engine is not None
    with c.engine.connect() as conn:
        return int(conn.scalar(text(f"SELECT count(*) FROM {table}")) or 0)  # noqa: S608


# -- the data generator ---------------------------------------------------------------------


class Generator:
    """Grows the data of one schema; `generate_until(grants)` adds what is missing."""

    def __init__(self, c: Container, *, events_per_grant: int) -> None:
        self.c = c
        self.events_per_grant = events_per_grant
        self.now = datetime.now(UTC)
        self.services = self._services()
        self.residents = 0  # generated ones (the bench resident is not counted)
        self.grants = 0

    def _services(self) -> list[uuid.UUID]:
        jwks = ServiceAgent(None, "scale-key").jwks
        ids = []
        for i in range(SERVICES):
            info = self.c.services.add(
                operator="test-operator",
                name=f"Dienst {i}",
                organisation=f"kvk:{10000000 + i}",
                kind=("school", "municipality", "care-provider", "other")[i % 4],
                datatypes=DATATYPES,
                actions=["read", "write"],
                jwks=jwks,
                client_id=f"scale-service-{i}",
            )
            ids.append(info.service_id)
        return ids

    def generate_until(self, grants: int) -> None:
        new_grants = grants - self.grants
        if new_grants <= 0:
            return
        residents = -(-new_grants // GRANTS_PER_RESIDENT)
        first = self.residents
        ids = [uuid.uuid4() for _ in range(residents)]
        keys = {}
        with progress() as bar:
            task = bar.add_task("data keys", total=residents)
            key_rows = []
            for rid in ids:
                wrapped, key = self.c.keys.new_data_key(rid)
                keys[rid] = key
                key_rows.append(
                    (rid, wrapped.version, wrapped.kek_version, wrapped.wrapped, self.now)
                )
                bar.advance(task)
            copy_rows(
                self.c,
                "residents",
                ("resident_id", "status", "dek_version", "created_at"),
                ((rid, "active", 1, self.now) for rid in ids),
            )
            copy_rows(
                self.c,
                "data_keys",
                ("resident_id", "version", "kek_version", "wrapped", "created_at"),
                iter(key_rows),
            )
            self._records(bar, ids, keys)
            self._grants(bar, ids, keys, new_grants)
        self.residents = first + residents
        self.grants = grants
        self._events(new_grants * self.events_per_grant)
        self.analyze()

    def _records(self, bar: Progress, ids: list[uuid.UUID], keys: dict[uuid.UUID, Any]) -> None:
        task = bar.add_task("records (sealed)", total=len(ids) * RECORDS_PER_RESIDENT)
        records, versions = [], []
        content = json.dumps({"notitie": "x" * 200}).encode()
        for n, rid in enumerate(ids):
            key = keys[rid]
            for j in range(RECORDS_PER_RESIDENT):
                record_id = uuid.uuid4()
                datatype = DATATYPES[(n + j) % len(DATATYPES)]
                records.append(
                    (rid, record_id, datatype.split(".")[0], datatype, "json", 1, "resident",
                     self.now, self.now)
                )  # fmt: skip
                versions.append(
                    (rid, record_id, 1, 1, key.seal(b"Gegevens", title_binding(record_id, 1)),
                     key.seal(content, content_binding(record_id, 1)), "resident", self.now)
                )  # fmt: skip
            bar.advance(task, RECORDS_PER_RESIDENT)
        copy_rows(
            self.c,
            "records",
            ("resident_id", "record_id", "category", "type", "kind", "current_version",
             "written_by", "created_at", "updated_at"),
            iter(records),
        )  # fmt: skip
        copy_rows(
            self.c,
            "record_versions",
            ("resident_id", "record_id", "version", "dek_version", "title_ct", "content_ct",
             "written_by", "created_at"),
            iter(versions),
        )  # fmt: skip

    def _grants(
        self, bar: Progress, ids: list[uuid.UUID], keys: dict[uuid.UUID, Any], total: int
    ) -> None:
        task = bar.add_task("procedures, grants", total=total)
        connections, procedures, grants, history = set(), [], [], []
        made = 0
        for n, rid in enumerate(ids):
            key = keys[rid]
            for j in range(GRANTS_PER_RESIDENT):
                if made == total:
                    break
                made += 1
                service_id = self.services[(n + j) % SERVICES]
                connections.add((service_id, rid))
                procedure_id, grant_id = uuid.uuid4(), uuid.uuid4()
                running = (self.grants + made) % 5 < 2  # 40 % approved and running
                datatype = DATATYPES[(n + j) % len(DATATYPES)]
                procedures.append(
                    (rid, procedure_id, service_id, f"P-{grant_id.hex[:12]}",
                     "open" if running else "closed", None if running else "service",
                     self.now, None if running else self.now)
                )  # fmt: skip
                status = "approved" if running else "ended"
                purpose = key.seal(
                    b"Behandeling", Binding("grants", "purpose_text_ct", str(grant_id))
                )
                grants.append(
                    (rid, grant_id, service_id, procedure_id, os.urandom(32),
                     status, None if running else "procedure-closed",
                     json.dumps([datatype]), json.dumps(["read"]), self.now + timedelta(days=300),
                     json.dumps([datatype]), json.dumps(["read"]), self.now + timedelta(days=300),
                     PURPOSE, purpose,
                     LEGAL_BASIS, "self", rid, self.now + timedelta(days=14), 5,
                     self.now, self.now, None if running else self.now)
                )  # fmt: skip
                history.append((rid, grant_id, 1, self.now, "requested", "service", None))
                history.append((rid, grant_id, 2, self.now, "approved", "resident", None))
                if not running:
                    history.append(
                        (rid, grant_id, 3, self.now, "ended", "service", "procedure-closed")
                    )
            bar.advance(task, GRANTS_PER_RESIDENT)
        copy_rows(
            self.c,
            "service_connections",
            ("service_id", "subject", "resident_id", "created_at"),
            ((s, self.c.services.subject(s, r), r, self.now) for s, r in connections),
        )
        copy_rows(
            self.c,
            "procedures",
            ("resident_id", "procedure_id", "service_id", "ref", "status", "closed_by",
             "created_at", "closed_at"),
            iter(procedures),
        )  # fmt: skip
        copy_rows(
            self.c,
            "grants",
            ("resident_id", "grant_id", "service_id", "procedure_id", "auth_req_id_hash",
             "status", "end_reason", "requested_datatypes", "requested_actions",
             "requested_valid_until", "datatypes", "actions", "valid_until", "purpose_uri",
             "purpose_text_ct", "legal_basis", "granted_by", "decided_by", "request_expires_at",
             "poll_interval", "created_at", "decided_at", "ended_at"),
            iter(grants),
        )  # fmt: skip
        copy_rows(
            self.c,
            "grant_events",
            ("resident_id", "grant_id", "seq", "at", "status", "actor", "reason"),
            iter(history),
        )

    def _events(self, total: int) -> None:
        """`total` access events (reads by services, permitted), then integrated into the log
        by the real integrator, in its own batches."""
        if total <= 0:
            return
        assert self.c.engine is not None
        with self.c.engine.connect() as conn:
            sample = conn.execute(
                text(
                    "SELECT resident_id, grant_id, service_id, procedure_id FROM grants"
                    " ORDER BY random() LIMIT 10000"
                )
            ).all()
        chunk = 200_000
        with progress() as bar:
            task = bar.add_task("access events", total=total)
            done = 0
            while done < total:
                n = min(chunk, total - done)
                rows = (
                    (g.resident_id, uuid.uuid4(), self.now, "record.read", "permit", "service",
                     str(g.service_id), g.service_id, g.grant_id, g.procedure_id,
                     "health.medication", "read", PURPOSE, LEGAL_BASIS)
                    for i in range(n)
                    for g in (sample[(done + i) % len(sample)],)
                )  # fmt: skip
                copy_rows(
                    self.c,
                    "access_events",
                    ("resident_id", "event_id", "at", "name", "outcome", "actor", "actor_id",
                     "service_id", "grant_id", "procedure_id", "datatype", "action", "purpose",
                     "legal_basis"),
                    rows,
                )  # fmt: skip
                done += n
                bar.advance(task, n)
            task = bar.add_task("integrated into the log", total=total)
            while True:
                appended = self.c.integrator.run_once()
                bar.advance(task, appended)
                if appended < self.c.integrator.batch:
                    break

    def analyze(self) -> None:
        assert self.c.engine is not None
        with self.c.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            # The tables of this schema only (a bare ANALYZE would take every schema of `test`).
            conn.execute(text(f"ANALYZE {', '.join(GENERATED_TABLES)}"))


# -- measuring --------------------------------------------------------------------------------


class Bench:
    """A resident made through the API with a 1 KiB record, and a care provider that reads it
    under a grant of its own: the grant measured at every size."""

    def __init__(self, settings: Settings, setup: Container) -> None:
        self.settings = settings
        self.setup = setup
        with TestClient(create_app(settings, container=setup), base_url=BASE) as client:
            self.clinic = ServiceAgent(client, "scale-clinic")
            setup.services.add(
                operator="test-operator",
                name="Huisartsenpraktijk De Linde",
                organisation="ura:12345678",
                kind="care-provider",
                datatypes=["health.medication"],
                actions=["read"],
                jwks=self.clinic.jwks,
                client_id=self.clinic.client_id,
            )
            anna = sign_up(client)
            self.record_id = client.post(
                "/v1/me/records",
                headers=anna.headers,
                json={"category": "health", "type": "health.medication", "title": "Medicatie",
                      "content": {"x": "a" * 1000}},
            ).json()["id"]  # fmt: skip
            self.subject = self.clinic.connect(
                client.post("/v1/me/connection-codes", headers=anna.headers).json()["code"]
            )
            self.resident_id = setup.identity.authenticate(anna.token).resident_id
        self.service = setup.services.by_client_id(self.clinic.client_id)

    def fresh_grant(self, n: int) -> tuple[uuid.UUID, str]:
        """A new approved grant for the bench service and its access token (5 minutes)."""
        spec = AccessRequestSpec(
            datatypes=frozenset({"health.medication"}),
            actions=frozenset({"read"}),
            purpose_uri=PURPOSE,
            purpose_text="Controle",
            legal_basis=LEGAL_BASIS,
            procedure_ref=f"BENCH-{n}",
            procedure_description=None,
            procedure_planned_end=None,
            valid_until=None,
            binding_message=None,
        )
        accepted = self.setup.grants.request(self.service, self.subject, spec)
        (pending,) = self.setup.grants.pending(self.resident_id)
        self.setup.grants.approve(self.resident_id, pending.grant_id)
        with TestClient(create_app(self.settings, container=self.setup), base_url=BASE) as client:
            self.clinic.http = client
            token = self.clinic.poll(accepted.auth_req_id).json()["access_token"]
        return pending.grant_id, token

    def samples(self, n_checks: int, n_reads: int, n: int) -> tuple[list[float], list[float]]:
        """Latencies (ms) of `n_checks` grant checks and `n_reads` authorized reads, one at a
        time, on a fresh grant (the `n`th); the first tenth of each is warm-up, left out."""
        grant_id, token = self.fresh_grant(n)
        c = self.setup
        # The grant check, as listings and writes by services run it.
        times = []
        for _ in range(n_checks):
            t0 = time.perf_counter()
            with c.uow() as uow:
                decision = stored.check(
                    uow,
                    uow.grants.get(self.resident_id, grant_id),
                    service_id=self.service.service_id,
                    resident_id=self.resident_id,
                    datatype="health.medication",
                    action="read",
                    now=c.clock.now(),
                )
            times.append(time.perf_counter() - t0)
        assert type(decision).__name__ == "Permit", decision
        check_ms = [1000 * t for t in times[n_checks // 10 :]]  # the first tenth warms up

        # Authorized reads through the whole app, in-process, one at a time.
        fresh = build_container(self.settings)  # its async engine lives on this loop
        app = create_app(self.settings, container=fresh)
        path = f"/v1/service/records/{self.record_id}"
        proofs = [self.clinic.proof("GET", path, token=token) for _ in range(n_reads)]

        async def reads() -> list[float]:
            out = []
            for proof in proofs:
                headers = [(b"authorization", f"DPoP {token}".encode()), (b"dpop", proof.encode())]
                t0 = time.perf_counter()
                status = await call(app, "GET", path, headers)
                out.append(time.perf_counter() - t0)
                assert status == 200, status
            for engine in fresh.async_engines:
                await engine.dispose()
            return out

        read_ms = [1000 * t for t in asyncio.run(reads())[n_reads // 10 :]]
        if fresh.engine is not None:
            fresh.engine.dispose()
        return check_ms, read_ms


class Deployment:
    """One schema of one size: its container, generator and bench resident."""

    def __init__(self, size: int, events_per_grant: int) -> None:
        self.size = size
        self.url, self.schema = new_schema()
        upgrade(build_engine(self.url))
        self.settings = settings_for(self.url, Path(tempfile.mkdtemp()) / "var")
        self.c = build_container(self.settings)
        self.bench = Bench(self.settings, self.c)
        self.gen = Generator(self.c, events_per_grant=events_per_grant)
        self.checks: list[float] = []
        self.reads: list[float] = []
        self.generated_s = 0.0

    def facts(self) -> dict[str, Any]:
        return {
            "grants": count(self.c, "grants"),
            "residents": count(self.c, "residents"),
            "records": count(self.c, "records"),
            "access_events": count(self.c, "access_events"),
        }


def flat(args: argparse.Namespace) -> None:
    """Every size in a schema of its own, generated first; then `--rounds` rounds that measure
    each size in turn, so that a busy moment of the machine falls on all sizes alike."""
    sizes = [int(s) for s in args.sizes.split(",")]
    out = Path(args.out)
    deployments: list[Deployment] = []
    try:
        for size in sizes:
            console.print(f"[bold]generating {size:,} grants[/bold]")
            d = Deployment(size, args.events_per_grant)
            deployments.append(d)
            t0 = time.perf_counter()
            d.gen.generate_until(size)
            d.generated_s = time.perf_counter() - t0
        for r in range(args.rounds):
            for d in deployments:
                checks, reads = d.bench.samples(args.checks, args.reads, r)
                d.checks += checks
                d.reads += reads
            console.print(f"round {r + 1}/{args.rounds} done")
        for d in deployments:
            result = {
                "size": d.size,
                "generated_s": round(d.generated_s, 1),
                **d.facts(),
                "rounds": args.rounds,
                "check_n": len(d.checks),
                "read_n": len(d.reads),
                "check_p50_ms": statistics.median(d.checks),
                "check_p99_ms": statistics.quantiles(d.checks, n=100)[98],
                "read_p50_ms": statistics.median(d.reads),
                "read_p99_ms": statistics.quantiles(d.reads, n=100)[98],
            }
            console.print(
                f"{result['grants']:>9,} grants {result['records']:>9,} records"
                f" {result['access_events']:>10,} events: check p50 {result['check_p50_ms']:.3f}"
                f" ms p99 {result['check_p99_ms']:.3f} | read p50 {result['read_p50_ms']:.3f} ms"
                f" p99 {result['read_p99_ms']:.3f} (generated in {d.generated_s:.0f} s)"
            )
            with out.open("a") as f:
                f.write(json.dumps(result) + "\n")
        report(out)
    finally:
        if not args.keep:
            for d in deployments:
                drop_schema(d.schema)


def report(path: Path) -> None:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    first, last = rows[0], rows[-1]
    for what in ("check", "read"):
        ratio = last[f"{what}_p50_ms"] / first[f"{what}_p50_ms"]
        verdict = "met" if ratio <= 1.2 else "MISSED"
        print(
            f"{what}: p50 {first[f'{what}_p50_ms']:.3f} ms at {first['grants']:,} grants,"
            f" {last[f'{what}_p50_ms']:.3f} ms at {last['grants']:,}: {ratio:.2f}x"
            f" (bar 1.2x: {verdict})"
        )


def plot(args: argparse.Namespace) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [
        json.loads(line) for line in Path(args.results).read_text().splitlines() if line.strip()
    ]
    grants = [r["grants"] for r in rows]
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
    for key, label in (
        ("read_p50_ms", "authorized read, p50"),
        ("read_p99_ms", "authorized read, p99"),
        ("check_p50_ms", "grant check, p50"),
        ("check_p99_ms", "grant check, p99"),
    ):
        ax.plot(grants, [r[key] for r in rows], marker="o", label=label)
    ax.set_xscale("log")
    ax.set_xlabel("grants in the database (residents = grants / 10, records = grants)")
    ax.set_ylabel("latency (ms), one request at a time")
    ax.set_ylim(bottom=0)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    ax.set_title("Regie on PostgreSQL: latency against data size")
    fig.tight_layout()
    fig.savefig(args.out)
    print(f"wrote {args.out}")


# -- the sweeper ------------------------------------------------------------------------------


def sweep(args: argparse.Namespace) -> None:
    if args.schema:  # a copy of a prepared database (see --prepare): sweep only
        schema = args.schema
        url = f"{PG}?options=-csearch_path%3D{schema}"
        upgrade(build_engine(url))  # migrations newer than the prepared copy, if any
        c = build_container(settings_for(url, sweep_data_dir(schema)))
    else:
        url, schema = new_schema()
        upgrade(build_engine(url))
        c = build_container(settings_for(url, sweep_data_dir(schema)))
        prepare_sweep(c, args.grants, vacuum=not args.no_vacuum)
        if args.prepare:
            print(f"prepared {args.grants:,} expired grants in schema {schema}")
            return
    try:
        measure_sweep(c, url, schema, args)
    finally:
        if not args.keep:
            drop_schema(schema)


def sweep_data_dir(schema: str) -> Path:
    """The keyring of a sweep's schema, kept beside it (a prepared copy needs the same keys)."""
    return Path(tempfile.gettempdir()) / f"{schema}-var"


def prepare_sweep(c: Container, grants: int, *, vacuum: bool) -> None:
    """`grants` approved grants past their `valid_until`, for services with an event endpoint."""
    gen = Generator(c, events_per_grant=0)
    with c.uow() as uow:  # every service gets an event endpoint: each end is notified
        uow.session.execute(
            text("UPDATE services SET event_endpoint = 'https://receiver.invalid/events'")
        )
        uow.commit()
    gen.generate_until(grants)
    assert c.engine is not None
    with c.engine.begin() as conn:  # every grant approved and past its valid_until
        conn.execute(
            text(
                "UPDATE grants SET status = 'approved', end_reason = NULL, ended_at = NULL,"
                " valid_until = now() - interval '1 minute'"
            )
        )
        conn.execute(
            text("UPDATE procedures SET status = 'open', closed_by = NULL, closed_at = NULL")
        )
    if vacuum:
        # The UPDATE above left a dead version of every grant, which a deployment's
        # autovacuum would have cleared long before: without this the sweep's scans wade
        # through them. The sweep itself then runs with no vacuum (autovacuum is off here).
        with c.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f"VACUUM ANALYZE {', '.join(GENERATED_TABLES)}"))
    else:
        gen.analyze()


def measure_sweep(c: Container, url: str, schema: str, args: argparse.Namespace) -> None:
    assert c.engine is not None
    with c.engine.connect() as conn:
        grants = int(conn.scalar(text("SELECT count(*) FROM grants WHERE status = 'approved'")))
    console.print(f"load average before: {Path('/proc/loadavg').read_text().strip()}")
    prof = cProfile.Profile() if args.profile else None
    swept = 0
    if args.sweepers > 1:
        took, swept, reports, python_cpu, server_cpu = parallel_sweep(
            c, url, schema, args.batch, args.sweepers
        )
    else:
        sql = StatementTimes(c.engine)
        server_before = server_cpu_times(c.engine)
        cpu0 = time.process_time()
        t0 = time.perf_counter()
        with progress() as bar:
            task = bar.add_task("expired grants swept", total=grants)
            if prof:
                prof.enable()
            while True:
                counts = c.grants.sweep(batch=args.batch)
                swept += counts["expired"]
                bar.advance(task, counts["expired"])
                if counts["expired"] == 0:
                    break
            if prof:
                prof.disable()
        took = time.perf_counter() - t0
        python_cpu = time.process_time() - cpu0
        server_cpu = server_cpu_spent(server_before, server_cpu_times(c.engine))
        sql.stop()
        reports = [sql.report(took)]
    console.print(f"load average after: {Path('/proc/loadavg').read_text().strip()}")
    outbox = count(c, "event_outbox")
    with c.engine.connect() as conn:
        checks = conn.execute(
            text(
                "SELECT (SELECT count(*) FROM grants WHERE status = 'ended'"
                "        AND end_reason = 'expired'),"
                " (SELECT count(*) FROM grant_events WHERE status = 'ended'"
                "        AND reason = 'expired'),"
                " (SELECT count(DISTINCT (resident_id, grant_id)) FROM grant_events"
                "        WHERE status = 'ended' AND reason = 'expired'),"
                " (SELECT count(*) FROM access_events WHERE name = 'grant.ended'),"
                " (SELECT count(DISTINCT grant_id) FROM access_events WHERE name = 'grant.ended'),"
                " (SELECT count(*) FROM event_outbox WHERE set_claims IS NOT NULL),"
                " (SELECT count(DISTINCT set_claims::json -> 'events'"
                "        -> 'https://regie.example/events/grant-ended' ->> 'grant_id')"
                "        FROM event_outbox WHERE set_claims IS NOT NULL)"
            )
        ).one()
    rate = swept / took
    print(
        f"swept {swept:,} expired grants in {took:.1f} s ({rate:,.0f}/s; batch {args.batch},"
        f" {args.sweepers} sweeper(s)); {outbox:,} SETs in the outbox;"
        f" 1M would take {1_000_000 / rate:.0f} s (bar 60 s)"
    )
    print(
        f"rows: {checks[0]:,} grants ended (expired), {checks[1]:,} history steps 'ended'"
        " (expired)"
        f" ({checks[2]:,} grants), {checks[3]:,} access events grant.ended ({checks[4]:,}"
        f" grants), {checks[5]:,} outbox rows with claims ({checks[6]:,} grants)"
    )
    print(
        f"CPU: the sweeper process(es) {python_cpu:.1f} s ({python_cpu / swept * 1e6:.0f} us a"
        f" grant), their PostgreSQL backends {server_cpu:.1f} s ({server_cpu / swept * 1e6:.0f} us"
        f" a grant); wall {took:.1f} s on {os.cpu_count()} cores (PostgreSQL's WAL writer,"
        " checkpointer and background writer not counted)"
    )
    for report in reports:
        print(report)
    # The signing moved to delivery: what it costs there (per SET, on one core).
    sample = min(args.sign_sample, outbox)
    if sample:
        with c.uow() as uow:  # rolled back: only the signing is timed
            rows = uow.session.scalars(
                select(OutboxRow).where(OutboxRow.set_jwt.is_(None)).limit(sample)
            ).all()
            t1 = time.perf_counter()
            for row in rows:
                sign_pending(c.signing, row)
            spent = time.perf_counter() - t1
        print(
            f"delivery-side signing (sign_pending, ES256): {len(rows):,} SETs in {spent:.2f} s,"
            f" {spent / max(len(rows), 1) * 1000:.3f} ms each"
        )
    if prof:
        print(by_library(pstats.Stats(prof), swept).replace("request", "grant"))
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(30)
        print(buf.getvalue()[:6000])
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(25)
        print(buf.getvalue()[:6000])


def server_cpu_times(engine: Any) -> dict[int, float]:
    """CPU seconds (user + system) used so far by each PostgreSQL backend serving a client of
    this database (a copy only this bench uses), from /proc (the server runs on this host)."""
    with engine.connect() as conn:
        pids = conn.scalars(
            text(
                "SELECT pid FROM pg_stat_activity"
                " WHERE datname = current_database() AND backend_type = 'client backend'"
            )
        ).all()
    tick = os.sysconf("SC_CLK_TCK")
    times = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        times[pid] = (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return times


def server_cpu_spent(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


def parallel_sweep(
    c: Container, url: str, schema: str, batch: int, n: int
) -> tuple[float, int, list[str], float, float]:
    """`n` sweepers, each a process of its own with its own container (as `n` servers run
    theirs), sweeping until nothing is due; (wall time, grants swept, their statement reports,
    their CPU, their backends' CPU). The clock starts when all of them are ready; their
    backends are measured before they disconnect."""
    ctx = multiprocessing.get_context("spawn")
    ready, finished = ctx.Barrier(n + 1), ctx.Barrier(n + 1)
    results: Any = ctx.Queue()
    procs = [
        ctx.Process(target=_sweeper_process, args=(url, schema, batch, ready, finished, results))
        for _ in range(n)
    ]
    for proc in procs:
        proc.start()
    ready.wait(300)
    server_before = server_cpu_times(c.engine)
    t0 = time.perf_counter()
    done = [results.get(timeout=7200) for _ in procs]
    took = time.perf_counter() - t0
    server_cpu = server_cpu_spent(server_before, server_cpu_times(c.engine))
    finished.wait(60)
    for proc in procs:
        proc.join(60)
    return (
        took,
        sum(d[0] for d in done),
        [d[1] for d in done],
        sum(d[2] for d in done),
        server_cpu,
    )


def _sweeper_process(
    url: str, schema: str, batch: int, ready: Any, finished: Any, results: Any
) -> None:
    c = build_container(settings_for(url, sweep_data_dir(schema)))
    assert c.engine is not None
    with c.uow() as uow:  # connected before the clock starts, as a running server is
        uow.session.execute(text("SELECT 1"))
    sql = StatementTimes(c.engine)
    ready.wait(300)
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    swept = 0
    while (n := c.grants.sweep(batch=batch)["expired"]) > 0:
        swept += n
    took = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    sql.stop()
    report = f"sweeper pid {os.getpid()}: {swept:,} grants in {took:.1f} s\n" + sql.report(took)
    results.put((swept, report, cpu))
    finished.wait(120)


class StatementTimes:
    """Wall time spent in the database driver per kind of statement (its first words), from
    SQLAlchemy's cursor events: where a sweep's time goes besides Python."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.times: dict[str, list[float]] = {}
        sa_event.listen(engine, "before_cursor_execute", self._before)
        sa_event.listen(engine, "after_cursor_execute", self._after)
        # COPY runs on the driver, past SQLAlchemy's events: timed where the modules call it.
        self._patched: list[tuple[Any, Any]] = []
        for module in ("vault.audit.events", "vault.events.outbox"):
            mod = sys.modules.get(module)
            real = getattr(mod, "copy_rows", None)
            if mod is not None and real is not None:
                self._patched.append((mod, real))
                mod.copy_rows = self._timed_copy(real)  # type: ignore[attr-defined]

    def _timed_copy(self, real: Any) -> Any:
        def copy_rows(session: Any, table: str, *args: Any) -> None:
            t0 = time.perf_counter()
            try:
                real(session, table, *args)
            finally:
                entry = self.times.setdefault(f"COPY {table}", [0.0, 0])
                entry[0] += time.perf_counter() - t0
                entry[1] += 1

        return copy_rows

    def _before(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        conn.info["bench_t0"] = time.perf_counter()

    def _after(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        spent = time.perf_counter() - conn.info.pop("bench_t0", time.perf_counter())
        words = statement.split()
        key = " ".join(words[:3] if words and words[0] in ("INSERT", "UPDATE") else words[:1])
        entry = self.times.setdefault(key, [0.0, 0])
        entry[0] += spent
        entry[1] += 1

    def stop(self) -> None:
        sa_event.remove(self.engine, "before_cursor_execute", self._before)
        sa_event.remove(self.engine, "after_cursor_execute", self._after)
        for mod, real in self._patched:
            mod.copy_rows = real

    def report(self, total: float) -> str:
        lines = ["time in the database driver, by statement (the rest is Python):"]
        in_db = 0.0
        for key, (spent, n) in sorted(self.times.items(), key=lambda kv: -kv[1][0]):
            in_db += spent
            lines.append(f"  {key:<40} {int(n):>6} x  {spent:8.2f} s  {spent / total:6.1%}")
        lines.append(f"  {'all statements':<40} {'':>8}  {in_db:8.2f} s  {in_db / total:6.1%}")
        return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = ap.add_subparsers(dest="command", required=True)
    f = sub.add_parser("flat", help="latency of the check and a read from 1k to 1M grants")
    f.add_argument("--sizes", default="1000,10000,100000,1000000")
    f.add_argument("--events-per-grant", type=int, default=10)
    f.add_argument("--rounds", type=int, default=5)
    f.add_argument("--checks", type=int, default=400, help="per size and round")
    f.add_argument("--reads", type=int, default=200, help="per size and round")
    f.add_argument("--out", default=f"/tmp/regie_scale_{int(time.time())}.jsonl")
    f.add_argument("--keep", action="store_true", help="keep the schema")
    s = sub.add_parser("sweep", help="expired grants swept and notified")
    s.add_argument("--grants", type=int, default=1_000_000)
    s.add_argument("--batch", type=int, default=SWEEP_BATCH, help="default: the server loop's")
    s.add_argument("--profile", action="store_true")
    s.add_argument("--sign-sample", type=int, default=20000, help="SETs signed after the sweep")
    s.add_argument("--keep", action="store_true")
    s.add_argument("--sweepers", type=int, default=1, help="sweeper processes at once")
    s.add_argument(
        "--prepare", action="store_true", help="generate the grants, keep the schema, stop"
    )
    s.add_argument("--schema", help="sweep this prepared schema (a copy: it is dropped after)")
    s.add_argument(
        "--no-vacuum", action="store_true", help="leave the setup's dead rows (before 2026-12-04)"
    )
    p = sub.add_parser("plot", help="a PNG of latency against data size")
    p.add_argument("results")
    p.add_argument("--out", default="docs/scale.png")
    r = sub.add_parser("report", help="the bars, from a results file")
    r.add_argument("results")
    args = ap.parse_args()
    if args.command == "flat":
        flat(args)
    elif args.command == "sweep":
        sweep(args)
    elif args.command == "plot":
        plot(args)
    else:
        report(Path(args.results))


if __name__ == "__main__":
    main()
