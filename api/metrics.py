"""Prometheus metrics for operators: what `/metrics` serves (docs/operations.md#metrics).

Two kinds:
- **Counted as it happens**, in each server process: HTTP requests per route template and
  status and their latency (from `TraceMiddleware`, the one place every request passes),
  access decisions of the grant check by outcome and reason (from `ServiceAccess`), and data
  key cache lookups by result (from `KeyService`).
- **Read at scrape time** from the database (`vault.monitoring.backlog`): the outbox's
  undelivered events and their age, the verifiable log's unintegrated events and their age
  (the integration lag), the tree size and the age of the latest checkpoint. These are facts
  of the deployment, the same whichever process answers the scrape.

With several uvicorn workers (`regie serve --workers N`) a scrape reaches one of them, so the
counters go through prometheus_client's multiprocess mode: `regie serve` gives the workers a
fresh directory in `PROMETHEUS_MULTIPROC_DIR`, each writes its counters there, and the one
that answers adds them all up. Labels hold only route templates, methods, status codes and
fixed vocabularies: never a path, an id or anything a resident typed.

`/metrics` is off unless `REGIE_METRICS_TOKEN` is set, and then asks for it as a bearer token
(as HashiCorp Vault asks for a token on `/v1/sys/metrics`): the counts say how busy each
service is, which is not for everyone to see.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from vault.audit.events import AccessEvent
from vault.monitoring import Backlog

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST
# Request latency buckets (seconds): the data API's reads sit in the low milliseconds.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """The live process's counters. One per application (tests build many in one process, so
    each has its own registry rather than prometheus_client's global one)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "regie_http_requests",
            "HTTP requests answered, by method, route template and status code",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "regie_http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route template",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.grant_checks = Counter(
            "regie_grant_checks",
            "Access attempts by services decided by the grant check, by action, outcome"
            " (permit|deny) and reason of a refusal",
            ["action", "outcome", "reason"],
            registry=self.registry,
        )
        self.key_cache = Counter(
            "regie_key_cache_lookups",
            "Lookups of unwrapped data keys in the process's cache, by result (hit|miss)",
            ["result"],
            registry=self.registry,
        )
        # The children of each label set, looked up once: `labels()` checks and joins the
        # values on every call. The label sets are bounded (templates, statuses, reasons).
        self._request_series: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._grant_series: dict[tuple[str, str, str], Any] = {}
        self._key_hit = self.key_cache.labels("hit")
        self._key_miss = self.key_cache.labels("miss")

    # -- the hooks the layers call ----------------------------------------------------------

    def request_done(self, method: str, route: str, status: int, seconds: float) -> None:
        # A client chooses the method: an unknown one must not make a new series.
        method = method if method in METHODS else "OTHER"
        series = self._request_series.get((method, route, status))
        if series is None:
            series = (
                self.requests.labels(method, route, str(status)),
                self.latency.labels(method, route),
            )
            self._request_series[(method, route, status)] = series
        series[0].inc()
        series[1].observe(seconds)

    def access_decided(self, event: AccessEvent) -> None:
        labels = (event.action or "", event.outcome, event.reason or "")
        child = self._grant_series.get(labels)
        if child is None:
            child = self._grant_series[labels] = self.grant_checks.labels(*labels)
        child.inc()

    def key_cache_lookup(self, hit: bool) -> None:
        (self._key_hit if hit else self._key_miss).inc()

    # -- the scrape -------------------------------------------------------------------------

    def exposition(self, backlog: Backlog) -> bytes:
        """The text format: every process's counters, and the backlog read just now."""
        directory = os.environ.get(MULTIPROCESS_ENV)
        if directory:
            counted = CollectorRegistry()
            multiprocess.MultiProcessCollector(counted, path=directory)  # type: ignore[no-untyped-call]
        else:
            counted = self.registry
        scraped = CollectorRegistry()
        scraped.register(_BacklogCollector(backlog))
        return generate_latest(counted) + generate_latest(scraped)


class _BacklogCollector(Collector):
    def __init__(self, backlog: Backlog) -> None:
        self._backlog = backlog

    def collect(self) -> Iterable[GaugeMetricFamily]:
        b = self._backlog
        yield GaugeMetricFamily(
            "regie_outbox_pending_events",
            "Events to services that no service has taken yet",
            value=b.outbox_pending,
        )
        yield GaugeMetricFamily(
            "regie_outbox_oldest_pending_seconds",
            "Age of the oldest event no service has taken yet (0: none pending)",
            value=b.outbox_oldest_pending_seconds,
        )
        yield GaugeMetricFamily(
            "regie_audit_unintegrated_events",
            "Committed access events not yet in the verifiable log",
            value=b.audit_unintegrated,
        )
        yield GaugeMetricFamily(
            "regie_audit_integration_lag_seconds",
            "Age of the oldest access event not yet in the verifiable log (0: none waits)",
            value=b.audit_oldest_unintegrated_seconds,
        )
        yield GaugeMetricFamily(
            "regie_audit_tree_size",
            "Entries in the verifiable log under its latest signed checkpoint",
            value=b.audit_tree_size,
        )
        if b.audit_checkpoint_age_seconds is not None:
            yield GaugeMetricFamily(
                "regie_audit_checkpoint_age_seconds",
                "Time since the latest checkpoint of the verifiable log was signed",
                value=b.audit_checkpoint_age_seconds,
            )


def prepare_multiprocess_dir(workers: int) -> str | None:
    """Before uvicorn starts its workers: the directory they share their counters in, empty.

    An operator's `PROMETHEUS_MULTIPROC_DIR` is used (made if missing, last run's files
    removed: they would be added to this run's counts); with several workers and none set, a
    fresh temporary directory. One worker and none set: None, plain in-process counters.
    """
    given = os.environ.get(MULTIPROCESS_ENV)
    if given:
        directory = Path(given)
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.db"):
            stale.unlink()
    elif workers > 1:
        directory = Path(tempfile.mkdtemp(prefix="regie-metrics-"))
    else:
        return None
    os.environ[MULTIPROCESS_ENV] = str(directory)
    return str(directory)
