"""One scenario, two clients: run a test against `ServiceClient` and `AsyncServiceClient` alike.

`make_client(kind, ...)` builds either; the async one runs on an event loop of its own (an
anyio blocking portal, in a thread), and `Blocking` makes its coroutine methods callable from
the test as if they were plain methods. So a test is written once and asserts the same
behaviour for both shells.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import anyio
import httpx
from anyio.from_thread import BlockingPortal, start_blocking_portal

from clients.sdk import AsyncServiceClient, ServiceClient

KINDS = ("sync", "async")


class Blocking:
    """Wraps an object whose methods may be coroutines: each call runs to completion."""

    def __init__(self, target: Any, portal: BlockingPortal) -> None:
        self._target = target
        self._portal = portal

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if inspect.iscoroutinefunction(attr):

            def call(*args: Any, **kwargs: Any) -> Any:
                return self._portal.call(functools.partial(attr, *args, **kwargs))

            return call
        return attr

    def __repr__(self) -> str:
        return repr(self._target)


@contextmanager
def make_client(
    kind: str,
    base: str,
    *,
    sync_transport: httpx.BaseTransport | None = None,
    async_transport: httpx.AsyncBaseTransport | None = None,
    sleep: Callable[[float], None] | None = None,
    **options: Any,
) -> Iterator[Any]:
    """A `ServiceClient` (kind "sync") or a blocking view of an `AsyncServiceClient`."""
    if kind == "sync":
        extra = {"sleep": sleep} if sleep is not None else {}
        with ServiceClient(base, transport=sync_transport, **options, **extra) as client:
            yield client
        return
    with start_blocking_portal() as portal:
        extra_async: dict[str, Any] = {}
        if sleep is not None:

            async def asleep(seconds: float) -> None:
                # The test's sleep may call the app synchronously (to approve a request):
                # run it in a worker thread so this event loop stays free.
                await anyio.to_thread.run_sync(sleep, seconds)

            extra_async["sleep"] = asleep
        client = AsyncServiceClient(base, transport=async_transport, **options, **extra_async)
        try:
            yield Blocking(client, portal)
        finally:
            portal.call(client.aclose)
