"""A resident's own access log: their events, newest first, as sentences (`/v1/me/log`).

Every query names the resident (design.md §6): an event of another resident is never read,
so it is as absent as one that does not exist. Sentences come from `vault.audit.sentences`;
the purpose they name is the grant's text, decrypted with the resident's key through the
grant views (`GrantService.get`, for the few grants of a page), for grants that still exist.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from vault.audit.events import AccessEvent, record
from vault.audit.sentences import EventFacts, sentences
from vault.errors import AccessDenied, InvalidInput, NotFound
from vault.grants.model import GrantView
from vault.grants.service import GrantService
from vault.ports import Clock
from vault.representation.acting import ActingFor, actor
from vault.representation.policy import MANDATE_ACTIONS
from vault.representation.service import RepresentationService
from vault.storage.orm import AccessEventRow
from vault.storage.repositories import EventVisibility
from vault.storage.unit_of_work import SqlUnitOfWork, UnitOfWorkFactory

MAX_PAGE = 100


@dataclass(frozen=True, slots=True)
class LogItem:
    event_id: uuid.UUID
    at: datetime
    name: str
    outcome: str
    reason: str | None
    service_id: uuid.UUID | None
    service_name: str | None
    datatype: str | None
    action: str | None
    grant_id: uuid.UUID | None
    index: int | None  # position in the verifiable log; None until integrated
    actor: str
    actor_id: str | None
    text_nl: str
    text_en: str


@dataclass(frozen=True, slots=True)
class LogPage:
    items: tuple[LogItem, ...]
    next_before: uuid.UUID | None  # pass as `before` for the next (older) page; None: no more


@dataclass(frozen=True, slots=True)
class LoggedService:
    service_id: uuid.UUID
    name: str


class ResidentLog:
    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        grants: GrantService,
        clock: Clock,
        people: RepresentationService | None = None,
    ) -> None:
        self._uow = uow
        self._grants = grants
        self._clock = clock
        self._people = people

    def visibility(self, uow: SqlUnitOfWork, acting: ActingFor) -> EventVisibility:
        """What of the principal's log a representative sees, asked of the mandate now: what
        they did themselves under it, events about data of the categories it lets them
        read, and events of the grants it lets them decide on (those whose datatypes all lie
        in its `decide-requests` categories). Nothing else: not the principal's own sign-ins
        of services, other mandates, or auditors' looks. A mandate that covers nothing now is
        refused (AccessDenied with its reason)."""
        scopes: dict[str, frozenset[str]] = {}
        refusals: list[AccessDenied] = []
        for action in MANDATE_ACTIONS:
            try:
                # Asked of the guard itself: these probes are not attempts to log.
                scopes[action] = acting.guard.scope(
                    uow, acting.representative_id, acting.mandate_id, action=action
                )
            except AccessDenied as e:
                refusals.append(e)
        if not scopes:
            raise refusals[0]
        decide = scopes.get("decide-requests", frozenset())
        grant_ids = frozenset(
            g.grant_id
            for g in uow.grants.of_resident(acting.principal_id)
            if decide and {d.split(".", 1)[0] for d in json.loads(g.requested_datatypes)} <= decide
        )
        return EventVisibility(acting.mandate_id, scopes.get("read", frozenset()), grant_ids)

    def page(
        self,
        resident_id: uuid.UUID,
        *,
        limit: int = 20,
        before: uuid.UUID | None = None,
        service_id: uuid.UUID | None = None,
        datatype: str | None = None,
        names: Sequence[str] | None = None,
        acting: ActingFor | None = None,
    ) -> LogPage:
        """Up to `limit` (1..100) of the resident's events older than event `before` (one of
        theirs, else `InvalidInput`), filtered by service, datatype or category, and names.
        Under a mandate only what `visibility` allows; the look itself is logged."""
        if not 1 <= limit <= MAX_PAGE:
            raise ValueError(f"limit must be 1..{MAX_PAGE}")
        with self._uow() as uow:
            visible = None
            if acting is not None:
                acting.same_vault(resident_id)
                visible = self.visibility(uow, acting)
            cursor = None
            if before is not None:
                cursor = uow.access_events.get(resident_id, before)
                if cursor is not None and visible is not None and not visible.shows(cursor):
                    cursor = None
                if cursor is None:
                    # Bad input, not a 404: the page asked for exists; the cursor does not
                    # (and another resident's event is as unknown as a made-up id).
                    raise InvalidInput("`before` is not an event in your log")
            rows = uow.access_events.of_resident(
                resident_id,
                limit=limit + 1,
                before=cursor,
                service_id=service_id,
                datatype=datatype,
                names=names,
                visible=visible,
            )
            names_of = self._service_names(uow, {r.service_id for r in rows if r.service_id})
            raw = [_item(r, names_of) for r in rows[:limit]]
            by = self._representatives(uow, resident_id, raw)
            if acting is not None:
                self._looked(uow, resident_id, acting, "log.read")
        items = self._told(resident_id, raw, by)
        more = len(rows) > limit
        return LogPage(tuple(items), items[-1].event_id if more and items else None)

    def oldest_first(self, resident_id: uuid.UUID, *, batch: int = MAX_PAGE) -> Iterator[LogItem]:
        """Every event of the resident's own log, oldest first, with its sentences, read
        `batch` events at a time (the export: never the whole log in memory, no transaction
        held open between batches). Only the resident's own events, as `page` shows them to
        the resident; events without a resident (an operator's) are in no resident's log.
        Not a snapshot: an event logged while it runs comes at the end. Not logged itself
        (the caller logs what it reads this for)."""
        if not 1 <= batch <= MAX_PAGE:
            raise ValueError(f"batch must be 1..{MAX_PAGE}")
        after: uuid.UUID | None = None
        while True:
            with self._uow() as uow:
                cursor = uow.access_events.get(resident_id, after) if after else None
                if after is not None and cursor is None:
                    raise NotFound("the log changed while it was read")  # never starts over
                rows = uow.access_events.of_resident(
                    resident_id, limit=batch, after=cursor, oldest_first=True
                )
                names_of = self._service_names(uow, {r.service_id for r in rows if r.service_id})
                raw = [_item(r, names_of) for r in rows]
                by = self._representatives(uow, resident_id, raw)
            yield from self._told(resident_id, raw, by)
            if len(raw) < batch:
                return
            after = raw[-1].event_id

    def _told(
        self, resident_id: uuid.UUID, raw: Sequence[LogItem], by: dict[str, str]
    ) -> list[LogItem]:
        """`raw` with their sentences: the purpose from the grant, opened with the key."""
        grants = self._grants_of(resident_id, {e.grant_id for e in raw if e.grant_id})
        now = self._clock.now()
        items = []
        for e in raw:
            grant = grants.get(e.grant_id) if e.grant_id else None
            nl, en = sentences(
                EventFacts(
                    name=e.name,
                    outcome=e.outcome,
                    reason=e.reason,
                    at=e.at,
                    service_name=e.service_name,
                    datatype=e.datatype,
                    action=e.action,
                    purpose_text=grant.purpose_text if grant else None,
                    grant_end_reason=grant.end_reason if grant else None,
                    actor=e.actor,
                    representative_name=by.get(e.actor_id or ""),
                ),
                now,
            )
            items.append(replace(e, text_nl=nl, text_en=en))
        return items

    def _grants_of(self, resident_id: uuid.UUID, ids: set[uuid.UUID]) -> dict[uuid.UUID, GrantView]:
        """The grants of a page (a few), opened with the resident's key; gone ones left out."""
        found = {}
        for grant_id in ids:
            try:
                found[grant_id] = self._grants.get(resident_id, grant_id)
            except NotFound:
                continue
        return found

    def _representatives(
        self, uow: SqlUnitOfWork, resident_id: uuid.UUID, items: Sequence[LogItem]
    ) -> dict[str, str]:
        """The names of the representatives who acted in `items`, by mandate id (actor_id):
        opened from the mandate under the resident's key, so the log holds no name."""
        ids = set()
        for e in items:
            if e.actor == "representative" and e.actor_id:
                try:
                    ids.add(uuid.UUID(e.actor_id))
                except ValueError:
                    continue
        if not ids or self._people is None:
            return {}
        names = self._people.representative_names(uow, resident_id, ids)
        return {str(k): v for k, v in names.items() if v}

    def index_of(
        self, resident_id: uuid.UUID, event_id: uuid.UUID, *, acting: ActingFor | None = None
    ) -> int | None:
        """The log index of one of the resident's events (None: not integrated yet);
        `NotFound` for any other event, also another resident's.

        Under a mandate (the principal's log): only an event in the part `visibility` shows
        the representative; any other is `NotFound` too, exactly like a made-up id, and not
        logged (a refusal in the log the representative reads would tell that the event
        exists). Asking for a proof is a look at the principal's log: `log.proof`, logged in
        this transaction, like `log.read` for a page."""
        with self._uow() as uow:
            row = uow.access_events.get(resident_id, event_id)
            if acting is not None:
                acting.same_vault(resident_id)
                visible = self.visibility(uow, acting)
                if row is not None and not visible.shows(row):
                    row = None
            if row is None:
                raise NotFound("no such event in your log")
            index = row.seq
            if acting is not None:
                self._looked(uow, resident_id, acting, "log.proof")
            return index

    def _looked(
        self, uow: SqlUnitOfWork, resident_id: uuid.UUID, acting: ActingFor, name: str
    ) -> None:
        """A representative's look at the principal's log (`log.read`, `log.proof`): an
        event in the principal's log, committed before the answer is given."""
        kind, actor_id = actor(resident_id, acting)
        event = AccessEvent(
            resident_id=resident_id,
            name=name,
            outcome="permit",
            actor=kind,
            actor_id=actor_id,
            action="read",
        )
        record(uow, event, self._clock.now())
        uow.commit()

    def services(
        self, resident_id: uuid.UUID, *, acting: ActingFor | None = None
    ) -> list[LoggedService]:
        """The services that appear in the resident's log (under a mandate: in the part the
        representative sees), by name."""
        with self._uow() as uow:
            visible = None
            if acting is not None:
                acting.same_vault(resident_id)
                visible = self.visibility(uow, acting)
            ids = set(uow.access_events.service_ids(resident_id, visible=visible))
            names = self._service_names(uow, ids)
        return sorted(
            (LoggedService(i, n) for i, n in names.items()), key=lambda s: s.name.casefold()
        )

    @staticmethod
    def _service_names(uow: SqlUnitOfWork, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
        found = {}
        for service_id in ids:
            row = uow.services.get(service_id)
            if row is not None:
                found[service_id] = row.name
        return found


def _item(r: AccessEventRow, names: dict[uuid.UUID, str]) -> LogItem:
    """The row's values, read while its session is open; the sentences follow."""
    return LogItem(
        event_id=r.event_id,
        at=r.at,
        name=r.name,
        outcome=r.outcome,
        reason=r.reason,
        service_id=r.service_id,
        service_name=names.get(r.service_id) if r.service_id else None,
        datatype=r.datatype,
        action=r.action,
        grant_id=r.grant_id,
        index=r.seq,
        actor=r.actor,
        actor_id=r.actor_id,
        text_nl="",
        text_en="",
    )
