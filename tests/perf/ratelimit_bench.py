#!/usr/bin/env python3
"""What one rate-limit check costs (api/ratelimit.py on vault/storage/rate_buckets.py): the
upsert on the async writer pool of a server process, on a fresh schema of PostgreSQL's
`test` database (or $REGIE_BENCH_POSTGRES_URL), against the reference store in memory
(tests/support/buckets.py, what a per-process store costs). The token endpoint makes two
checks (the client address, then the service): see `grant_bench.py sql-count`.

    PYTHONPATH=.:tests .venv/bin/python tests/perf/ratelimit_bench.py [--checks 3000]

Sequential checks (latency, one connection busy) and 32 at a time (throughput of one
process's pool of 10), on one hot bucket and on distinct buckets. A shared machine makes
the figures noisy: the load average is printed with them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.orm import sessionmaker

from api.ratelimit import BucketStore, Limiter, Rule
from support.buckets import START, MemoryBuckets
from support.clock import FakeClock
from vault.storage.async_uow import async_uow_factory
from vault.storage.engine import build_async_engines, build_engine
from vault.storage.migrate import upgrade
from vault.storage.rate_buckets import SqlRateBuckets
from vault.storage.unit_of_work import SqlUnitOfWork

LOADAVG = Path("/proc/loadavg")
RULE = Rule("bench", per_minute=1_000_000, burst=1_000_000, paths=("/x",))


async def measure(store: BucketStore, checks: int, at_once: int, hot: bool) -> tuple[float, float]:
    """Microseconds per check: wall clock, and this process's CPU (PostgreSQL's not counted)."""
    limiter = Limiter([RULE], store=store, clock=FakeClock(START))
    keys = ["hot"] * checks if hot else [f"k{i}" for i in range(checks)]
    started, cpu = time.perf_counter(), time.process_time()
    for i in range(0, checks, at_once):
        await asyncio.gather(*(limiter.hit(RULE, k) for k in keys[i : i + at_once]))
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    return wall / checks * 1e6, cpu / checks * 1e6


async def select_one(factory: object, checks: int) -> float:
    """Microseconds per `SELECT 1` on the same pool in autocommit: one round trip, the floor."""
    started = time.perf_counter()
    for _ in range(checks):
        async with factory(autocommit=True) as uow:  # type: ignore[operator]
            await uow.execute(text("SELECT 1"))
    return (time.perf_counter() - started) / checks * 1e6


async def main(url: str, checks: int) -> None:
    writer, reader = build_async_engines(url, pool_size=10)
    sync = build_engine(url)
    store = SqlRateBuckets(
        async_uow=async_uow_factory(writer, reader),
        uow=lambda: SqlUnitOfWork(sessionmaker(bind=sync)),
        name=lambda b: uuid.uuid5(uuid.NAMESPACE_URL, b).bytes * 2,
    )
    try:
        await measure(store, 200, 1, True)  # warm the pool and the statement cache
        floor = await select_one(async_uow_factory(writer, reader), checks)
        print(f"  sequential SELECT 1 on the same pool: {floor:7.0f} us (a round trip)")
        for at_once in (1, 32):
            for hot in (True, False):
                memory, _ = await measure(MemoryBuckets(), checks, at_once, hot)
                sql, cpu = await measure(store, checks, at_once, hot)
                print(
                    f"{'sequential' if at_once == 1 else f'{at_once} at a time':>12}"
                    f" {'one bucket' if hot else 'new buckets':>11}:"
                    f" table {sql:6.0f} us/check ({cpu:4.0f} us CPU here),"
                    f" memory {memory:5.1f} us/check"
                )
    finally:
        await writer.dispose()
        if reader is not None:
            await reader.dispose()
        sync.dispose()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--checks", type=int, default=3000)
    ap.add_argument("--logged", action="store_true", help="the table WAL-logged, to compare")
    args = ap.parse_args()
    admin_url = os.environ.get(
        "REGIE_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    schema = f"regie_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        url = f"{admin_url}?options=-csearch_path%3D{schema}"
        engine = build_engine(url)
        upgrade(engine)
        if args.logged:
            with engine.begin() as conn:
                conn.execute(text("ALTER TABLE rate_limit_buckets SET LOGGED"))
        engine.dispose()
        print(f"load average before: {LOADAVG.read_text().split()[:3]}")
        asyncio.run(main(url, args.checks))
        print(f"load average after: {LOADAVG.read_text().split()[:3]}")
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
