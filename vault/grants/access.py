"""What a service does with a resident's data under a grant: list, read, write.

Every call runs the access check (policy.decide) on the grant and procedure as they are now,
records the attempt (allowed or denied) and only then acts. A denied attempt commits its
event, then raises `AccessDenied` (or `GrantEnded` when the grant has ended), so the resident
sees refused attempts too.

Reading a record is the hot path and async (ADR 0001): one statement reads the token, its
grant, procedure and service, the record, its current version and data key
(`queries.TOKEN_FACTS_AND_RECORD`, on psycopg directly on PostgreSQL: `vault.storage.hot_path`);
the decision is made on that row; the access event and
the DPoP proof's replay claim are committed together (`AccessLog`, group commit) before the
record is returned. Listing and writing run in the sync unit of work, in one transaction.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from keys import issuer
from keys.service import WrappedDataKey
from vault.audit.events import AccessEvent, AccessLog, ReplayClaim, record
from vault.errors import (
    AccessDenied,
    AuthenticationFailed,
    GrantEnded,
    InvalidInput,
    KeyServiceUnavailable,
    NotFound,
)
from vault.grants import stored
from vault.grants.model import TokenFacts
from vault.grants.policy import Decision, Deny, Permit, ProcedureFacts
from vault.grants.tokens import checked_token, token_hash, well_formed_access_token
from vault.ports import Clock
from vault.records.model import JsonValue, RecordView, SignatureInfo
from vault.records.service import (
    RecordService,
    StoredRecord,
    StoredVersion,
    open_version,
    record_view,
)
from vault.residents.keys import VaultKeys
from vault.storage.hot_path import HotPath
from vault.storage.unit_of_work import SqlUnitOfWork, UnitOfWorkFactory

ENDED_REASONS = frozenset({"grant-ended", "grant-expired", "procedure-closed", "procedure-ended"})


class ServiceAccess:
    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        hot: HotPath,
        log: AccessLog,
        records: RecordService,
        keys: VaultKeys,
        clock: Clock,
        on_attempt: Callable[[AccessEvent], None] | None = None,
    ) -> None:
        self._uow = uow
        # Told of every decided attempt (permit or deny), for the operator's metrics.
        self._on_attempt = on_attempt
        self._hot = hot
        self._log = log
        self._records = records
        self._keys = keys
        self._clock = clock

    def _decide(self, uow: SqlUnitOfWork, who: TokenFacts, datatype: str, action: str) -> Decision:
        return stored.check(
            uow,
            uow.grants.get(who.resident_id, who.grant_id),
            service_id=who.service_id,
            resident_id=who.resident_id,
            datatype=datatype,
            action=action,
            now=self._clock.now(),
        )

    def _record_attempt(
        self,
        uow: SqlUnitOfWork,
        who: TokenFacts,
        decision: Decision,
        name: str,
        *,
        datatype: str | None,
        action: str,
        record_id: uuid.UUID | None = None,
    ) -> None:
        event = _attempt(who, decision, name, datatype=datatype, action=action, record_id=record_id)
        self._observe(event)
        record(uow, event, self._clock.now())

    def _observe(self, event: AccessEvent) -> None:
        if self._on_attempt is not None:
            self._on_attempt(event)

    @staticmethod
    def _refuse(uow: SqlUnitOfWork, decision: Deny) -> AccessDenied:
        uow.commit()  # the refused attempt is on record before the refusal
        return _refusal(decision)

    async def read_record(
        self, access_token: str, jkt: str, claims: Sequence[ReplayClaim], record_id: uuid.UUID
    ) -> RecordView:
        """The record, if the access token (bound to the DPoP key `jkt`) speaks for a grant
        that lets its service read it now.

        `claims` are the request's one-time values (its DPoP proof's `jti`): committed with
        the access event, or refused with `ReplayDetected` if seen before. A refused token
        raises `AuthenticationFailed` (no access event: there is no grant to speak of).
        """
        if not well_formed_access_token(access_token):
            raise AuthenticationFailed("invalid access token")
        row: Any = await self._hot.token_and_record(token_hash(access_token), record_id)
        now = self._clock.now()
        try:
            who = checked_token(row, jkt, now)
        except AuthenticationFailed:
            await self._log.commit(claims, None, now)  # a replayed proof is refused as such
            raise
        if row.record_id is None:
            # A probe for a record that is not there is an attempt too: on record, then 404.
            missing = Deny("no-grant", "no such record")
            event = _attempt(who, missing, "record.read", None, "read", record_id)
            self._observe(event)
            await self._log.commit(claims, event, now)
            raise NotFound("no such record in this vault")
        decision = stored.decide_stored(
            row if row.grant_id is not None else None,
            ProcedureFacts(row.procedure_row_id, row.procedure_status, row.procedure_planned_end)
            if row.procedure_row_id is not None
            else None,
            service_active=row.service_status == "active",
            service_id=who.service_id,
            resident_id=who.resident_id,
            datatype=row.record_type,
            action="read",
            now=now,
        )
        event = _attempt(who, decision, "record.read", row.record_type, "read", record_id)
        self._observe(event)
        if isinstance(decision, Deny):
            await self._log.commit(claims, event, now)
            raise _refusal(decision)
        # Opened before the event is committed: a record that cannot be opened is not served
        # and leaves no "permit" behind (as in one transaction).
        view = await self._open(who, row)
        await self._log.commit(claims, event, now)
        return view

    async def _open(self, who: TokenFacts, row: Any) -> RecordView:
        current = None
        if row.version is not None:
            if row.key_version is None:
                raise KeyServiceUnavailable("the data key of this vault is missing")
            key = self._keys.cached(who.resident_id, row.key_version)
            if key is None:  # unwrapping may be an HSM call: not on the event loop
                wrapped = WrappedDataKey(
                    who.resident_id, row.key_version, row.key_kek_version, row.key_wrapped
                )
                key = await asyncio.to_thread(self._keys.unwrap, wrapped)
            current = open_version(
                key,
                StoredVersion(
                    record_id=row.record_id,
                    version=row.version,
                    title_ct=row.version_title_ct,
                    content_ct=row.version_content_ct,
                    blob_id=row.version_blob_id,
                    filename_ct=row.version_filename_ct,
                    media_type=row.version_media_type,
                    size_bytes=row.version_size_bytes,
                    written_by=row.version_written_by,
                    created_at=row.version_created_at,
                    signature_jws=row.version_signature_jws,
                    signer_client_id=row.version_signer_client_id,
                    signer_kid=row.version_signer_kid,
                    signer_alg=row.version_signer_alg,
                ),
                with_content=True,
            )
        return record_view(
            StoredRecord(
                record_id=row.record_id,
                category=row.record_category,
                type=row.record_type,
                kind=row.record_kind,
                current_version=row.record_current_version,
                written_by=row.record_written_by,
                writer_service_id=row.record_writer_service_id,
                writer_grant_id=row.record_writer_grant_id,
                created_at=row.record_created_at,
                updated_at=row.record_updated_at,
            ),
            current,
        )

    def list_records(self, who: TokenFacts) -> list[RecordView]:
        """Metadata of the records whose datatypes the grant lets this service read."""
        with self._uow() as uow:
            grant = uow.grants.get(who.resident_id, who.grant_id)
            readable = stored.granted_datatypes(grant) if grant else frozenset()
            allowed = frozenset(
                t for t in readable if isinstance(self._decide(uow, who, t, "read"), Permit)
            )
            # One decision for the listing itself: the grant as a whole must be live.
            probe = next(iter(sorted(readable)), "-")
            decision = self._decide(uow, who, probe, "read")
            self._record_attempt(uow, who, decision, "record.list", datatype=None, action="read")
            if isinstance(decision, Deny):
                raise self._refuse(uow, decision)
            views = self._records.list_in(uow, who.resident_id, types=allowed)
            uow.commit()
            return views

    def write_record(
        self,
        who: TokenFacts,
        *,
        category: str,
        record_type: str,
        title: str,
        content: JsonValue,
        signature: str | None = None,
        issuer_keys: dict[str, Any] | None = None,
    ) -> RecordView:
        """Write a new record into the resident's vault, with this service as its author.

        A `signature` (a detached JWS, keys/issuer.py) is verified against `issuer_keys`, the
        service's registered public keys, before anything is written; a bad one refuses the
        write. The record keeps it, so later readers can check the issuer themselves.
        """
        with self._uow() as uow:
            decision = self._decide(uow, who, record_type, "write")
            verified = None
            if isinstance(decision, Permit) and signature is not None:
                try:
                    verified = self._verify_signature(
                        uow, who, signature, issuer_keys, record_type, title, content
                    )
                except InvalidInput:
                    bad = Deny(
                        "invalid-signature",
                        "the issuer signature is not valid",
                        decision.purpose_uri,
                        decision.legal_basis,
                        decision.procedure_id,
                    )
                    self._record_attempt(
                        uow, who, bad, "record.write", datatype=record_type, action="write"
                    )
                    uow.commit()  # the refused attempt is on record before the refusal
                    raise
            self._record_attempt(
                uow, who, decision, "record.write", datatype=record_type, action="write"
            )
            if isinstance(decision, Deny):
                raise self._refuse(uow, decision)
            view = self._records.create_in(
                uow,
                who.resident_id,
                category=category,
                record_type=record_type,
                title=title,
                content=content,
                service_id=who.service_id,
                grant_id=who.grant_id,
                signature=verified,
            )
            uow.commit()
            return view

    def _verify_signature(
        self,
        uow: SqlUnitOfWork,
        who: TokenFacts,
        signature: str,
        issuer_keys: dict[str, Any] | None,
        record_type: str,
        title: str,
        content: JsonValue,
    ) -> SignatureInfo:
        if " ".join(title.split()) != title:
            raise InvalidInput("a signed record needs its title with single spaces, as stored")
        service = uow.services.get(who.service_id)
        client_id = service.client_id if service is not None else ""
        if issuer_keys is None:
            raise InvalidInput(
                "this service's public keys could not be found to check the signature"
            )
        try:
            checked = issuer.verify(
                signature,
                issuer.canonical_payload(record_type, title, content),
                issuer=client_id,
                jwks=issuer_keys,
            )
        except issuer.IssuerSignatureInvalid as e:
            raise InvalidInput(f"the signature is not valid: {e}") from e
        return SignatureInfo(signature, checked.issuer, checked.kid, checked.alg)


def _attempt(
    who: TokenFacts,
    decision: Decision,
    name: str,
    datatype: str | None,
    action: str,
    record_id: uuid.UUID | None = None,
) -> AccessEvent:
    return AccessEvent(
        resident_id=who.resident_id,
        name=name,
        outcome="permit" if isinstance(decision, Permit) else "deny",
        reason=decision.reason if isinstance(decision, Deny) else None,
        actor="service",
        service_id=who.service_id,
        grant_id=who.grant_id,
        procedure_id=decision.procedure_id,
        record_id=record_id,
        datatype=datatype,
        action=action,
        # A refused attempt under a grant names that grant's purpose too (None without one).
        purpose=decision.purpose_uri,
        legal_basis=decision.legal_basis,
    )


def _refusal(decision: Deny) -> AccessDenied:
    cls = GrantEnded if decision.reason in ENDED_REASONS else AccessDenied
    return cls(decision.detail, reason=decision.reason)
