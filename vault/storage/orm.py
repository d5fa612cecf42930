"""The database tables, as SQLAlchemy 2 declarative classes.

Rules kept here:
- Every table that holds a resident's data has `resident_id` as the first column of its
  primary key, and every query on it filters by it (tests/integration/test_resident_scoping.py
  checks the SQL), so the schema can later be distributed by resident (Citus).
- Columns ending in `_ct` are ciphertexts made by `keys.DataKey.seal`; nothing that identifies
  a person is stored in clear. Clear columns are what indexes and the catalogue need.
- Authentication tables (credentials, sessions, recovery codes, challenges) are looked up by
  a secret or random identifier and resolve to a resident: they are the routing entry points.

These classes are storage records, not API shapes: `api/schemas` lists response fields by hand.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    Uuid,
    func,
    or_,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every dialect (SQLite stores no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use UTC-aware ones")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UtcDateTime,
        uuid.UUID: Uuid(),
        bytes: LargeBinary,
    }


# -- residents and their keys ------------------------------------------------------------


class ResidentRow(Base):
    __tablename__ = "residents"

    resident_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(String(16))  # active | deleted
    display_name_ct: Mapped[bytes | None]
    dek_version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]
    deleted_at: Mapped[datetime | None]
    # The resident's pseudonym in the audit log (`subject`, a keyed hash), filled in by
    # vault/audit/search.py when an auditor first filters on one, so it is found by index.
    # It links no more than access_events already does (they carry resident_id in clear).
    audit_subject: Mapped[str | None] = mapped_column(String(64), unique=True)


class DataKeyRow(Base):
    """A resident's data key, wrapped by KEK `kek_version`. Deleting it shreds the vault."""

    __tablename__ = "data_keys"
    __table_args__ = (Index("ix_data_keys_kek_version", "kek_version"),)

    resident_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    kek_version: Mapped[int] = mapped_column(Integer)
    wrapped: Mapped[bytes]
    created_at: Mapped[datetime]


# -- records ----------------------------------------------------------------------------


class RecordRow(Base):
    __tablename__ = "records"
    __table_args__ = (Index("ix_records_resident_category", "resident_id", "category"),)

    resident_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    record_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    category: Mapped[str] = mapped_column(String(32))
    type: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(8))  # json | file
    current_version: Mapped[int] = mapped_column(Integer)
    # Provenance: who wrote the first version. A service writing under a grant sets
    # written_by="service" with its ids; a representative "representative" with the mandate
    # (writer_mandate_id); residents write as "resident".
    written_by: Mapped[str] = mapped_column(String(16))
    writer_service_id: Mapped[uuid.UUID | None]
    writer_grant_id: Mapped[uuid.UUID | None]
    writer_mandate_id: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class RecordVersionRow(Base):
    __tablename__ = "record_versions"
    __table_args__ = (
        ForeignKeyConstraint(
            ["resident_id", "record_id"],
            ["records.resident_id", "records.record_id"],
            ondelete="CASCADE",
        ),
    )

    resident_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    record_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    dek_version: Mapped[int] = mapped_column(Integer)
    title_ct: Mapped[bytes]
    content_ct: Mapped[bytes | None]  # JSON content (kind json)
    blob_id: Mapped[uuid.UUID | None]  # file content (kind file)
    media_type: Mapped[str | None] = mapped_column(String(128))
    filename_ct: Mapped[bytes | None]
    size_bytes: Mapped[int | None]
    written_by: Mapped[str] = mapped_column(String(16))  # resident | representative | service
    created_at: Mapped[datetime]
    writer_mandate_id: Mapped[uuid.UUID | None]  # a representative's mandate
    # An issuer's signature over this version (keys/issuer.py): a detached JWS, so it holds
    # no content; who signed it with which key. A resident's own edit makes an unsigned version.
    signature_jws: Mapped[str | None] = mapped_column(Text)
    signer_client_id: Mapped[str | None] = mapped_column(String(64))
    signer_kid: Mapped[str | None] = mapped_column(String(128))
    signer_alg: Mapped[str | None] = mapped_column(String(16))


class BlobRow(Base):
    """File content, stored as sealed chunks; `complete` only once every chunk is in."""

    __tablename__ = "record_blobs"
    __table_args__ = (
        # Uploads under way or cut off, for the sweep of abandoned ones: small, since a
        # finished upload leaves it.
        Index(
            "ix_record_blobs_incomplete",
            "created_at",
            postgresql_where=text("NOT complete"),
            sqlite_where=text("NOT complete"),
        ),
    )

    resident_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    blob_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    dek_version: Mapped[int] = mapped_column(Integer)
    chunk_count: Mapped[int] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(Integer)
    complete: Mapped[bool]
    created_at: Mapped[datetime]


