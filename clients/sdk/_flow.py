"""Sans-I/O flows: the service client's logic written once, run by a sync or an async driver.

A flow is a generator that yields what it needs done and receives the outcome:

    Call(...)     send this HTTP request; the flow receives the `httpx.Response`, whatever
                  its status (the flow decides what an error means: a DPoP nonce to retry
                  with, a token to refresh, or an error of `clients.sdk._errors` to raise)
    Sleep(s)      wait `s` seconds (polling); the flow receives None
    Locked(k, f)  run the sub-flow `f` holding the lock named `k` (one refresh per grant at a
                  time, so a rotating refresh token is never used twice); the flow receives
                  `f`'s result, or has `f`'s error raised at the `yield`

and finally returns its result. A `RegieError` raised while carrying out a step (a
`TransportError` from the connection, an error of a locked sub-flow) is thrown into the flow
at its `yield`, so a flow can back off and try again. `drive_sync` and `drive_async` are the
only code that differs between `ServiceClient` and `AsyncServiceClient`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import anyio
import httpx

from clients.sdk._errors import RegieError
from clients.sdk._http import AsyncHttp, SyncHttp

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Call:
    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    data: Mapping[str, str] | None = None
    json: Any = None
    timeout: float | None = None  # for this request only (a long poll)

    def kwargs(self) -> dict[str, Any]:
        extra: dict[str, Any] = {"headers": dict(self.headers)}
        if self.data is not None:
            extra["data"] = dict(self.data)
        if self.json is not None:
            extra["json"] = self.json
        if self.timeout is not None:
            extra["timeout"] = httpx.Timeout(self.timeout, connect=5.0)
        return extra


@dataclass(frozen=True, slots=True)
class Sleep:
    seconds: float


@dataclass(frozen=True, slots=True)
class Locked(Generic[T]):
    key: str
    flow: Flow[T]


Step = Call | Sleep | Locked[Any]
Flow = Generator[Step, Any, T]


def drive_sync(
    flow: Flow[T],
    http: SyncHttp,
    *,
    sleep: Callable[[float], None] = time.sleep,
    locks: SyncLocks | None = None,
) -> T:
    value: Any = None
    error: RegieError | None = None
    while True:
        try:
            step = flow.throw(error) if error is not None else flow.send(value)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        value, error = None, None
        try:
            if isinstance(step, Call):
                value = http.send(step.method, step.url, **step.kwargs())
            elif isinstance(step, Sleep):
                sleep(step.seconds)
            else:
                with (locks or SyncLocks()).get(step.key):
                    value = drive_sync(step.flow, http, sleep=sleep, locks=locks)
        except RegieError as e:
            error = e


async def drive_async(
    flow: Flow[T],
    http: AsyncHttp,
    *,
    sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    locks: AsyncLocks | None = None,
) -> T:
    value: Any = None
    error: RegieError | None = None
    while True:
        try:
            step = flow.throw(error) if error is not None else flow.send(value)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        value, error = None, None
        try:
            if isinstance(step, Call):
                value = await http.send(step.method, step.url, **step.kwargs())
            elif isinstance(step, Sleep):
                await sleep(step.seconds)
            else:
                async with (locks or AsyncLocks()).get(step.key):
                    value = await drive_async(step.flow, http, sleep=sleep, locks=locks)
        except RegieError as e:
            error = e


class SyncLocks:
    """One `threading.Lock` per name, made on first use."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    def get(self, key: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())


class AsyncLocks:
    """One `anyio.Lock` per name, made on first use (within one event loop)."""

    def __init__(self) -> None:
        self._locks: dict[str, anyio.Lock] = {}

    def get(self, key: str) -> anyio.Lock:
        return self._locks.setdefault(key, anyio.Lock())
