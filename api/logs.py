"""Log lines for operators: JSON (one object a line) or text, never a secret or personal data.

`logging_config(settings)` is the one logging configuration of a server process (`regie
serve` hands it to uvicorn, which applies it in every worker). Both formatters write the same
fields:

    {"time": "2026-12-02T10:00:00.123456Z", "level": "INFO", "logger": "regie.access",
     "message": "GET /v1/service/records/{record_id} 200 12.3 ms",
     "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "span_id": "00f067aa0ba902b7",
     "method": "GET", "route": "/v1/service/records/{record_id}", "status": 200,
     "duration_ms": 12.3}

`trace_id` and `span_id` are the current span of vault.tracecontext (the request's, or the
background round's), absent outside one. Only the fields in `FIELDS` are copied from a log
call's `extra`; anything else a caller passes is dropped, so a new field is a reviewed change
here. An exception is written as its type and its stack (file, line, function), never its
message: messages of database and parsing errors quote the data that failed.

What keeps secrets out is mostly what is *not* logged: Regie's own lines carry route
templates, statuses and exception types only; and libraries log at WARNING and above whatever
REGIE_LOG_LEVEL says, because at INFO and DEBUG SQLAlchemy, aiosqlite and httpx log SQL
parameters (resident ids) and URLs.
"""

from __future__ import annotations

import json
import logging
import traceback
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from api.settings import Settings
from vault import tracecontext

__all__ = ["FIELDS", "JsonFormatter", "TextFormatter", "fields", "logging_config"]

# The structured fields a log call may add (`log.info(..., extra={"route": ...})`).
FIELDS = ("method", "route", "status", "duration_ms", "error_type")

# Loggers that follow REGIE_LOG_LEVEL; every other logger is held at LIBRARY_LEVEL.
OWN_LOGGERS = ("regie", "uvicorn", "uvicorn.error")
LIBRARY_LEVEL = "WARNING"


def _stack(tb: TracebackType | None) -> list[str]:
    return [f"{f.filename}:{f.lineno} in {f.name}" for f in traceback.extract_tb(tb)]


def fields(record: logging.LogRecord) -> dict[str, Any]:
    """The fields of one line, in output order (see the module docstring)."""
    out: dict[str, Any] = {
        "time": datetime.fromtimestamp(record.created, UTC)
        .isoformat(timespec="microseconds")
        .replace("+00:00", "Z"),
        "level": record.levelname,
        "logger": record.name,
        "message": record.getMessage(),
    }
    span = tracecontext.current()
    if span is not None:
        out["trace_id"] = span.trace_id
        out["span_id"] = span.span_id
    for name in FIELDS:
        value = record.__dict__.get(name)
        if value is not None:
            out[name] = value
    if record.exc_info and record.exc_info[0] is not None:
        out.setdefault("error_type", record.exc_info[0].__name__)
        out["stack"] = _stack(record.exc_info[2])
    return out


class JsonFormatter(logging.Formatter):
    """One JSON object per line; non-JSON values are written as their `str`."""

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(fields(record), default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """The same fields for a terminal: `time level logger [trace span] message key=value`.

    Like the JSON formatter it never prints an exception's message (the stack only)."""

    def format(self, record: logging.LogRecord) -> str:
        f = fields(record)
        trace = f" [{f['trace_id']} {f['span_id']}]" if "trace_id" in f else ""
        extra = "".join(f" {name}={f[name]}" for name in FIELDS if name in f)
        line = f"{f['time']} {f['level']} {f['logger']}{trace} {f['message']}{extra}"
        if "stack" in f:
            line += "".join(f"\n    at {frame}" for frame in f["stack"])
        return line


def logging_config(settings: Settings) -> dict[str, Any]:
    """A `logging.config.dictConfig` for a server process: one handler on standard error with
    the chosen formatter; Regie's and uvicorn's loggers at REGIE_LOG_LEVEL, all others at
    WARNING; uvicorn's access log off (api.middleware.TraceMiddleware writes a better one)."""
    formatter = JsonFormatter if settings.log_format == "json" else TextFormatter
    level = settings.log_level.upper()
    own = {name: {"level": level, "handlers": [], "propagate": True} for name in OWN_LOGGERS}
    return {
        "version": 1,
        # Loggers made at import time (regie.api, ...) must keep working.
        "disable_existing_loggers": False,
        "formatters": {"regie": {"()": f"{formatter.__module__}.{formatter.__qualname__}"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "regie",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": LIBRARY_LEVEL, "handlers": ["stderr"]},
        "loggers": {
            **own,
            "uvicorn.access": {"level": LIBRARY_LEVEL, "handlers": [], "propagate": False},
        },
    }