class BlobChunkRow(Base):
    __tablename__ = "record_blob_chunks"
    __table_args__ = (
        ForeignKeyConstraint(
            ["resident_id", "blob_id"],
            ["record_blobs.resident_id", "record_blobs.blob_id"],
            ondelete="CASCADE",
        ),
    )

    resident_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    blob_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    chunk_ct: Mapped[bytes]


# -- authentication ----------------------------------------------------------------------


class PasskeyCredentialRow(Base):
    __tablename__ = "passkey_credentials"
    __table_args__ = (Index("ix_passkey_credentials_resident_id", "resident_id"),)

    credential_id: Mapped[bytes] = mapped_column(LargeBinary, primary_key=True)
    resident_id: Mapped[uuid.UUID]
    public_key: Mapped[bytes]
    sign_count: Mapped[int] = mapped_column(Integer)
    transports: Mapped[str] = mapped_column(String(128))  # comma-separated hints
    backed_up: Mapped[bool]
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]


class RecoveryCodeRow(Base):
    """A one-time recovery code, stored as a keyed hash (never the code itself)."""

    __tablename__ = "recovery_codes"
    __table_args__ = (Index("ix_recovery_codes_resident_id", "resident_id"),)

    code_hash: Mapped[bytes] = mapped_column(LargeBinary, primary_key=True)
    resident_id: Mapped[uuid.UUID]
    created_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class AuthChallengeRow(Base):
    """A WebAuthn challenge: single use, short-lived, shared by all workers."""

    __tablename__ = "auth_challenges"
    __table_args__ = (Index("ix_auth_challenges_expires_at", "expires_at"),)

    challenge_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    # register | login | add-passkey | reauthenticate | auditor-enrol | auditor-login
    purpose: Mapped[str] = mapped_column(String(16))
    challenge: Mapped[bytes]
    resident_id: Mapped[uuid.UUID | None]  # for the auditor-* purposes: the auditor
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class SessionRow(Base):
    """A resident's signed-in session; the bearer token is stored as a SHA-256 hash."""

    __tablename__ = "resident_sessions"
    __table_args__ = (Index("ix_resident_sessions_resident_id", "resident_id"),)

    session_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    resident_id: Mapped[uuid.UUID]
    auth_method: Mapped[str] = mapped_column(String(16))  # passkey | recovery
    auth_time: Mapped[datetime]
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


# -- auditors (docs/auditors.md): their own principals, never residents -------------------


class AuditorRow(Base):
    """An auditor appointed by the operator (`regie auditors add`). Not a resident: no vault,
    no data key; the name is the operator's label for a professional appointment.

    The enrolment code is shown once and stored as a keyed hash (keys.KeyedHasher); it is
    spent when the auditor registers a passkey with it (`enrolled_at`)."""

    __tablename__ = "auditors"

    auditor_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16))  # invited | active | removed
    created_at: Mapped[datetime]
    enrolment_hash: Mapped[bytes | None] = mapped_column(LargeBinary, unique=True)
    enrolment_expires_at: Mapped[datetime | None]
    enrolled_at: Mapped[datetime | None]
    removed_at: Mapped[datetime | None]


class AuditorCredentialRow(Base):
    """An auditor's passkey. Apart from residents' passkeys, so that neither kind of sign-in
    can ever find the other kind's credential."""

    __tablename__ = "auditor_credentials"
    __table_args__ = (Index("ix_auditor_credentials_auditor_id", "auditor_id"),)

    credential_id: Mapped[bytes] = mapped_column(LargeBinary, primary_key=True)
    auditor_id: Mapped[uuid.UUID]
    public_key: Mapped[bytes]
    sign_count: Mapped[int] = mapped_column(Integer)
    transports: Mapped[str] = mapped_column(String(128))
    backed_up: Mapped[bool]
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]


class AuditorSessionRow(Base):
    """An auditor's session; the bearer token (rga_...) is stored as a SHA-256 hash."""

    __tablename__ = "auditor_sessions"
    __table_args__ = (Index("ix_auditor_sessions_auditor_id", "auditor_id"),)

    session_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    auditor_id: Mapped[uuid.UUID]
    auth_time: Mapped[datetime]
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


