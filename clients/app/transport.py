"""An in-process httpx transport to an ASGI app that streams the response body.

httpx's own `ASGITransport` collects the whole response before returning it, so a vault
export or a large file would sit in memory whole on its way from the API to the browser.
This transport runs the app in a task and hands each body piece on as the app sends it,
through a small bounded queue (so a slow browser slows the API down instead of piling up
bytes). Hand-written because httpx has no streaming ASGI transport; it is only used to put
the resident app in front of the API in the same process.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
from starlette.types import ASGIApp, Message

_DONE = object()


class _Body(httpx.AsyncByteStream):
    def __init__(
        self, queue: asyncio.Queue[Any], task: asyncio.Task[None], finished: asyncio.Event
    ) -> None:
        self._queue = queue
        self._task = task
        self._finished = finished

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            item = await self._queue.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise httpx.ReadError("the application failed while answering") from item
            body = item.get("body", b"")
            if body:
                yield body
            if not item.get("more_body", False):
                return

    async def aclose(self) -> None:
        self._finished.set()
        if not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task


class StreamingASGITransport(httpx.AsyncBaseTransport):
    def __init__(self, app: ASGIApp, *, queue_size: int = 4) -> None:
        self.app = app
        self.queue_size = queue_size

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not isinstance(request.stream, httpx.AsyncByteStream):
            raise TypeError("the in-process transport takes async request bodies only")
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": request.method,
            "headers": [(k.lower(), v) for (k, v) in request.headers.raw],
            "scheme": request.url.scheme,
            "path": request.url.path,
            "raw_path": request.url.raw_path.split(b"?")[0],
            "query_string": request.url.query,
            "server": (request.url.host, request.url.port),
            "client": ("127.0.0.1", 0),
            "root_path": "",
            # The API's rate limits count this call against the page request's client
            # address (api/ratelimit.py): no network request can set a scope key.
            "regie.in_process": True,
        }
        body = request.stream.__aiter__()
        body_done = False
        finished = asyncio.Event()  # the response was read to the end, or abandoned
        queue: asyncio.Queue[Any] = asyncio.Queue(self.queue_size)

        async def receive() -> Message:
            nonlocal body_done
            if body_done:
                await finished.wait()  # only a finished response "disconnects"
                return {"type": "http.disconnect"}
            try:
                chunk = await body.__anext__()
            except StopAsyncIteration:
                body_done = True
                return {"type": "http.request", "body": b"", "more_body": False}
            return {"type": "http.request", "body": chunk, "more_body": True}

        async def send(message: Message) -> None:
            if message["type"] in ("http.response.start", "http.response.body"):
                await queue.put(message)

        async def run() -> None:
            try:
                await self.app(scope, receive, send)
            except Exception as e:  # noqa: BLE001 - handed to the reader, who raises it
                await queue.put(e)
            finally:
                await queue.put(_DONE)

        task = asyncio.create_task(run())
        first = await queue.get()
        if not isinstance(first, dict) or first.get("type") != "http.response.start":
            finished.set()
            await task
            if isinstance(first, BaseException):
                raise first
            raise httpx.RemoteProtocolError("the application sent no response")
        return httpx.Response(
            first["status"],
            headers=first.get("headers", []),
            stream=_Body(queue, task, finished),
        )
