"""The leaf serialization as it was written before it was made faster (vault/audit/leaf.py at
commit b84107f, 2026-12-04), kept word for word as the reference: an entry logged once must
hash the same for ever, so the faster code must give these bytes for every stored event
(tests/property/test_leaf_properties.py, tests/integration/test_audit_log.py)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

VERSION = "regie.audit.v1"
SUBJECT_ID_TYPE = "regie:keyed-hash"
_PERSONS = frozenset({"resident", "representative", "auditor", "operator"})
_COPIED = (
    "name",
    "outcome",
    "reason",
    "actor",
    "datatype",
    "action",
    "purpose",
    "legal_basis",
    "trace_id",
    "span_id",
    "parent_span_id",
)
_IDS = ("event_id", "service_id", "grant_id", "procedure_id", "record_id")
NO_RESIDENT = uuid.UUID(int=0)


def timestamp(at: datetime) -> str:
    if at.tzinfo is None:
        raise ValueError("naive datetimes are not logged")
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry(row: Mapping[Any, Any], subject_hash: Callable[[str], str]) -> dict[str, str | None]:
    out: dict[str, str | None] = {"v": VERSION}
    for name in _COPIED:
        value = row[name]
        out[name] = None if value is None else str(value)
    for name in _IDS:
        value = row[name]
        out[name] = (
            None
            if value is None
            else str(value)
            if isinstance(value, uuid.UUID)
            else str(uuid.UUID(str(value)))
        )
    at = timestamp(row["at"])
    out["start_time"] = at
    out["end_time"] = at
    out["status_code"] = "ERROR" if row["outcome"] == "deny" else "OK"
    resident = uuid.UUID(str(row["resident_id"]))
    out["subject"] = None if resident == NO_RESIDENT else subject_hash(str(resident))
    out["subject_id_type"] = None if resident == NO_RESIDENT else SUBJECT_ID_TYPE
    actor_id = row["actor_id"]
    out["actor_id"] = (
        None
        if actor_id is None
        else subject_hash(str(actor_id))
        if row["actor"] in _PERSONS
        else str(actor_id)
    )
    return out


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def encode(value: Mapping[str, str | None]) -> bytes:
    for key, item in value.items():
        if not isinstance(key, str) or not (item is None or isinstance(item, str)):
            raise ValueError("an entry holds only strings and nulls")
    return _CANONICAL.encode(value).encode()
