"""W3C Trace Context parsing: what is continued, what starts a new trace."""

from __future__ import annotations

import pytest

from vault import tracecontext as tc

VALID = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_a_valid_traceparent_is_continued_as_a_child_span() -> None:
    span = tc.continue_from(VALID)
    assert span.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert span.parent_span_id == "00f067aa0ba902b7"
    assert span.span_id != "00f067aa0ba902b7"
    assert len(span.span_id) == 16
    assert span.sampled is True
    assert span.traceparent == f"00-{span.trace_id}-{span.span_id}-01"


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "garbage",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  # zero trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  # zero span id
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # version ff
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  # upper case
        VALID + "-extra",  # version 00 has exactly four fields
        "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",  # short trace id
    ],
)
def test_an_absent_or_invalid_traceparent_starts_a_new_trace(value: str | None) -> None:
    assert tc.parse_traceparent(value) is None
    span = tc.continue_from(value)
    assert span.parent_span_id is None
    assert span.trace_id != "4bf92f3577b34da6a3ce929d0e0e4736"


def test_a_future_version_is_read_by_its_first_four_fields() -> None:
    parent = tc.parse_traceparent("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-x")
    assert parent is not None
    assert parent.sampled is False


def test_current_is_set_and_reset() -> None:
    assert tc.current() is None
    span = tc.start()
    token = tc.set_current(span)
    assert tc.current() == span
    tc.reset(token)
    assert tc.current() is None
