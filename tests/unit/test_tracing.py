"""Trace context on the wire: TraceMiddleware continues or starts a trace per request, sets it
for the request only, echoes it and writes one access line; pushes carry a child span."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route, Router
from starlette.types import ASGIApp, Message

from api.events.push import HttpxSetPoster
from api.logs import JsonFormatter
from api.middleware import TraceMiddleware, UnexpectedErrorMiddleware
from api.workers import PeriodicWorker
from vault import tracecontext

CALLER = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
CALLER_TRACE, CALLER_SPAN = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
THING = "7d1c3f0e-2b7a-4c55-9a57-1f0e8b1f0b5e"


class Capture(logging.Handler):
    """Formats each record as it is logged, in the logging call's context (as a stream
    handler does), so the trace ids are those of that moment."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def logs() -> Iterator[Capture]:
    capture = Capture()
    regie = logging.getLogger("regie")
    old_level = regie.level
    regie.setLevel(logging.DEBUG)
    regie.addHandler(capture)
    try:
        yield capture
    finally:
        regie.removeHandler(capture)
        regie.setLevel(old_level)


async def where_am_i(request: Request) -> JSONResponse:
    span = tracecontext.current()
    assert span is not None
    return JSONResponse(
        {"trace_id": span.trace_id, "span_id": span.span_id, "parent": span.parent_span_id},
        headers={"traceparent": "00-ffffffffffffffffffffffffffffffff-ffffffffffffffff-00"},
    )


async def boom(request: Request) -> JSONResponse:
    raise RuntimeError(f"secret detail from {request.url.path}")


async def static(scope: Any, receive: Any, send: Any) -> None:
    await JSONResponse({})(scope, receive, send)


ROUTES = [
    Route("/things/{thing_id}", where_am_i),
    Route("/boom/{thing_id}", boom),
    Mount("/static", app=static),
]


def inner_app() -> Starlette:
    return Starlette(routes=ROUTES)


def traced(app: ASGIApp | None = None) -> TraceMiddleware:
    return TraceMiddleware(app or inner_app())


def scope(path: str, headers: list[tuple[bytes, bytes]] | None = None) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "server": ("testserver", 80),
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"token=should-not-be-logged",
        "root_path": "",
        "headers": [(b"host", b"testserver"), *(headers or [])],
    }


def call(app: ASGIApp, path: str, headers: list[tuple[bytes, bytes]] | None = None) -> Any:
    """Drive `app` in this task (so its context is ours) and return (status, headers, body)."""

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def run() -> Any:
        before = tracecontext.start()
        token = tracecontext.set_current(before)
        try:
            try:
                await app(scope(path, headers), receive, send)
            finally:
                # The request's span is gone again, also when the app raised.
                assert tracecontext.current() is before
        finally:
            tracecontext.reset(token)

    asyncio.run(run())
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], dict(start["headers"]), body


def test_a_valid_traceparent_is_continued_and_echoed(logs: Capture) -> None:
    status, headers, body = call(traced(), f"/things/{THING}", [(b"traceparent", CALLER.encode())])
    assert status == 200
    seen = json.loads(body)
    assert seen["trace_id"] == CALLER_TRACE
    assert seen["parent"] == CALLER_SPAN
    assert seen["span_id"] != CALLER_SPAN
    # The server's span, not the caller's and not what the endpoint tried to set.
    assert headers[b"traceparent"] == f"00-{CALLER_TRACE}-{seen['span_id']}-01".encode()
    assert list(headers).count(b"traceparent") == 1


@pytest.mark.parametrize(
    "incoming",
    [
        [],
        [(b"traceparent", b"garbage")],
        [(b"traceparent", b"00-00000000000000000000000000000000-00f067aa0ba902b7-01")],
        [(b"traceparent", CALLER.encode() + b"-extra")],
        [(b"traceparent", CALLER.encode()), (b"traceparent", CALLER.encode())],  # two: ambiguous
    ],
)
def test_without_a_valid_traceparent_a_new_trace_starts(
    incoming: list[tuple[bytes, bytes]],
) -> None:
    status, headers, body = call(traced(), f"/things/{THING}", incoming)
    assert status == 200  # an invalid header is never an error
    seen = json.loads(body)
    assert seen["trace_id"] != CALLER_TRACE
    assert seen["parent"] is None
    assert headers[b"traceparent"] == f"00-{seen['trace_id']}-{seen['span_id']}-00".encode()
    assert tracecontext.parse_traceparent(headers[b"traceparent"].decode()) is not None


def test_each_request_gets_its_own_trace() -> None:
    first = json.loads(call(traced(), f"/things/{THING}")[2])
    second = json.loads(call(traced(), f"/things/{THING}")[2])
    assert first["trace_id"] != second["trace_id"]


