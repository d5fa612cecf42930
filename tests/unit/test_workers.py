"""`PeriodicWorker.drain`: the shutdown rounds stop when nothing waits, at the deadline, or at
the first failure (the work stays in the database for the next process)."""

from __future__ import annotations

import time

import pytest

from api.workers import PeriodicWorker


def _worker(results: list[bool | Exception]) -> tuple[PeriodicWorker, list[int]]:
    calls: list[int] = []

    def round_() -> bool:
        calls.append(1)
        outcome = results.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    return PeriodicWorker("test", round_, interval=60, drain=True), calls


def test_drain_runs_rounds_until_nothing_waits() -> None:
    worker, calls = _worker([True, True, False, True])
    worker.drain(time.monotonic() + 10)
    assert len(calls) == 3


def test_drain_stops_at_the_deadline_with_work_waiting(caplog: pytest.LogCaptureFixture) -> None:
    worker, calls = _worker([True] * 1000)
    worker.drain(time.monotonic() - 1)
    assert calls == []
    assert "deadline" in caplog.text


def test_a_failing_round_ends_the_drain(caplog: pytest.LogCaptureFixture) -> None:
    worker, calls = _worker([True, RuntimeError("database gone"), True])
    worker.drain(time.monotonic() + 10)
    assert len(calls) == 2
    assert "RuntimeError" in caplog.text
    assert "database gone" not in caplog.text  # type only, never the message
