"""Repositories: every read or write of a resident's data names the resident.

Methods take `resident_id` first and put it in the WHERE clause, including when the primary
key alone would find the row. That is what lets the tables be distributed by resident
later, and it means a bug that passes the wrong record id cannot reach another vault: it
finds nothing. tests/integration/test_resident_scoping.py checks the emitted SQL.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Row,
    Table,
    and_,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from vault.storage import queries
from vault.storage.orm import (
    AccessEventRow,
    AuthChallengeRow,
    AuthorizationCodeRow,
    BlobChunkRow,
    BlobRow,
    ConnectionCodeRow,
    DataKeyRow,
    GrantEventRow,
    GrantRow,
    MandateEventRow,
    MandateRow,
    OAuthTokenRow,
    PasskeyCredentialRow,
    ProcedureRow,
    PushedRequestRow,
    RecordRow,
    RecordVersionRow,
    RecoveryCodeRow,
    ReplayRow,
    ResidentRow,
    ServiceConnectionRow,
    ServiceRow,
    SessionRow,
)

_G = cast(Table, GrantRow.__table__)
_P = cast(Table, ProcedureRow.__table__)
# The sweeper's key lists on SQLite, per statement: two variables a pair, and some builds
# allow only 32766 variables a statement.
_SQLITE_PAIRS = 10_000


@dataclass(frozen=True, slots=True)
class SweptGrant:
    """A grant the sweeper has just ended, as its UPDATE returned it."""

    resident_id: uuid.UUID
    grant_id: uuid.UUID
    service_id: uuid.UUID
    procedure_id: uuid.UUID
    purpose_uri: str
    legal_basis: str
    procedure_ref: str | None  # the service's ref of the grant's procedure


class SqlResidentRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def add(self, row: ResidentRow) -> None:
        self._s.add(row)

    def get(self, resident_id: uuid.UUID, *, for_update: bool = False) -> ResidentRow | None:
        stmt = select(ResidentRow).where(ResidentRow.resident_id == resident_id)
        if for_update:
            stmt = stmt.with_for_update()
        return self._s.scalars(stmt).one_or_none()


class SqlDataKeyRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def add(self, row: DataKeyRow) -> None:
        self._s.add(row)

    def get(self, resident_id: uuid.UUID, version: int) -> DataKeyRow | None:
        return self._s.scalars(
            select(DataKeyRow).where(
                DataKeyRow.resident_id == resident_id, DataKeyRow.version == version
            )
        ).one_or_none()

    def delete_all(self, resident_id: uuid.UUID) -> int:
        result = self._s.execute(delete(DataKeyRow).where(DataKeyRow.resident_id == resident_id))
        return int(result.rowcount)  # type: ignore[attr-defined]

    # Key rotation works across residents by design: it rewraps, and never reads a record.
    def needing_rewrap(self, kek_version: int, limit: int) -> Sequence[DataKeyRow]:
        return self._s.scalars(
            select(DataKeyRow)
            .where(DataKeyRow.kek_version != kek_version)
            .order_by(DataKeyRow.resident_id, DataKeyRow.version)
            .limit(limit)
        ).all()

    def replace_wrapping(
        self,
        resident_id: uuid.UUID,
        version: int,
        *,
        old_kek_version: int,
        new_kek_version: int,
        wrapped: bytes,
    ) -> bool:
        """Swap the wrapping only if nobody changed it meanwhile; True when swapped."""
        result = self._s.execute(
            update(DataKeyRow)
            .where(
                DataKeyRow.resident_id == resident_id,
                DataKeyRow.version == version,
                DataKeyRow.kek_version == old_kek_version,
            )
            .values(kek_version=new_kek_version, wrapped=wrapped)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def count_by_kek_version(self) -> dict[int, int]:
        rows = self._s.execute(
            select(DataKeyRow.kek_version, func.count()).group_by(DataKeyRow.kek_version)
        ).all()
        return {int(v): int(n) for v, n in rows}


class SqlRecordRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def add(self, row: RecordRow) -> None:
        self._s.add(row)

    def add_version(self, row: RecordVersionRow) -> None:
        self._s.add(row)

    def get(
        self, resident_id: uuid.UUID, record_id: uuid.UUID, *, for_update: bool = False
    ) -> RecordRow | None:
        stmt = select(RecordRow).where(
            RecordRow.resident_id == resident_id, RecordRow.record_id == record_id
        )
        if for_update:
            stmt = stmt.with_for_update()
        return self._s.scalars(stmt).one_or_none()

    def all(self, resident_id: uuid.UUID, *, category: str | None = None) -> Sequence[RecordRow]:
        stmt = select(RecordRow).where(RecordRow.resident_id == resident_id)
        if category is not None:
            stmt = stmt.where(RecordRow.category == category)
        return self._s.scalars(stmt.order_by(RecordRow.created_at, RecordRow.record_id)).all()

    def version(
        self, resident_id: uuid.UUID, record_id: uuid.UUID, version: int
    ) -> RecordVersionRow | None:
        return self._s.scalars(
            select(RecordVersionRow).where(
                RecordVersionRow.resident_id == resident_id,
                RecordVersionRow.record_id == record_id,
                RecordVersionRow.version == version,
            )
        ).one_or_none()

    def versions(self, resident_id: uuid.UUID, record_id: uuid.UUID) -> Sequence[RecordVersionRow]:
        return self._s.scalars(
            select(RecordVersionRow)
            .where(
                RecordVersionRow.resident_id == resident_id,
                RecordVersionRow.record_id == record_id,
            )
            .order_by(RecordVersionRow.version)
        ).all()

    def current_versions(
        self, resident_id: uuid.UUID, record_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, RecordVersionRow]:
        if not record_ids:
            return {}
        rows = self._s.execute(
            select(RecordVersionRow)
            .join(
                RecordRow,
                (RecordRow.resident_id == RecordVersionRow.resident_id)
                & (RecordRow.record_id == RecordVersionRow.record_id)
                & (RecordRow.current_version == RecordVersionRow.version),
            )
            .where(
                RecordVersionRow.resident_id == resident_id,
                RecordRow.resident_id == resident_id,
                RecordVersionRow.record_id.in_(record_ids),
            )
        ).scalars()
        return {r.record_id: r for r in rows}

    def blob_ids(self, resident_id: uuid.UUID, record_id: uuid.UUID) -> list[uuid.UUID]:
        rows = self._s.scalars(
            select(RecordVersionRow.blob_id).where(
                RecordVersionRow.resident_id == resident_id,
                RecordVersionRow.record_id == record_id,
                RecordVersionRow.blob_id.is_not(None),
            )
        ).all()
        return [b for b in rows if b is not None]

    def delete(self, resident_id: uuid.UUID, record_id: uuid.UUID) -> None:
        self._s.execute(
            delete(RecordVersionRow).where(
                RecordVersionRow.resident_id == resident_id,
                RecordVersionRow.record_id == record_id,
            )
        )
        self._s.execute(
            delete(RecordRow).where(
                RecordRow.resident_id == resident_id, RecordRow.record_id == record_id
            )
        )

    def delete_all(self, resident_id: uuid.UUID) -> None:
        self._s.execute(delete(RecordVersionRow).where(RecordVersionRow.resident_id == resident_id))
        self._s.execute(delete(RecordRow).where(RecordRow.resident_id == resident_id))


class SqlBlobRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def add(self, row: BlobRow) -> None:
        self._s.add(row)

    def add_chunk(self, row: BlobChunkRow) -> None:
        self._s.add(row)

    def get(
        self, resident_id: uuid.UUID, blob_id: uuid.UUID, *, for_update: bool = False
    ) -> BlobRow | None:
        stmt = select(BlobRow).where(BlobRow.resident_id == resident_id, BlobRow.blob_id == blob_id)
        if for_update:
            stmt = stmt.with_for_update()
        return self._s.scalars(stmt).one_or_none()

    def delete_abandoned(self, cutoff: datetime, limit: int) -> int:
        """Drop up to `limit` uploads that never finished and began before `cutoff`, with
        their sealed chunks. On PostgreSQL an upload whose next chunks are being stored right
        now is skipped (SKIP LOCKED), so the sweep never waits on a live upload."""
        abandoned = [
            (r, b)
            for r, b in self._s.execute(
                select(BlobRow.resident_id, BlobRow.blob_id)
                .where(~BlobRow.complete, BlobRow.created_at < cutoff)  # the partial index
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
        ]
        if abandoned:
            self._s.execute(
                delete(BlobChunkRow).where(
                    tuple_(BlobChunkRow.resident_id, BlobChunkRow.blob_id).in_(abandoned)
                )
            )
            self._s.execute(
                delete(BlobRow).where(tuple_(BlobRow.resident_id, BlobRow.blob_id).in_(abandoned))
            )
        return len(abandoned)

    def chunks(
        self, resident_id: uuid.UUID, blob_id: uuid.UUID, first_seq: int, count: int
    ) -> list[tuple[int, bytes]]:
        """(seq, sealed chunk) pairs, plain values that outlive the transaction."""
        rows = self._s.execute(
            select(BlobChunkRow.seq, BlobChunkRow.chunk_ct)
            .where(
                BlobChunkRow.resident_id == resident_id,
                BlobChunkRow.blob_id == blob_id,
                BlobChunkRow.seq >= first_seq,
                BlobChunkRow.seq < first_seq + count,
            )
            .order_by(BlobChunkRow.seq)
        ).all()
        return [(int(seq), bytes(ct)) for seq, ct in rows]

    def delete(self, resident_id: uuid.UUID, blob_ids: Sequence[uuid.UUID]) -> None:
        if not blob_ids:
            return
        self._s.execute(
            delete(BlobChunkRow).where(
                BlobChunkRow.resident_id == resident_id, BlobChunkRow.blob_id.in_(blob_ids)
            )
        )
        self._s.execute(
            delete(BlobRow).where(BlobRow.resident_id == resident_id, BlobRow.blob_id.in_(blob_ids))
        )

    def delete_all(self, resident_id: uuid.UUID) -> None:
        self._s.execute(delete(BlobChunkRow).where(BlobChunkRow.resident_id == resident_id))
        self._s.execute(delete(BlobRow).where(BlobRow.resident_id == resident_id))

    def referenced(self, resident_id: uuid.UUID, blob_id: uuid.UUID) -> bool:
        return (
            self._s.scalar(
                select(func.count())
                .select_from(RecordVersionRow)
                .where(
                    RecordVersionRow.resident_id == resident_id,
                    RecordVersionRow.blob_id == blob_id,
                )
            )
            or 0
        ) > 0


class SqlAuthRepository:
    """Passkey credentials, recovery codes, challenges and sessions."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def add(
        self, row: PasskeyCredentialRow | RecoveryCodeRow | AuthChallengeRow | SessionRow
    ) -> None:
        self._s.add(row)

    def challenge(self, challenge_id: uuid.UUID) -> AuthChallengeRow | None:
        return self._s.scalars(
            select(AuthChallengeRow)
            .where(AuthChallengeRow.challenge_id == challenge_id)
            .with_for_update()
        ).one_or_none()

    def purge_challenges(self, before: datetime) -> None:
        self._s.execute(delete(AuthChallengeRow).where(AuthChallengeRow.expires_at < before))

    def credential(self, credential_id: bytes) -> PasskeyCredentialRow | None:
        return self._s.scalars(
            select(PasskeyCredentialRow)
            .where(PasskeyCredentialRow.credential_id == credential_id)
            .with_for_update()
        ).one_or_none()

    def credentials(self, resident_id: uuid.UUID) -> Sequence[PasskeyCredentialRow]:
        return self._s.scalars(
            select(PasskeyCredentialRow)
            .where(PasskeyCredentialRow.resident_id == resident_id)
            .order_by(PasskeyCredentialRow.created_at)
        ).all()

    def recovery_code(self, code_hash: bytes) -> RecoveryCodeRow | None:
        return self._s.scalars(
            select(RecoveryCodeRow).where(RecoveryCodeRow.code_hash == code_hash).with_for_update()
        ).one_or_none()

    def recovery_codes(self, resident_id: uuid.UUID) -> Sequence[RecoveryCodeRow]:
        return self._s.scalars(
            select(RecoveryCodeRow).where(RecoveryCodeRow.resident_id == resident_id)
        ).all()

    def delete_recovery_codes(self, resident_id: uuid.UUID) -> None:
        self._s.execute(delete(RecoveryCodeRow).where(RecoveryCodeRow.resident_id == resident_id))

    def session_by_token(self, token_hash: bytes) -> SessionRow | None:
        return self._s.scalars(
            select(SessionRow).where(SessionRow.token_hash == token_hash)
        ).one_or_none()

    def sessions(self, resident_id: uuid.UUID) -> Sequence[SessionRow]:
        return self._s.scalars(
            select(SessionRow)
            .where(SessionRow.resident_id == resident_id)
            .order_by(SessionRow.created_at)
        ).all()

    def delete_all(self, resident_id: uuid.UUID) -> None:
        for table in (PasskeyCredentialRow, RecoveryCodeRow, SessionRow):
            self._s.execute(delete(table).where(table.resident_id == resident_id))


