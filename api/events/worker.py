"""The pusher loop: `OutboxDelivery` rounds on a thread of the server, or in the foreground of
`regie events deliver`.

A round that claimed a full batch is followed at once by the next; otherwise the loop waits
`interval` seconds. A failing round (the database is down) is logged by its type only and
tried again after the interval: events wait in the outbox meanwhile.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from starlette.concurrency import run_in_threadpool

from api.container import Container
from vault.events.delivery import OutboxDelivery

__all__ = ["PushWorker", "push_lifespan", "server_push_worker"]

log = logging.getLogger("regie.events")


class PushWorker:
    def __init__(self, delivery: OutboxDelivery, *, interval: float) -> None:
        self._delivery = delivery
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run(self, stop: threading.Event | None = None) -> None:
        """Push until `stop` (or `self.stop()`) is set."""
        halt = stop or self._stop
        while not halt.is_set():
            full = False
            try:
                report = self._delivery.run_once()
                full = report.claimed >= self._delivery.policy.batch
            except Exception as e:  # noqa: BLE001 - the loop must outlive a database outage
                log.warning("event push round failed (%s); retrying", type(e).__name__)
            if not full:
                halt.wait(self._interval)

    def start(self) -> None:
        """Run on a daemon thread of this process."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name="regie-events-push", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the loop to stop and wait for the push in flight (if any) to finish."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None


def push_lifespan(
    worker: PushWorker | None,
) -> Callable[[Any], AbstractAsyncContextManager[None]]:
    """A FastAPI lifespan that runs `worker` (if any) while the application serves."""

    @asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        if worker is not None:
            worker.start()
        try:
            yield
        finally:
            if worker is not None:
                await run_in_threadpool(worker.stop)

    return lifespan


def server_push_worker(c: Container) -> PushWorker | None:
    """The pusher a server process runs: when `events_push` is on, and only on a container
    with an engine of its own. A container built on a borrowed session factory (the test
    suite's one connection per test) must not be used from a second thread."""
    if not c.settings.events_push or c.engine is None:
        return None
    return PushWorker(c.event_delivery, interval=c.settings.events_push_interval_seconds)
