"""The one function through which every access attempt and lifecycle change is recorded.

`record` adds the event to the caller's unit of work, so it commits atomically with the action
it describes (invariant I2): if the event cannot be written, the transaction fails and the
action with it. A denied attempt is recorded too: the caller commits the event, then refuses.
The verifiable log (its own issue) makes these rows tamper-evident without touching callers.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from vault.storage.orm import AccessEventRow
from vault.storage.unit_of_work import SqlUnitOfWork

Outcome = Literal["permit", "deny", "done"]
Actor = Literal["resident", "service", "system"]


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


def record(uow: SqlUnitOfWork, event: AccessEvent, at: datetime) -> uuid.UUID:
    """Add `event` to the unit of work; it commits (or fails) with the caller's action."""
    event_id = uuid.uuid4()
    uow.session.add(
        AccessEventRow(
            resident_id=event.resident_id,
            event_id=event_id,
            at=at,
            name=event.name,
            outcome=event.outcome,
            reason=event.reason,
            actor=event.actor,
            actor_id=event.actor_id,
            service_id=event.service_id,
            grant_id=event.grant_id,
            procedure_id=event.procedure_id,
            record_id=event.record_id,
            datatype=event.datatype,
            action=event.action,
        )
    )
    return event_id