class SqlServiceRepository:
    """Services are not resident data; connections and codes resolve to a resident."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def add(self, row: ServiceRow | ServiceConnectionRow | ConnectionCodeRow) -> None:
        self._s.add(row)

    def by_client_id(self, client_id: str) -> ServiceRow | None:
        return self._s.scalars(
            select(ServiceRow).where(ServiceRow.client_id == client_id)
        ).one_or_none()

    def get(self, service_id: uuid.UUID) -> ServiceRow | None:
        return self._s.scalars(
            select(ServiceRow).where(ServiceRow.service_id == service_id)
        ).one_or_none()

    def all(self) -> Sequence[ServiceRow]:
        return self._s.scalars(select(ServiceRow).order_by(ServiceRow.created_at)).all()

    def connection(self, service_id: uuid.UUID, subject: str) -> ServiceConnectionRow | None:
        return self._s.scalars(
            select(ServiceConnectionRow).where(
                ServiceConnectionRow.service_id == service_id,
                ServiceConnectionRow.subject == subject,
            )
        ).one_or_none()

    def connections_of(self, resident_id: uuid.UUID) -> Sequence[ServiceConnectionRow]:
        return self._s.scalars(
            select(ServiceConnectionRow).where(ServiceConnectionRow.resident_id == resident_id)
        ).all()

    def connection_code(self, code_hash: bytes) -> ConnectionCodeRow | None:
        return self._s.scalars(
            select(ConnectionCodeRow)
            .where(ConnectionCodeRow.code_hash == code_hash)
            .with_for_update()
        ).one_or_none()

    def delete_connections(self, resident_id: uuid.UUID) -> None:
        for table in (ServiceConnectionRow, ConnectionCodeRow):
            self._s.execute(delete(table).where(table.resident_id == resident_id))


class SqlGrantRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def add(self, row: GrantRow | GrantEventRow | ProcedureRow) -> None:
        self._s.add(row)

    def get(
        self, resident_id: uuid.UUID, grant_id: uuid.UUID, *, for_update: bool = False
    ) -> GrantRow | None:
        stmt = select(GrantRow).where(
            GrantRow.resident_id == resident_id, GrantRow.grant_id == grant_id
        )
        if for_update:
            stmt = stmt.with_for_update()
        return self._s.scalars(stmt).one_or_none()

    def by_auth_req_id(self, auth_req_id_hash: bytes) -> GrantRow | None:
        """The CIBA handle is the service's only reference to a request: a routing lookup."""
        return self._s.scalars(
            select(GrantRow).where(GrantRow.auth_req_id_hash == auth_req_id_hash).with_for_update()
        ).one_or_none()

    def of_resident(
        self, resident_id: uuid.UUID, *, statuses: Sequence[str] | None = None
    ) -> Sequence[GrantRow]:
        stmt = select(GrantRow).where(GrantRow.resident_id == resident_id)
        if statuses is not None:
            stmt = stmt.where(GrantRow.status.in_(statuses))
        return self._s.scalars(stmt.order_by(GrantRow.created_at)).all()

    def of_procedure(self, resident_id: uuid.UUID, procedure_id: uuid.UUID) -> Sequence[GrantRow]:
        return self._s.scalars(
            select(GrantRow)
            .where(GrantRow.resident_id == resident_id, GrantRow.procedure_id == procedure_id)
            .with_for_update()
        ).all()

    def events(self, resident_id: uuid.UUID, grant_id: uuid.UUID) -> Sequence[GrantEventRow]:
        return self._s.scalars(
            select(GrantEventRow)
            .where(GrantEventRow.resident_id == resident_id, GrantEventRow.grant_id == grant_id)
            .order_by(GrantEventRow.seq)
        ).all()

    def next_event_seq(self, resident_id: uuid.UUID, grant_id: uuid.UUID) -> int:
        current = self._s.scalar(
            select(func.max(GrantEventRow.seq)).where(
                GrantEventRow.resident_id == resident_id, GrantEventRow.grant_id == grant_id
            )
        )
        return int(current or 0) + 1

    def procedure(
        self, resident_id: uuid.UUID, procedure_id: uuid.UUID, *, for_update: bool = False
    ) -> ProcedureRow | None:
        stmt = select(ProcedureRow).where(
            ProcedureRow.resident_id == resident_id, ProcedureRow.procedure_id == procedure_id
        )
        if for_update:
            stmt = stmt.with_for_update()
        return self._s.scalars(stmt).one_or_none()

    def procedure_by_ref(
        self, resident_id: uuid.UUID, service_id: uuid.UUID, ref: str, *, for_update: bool = False
    ) -> ProcedureRow | None:
        stmt = select(ProcedureRow).where(
            ProcedureRow.resident_id == resident_id,
            ProcedureRow.service_id == service_id,
            ProcedureRow.ref == ref,
        )
        if for_update:
            stmt = stmt.with_for_update()
        return self._s.scalars(stmt).one_or_none()

    def procedures_of(self, resident_id: uuid.UUID) -> Sequence[ProcedureRow]:
        return self._s.scalars(
            select(ProcedureRow)
            .where(ProcedureRow.resident_id == resident_id)
            .order_by(ProcedureRow.created_at)
        ).all()

    # Sweeping works across residents by design: it only marks what the check already refuses.
    # -- the sweeper: set-based, one statement per step for a whole batch ------------------
    #
    # Across residents by nature (it finds what is due anywhere), but every statement that
    # touches a grant's rows names them by (resident_id, id). Each UPDATE picks its batch in a
    # CTE locked FOR UPDATE SKIP LOCKED (PostgreSQL: concurrent sweepers take different rows
    # and never wait on each other; a CTE, because PostgreSQL runs a locking CTE exactly once,
    # where a LIMIT subquery in the WHERE may be run again mid-UPDATE and return further rows:
    # a batch of 2 ended 5 in the tests) and repeats the status guard in its own WHERE, so a
    # row another sweeper changed meanwhile is re-checked and left alone: no grant is ended,
    # and no service told, twice. SQLite renders no FOR UPDATE; its transactions begin
    # IMMEDIATE (one writer at a time), which serialises sweepers instead.

    def _dialect(self) -> str:
        return self._s.get_bind().dialect.name

    def end_expired(self, now: datetime, limit: int) -> list[SweptGrant]:
        """End up to `limit` approved grants whose `valid_until` has passed (reason expired),
        with everything an end writes in the vault's own tables (see `_end_batch_pg`)."""
        if self._dialect() == "postgresql":
            return self._end_batch_pg(
                queries.PG_END_EXPIRED, {"now": now, "limit": limit, "reason": "expired"}
            )
        due = (
            select(_G.c.resident_id, _G.c.grant_id)
            .where(_G.c.status == "approved", _G.c.valid_until <= now)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .cte("due")
        )
        picked = select(due.c.resident_id, due.c.grant_id)
        return self._end_batch_sqlite(
            tuple_(_G.c.resident_id, _G.c.grant_id).in_(picked), "expired", now
        )

    def end_under_procedures(
        self, procedures: Sequence[tuple[uuid.UUID, uuid.UUID]], now: datetime
    ) -> list[SweptGrant]:
        """End every approved grant under these (resident_id, procedure_id) (reason
        procedure-closed), with everything an end writes in the vault's own tables."""
        if not procedures:
            return []
        if self._dialect() == "postgresql":
            return self._end_batch_pg(
                queries.PG_END_UNDER_PROCEDURES,
                {
                    "now": now,
                    "reason": "procedure-closed",
                    "residents": [r for r, _ in procedures],
                    "procedures": [p for _, p in procedures],
                },
            )
        ended: list[SweptGrant] = []
        for chunk in range(0, len(procedures), _SQLITE_PAIRS):
            part = list(procedures[chunk : chunk + _SQLITE_PAIRS])
            under = tuple_(_G.c.resident_id, _G.c.procedure_id).in_(part)
            ended += self._end_batch_sqlite(under, "procedure-closed", now)
        return ended

    # What `GrantService._end` writes for one grant, for a batch: status ended with its reason
    # and `ended_at`, one history step numbered after the grant's last (actor system), every
    # token of the grant revoked; returned with the procedure's ref, for the SETs. On
    # PostgreSQL one data-modifying statement (vault/storage/queries.py `PG_END_EXPIRED`): the
    # database does the set work in one round trip, and no key list travels back and forth.

    def _end_batch_pg(self, statement: Any, params: dict[str, Any]) -> list[SweptGrant]:
        # `all()`: one fetch of the batch, not a driver call per row.
        return [SweptGrant(*row) for row in self._s.execute(statement, params).all()]

    def _end_batch_sqlite(self, which: Any, reason: str, now: datetime) -> list[SweptGrant]:
        ended = [
            SweptGrant(r, g, s, p, purpose, basis, None)  # the procedure's ref: looked up below
            for r, g, s, p, purpose, basis in self._s.execute(
                update(_G)
                .where(which, _G.c.status == "approved")
                # An answered request's ping secret is already blank; blanking it again is free.
                .values(status="ended", end_reason=reason, ended_at=now, ping_ct=None)
                .returning(
                    _G.c.resident_id,
                    _G.c.grant_id,
                    _G.c.service_id,
                    _G.c.procedure_id,
                    _G.c.purpose_uri,
                    _G.c.legal_basis,
                )
            )
        ]
        done: list[SweptGrant] = []
        for chunk in range(0, len(ended), _SQLITE_PAIRS):
            part = ended[chunk : chunk + _SQLITE_PAIRS]
            keys = [(g.resident_id, g.grant_id) for g in part]
            self._add_ended_steps(keys, reason, now)
            self._s.execute(
                update(OAuthTokenRow)
                .where(
                    tuple_(OAuthTokenRow.resident_id, OAuthTokenRow.grant_id).in_(keys),
                    OAuthTokenRow.revoked_at.is_(None),
                )
                .values(revoked_at=now)
            )
            refs = self._procedure_refs({(g.resident_id, g.procedure_id) for g in part})
            done += (
                dataclasses.replace(g, procedure_ref=refs.get((g.resident_id, g.procedure_id)))
                for g in part
            )
        return done

    def close_past_planned_end(self, now: datetime, limit: int) -> Sequence[Row[Any]]:
        """Close up to `limit` open procedures whose planned end has passed (closed_by
        planned-end); their (resident_id, procedure_id, service_id, ref)."""
        due = (
            select(_P.c.resident_id, _P.c.procedure_id)
            .where(_P.c.status == "open", _P.c.planned_end <= now)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .cte("due")
        )
        picked = select(due.c.resident_id, due.c.procedure_id)
        return self._s.execute(
            update(_P)
            .where(tuple_(_P.c.resident_id, _P.c.procedure_id).in_(picked), _P.c.status == "open")
            .values(status="closed", closed_by="planned-end", closed_at=now)
            .returning(_P.c.resident_id, _P.c.procedure_id, _P.c.service_id, _P.c.ref)
        ).all()

    def requests_under_procedures(
        self, procedures: Sequence[tuple[uuid.UUID, uuid.UUID]]
    ) -> Sequence[GrantRow]:
        """The pending requests under these (resident_id, procedure_id), locked."""
        if not procedures:
            return []
        dialect = self._dialect()
        step = len(procedures) if dialect == "postgresql" else _SQLITE_PAIRS  # arrays there
        found: list[GrantRow] = []
        for chunk in range(0, len(procedures), step):
            found += self._s.scalars(
                select(GrantRow)
                .where(
                    queries.key_pairs_in(
                        dialect,
                        GrantRow.resident_id,
                        GrantRow.procedure_id,
                        procedures[chunk : chunk + step],
                    ),
                    GrantRow.status == "requested",
                )
                .with_for_update(skip_locked=True)
            ).all()
        return found

    def requests_due(self, now: datetime, limit: int) -> Sequence[GrantRow]:
        """Up to `limit` pending requests nobody answered in time, locked (skipping rows
        another sweeper holds). Few, and each may carry a ping: lapsed one by one."""
        return self._s.scalars(
            select(GrantRow)
            .where(GrantRow.status == "requested", GrantRow.request_expires_at <= now)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()

    def _procedure_refs(
        self, procedures: set[tuple[uuid.UUID, uuid.UUID]]
    ) -> dict[tuple[uuid.UUID, uuid.UUID], str]:
        rows = self._s.execute(
            select(_P.c.resident_id, _P.c.procedure_id, _P.c.ref).where(
                tuple_(_P.c.resident_id, _P.c.procedure_id).in_(list(procedures))
            )
        )
        return {(r, p): ref for r, p, ref in rows}

    def _add_ended_steps(
        self, grants: Sequence[tuple[uuid.UUID, uuid.UUID]], reason: str, at: datetime
    ) -> None:
        """One history step `ended` (actor system) for each (resident_id, grant_id), numbered
        after its last one, in one INSERT ... SELECT (what `add(GrantEventRow(seq=
        next_event_seq(...)))` does for one grant)."""
        e = cast(Table, GrantEventRow.__table__)
        last = (
            select(func.coalesce(func.max(e.c.seq), 0))
            .where(e.c.resident_id == _G.c.resident_id, e.c.grant_id == _G.c.grant_id)
            .scalar_subquery()
        )
        rows = select(
            _G.c.resident_id,
            _G.c.grant_id,
            last + 1,
            literal(at, e.c.at.type),
            literal("ended", e.c.status.type),
            literal("system", e.c.actor.type),
            literal(None, e.c.actor_id.type),
            literal(reason, e.c.reason.type),
        ).where(tuple_(_G.c.resident_id, _G.c.grant_id).in_(list(grants)))
        self._s.execute(
            insert(e).from_select(
                ["resident_id", "grant_id", "seq", "at", "status", "actor", "actor_id", "reason"],
                rows,
            )
        )

    # -- the browser flow (vault/grants/authorization.py) ----------------------------------

    def add_flow(self, row: PushedRequestRow | AuthorizationCodeRow) -> None:
        self._s.add(row)

    def pushed(self, request_uri_hash: bytes) -> PushedRequestRow | None:
        """A pushed request by the hash of its request_uri (a routing lookup), locked."""
        return self._s.scalars(
            select(PushedRequestRow)
            .where(PushedRequestRow.request_uri_hash == request_uri_hash)
            .with_for_update()
        ).one_or_none()

    def forget_pushed(self, row: PushedRequestRow) -> None:
        self._s.delete(row)

    def purge_pushed(self, now: datetime, limit: int) -> int:
        expired = select(PushedRequestRow.request_uri_hash).where(
            PushedRequestRow.expires_at <= now
        )
        hashes = list(self._s.scalars(expired.limit(limit)).all())
        if hashes:
            self._s.execute(
                delete(PushedRequestRow).where(PushedRequestRow.request_uri_hash.in_(hashes))
            )
        return len(hashes)

    def flow(
        self, resident_id: uuid.UUID, grant_id: uuid.UUID, *, for_update: bool = False
    ) -> AuthorizationCodeRow | None:
        stmt = select(AuthorizationCodeRow).where(
            AuthorizationCodeRow.resident_id == resident_id,
            AuthorizationCodeRow.grant_id == grant_id,
        )
        if for_update:
            stmt = stmt.with_for_update()
        return self._s.scalars(stmt).one_or_none()

    def flow_grant_ids(self, resident_id: uuid.UUID) -> set[uuid.UUID]:
        return set(
            self._s.scalars(
                select(AuthorizationCodeRow.grant_id).where(
                    AuthorizationCodeRow.resident_id == resident_id
                )
            ).all()
        )

    def flow_by_code(self, code_hash: bytes) -> AuthorizationCodeRow | None:
        """The browser flow an authorization code belongs to (a routing lookup), locked."""
        return self._s.scalars(
            select(AuthorizationCodeRow)
            .where(AuthorizationCodeRow.code_hash == code_hash)
            .with_for_update()
        ).one_or_none()

    def delete_all(self, resident_id: uuid.UUID) -> None:
        for table in (AuthorizationCodeRow, GrantEventRow, GrantRow, ProcedureRow):
            self._s.execute(delete(table).where(table.resident_id == resident_id))


class SqlTokenRepository:
    """OAuth tokens are found by their hash (what the service presents): routing lookups."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def add(self, row: OAuthTokenRow) -> None:
        self._s.add(row)

    def get(self, token_hash: bytes, *, for_update: bool = False) -> OAuthTokenRow | None:
        stmt = select(OAuthTokenRow).where(OAuthTokenRow.token_hash == token_hash)
        if for_update:
            stmt = stmt.with_for_update()
        return self._s.scalars(stmt).one_or_none()

    def revoke_grant(self, resident_id: uuid.UUID, grant_id: uuid.UUID, now: datetime) -> int:
        result = self._s.execute(
            update(OAuthTokenRow)
            .where(
                OAuthTokenRow.resident_id == resident_id,
                OAuthTokenRow.grant_id == grant_id,
                OAuthTokenRow.revoked_at.is_(None),
            )
            .values(revoked_at=now)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    def delete_all(self, resident_id: uuid.UUID) -> None:
        self._s.execute(delete(OAuthTokenRow).where(OAuthTokenRow.resident_id == resident_id))


class SqlReplayCache:
    """`vault.ports.ReplayCache` on a table: the primary key makes a second use fail."""

    def __init__(self, session_factory: Callable[[], Session]) -> None:
        self._factory = session_factory

    def first_use(self, namespace: str, value: str, expires_at: datetime) -> bool:
        with self._factory() as session:
            try:
                existing = session.get(ReplayRow, (namespace, value))
                if existing is not None:
                    if existing.expires_at > datetime.now(existing.expires_at.tzinfo):
                        return False
                    session.delete(existing)
                    session.flush()
                session.add(ReplayRow(namespace=namespace, value=value, expires_at=expires_at))
                session.commit()
                return True
            except IntegrityError:
                session.rollback()
                return False  # another worker recorded it first

    def purge(self, before: datetime) -> None:
        with self._factory() as session:
            session.execute(delete(ReplayRow).where(ReplayRow.expires_at < before))
            session.commit()


@dataclass(frozen=True, slots=True)
class EventVisibility:
    """The part of a principal's log a representative may see (vault/audit/resident_log.py):
    what they did under `mandate_id`, events of `categories`, and events of `grant_ids`."""

    mandate_id: uuid.UUID
    categories: frozenset[str]
    grant_ids: frozenset[uuid.UUID]

    def clause(self) -> ColumnElement[bool]:
        shown: list[ColumnElement[bool]] = [
            and_(
                AccessEventRow.actor == "representative",
                AccessEventRow.actor_id == str(self.mandate_id),
            )
        ]
        for category in sorted(self.categories):
            shown.append(AccessEventRow.datatype == category)
            shown.append(AccessEventRow.datatype.startswith(category + ".", autoescape=True))
        if self.grant_ids:
            shown.append(AccessEventRow.grant_id.in_(sorted(self.grant_ids)))
        return or_(*shown)

    def shows(self, row: AccessEventRow) -> bool:
        return (
            (row.actor == "representative" and row.actor_id == str(self.mandate_id))
            or (row.datatype is not None and row.datatype.split(".", 1)[0] in self.categories)
            or (row.grant_id is not None and row.grant_id in self.grant_ids)
        )


class SqlAccessEventRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def of_resident(
        self,
        resident_id: uuid.UUID,
        *,
        limit: int = 200,
        before: AccessEventRow | None = None,
        after: AccessEventRow | None = None,
        oldest_first: bool = False,
        service_id: uuid.UUID | None = None,
        datatype: str | None = None,
        names: Sequence[str] | None = None,
        visible: EventVisibility | None = None,
    ) -> Sequence[AccessEventRow]:
        """A resident's events, newest first (ties by event id), at most `limit`; with
        `oldest_first`, oldest first (the export reads the whole log that way).

        `before`/`after`: only events older/newer than that one (the previous page's last:
        a keyset cursor). `datatype`: a record type (`health.medication`) or a whole category
        (`health`). `names`: only events of these names (`record.read`, ...)."""
        stmt = select(AccessEventRow).where(AccessEventRow.resident_id == resident_id)
        if before is not None:
            stmt = stmt.where(
                or_(
                    AccessEventRow.at < before.at,
                    and_(AccessEventRow.at == before.at, AccessEventRow.event_id < before.event_id),
                )
            )
        if after is not None:
            stmt = stmt.where(
                or_(
                    AccessEventRow.at > after.at,
                    and_(AccessEventRow.at == after.at, AccessEventRow.event_id > after.event_id),
                )
            )
        if service_id is not None:
            stmt = stmt.where(AccessEventRow.service_id == service_id)
        if datatype is not None:
            stmt = stmt.where(
                or_(
                    AccessEventRow.datatype == datatype,
                    AccessEventRow.datatype.startswith(datatype + ".", autoescape=True),
                )
            )
        if names is not None:
            stmt = stmt.where(AccessEventRow.name.in_(names))
        if visible is not None:
            stmt = stmt.where(visible.clause())
        if oldest_first:
            order = (AccessEventRow.at.asc(), AccessEventRow.event_id.asc())
        else:
            order = (AccessEventRow.at.desc(), AccessEventRow.event_id.desc())
        return self._s.scalars(stmt.order_by(*order).limit(limit)).all()

    def get(self, resident_id: uuid.UUID, event_id: uuid.UUID) -> AccessEventRow | None:
        return self._s.scalars(
            select(AccessEventRow).where(
                AccessEventRow.resident_id == resident_id, AccessEventRow.event_id == event_id
            )
        ).one_or_none()

    def service_ids(
        self, resident_id: uuid.UUID, *, visible: EventVisibility | None = None
    ) -> Sequence[uuid.UUID]:
        """The services that appear in a resident's events (for a filter)."""
        stmt = select(AccessEventRow.service_id).where(
            AccessEventRow.resident_id == resident_id, AccessEventRow.service_id.is_not(None)
        )
        if visible is not None:
            stmt = stmt.where(visible.clause())
        return self._s.scalars(stmt.distinct()).all()  # type: ignore[return-value]


class SqlMandateRepository:
    """Mandates, by principal (`resident_id`) first. Two lookups route from elsewhere: the
    acceptance code's hash (like a connection code), and a representative's own list, which
    reads by `representative_id` (an index; with Citus a query across shards, small)."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def add(self, row: MandateRow | MandateEventRow) -> None:
        self._s.add(row)

    def get(
        self, resident_id: uuid.UUID, mandate_id: uuid.UUID, *, for_update: bool = False
    ) -> MandateRow | None:
        stmt = select(MandateRow).where(
            MandateRow.resident_id == resident_id, MandateRow.mandate_id == mandate_id
        )
        if for_update:  # a locked read is a fresh one, also of a row this session read before
            stmt = stmt.with_for_update().execution_options(populate_existing=True)
        return self._s.scalars(stmt).one_or_none()

    def held_by(
        self, representative_id: uuid.UUID, mandate_id: uuid.UUID, *, for_update: bool = False
    ) -> MandateRow | None:
        """A mandate by its id, only if `representative_id` holds it (else None)."""
        stmt = select(MandateRow).where(
            MandateRow.representative_id == representative_id,
            MandateRow.mandate_id == mandate_id,
        )
        if for_update:
            stmt = stmt.with_for_update().execution_options(populate_existing=True)
        return self._s.scalars(stmt).one_or_none()

    def parents(self, resident_id: uuid.UUID, *, for_update: bool = False) -> Sequence[MandateRow]:
        """The `parent` mandates over a child's vault, in one fixed order (so two parents
        locking them at once cannot deadlock), read afresh."""
        stmt = (
            select(MandateRow)
            .where(MandateRow.resident_id == resident_id, MandateRow.kind == "parent")
            .order_by(MandateRow.mandate_id)
            .execution_options(populate_existing=True)
        )
        if for_update:
            stmt = stmt.with_for_update()
        return self._s.scalars(stmt).all()

    def by_code(self, code_hash: bytes) -> MandateRow | None:
        return self._s.scalars(
            select(MandateRow).where(MandateRow.code_hash == code_hash).with_for_update()
        ).one_or_none()

    def given_by(self, resident_id: uuid.UUID) -> Sequence[MandateRow]:
        return self._s.scalars(
            select(MandateRow)
            .where(MandateRow.resident_id == resident_id)
            .order_by(MandateRow.created_at)
        ).all()

    def of_representative(self, representative_id: uuid.UUID) -> Sequence[MandateRow]:
        return self._s.scalars(
            select(MandateRow)
            .where(MandateRow.representative_id == representative_id)
            .order_by(MandateRow.created_at)
        ).all()

    def events(self, resident_id: uuid.UUID, mandate_id: uuid.UUID) -> Sequence[MandateEventRow]:
        return self._s.scalars(
            select(MandateEventRow)
            .where(
                MandateEventRow.resident_id == resident_id,
                MandateEventRow.mandate_id == mandate_id,
            )
            .order_by(MandateEventRow.seq)
        ).all()

    def next_event_seq(self, resident_id: uuid.UUID, mandate_id: uuid.UUID) -> int:
        current = self._s.scalar(
            select(func.max(MandateEventRow.seq)).where(
                MandateEventRow.resident_id == resident_id,
                MandateEventRow.mandate_id == mandate_id,
            )
        )
        return int(current or 0) + 1

    def delete_all(self, resident_id: uuid.UUID) -> None:
        for table in (MandateEventRow, MandateRow):
            self._s.execute(delete(table).where(table.resident_id == resident_id))
