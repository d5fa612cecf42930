"""GCRA buckets (api/ratelimit.py): a burst, then the steady rate, an exact Retry-After, never
above the burst, one bucket per rule and key, only the listed POSTs, on the injectable
clock. The boundary cases (tests/support/buckets.py) run here on the reference store in
memory, and on the database table in tests/integration/test_rate_buckets.py."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from api.ratelimit import Limiter, Rule, client_address, default_rules, nanoseconds
from support.buckets import CASES, RULE, MemoryBuckets, hits, limiter_on
from support.clock import FakeClock
from vault.errors import RateLimited, StorageUnavailable


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.__name__)
def test_the_boundaries_on_the_reference_store(case: Callable[[MemoryBuckets], None]) -> None:
    case(MemoryBuckets())


def test_time_is_whole_nanoseconds_since_the_epoch() -> None:
    assert nanoseconds(datetime(1970, 1, 1, tzinfo=UTC)) == 0
    moment = datetime(2262, 4, 11, 23, 47, 16, 854775, tzinfo=UTC)  # the last in a BIGINT
    assert nanoseconds(moment) == 9_223_372_036_854_775_000
    assert nanoseconds(datetime(2026, 12, 3, 12, 0, 0, 1, tzinfo=UTC)) % 1000 == 0


def test_the_store_hears_one_bucket_per_rule_and_key() -> None:
    store = MemoryBuckets()
    limiter, _ = limiter_on(store)
    asyncio.run(limiter.hit(RULE, "192.0.2.1"))
    asyncio.run(limiter.check_client("/v1/auth/recovery", "clinic"))
    assert set(store.tat) == {"sign-in\x00192.0.2.1", "sign-in\x00client:clinic"}


def test_only_the_listed_posts_are_limited() -> None:
    limiter = Limiter([RULE], store=MemoryBuckets(), clock=FakeClock())
    assert limiter.rule_for("POST", "/v1/auth/passkeys/login/options") is RULE
    assert limiter.rule_for("POST", "/v1/auth/recovery") is RULE
    assert limiter.rule_for("POST", "/v1/auth/recovery/more") is None  # exact, not a prefix
    assert limiter.rule_for("GET", "/v1/auth/passkeys/login/options") is None
    assert limiter.rule_for("POST", "/v1/me/records") is None


def test_a_rule_of_zero_is_off() -> None:
    off = Rule("recovery", per_minute=0, burst=5, paths=("/v1/auth/recovery",))
    limiter = Limiter([off], store=MemoryBuckets(), clock=FakeClock())
    assert limiter.rule_for("POST", "/v1/auth/recovery") is None


def test_a_service_is_counted_by_its_own_bucket() -> None:
    (oauth,) = [r for r in default_rules(
        sign_in_per_minute=30, recovery_per_minute=5, codes_per_minute=60, oauth_per_minute=60
    ) if r.name == "oauth"]  # fmt: skip
    limiter, _ = limiter_on(MemoryBuckets(), oauth)

    async def calls() -> None:
        for _ in range(oauth.burst):
            await limiter.check_client("/oauth/token", "clinic")
        with pytest.raises(RateLimited) as refused:
            await limiter.check_client("/oauth/token", "clinic")
        assert refused.value.retry_after == 1
        await limiter.check_client("/oauth/token", "school")  # another service: its own bucket
        await limiter.check_client("/v1/service/procedures/close", "clinic")  # not limited

    asyncio.run(calls())


class CountingStore(MemoryBuckets):
    def __init__(self) -> None:
        super().__init__()
        self.asked = 0

    async def take(
        self, bucket: str, *, now: int, interval: int, tolerance: int
    ) -> tuple[bool, int]:
        self.asked += 1
        return await super().take(bucket, now=now, interval=interval, tolerance=tolerance)


def test_a_refusal_is_remembered_until_the_store_could_grant_again() -> None:
    store = CountingStore()
    limiter, clock = limiter_on(store)
    assert hits(limiter, RULE, "a", 4) == [None, None, None, 10]
    assert store.asked == 4
    clock.advance(seconds=9, microseconds=999_999)
    assert hits(limiter, RULE, "a", 50) == [1] * 50  # the store's own answer...
    assert store.asked == 4  # ... without asking it
    assert hits(limiter, RULE, "b", 1) == [None]  # another bucket is asked
    clock.advance(microseconds=1)  # the instant the store grants again: it is asked
    assert hits(limiter, RULE, "a", 2) == [None, 10]
    assert store.asked == 7


def test_remembered_refusals_are_bounded() -> None:
    store = CountingStore()
    one = Rule("codes", per_minute=6, burst=1, paths=("/x",))
    limiter = Limiter([one], store=store, clock=FakeClock(), max_remembered=10)
    for i in range(100):
        hits(limiter, one, f"address-{i}", 2)
    assert len(limiter._refused) == 10
    assert store.asked == 200
    assert hits(limiter, one, "address-0", 1) == [10]  # forgotten: the store says the same
    assert store.asked == 201


class DownStore(MemoryBuckets):
    async def take(
        self, bucket: str, *, now: int, interval: int, tolerance: int
    ) -> tuple[bool, int]:
        raise StorageUnavailable("the database cannot be reached")


def test_a_store_that_cannot_be_reached_is_not_a_pass() -> None:
    limiter, _ = limiter_on(DownStore())
    with pytest.raises(StorageUnavailable):
        asyncio.run(limiter.hit(RULE, "a"))
    with pytest.raises(StorageUnavailable):
        asyncio.run(limiter.check_client("/v1/auth/recovery", "clinic"))


def test_an_ipv6_peer_cannot_get_a_fresh_bucket_per_address() -> None:
    def key(host: str) -> str:
        return client_address({"type": "http", "client": (host, 443)})

    # One /64 (what one home or one server is given) is one bucket, however it rotates.
    assert key("2001:db8:1:2::1") == key("2001:db8:1:2:ffff:ffff:ffff:fffe")
    assert key("2001:db8:1:2::1") == key("2001:DB8:1:2:0:0:0:7") == "2001:db8:1:2::/64"
    assert key("fe80::1%eth0") == key("fe80::2")
    # Other networks, and IPv4 addresses, stay apart.
    assert key("2001:db8:1:3::1") != key("2001:db8:1:2::1")
    assert key("192.0.2.1") == "192.0.2.1" != key("192.0.2.2")
    assert key("::ffff:192.0.2.1") == "192.0.2.1"
    assert key("testclient") == "testclient"
    assert client_address({"type": "http"}) == "unknown"
