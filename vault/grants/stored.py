"""The access check and the granted details, on grants as stored: one way to read them.

`decide_stored` turns a grant, its procedure and its service's status, as read, into the
facts `policy.decide` takes and decides; `check` reads them with the sync unit of work
(writes, listings, introspection), and the async data API reads them with one joined
statement (`vault/storage/queries.py`, labelled with these field names). Either way the
decision is `policy.decide`'s, on current state.
"""

from __future__ import annotations

import functools
import json
import uuid
from datetime import datetime
from typing import Protocol

from vault.grants.policy import Decision, GrantFacts, ProcedureFacts, decide
from vault.storage.unit_of_work import SqlUnitOfWork


class GrantFields(Protocol):
    """What the check reads of a grant: a `GrantRow`, or a row of a hot-path statement."""

    @property
    def grant_id(self) -> uuid.UUID: ...
    @property
    def resident_id(self) -> uuid.UUID: ...
    @property
    def service_id(self) -> uuid.UUID: ...
    @property
    def status(self) -> str: ...
    @property
    def end_reason(self) -> str | None: ...
    @property
    def datatypes(self) -> str | None: ...
    @property
    def actions(self) -> str | None: ...
    @property
    def valid_until(self) -> datetime | None: ...
    @property
    def procedure_id(self) -> uuid.UUID: ...
    @property
    def purpose_uri(self) -> str: ...
    @property
    def legal_basis(self) -> str: ...


class GrantedFields(Protocol):
    """What the granted authorization_details show of a grant."""

    @property
    def datatypes(self) -> str | None: ...
    @property
    def actions(self) -> str | None: ...
    @property
    def purpose_uri(self) -> str: ...
    @property
    def legal_basis(self) -> str: ...
    @property
    def valid_until(self) -> datetime | None: ...


@functools.lru_cache(maxsize=1024)
def _names(stored_list: str | None) -> frozenset[str]:
    """The names in a stored JSON list: a pure function of its text, so kept (grants share a
    few distinct lists; the text is read from the row on every check)."""
    return frozenset(json.loads(stored_list or "[]"))


def granted_datatypes(grant: GrantFields | GrantedFields) -> frozenset[str]:
    return _names(grant.datatypes)


def granted_actions(grant: GrantFields | GrantedFields) -> frozenset[str]:
    return _names(grant.actions)


def decide_stored(
    grant: GrantFields | None,
    procedure: ProcedureFacts | None,
    *,
    service_active: bool,
    service_id: uuid.UUID,
    resident_id: uuid.UUID,
    datatype: str,
    action: str,
    now: datetime,
) -> Decision:
    """`policy.decide` on a grant, its procedure and its service's status as read just now."""
    return decide(
        grant=GrantFacts(
            grant_id=grant.grant_id,
            resident_id=grant.resident_id,
            service_id=grant.service_id,
            status=grant.status,
            end_reason=grant.end_reason,
            datatypes=granted_datatypes(grant),
            actions=granted_actions(grant),
            valid_until=grant.valid_until,
            purpose_uri=grant.purpose_uri,
            legal_basis=grant.legal_basis,
        )
        if grant is not None
        else None,
        procedure=procedure,
        service_id=service_id,
        service_active=service_active,
        resident_id=resident_id,
        datatype=datatype,
        action=action,
        now=now,
    )


def check(
    uow: SqlUnitOfWork,
    grant: GrantFields | None,
    *,
    service_id: uuid.UUID,
    resident_id: uuid.UUID,
    datatype: str,
    action: str,
    now: datetime,
) -> Decision:
    """`policy.decide` on the grant, its procedure and its service as they are now."""
    procedure = uow.grants.procedure(grant.resident_id, grant.procedure_id) if grant else None
    service = uow.services.get(service_id)
    return decide_stored(
        grant,
        ProcedureFacts(procedure.procedure_id, procedure.status, procedure.planned_end)
        if procedure is not None
        else None,
        service_active=service is not None and service.status == "active",
        service_id=service_id,
        resident_id=resident_id,
        datatype=datatype,
        action=action,
        now=now,
    )


def authorization_details(grant: GrantedFields, procedure_ref: str | None) -> dict[str, object]:
    """What was granted, in the RFC 9396 shape services receive (no free texts)."""
    return {
        "type": "regie:records",
        "actions": sorted(granted_actions(grant)),
        "datatypes": sorted(granted_datatypes(grant)),
        "purpose": {"id": grant.purpose_uri},
        "legal_basis": grant.legal_basis,
        "procedure": {"ref": procedure_ref},
        "valid_until": grant.valid_until.isoformat() if grant.valid_until else None,
    }
