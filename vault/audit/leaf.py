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
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from json.encoder import encode_basestring
from typing import Any

from vault.audit import merkle

VERSION = "regie.audit.v1"
SUBJECT_ID_TYPE = "regie:keyed-hash"
# Actors that are people: their ids are hashed like the subject's (an operator's id is the
# name they act under at the command line).
_PERSONS = frozenset({"resident", "representative", "auditor", "operator"})
# The stored columns an entry is made of, in the order `Stored` holds them.
STORED = (
    "resident_id",
    "event_id",
    "at",
    "name",
    "outcome",
    "reason",
    "actor",
    "actor_id",
    "service_id",
    "grant_id",
    "procedure_id",
    "record_id",
    "datatype",
    "action",
    "purpose",
    "legal_basis",
    "trace_id",
    "span_id",
    "parent_span_id",
)
# Of these, the UUIDs (written in their canonical text; the others are copied as they are).
UUIDS = frozenset(
    {"resident_id", "event_id", "service_id", "grant_id", "procedure_id", "record_id"}
)

Stored = tuple[str | None, ...]
"""The columns `STORED` of an event as the entry writes them: a UUID in its canonical text
(lowercase, 8-4-4-4-12, as `str(uuid.UUID)` and PostgreSQL's `uuid::text` write it), `at` as
`timestamp(at)`, the other columns as stored (strings or null); `resident_id` is never null."""

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
    utc = at.astimezone(UTC)
    if utc.year < _FOUR_DIGITS:
        # What these bytes have always been: strftime's %Y, which glibc does not pad (isoformat
        # would write year 5 as 0005).
        return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    # The text strftime gives, for less than half its cost: "2026-12-02T14:02:03.000123+00:00"
    # with "Z" for the zone.
    return utc.isoformat(timespec="microseconds")[:-6] + "Z"


_FOUR_DIGITS = 1000
NO_RESIDENT_TEXT = str(NO_RESIDENT)


def _uuid_text(value: Any) -> str:
    return str(value) if isinstance(value, uuid.UUID) else str(uuid.UUID(str(value)))


def texts(row: Mapping[Any, Any]) -> Stored:
    """`Stored` of a stored event (`row`: columns of table access_events, by name; a UUID as
    `uuid.UUID` or any text `uuid.UUID` reads, `at` an aware datetime)."""
    out: list[str | None] = []
    for name in STORED:
        value = row[name]
        if name == "at":
            out.append(timestamp(value))
        elif name == "resident_id":
            out.append(_uuid_text(value))
        elif value is None:
            out.append(None)
        elif name in UUIDS:
            out.append(_uuid_text(value))
        else:
            out.append(str(value))
    return tuple(out)


# The members of every entry, in canonical order (sorted by name).
MEMBERS = (
    "action",
    "actor",
    "actor_id",
    "datatype",
    "end_time",
    "event_id",
    "grant_id",
    "legal_basis",
    "name",
    "outcome",
    "parent_span_id",
    "procedure_id",
    "purpose",
    "reason",
    "record_id",
    "service_id",
    "span_id",
    "start_time",
    "status_code",
    "subject",
    "subject_id_type",
    "trace_id",
    "v",
)


def _values(stored: Stored, subject_hash: SubjectHash) -> tuple[str | None, ...]:
    """The values of the entry of a stored event, member by member as in `MEMBERS`."""
    (
        resident,
        event_id,
        at,
        name,
        outcome,
        reason,
        actor,
        actor_id,
        service_id,
        grant_id,
        procedure_id,
        record_id,
        datatype,
        action,
        purpose,
        legal_basis,
        trace_id,
        span_id,
        parent_span_id,
    ) = stored
    if resident is None:
        raise ValueError("every event is stored under a resident (or the nil UUID)")
    someone = resident != NO_RESIDENT_TEXT
    return (
        action,
        actor,
        None if actor_id is None else subject_hash(actor_id) if actor in _PERSONS else actor_id,
        datatype,
        at,  # end_time: an event records one moment, the decision or the change
        event_id,
        grant_id,
        legal_basis,
        name,
        outcome,
        parent_span_id,
        procedure_id,
        purpose,
        reason,
        record_id,
        service_id,
        span_id,
        at,  # start_time
        "ERROR" if outcome == "deny" else "OK",  # status_code
        subject_hash(resident) if someone else None,  # subject
        SUBJECT_ID_TYPE if someone else None,  # subject_id_type
        trace_id,
        VERSION,  # v
    )


def members(stored: Stored, subject_hash: SubjectHash) -> dict[str, str | None]:
    """The entry of a stored event, its members in canonical order."""
    return dict(zip(MEMBERS, _values(stored, subject_hash), strict=True))


# The order of an entry's members in exports and API answers (what `entry` has always
# returned; the canonical bytes sort them anyway).
_SHOWN = (
    "v",
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
    "event_id",
    "service_id",
    "grant_id",
    "procedure_id",
    "record_id",
    "start_time",
    "end_time",
    "status_code",
    "subject",
    "subject_id_type",
    "actor_id",
)


def entry(row: Mapping[Any, Any], subject_hash: SubjectHash) -> dict[str, str | None]:
    """The entry of a stored event (`row`: columns of table access_events)."""
    value = members(texts(row), subject_hash)
    return {name: value[name] for name in _SHOWN}


# For an object of strings and nulls: sorted member names, no whitespace, UTF-8, JSON's
# minimal escapes (json's C encoder). No nesting, so no check for cycles.
_CANONICAL = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, check_circular=False
)
# The same for an object of exactly the members `MEMBERS`: their names in order, each value
# put in by `%` as null or as the JSON string that encoder writes (`_string` is the function
# it calls for a string, with ensure_ascii=False). No sorting, no encoder to set up per call.
_TEMPLATE = "{" + ",".join(f'"{name}":%s' for name in MEMBERS) + "}"
_MEMBER_NAMES = frozenset(MEMBERS)
_string = encode_basestring


def _fill(values: Iterable[str | None]) -> bytes:
    """The canonical bytes of the entry with these values of `MEMBERS`, in order; TypeError
    for a value that is neither a string nor None."""
    return (_TEMPLATE % tuple(["null" if v is None else _string(v) for v in values])).encode()


def encode(value: Mapping[str, str | None]) -> bytes:
    """The canonical bytes of an entry (JCS for an object of strings and nulls)."""
    if value.keys() == _MEMBER_NAMES:  # an entry as `entry` makes them: every member
        try:
            return _fill([value[name] for name in MEMBERS])
        except TypeError as e:
            raise ValueError("an entry holds only strings and nulls") from e
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


def stored_leaf_hash(stored: Stored, subject_hash: SubjectHash) -> bytes:
    """`leaf_hash(entry(row))` of the stored event whose `texts(row)` is `stored` (what the
    integrator appends): the same bytes, without the dict and the sorting."""
    return merkle.leaf_hash(_fill(_values(stored, subject_hash)))
