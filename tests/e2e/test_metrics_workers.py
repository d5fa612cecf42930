"""`/metrics` of a real `regie serve --workers 2`: whichever worker answers a scrape, it
counts every worker's requests (prometheus_client's multiprocess mode, api/metrics.py), and a
previous run's counts are not added to this run's."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from support.server import RegieServer

pytestmark = pytest.mark.slow

TOKEN = "t" * 40
REQUESTS = 60


def healthz_count(text: str) -> float:
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "regie_http_requests_total" and s.labels.get("route") == "/healthz"
    )


def test_every_worker_counts_in_every_scrape(tmp_path: Path) -> None:
    shared = tmp_path / "metrics"
    shared.mkdir()
    stale = shared / "counter_999999.db"
    stale.write_bytes(b"a previous run's counts")
    env = {"REGIE_METRICS_TOKEN": TOKEN, "PROMETHEUS_MULTIPROC_DIR": str(shared)}
    with RegieServer(tmp_path, workers=2, env=env) as server:
        assert not stale.exists()  # emptied before the workers started
        before = httpx.get(
            f"{server.base}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}
        ).text
        start = healthz_count(before)
        for _ in range(REQUESTS):  # a new connection each: the kernel spreads them
            assert httpx.get(f"{server.base}/healthz").status_code == 200
        pids = set(server.worker_pids())
        # Both workers wrote counters (files named after their pids)...
        written = {int(p.stem.rsplit("_", 1)[1]) for p in shared.glob("counter_*.db")}
        assert pids <= written, (pids, written)
        # ... and every scrape, by either worker, adds up all of them. An access is counted
        # just after its answer is sent: allow a moment for the last one.
        for _ in range(10):
            deadline = time.monotonic() + 5
            while True:
                with httpx.Client(base_url=server.base) as http:  # a new connection per scrape
                    scrape = http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
                assert scrape.status_code == 200, scrape.text
                seen = healthz_count(scrape.text) - start
                if seen == REQUESTS or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            assert seen == REQUESTS
        assert server.logged_errors() == []
