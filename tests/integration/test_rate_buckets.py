"""The rate-limit table (vault/storage/rate_buckets.py) on SQLite and PostgreSQL: the same
boundary cases as the reference store (tests/support/buckets.py), the same answers as it for
any sequence of requests, and, on a real async pool, many concurrent checks of one bucket
never let more through than the bucket holds."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Callable

import pytest
from conftest import Database
from sqlalchemy import text
from sqlalchemy.orm import sessionmaker

from api.container import Container
from api.ratelimit import NS, Limiter, Rule, nanoseconds
from support.buckets import CASES, START, MemoryBuckets
from support.clock import FakeClock
from vault.storage.async_uow import async_uow_factory
from vault.storage.engine import build_async_engines
from vault.storage.rate_buckets import SqlRateBuckets
from vault.storage.unit_of_work import SqlUnitOfWork


@pytest.fixture
def table(container: Container) -> SqlRateBuckets:
    store = container.limiter.store
    assert isinstance(store, SqlRateBuckets)
    return store


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.__name__)
def test_the_boundaries_on_the_table(
    case: Callable[[SqlRateBuckets], None], table: SqlRateBuckets
) -> None:
    case(table)


def test_the_table_answers_as_the_reference_does(table: SqlRateBuckets) -> None:
    """The store itself (not through the limiter, which answers some refusals from memory),
    on a random walk of requests: the same decision and the same `tat` as the reference."""
    reference = MemoryBuckets()
    draw = random.Random(7)
    now = nanoseconds(START)
    shapes = [(60 * NS // 7, 2), (60 * NS // 600, 100), (60 * NS // 1, 1)]  # (interval, burst)

    async def walk() -> tuple[list[tuple[bool, int]], list[tuple[bool, int]]]:
        nonlocal now
        got, want = [], []
        for _ in range(600):
            now += draw.choice([0, 1, 999, 250_000_000, 3 * NS, 9 * NS])
            interval, burst = draw.choice(shapes)
            bucket = f"{interval}\x00{draw.choice('abc')}"
            args = {"now": now, "interval": interval, "tolerance": interval * (burst - 1)}
            got.append(await table.take(bucket, **args))
            want.append(await reference.take(bucket, **args))
        return got, want

    got, want = asyncio.run(walk())
    assert got == want
    assert {granted for granted, _ in got} == {True, False}  # both answers were seen


def test_no_address_is_stored(container: Container, table: SqlRateBuckets) -> None:
    limiter = Limiter([Rule("x", 60, 1, ("/x",))], store=table, clock=FakeClock(START))
    asyncio.run(limiter.hit(limiter.rules[0], "198.51.100.77"))
    with container.uow() as uow:
        rows = uow.session.execute(text("SELECT bucket, tat FROM rate_limit_buckets")).all()
    assert len(rows) == 1
    assert len(rows[0].bucket) == 32
    assert b"198.51.100.77" not in bytes(rows[0].bucket)


def test_concurrent_checks_never_grant_more_than_the_burst(database: Database) -> None:
    """On the real async pool (what a server process uses, outside the test's rolled-back
    transaction): 120 checks of one bucket at once, eight at a time in the database."""
    burst, attempts = 20, 120
    rule = Rule("race", per_minute=1, burst=burst, paths=("/race",))  # no refill to speak of
    key = f"concurrent-{uuid.uuid4().hex}"
    factory = sessionmaker(bind=database.engine, expire_on_commit=False)

    async def race() -> list[int | None]:
        writer, reader = build_async_engines(database.url, pool_size=8)
        store = SqlRateBuckets(
            async_uow=async_uow_factory(writer, reader),
            uow=lambda: SqlUnitOfWork(factory),
            name=lambda b: uuid.uuid5(uuid.NAMESPACE_URL, b).bytes * 2,
        )
        limiter = Limiter([rule], store=store, clock=FakeClock(START))
        try:
            return list(await asyncio.gather(*(limiter.hit(rule, key) for _ in range(attempts))))
        finally:
            for engine in (writer, reader):
                if engine is not None:
                    await engine.dispose()

    try:
        answers = asyncio.run(race())
    finally:
        with database.engine.begin() as conn:
            conn.execute(text("DELETE FROM rate_limit_buckets"))
    assert answers.count(None) == burst
    assert all(a == 60 or a is None for a in answers)  # one a minute: the next in 60 s
