"""The access check: every condition, attacked one at a time; and "revocation always wins"."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from vault.grants.policy import Deny, GrantFacts, Permit, ProcedureFacts, decide

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
ANNA, BOB = uuid.uuid4(), uuid.uuid4()
CLINIC, SCHOOL = uuid.uuid4(), uuid.uuid4()
GRANT = GrantFacts(
    grant_id=uuid.uuid4(),
    resident_id=ANNA,
    service_id=CLINIC,
    status="approved",
    end_reason=None,
    datatypes=frozenset({"health.medication"}),
    actions=frozenset({"read"}),
    valid_until=NOW + timedelta(days=30),
)
PROC = ProcedureFacts(
    procedure_id=uuid.uuid4(), status="open", planned_end=NOW + timedelta(days=10)
)


def check(
    grant=GRANT,
    procedure=PROC,
    service=CLINIC,
    active=True,
    resident=ANNA,  # type: ignore[no-untyped-def]
    datatype="health.medication",
    action="read",
    now=NOW,
):
    return decide(
        grant=grant,
        procedure=procedure,
        service_id=service,
        service_active=active,
        resident_id=resident,
        datatype=datatype,
        action=action,
        now=now,
    )


def reason(decision) -> str:  # type: ignore[no-untyped-def]
    assert isinstance(decision, Deny), decision
    return decision.reason


def test_a_live_grant_permits_exactly_what_it_covers() -> None:
    assert check() == Permit(GRANT.grant_id, PROC.procedure_id)


def test_each_condition_denies_on_its_own() -> None:
    assert reason(check(grant=None)) == "no-grant"
    assert reason(check(procedure=None)) == "no-grant"
    assert reason(check(service=SCHOOL)) == "wrong-service"
    assert reason(check(resident=BOB)) == "wrong-resident"
    assert reason(check(active=False)) == "service-disabled"
    assert (
        reason(check(grant=replace(GRANT, status="ended", end_reason="revoked"))) == "grant-ended"
    )
    for status in ("requested", "denied", "lapsed"):
        assert reason(check(grant=replace(GRANT, status=status))) == "grant-not-approved"
    assert reason(check(now=GRANT.valid_until)) == "grant-expired"  # at the instant it ends
    assert reason(check(grant=replace(GRANT, valid_until=None))) == "grant-expired"
    assert reason(check(procedure=replace(PROC, status="closed"))) == "procedure-closed"
    assert reason(check(now=PROC.planned_end)) == "procedure-ended"
    assert reason(check(datatype="health.diagnosis")) == "datatype-not-granted"
    assert reason(check(action="write")) == "action-not-granted"
    assert reason(check(action="delete")) == "action-not-granted"


def test_a_refusal_names_the_purpose_only_of_this_services_grant_for_this_resident() -> None:
    """For the access log: a refused attempt under the service's own grant is processing for
    that grant's purpose; a grant of another service or resident lends its purpose to no one."""
    grant = replace(GRANT, purpose_uri="https://w3id.org/dpv#ServiceProvision", legal_basis="lb")
    for refused in (
        check(grant=grant, datatype="health.diagnosis"),
        check(grant=grant, action="write"),
        check(grant=grant, now=GRANT.valid_until),
        check(grant=replace(grant, status="ended", end_reason="revoked")),
        check(grant=grant, procedure=replace(PROC, status="closed")),
        check(grant=grant, active=False),
    ):
        assert isinstance(refused, Deny)
        assert (refused.purpose_uri, refused.legal_basis, refused.procedure_id) == (
            grant.purpose_uri,
            "lb",
            PROC.procedure_id,
        )
    for refused in (
        check(grant=grant, service=SCHOOL),
        check(grant=grant, resident=BOB),
        check(grant=None),
    ):
        assert isinstance(refused, Deny)
        assert (refused.purpose_uri, refused.legal_basis, refused.procedure_id) == (None,) * 3


def test_an_empty_grant_permits_nothing() -> None:
    empty = replace(GRANT, datatypes=frozenset(), actions=frozenset())
    assert reason(check(grant=empty)) == "datatype-not-granted"


statuses = st.sampled_from(["requested", "approved", "denied", "lapsed", "ended"])
moments = st.integers(min_value=-40, max_value=40).map(lambda d: NOW + timedelta(days=d))


@given(
    status=statuses,
    proc_status=st.sampled_from(["open", "closed"]),
    now=moments,
    datatype=st.sampled_from(["health.medication", "health.diagnosis", "income.payslip"]),
    action=st.sampled_from(["read", "write", "delete"]),
    service=st.sampled_from([CLINIC, SCHOOL]),
    resident=st.sampled_from([ANNA, BOB]),
    active=st.booleans(),
)
def test_permit_implies_every_condition(
    status, proc_status, now, datatype, action, service, resident, active
) -> None:  # type: ignore[no-untyped-def]
    grant = replace(GRANT, status=status)
    procedure = replace(PROC, status=proc_status)
    decision = check(
        grant=grant,
        procedure=procedure,
        service=service,
        active=active,
        resident=resident,
        datatype=datatype,
        action=action,
        now=now,
    )
    if isinstance(decision, Permit):
        assert status == "approved"
        assert proc_status == "open"
        assert active
        assert service == CLINIC
        assert resident == ANNA
        assert now < GRANT.valid_until  # type: ignore[operator]
        assert now < PROC.planned_end  # type: ignore[operator]
        assert datatype in GRANT.datatypes
        assert action in GRANT.actions


@given(now=moments)
def test_revocation_always_wins(now: datetime) -> None:
    for ended in (
        replace(GRANT, status="ended", end_reason=r)
        for r in ("revoked", "procedure-closed", "expired", "relinquished")
    ):
        assert isinstance(check(grant=ended, now=now), Deny)
    assert isinstance(check(procedure=replace(PROC, status="closed"), now=now), Deny)