# -- services, procedures, grants (the grant API) -----------------------------------------


class ServiceRow(Base):
    """A registered service (school, municipality, care provider): an OAuth client."""

    __tablename__ = "services"

    service_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    organisation_scheme: Mapped[str] = mapped_column(String(8))  # oin | kvk | ura
    organisation_id: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))  # school | municipality | care-provider | other
    jwks: Mapped[str | None] = mapped_column(Text)  # inline JWKS (public keys), JSON
    jwks_uri: Mapped[str | None] = mapped_column(String(500))
    event_endpoint: Mapped[str | None] = mapped_column(String(500))
    # How the service learns that a CIBA request was answered (OpenID CIBA §4): poll | ping.
    backchannel_token_delivery_mode: Mapped[str] = mapped_column(String(8), server_default="poll")
    # Where a ping-mode service is pinged (CIBA §10.2); NULL in poll mode.
    backchannel_client_notification_endpoint: Mapped[str | None] = mapped_column(String(500))
    ceiling_datatypes: Mapped[str] = mapped_column(Text)  # JSON list: all it may ever ask for
    ceiling_actions: Mapped[str] = mapped_column(String(64))  # JSON list: read, write
    # JSON list of exact redirect URIs for the authorization code flow (none: no browser flow)
    redirect_uris: Mapped[str] = mapped_column(Text, server_default="[]")
    status: Mapped[str] = mapped_column(String(16))  # active | disabled
    created_at: Mapped[datetime]
    disabled_at: Mapped[datetime | None]


class ServiceConnectionRow(Base):
    """A resident known to a service under a pairwise subject (never the resident's own id)."""

    __tablename__ = "service_connections"
    __table_args__ = (Index("ix_service_connections_resident_id", "resident_id", "service_id"),)

    service_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(64), primary_key=True)
    resident_id: Mapped[uuid.UUID]
    created_at: Mapped[datetime]


class ConnectionCodeRow(Base):
    """A one-time code a resident gives a service to connect; stored as a keyed hash."""

    __tablename__ = "connection_codes"
    __table_args__ = (Index("ix_connection_codes_resident_id", "resident_id"),)

    code_hash: Mapped[bytes] = mapped_column(LargeBinary, primary_key=True)
    resident_id: Mapped[uuid.UUID]
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    used_by_service_id: Mapped[uuid.UUID | None]


class ProcedureRow(Base):
    """A treatment, enrolment or case: the termination condition of the grants under it."""

    __tablename__ = "procedures"
    __table_args__ = (
        UniqueConstraint("resident_id", "service_id", "ref"),
        Index("ix_procedures_open_planned_end", "status", "planned_end"),
    )

    resident_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    procedure_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    service_id: Mapped[uuid.UUID]
    ref: Mapped[str] = mapped_column(String(100))  # the service's own reference
    description_ct: Mapped[bytes | None]
    planned_end: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16))  # open | closed
    # service | resident | representative (under a mandate) | planned-end
    closed_by: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]


class GrantRow(Base):
    """A consent record from request to end (ISO/IEC TS 27560 / DPV fields)."""

    __tablename__ = "grants"
    __table_args__ = (
        Index("ix_grants_resident_status", "resident_id", "status"),
        Index("ix_grants_service", "service_id", "status"),
        Index("ix_grants_procedure", "resident_id", "procedure_id"),
        # The sweeper's (approved grants past valid_until). Partial: a grant that leaves
        # `approved` leaves this index, and its end writes one index entry fewer.
        Index(
            "ix_grants_approved_valid_until",
            "valid_until",
            postgresql_where=text("status = 'approved'"),
            sqlite_where=text("status = 'approved'"),
        ),
        # The sweeper's unanswered requests past their expiry (they used the status prefix of
        # the index above before it became partial; without one, each round reads the whole
        # table: 0.3 s a round at 1M grants).
        Index(
            "ix_grants_requested_expires_at",
            "request_expires_at",
            postgresql_where=text("status = 'requested'"),
            sqlite_where=text("status = 'requested'"),
        ),
    )

    resident_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    grant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    service_id: Mapped[uuid.UUID]
    procedure_id: Mapped[uuid.UUID]
    auth_req_id_hash: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    status: Mapped[str] = mapped_column(String(16))  # requested|approved|denied|lapsed|ended
    end_reason: Mapped[str | None] = mapped_column(String(32))
    requested_datatypes: Mapped[str] = mapped_column(Text)  # JSON list
    requested_actions: Mapped[str] = mapped_column(String(64))  # JSON list
    requested_valid_until: Mapped[datetime]
    datatypes: Mapped[str | None] = mapped_column(Text)  # as approved (narrowed or equal)
    actions: Mapped[str | None] = mapped_column(String(64))
    valid_until: Mapped[datetime | None]
    purpose_uri: Mapped[str] = mapped_column(String(200))
    purpose_text_ct: Mapped[bytes | None]
    legal_basis: Mapped[str] = mapped_column(String(200))
    binding_message_ct: Mapped[bytes | None]
    # On what basis it was given: self | parent | legal-representative.
    granted_by: Mapped[str | None] = mapped_column(String(32))
    decided_by: Mapped[uuid.UUID | None]
    request_expires_at: Mapped[datetime]
    poll_interval: Mapped[int] = mapped_column(Integer)
    # Ping mode (CIBA §10.2): the auth_req_id and the service's client_notification_token,
    # sealed under a deployment key (vault/events/ping.py) while the request is pending; moved
    # to the outbox when it is answered, and blanked here then (or when it lapses).
    ping_ct: Mapped[bytes | None]
    last_polled_at: Mapped[datetime | None]
    tokens_issued_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]


