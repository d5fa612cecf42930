"""People: mandates I gave and hold, accepting one with its code, and children's vaults.

None of these routes can be used under a mandate (`resident_session` refuses Regie-Act-For):
a representative never gives, ends or accepts mandates in the principal's name.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from api.deps import ContainerDep, SessionDep
from api.schemas.people import (
    AcceptIn,
    ChildIn,
    MandateIn,
    MandateOfferOut,
    MandateOut,
    PeopleOut,
)

router = APIRouter(prefix="/v1/me/people", tags=["resident: people"])


@router.get("", summary="People I act for, and people who act for me")
def people(session: SessionDep, c: ContainerDep) -> PeopleOut:
    return PeopleOut(
        acting_for=[MandateOut.of(m) for m in c.people.held(session.resident_id)],
        acting_for_me=[MandateOut.of(m) for m in c.people.given(session.resident_id)],
    )


@router.post(
    "/mandates",
    status_code=201,
    summary="Let someone act for me: a mandate with a scope and a period, and its one-time code",
)
def offer(body: MandateIn, session: SessionDep, c: ContainerDep) -> MandateOfferOut:
    made = c.people.offer(
        session.resident_id,
        categories=body.categories,
        actions=body.actions,
        valid_from=body.valid_from,
        valid_until=body.valid_until,
        label=body.label,
    )
    return MandateOfferOut(
        mandate=MandateOut.of(made.mandate), code=made.code, code_expires_at=made.code_expires_at
    )


@router.post("/accept", summary="Accept a mandate with the code its giver handed me")
def accept(body: AcceptIn, session: SessionDep, c: ContainerDep) -> MandateOut:
    return MandateOut.of(c.people.accept(session.resident_id, body.code))


@router.post("/mandates/{mandate_id}/revoke", summary="End a mandate I gave (or its offer): now")
def revoke(mandate_id: uuid.UUID, session: SessionDep, c: ContainerDep) -> MandateOut:
    return MandateOut.of(c.people.revoke(session.resident_id, mandate_id))


@router.post("/mandates/{mandate_id}/give-up", summary="Stop acting for someone")
def give_up(mandate_id: uuid.UUID, session: SessionDep, c: ContainerDep) -> MandateOut:
    return MandateOut.of(c.people.give_up(session.resident_id, mandate_id))


@router.post(
    "/children",
    status_code=201,
    summary="Make a vault for my child, with my standing mandate over all of it",
)
def new_child(body: ChildIn, session: SessionDep, c: ContainerDep) -> MandateOut:
    return MandateOut.of(c.people.create_child(session.resident_id, body.display_name))
