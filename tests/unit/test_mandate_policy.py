"""The mandate check (`may_act`): every condition attacked one at a time, and properties:
nothing but an active, accepted, in-period, in-scope mandate of this representative permits."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from vault.records.catalogue import CATEGORIES
from vault.representation.policy import MANDATE_ACTIONS, MandateFacts, MayAct, MayNot, may_act

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
ANNA, PIETER, MALLORY = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
MANDATE = MandateFacts(
    mandate_id=uuid.uuid4(),
    principal_id=ANNA,
    representative_id=PIETER,
    status="active",
    categories=frozenset({"debts", "income"}),
    actions=frozenset({"read", "decide-requests"}),
    valid_from=NOW - timedelta(days=1),
    valid_until=NOW + timedelta(days=30),
)


def check(  # type: ignore[no-untyped-def]
    mandate=MANDATE, representative=PIETER, now=NOW, category="debts", action="read"
):
    return may_act(
        mandate, representative_id=representative, now=now, category=category, action=action
    )


def refused(decision: object, reason: str) -> None:
    assert isinstance(decision, MayNot), decision
    assert decision.reason == reason


def test_an_active_mandate_in_scope_permits() -> None:
    decision = check()
    assert decision == MayAct(MANDATE.mandate_id, ANNA)
    assert isinstance(check(category="income", action="decide-requests"), MayAct)


def test_no_mandate() -> None:
    refused(check(mandate=None), "no-mandate")


def test_wrong_representative() -> None:
    refused(check(representative=MALLORY), "wrong-representative")
    refused(check(representative=ANNA), "wrong-representative")  # not even the principal


def test_offered_but_not_accepted() -> None:
    offered = replace(MANDATE, status="offered", representative_id=None)
    refused(check(mandate=offered), "wrong-representative")
    # Even if a representative were somehow recorded, an offer permits nothing.
    refused(check(mandate=replace(offered, representative_id=PIETER)), "not-accepted")


def test_ended_lapsed_or_unknown_states() -> None:
    for status in ("ended", "lapsed", "revoked", "", "ACTIVE"):
        refused(check(mandate=replace(MANDATE, status=status)), "mandate-ended")


def test_not_yet_valid() -> None:
    later = replace(MANDATE, valid_from=NOW + timedelta(seconds=1))
    refused(check(mandate=later), "not-yet-valid")
    assert isinstance(check(mandate=replace(MANDATE, valid_from=NOW)), MayAct)


def test_expired_in_the_check_itself() -> None:
    # Still "active" in storage: nothing has marked it, the check compares the time.
    refused(check(now=MANDATE.valid_until), "mandate-expired")
    refused(check(now=MANDATE.valid_until + timedelta(days=1)), "mandate-expired")
    assert isinstance(check(now=MANDATE.valid_until - timedelta(microseconds=1)), MayAct)


def test_category_outside_scope() -> None:
    refused(check(category="health"), "category-not-in-scope")
    refused(check(category="debts.overview"), "category-not-in-scope")  # a type, not a category
    refused(check(category=""), "category-not-in-scope")
    refused(check(category="*"), "category-not-in-scope")


def test_action_outside_scope() -> None:
    refused(check(action="write"), "action-not-in-scope")
    refused(check(action="delete-vault"), "action-not-in-scope")
    refused(check(action="create-mandate"), "action-not-in-scope")
    refused(check(action=""), "action-not-in-scope")


def test_an_empty_scope_permits_nothing() -> None:
    refused(check(mandate=replace(MANDATE, categories=frozenset())), "empty-scope")
    refused(check(mandate=replace(MANDATE, actions=frozenset())), "empty-scope")


def test_a_stored_scope_beyond_the_catalogue_grants_nothing_extra() -> None:
    odd = replace(MANDATE, categories=frozenset({"secrets"}), actions=frozenset({"delete"}))
    refused(check(mandate=odd, category="secrets"), "action-not-in-scope")
    refused(check(mandate=odd, category="secrets", action="delete"), "action-not-in-scope")


@given(
    status=st.sampled_from(["offered", "active", "lapsed", "ended"]),
    representative=st.sampled_from([PIETER, MALLORY, ANNA]),
    offset=st.integers(min_value=-40, max_value=40),
    category=st.sampled_from([*CATEGORIES, "nope"]),
    action=st.sampled_from([*MANDATE_ACTIONS, "delete"]),
)
def test_permit_only_when_every_condition_holds(
    status: str, representative: uuid.UUID, offset: int, category: str, action: str
) -> None:
    now = NOW + timedelta(days=offset)
    decision = check(
        mandate=replace(MANDATE, status=status),
        representative=representative,
        now=now,
        category=category,
        action=action,
    )
    should = (
        status == "active"
        and representative == PIETER
        and MANDATE.valid_from <= now < MANDATE.valid_until
        and category in MANDATE.categories
        and action in MANDATE.actions
    )
    assert isinstance(decision, MayAct) is should
