"""W3C Trace Context (https://www.w3.org/TR/trace-context/) for the current request.

The API's middleware continues an incoming `traceparent` (or starts a trace) and sets it here
for the request; the access log (Logboek Dataverwerkingen: `trace_id`, `span_id`,
`parent_span_id`) and the structured logs read it from here. Code outside a request (the
sweeper, the integrator, the CLI) starts its own trace with `start()`.

Written by hand because the OpenTelemetry SDK would bring a tracer provider, exporters and
sampling we do not use; the `traceparent` grammar is small and fixed (version 00).
"""

from __future__ import annotations

import re
import secrets
from contextvars import ContextVar, Token
from dataclasses import dataclass

_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$")
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16


@dataclass(frozen=True, slots=True)
class TraceContext:
    """One span: the trace it belongs to, its own id, and the caller's span (if any)."""

    trace_id: str  # 32 lowercase hex, never all zeros
    span_id: str  # 16 lowercase hex, never all zeros
    parent_span_id: str | None = None
    sampled: bool = False

    @property
    def traceparent(self) -> str:
        """The `traceparent` header value that continues this span downstream."""
        return f"00-{self.trace_id}-{self.span_id}-{'01' if self.sampled else '00'}"

    def child(self) -> TraceContext:
        """A new span in the same trace, with this span as its parent."""
        return TraceContext(self.trace_id, _new_span_id(), self.span_id, self.sampled)


def _new_span_id() -> str:
    while (span := secrets.token_hex(8)) == _ZERO_SPAN:  # pragma: no cover - 2**-64
        pass
    return span


def start() -> TraceContext:
    """A new trace with a new root span."""
    while (trace := secrets.token_hex(16)) == _ZERO_TRACE:  # pragma: no cover - 2**-128
        pass
    return TraceContext(trace, _new_span_id())


def parse_traceparent(value: str | None) -> TraceContext | None:
    """The caller's span from a `traceparent` header, or None when absent or invalid (the
    spec says: then start a new trace). Version ff is invalid; higher versions are read as
    00 when their first four fields parse, as the spec asks."""
    if not value:
        return None
    match = _TRACEPARENT.match(value.strip())
    if match is None:
        return None
    version, trace_id, span_id, flags, rest = match.groups()
    if version == "ff" or (version == "00" and rest is not None):
        return None
    if trace_id == _ZERO_TRACE or span_id == _ZERO_SPAN:
        return None
    return TraceContext(trace_id, span_id, None, bool(int(flags, 16) & 0x01))


def continue_from(traceparent: str | None) -> TraceContext:
    """The server span for a request: a child of the caller's span, or a new trace."""
    parent = parse_traceparent(traceparent)
    return parent.child() if parent is not None else start()


_current: ContextVar[TraceContext | None] = ContextVar("regie_trace", default=None)


def current() -> TraceContext | None:
    """The span of the request (or job) being handled, if one was set."""
    return _current.get()


def set_current(context: TraceContext | None) -> Token[TraceContext | None]:
    """Make `context` current; pass the token to `reset` when the request ends."""
    return _current.set(context)


def reset(token: Token[TraceContext | None]) -> None:
    _current.reset(token)
