"""The mandate check: may this representative do this action on this category of this
principal's data, now? The one place this is decided.

Like the grant check (vault/grants/policy.py) it runs on current state on every request and
compares the period itself, so an ended or expired mandate is refused even if nothing has
marked it so yet. It starts from "no" and says "yes" only when every condition holds; each
"no" carries a stable reason code.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from vault.records.catalogue import CATEGORIES

# read and write a category's records; decide-requests: approve, deny and stop grants whose
# datatypes all lie in the mandate's categories.
MANDATE_ACTIONS = ("read", "write", "decide-requests")

MayNotReason = Literal[
    "no-mandate",
    "wrong-representative",
    "not-accepted",
    "mandate-ended",
    "not-yet-valid",
    "mandate-expired",
    "empty-scope",
    "action-not-in-scope",
    "category-not-in-scope",
]


@dataclass(frozen=True, slots=True)
class MandateFacts:
    mandate_id: uuid.UUID
    principal_id: uuid.UUID
    representative_id: uuid.UUID | None
    status: str  # offered | active | lapsed | ended
    categories: frozenset[str]
    actions: frozenset[str]
    valid_from: datetime
    valid_until: datetime


@dataclass(frozen=True, slots=True)
class MayAct:
    mandate_id: uuid.UUID
    principal_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class MayNot:
    reason: MayNotReason
    detail: str


MandateDecision = MayAct | MayNot


def may_act(
    mandate: MandateFacts | None,
    *,
    representative_id: uuid.UUID,
    now: datetime,
    category: str,
    action: str,
) -> MandateDecision:
    """Deny by default: every condition is checked, in this order, and the first that fails
    is the answer."""
    if mandate is None:
        return MayNot("no-mandate", "there is no such mandate")
    if mandate.representative_id is None or mandate.representative_id != representative_id:
        return MayNot("wrong-representative", "this mandate was not given to you")
    if mandate.status == "offered":
        return MayNot("not-accepted", "this mandate has not been accepted yet")
    if mandate.status != "active":
        return MayNot("mandate-ended", "this mandate has ended")
    if now < mandate.valid_from:
        return MayNot("not-yet-valid", "this mandate does not start until later")
    if now >= mandate.valid_until:
        return MayNot("mandate-expired", "this mandate has expired")
    # Without this, a mandate stored with no scope could be read as "no limits".
    if not mandate.categories or not mandate.actions:
        return MayNot("empty-scope", "this mandate covers nothing")
    if action not in MANDATE_ACTIONS or action not in mandate.actions:
        return MayNot("action-not-in-scope", f"this mandate does not cover {action!r}")
    if category not in CATEGORIES or category not in mandate.categories:
        return MayNot("category-not-in-scope", f"this mandate does not cover {category!r}")
    return MayAct(mandate.mandate_id, mandate.principal_id)
