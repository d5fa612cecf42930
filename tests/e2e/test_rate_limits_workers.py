"""Rate limits on a real `regie serve --workers 2` on PostgreSQL: the buckets are one table
that both workers share (vault/storage/rate_buckets.py), so a client gets a bucket's burst
once, not once per worker, also when its requests arrive at once on many connections; and
with PostgreSQL down, a limited door answers 503 (the store fails closed), never 500 or a
pass.

Both workers must have answered for the first claim to mean anything: each worker's request
counters are read from its own file in the metrics directory (api/metrics.py)."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from prometheus_client.mmap_dict import MmapedDict

from support.server import PostgresCluster, RegieServer

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

WRONG = {"code": "0000-0000-0000-0000"}


@pytest.fixture
def cluster() -> Iterator[PostgresCluster]:
    try:
        with PostgresCluster() as pg:
            yield pg
    except RuntimeError as e:  # the server programs are not installed
        pytest.skip(str(e))


def post_at_once(base: str, path: str, count: int, **kwargs: object) -> list[int]:
    """`count` POSTs from 16 threads, each on a new connection (the kernel spreads them
    over the workers)."""

    def one(_: int) -> int:
        return httpx.post(base + path, timeout=30, **kwargs).status_code  # type: ignore[arg-type]

    with ThreadPoolExecutor(16) as pool:
        return list(pool.map(one, range(count)))


def answered_by_worker(metrics: Path, route: str) -> dict[int, float]:
    """Requests to `route` each worker answered, from its own counter file."""
    counts: dict[int, float] = {}
    for path in metrics.glob("counter_*.db"):
        pid = int(path.stem.rsplit("_", 1)[1])
        values = MmapedDict(str(path), read_mode=True)  # type: ignore[no-untyped-call]
        try:
            for key, value, _ in values.read_all_values():  # type: ignore[no-untyped-call]
                _metric, name, labels, *_help = json.loads(key)
                if name == "regie_http_requests_total" and labels.get("route") == route:
                    counts[pid] = counts.get(pid, 0) + value
        finally:
            values.close()  # type: ignore[no-untyped-call]
    return counts


def test_two_workers_share_every_bucket_and_fail_closed(
    tmp_path: Path, cluster: PostgresCluster
) -> None:
    metrics = tmp_path / "metrics"
    env = {
        "REGIE_RATE_LIMITS": "true",
        # One a minute: within the test's seconds the buckets hardly refill, so what gets
        # through is the burst (5 for recovery, 100 for the OAuth endpoints) and no more.
        "REGIE_RATE_LIMIT_RECOVERY_PER_MINUTE": "1",
        "REGIE_RATE_LIMIT_OAUTH_PER_MINUTE": "1",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics),
    }
    with RegieServer(tmp_path, database_url=cluster.url, workers=2, env=env) as server:
        pids = set(server.worker_pids())
        started = time.monotonic()
        recovery = post_at_once(server.base, "/v1/auth/recovery", 60, json=WRONG)
        token = post_at_once(server.base, "/oauth/token", 400, data={"grant_type": "x"})
        slack = int((time.monotonic() - started) // 60)  # one more per whole minute
        print(f"\nrecovery {Counter(recovery)}, token {Counter(token)}")
        assert set(recovery) == {401, 429}
        assert 5 <= recovery.count(401) <= 5 + slack  # not 10: one burst for both workers
        assert set(token) == {401, 429}
        assert 100 <= token.count(401) <= 100 + slack  # not 200, though 16 at a time
        for route in ("/v1/auth/recovery", "/oauth/token"):
            by_worker = answered_by_worker(metrics, route)
            assert set(by_worker) == pids, (route, by_worker, pids)  # both workers answered
            assert all(n > 0 for n in by_worker.values()), by_worker

        # The store fails closed: with the database down, a door whose bucket must be asked
        # answers 503 problem+json, never a 500 or a pass; a bucket this worker saw refuse
        # stays refused (429) until it could grant again (api/ratelimit.py `Limiter`).
        options = f"{server.base}/v1/auth/passkeys/login/options"
        cluster.stop("fast")
        for _ in range(4):  # the sign-in bucket was never refused: the store must be asked
            answer = httpx.post(options, timeout=30)
            assert answer.status_code == 503, answer.text
            assert answer.headers["content-type"] == "application/problem+json"
            assert answer.json()["type"] == f"{server.base}/problems/service-unavailable"
            assert answer.headers["retry-after"] == "5"
        guess = httpx.post(f"{server.base}/v1/auth/recovery", json=WRONG, timeout=30)
        assert guess.status_code in (429, 503), guess.text  # refused either way
        cluster.start()
        deadline = time.monotonic() + 30
        while True:
            status = httpx.post(options, timeout=30).status_code
            if status != 503 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert status == 200
        assert httpx.post(f"{server.base}/v1/auth/recovery", json=WRONG).status_code == 429
        assert server.logged_errors() == []
