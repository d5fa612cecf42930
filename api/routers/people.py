"""People: mandates I gave and hold, accepting one with its code, and children's vaults.

A representative never gives, ends or accepts mandates in the principal's name: these
routes refuse `Regie-Act-For` (`resident_session`), except four a *parent* may use for the
child's vault (`vault_subject`; `RepresentationService` refuses every other mandate): the
child's mandates, offering one, offering another parent a parent's mandate, and ending one.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from api.deps import ContainerDep, SessionDep, SubjectDep
from api.schemas.people import (
    AcceptIn,
    ChildIn,
    MandateIn,
    MandateOfferOut,
    MandateOut,
    ParentOfferIn,
    PeopleOut,
)

router = APIRouter(prefix="/v1/me/people", tags=["resident: people"])


@router.get("", summary="People I act for, and people who act for me")
def people(who: SubjectDep, c: ContainerDep) -> PeopleOut:
    if who.acting is not None:  # a parent, for the child's vault: who acts for the child
        return PeopleOut(
            acting_for=[],
            acting_for_me=[
                MandateOut.of(m) for m in c.people.given(who.resident_id, acting=who.acting)
            ],
        )
    return PeopleOut(
        acting_for=[MandateOut.of(m) for m in c.people.held(who.resident_id)],
        acting_for_me=[MandateOut.of(m) for m in c.people.given(who.resident_id)],
    )


@router.post(
    "/mandates",
    status_code=201,
    summary="Let someone act for me: a mandate with a scope and a period, and its one-time code",
)
def offer(body: MandateIn, who: SubjectDep, c: ContainerDep) -> MandateOfferOut:
    made = c.people.offer(
        who.resident_id,
        categories=body.categories,
        actions=body.actions,
        valid_from=body.valid_from,
        valid_until=body.valid_until,
        label=body.label,
        acting=who.acting,
    )
    return MandateOfferOut(
        mandate=MandateOut.of(made.mandate), code=made.code, code_expires_at=made.code_expires_at
    )


@router.post(
    "/parents",
    status_code=201,
    summary="For my child's vault (Regie-Act-For: my parent's mandate): offer another parent a"
    " parent's mandate, with the same powers and end as mine, and its one-time code",
)
def offer_parent(body: ParentOfferIn, who: SubjectDep, c: ContainerDep) -> MandateOfferOut:
    made = c.people.offer_parent(who.resident_id, acting=who.acting, label=body.label)
    return MandateOfferOut(
        mandate=MandateOut.of(made.mandate), code=made.code, code_expires_at=made.code_expires_at
    )


@router.post("/accept", summary="Accept a mandate with the code its giver handed me")
def accept(body: AcceptIn, session: SessionDep, c: ContainerDep) -> MandateOut:
    return MandateOut.of(c.people.accept(session.resident_id, body.code))


@router.post("/mandates/{mandate_id}/revoke", summary="End a mandate I gave (or its offer): now")
def revoke(mandate_id: uuid.UUID, who: SubjectDep, c: ContainerDep) -> MandateOut:
    return MandateOut.of(c.people.revoke(who.resident_id, mandate_id, acting=who.acting))


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


@router.delete(
    "/children/{parent_mandate_id}",
    status_code=204,
    summary="Delete my child's vault for good, by my parent's mandate for it (needs a passkey"
    " sign-in of the last 5 minutes)",
)
def delete_child(parent_mandate_id: uuid.UUID, session: SessionDep, c: ContainerDep) -> Response:
    c.identity.require_recent_sign_in(session)
    c.residents.delete_child_vault(session.resident_id, parent_mandate_id, c.people.parent_deletes)
    return Response(status_code=204)
