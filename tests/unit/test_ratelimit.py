"""GCRA buckets (api/ratelimit.py): a burst, then the steady rate, an exact Retry-After, one
bucket per rule and key, bounded memory, and only the listed POSTs."""

from __future__ import annotations

import pytest

from api.ratelimit import Limiter, Rule, default_rules
from vault.errors import RateLimited


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


RULE = Rule("sign-in", per_minute=6, burst=3, paths=("/v1/auth/passkeys/*", "/v1/auth/recovery"))


def test_a_burst_then_the_steady_rate() -> None:
    clock = Clock()
    limiter = Limiter([RULE], monotonic=clock)
    assert [limiter.hit(RULE, "a") for _ in range(3)] == [None, None, None]
    wait = limiter.hit(RULE, "a")
    assert wait == 10  # 6 a minute: one every 10 s
    clock.now += 9.5
    assert limiter.hit(RULE, "a") == 1  # refused calls cost nothing, and say how long
    clock.now += 0.5
    assert limiter.hit(RULE, "a") is None
    assert limiter.hit(RULE, "a") == 10
    clock.now += 60  # a quiet minute fills the bucket again, no further
    assert [limiter.hit(RULE, "a") for _ in range(4)] == [None, None, None, 10]


def test_each_key_and_rule_has_its_own_bucket() -> None:
    other = Rule("codes", per_minute=6, burst=1, paths=("/v1/service/connections",))
    limiter = Limiter([RULE, other], monotonic=Clock())
    for _ in range(3):
        assert limiter.hit(RULE, "a") is None
    assert limiter.hit(RULE, "a") is not None
    assert limiter.hit(RULE, "b") is None
    assert limiter.hit(other, "a") is None


def test_only_the_listed_posts_are_limited() -> None:
    limiter = Limiter([RULE])
    assert limiter.rule_for("POST", "/v1/auth/passkeys/login/options") is RULE
    assert limiter.rule_for("POST", "/v1/auth/recovery") is RULE
    assert limiter.rule_for("POST", "/v1/auth/recovery/more") is None  # exact, not a prefix
    assert limiter.rule_for("GET", "/v1/auth/passkeys/login/options") is None
    assert limiter.rule_for("POST", "/v1/me/records") is None


def test_a_rule_of_zero_is_off() -> None:
    off = Rule("recovery", per_minute=0, burst=5, paths=("/v1/auth/recovery",))
    assert Limiter([off]).rule_for("POST", "/v1/auth/recovery") is None


def test_memory_is_bounded() -> None:
    limiter = Limiter([RULE], max_buckets=100, monotonic=Clock())
    for i in range(1000):
        limiter.hit(RULE, f"address-{i}")
    assert len(limiter._tat) == 100  # the oldest are dropped (they would be full again)


def test_a_service_is_counted_by_its_own_bucket() -> None:
    (oauth,) = [r for r in default_rules(
        sign_in_per_minute=30, recovery_per_minute=5, codes_per_minute=60, oauth_per_minute=60
    ) if r.name == "oauth"]  # fmt: skip
    limiter = Limiter([oauth], monotonic=Clock())
    for _ in range(oauth.burst):
        limiter.check_client("/oauth/token", "clinic")
    with pytest.raises(RateLimited) as refused:
        limiter.check_client("/oauth/token", "clinic")
    assert refused.value.retry_after == 1
    limiter.check_client("/oauth/token", "school")  # another service: its own bucket
    limiter.check_client("/v1/service/procedures/close", "clinic")  # not a limited door
