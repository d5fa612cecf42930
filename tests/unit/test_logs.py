"""The log formatters and the server's logging configuration (api/logs.py)."""

from __future__ import annotations

import io
import json
import logging
import logging.config
import sys
from collections.abc import Iterator
from datetime import datetime

import pytest

from api.logs import FIELDS, JsonFormatter, TextFormatter, logging_config
from api.settings import Settings
from vault import tracecontext

CALLER = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def record(msg: str = "hello %s", *args: object, **extra: object) -> logging.LogRecord:
    rec = logging.LogRecord("regie.test", logging.WARNING, __file__, 1, msg, args or None, None)
    rec.__dict__.update(extra)
    return rec


def failing_record() -> logging.LogRecord:
    try:
        raise ValueError("the resident typed 'Anna de Vries, 1985-04-01'")
    except ValueError:
        exc_info = sys.exc_info()
    return logging.LogRecord("regie.test", logging.ERROR, __file__, 1, "failed", None, exc_info)


def test_a_json_line_has_the_fields_and_parses() -> None:
    line = JsonFormatter().format(
        record("hello %s", "world", route="/v1/x/{id}", status=200, duration_ms=1.5)
    )
    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["message"] == "hello world"
    assert (parsed["level"], parsed["logger"]) == ("WARNING", "regie.test")
    assert (parsed["route"], parsed["status"], parsed["duration_ms"]) == ("/v1/x/{id}", 200, 1.5)
    when = datetime.fromisoformat(parsed["time"].replace("Z", "+00:00"))
    assert when.utcoffset() is not None
    assert when.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    assert parsed["time"].endswith("Z")
    assert "trace_id" not in parsed  # outside a span there is none


def test_the_current_span_is_on_every_line() -> None:
    span = tracecontext.continue_from(CALLER)
    token = tracecontext.set_current(span)
    try:
        parsed = json.loads(JsonFormatter().format(record()))
        text = TextFormatter().format(record())
    finally:
        tracecontext.reset(token)
    assert parsed["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert parsed["span_id"] == span.span_id
    assert f"[{span.trace_id} {span.span_id}]" in text


def test_only_whitelisted_extra_fields_are_written() -> None:
    parsed = json.loads(
        JsonFormatter().format(record(route="/a", token="s3cret", headers={"cookie": "x"}))
    )
    assert parsed["route"] == "/a"
    assert "token" not in parsed
    assert "headers" not in parsed
    assert set(parsed) <= {
        "time",
        "level",
        "logger",
        "message",
        "trace_id",
        "span_id",
        "stack",
    } | set(FIELDS)


def test_an_exception_is_written_as_type_and_stack_never_its_message() -> None:
    parsed = json.loads(JsonFormatter().format(failing_record()))
    assert parsed["error_type"] == "ValueError"
    assert any("test_logs.py" in frame and "failing_record" in frame for frame in parsed["stack"])
    text = TextFormatter().format(failing_record())
    assert "ValueError" in text
    assert "failing_record" in text
    for out in (json.dumps(parsed), text):
        assert "Anna de Vries" not in out
        assert "1985-04-01" not in out


def test_a_non_json_value_is_written_as_text() -> None:
    parsed = json.loads(JsonFormatter().format(record(route=object())))
    assert parsed["route"].startswith("<object object at")


def test_text_lines_name_the_fields() -> None:
    text = TextFormatter().format(record("GET", method="GET", status=404))
    assert text.endswith("WARNING regie.test GET method=GET status=404")


# -- the configuration ----------------------------------------------------------------------


@pytest.fixture
def restore_logging() -> Iterator[None]:
    names = [None, "regie", "uvicorn", "uvicorn.error", "uvicorn.access", "sqlalchemy.engine"]
    saved = [
        (lg, lg.level, list(lg.handlers), lg.propagate, lg.disabled)
        for lg in (logging.getLogger(n) for n in names)
    ]
    try:
        yield
    finally:
        for lg, level, handlers, propagate, disabled in saved:
            lg.setLevel(level)
            lg.handlers[:] = handlers
            lg.propagate = propagate
            lg.disabled = disabled


def configured(stream: io.StringIO, **settings: str) -> None:
    config = logging_config(Settings(**settings))  # type: ignore[arg-type]
    config["handlers"]["stderr"]["stream"] = stream
    logging.config.dictConfig(config)


@pytest.mark.usefixtures("restore_logging")
def test_the_config_writes_json_and_keeps_libraries_at_warning() -> None:
    made_before = logging.getLogger("regie.api")  # as modules do at import time
    out = io.StringIO()
    configured(out, log_level="DEBUG")
    made_before.debug("own debug line")
    logging.getLogger("sqlalchemy.engine").info("SELECT ... ('resident-id',)")
    logging.getLogger("httpx").info("HTTP Request: GET http://x/v1/me/records/abc")
    logging.getLogger("uvicorn.access").warning("127.0.0.1 - GET /raw/path")
    logging.getLogger("uvicorn.error").info("Application startup complete.")
    logging.getLogger("somelib").warning("library warning")
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(x["logger"], x["message"]) for x in lines] == [
        ("regie.api", "own debug line"),
        ("uvicorn.error", "Application startup complete."),
        ("somelib", "library warning"),
    ]


@pytest.mark.usefixtures("restore_logging")
def test_the_level_and_the_text_format_can_be_chosen() -> None:
    out = io.StringIO()
    configured(out, log_format="text", log_level="warning")
    logging.getLogger("regie.api").info("not shown")
    logging.getLogger("regie.api").warning("shown")
    (line,) = out.getvalue().splitlines()
    assert line.endswith("WARNING regie.api shown")
    with pytest.raises(ValueError, match="log_format"):
        Settings(log_format="xml")  # type: ignore[arg-type]
