"""The Core statements of the hot path: the data API's reads and the token endpoint.

Built once at import with named bind parameters; SQLAlchemy compiles each once per dialect
and reuses it. Each reads what one decision needs in one statement (one snapshot), so the
grant check sees current state without a cache: a revoke or close that has committed is
seen by the next statement on every worker.

Columns are labelled with the names `vault.grants.stored` reads (`grant_fields` et al.), so
one function turns a row into the facts `policy.decide` takes, whichever path read it.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Executable,
    Insert,
    Select,
    Table,
    and_,
    bindparam,
    insert,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from vault.storage.orm import (
    AccessEventRow,
    DataKeyRow,
    GrantRow,
    OAuthTokenRow,
    OutboxRow,
    ProcedureRow,
    RecordRow,
    RecordVersionRow,
    ReplayRow,
    ServiceRow,
)

_t = cast(Table, OAuthTokenRow.__table__)
_g = cast(Table, GrantRow.__table__)
_p = cast(Table, ProcedureRow.__table__)
_s = cast(Table, ServiceRow.__table__)
_r = cast(Table, RecordRow.__table__)
_v = cast(Table, RecordVersionRow.__table__)
_k = cast(Table, DataKeyRow.__table__)
_replay = cast(Table, ReplayRow.__table__)
ACCESS_EVENTS = cast(Table, AccessEventRow.__table__)
OAUTH_TOKENS = _t

_TOKEN = (
    _t.c.kind.label("token_kind"),
    _t.c.resident_id.label("token_resident_id"),
    _t.c.grant_id.label("token_grant_id"),
    _t.c.service_id.label("token_service_id"),
    _t.c.jkt.label("token_jkt"),
    _t.c.expires_at.label("token_expires_at"),
    _t.c.revoked_at.label("token_revoked_at"),
)
_GRANT = (
    _g.c.grant_id,
    _g.c.resident_id,
    _g.c.service_id,
    _g.c.status,
    _g.c.end_reason,
    _g.c.datatypes,
    _g.c.actions,
    _g.c.valid_until,
    _g.c.procedure_id,
    _g.c.purpose_uri,
    _g.c.legal_basis,
)
_PROCEDURE = (
    _p.c.procedure_id.label("procedure_row_id"),
    _p.c.status.label("procedure_status"),
    _p.c.planned_end.label("procedure_planned_end"),
)
_SERVICE = (_s.c.status.label("service_status"),)
_RECORD = (
    _r.c.record_id.label("record_id"),
    _r.c.category.label("record_category"),
    _r.c.type.label("record_type"),
    _r.c.kind.label("record_kind"),
    _r.c.current_version.label("record_current_version"),
    _r.c.written_by.label("record_written_by"),
    _r.c.writer_service_id.label("record_writer_service_id"),
    _r.c.writer_grant_id.label("record_writer_grant_id"),
    _r.c.created_at.label("record_created_at"),
    _r.c.updated_at.label("record_updated_at"),
)
_VERSION = (
    # Not the version's dek_version: the joined data key's `key_version` is that value.
    _v.c.version.label("version"),
    _v.c.title_ct.label("version_title_ct"),
    _v.c.content_ct.label("version_content_ct"),
    _v.c.blob_id.label("version_blob_id"),
    _v.c.media_type.label("version_media_type"),
    _v.c.filename_ct.label("version_filename_ct"),
    _v.c.size_bytes.label("version_size_bytes"),
    _v.c.written_by.label("version_written_by"),
    _v.c.created_at.label("version_created_at"),
    _v.c.signature_jws.label("version_signature_jws"),
    _v.c.signer_client_id.label("version_signer_client_id"),
    _v.c.signer_kid.label("version_signer_kid"),
    _v.c.signer_alg.label("version_signer_alg"),
)
_KEY = (
    _k.c.version.label("key_version"),
    _k.c.kek_version.label("key_kek_version"),
    _k.c.wrapped.label("key_wrapped"),
)


def _token_facts(*, with_record: bool) -> Select[Any]:
    # The token, its grant, the grant's procedure and the token's service, by the token's
    # hash; optionally the record asked for (in the token's resident's vault only), its
    # current version and that version's data key.
    columns = [*_TOKEN, *_GRANT, *_PROCEDURE, *_SERVICE]
    joined = (
        _t.outerjoin(_g, and_(_g.c.resident_id == _t.c.resident_id, _g.c.grant_id == _t.c.grant_id))
        .outerjoin(
            _p, and_(_p.c.resident_id == _g.c.resident_id, _p.c.procedure_id == _g.c.procedure_id)
        )
        .outerjoin(_s, _s.c.service_id == _t.c.service_id)
    )
    if with_record:
        columns += [*_RECORD, *_VERSION, *_KEY]
        joined = (
            joined.outerjoin(
                _r,
                and_(
                    _r.c.resident_id == _t.c.resident_id,
                    _r.c.record_id == bindparam("record_id", type_=_r.c.record_id.type),
                ),
            )
            .outerjoin(
                _v,
                and_(
                    _v.c.resident_id == _r.c.resident_id,
                    _v.c.record_id == _r.c.record_id,
                    _v.c.version == _r.c.current_version,
                ),
            )
            .outerjoin(
                _k, and_(_k.c.resident_id == _v.c.resident_id, _k.c.version == _v.c.dek_version)
            )
        )
    return select(*columns).select_from(joined).where(_t.c.token_hash == bindparam("token_hash"))


#: params: token_hash
TOKEN_FACTS = _token_facts(with_record=False)
#: params: token_hash, record_id
TOKEN_FACTS_AND_RECORD = _token_facts(with_record=True)

#: A registered service by client_id (params: client_id): its keys and what ServiceInfo holds.
SERVICE_BY_CLIENT_ID = select(_s).where(_s.c.client_id == bindparam("client_id"))

#: A CIBA request by its handle, locked for redeeming (params: auth_req_id_hash), with the
#: reference of its procedure (what the granted authorization_details name).
GRANT_FOR_POLL = (
    select(_g, _p.c.ref.label("procedure_ref"))
    .select_from(
        _g.outerjoin(
            _p, and_(_p.c.resident_id == _g.c.resident_id, _p.c.procedure_id == _g.c.procedure_id)
        )
    )
    .where(_g.c.auth_req_id_hash == bindparam("auth_req_id_hash"))
    .with_for_update(of=_g)
)

#: params: resident_id, grant_id, and the new values
MARK_REDEEMED = (
    update(_g)
    .where(_g.c.resident_id == bindparam("resident_id_"), _g.c.grant_id == bindparam("grant_id_"))
    .values(tokens_issued_at=bindparam("tokens_issued_at"))
)
MARK_POLLED = (
    update(_g)
    .where(_g.c.resident_id == bindparam("resident_id_"), _g.c.grant_id == bindparam("grant_id_"))
    .values(last_polled_at=bindparam("last_polled_at"), poll_interval=bindparam("poll_interval"))
)

OAUTH_TOKENS_TABLE = "oauth_tokens"
ACCESS_EVENTS_TABLE = "access_events"
_TABLES = {OAUTH_TOKENS_TABLE: _t, ACCESS_EVENTS_TABLE: ACCESS_EVENTS}


def insert_rows(table: str, rows: Sequence[Mapping[str, Any]]) -> tuple[Insert, dict[str, Any]]:
    """One multi-row INSERT of `rows` (all with the same keys) into `table`, and its
    parameters. The statement for each (table, columns, row count) is built once, so
    SQLAlchemy's memoised cache key and compiled form are reused (a statement built per
    call costs more than running it)."""
    columns = tuple(rows[0])
    statement = _insert_shape(table, columns, len(rows))
    params = {f"{c}_{i}": row[c] for i, row in enumerate(rows) for c in columns}
    return statement, params


@functools.lru_cache(maxsize=512)
def _insert_shape(table: str, columns: tuple[str, ...], n: int) -> Insert:
    target = _TABLES[table]
    return insert(target).values(
        [{c: bindparam(f"{c}_{i}", type_=target.c[c].type) for c in columns} for i in range(n)]
    )


# PostgreSQL: one statement text whatever the number of rows, the rows as arrays. psycopg then
# keeps the statement parsed and prepared; a multi-row VALUES text differs with every batch
# size and is parsed anew each time (its length keeps it out of psycopg's cache).
_PG_CLAIM = text(
    "INSERT INTO replay_cache (namespace, value, expires_at)"
    " SELECT * FROM unnest(CAST(:namespaces AS varchar[]), CAST(:vals AS varchar[]),"
    " CAST(:expires AS timestamptz[]))"
    " ON CONFLICT (namespace, value) DO UPDATE SET expires_at = excluded.expires_at"
    " WHERE replay_cache.expires_at <= :now"
    " RETURNING namespace, value"
)
EVENT_COLUMNS = (
    ("resident_id", "uuid"),
    ("event_id", "uuid"),
    ("at", "timestamptz"),
    ("name", "varchar"),
    ("outcome", "varchar"),
    ("reason", "varchar"),
    ("actor", "varchar"),
    ("actor_id", "varchar"),
    ("service_id", "uuid"),
    ("grant_id", "uuid"),
    ("procedure_id", "uuid"),
    ("record_id", "uuid"),
    ("datatype", "varchar"),
    ("action", "varchar"),
    ("purpose", "varchar"),
    ("legal_basis", "varchar"),
    ("trace_id", "varchar"),
    ("span_id", "varchar"),
    ("parent_span_id", "varchar"),
)
_PG_EVENTS = text(
    # Built from the constant column list above, never from input.
    f"INSERT INTO access_events ({', '.join(c for c, _ in EVENT_COLUMNS)})"  # noqa: S608  # nosec B608
    " SELECT * FROM unnest(" + ", ".join(f"CAST(:{c} AS {t}[])" for c, t in EVENT_COLUMNS) + ")"
)


# PostgreSQL, the data API's group commit in one statement, so one round trip and, in
# autocommit, its own transaction: the batch's replay claims (`claimed`), and the access
# events of the requests ("owners", indexes into the batch) whose claims all were new. A
# data-modifying WITH runs to completion whatever the outer query reads; the statement as a
# whole commits or fails. In psycopg's own parameter style: it runs on the driver directly
# (vault/storage/hot_path.py). Built from constant column lists, never from input. The
# arrays are sent in binary (`%(name)b`): psycopg's text form quotes element by element
# (a regular expression per value), twice the CPU for the same arrays.
_EVENT_NAMES = ", ".join(c for c, _ in EVENT_COLUMNS)
PG_CLAIM_AND_LOG = " ".join(
    [
        "WITH wanted AS (SELECT * FROM unnest(%(claim_owners)b::int[],",
        "%(namespaces)b::varchar[], %(vals)b::varchar[], %(expires)b::timestamptz[])",
        "AS w(owner, namespace, value, expires_at)),",
        "claimed AS (INSERT INTO replay_cache (namespace, value, expires_at)",
        "SELECT namespace, value, expires_at FROM wanted",
        "ON CONFLICT (namespace, value) DO UPDATE SET expires_at = excluded.expires_at",
        "WHERE replay_cache.expires_at <= %(now)s RETURNING namespace, value),",
        "logged AS (INSERT INTO access_events (",
        _EVENT_NAMES,
        ") SELECT",
        _EVENT_NAMES,
        "FROM unnest(%(event_owners)b::int[],",
        ", ".join(f"%({c})b::{t}[]" for c, t in EVENT_COLUMNS),
        ") AS e(owner,",
        _EVENT_NAMES,
        ") WHERE NOT EXISTS (SELECT 1 FROM wanted AS w WHERE w.owner = e.owner AND NOT EXISTS",
        "(SELECT 1 FROM claimed AS c WHERE c.namespace = w.namespace AND c.value = w.value)))",
        "SELECT namespace, value FROM claimed",
    ]
)


def pg_claim_and_log_params(
    claims: Sequence[tuple[int, str, str, datetime]],
    events: Sequence[tuple[int, Mapping[str, Any]]],
    now: datetime,
) -> dict[str, Any]:
    """The parameters of `PG_CLAIM_AND_LOG`: claims as (owner, namespace, value, expires_at),
    each (namespace, value) once; events as (owner, `event_row` values)."""
    params: dict[str, Any] = {
        "claim_owners": [o for o, _, _, _ in claims],
        "namespaces": [n for _, n, _, _ in claims],
        "vals": [v for _, _, v, _ in claims],
        "expires": [e for _, _, _, e in claims],
        "now": now,
        "event_owners": [o for o, _ in events],
    }
    for c, _ in EVENT_COLUMNS:
        params[c] = [row[c] for _, row in events]
    return params


def insert_access_events(dialect: str, rows: Sequence[Mapping[str, Any]]) -> tuple[Executable, Any]:
    """The access events `rows` (values of `vault.audit.events.event_row`) as one INSERT."""
    if dialect == "postgresql":
        return _PG_EVENTS, {c: [row[c] for row in rows] for c, _ in EVENT_COLUMNS}
    return INSERT_ACCESS_EVENTS, list(rows)


def claim_replays(
    dialect: str, claims: Sequence[tuple[str, str, datetime]], now: datetime
) -> tuple[Executable, Any]:
    """Record (namespace, value, expires_at) claims; RETURNING gives the ones that are new.

    A value already there and not yet expired conflicts and is not returned: it was seen
    before, by this worker or any other. One there but expired is taken over. The caller
    passes each (namespace, value) once: PostgreSQL refuses a statement that would update
    the same row twice. Executed with a list of parameter sets, SQLAlchemy sends it as one
    multi-row INSERT ("insertmanyvalues"), compiled once whatever the number of rows.
    """
    if dialect == "postgresql":
        return _PG_CLAIM, {
            "namespaces": [n for n, _, _ in claims],
            "vals": [v for _, v, _ in claims],
            "expires": [e for _, _, e in claims],
            "now": now,
        }
    params = [{"namespace": n, "value": v, "expires_at": e, "now": now} for n, v, e in claims]
    return _CLAIM[dialect], params


def _claim_statement(dialect: str) -> Insert:
    c = _replay.c
    insert_ = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert_(_replay)
    return statement.on_conflict_do_update(
        index_elements=[c.namespace, c.value],
        set_={"expires_at": statement.excluded.expires_at},
        where=c.expires_at <= bindparam("now", type_=c.expires_at.type),
    ).returning(c.namespace, c.value)


_CLAIM = {dialect: _claim_statement(dialect) for dialect in ("postgresql", "sqlite")}

#: Access events, executed with a list of rows: RETURNING makes SQLAlchemy send one multi-row
#: INSERT per batch (insertmanyvalues) instead of one statement per row.
INSERT_ACCESS_EVENTS = insert(ACCESS_EVENTS).returning(ACCESS_EVENTS.c.event_id)

# The sweeper's SETs, stored as claims to be signed at delivery (vault/events/outbox.py).
_INSERT_OUTBOX = insert(cast(Table, OutboxRow.__table__))


def insert_outbox(rows: Sequence[Mapping[str, Any]]) -> tuple[Executable, Any]:
    """Outbox rows (all with the same keys; the columns left out stay empty) as an executemany
    (SQLite; PostgreSQL takes the sweeper's rows by COPY, vault/storage/bulk.py)."""
    return _INSERT_OUTBOX, list(rows)


def key_pairs_in(dialect: str, first: Any, second: Any, pairs: Sequence[tuple[Any, Any]]) -> Any:
    """`(first, second) IN pairs` (uuid pairs such as (resident_id, grant_id)). On PostgreSQL
    the pairs go as two arrays (unnest): one short statement text whatever their number, which
    psycopg keeps parsed, where thousands of placeholders would be converted anew each time."""
    if dialect == "postgresql":
        arrays = text(
            "SELECT * FROM unnest(CAST(:pair_first AS uuid[]), CAST(:pair_second AS uuid[]))"
        ).bindparams(pair_first=[p[0] for p in pairs], pair_second=[p[1] for p in pairs])
        return tuple_(first, second).in_(arrays.columns(first.type, second.type))
    return tuple_(first, second).in_(list(pairs))


_PG_EVENT_SEQS = text(
    "UPDATE access_events AS e SET seq = :first + v.n - 1"
    " FROM unnest(CAST(:r AS uuid[]), CAST(:e AS uuid[])) WITH ORDINALITY AS v(r, e, n)"
    " WHERE e.resident_id = v.r AND e.event_id = v.e AND e.seq IS NULL"
)
_EVENT_SEQ = (
    update(ACCESS_EVENTS)
    .where(
        ACCESS_EVENTS.c.resident_id == bindparam("r"),
        ACCESS_EVENTS.c.event_id == bindparam("e"),
        ACCESS_EVENTS.c.seq.is_(None),
    )
    .values(seq=bindparam("s"))
)


def set_event_seqs(
    dialect: str, events: Sequence[tuple[uuid.UUID | str, uuid.UUID | str]], first: int
) -> tuple[Executable, Any]:
    """Give events (resident_id, event_id) the log indexes first, first + 1, ... in order:
    one statement on PostgreSQL (the index from the array position: no array of them; the
    ids may be UUIDs or their texts there, UUIDs elsewhere)."""
    if dialect == "postgresql":
        return _PG_EVENT_SEQS, {
            "first": first,
            "r": [r for r, _ in events],
            "e": [e for _, e in events],
        }
    return _EVENT_SEQ, [{"r": r, "e": e, "s": first + i} for i, (r, e) in enumerate(events)]


# -- the sweeper's end of a batch of grants, on PostgreSQL -------------------------------------
#
# What `GrantService._end` writes for one grant, for a whole batch, in ONE data-modifying
# statement: the grants picked by `due` ended (status guard repeated: a row another sweeper or
# a revoke changed meanwhile is re-checked and left alone), one history step each numbered
# after the grant's last, every token of theirs revoked, and the ended grants returned with
# their procedure's ref (for the SETs). PostgreSQL runs every WITH part exactly once and to
# completion, all in the caller's transaction.
#
# Expired grants: `due` locks its rows FOR UPDATE SKIP LOCKED, in a CTE (run once: a LIMIT
# subquery in a WHERE may be run again mid-UPDATE and pick further rows), so concurrent
# sweepers take disjoint batches and never wait on each other; the UPDATE then finds them by
# their row address (`ctid`, a TID scan), which cannot change while the lock is held: no join
# back to the table, whose plan (a hash join reading all of `grants` for every batch, chosen
# on a misestimate) would grow with the table. Parameters: now, reason, limit (or the
# procedures' key arrays).
_PG_ENDED_WRITES = (
    " steps AS (INSERT INTO grant_events"
    " (resident_id, grant_id, seq, at, status, actor, actor_id, reason)"
    " SELECT e.resident_id, e.grant_id, COALESCE((SELECT max(h.seq) FROM grant_events AS h"
    " WHERE h.resident_id = e.resident_id AND h.grant_id = e.grant_id), 0) + 1,"
    " :now, 'ended', 'system', NULL, :reason FROM ended AS e),"
    " revoked AS (UPDATE oauth_tokens AS t SET revoked_at = :now FROM ended AS e"
    " WHERE t.resident_id = e.resident_id AND t.grant_id = e.grant_id"
    " AND t.revoked_at IS NULL)"
    " SELECT e.resident_id, e.grant_id, e.service_id, e.procedure_id, e.purpose_uri,"
    " e.legal_basis, p.ref FROM ended AS e LEFT JOIN procedures AS p"
    " ON p.resident_id = e.resident_id AND p.procedure_id = e.procedure_id"
)
_PG_END_SET = " SET status = 'ended', end_reason = :reason, ended_at = :now, ping_ct = NULL"
_PG_END_RETURNING = (
    " RETURNING g.resident_id, g.grant_id, g.service_id, g.procedure_id, g.purpose_uri,"
    " g.legal_basis),"
)
_PG_DUE_EXPIRED = (
    "WITH due AS (SELECT ctid FROM grants WHERE status = 'approved' AND valid_until <= :now"
    " LIMIT :limit FOR UPDATE SKIP LOCKED),"
    " ended AS (UPDATE grants AS g"
)
_PG_WHERE_DUE_EXPIRED = (
    " WHERE g.ctid = ANY (ARRAY(SELECT ctid FROM due)) AND g.status = 'approved'"
)
# The procedures were closed (and so taken) by this sweeper: the UPDATE's own row locks and
# status guard suffice for their grants, found through ix_grants_procedure.
_PG_DUE_UNDER_PROCEDURES = (
    "WITH due AS (SELECT * FROM unnest(CAST(:residents AS uuid[]),"
    " CAST(:procedures AS uuid[])) AS u(resident_id, procedure_id)),"
    " ended AS (UPDATE grants AS g"
)
_PG_WHERE_DUE_UNDER_PROCEDURES = (
    " FROM due WHERE g.resident_id = due.resident_id AND g.procedure_id = due.procedure_id"
    " AND g.status = 'approved'"
)
PG_END_EXPIRED = text(
    "".join(
        (_PG_DUE_EXPIRED, _PG_END_SET, _PG_WHERE_DUE_EXPIRED, _PG_END_RETURNING, _PG_ENDED_WRITES)
    )
)
PG_END_UNDER_PROCEDURES = text(
    "".join(
        (
            _PG_DUE_UNDER_PROCEDURES,
            _PG_END_SET,
            _PG_WHERE_DUE_UNDER_PROCEDURES,
            _PG_END_RETURNING,
            _PG_ENDED_WRITES,
        )
    )
)
