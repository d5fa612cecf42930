"""`OutboxWriter`: the Security Event Token (RFC 8417) for a grant change, added to the caller's
unit of work so that it commits atomically with the change (a transactional outbox).

If the process dies after the commit, the event is in the table and a pusher delivers it
later; if the change rolls back, so does its event; if the event cannot be made or written
(the signing key is unusable, the insert fails), the change fails with it.

A SET, signed ES256 with the vault's signing key, header ``typ: secevent+jwt``::

    {"iss": "<public URL>", "aud": "<the service's client_id>", "iat": 1795000000,
     "jti": "<uuid4>", "txn": "<uuid4, shared by every SET of one transaction>",
     "events": {"https://regie.example/events/grant-ended": {
        "grant_id": "<uuid>", "subject": "<the service's pairwise subject>",
        "procedure": "<the service's procedure ref>", "reason": "procedure-closed",
        "ended_at": "2026-12-01T10:00:00Z"}}}

grant-approved and grant-denied carry ``decided_at`` and no reason; grant-ended carries
``reason`` (revoked | relinquished | procedure-closed | expired | token-reuse |
vault-deleted) and
``ended_at``; request-lapsed carries ``reason`` (expired | procedure-closed | vault-deleted) and
``ended_at``.

A CIBA ping (vault/events/ping.py) is a row of kind ``ping`` in the same table, added by
`ping_if_answered` in the answer's transaction: no SET, only the sealed auth_req_id and bearer
token; it is pushed to the client notification endpoint and never appears in the feed.

The sweeper ends thousands of grants per transaction (`grants_ended`): its rows hold the SET's
claims (``set_claims``, the same claims `grant_changed` signs) and no signature yet. They are
signed by `sign_claims` when first claimed for a push (vault/events/delivery.py) or polled
(vault/events/feed.py), and the signed SET is kept in ``set_jwt`` from then on, so every later
push or poll sends the same bytes. The committed claims are the durable notice; the signing
(0.08 ms each) stays off the sweep's path.

The resident appears only as the pairwise subject the service already knows (invariant I4):
never the internal resident id, never a name, purpose text or binding message.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, cast

from sqlalchemy import Table, select

from keys.signing import Algorithm
from vault.events import ping
from vault.events.model import SET_TYPE, STATUS_EVENTS, EventType, event_uri
from vault.events.repository import SqlOutboxRepository
from vault.services.service import ServiceRegistry
from vault.storage import queries
from vault.storage.bulk import copy_rows
from vault.storage.orm import GrantRow, OutboxRow, ServiceRow
from vault.storage.repositories import SweptGrant
from vault.storage.unit_of_work import SqlUnitOfWork

# Key of the per-transaction id in `Session.info`: every SET of one unit of work shares it.
TXN_KEY = "regie.events.txn"
# The columns of the sweeper's rows (`grants_ended`), in order, with their PostgreSQL types;
# the others stay empty. Written by COPY on PostgreSQL (vault/storage/bulk.py): 20k rows as
# an executemany (which psycopg pipelines) took 1.2 s, as one INSERT ... SELECT unnest of
# arrays 3.8 s (the long JSON claims quoted in an array literal and parsed again), by COPY
# 0.64 s at a load average of 6 (tests/perf/scale_bench.py sweep, docs/performance.md).
_CLAIM_COLUMNS = (
    ("event_id", "uuid"),
    ("service_id", "uuid"),
    ("jti", "varchar"),
    ("kind", "varchar"),
    ("event_type", "varchar"),
    ("set_claims", "text"),
    ("created_at", "timestamptz"),
    ("next_attempt_at", "timestamptz"),
    ("attempts", "int4"),
)


class SetSigner(Protocol):
    """What signs a SET: `keys.signing.SigningKeyring` in the application."""

    def sign_jwt(
        self, claims: dict[str, Any], *, alg: Algorithm = ..., typ: str | None = ...
    ) -> str: ...


def _instant(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _txn(uow: SqlUnitOfWork) -> str:
    txn = uow.session.info.get(TXN_KEY)
    if not isinstance(txn, str):
        txn = str(uuid.uuid4())
        uow.session.info[TXN_KEY] = txn
    return txn


def sign_claims(signer: SetSigner, claims: str) -> str:
    """The SET of stored `claims` (JSON), signed as `OutboxWriter.grant_changed` signs."""
    return signer.sign_jwt(json.loads(claims), alg="ES256", typ=SET_TYPE)


def sign_pending(signer: SetSigner | None, row: OutboxRow) -> str | None:
    """`row`'s signed SET, signing its stored claims (and keeping the result on the row, in
    the caller's transaction) if that has not happened yet; None if it cannot be signed now
    (no signer, or the signer failed: the event stays pending and is tried again)."""
    if row.set_jwt is not None or row.set_claims is None or signer is None:
        return row.set_jwt
    try:
        row.set_jwt = sign_claims(signer, row.set_claims)
    except Exception:  # noqa: BLE001 - an unusable key must not lose the event: retried later
        return None
    return row.set_jwt


class OutboxWriter:
    def __init__(
        self,
        *,
        signer: SetSigner,
        registry: ServiceRegistry,
        issuer: str,
        retention: timedelta = timedelta(days=7),
        sealer: ping.Sealer | None = None,
    ) -> None:
        self._signer = signer
        self._sealer = sealer  # None: this deployment cannot ping (requests in ping mode fail)
        self._registry = registry
        self._issuer = issuer
        self._retention = retention

    def purge_finished(self, uow: SqlUnitOfWork, now: datetime, limit: int) -> int:
        """Delete up to `limit` finished events (taken, or given up) older than the retention,
        in the caller's transaction (the sweeper's). Pending events are never deleted."""
        return SqlOutboxRepository(uow.session).purge(now - self._retention, limit)

    def seal_ping(self, grant_id: uuid.UUID, auth_req_id: str, token: str) -> bytes:
        """The ping secret of a pending request, sealed for `grants.ping_ct` of `grant_id`."""
        if self._sealer is None:
            raise RuntimeError("this outbox has no sealer: it cannot ping")
        return ping.seal(self._sealer, ping.PingSecret(auth_req_id, token), "grants", grant_id)

    def ping_if_answered(
        self, uow: SqlUnitOfWork, grant: GrantRow, status: str, reason: str | None, now: datetime
    ) -> OutboxRow | None:
        """For a ping-mode request that `status` ends: blank its sealed secret on the grant and,
        when the end is pinged (`ping.is_pinged`), add the ping to `uow`. None otherwise."""
        if grant.ping_ct is None or status == "requested":
            return None
        if self._sealer is None:
            raise RuntimeError("this outbox has no sealer: it cannot ping")
        sealed, grant.ping_ct = grant.ping_ct, None
        event_type = STATUS_EVENTS.get(status)
        if event_type is None or not ping.is_pinged(status, reason):
            return None
        secret = ping.open_secret(self._sealer, sealed, "grants", grant.grant_id)
        event_id = uuid.uuid4()
        row = OutboxRow(
            event_id=event_id,
            service_id=grant.service_id,
            jti=str(uuid.uuid4()),
            kind="ping",
            event_type=event_type,
            set_jwt=None,
            ping_ct=ping.seal(self._sealer, secret, "event_outbox", event_id),
            created_at=now,
            next_attempt_at=now,
            attempts=0,
            delivered_at=None,
            delivered_via=None,
            outcome=None,
            last_error=None,
        )
        SqlOutboxRepository(uow.session).add(row)
        return row

    def grant_changed(
        self,
        uow: SqlUnitOfWork,
        grant: GrantRow,
        status: str,
        reason: str | None,
        now: datetime,
    ) -> OutboxRow | None:
        """Add the SET for `grant` having become `status` to `uow`; None for a status that is
        not told (requested), or a grant whose service is gone (no one to tell)."""
        event_type = STATUS_EVENTS.get(status)
        if event_type is None:
            return None
        service = uow.services.get(grant.service_id)
        if service is None:
            return None
        procedure = uow.grants.procedure(grant.resident_id, grant.procedure_id)
        jti = str(uuid.uuid4())
        claims: dict[str, Any] = {
            "iss": self._issuer,
            "aud": service.client_id,
            "iat": int(now.timestamp()),
            "jti": jti,
            "txn": _txn(uow),
            "events": {
                event_uri(event_type): self._payload(
                    grant.grant_id,
                    grant.service_id,
                    grant.resident_id,
                    event_type,
                    reason or grant.end_reason,
                    _instant(now),
                    procedure.ref if procedure else None,
                )
            },
        }
        row = OutboxRow(
            event_id=uuid.uuid4(),
            service_id=grant.service_id,
            jti=jti,
            kind="set",
            event_type=event_type,
            set_jwt=self._signer.sign_jwt(claims, alg="ES256", typ=SET_TYPE),
            ping_ct=None,
            created_at=now,
            next_attempt_at=now,
            attempts=0,
            delivered_at=None,
            delivered_via=None,
            outcome=None,
            last_error=None,
        )
        SqlOutboxRepository(uow.session).add(row)
        return row

    def grants_ended(
        self,
        uow: SqlUnitOfWork,
        grants: Sequence[SweptGrant],
        reason: str,
        now: datetime,
    ) -> int:
        """`grant_changed(uow, grant, "ended", reason, now)` for each of `grants` (the
        sweeper's batch), as one bulk write (COPY on PostgreSQL) of rows holding the claims,
        to be signed when they are delivered (`sign_pending`). Returns how many were added
        (none for a grant whose service is gone)."""
        if not grants:
            return 0
        if now.tzinfo is None:  # what the column type refuses on the ORM's path
            raise ValueError("naive datetimes are not stored; use UTC-aware ones")
        services = cast(Table, ServiceRow.__table__)
        wanted = select(services.c.service_id, services.c.client_id).where(
            services.c.service_id.in_({g.service_id for g in grants})
        )
        client_ids: dict[uuid.UUID, str] = {
            row.service_id: row.client_id for row in uow.session.execute(wanted)
        }
        uri = event_uri("grant-ended")
        iat = int(now.timestamp())
        instant = _instant(now)
        txn = _txn(uow)
        rows = []
        for grant in grants:
            client_id = client_ids.get(grant.service_id)
            if client_id is None:
                continue
            jti = str(uuid.uuid4())
            claims = {
                "iss": self._issuer,
                "aud": client_id,
                "iat": iat,
                "jti": jti,
                "txn": txn,
                "events": {
                    uri: self._payload(
                        grant.grant_id,
                        grant.service_id,
                        grant.resident_id,
                        "grant-ended",
                        reason,
                        instant,
                        grant.procedure_ref,
                    )
                },
            }
            rows.append(
                (
                    uuid.uuid4(),
                    grant.service_id,
                    jti,
                    "set",
                    "grant-ended",
                    json.dumps(claims, separators=(",", ":")),
                    now,
                    now,
                    0,
                )
            )
        if rows:
            uow.flush()  # rows added one by one before go first, as they would have
            if uow.dialect == "postgresql":
                copy_rows(uow.session, "event_outbox", _CLAIM_COLUMNS, rows)
            else:
                names = [c for c, _ in _CLAIM_COLUMNS]
                uow.session.execute(
                    *queries.insert_outbox([dict(zip(names, row, strict=True)) for row in rows])
                )
        return len(rows)

    def _payload(
        self,
        grant_id: uuid.UUID,
        service_id: uuid.UUID,
        resident_id: uuid.UUID,
        event_type: EventType,
        reason: str | None,
        instant: str,
        procedure_ref: str | None,
    ) -> dict[str, Any]:
        """The event's payload; `instant` is the change's time as `_instant` writes it."""
        payload: dict[str, Any] = {
            "grant_id": str(grant_id),
            "subject": self._registry.subject(service_id, resident_id),
            "procedure": procedure_ref,
        }
        if event_type in ("grant-approved", "grant-denied"):
            payload["decided_at"] = instant
        elif event_type == "request-lapsed":
            payload["reason"] = reason or "expired"
            payload["ended_at"] = instant
        else:
            payload["reason"] = reason or "ended"
            payload["ended_at"] = instant
        return payload
