"""The signed-in resident's own access log: who did what with my data, and its proofs.

Only the resident's own events are read (every query names them); another resident's event
is not found, exactly like one that does not exist. Under a mandate (`Regie-Act-For`) the
list shows the part of the principal's log the representative may see
(`ResidentLog.visibility`), and a proof is served for an event in that part only.
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import ContainerDep, SubjectDep
from api.routers.audit import inclusion_out
from api.schemas.audit import LoggedServiceOut, MyLogEntryOut, MyLogOut, MyLogProofOut
from vault.audit.resident_log import MAX_PAGE
from vault.audit.verify import b64
from vault.errors import InvalidInput, NotFound

router = APIRouter(prefix="/v1/me/log", tags=["resident"])
_EVENT_NAME = re.compile(r"[a-z]{1,20}\.[a-z_]{1,27}")


@router.get("", summary="Who did what with my data: my events, newest first, as sentences")
def my_log(
    who: SubjectDep,
    c: ContainerDep,
    before: Annotated[
        uuid.UUID | None, Query(description="an event id: only older events (`next_before`)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 20,
    service: Annotated[uuid.UUID | None, Query(description="only this service's events")] = None,
    datatype: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=64,
            pattern=r"^[a-z_]+(\.[a-z_]+)?$",
            description="a record type (health.medication) or a whole category (health)",
        ),
    ] = None,
    name: Annotated[
        list[str] | None,
        Query(max_length=10, description="only events of these names (record.read, ...)"),
    ] = None,
) -> MyLogOut:
    if name and not all(_EVENT_NAME.fullmatch(n) for n in name):
        raise InvalidInput("`name` is an event name such as record.read or grant.approved")
    page = c.resident_log.page(
        who.resident_id,
        limit=limit,
        before=before,
        service_id=service,
        datatype=datatype,
        names=name or None,
        acting=who.acting,
    )
    return MyLogOut(
        entries=[
            MyLogEntryOut(
                id=e.event_id,
                at=e.at,
                name=e.name,
                outcome=e.outcome,
                reason=e.reason,
                service=LoggedServiceOut(id=e.service_id, name=e.service_name)
                if e.service_id and e.service_name
                else None,
                datatype=e.datatype,
                action=e.action,
                grant_id=e.grant_id,
                log_index=e.index,
                text_nl=e.text_nl,
                text_en=e.text_en,
            )
            for e in page.items
        ],
        next_before=page.next_before,
        services=[
            LoggedServiceOut(id=s.service_id, name=s.name)
            for s in c.resident_log.services(who.resident_id, acting=who.acting)
        ],
    )


@router.get(
    "/{event_id}/proof",
    summary="Proof that one of my events is in the verifiable log (against the latest checkpoint)",
)
def my_proof(event_id: uuid.UUID, who: SubjectDep, c: ContainerDep) -> MyLogProofOut:
    index = c.resident_log.index_of(who.resident_id, event_id, acting=who.acting)
    if index is None:
        raise NotFound("this event is not yet in the verified log; please try again in a minute")
    proof = c.audit.inclusion(index)
    return MyLogProofOut(
        **inclusion_out(proof).model_dump(),
        event_id=event_id,
        root_hash=b64(proof.root_hash),
        origin=c.log_key.name,
        verifier_key=c.log_key.verifier_key,
    )