class GrantEventRow(Base):
    """One step of a grant's status history: who, when, what."""

    __tablename__ = "grant_events"

    resident_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    grant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(
        String(16)
    )  # resident | representative | service | auditor | operator | system
    actor_id: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(String(32))
    details: Mapped[str | None] = mapped_column(Text)  # JSON (e.g. what was narrowed)


# -- representation (vault/representation/): who may act for whom -----------------------


class MandateRow(Base):
    """A mandate: the principal (`resident_id`) lets a representative act for them within a
    scope (catalogue categories, actions) and a period. A parent's standing mandate for a
    child's vault is one too (`kind` "parent").

    The acceptance code is stored as a keyed hash (vault/codes.py) and is a routing entry
    point, as connection codes are. `label_ct` and `representative_name_ct` are sealed under
    the principal's data key (they are the principal's data and are shredded with the vault).
    """

    __tablename__ = "mandates"
    __table_args__ = (
        Index("ix_mandates_representative", "representative_id", "status"),
        Index("ix_mandates_resident_status", "resident_id", "status"),
    )

    resident_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)  # the principal
    mandate_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # mandate | parent
    representative_id: Mapped[uuid.UUID | None]  # set when accepted
    status: Mapped[str] = mapped_column(String(16))  # offered | active | lapsed | ended
    end_reason: Mapped[str | None] = mapped_column(String(32))  # revoked | given-up | expired
    categories: Mapped[str] = mapped_column(Text)  # JSON list of catalogue categories
    actions: Mapped[str] = mapped_column(String(64))  # JSON list: read, write, decide-requests
    valid_from: Mapped[datetime]
    valid_until: Mapped[datetime]
    dek_version: Mapped[int] = mapped_column(Integer)  # of the sealed texts below
    label_ct: Mapped[bytes | None]
    representative_name_ct: Mapped[bytes | None]
    code_hash: Mapped[bytes | None] = mapped_column(LargeBinary, unique=True)
    code_expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]


class MandateEventRow(Base):
    """One step of a mandate's status history: who, when, what."""

    __tablename__ = "mandate_events"

    resident_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    mandate_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(16))  # resident | representative | system
    actor_id: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(String(32))


