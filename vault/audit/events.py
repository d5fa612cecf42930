"""Access events: every access attempt and lifecycle change, recorded through one place.

`event_row` builds the stored values of an event (the one place they are built). Two ways
write them, each atomic with what it describes (invariant I2):

- `record(uow, event, at)` adds the event to the caller's sync unit of work, so it commits
  (or fails) with the caller's action. A denied attempt is recorded too: the caller commits
  the event, then refuses. `record_many(uow, events, at)` is its batch form (the sweeper's:
  one INSERT for thousands of changes, in the transaction that makes them).
- `AccessLog.commit(claims, event, at)` is the async hot path's writer (the data API, the
  token endpoint's client authentication): it writes the event together with the request's
  replay-cache claims (DPoP proof and client assertion `jti`s) and returns once they are
  committed, or raises, so the caller answers only after its event is durable. Concurrent
  requests share one transaction (group commit): while one batch commits, the next gathers.

The integrator (`vault.audit.log`) then sequences the committed rows into the verifiable
log (RFC 9162 Merkle tree, signed checkpoints); callers do not know about it.
"""

from __future__ import annotations

import asyncio
import operator
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from vault import tracecontext
from vault.audit.leaf import NO_RESIDENT
from vault.errors import InvalidInput, ReplayDetected, StorageUnavailable
from vault.ports import Clock
from vault.storage import queries
from vault.storage.async_uow import AsyncUnitOfWork
from vault.storage.bulk import copy_rows
from vault.storage.hot_path import HotPath, OwnedClaim
from vault.storage.orm import AccessEventRow
from vault.storage.unit_of_work import SqlUnitOfWork

Outcome = Literal["permit", "deny", "done"]
# Who acted: the resident, someone acting for them under a mandate (actor_id = mandate id), a
# service, an auditor reading the log, an operator at the CLI, or the vault itself.
Actor = Literal["resident", "representative", "service", "auditor", "operator", "system"]


@dataclass(frozen=True, slots=True)
class AccessEvent:
    resident_id: uuid.UUID
    name: str  # record.read, record.write, record.list, grant.requested, grant.approved, ...
    outcome: Outcome
    actor: Actor
    actor_id: str | None = None
    reason: str | None = None
    service_id: uuid.UUID | None = None
    grant_id: uuid.UUID | None = None
    procedure_id: uuid.UUID | None = None
    record_id: uuid.UUID | None = None
    datatype: str | None = None
    action: str | None = None
    purpose: str | None = None  # a DPV purpose URI (never free text)
    legal_basis: str | None = None  # a DPV legal basis URI


OPERATOR_NAME_MAX = 64  # access_events.actor_id


def operator_name(value: str) -> str:
    """The name an operator acts under (`regie ... --operator`, default the OS user), checked:
    1 to 64 printable characters, not a UUID (entries hash a person's id, and a UUID would
    read as a resident's or auditor's pseudonym). `InvalidInput` otherwise."""
    name = " ".join(value.split())
    if not name or len(name) > OPERATOR_NAME_MAX or not name.isprintable():
        raise InvalidInput(f"an operator's name is 1 to {OPERATOR_NAME_MAX} printable characters")
    try:
        uuid.UUID(name)
    except ValueError:
        return name
    raise InvalidInput("an operator's name is a name, not an id")


def operator_event(
    name: str,
    operator: str,
    *,
    service_id: uuid.UUID | None = None,
    reason: str | None = None,
    action: str | None = None,
) -> AccessEvent:
    """An operator's change at the command line (`service.registered`, `key.rotated`, ...): it
    concerns no resident, so it is stored under `NO_RESIDENT` and its entry has no subject; the
    operator's name is its `actor_id` (hashed in the entry, like every person's id). Record it
    in the unit of work of the change itself, so neither commits without the other."""
    return AccessEvent(
        resident_id=NO_RESIDENT,
        name=name,
        outcome="done",
        actor="operator",
        actor_id=operator_name(operator),
        service_id=service_id,
        reason=reason,
        action=action,
    )


@dataclass(frozen=True, slots=True)
class ReplayClaim:
    """A one-time value (a `jti`) to remember until it expires; refused if seen before."""

    namespace: str  # "dpop" | "client_assertion"
    value: str
    expires_at: datetime


def event_row(event: AccessEvent, at: datetime) -> dict[str, Any]:
    """The stored values of `event` (table access_events): built here and nowhere else.

    The trace is the current request's (`vault.tracecontext`), so an auditor can follow one
    request across the log and the operator's logs; `seq` stays empty until the integrator
    takes the event into the verifiable log."""
    trace = tracecontext.current()
    return {
        "resident_id": event.resident_id,
        "event_id": uuid.uuid4(),
        "at": at,
        "name": event.name,
        "outcome": event.outcome,
        "reason": event.reason,
        "actor": event.actor,
        "actor_id": event.actor_id,
        "service_id": event.service_id,
        "grant_id": event.grant_id,
        "procedure_id": event.procedure_id,
        "record_id": event.record_id,
        "datatype": event.datatype,
        "action": event.action,
        "purpose": event.purpose,
        "legal_basis": event.legal_basis,
        "trace_id": trace.trace_id if trace else None,
        "span_id": trace.span_id if trace else None,
        "parent_span_id": trace.parent_span_id if trace else None,
    }


