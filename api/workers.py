"""Background loops of a server process: pushing events and sweeping grants.

A `PeriodicWorker` calls its round function on a daemon thread (or in the foreground of a CLI
command) until stopped. A round that reports more work waiting is followed at once by the
next; otherwise the loop waits `interval` seconds. A failing round (the database is down) is
logged by its exception type only and tried again after the interval: nothing is lost, since
events wait in the outbox and the access check enforces expiry on its own.

On shutdown (`workers_lifespan`) the loops stop, and then the ones that `drain` run their
rounds once more in the foreground until nothing is waiting or the drain budget is spent: the
events that are due are pushed and the committed access events integrated before the process
exits, instead of waiting for the next process. What is not done by then stays in the
database for the next one; nothing depends on the drain for correctness.

Each round runs in a trace of its own (vault.tracecontext), so its log lines share a
`trace_id` and the events it pushes carry a child span of it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import timedelta
from typing import Any

from starlette.concurrency import run_in_threadpool

from api.container import Container
from vault import tracecontext
from vault.grants.service import SWEEP_BATCH

__all__ = [
    "UPLOAD_SWEEP_BATCH",
    "PeriodicWorker",
    "integrate_worker",
    "more_to_sweep",
    "push_worker",
    "server_workers",
    "sweep_round",
    "sweep_worker",
    "workers_lifespan",
]

log = logging.getLogger("regie.workers")


class PeriodicWorker:
    def __init__(
        self, name: str, round_: Callable[[], bool], *, interval: float, drain: bool = False
    ) -> None:
        """`round_` does one batch of work and returns True when more is waiting; `drain`
        says the loop's work should be finished at shutdown (see `drain`)."""
        self.name = name
        self.drains = drain
        self._round = round_
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> bool:
        """One round in the caller's thread, in a new trace; True when more work is waiting."""
        token = tracecontext.set_current(tracecontext.start())
        try:
            return self._round()
        finally:
            tracecontext.reset(token)

    def run(self, stop: threading.Event | None = None) -> None:
        """Work until `stop` (or `self.stop()`) is set."""
        halt = stop or self._stop
        while not halt.is_set():
            more = False
            try:
                more = self.run_once()
            except Exception as e:  # noqa: BLE001 - the loop must outlive a database outage
                log.warning("%s round failed (%s); retrying", self.name, type(e).__name__)
            if not more:
                halt.wait(self._interval)

    def drain(self, deadline: float) -> None:
        """After `stop`: rounds in the caller's thread while work is waiting and the monotonic
        clock is before `deadline`; a failing round ends the drain (logged like `run`)."""
        while time.monotonic() < deadline:
            try:
                if not self.run_once():
                    return
            except Exception as e:  # noqa: BLE001 - shutdown goes on; the work waits in the DB
                log.warning("%s drain failed (%s)", self.name, type(e).__name__)
                return
        log.warning("%s drain stopped at its deadline with work waiting", self.name)

    def start(self) -> None:
        """Run on a daemon thread of this process."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the loop to stop and wait for the round in flight (if any) to finish."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None


def push_worker(c: Container, interval: float | None = None) -> PeriodicWorker:
    """Pushes due events from the outbox (RFC 8935)."""
    delivery = c.event_delivery

    def round_() -> bool:
        return delivery.run_once().claimed >= delivery.policy.batch

    return PeriodicWorker(
        "regie-events-push",
        round_,
        interval=interval or c.settings.events_push_interval_seconds,
        drain=True,
    )


# Abandoned uploads carry their sealed chunks (up to a file's size each): fewer a round.
UPLOAD_SWEEP_BATCH = 2000


def sweep_round(c: Container, batch: int = SWEEP_BATCH) -> dict[str, int]:
    """One round of the sweep, what the server's loop and `regie grants sweep` both run: a
    batch of grants, requests, procedures and finished events (`GrantService.sweep`), then
    up to `batch` rate-limit buckets that are full again (`Limiter.sweep`: `buckets_purged`)
    and up to `UPLOAD_SWEEP_BATCH` uploads begun more than `REGIE_UPLOAD_ABANDON_SECONDS`
    ago that never finished (`uploads_purged`), each in its own transaction. How many of
    each it did."""
    abandon = timedelta(seconds=c.settings.upload_abandon_seconds)
    counts = c.grants.sweep(batch=batch)
    counts["buckets_purged"] = c.limiter.sweep(batch)
    counts["uploads_purged"] = c.records.sweep_abandoned_uploads(
        older_than=abandon, batch=min(batch, UPLOAD_SWEEP_BATCH)
    )
    return counts


def more_to_sweep(counts: dict[str, int], batch: int = SWEEP_BATCH) -> bool:
    """Whether a round that did `counts` may have left work waiting: each kind is done at
    most its batch at a time, so only a full batch of some kind can have left more."""
    limits = {"uploads_purged": min(batch, UPLOAD_SWEEP_BATCH)}
    return any(done >= limits.get(kind, batch) for kind, done in counts.items())


def sweep_worker(c: Container, interval: float | None = None) -> PeriodicWorker:
    """Marks expired grants, lapsed requests and procedures past their planned end, which
    tells their services, drops rate-limit buckets that are full again (api/ratelimit.py) and
    uploads that never finished (`REGIE_UPLOAD_ABANDON_SECONDS`). Neither access nor a limit
    depends on it: the checks compare times themselves."""

    def round_() -> bool:
        return more_to_sweep(sweep_round(c))

    return PeriodicWorker(
        "regie-grants-sweep", round_, interval=interval or c.settings.sweep_interval_seconds
    )


def integrate_worker(c: Container, interval: float | None = None) -> PeriodicWorker:
    """Sequences committed access events into the verifiable log and signs a checkpoint."""
    integrator = c.integrator

    def round_() -> bool:
        return integrator.run_once() >= integrator.batch

    return PeriodicWorker(
        "regie-audit-integrate",
        round_,
        interval=interval or c.settings.audit_integrate_interval_seconds,
        drain=True,
    )


def server_workers(c: Container) -> list[PeriodicWorker]:
    """The loops a server process runs, only on a container with an engine of its own: one
    built on a borrowed session factory (the test suite's one connection per test) must not
    be used from a second thread."""
    if c.engine is None:
        return []
    workers = [sweep_worker(c)] if c.settings.sweep_interval_seconds > 0 else []
    if c.settings.events_push:
        workers.append(push_worker(c))
    if c.settings.audit_integrate_interval_seconds > 0:
        workers.append(integrate_worker(c))
    return workers


def workers_lifespan(
    workers: Sequence[PeriodicWorker], *, drain_seconds: float = 0.0
) -> Callable[[Any], AbstractAsyncContextManager[None]]:
    """A FastAPI lifespan that runs `workers` while the application serves, and at shutdown
    (after uvicorn has finished the requests in flight) stops them and drains the ones that
    drain, within `drain_seconds` in all."""

    @asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        for worker in workers:
            worker.start()
        try:
            yield
        finally:
            for worker in workers:
                await run_in_threadpool(worker.stop)
            deadline = time.monotonic() + drain_seconds
            for worker in workers:
                if worker.drains and drain_seconds > 0:
                    await run_in_threadpool(worker.drain, deadline)

    return lifespan
