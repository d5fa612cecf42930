"""What an operator watches that lives in the database: work the vault has not done yet.

`backlog` reads, in one short read-only transaction, how far the two background duties are
behind: pushing events to services (the outbox, vault/events/) and taking committed access
events into the verifiable log (vault/audit/log.py). Each count uses an index made for it
(`ix_event_outbox_due`, `ix_access_events_unsequenced`), so a scrape stays cheap at millions
of rows. Only counts and ages: nothing that names a resident or a service.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from vault.storage.orm import AccessEventRow, AuditCheckpointRow, OutboxRow
from vault.storage.unit_of_work import UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class Backlog:
    outbox_pending: int  # events no service has taken yet (pushes due, or waiting for a poll)
    outbox_oldest_pending_seconds: float  # 0 when none is pending
    audit_unintegrated: int  # committed access events not yet in the verifiable log
    audit_oldest_unintegrated_seconds: float  # the log's integration lag; 0 when none waits
    audit_tree_size: int  # entries under the latest signed checkpoint
    audit_checkpoint_age_seconds: float | None  # None before the first checkpoint


def _age(now: datetime, then: datetime | None) -> float:
    if then is None:
        return 0.0
    if then.tzinfo is None:  # SQLite hands back naive UTC
        then = then.replace(tzinfo=now.tzinfo)
    return max(0.0, (now - then).total_seconds())


def backlog(uow: UnitOfWorkFactory, now: datetime) -> Backlog:
    with uow() as work:
        session = work.session
        outbox_count, outbox_oldest = session.execute(
            select(func.count(), func.min(OutboxRow.created_at)).where(
                OutboxRow.delivered_at.is_(None)
            )
        ).one()
        audit_count, audit_oldest = session.execute(
            select(func.count(), func.min(AccessEventRow.at)).where(AccessEventRow.seq.is_(None))
        ).one()
        latest = session.execute(
            select(AuditCheckpointRow.size, AuditCheckpointRow.signed_at)
            .order_by(AuditCheckpointRow.size.desc())
            .limit(1)
        ).first()
    return Backlog(
        outbox_pending=int(outbox_count),
        outbox_oldest_pending_seconds=_age(now, outbox_oldest),
        audit_unintegrated=int(audit_count),
        audit_oldest_unintegrated_seconds=_age(now, audit_oldest),
        audit_tree_size=int(latest[0]) if latest else 0,
        audit_checkpoint_age_seconds=_age(now, latest[1]) if latest else None,
    )