# An `event_row` as the tuple `queries.EVENT_COLUMNS` orders (the COPY of `record_many`).
_EVENT_VALUES = operator.itemgetter(*(c for c, _ in queries.EVENT_COLUMNS))


def record(uow: SqlUnitOfWork, event: AccessEvent, at: datetime) -> uuid.UUID:
    """Add `event` to the unit of work; it commits (or fails) with the caller's action."""
    values = event_row(event, at)
    uow.session.add(AccessEventRow(**values))
    event_id: uuid.UUID = values["event_id"]
    return event_id


def record_many(uow: SqlUnitOfWork, events: Sequence[AccessEvent], at: datetime) -> None:
    """`record` for each of `events`, in one bulk write on the caller's unit of work (COPY
    on PostgreSQL, vault/storage/bulk.py; one INSERT elsewhere): written (or not) with the
    caller's action, like `record`."""
    if not events:
        return
    uow.flush()  # rows `record` added before go first, as they would have
    rows = [event_row(event, at) for event in events]
    if uow.dialect != "postgresql":
        uow.session.execute(*queries.insert_access_events(uow.dialect, rows))
        return
    if at.tzinfo is None:  # what the column type refuses on the ORM's path
        raise ValueError("naive datetimes are not stored; use UTC-aware ones")
    copy_rows(uow.session, "access_events", queries.EVENT_COLUMNS, map(_EVENT_VALUES, rows))


async def claim_replays(uow: AsyncUnitOfWork, claims: Sequence[ReplayClaim], now: datetime) -> None:
    """Record `claims` in the caller's transaction; `ReplayDetected` (naming the namespaces)
    if any was seen before, by any worker. Then the caller must not commit."""
    if not claims:
        return
    keys = [(c.namespace, c.value) for c in claims]
    if len(set(keys)) != len(keys):
        raise ReplayDetected(
            "a one-time value was used twice", namespaces=frozenset(k[0] for k in keys)
        )
    result = await uow.execute(
        *queries.claim_replays(
            uow.dialect, [(c.namespace, c.value, c.expires_at) for c in claims], now
        )
    )
    fresh = {(row.namespace, row.value) for row in result}
    seen = frozenset(n for n, v in keys if (n, v) not in fresh)
    if seen:
        raise ReplayDetected("a one-time value was used before", namespaces=seen)


@dataclass(slots=True)
class _Pending:
    claims: tuple[ReplayClaim, ...]
    event: dict[str, Any] | None
    done: asyncio.Future[None]
    replayed: bool = field(default=False)


class AccessLog:
    """Group commit of access events and replay claims for the async hot path.

    `commit` queues one request's claims and event and waits for the transaction that holds
    them. One flusher per event loop takes everything queued and, in one transaction
    (`HotPath.claim_and_log`; on PostgreSQL one statement), claims the replay values and
    inserts the events of the requests whose claims were all new, then wakes each request:
    done, `ReplayDetected` (nothing of that request was written but its new claims), or
    `StorageUnavailable` when the transaction failed (fail closed: the caller must not serve).
    """

    def __init__(self, *, store: HotPath, clock: Clock, max_batch: int = 256) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be positive")
        self._store = store
        self._clock = clock
        self._max_batch = max_batch
        self._queue: list[_Pending] = []
        self._flusher: asyncio.Task[None] | None = None

    async def commit(
        self, claims: Sequence[ReplayClaim], event: AccessEvent | None, at: datetime
    ) -> None:
        loop = asyncio.get_running_loop()
        pending = _Pending(
            tuple(claims), event_row(event, at) if event else None, loop.create_future()
        )
        self._queue.append(pending)
        if self._flusher is None or self._flusher.done():
            self._flusher = loop.create_task(self._flush())
        # shield: a request that goes away (client disconnect) leaves its batch alone.
        await asyncio.shield(pending.done)

    async def _flush(self) -> None:
        while self._queue:
            batch = self._queue[: self._max_batch]
            del self._queue[: self._max_batch]
            try:
                await self._write(batch)
            except BaseException as e:
                failure = (
                    e
                    if isinstance(e, StorageUnavailable)
                    else StorageUnavailable("the access log could not be written")
                )
                for item in batch:
                    if not item.done.done():
                        item.done.set_exception(failure)
                if not isinstance(e, Exception):
                    raise
                continue
            for item in batch:
                if item.done.done():
                    continue
                if item.replayed:
                    item.done.set_exception(
                        ReplayDetected(
                            "a one-time value was used before",
                            namespaces=frozenset(c.namespace for c in item.claims),
                        )
                    )
                else:
                    item.done.set_result(None)

    async def _write(self, batch: list[_Pending]) -> None:
        seen: set[tuple[str, str]] = set()
        claims: list[OwnedClaim] = []
        for owner, item in enumerate(batch):
            for c in item.claims:
                key = (c.namespace, c.value)
                if key in seen:  # twice in one batch: the second is a replay
                    item.replayed = True
                    continue
                seen.add(key)
                claims.append((owner, c.namespace, c.value, c.expires_at))
        # A request replayed within the batch writes its new claims, never its event; the
        # others' events are written if all their claims were new (`HotPath.claim_and_log`).
        events = [
            (owner, item.event)
            for owner, item in enumerate(batch)
            if item.event is not None and not item.replayed
        ]
        fresh = await self._store.claim_and_log(claims, events, self._clock.now())
        for item in batch:
            if not item.replayed and any((c.namespace, c.value) not in fresh for c in item.claims):
                item.replayed = True
