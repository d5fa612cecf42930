"""The access check (invariant I1): may this service do this action on this datatype of this
resident's data, now? The one place this is decided.

It runs on every service request against current state, read in the same transaction as the
access it guards; expiry and the procedure's planned end are compared here, so a stopped
sweeper can never leave access ajar. It starts from "no" and says "yes" only when every
condition holds; each "no" carries a stable reason code.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

DenyReason = Literal[
    "no-grant",
    "wrong-service",
    "wrong-resident",
    "service-disabled",
    "grant-not-approved",
    "grant-ended",
    "grant-expired",
    "procedure-closed",
    "procedure-ended",
    "datatype-not-granted",
    "action-not-granted",
    "invalid-signature",  # not decided here: a write whose issuer signature does not verify
]
ACTIONS = ("read", "write")


@dataclass(frozen=True, slots=True)
class GrantFacts:
    grant_id: uuid.UUID
    resident_id: uuid.UUID
    service_id: uuid.UUID
    status: str
    end_reason: str | None
    datatypes: frozenset[str]
    actions: frozenset[str]
    valid_until: datetime | None
    # Not part of the decision: carried into the Permit, so the access event names them.
    purpose_uri: str | None = None
    legal_basis: str | None = None


@dataclass(frozen=True, slots=True)
class ProcedureFacts:
    procedure_id: uuid.UUID
    status: str
    planned_end: datetime | None


@dataclass(frozen=True, slots=True)
class Permit:
    grant_id: uuid.UUID
    procedure_id: uuid.UUID
    purpose_uri: str | None = None  # of the grant that permits: for the access log
    legal_basis: str | None = None


@dataclass(frozen=True, slots=True)
class Deny:
    reason: DenyReason
    detail: str
    # For the access log only, never part of the decision: the purpose, legal basis and
    # procedure of the grant the attempt was made under, once it is known to be this
    # service's grant for this resident (a refused attempt is processing too, for a purpose).
    purpose_uri: str | None = None
    legal_basis: str | None = None
    procedure_id: uuid.UUID | None = None


Decision = Permit | Deny


def decide(
    *,
    grant: GrantFacts | None,
    procedure: ProcedureFacts | None,
    service_id: uuid.UUID,
    service_active: bool,
    resident_id: uuid.UUID,
    datatype: str,
    action: str,
    now: datetime,
) -> Decision:
    """Permit only if the grant is approved and live, its procedure open, and it covers
    exactly this service, resident, datatype and action."""
    if grant is None or procedure is None:
        return Deny("no-grant", "there is no grant for this access")
    if grant.service_id != service_id:
        return Deny("wrong-service", "this grant belongs to another service")
    if grant.resident_id != resident_id:
        return Deny("wrong-resident", "this grant is for another resident")
    under = (grant.purpose_uri, grant.legal_basis, procedure.procedure_id)  # for the log
    if not service_active:
        return Deny("service-disabled", "this service has been disabled", *under)
    if grant.status == "ended":
        return Deny("grant-ended", f"the grant has ended ({grant.end_reason or 'ended'})", *under)
    if grant.status != "approved":
        return Deny("grant-not-approved", f"the grant is {grant.status}, not approved", *under)
    if grant.valid_until is None or now >= grant.valid_until:
        return Deny("grant-expired", "the grant has expired", *under)
    if procedure.procedure_id is None or procedure.status != "open":
        return Deny("procedure-closed", "the procedure of this grant has been closed", *under)
    if procedure.planned_end is not None and now >= procedure.planned_end:
        return Deny(
            "procedure-ended", "the procedure of this grant has reached its planned end", *under
        )
    # Without these two, an empty grant would permit everything: an empty set covers nothing.
    if datatype not in grant.datatypes:
        return Deny("datatype-not-granted", f"the grant does not cover {datatype}", *under)
    if action not in grant.actions:
        return Deny("action-not-granted", f"the grant does not allow {action}", *under)
    return Permit(grant.grant_id, procedure.procedure_id, grant.purpose_uri, grant.legal_basis)
