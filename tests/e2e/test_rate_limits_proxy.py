"""Rate limits on a real `regie serve`: behind a proxy named in REGIE_FORWARDED_ALLOW_IPS they
count each resident's forwarded address; without it a forged X-Forwarded-For changes nothing
(every request counts against the peer's own address)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from support.server import RegieServer

pytestmark = pytest.mark.slow

WRONG = {"code": "0000-0000-0000-0000"}


def guesses(base: str, forwarded_for: str, count: int) -> list[int]:
    with httpx.Client(base_url=base, headers={"X-Forwarded-For": forwarded_for}) as http:
        return [http.post("/v1/auth/recovery", json=WRONG).status_code for _ in range(count)]


def test_behind_a_trusted_proxy_each_resident_has_a_bucket(tmp_path: Path) -> None:
    env = {"REGIE_RATE_LIMITS": "true", "REGIE_FORWARDED_ALLOW_IPS": "127.0.0.1"}
    with RegieServer(tmp_path, env=env) as server:
        assert guesses(server.base, "203.0.113.5", 6) == [401] * 5 + [429]
        assert guesses(server.base, "203.0.113.6", 1) == [401]
        assert server.logged_errors() == []


def test_without_a_trusted_proxy_a_forged_header_does_not_help(tmp_path: Path) -> None:
    with RegieServer(tmp_path, env={"REGIE_RATE_LIMITS": "true"}) as server:
        assert guesses(server.base, "203.0.113.5", 5) == [401] * 5
        assert guesses(server.base, "203.0.113.6", 1) == [429]  # the same peer, 127.0.0.1
        assert server.logged_errors() == []
