"""What auditors read: the log's entries, filtered, paged and exported; each query logged.

An auditor sees entries (`vault.audit.leaf`: metadata only, the resident as a keyed-hash
pseudonym) with their log index and leaf hash, never a record's contents: everything here is
built from table access_events, which holds none.

Every query and export is itself an access event (actor "auditor", actor_id the auditor's
id), committed before anything is read, so a query whose event cannot be written is not
answered (invariant I2). The filter is recorded in a non-personal form: the service and
purpose filtered on, the outcome, and which other filters were used (`reason`, e.g.
"since,until,subject"); a filter on one resident's pseudonym records the event under that
resident, so it shows in their own log; otherwise under `leaf.NO_RESIDENT`.

Only integrated entries are visible (those the latest checkpoint covers); pages are pinned to
one checkpoint `size` so that paging is stable while the log grows.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any, get_args

from sqlalchemy import ColumnElement, Table, bindparam, false, select, update

from vault.audit import leaf
from vault.audit.events import AccessEvent, Actor, Outcome, operator_event, record
from vault.audit.log import LoggedEvent, LogReader, StoredCheckpoint
from vault.audit.verify import b64
from vault.errors import InvalidInput
from vault.ports import Clock
from vault.storage.orm import AccessEventRow, ResidentRow
from vault.storage.unit_of_work import UnitOfWorkFactory

_SUBJECT = re.compile(r"[0-9a-f]{64}")
_PURPOSE = re.compile(r"[!-~]{1,200}")  # printable ASCII, no space: what a URI is made of
OUTCOMES: tuple[str, ...] = get_args(Outcome)
ACTORS: tuple[str, ...] = get_args(Actor)
MAX_PAGE = 1000
_FILL_BATCH = 5000
_RESIDENTS: Table = ResidentRow.__table__  # type: ignore[assignment]
# The flat columns of a CSV export: the index and leaf hash, then every member of an entry.
CSV_COLUMNS = (
    "index",
    "leaf_hash",
    "v",
    "event_id",
    "start_time",
    "end_time",
    "name",
    "outcome",
    "status_code",
    "reason",
    "actor",
    "actor_id",
    "subject",
    "subject_id_type",
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


_FILTERS = ("since", "until", "service_id", "purpose", "outcome", "subject", "actor")


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Which entries: every given condition must hold (none given: all of them).

    `since` is inclusive and `until` exclusive, on the event's time (`start_time`);
    `subject` is the keyed-hash pseudonym exactly as entries show it; `actor` who acted
    (`operator`: the operator's changes at the command line, which concern no resident)."""

    since: datetime | None = None
    until: datetime | None = None
    service_id: uuid.UUID | None = None
    purpose: str | None = None
    outcome: str | None = None
    subject: str | None = None
    actor: str | None = None

    def __post_init__(self) -> None:
        for name in ("since", "until"):
            moment = getattr(self, name)
            if moment is not None and moment.tzinfo is None:
                raise InvalidInput(f"`{name}` needs a time zone (e.g. 2026-12-02T09:00:00Z)")
            if moment is not None:
                try:
                    object.__setattr__(self, name, moment.astimezone(UTC))
                except OverflowError as e:  # e.g. 0001-01-01T00:00:00+01:00
                    raise InvalidInput(f"`{name}` is out of range") from e
        if self.since and self.until and self.since >= self.until:
            raise InvalidInput("`since` must be before `until`")
        if self.outcome is not None and self.outcome not in OUTCOMES:
            raise InvalidInput(f"`outcome` is one of {', '.join(OUTCOMES)}")
        if self.actor is not None and self.actor not in ACTORS:
            raise InvalidInput(f"`actor` is one of {', '.join(ACTORS)}")
        if self.purpose is not None and not _PURPOSE.fullmatch(self.purpose):
            # A URI has no spaces or control characters (PostgreSQL refuses a NUL outright).
            raise InvalidInput("`purpose` is a purpose URI of at most 200 characters")
        if self.subject is not None and not _SUBJECT.fullmatch(self.subject):
            raise InvalidInput("`subject` is a pseudonym as entries show it: 64 hex digits")

    @property
    def empty(self) -> bool:
        return all(getattr(self, f.name) is None for f in fields(self))

    def described(self) -> str | None:
        """The non-personal summary stored as the event's `reason`: which filters were used,
        with the outcome's value (service and purpose go in their own columns)."""
        used = [
            f"{name}={getattr(self, name)}" if name in ("outcome", "actor") else name
            for name in _FILTERS
            if getattr(self, name) is not None
        ]
        return ",".join(used)[:48] or None

    def as_json(self) -> dict[str, str]:
        """The filter as an export's header shows it."""
        out: dict[str, str] = {}
        for name in _FILTERS:
            value = getattr(self, name)
            if value is not None:
                out[name] = leaf.timestamp(value) if isinstance(value, datetime) else str(value)
        return out


@dataclass(frozen=True, slots=True)
class Page:
    checkpoint: StoredCheckpoint
    events: list[LoggedEvent]
    next_after: int | None  # pass as `after` for the next page; None: this was the last


