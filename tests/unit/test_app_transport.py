"""The app's in-process transport streams: a piece reaches the reader before the app ends."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from clients.app.transport import StreamingASGITransport


def client(app: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=StreamingASGITransport(app), base_url="http://t")  # type: ignore[arg-type]


def test_the_first_piece_arrives_while_the_app_still_works() -> None:
    go_on = asyncio.Event()
    ended = asyncio.Event()

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        await send({"type": "http.response.start", "status": 200, "headers": [(b"x-a", b"1")]})
        await send({"type": "http.response.body", "body": b"one ", "more_body": True})
        await go_on.wait()  # a buffering transport never gets past here: the test times out
        await send({"type": "http.response.body", "body": b"two", "more_body": False})
        ended.set()

    async def go() -> None:
        async with client(app) as c:
            # A buffering transport would not answer before the app ends: fail, do not hang.
            response = await asyncio.wait_for(c.send(c.build_request("GET", "/"), stream=True), 5)
            assert response.status_code == 200
            assert response.headers["x-a"] == "1"
            pieces = response.aiter_bytes()
            assert await asyncio.wait_for(pieces.__anext__(), 5) == b"one "
            assert not ended.is_set()
            go_on.set()
            assert await asyncio.wait_for(pieces.__anext__(), 5) == b"two"
            await response.aclose()

    asyncio.run(go())


def test_the_request_body_goes_in_and_a_disconnect_waits_for_the_end() -> None:
    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        got = b""
        while True:
            message = await receive()
            got += message.get("body", b"")
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": got[::-1]})

    async def go() -> None:
        async def body():  # type: ignore[no-untyped-def]
            yield b"abc"
            yield b"def"

        async with client(app) as c:
            response = await c.post("/", content=body())
            assert (response.status_code, response.content) == (201, b"fedcba")

    asyncio.run(go())


def test_an_error_before_the_answer_is_raised() -> None:
    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        raise RuntimeError("boom")

    async def go() -> None:
        async with client(app) as c:
            with pytest.raises(RuntimeError):
                await c.get("/")

    asyncio.run(go())


def test_a_reader_that_stops_early_stops_the_app() -> None:
    cancelled = asyncio.Event()

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        await send({"type": "http.response.start", "status": 200, "headers": []})
        try:
            for _ in range(10_000):
                await send({"type": "http.response.body", "body": b"x" * 1024, "more_body": True})
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async def go() -> None:
        async with client(app) as c, c.stream("GET", "/") as response:
            async for _ in response.aiter_bytes():
                break
        await asyncio.wait_for(cancelled.wait(), 5)

    asyncio.run(go())