class OAuthTokenRow(Base):
    """An access or refresh token, stored as its SHA-256 hash, bound to one grant and key."""

    __tablename__ = "oauth_tokens"
    __table_args__ = (Index("ix_oauth_tokens_grant", "resident_id", "grant_id"),)

    token_hash: Mapped[bytes] = mapped_column(LargeBinary, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # access | refresh
    resident_id: Mapped[uuid.UUID]
    grant_id: Mapped[uuid.UUID]
    service_id: Mapped[uuid.UUID]
    jkt: Mapped[str] = mapped_column(String(64))  # DPoP key thumbprint (cnf.jkt)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    rotated_at: Mapped[datetime | None]  # refresh tokens: when exchanged for a new one


class PushedRequestRow(Base):
    """A pushed authorization request (RFC 9126) before a resident has seen it: found by the
    SHA-256 of its `request_uri`, deleted when used (single use) or swept after it expired.
    No resident is known yet, so nothing here is resident data: the service's own request."""

    __tablename__ = "pushed_requests"
    __table_args__ = (Index("ix_pushed_requests_expires_at", "expires_at"),)

    request_uri_hash: Mapped[bytes] = mapped_column(LargeBinary, primary_key=True)
    service_id: Mapped[uuid.UUID]
    redirect_uri: Mapped[str] = mapped_column(String(500))
    state: Mapped[str | None] = mapped_column(String(500))
    code_challenge: Mapped[str] = mapped_column(String(64))  # S256 only
    dpop_jkt: Mapped[str | None] = mapped_column(String(64))
    spec: Mapped[str] = mapped_column(Text)  # the parsed authorization_details, JSON
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class AuthorizationCodeRow(Base):
    """The browser flow of one grant (RFC 6749 §4.1): where to send the resident back, the
    PKCE challenge, and the code once the resident approved (stored as its SHA-256)."""

    __tablename__ = "authorization_codes"

    resident_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    grant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    service_id: Mapped[uuid.UUID]
    redirect_uri: Mapped[str] = mapped_column(String(500))
    state: Mapped[str | None] = mapped_column(String(500))
    code_challenge: Mapped[str] = mapped_column(String(64))
    dpop_jkt: Mapped[str | None] = mapped_column(String(64))
    code_hash: Mapped[bytes | None] = mapped_column(LargeBinary, unique=True)
    code_expires_at: Mapped[datetime | None]
    code_used_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class RateBucketRow(Base):
    """One rate-limit bucket (api/ratelimit.py), shared by every server process: its GCRA
    "theoretical arrival time" in nanoseconds since the epoch, from the injectable clock.

    `bucket` is a keyed hash of the rule and the key (a client address or a service), so no
    address is stored (an IP address is personal data) and every key has the same size. A row
    whose `tat` has passed is a full bucket, the same as no row: the sweep deletes it.
    `granted` is whether the last request was let through: the one upsert that updates the
    row returns it, since RETURNING sees only the new row (vault/storage/rate_buckets.py).
    """

    __tablename__ = "rate_limit_buckets"

    bucket: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    tat: Mapped[int] = mapped_column(BigInteger)
    granted: Mapped[bool] = mapped_column(Boolean)


class ReplayRow(Base):
    """One-time values seen (client assertion and DPoP `jti`s), until they expire."""

    __tablename__ = "replay_cache"
    __table_args__ = (Index("ix_replay_cache_expires_at", "expires_at"),)

    namespace: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(String(400), primary_key=True)
    expires_at: Mapped[datetime]


class AccessEventRow(Base):
    """One access attempt or lifecycle change, committed with the action it records.

    Written only by `vault.audit.events`. The integrator (`vault.audit.log`) later gives it
    `seq`, its index in the verifiable log, and from then on its canonical serialization
    (`vault.audit.leaf`) is a leaf of the Merkle tree: a changed column no longer matches.
    """

    __tablename__ = "access_events"
    __table_args__ = (
        Index("ix_access_events_resident_at", "resident_id", "at"),
        Index("ix_access_events_seq", "seq", unique=True),
        # What the integrator has not taken yet: small, since it runs every second.
        Index(
            "ix_access_events_unsequenced",
            "at",
            postgresql_where=text("seq IS NULL"),
            sqlite_where=text("seq IS NULL"),
        ),
    )

    resident_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    name: Mapped[str] = mapped_column(String(48))  # e.g. record.read, grant.approved
    outcome: Mapped[str] = mapped_column(String(8))  # permit | deny | done
    reason: Mapped[str | None] = mapped_column(String(48))
    actor: Mapped[str] = mapped_column(
        String(16)
    )  # resident | representative | service | auditor | operator | system
    actor_id: Mapped[str | None] = mapped_column(String(64))
    service_id: Mapped[uuid.UUID | None]
    grant_id: Mapped[uuid.UUID | None]
    procedure_id: Mapped[uuid.UUID | None]
    record_id: Mapped[uuid.UUID | None]
    datatype: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str | None] = mapped_column(String(16))
    # Logboek Dataverwerkingen: the request's W3C trace, the processing's purpose and legal
    # basis (DPV URIs, never the service's free text, which may name a person).
    trace_id: Mapped[str | None] = mapped_column(String(32))
    span_id: Mapped[str | None] = mapped_column(String(16))
    parent_span_id: Mapped[str | None] = mapped_column(String(16))
    purpose: Mapped[str | None] = mapped_column(String(200))
    legal_basis: Mapped[str | None] = mapped_column(String(200))  # a DPV legal basis URI
    seq: Mapped[int | None] = mapped_column(BigInteger)