class AuditorQueries:
    def __init__(self, *, uow: UnitOfWorkFactory, log: LogReader, clock: Clock) -> None:
        self._uow = uow
        self._log = log
        self._clock = clock

    def _resident_of(self, subject: str) -> uuid.UUID | None:
        """The resident a pseudonym names, or None. The keyed hash cannot be reversed, so
        each resident's is computed once and kept in `residents.audit_subject` (indexed):
        the residents without one yet (new since the last lookup) are filled in first."""
        with self._uow() as uow:
            while True:
                missing = uow.session.scalars(
                    select(ResidentRow.resident_id)
                    .where(ResidentRow.audit_subject.is_(None))
                    .limit(_FILL_BATCH)
                ).all()
                if not missing:
                    break
                # On the connection: the ORM would take this for a bulk update by key.
                uow.session.connection().execute(
                    update(_RESIDENTS)
                    .where(_RESIDENTS.c.resident_id == bindparam("rid"))
                    .values(audit_subject=bindparam("subject")),
                    [{"rid": r, "subject": self._log.subject_hash(str(r))} for r in missing],
                )
                uow.commit()
            found: uuid.UUID | None = uow.session.scalar(
                select(ResidentRow.resident_id).where(ResidentRow.audit_subject == subject)
            )
            return found

    def _conditions(self, f: EventFilter) -> tuple[list[ColumnElement[bool]], uuid.UUID | None]:
        c = AccessEventRow.__table__.c
        conditions: list[ColumnElement[bool]] = []
        if f.since is not None:
            conditions.append(c.at >= f.since)
        if f.until is not None:
            conditions.append(c.at < f.until)
        if f.service_id is not None:
            conditions.append(c.service_id == f.service_id)
        if f.purpose is not None:
            conditions.append(c.purpose == f.purpose)
        if f.outcome is not None:
            conditions.append(c.outcome == f.outcome)
        if f.actor is not None:
            conditions.append(c.actor == f.actor)
        resident = None
        if f.subject is not None:
            resident = self._resident_of(f.subject)
            # An unknown pseudonym matches nothing (not the events of no resident either).
            conditions.append(c.resident_id == resident if resident else false())
        return conditions, resident

    def _log_query(
        self, auditor_id: uuid.UUID, name: str, action: str, f: EventFilter, resident: Any
    ) -> None:
        with self._uow() as uow:
            record(
                uow,
                AccessEvent(
                    resident_id=resident or leaf.NO_RESIDENT,
                    name=name,
                    outcome="done",
                    actor="auditor",
                    actor_id=str(auditor_id),
                    reason=f.described(),
                    service_id=f.service_id,
                    purpose=f.purpose,
                    action=action,
                ),
                self._clock.now(),
            )
            uow.commit()

    def page(
        self,
        auditor_id: uuid.UUID,
        f: EventFilter,
        *,
        after: int = -1,
        limit: int = 100,
        size: int | None = None,
    ) -> Page:
        """One page of matching entries, index order, after index `after`, in checkpoint
        `size` (default: latest). Logged as `audit.query` before it is read."""
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidInput(f"`limit` is 1 to {MAX_PAGE}")
        conditions, resident = self._conditions(f)
        checkpoint = self._log.checkpoint(size)
        self._log_query(auditor_id, "audit.query", "query", f, resident)
        events = self._log.matching(conditions, size=checkpoint.size, after=after, limit=limit + 1)
        more = len(events) > limit
        events = events[:limit]
        return Page(checkpoint, events, events[-1].index if more else None)

    def export_jsonl(
        self, auditor_id: uuid.UUID, f: EventFilter, *, size: int | None = None
    ) -> Iterator[str]:
        """JSON lines (docs/audit-format.md): complete when unfiltered, else an excerpt with
        per-entry inclusion proofs; either verifies with `vault.audit.verify.verify_export`.
        Logged as `audit.export` before the first line is read."""
        conditions, resident = self._conditions(f)
        checkpoint = self._log.checkpoint(size)
        self._log_query(auditor_id, "audit.export", "jsonl", f, resident)
        if f.empty:
            return self._log.export(checkpoint.size)
        return self._log.excerpt(conditions, size=checkpoint.size, header={"filter": f.as_json()})

    def export_for_operator(
        self, operator: str, *, size: int | None = None
    ) -> tuple[StoredCheckpoint, Iterator[str]]:
        """The complete JSON Lines export for `regie audit export`: the whole log, as an
        auditor's unfiltered export, logged first as the operator's `audit.export` (a read
        of every resident's entries, so it is logged like an auditor's)."""
        checkpoint = self._log.checkpoint(size)
        with self._uow() as uow:
            record(uow, operator_event("audit.export", operator, action="jsonl"), self._clock.now())
            uow.commit()
        return checkpoint, self._log.export(checkpoint.size)

    def export_csv(
        self, auditor_id: uuid.UUID, f: EventFilter, *, size: int | None = None
    ) -> tuple[StoredCheckpoint, Iterator[str]]:
        """The matching entries as CSV rows (`CSV_COLUMNS`), header row first: for reading
        in a spreadsheet, not for verifying (no proofs). Logged as `audit.export`."""
        conditions, resident = self._conditions(f)
        checkpoint = self._log.checkpoint(size)
        self._log_query(auditor_id, "audit.export", "csv", f, resident)
        return checkpoint, self._csv(conditions, checkpoint.size)

    def _csv(self, conditions: list[ColumnElement[bool]], size: int) -> Iterator[str]:
        yield _csv_line(CSV_COLUMNS)
        after = -1
        while batch := self._log.matching(conditions, size=size, after=after, limit=MAX_PAGE):
            for event in batch:
                cells = [str(event.index), b64(event.leaf_hash)]
                cells += [_cell(event.entry.get(k) or "") for k in CSV_COLUMNS[2:]]
                yield _csv_line(cells)
            after = batch[-1].index


def _cell(value: str) -> str:
    # A spreadsheet runs a cell that starts like a formula: quote it (CSV is for reading;
    # the JSONL export has every value exactly).
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _csv_line(values: Any) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(values)
    return out.getvalue()
