"""The access check and the granted details, on grants as stored: one way to read them.

`check` loads the grant's procedure and service and runs `policy.decide`; everything that
asks "is this grant live for this access?" (the data API, introspection) goes through it.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime

from vault.grants.policy import Decision, GrantFacts, ProcedureFacts, decide
from vault.storage.orm import GrantRow, ProcedureRow
from vault.storage.unit_of_work import SqlUnitOfWork


def granted_datatypes(grant: GrantRow) -> frozenset[str]:
    return frozenset(json.loads(grant.datatypes or "[]"))


def granted_actions(grant: GrantRow) -> frozenset[str]:
    return frozenset(json.loads(grant.actions or "[]"))


def check(
    uow: SqlUnitOfWork,
    grant: GrantRow | None,
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
        )
        if grant is not None
        else None,
        procedure=ProcedureFacts(procedure.procedure_id, procedure.status, procedure.planned_end)
        if procedure is not None
        else None,
        service_id=service_id,
        service_active=service is not None and service.status == "active",
        resident_id=resident_id,
        datatype=datatype,
        action=action,
        now=now,
    )


def authorization_details(grant: GrantRow, procedure: ProcedureRow | None) -> dict[str, object]:
    """What was granted, in the RFC 9396 shape services receive (no free texts)."""
    return {
        "type": "regie:records",
        "actions": sorted(granted_actions(grant)),
        "datatypes": sorted(granted_datatypes(grant)),
        "purpose": {"id": grant.purpose_uri},
        "legal_basis": grant.legal_basis,
        "procedure": {"ref": procedure.ref if procedure else None},
        "valid_until": grant.valid_until.isoformat() if grant.valid_until else None,
    }
