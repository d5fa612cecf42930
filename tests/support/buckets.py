"""Rate-limit buckets for tests: a store in memory (the GCRA step of api/ratelimit.py's
`BucketStore`, written out in Python: the reference the SQL store is checked against), and
the boundary cases every store must pass (tests/unit/test_ratelimit.py runs them on the
memory store, tests/integration/test_rate_buckets.py on the table, SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from api.ratelimit import BucketStore, Limiter, Rule
from support.clock import FakeClock


class MemoryBuckets:
    """`BucketStore` in one dict: the reference GCRA step, nothing more."""

    def __init__(self) -> None:
        self.tat: dict[str, int] = {}

    async def take(
        self, bucket: str, *, now: int, interval: int, tolerance: int
    ) -> tuple[bool, int]:
        later = max(self.tat.get(bucket, now), now)
        if later - now > tolerance:
            return False, self.tat[bucket]
        self.tat[bucket] = later + interval
        return True, later + interval

    def sweep(self, *, now: int, batch: int) -> int:
        full = [b for b, tat in self.tat.items() if tat <= now][:batch]
        for b in full:
            del self.tat[b]
        return len(full)


RULE = Rule("sign-in", per_minute=6, burst=3, paths=("/v1/auth/passkeys/*", "/v1/auth/recovery"))
START = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def limiter_on(store: BucketStore, *rules: Rule) -> tuple[Limiter, FakeClock]:
    clock = FakeClock(START)
    return Limiter(rules or (RULE,), store=store, clock=clock), clock


def hits(limiter: Limiter, rule: Rule, key: str, n: int) -> list[int | None]:
    async def many() -> list[int | None]:
        return [await limiter.hit(rule, key) for _ in range(n)]

    return asyncio.run(many())


# -- the boundary cases, for any store ---------------------------------------------------------


def a_burst_then_the_steady_rate(store: BucketStore) -> None:
    limiter, clock = limiter_on(store)
    assert hits(limiter, RULE, "a", 3) == [None, None, None]  # the burst, exactly
    assert hits(limiter, RULE, "a", 1) == [10]  # 6 a minute: one every 10 s
    clock.advance(seconds=9.5)
    assert hits(limiter, RULE, "a", 1) == [1]  # refused calls cost nothing, and say how long
    clock.advance(microseconds=499_999)
    assert hits(limiter, RULE, "a", 1) == [1]  # a microsecond short of the refill: refused
    clock.advance(microseconds=1)
    assert hits(limiter, RULE, "a", 1) == [None]  # refilled after exactly 10 s
    assert hits(limiter, RULE, "a", 1) == [10]


def never_above_the_burst(store: BucketStore) -> None:
    limiter, clock = limiter_on(store)
    assert hits(limiter, RULE, "a", 3) == [None, None, None]
    clock.advance(hours=1)  # a quiet hour fills the bucket again, no further than the burst
    assert hits(limiter, RULE, "a", 4) == [None, None, None, 10]
    clock.advance(seconds=25)  # two and a half refills: two requests
    assert hits(limiter, RULE, "a", 3) == [None, None, 5]


def each_key_and_rule_has_its_own_bucket(store: BucketStore) -> None:
    other = Rule("codes", per_minute=6, burst=1, paths=("/v1/service/connections",))
    limiter, _ = limiter_on(store, RULE, other)
    assert hits(limiter, RULE, "a", 4)[3] is not None
    assert hits(limiter, RULE, "b", 1) == [None]
    assert hits(limiter, other, "a", 2) == [None, 10]


def the_sweep_drops_full_buckets_only(store: BucketStore) -> None:
    limiter, clock = limiter_on(store)
    hits(limiter, RULE, "a", 3)  # full again 30 s later
    hits(limiter, RULE, "b", 1)  # full again 10 s later
    clock.advance(seconds=10)
    assert limiter.sweep(100) == 1  # b, whose row is the same as no row
    assert limiter.sweep(100) == 0
    assert hits(limiter, RULE, "a", 3) == [None, 10, 10]  # a kept its level
    clock.advance(seconds=60)
    assert limiter.sweep(100) == 1
    assert hits(limiter, RULE, "a", 4) == [None, None, None, 10]


CASES = [
    a_burst_then_the_steady_rate,
    never_above_the_burst,
    each_key_and_rule_has_its_own_bucket,
    the_sweep_drops_full_buckets_only,
]