def test_one_access_line_with_the_route_template_never_the_path(logs: Capture) -> None:
    *_, body = call(traced(), f"/things/{THING}", [(b"traceparent", CALLER.encode())])
    seen = json.loads(body)
    (line,) = [x for x in logs.lines if x["logger"] == "regie.access"]
    assert line["route"] == "/things/{thing_id}"
    assert (line["method"], line["status"]) == ("GET", 200)
    assert isinstance(line["duration_ms"], float)
    assert (line["trace_id"], line["span_id"]) == (seen["trace_id"], seen["span_id"])
    assert line["message"] == f"GET /things/{{thing_id}} 200 {line['duration_ms']:.1f} ms"
    text = json.dumps(logs.lines)
    # If the middleware logged the raw path or the query, these would be found.
    assert THING not in text
    assert "should-not-be-logged" not in text


def test_unmatched_paths_and_mounts_log_fixed_templates(logs: Capture) -> None:
    assert call(traced(), f"/nowhere/{THING}")[0] == 404
    assert call(traced(), "/static/css/app.css")[0] == 200
    routes = [x["route"] for x in logs.lines if x["logger"] == "regie.access"]
    assert routes == ["unmatched", "/static/{path}"]
    assert THING not in json.dumps(logs.lines)


def test_an_exception_still_resets_the_context_and_logs_a_500(logs: Capture) -> None:
    # Starlette's own error layer answers 500 and re-raises: the exception passes through
    # the trace middleware, which must log and reset (asserted in `call`) on its way out.
    with pytest.raises(RuntimeError):
        call(traced(), f"/boom/{THING}")
    (line,) = [x for x in logs.lines if x["logger"] == "regie.access"]
    assert (line["status"], line["route"]) == (500, "/boom/{thing_id}")
    assert "trace_id" in line


def test_an_app_that_raises_before_answering_is_logged_as_500(logs: Capture) -> None:
    async def broken(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("no answer")

    with pytest.raises(RuntimeError):
        call(traced(broken), "/anything")
    (line,) = [x for x in logs.lines if x["logger"] == "regie.access"]
    assert (line["status"], line["route"]) == (500, "unmatched")


def test_the_unexpected_error_line_has_the_template_and_the_trace(logs: Capture) -> None:
    # A bare router inside, as in the real app, where the layer sits inside Starlette's own.
    app = traced(UnexpectedErrorMiddleware(Router(ROUTES), public_url="http://localhost:8000"))
    status, headers, body = call(app, f"/boom/{THING}", [(b"traceparent", CALLER.encode())])
    assert status == 500
    assert json.loads(body)["title"] == "Internal error"
    assert headers[b"traceparent"].startswith(f"00-{CALLER_TRACE}-".encode())
    (error,) = [x for x in logs.lines if x["logger"] == "regie.api"]
    assert error["message"] == "unhandled RuntimeError on GET /boom/{thing_id}"
    assert (error["route"], error["error_type"]) == ("/boom/{thing_id}", "RuntimeError")
    assert error["trace_id"] == CALLER_TRACE
    assert THING not in json.dumps(logs.lines)
    assert "secret detail" not in json.dumps(logs.lines)


def test_lifespan_and_other_scopes_pass_through() -> None:
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])
        assert tracecontext.current() is None

    async def run() -> None:
        async def nothing() -> Message:
            return {"type": "lifespan.startup"}

        async def ignore(message: Message) -> None:
            pass

        await traced(app)({"type": "lifespan"}, nothing, ignore)

    asyncio.run(run())
    assert seen == ["lifespan"]


# -- outgoing ---------------------------------------------------------------------------------


def pushed_traceparents() -> tuple[HttpxSetPoster, list[str]]:
    headers: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        headers.append(request.headers["traceparent"])
        return httpx.Response(202)

    return HttpxSetPoster(httpx.Client(transport=httpx.MockTransport(handler))), headers


def test_a_push_in_a_trace_sends_a_child_span() -> None:
    poster, headers = pushed_traceparents()
    span = tracecontext.continue_from(CALLER)
    token = tracecontext.set_current(span)
    try:
        poster.post("https://school.example/events", "a.b.c")
    finally:
        tracecontext.reset(token)
    sent = tracecontext.parse_traceparent(headers[0])
    assert sent is not None
    assert sent.trace_id == CALLER_TRACE
    # A new span (its parent is ours): not our own span id, nor the caller's.
    assert sent.span_id not in (span.span_id, CALLER_SPAN)
    assert sent.sampled is True


def test_a_push_outside_a_trace_starts_one() -> None:
    poster, headers = pushed_traceparents()
    poster.post("https://school.example/events", "a.b.c")
    poster.post("https://school.example/events", "a.b.c")
    first, second = (tracecontext.parse_traceparent(h) for h in headers)
    assert first is not None
    assert second is not None
    assert first.trace_id != second.trace_id


def test_each_worker_round_runs_in_a_new_trace_and_leaves_none_behind() -> None:
    seen: list[tracecontext.TraceContext | None] = []

    def round_() -> bool:
        seen.append(tracecontext.current())
        return False

    worker = PeriodicWorker("test", round_, interval=1)
    worker.run_once()
    worker.run_once()
    assert seen[0] is not None
    assert seen[1] is not None
    assert seen[0].trace_id != seen[1].trace_id
    assert tracecontext.current() is None
