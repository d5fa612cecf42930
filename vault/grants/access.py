"""What a service does with a resident's data under a grant: list, read, write.

Every call runs the access check (policy.decide) on the grant and procedure as they are now,
records the attempt with `vault.audit.events.record` (allowed or denied) and only then acts,
all in one transaction. A denied attempt commits its event, then raises `AccessDenied` (or
`GrantEnded` when the grant has ended), so the resident sees refused attempts too.
"""

from __future__ import annotations

import uuid
from typing import Any

from keys import issuer
from vault.audit.events import AccessEvent, record
from vault.errors import AccessDenied, GrantEnded, InvalidInput, NotFound
from vault.grants import stored
from vault.grants.model import TokenFacts
from vault.grants.policy import Decision, Deny, Permit
from vault.ports import Clock
from vault.records.model import JsonValue, RecordView, SignatureInfo
from vault.records.service import RecordService
from vault.storage.unit_of_work import SqlUnitOfWork, UnitOfWorkFactory

ENDED_REASONS = frozenset({"grant-ended", "grant-expired", "procedure-closed", "procedure-ended"})


class ServiceAccess:
    def __init__(self, *, uow: UnitOfWorkFactory, records: RecordService, clock: Clock) -> None:
        self._uow = uow
        self._records = records
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
        record(
            uow,
            AccessEvent(
                resident_id=who.resident_id,
                name=name,
                outcome="permit" if isinstance(decision, Permit) else "deny",
                reason=decision.reason if isinstance(decision, Deny) else None,
                actor="service",
                service_id=who.service_id,
                grant_id=who.grant_id,
                procedure_id=decision.procedure_id if isinstance(decision, Permit) else None,
                record_id=record_id,
                datatype=datatype,
                action=action,
            ),
            self._clock.now(),
        )

    @staticmethod
    def _refuse(uow: SqlUnitOfWork, decision: Deny) -> AccessDenied:
        uow.commit()  # the refused attempt is on record before the refusal
        cls = GrantEnded if decision.reason in ENDED_REASONS else AccessDenied
        return cls(decision.detail, reason=decision.reason)

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

    def read_record(self, who: TokenFacts, record_id: uuid.UUID) -> RecordView:
        with self._uow() as uow:
            try:
                datatype = self._records.record_type(uow, who.resident_id, record_id)
            except NotFound:
                # A probe for a record that is not there is an attempt too: on record, then 404.
                missing = Deny("no-grant", "no such record")
                self._record_attempt(
                    uow,
                    who,
                    missing,
                    "record.read",
                    datatype=None,
                    action="read",
                    record_id=record_id,
                )
                uow.commit()
                raise
            decision = self._decide(uow, who, datatype, "read")
            self._record_attempt(
                uow,
                who,
                decision,
                "record.read",
                datatype=datatype,
                action="read",
                record_id=record_id,
            )
            if isinstance(decision, Deny):
                raise self._refuse(uow, decision)
            view = self._records.get_in(uow, who.resident_id, record_id)
            uow.commit()
            return view

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
                    bad = Deny("invalid-signature", "the issuer signature is not valid")
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
