"""The canonical serialization of an access event: the bytes a leaf of the log hashes.

One entry is a JSON object (docs/audit-format.md) whose members are all strings or null,
serialized with sorted member names, no whitespace, UTF-8 and JSON's minimal escapes. For an
object of strings and nulls that is exactly RFC 8785 (JCS), so any JCS implementation, or
`json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`, reproduces
the bytes. The leaf hash is RFC 9162's `SHA-256(0x00 || entry)`.

No plaintext personal data goes into an entry (design.md §4): the resident is named by a
keyed hash (`subject`), as is a person who acted (`actor_id` of a resident, representative
or auditor); record contents and free texts are never in it. A vault shredded later
therefore leaves its entries, and the log, verifiable.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from vault.audit import merkle

VERSION = "regie.audit.v1"
SUBJECT_ID_TYPE = "regie:keyed-hash"
# Actors that are people: their ids are hashed like the subject's (an operator's id is the
# name they act under at the command line).
_PERSONS = frozenset({"resident", "representative", "auditor", "operator"})
# The stored columns an entry is made of, besides the ones it derives.
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

# Events that concern no resident (an auditor's query of the whole log, for one) are stored
# under the nil UUID, since access_events has resident_id in its key; their entry has
# `subject: null` and `subject_id_type: null` (docs/audit-format.md).
NO_RESIDENT = uuid.UUID(int=0)

SubjectHash = Callable[[str], str]
"""Keyed hash of a person's id (`keys.secrets` purpose "audit-subject"), as lowercase hex."""


def timestamp(at: datetime) -> str:
    """RFC 3339 in UTC with microseconds, e.g. 2026-12-02T14:02:03.000123Z."""
    if at.tzinfo is None:
        raise ValueError("naive datetimes are not logged")
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry(row: Mapping[Any, Any], subject_hash: SubjectHash) -> dict[str, str | None]:
    """The entry of a stored event (`row`: columns of table access_events)."""
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
    out["end_time"] = at  # an event records one moment: the decision or the change
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
    """The canonical bytes of an entry (JCS for an object of strings and nulls)."""
    for key, item in value.items():
        if not isinstance(key, str) or not (item is None or isinstance(item, str)):
            raise ValueError("an entry holds only strings and nulls")
    return _CANONICAL.encode(value).encode()


def decode(raw: bytes) -> dict[str, str | None]:
    """An entry from its canonical bytes; ValueError if they are not canonical."""
    value = json.loads(raw)
    if not isinstance(value, dict):
        raise ValueError("an entry is a JSON object")
    if encode(value) != raw:
        raise ValueError("the entry is not in canonical form")
    return value


def leaf_hash(value: Mapping[str, str | None]) -> bytes:
    """RFC 9162's leaf hash of an entry; ValueError if it is not an object of strings."""
    return merkle.leaf_hash(encode(value))


def own_leaf_hash(value: dict[str, str | None]) -> bytes:
    """`leaf_hash` of an entry `entry` just built (its members are strings by construction)."""
    return merkle.leaf_hash(_CANONICAL.encode(value).encode())
