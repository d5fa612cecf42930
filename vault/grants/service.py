"""Grants and procedures: services ask, residents decide, access ends when the procedure ends.

States (after GNAP and DPV): requested -> approved | denied | lapsed; approved -> ended, with
the reason: revoked (by the resident), relinquished (by the service), procedure-closed,
expired, or token-reuse (a rotated refresh token came back: someone copied it). Every change
appends to the grant's history (who, when, what) and records an access event, in the same
transaction; ending a grant revokes every token issued under it at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from keys.service import Binding, DataKey
from vault.audit.events import AccessEvent, ReplayClaim, claim_replays, record, record_many
from vault.errors import AccessDenied, Conflict, InvalidInput, NotFound
from vault.events import ping
from vault.events.outbox import OutboxWriter
from vault.grants import stored
from vault.grants.model import (
    AccessRequestSpec,
    GrantView,
    HistoryEntry,
    ProcedureView,
    RequestAccepted,
    TokenPair,
)
from vault.grants.policy import ACTIONS
from vault.grants.tokens import TokenService
from vault.ports import Clock
from vault.records.catalogue import TYPES
from vault.representation.acting import ActingFor, actor, category_of
from vault.residents.keys import VaultKeys
from vault.services.service import ServiceInfo, ServiceRegistry
from vault.storage import queries
from vault.storage.async_uow import AsyncUnitOfWorkFactory
from vault.storage.orm import GrantEventRow, GrantRow, ProcedureRow
from vault.storage.repositories import SweptGrant
from vault.storage.unit_of_work import SqlUnitOfWork, UnitOfWorkFactory

DPV = "https://w3id.org/dpv#"
EndReason = Literal[
    "revoked", "relinquished", "procedure-closed", "expired", "token-reuse", "vault-deleted"
]
Actor = Literal["resident", "representative", "service", "system"]


def _categories(grant: GrantRow) -> frozenset[str]:
    """The categories of every datatype the grant was asked for (what a mandate must cover
    for a representative to see or decide it)."""
    return frozenset(category_of(d) for d in json.loads(grant.requested_datatypes))


# The sweeper's batch: grants ended per transaction (api/workers.py runs it in a loop). At
# 2,000 a batch's fixed costs (the pick's scan, the purges, the commit) weighed; 20,000 ran a
# third faster, 50,000 no faster (docs/performance.md). A revoke of a grant in a batch being
# swept waits for that transaction, a second or two.
SWEEP_BATCH = 20_000


def _hash(auth_req_id: str) -> bytes:
    return hashlib.sha256(auth_req_id.encode()).digest()


def _binding(table: str, column: str, row: uuid.UUID) -> Binding:
    return Binding(table, column, str(row))


@dataclass(frozen=True, slots=True)
class GrantPolicySettings:
    max_validity: timedelta = timedelta(days=365)
    pending_lifetime: timedelta = timedelta(days=14)
    poll_interval: int = 5


@dataclass(frozen=True, slots=True)
class PollOutcome:
    """What the token endpoint answers a CIBA poll with."""

    status: Literal["pending", "slow_down", "denied", "expired", "approved", "invalid"]
    tokens: TokenPair | None = None
    granted: dict[str, object] | None = None  # what was approved (RFC 9396 shape, no texts)


class GrantService:
    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        keys: VaultKeys,
        registry: ServiceRegistry,
        tokens: TokenService,
        clock: Clock,
        settings: GrantPolicySettings | None = None,
        events: OutboxWriter | None = None,
        async_uow: AsyncUnitOfWorkFactory | None = None,
    ) -> None:
        self._uow = uow
        self._async_uow = async_uow
        self._keys = keys
        self._registry = registry
        self._tokens = tokens
        self._clock = clock
        self._settings = settings or GrantPolicySettings()
        # Tells the service (a signed event in the same transaction); None: nobody is told.
        self._events = events

    # -- a service asks --------------------------------------------------------------------

    def request(
        self,
        service: ServiceInfo,
        subject: str,
        spec: AccessRequestSpec,
        *,
        notification_token: str | None = None,
    ) -> RequestAccepted:
        """Record a request for access; the resident decides later (CIBA, decoupled).

        A ping-mode service must give its `notification_token` (CIBA §7.1; InvalidInput
        otherwise); a poll-mode service's is ignored (vault/events/ping.py)."""
        if not service.active:
            raise AccessDenied("this service has been disabled", reason="service-disabled")
        now = self._clock.now()
        self.validate(service, spec, now)
        token = ping.notification_token(service.backchannel_token_delivery_mode, notification_token)
        if token is not None and self._events is None:
            raise RuntimeError("ping mode needs the event outbox")
        with self._uow() as uow:
            resident_id = self._registry.resident_of(uow, service.service_id, subject)
            auth_req_id = "rar_" + secrets.token_urlsafe(32)
            grant = self.new_request(
                uow, service, resident_id, spec, now, handle=_hash(auth_req_id)
            )
            if token is not None and self._events is not None:
                grant.ping_ct = self._events.seal_ping(grant.grant_id, auth_req_id, token)
            uow.commit()
            return RequestAccepted(auth_req_id, grant.request_expires_at, grant.poll_interval)

    def new_request(
        self,
        uow: SqlUnitOfWork,
        service: ServiceInfo,
        resident_id: uuid.UUID,
        spec: AccessRequestSpec,
        now: datetime,
        *,
        handle: bytes,
        lifetime: timedelta | None = None,
    ) -> GrantRow:
        """A grant in state `requested` (and its procedure if new), in the caller's `uow`.
        `handle`: the hash the service will redeem it by; `lifetime`: how long the resident
        may take to answer (default: the pending lifetime, up to 14 days)."""
        resident = self._keys.active_resident(uow, resident_id)
        key = self._keys.current(uow, resident)
        procedure = uow.grants.procedure_by_ref(resident_id, service.service_id, spec.procedure_ref)
        if procedure is not None and procedure.status != "open":
            raise Conflict(f"procedure {spec.procedure_ref} is closed; use a new reference")
        if procedure is None:
            procedure = ProcedureRow(
                resident_id=resident_id,
                procedure_id=uuid.uuid4(),
                service_id=service.service_id,
                ref=spec.procedure_ref,
                description_ct=None,
                planned_end=spec.procedure_planned_end,
                status="open",
                closed_by=None,
                created_at=now,
                closed_at=None,
            )
            if spec.procedure_description:
                procedure.description_ct = key.seal(
                    spec.procedure_description.encode(),
                    _binding("procedures", "description_ct", procedure.procedure_id),
                )
            uow.grants.add(procedure)
        valid_until = spec.valid_until or min(
            filter(None, [now + self._settings.max_validity, spec.procedure_planned_end])
        )
        grant = GrantRow(
            resident_id=resident_id,
            grant_id=uuid.uuid4(),
            service_id=service.service_id,
            procedure_id=procedure.procedure_id,
            auth_req_id_hash=handle,
            status="requested",
            end_reason=None,
            requested_datatypes=json.dumps(sorted(spec.datatypes)),
            requested_actions=json.dumps(sorted(spec.actions)),
            requested_valid_until=valid_until,
            datatypes=None,
            actions=None,
            valid_until=None,
            purpose_uri=spec.purpose_uri,
            purpose_text_ct=None,
            legal_basis=spec.legal_basis,
            binding_message_ct=None,
            granted_by=None,
            decided_by=None,
            request_expires_at=now + (lifetime or self._settings.pending_lifetime),
            poll_interval=self._settings.poll_interval,
            ping_ct=None,
            last_polled_at=None,
            tokens_issued_at=None,
            created_at=now,
            decided_at=None,
            ended_at=None,
        )
        grant.purpose_text_ct = key.seal(
            spec.purpose_text.encode(), _binding("grants", "purpose_text_ct", grant.grant_id)
        )
        if spec.binding_message:
            grant.binding_message_ct = key.seal(
                spec.binding_message.encode(),
                _binding("grants", "binding_message_ct", grant.grant_id),
            )
        uow.grants.add(grant)
        uow.flush()
        self._history(uow, grant, "requested", "service", service.client_id, None, now)
        return grant

    def validate(self, service: ServiceInfo, spec: AccessRequestSpec, now: datetime) -> None:
        if not spec.datatypes or not spec.actions:
            raise InvalidInput("ask for at least one datatype and one action")
        unknown = sorted(spec.datatypes - set(TYPES))
        if unknown:
            raise InvalidInput(f"unknown datatypes: {', '.join(unknown)}")
        if spec.actions - set(ACTIONS):
            raise InvalidInput(f"actions must be among {', '.join(ACTIONS)}")
        beyond = sorted(spec.datatypes - service.ceiling_datatypes) + sorted(
            spec.actions - service.ceiling_actions
        )
        if beyond:
            raise AccessDenied(
                f"beyond what this service may ever ask for: {', '.join(beyond)}",
                reason="beyond-ceiling",
            )
        if not spec.purpose_uri.startswith(DPV) or len(spec.purpose_uri) > 200:
            raise InvalidInput(f"purpose.id must be a DPV purpose URI ({DPV}...)")
        if not spec.purpose_text.strip() or len(spec.purpose_text) > 500:
            raise InvalidInput("purpose.text of 1 to 500 characters is needed")
        if not spec.procedure_ref.strip() or len(spec.procedure_ref) > 100:
            raise InvalidInput("procedure.ref of 1 to 100 characters is needed")
        if spec.valid_until is not None:
            if spec.valid_until <= now:
                raise InvalidInput("valid_until is in the past")
            if spec.valid_until > now + self._settings.max_validity:
                raise InvalidInput(
                    f"valid_until is beyond the maximum of {self._settings.max_validity.days} days"
                )
        if spec.procedure_planned_end is not None and spec.procedure_planned_end <= now:
            raise InvalidInput("procedure.planned_end is in the past")

    # -- the service polls (CIBA poll mode; in ping mode after the ping, or meanwhile) ----

    async def poll(
        self,
        service: ServiceInfo,
        auth_req_id: str,
        jkt: str,
        claims: Sequence[ReplayClaim] = (),
    ) -> PollOutcome:
        """What the token endpoint answers a CIBA poll with; redeems an approved request once.

        One async transaction (the token endpoint's): the request's replay claims (client
        assertion and DPoP `jti`s; `ReplayDetected` if one was seen before, and then nothing
        is written), the grant locked by its handle, and on approval the token pair.
        """
        if self._async_uow is None:
            raise RuntimeError("GrantService.poll needs the async unit of work")
        now = self._clock.now()
        lapse: tuple[uuid.UUID, uuid.UUID] | None = None
        async with self._async_uow() as uow:
            await claim_replays(uow, claims, now)
            found = await uow.execute(
                queries.GRANT_FOR_POLL, {"auth_req_id_hash": _hash(auth_req_id)}
            )
            grant: Any = found.first()
            outcome: PollOutcome
            if grant is None or grant.service_id != service.service_id:
                outcome = PollOutcome("invalid")
            elif grant.status == "requested" and grant.request_expires_at <= now:
                lapse = (grant.resident_id, grant.grant_id)  # marked below, after the commit
                outcome = PollOutcome("expired")
            elif grant.status == "requested":
                too_soon = (
                    grant.last_polled_at is not None
                    and now - grant.last_polled_at < timedelta(seconds=grant.poll_interval)
                )
                await uow.execute(
                    queries.MARK_POLLED,
                    {
                        "resident_id_": grant.resident_id,
                        "grant_id_": grant.grant_id,
                        "last_polled_at": now,
                        # CIBA §11: slow_down adds 5 seconds
                        "poll_interval": grant.poll_interval + (5 if too_soon else 0),
                    },
                )
                outcome = PollOutcome("slow_down" if too_soon else "pending")
            elif grant.status == "lapsed":
                outcome = PollOutcome("expired")
            elif grant.status in ("denied", "ended"):
                outcome = PollOutcome("denied")
            elif grant.tokens_issued_at is not None:
                outcome = PollOutcome("invalid")  # an auth_req_id is redeemed once
            else:
                pair, rows = self._tokens.mint(grant, jkt, now)
                await uow.execute(
                    queries.MARK_REDEEMED,
                    {
                        "resident_id_": grant.resident_id,
                        "grant_id_": grant.grant_id,
                        "tokens_issued_at": now,
                    },
                )
                await uow.execute(*queries.insert_rows(queries.OAUTH_TOKENS_TABLE, rows))
                granted = stored.authorization_details(grant, grant.procedure_ref)
                outcome = PollOutcome("approved", pair, granted)
            await uow.commit()
        if lapse is not None:
            # Marking it lapsed writes its history, an access event and the service's event
            # through the sync unit of work (rare: a poll after the request expired).
            await asyncio.to_thread(self._lapse_if_expired, *lapse)
        return outcome

    def _lapse_if_expired(self, resident_id: uuid.UUID, grant_id: uuid.UUID) -> None:
        now = self._clock.now()
        with self._uow() as uow:
            grant = uow.grants.get(resident_id, grant_id, for_update=True)
            if (
                grant is not None
                and grant.status == "requested"
                and grant.request_expires_at <= now
            ):
                self._set_status(uow, grant, "lapsed", "system", None, None, now)
                uow.commit()

    # -- the resident decides ---------------------------------------------------------------

    def pending(
        self, resident_id: uuid.UUID, *, acting: ActingFor | None = None
    ) -> list[GrantView]:
        """Requests waiting for an answer; not those of the browser flow, which the resident
        answers on the page the service sent them to (vault/grants/authorization.py)."""
        now = self._clock.now()
        with self._uow() as uow:
            in_browser = uow.grants.flow_grant_ids(resident_id)
        return [
            g
            for g in self.grants(resident_id, statuses=["requested"], acting=acting)
            if g.request_expires_at > now and g.grant_id not in in_browser
        ]

    def grants(
        self,
        resident_id: uuid.UUID,
        *,
        statuses: Sequence[str] | None = None,
        acting: ActingFor | None = None,
    ) -> list[GrantView]:
        """The resident's grants; under a mandate only those whose datatypes all lie in
        categories the mandate lets the representative decide on."""
        with self._uow() as uow:
            resident = self._keys.active_resident(uow, resident_id)
            key = self._keys.current(uow, resident)
            rows = uow.grants.of_resident(resident_id, statuses=statuses)
            if acting is not None:
                acting.same_vault(resident_id)
                scope = acting.categories(uow, action="decide-requests")
                rows = [g for g in rows if _categories(g) <= scope]
                self._represented(uow, resident_id, acting, "grant.list", None)
                uow.commit()
            return [self._view(uow, key, g) for g in rows]

    def grant_ids(self, resident_id: uuid.UUID) -> list[uuid.UUID]:
        """The ids of all the resident's grants, oldest first: for reading them one by one
        with `get` (the export), without opening every one at once."""
        with self._uow() as uow:
            self._keys.active_resident(uow, resident_id)
            return [g.grant_id for g in uow.grants.of_resident(resident_id)]

    def get(
        self, resident_id: uuid.UUID, grant_id: uuid.UUID, *, acting: ActingFor | None = None
    ) -> GrantView:
        with self._uow() as uow:
            resident = self._keys.active_resident(uow, resident_id)
            grant = uow.grants.get(resident_id, grant_id)
            if grant is None:
                raise NotFound("no such grant in this vault")
            if acting is not None:
                self._may_decide(uow, resident_id, acting, grant)
                self._represented(uow, resident_id, acting, "grant.read", grant)
                uow.commit()
            return self._view(uow, self._keys.current(uow, resident), grant)

    @staticmethod
    def _may_decide(
        uow: SqlUnitOfWork, resident_id: uuid.UUID, acting: ActingFor | None, grant: GrantRow
    ) -> None:
        """Under a mandate: every datatype of the grant must lie in its categories for
        `decide-requests`, now (else AccessDenied with the mandate's reason)."""
        if acting is not None:
            acting.same_vault(resident_id)
            acting.check_all(uow, _categories(grant), action="decide-requests")

    def _represented(
        self,
        uow: SqlUnitOfWork,
        resident_id: uuid.UUID,
        acting: ActingFor,
        name: str,
        grant: GrantRow | None,
    ) -> None:
        """A representative looked at the principal's requests or grants: in the log."""
        kind, actor_id = actor(resident_id, acting)
        record(
            uow,
            AccessEvent(
                resident_id=resident_id,
                name=name,
                outcome="permit",
                actor=kind,
                actor_id=actor_id,
                service_id=grant.service_id if grant else None,
                grant_id=grant.grant_id if grant else None,
                procedure_id=grant.procedure_id if grant else None,
                action="read",
            ),
            self._clock.now(),
        )

    def approve(
        self,
        resident_id: uuid.UUID,
        grant_id: uuid.UUID,
        *,
        datatypes: Sequence[str] | None = None,
        actions: Sequence[str] | None = None,
        valid_until: datetime | None = None,
        acting: ActingFor | None = None,
    ) -> GrantView:
        """Approve as asked, or narrower: fewer datatypes, fewer actions, a shorter validity.
        Anything wider than the request is refused. A browser-flow request is approved through
        AuthorizationCodeFlow.approve, which also issues its code."""
        with self._uow() as uow:
            resident = self._keys.active_resident(uow, resident_id)
            if uow.grants.flow(resident_id, grant_id) is not None:
                raise Conflict("answer this request on the page the service sent you to")
            grant = self.approve_in(
                uow,
                resident_id,
                grant_id,
                datatypes=datatypes,
                actions=actions,
                valid_until=valid_until,
                acting=acting,
            )
            uow.commit()
            return self._view(uow, self._keys.current(uow, resident), grant)

    def approve_in(
        self,
        uow: SqlUnitOfWork,
        resident_id: uuid.UUID,
        grant_id: uuid.UUID,
        *,
        datatypes: Sequence[str] | None = None,
        actions: Sequence[str] | None = None,
        valid_until: datetime | None = None,
        acting: ActingFor | None = None,
    ) -> GrantRow:
        """`approve` in the caller's `uow` (the browser flow issues its code in the same one)."""
        now = self._clock.now()
        self._keys.active_resident(uow, resident_id)
        grant = self._open_request(uow, resident_id, grant_id, now, acting)
        asked_types = set(json.loads(grant.requested_datatypes))
        asked_actions = set(json.loads(grant.requested_actions))
        types = set(datatypes) if datatypes is not None else asked_types
        acts = set(actions) if actions is not None else asked_actions
        until = valid_until or grant.requested_valid_until
        wider = sorted(types - asked_types) + sorted(acts - asked_actions)
        if wider:
            raise InvalidInput(f"you can give less than asked, not more: {', '.join(wider)}")
        if until > grant.requested_valid_until:
            raise InvalidInput("you can give access for a shorter time than asked, not longer")
        if until <= now:
            raise InvalidInput("the end of the access must be in the future")
        if not types or not acts:
            raise InvalidInput("to give nothing, deny the request instead")
        grant.datatypes = json.dumps(sorted(types))
        grant.actions = json.dumps(sorted(acts))
        grant.valid_until = until
        grant.granted_by = acting.granted_by if acting else "self"
        grant.decided_by = acting.representative_id if acting else resident_id
        grant.decided_at = now
        narrowed: dict[str, object] = {
            k: v
            for k, v in {
                "datatypes": sorted(types) if types != asked_types else None,
                "actions": sorted(acts) if acts != asked_actions else None,
                "valid_until": until.isoformat() if until != grant.requested_valid_until else None,
            }.items()
            if v is not None
        }
        kind, actor_id = actor(resident_id, acting)
        self._set_status(uow, grant, "approved", kind, actor_id, None, now, narrowed or None)
        return grant

    def deny(
        self, resident_id: uuid.UUID, grant_id: uuid.UUID, *, acting: ActingFor | None = None
    ) -> GrantView:
        with self._uow() as uow:
            resident = self._keys.active_resident(uow, resident_id)
            grant = self.deny_in(uow, resident_id, grant_id, acting=acting)
            uow.commit()
            return self._view(uow, self._keys.current(uow, resident), grant)

    def deny_in(
        self,
        uow: SqlUnitOfWork,
        resident_id: uuid.UUID,
        grant_id: uuid.UUID,
        *,
        acting: ActingFor | None = None,
    ) -> GrantRow:
        now = self._clock.now()
        self._keys.active_resident(uow, resident_id)
        grant = self._open_request(uow, resident_id, grant_id, now, acting)
        grant.decided_by = acting.representative_id if acting else resident_id
        grant.decided_at = now
        kind, actor_id = actor(resident_id, acting)
        self._set_status(uow, grant, "denied", kind, actor_id, None, now)
        return grant

    def _open_request(
        self,
        uow: SqlUnitOfWork,
        resident_id: uuid.UUID,
        grant_id: uuid.UUID,
        now: datetime,
        acting: ActingFor | None = None,
    ) -> GrantRow:
        grant = uow.grants.get(resident_id, grant_id, for_update=True)
        if grant is None:
            raise NotFound("no such request in this vault")
        self._may_decide(uow, resident_id, acting, grant)
        if grant.status != "requested":
            raise Conflict(f"this request has already been answered ({grant.status})")
        if grant.request_expires_at <= now:
            raise Conflict("this request has expired")
        return grant

    def revoke(
        self, resident_id: uuid.UUID, grant_id: uuid.UUID, *, acting: ActingFor | None = None
    ) -> GrantView:
        """The resident (or their representative) stops a grant: access ends now."""
        now = self._clock.now()
        with self._uow() as uow:
            resident = self._keys.active_resident(uow, resident_id)
            grant = uow.grants.get(resident_id, grant_id, for_update=True)
            if grant is None:
                raise NotFound("no such grant in this vault")
            self._may_decide(uow, resident_id, acting, grant)
            kind, actor_id = actor(resident_id, acting)
            if grant.status == "requested":
                self._set_status(uow, grant, "denied", kind, actor_id, None, now)
            elif grant.status == "approved":
                self._end(uow, grant, "revoked", kind, actor_id, now)
            uow.commit()
            return self._view(uow, self._keys.current(uow, resident), grant)

    def revoke_service(
        self, resident_id: uuid.UUID, service_id: uuid.UUID, *, acting: ActingFor | None = None
    ) -> int:
        """Stop everything for one service: every grant ends, every request is denied.

        Under a mandate (`decide-requests` on at least one category, else AccessDenied,
        logged): only the service's grants and requests the representative may decide on,
        those whose datatypes all lie in the mandate's `decide-requests` categories, i.e.
        what `grants` shows them. The service's other grants stay as they are, and the
        answer counts only what was stopped (it does not tell that others exist)."""
        now = self._clock.now()
        with self._uow() as uow:
            self._keys.active_resident(uow, resident_id)
            scope: frozenset[str] | None = None
            if acting is not None:
                acting.same_vault(resident_id)
                scope = acting.categories(uow, action="decide-requests")
            kind, actor_id = actor(resident_id, acting)
            stopped = 0
            for grant in uow.grants.of_resident(resident_id, statuses=["requested", "approved"]):
                if grant.service_id != service_id:
                    continue
                if scope is not None and not _categories(grant) <= scope:
                    continue
                if grant.status == "approved":
                    self._end(uow, grant, "revoked", kind, actor_id, now)
                else:
                    self._set_status(uow, grant, "denied", kind, actor_id, None, now)
                stopped += 1
            uow.commit()
            return stopped

    # -- procedures end -------------------------------------------------------------------

    def close_procedure_by_service(self, service: ServiceInfo, subject: str, ref: str) -> int:
        now = self._clock.now()
        with self._uow() as uow:
            resident_id = self._registry.resident_of(uow, service.service_id, subject)
            procedure = uow.grants.procedure_by_ref(
                resident_id, service.service_id, ref, for_update=True
            )
            if procedure is None:
                raise NotFound("no such procedure for this resident")
            ended = self._close(uow, procedure, "service", service.client_id, now)
            uow.commit()
            return ended

    def close_procedure_by_resident(
        self, resident_id: uuid.UUID, procedure_id: uuid.UUID, *, acting: ActingFor | None = None
    ) -> int:
        """The resident ends a procedure: every grant under it ends, its requests lapse, and
        the service can ask nothing more under its reference.

        Under a mandate, all or nothing: every grant ever asked under the procedure must
        lie in the mandate's `decide-requests` categories (else AccessDenied with the
        mandate's reason, logged, and nothing ends). A procedure ends as a whole, also for
        what a service might still ask under it, so a representative cannot end one that
        reaches data outside their mandate; the principal can."""
        now = self._clock.now()
        with self._uow() as uow:
            self._keys.active_resident(uow, resident_id)
            procedure = uow.grants.procedure(resident_id, procedure_id, for_update=True)
            if procedure is None:
                raise NotFound("no such procedure in this vault")
            # Read (and locked) once: the rows checked are the rows ended.
            grants = uow.grants.of_procedure(resident_id, procedure_id)
            if acting is not None:
                acting.same_vault(resident_id)
                acting.categories(uow, action="decide-requests")  # none at all: refused
                covered = frozenset(c for g in grants for c in _categories(g))
                if not covered:  # fail closed: no grant under it for the mandate to cover
                    raise NotFound("no such procedure in this vault")
                acting.check_all(uow, covered, action="decide-requests")
            kind, actor_id = actor(resident_id, acting)
            ended = self._close(uow, procedure, kind, actor_id, now, grants=grants)
            uow.commit()
            return ended

    def _close(
        self,
        uow: SqlUnitOfWork,
        procedure: ProcedureRow,
        by: Actor | Literal["planned-end"],
        actor_id: str | None,
        now: datetime,
        *,
        grants: Sequence[GrantRow] | None = None,
    ) -> int:
        """Close `procedure` (if open): its approved grants end, its requests lapse.
        `grants`: the procedure's grants as the caller already read (and locked) them."""
        if procedure.status != "open":
            return 0
        procedure.status = "closed"
        procedure.closed_by = by
        procedure.closed_at = now
        ended = 0
        actor: Actor = "system" if by == "planned-end" else by
        record(
            uow,
            AccessEvent(
                resident_id=procedure.resident_id,
                name="procedure.closed",
                outcome="done",
                actor=actor,
                actor_id=actor_id,
                reason=by if by == "planned-end" else None,
                service_id=procedure.service_id,
                procedure_id=procedure.procedure_id,
            ),
            now,
        )
        if grants is None:
            grants = uow.grants.of_procedure(procedure.resident_id, procedure.procedure_id)
        for grant in grants:
            if grant.status == "approved":
                self._end(uow, grant, "procedure-closed", actor, actor_id, now)
                ended += 1
            elif grant.status == "requested":
                self._set_status(uow, grant, "lapsed", actor, actor_id, "procedure-closed", now)
        return ended

    def relinquish(self, service: ServiceInfo, resident_id: uuid.UUID, grant_id: uuid.UUID) -> None:
        """The service gives a grant back before its end."""
        now = self._clock.now()
        with self._uow() as uow:
            grant = uow.grants.get(resident_id, grant_id, for_update=True)
            if grant is None or grant.service_id != service.service_id:
                raise NotFound("no such grant")
            if grant.status == "approved":
                self._end(uow, grant, "relinquished", "service", service.client_id, now)
            uow.commit()

    def end_all_for_deleted_vault(
        self, uow: SqlUnitOfWork, resident_id: uuid.UUID, now: datetime
    ) -> None:
        """The vault is being deleted (in `uow`): end every grant and request, telling services."""
        for grant in uow.grants.of_resident(resident_id, statuses=["requested", "approved"]):
            if grant.status == "approved":
                self._end(uow, grant, "vault-deleted", "resident", str(resident_id), now)
            else:
                self._set_status(
                    uow, grant, "lapsed", "resident", str(resident_id), "vault-deleted", now
                )

    def end_for_token_reuse(self, uow: SqlUnitOfWork, grant: GrantRow, now: datetime) -> None:
        if grant.status == "approved":
            self._end(uow, grant, "token-reuse", "system", None, now)

    # -- the sweeper: marks and notifies what the check already refuses --------------------

    def sweep(self, *, batch: int = SWEEP_BATCH) -> dict[str, int]:
        """One batch of each, in one transaction: procedures past their planned end closed
        (their grants ended, their requests lapsed), up to `batch` expired grants ended, up to
        `batch` unanswered requests lapsed, finished events and unused pushed requests purged.

        Set-based: the grants under those procedures and the expired grants are each ended
        by one statement for the whole batch that also writes their history steps and revokes
        their tokens (on PostgreSQL one data-modifying WITH; `SqlGrantRepository.end_expired`),
        then one bulk write each adds their access events and the services' "grant ended"
        SETs, as `_end` does for one grant. All of it commits together or not at all (I2).
        Two sweepers at once take different rows (see `SqlGrantRepository.end_expired`), so
        no grant is ended or told twice. Access never waits for this: the check compares the
        times itself (I1)."""
        now = self._clock.now()
        counts = {
            "expired": 0,
            "lapsed": 0,
            "procedures_closed": 0,
            "events_purged": 0,
            "requests_purged": 0,
        }
        with self._uow() as uow:
            closed = uow.grants.close_past_planned_end(now, batch)
            counts["procedures_closed"] = len(closed)
            if closed:
                record_many(
                    uow,
                    [
                        AccessEvent(
                            resident_id=p.resident_id,
                            name="procedure.closed",
                            outcome="done",
                            actor="system",
                            reason="planned-end",
                            service_id=p.service_id,
                            procedure_id=p.procedure_id,
                        )
                        for p in closed
                    ],
                    now,
                )
                keys = [(p.resident_id, p.procedure_id) for p in closed]
                self._ended_batch(
                    uow, uow.grants.end_under_procedures(keys, now), "procedure-closed", now
                )
                for grant in uow.grants.requests_under_procedures(keys):
                    self._set_status(uow, grant, "lapsed", "system", None, "procedure-closed", now)
            expired = uow.grants.end_expired(now, batch)
            self._ended_batch(uow, expired, "expired", now)
            counts["expired"] = len(expired)
            # Unanswered requests are few and may carry a ping secret: one by one.
            for grant in uow.grants.requests_due(now, batch):
                self._set_status(uow, grant, "lapsed", "system", None, None, now)
                counts["lapsed"] += 1
            if self._events is not None:
                counts["events_purged"] = self._events.purge_finished(uow, now, batch)
            # Pushed browser-flow requests nobody came for (the check refuses them already).
            counts["requests_purged"] = uow.grants.purge_pushed(now, batch)
            uow.commit()
        return counts

    def _ended_batch(
        self, uow: SqlUnitOfWork, ended: Sequence[SweptGrant], reason: EndReason, now: datetime
    ) -> None:
        """What `_end(uow, grant, reason, "system", None, now)` does besides the vault's own
        rows (status, history, tokens: written by the repository's batch UPDATE), for a batch
        the sweeper has just ended: the access events and the services' SETs."""
        if not ended:
            return
        record_many(
            uow,
            [
                AccessEvent(
                    resident_id=g.resident_id,
                    name="grant.ended",
                    outcome="done",
                    actor="system",
                    reason=reason,
                    service_id=g.service_id,
                    grant_id=g.grant_id,
                    procedure_id=g.procedure_id,
                    purpose=g.purpose_uri,
                    legal_basis=g.legal_basis,
                )
                for g in ended
            ],
            now,
        )
        if self._events is not None:
            self._events.grants_ended(uow, ended, reason, now)
            # No pings: an approved grant's request was answered, its ping secret is gone.

    # -- bookkeeping ------------------------------------------------------------------------

    def _end(
        self,
        uow: SqlUnitOfWork,
        grant: GrantRow,
        reason: EndReason,
        actor: Actor,
        actor_id: str | None,
        now: datetime,
    ) -> None:
        grant.end_reason = reason
        grant.ended_at = now
        self._set_status(uow, grant, "ended", actor, actor_id, reason, now)
        uow.tokens.revoke_grant(grant.resident_id, grant.grant_id, now)

    def _set_status(
        self,
        uow: SqlUnitOfWork,
        grant: GrantRow,
        status: str,
        actor: Actor,
        actor_id: str | None,
        reason: str | None,
        now: datetime,
        details: dict[str, object] | None = None,
    ) -> None:
        grant.status = status
        self._history(uow, grant, status, actor, actor_id, reason, now, details)

    def _history(
        self,
        uow: SqlUnitOfWork,
        grant: GrantRow,
        status: str,
        actor: Actor,
        actor_id: str | None,
        reason: str | None,
        now: datetime,
        details: dict[str, object] | None = None,
    ) -> None:
        uow.grants.add(
            GrantEventRow(
                resident_id=grant.resident_id,
                grant_id=grant.grant_id,
                seq=uow.grants.next_event_seq(grant.resident_id, grant.grant_id),
                at=now,
                status=status,
                actor=actor,
                actor_id=actor_id,
                reason=reason,
                details=json.dumps(details) if details else None,
            )
        )
        uow.flush()
        record(
            uow,
            AccessEvent(
                resident_id=grant.resident_id,
                name=f"grant.{status}",
                outcome="done",
                actor=actor,
                actor_id=actor_id,
                reason=reason,
                service_id=grant.service_id,
                grant_id=grant.grant_id,
                procedure_id=grant.procedure_id,
                purpose=grant.purpose_uri,
                legal_basis=grant.legal_basis,
            ),
            now,
        )
        if self._events is not None:
            self._events.grant_changed(uow, grant, status, reason, now)
            self._events.ping_if_answered(uow, grant, status, reason, now)

    def _view(self, uow: SqlUnitOfWork, key: DataKey, grant: GrantRow) -> GrantView:
        procedure = uow.grants.procedure(grant.resident_id, grant.procedure_id)
        if procedure is None:
            raise NotFound("the procedure of this grant is missing")
        service = uow.services.get(grant.service_id)
        history = tuple(
            HistoryEntry(
                e.at,
                e.status,
                e.actor,
                e.actor_id,
                e.reason,
                json.loads(e.details) if e.details else None,
            )
            for e in uow.grants.events(grant.resident_id, grant.grant_id)
        )
        return GrantView(
            grant_id=grant.grant_id,
            service_id=grant.service_id,
            service_name=service.name if service else "(removed service)",
            status=grant.status,
            end_reason=grant.end_reason,
            requested_datatypes=tuple(json.loads(grant.requested_datatypes)),
            requested_actions=tuple(json.loads(grant.requested_actions)),
            requested_valid_until=grant.requested_valid_until,
            datatypes=tuple(json.loads(grant.datatypes)) if grant.datatypes else (),
            actions=tuple(json.loads(grant.actions)) if grant.actions else (),
            valid_until=grant.valid_until,
            purpose_uri=grant.purpose_uri,
            purpose_text=key.open(
                grant.purpose_text_ct, _binding("grants", "purpose_text_ct", grant.grant_id)
            ).decode()
            if grant.purpose_text_ct
            else "",
            legal_basis=grant.legal_basis,
            binding_message=key.open(
                grant.binding_message_ct, _binding("grants", "binding_message_ct", grant.grant_id)
            ).decode()
            if grant.binding_message_ct
            else None,
            granted_by=grant.granted_by,
            procedure=ProcedureView(
                procedure_id=procedure.procedure_id,
                ref=procedure.ref,
                description=key.open(
                    procedure.description_ct,
                    _binding("procedures", "description_ct", procedure.procedure_id),
                ).decode()
                if procedure.description_ct
                else None,
                planned_end=procedure.planned_end,
                status=procedure.status,
                closed_by=procedure.closed_by,
                closed_at=procedure.closed_at,
            ),
            request_expires_at=grant.request_expires_at,
            created_at=grant.created_at,
            decided_at=grant.decided_at,
            ended_at=grant.ended_at,
            history=history,
        )
