"""The leaf serialization gives the bytes it always gave (tests/support/leaf_reference.py, the
code before it was made faster), for any stored event: any text in the copied columns
(unicode, quotes, backslashes, control characters, lone surrogates), UUIDs as objects or in
any spelling `uuid.UUID` reads, null where a column may be null, the nil resident, times in
any zone and any year a datetime holds (years below 1000 included: strftime does not pad
them). Also what the integrator hashes (`stored_leaf_hash`), the order of an entry's members
(exports show it), and `encode` of any mapping, entries and non-entries alike."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from support import leaf_reference as reference
from vault.audit import leaf, merkle


def keyed(value: str) -> str:
    return hmac.new(b"k" * 32, value.encode(), hashlib.sha256).hexdigest()


# Any character, lone surrogates too (they cannot be encoded as UTF-8: both must refuse).
ANY_TEXT = st.text(st.one_of(st.characters(), st.characters(categories=["Cs"])), max_size=40)
JSON_HARD = st.text(
    st.sampled_from(['"', "\\", "/", "\x00", "\x1f", "\x7f", "\u2028", "é", "€", "😀", "a"]),
    max_size=12,
)
TEXTS = st.one_of(ANY_TEXT, JSON_HARD)
SOME_UUID = st.integers(min_value=0, max_value=2**128 - 1).map(lambda n: uuid.UUID(int=n))
# A stored UUID: the object, or a text uuid.UUID reads (the old code normalized both).
STORED_UUID = st.one_of(
    SOME_UUID,
    SOME_UUID.map(str),
    SOME_UUID.map(lambda u: str(u).upper()),
    SOME_UUID.map(lambda u: u.hex),
    SOME_UUID.map(lambda u: "{" + str(u) + "}"),
    SOME_UUID.map(lambda u: u.urn),
)
RESIDENT = st.one_of(st.just(uuid.UUID(int=0)), st.just(str(uuid.UUID(int=0))), STORED_UUID)
ZONES = st.one_of(
    st.just(UTC),
    st.integers(min_value=-23 * 60, max_value=23 * 60).map(
        lambda m: timezone(timedelta(minutes=m))
    ),
)
# A day from either end, so that no zone takes the time out of a datetime's range; the bounds
# are naive, as Hypothesis wants them (the zone comes from `timezones`).
AT = st.datetimes(
    min_value=datetime(1, 1, 2),  # noqa: DTZ001 - see above
    max_value=datetime(9999, 12, 30),  # noqa: DTZ001 - see above
    timezones=ZONES,
)


@st.composite
def rows(draw: st.DrawFn) -> dict[str, Any]:
    def maybe(strategy: st.SearchStrategy[Any]) -> Any:
        return draw(st.one_of(st.none(), strategy))

    actor = draw(
        st.one_of(
            st.sampled_from(
                ["resident", "representative", "service", "auditor", "operator", "system"]
            ),
            TEXTS,
        )
    )
    return {
        "resident_id": draw(RESIDENT),
        "event_id": draw(STORED_UUID),
        "at": draw(AT),
        "name": draw(st.one_of(st.sampled_from(["record.read", "grant.ended"]), TEXTS)),
        "outcome": draw(st.one_of(st.sampled_from(["permit", "deny", "done"]), TEXTS)),
        "reason": maybe(TEXTS),
        "actor": actor,
        "actor_id": maybe(st.one_of(TEXTS, SOME_UUID.map(str))),
        "service_id": maybe(STORED_UUID),
        "grant_id": maybe(STORED_UUID),
        "procedure_id": maybe(STORED_UUID),
        "record_id": maybe(STORED_UUID),
        "datatype": maybe(TEXTS),
        "action": maybe(TEXTS),
        "purpose": maybe(TEXTS),
        "legal_basis": maybe(TEXTS),
        "trace_id": maybe(TEXTS),
        "span_id": maybe(TEXTS),
        "parent_span_id": maybe(TEXTS),
        "seq": draw(st.one_of(st.none(), st.integers(min_value=0))),  # not part of the entry
    }


def outcome(f: Any, *args: Any) -> tuple[str, Any]:
    """What `f(*args)` gives, or the type of what it raises (both must raise alike)."""
    try:
        return "value", f(*args)
    except (ValueError, TypeError) as e:
        return "error", type(e)


@settings(max_examples=3000, deadline=None)
@given(rows())
def test_every_stored_event_keeps_its_bytes(row: dict[str, Any]) -> None:
    old = outcome(reference.entry, row, keyed)
    new = outcome(leaf.entry, row, keyed)
    stored = leaf.texts(row)
    assert len(stored) == len(leaf.STORED)
    if old[0] == "error":  # a person's id with a lone surrogate has no keyed hash
        assert new == old
        assert outcome(leaf.stored_leaf_hash, stored, keyed) == old
        return
    assert list(new[1].items()) == list(old[1].items())  # same members, same order
    old_bytes = outcome(reference.encode, old[1])
    assert outcome(leaf.encode, new[1]) == old_bytes
    # Exports show the entry in that order, with ensure_ascii=False.
    assert json.dumps(new[1], ensure_ascii=False) == json.dumps(old[1], ensure_ascii=False)
    # What the integrator appends: the same leaf, from the stored texts.
    members = leaf.members(stored, keyed)
    assert list(members) == sorted(members)
    if old_bytes[0] == "value":
        assert leaf.stored_leaf_hash(stored, keyed) == merkle.leaf_hash(old_bytes[1])
        assert leaf.leaf_hash(new[1]) == merkle.leaf_hash(old_bytes[1])
        assert leaf.decode(old_bytes[1]) == old[1]
    else:  # a lone surrogate: no UTF-8 for it, then or now
        assert outcome(leaf.stored_leaf_hash, stored, keyed) == old_bytes


@settings(max_examples=3000, deadline=None)
@given(AT)
def test_every_time_keeps_its_text(at: datetime) -> None:
    assert leaf.timestamp(at) == reference.timestamp(at)


def test_years_below_1000_keep_strftimes_text() -> None:
    for year in (1, 5, 999, 1000, 9999):
        at = datetime(year, 6, 1, 2, 3, 4, 0, tzinfo=UTC)
        assert leaf.timestamp(at) == reference.timestamp(at)
    assert leaf.timestamp(datetime(5, 1, 1, tzinfo=UTC)) == "5-01-01T00:00:00.000000Z"


VALUES = st.one_of(
    st.none(),
    TEXTS,
    st.integers(),
    st.booleans(),
    st.floats(allow_nan=False),
    st.lists(st.text(max_size=3), max_size=2),
)
KEYS = st.one_of(TEXTS, st.integers(), st.none())


@settings(max_examples=2000, deadline=None)
@given(st.dictionaries(KEYS, VALUES, max_size=8))
def test_encode_of_any_mapping_gives_or_refuses_as_before(value: dict[Any, Any]) -> None:
    assert outcome(leaf.encode, value) == outcome(reference.encode, value)


@settings(max_examples=2000, deadline=None)
@given(rows(), st.dictionaries(st.sampled_from(leaf.MEMBERS), VALUES, max_size=4))
def test_encode_of_an_entry_with_any_values_gives_or_refuses_as_before(
    row: dict[str, Any], changed: dict[str, Any]
) -> None:
    """An object with exactly an entry's members (the encoder's fast path), any values."""
    try:
        value = {**reference.entry(row, keyed), **changed}
    except ValueError:
        return  # no keyed hash of a lone surrogate
    assert outcome(leaf.encode, value) == outcome(reference.encode, value)


class Text(str):
    """A str subclass: accepted as a string, then and now."""


def test_str_subclasses_are_strings_as_before() -> None:
    value = {Text("a"): Text("b"), "c": None}
    assert leaf.encode(value) == reference.encode(value) == b'{"a":"b","c":null}'