class AuditTileRow(Base):
    """One tile of the verifiable log's Merkle tree, after C2SP tlog-tiles (height 8).

    The tile at (`level`, `idx`) holds the hashes of tree level 8 x `level`, nodes
    256 x `idx` to 256 x `idx` + 255, concatenated (32 bytes each); it grows until full.
    Interior nodes in between are recomputed from the tile below (at most 255 hashes), so a
    proof costs a few rows whatever the size of the log.
    """

    __tablename__ = "audit_tiles"

    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hashes: Mapped[bytes]


class AuditCheckpointRow(Base):
    """A signed checkpoint (C2SP tlog-checkpoint in a signed note): every one is kept."""

    __tablename__ = "audit_checkpoints"

    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    note: Mapped[str] = mapped_column(Text)
    signed_at: Mapped[datetime]


RESIDENT_DATA_TABLES = frozenset(
    {
        "residents",
        "data_keys",
        "records",
        "record_versions",
        "record_blobs",
        "record_blob_chunks",
        "procedures",
        "grants",
        "grant_events",
        "access_events",
        "mandates",
        "mandate_events",
    }
)


# -- events to services (RFC 8417 Security Event Tokens, through a transactional outbox) ---


# An event is finished once taken (delivered_at) or given up (never taken, no next push);
# pending ones are neither. The purge's partial index holds the finished ones only.
_FINISHED = "delivered_at IS NOT NULL OR next_attempt_at IS NULL"


class OutboxRow(Base):
    """A Security Event Token for one service, added in the transaction of the change it
    reports (vault/events/outbox.py), then pushed (RFC 8935) or polled (RFC 8936) until the
    service has taken it.

    Per service, not per resident: the SET names the resident only by the service's pairwise
    subject, and no column here identifies a resident.
    """

    __tablename__ = "event_outbox"
    __table_args__ = (
        Index("ix_event_outbox_service_pending", "service_id", "delivered_at", "created_at"),
        Index("ix_event_outbox_due", "delivered_at", "next_attempt_at"),
        # The purge's (vault/events/repository.py): finished events by when they finished.
        Index(
            "ix_event_outbox_finished",
            text("coalesce(delivered_at, created_at)"),
            postgresql_where=text(_FINISHED),
            sqlite_where=text(_FINISHED),
        ),
    )

    event_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    service_id: Mapped[uuid.UUID]
    jti: Mapped[str] = mapped_column(String(64), unique=True)
    # set: a signed SET (pushed or polled); ping: a CIBA ping (CIBA §10.2), pushed only, to
    # the service's client notification endpoint, never in the RFC 8936 feed.
    kind: Mapped[str] = mapped_column(String(8), server_default="set")
    # grant-approved | grant-denied | grant-ended | request-lapsed (a ping: the same names)
    event_type: Mapped[str] = mapped_column(String(32))
    set_jwt: Mapped[str | None] = mapped_column(Text)  # the signed SET, exactly as sent
    # A SET written by the set-based sweeper: its claims (JSON), signed when it is first
    # claimed for a push or polled, and kept in `set_jwt` from then on (vault/events/outbox.py).
    set_claims: Mapped[str | None] = mapped_column(Text)
    # A ping's auth_req_id and bearer token, sealed (vault/events/ping.py); blanked once the
    # ping is finished (delivered, refused or given up).
    ping_ct: Mapped[bytes | None]
    created_at: Mapped[datetime]
    # When the next push may start. Also the lease of a push in flight; NULL: no push pending
    # (taken, refused, or given up; a given-up event can still be polled).
    next_attempt_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer)  # pushes started
    # Set once the service has taken it: acknowledged it (202 or a poll `ack`) or refused it
    # with an RFC 8935 error (a 400 `err`, a poll `setErrs`). Final either way.
    delivered_at: Mapped[datetime | None]
    delivered_via: Mapped[str | None] = mapped_column(String(8))  # push | poll
    outcome: Mapped[str | None] = mapped_column(String(16))  # acknowledged | refused
    last_error: Mapped[str | None] = mapped_column(String(200))  # short; no personal data


# The purge's condition and key, spelt as `ix_event_outbox_finished` is (an index on an
# expression is used only for that expression): finished, and when (taken, or else made).
FINISHED = or_(OutboxRow.delivered_at.is_not(None), OutboxRow.next_attempt_at.is_(None))
FINISHED_AT = func.coalesce(OutboxRow.delivered_at, OutboxRow.created_at)
