"""The outbox table's queries. Events are per service: no query here names a resident.

Built on the caller's unit of work (`SqlOutboxRepository(uow.session)`), so an event is added
in the same transaction as the change it reports.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import and_, case, delete, select, update
from sqlalchemy.orm import Session

from vault.storage.orm import FINISHED, FINISHED_AT, OutboxRow, ServiceRow


class SqlOutboxRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def add(self, row: OutboxRow) -> None:
        self._s.add(row)

    def get(self, event_id: uuid.UUID, *, for_update: bool = False) -> OutboxRow | None:
        stmt = select(OutboxRow).where(OutboxRow.event_id == event_id)
        if for_update:
            stmt = stmt.with_for_update()
        return self._s.scalars(stmt).one_or_none()

    def due(self, now: datetime, limit: int) -> Sequence[tuple[OutboxRow, str]]:
        """Events whose next push is due, of active services with an endpoint for them (the
        event endpoint for a SET, the client notification endpoint for a ping), oldest attempt
        first, each with that endpoint; locked for the caller's transaction.

        On PostgreSQL rows another transaction holds are skipped (FOR UPDATE OF event_outbox
        SKIP LOCKED), so concurrent pushers each claim different events and never wait on each
        other. SQLite renders no FOR UPDATE: its transactions begin IMMEDIATE (one writer at a
        time, vault/storage/engine.py), which serialises the claims instead.
        """
        endpoint = case(
            (OutboxRow.kind == "ping", ServiceRow.backchannel_client_notification_endpoint),
            else_=ServiceRow.event_endpoint,
        )
        rows = self._s.execute(
            select(OutboxRow, endpoint)
            .join(ServiceRow, ServiceRow.service_id == OutboxRow.service_id)
            .where(
                OutboxRow.delivered_at.is_(None),
                OutboxRow.next_attempt_at <= now,
                endpoint.is_not(None),
                ServiceRow.status == "active",
            )
            .order_by(OutboxRow.next_attempt_at, OutboxRow.created_at)
            .limit(limit)
            .with_for_update(of=OutboxRow, skip_locked=True)
        ).all()
        return [(row, endpoint) for row, endpoint in rows if endpoint]

    def undelivered(self, service_id: uuid.UUID, limit: int) -> Sequence[OutboxRow]:
        """The service's SETs it has not taken yet, oldest first (pings are pushed only)."""
        return self._s.scalars(
            select(OutboxRow)
            .where(
                OutboxRow.service_id == service_id,
                OutboxRow.kind == "set",
                OutboxRow.delivered_at.is_(None),
            )
            .order_by(OutboxRow.created_at, OutboxRow.jti)
            .limit(limit)
        ).all()

    def take(
        self,
        service_id: uuid.UUID,
        jtis: Collection[str],
        now: datetime,
        *,
        via: str,
        outcome: str,
        error: str | None = None,
    ) -> int:
        """Mark the service's own undelivered SETs with these `jti`s as taken; others (of
        another service, unknown, taken already, or pings) are left alone. Returns how many."""
        if not jtis:
            return 0
        values: dict[str, object] = {
            "delivered_at": now,
            "delivered_via": via,
            "outcome": outcome,
            "next_attempt_at": None,
        }
        if error is not None:
            values["last_error"] = error[:200]
        result = self._s.execute(
            update(OutboxRow)
            .where(
                OutboxRow.service_id == service_id,
                OutboxRow.kind == "set",
                OutboxRow.jti.in_(list(jtis)),
                OutboxRow.delivered_at.is_(None),
            )
            .values(values)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    def purge(self, before: datetime, limit: int) -> int:
        """Delete up to `limit` events that are finished and older than `before`: taken
        (delivered or refused) before it, or given up (no next push, never taken) and made
        before it. Pending events are never deleted. Returns how many."""
        # Taken before `before` (delivered_at), or given up (no delivered_at, no next push) and
        # made before it: `finished_at` < before among the finished rows, which is what the
        # partial index ix_event_outbox_finished holds (pending rows are not in it). Written so
        # that it matches the index: the purge then reads the rows it deletes and nothing else,
        # whatever the statistics say (a sequential scan of the whole table, chosen on stale
        # statistics, cost 0.5 s a round at 1M rows; docs/performance.md).
        finished = and_(FINISHED, before > FINISHED_AT)
        batch = select(OutboxRow.event_id).where(finished).limit(limit)
        result = self._s.execute(delete(OutboxRow).where(OutboxRow.event_id.in_(batch)))
        return int(result.rowcount)  # type: ignore[attr-defined]
