"""Mandates: a resident lets someone act for them; a parent keeps a child's vault.

States: offered -> active (accepted with the one-time code) | lapsed (the code expired);
active -> ended, with the reason: revoked (by the principal), given-up (by the
representative), expired (its period is over) or vault-deleted (the representative's vault
went). Every change appends to the mandate's history and records an access event in the
principal's log, in the same transaction.

Whether a representative may do something is decided by `policy.may_act` only; this module
reads the facts for it (`authorise`) and keeps the lifecycle.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from keys.secrets import KeyedHasher
from keys.service import Binding, DataKey
from vault.audit.events import AccessEvent, record
from vault.codes import CODE_LIFETIME, code_hash, new_code
from vault.errors import (
    AccessDenied,
    AuthenticationFailed,
    Conflict,
    InvalidInput,
    MandateTooLong,
    NotFound,
    RateLimited,
)
from vault.ports import Clock
from vault.records.catalogue import CATEGORIES
from vault.representation.acting import ActingFor
from vault.representation.acting import actor as by
from vault.representation.policy import (
    MANDATE_ACTIONS,
    MandateFacts,
    MayAct,
    MayNot,
    may_act,
)
from vault.representation.throttle import RefusalThrottle
from vault.residents.keys import VaultKeys
from vault.residents.service import name_binding
from vault.storage.orm import MandateEventRow, MandateRow, ResidentRow
from vault.storage.unit_of_work import SqlUnitOfWork, UnitOfWorkFactory

CODE_PURPOSE = "mandate-code"
Actor = Literal["resident", "representative", "system"]
Role = Literal["principal", "representative"]


@dataclass(frozen=True, slots=True)
class RepresentationSettings:
    max_validity: timedelta = timedelta(days=5 * 365 + 1)  # the longest mandate one can give
    max_start_delay: timedelta = timedelta(days=365)  # how far ahead a mandate may start
    # A parent's mandate for a child's vault: until the child is of age at the latest. The
    # vault does not know the birth date, so this is the latest the child can still be a
    # minor (a vault made at birth); it is never renewed (docs/people.md, "At 18").
    parent_validity: timedelta = timedelta(days=18 * 365 + 5)
    # Refused attempts of one representative logged in one principal's log: this many at
    # once, then this many an hour (vault/representation/throttle.py).
    refusals_per_hour: int = 10


@dataclass(frozen=True, slots=True)
class MandateHistoryEntry:
    at: datetime
    status: str
    actor: str
    reason: str | None


@dataclass(frozen=True, slots=True)
class MandateView:
    """A mandate as one of its two parties sees it (`role` is the viewer's)."""

    mandate_id: uuid.UUID
    kind: str  # mandate | parent
    role: Role
    other_name: str  # the representative's name (to the principal), or the principal's
    status: str
    end_reason: str | None
    categories: tuple[str, ...]
    actions: tuple[str, ...]
    valid_from: datetime
    valid_until: datetime
    label: str
    code_expires_at: datetime | None
    created_at: datetime
    accepted_at: datetime | None
    ended_at: datetime | None
    history: tuple[MandateHistoryEntry, ...]


@dataclass(frozen=True, slots=True)
class MandateOffer:
    mandate: MandateView
    code: str  # shown once: the principal hands it to the representative
    code_expires_at: datetime


def _binding(column: str, mandate_id: uuid.UUID) -> Binding:
    return Binding("mandates", column, str(mandate_id))


def facts(row: MandateRow) -> MandateFacts:
    return MandateFacts(
        mandate_id=row.mandate_id,
        principal_id=row.resident_id,
        representative_id=row.representative_id,
        status=row.status,
        categories=frozenset(json.loads(row.categories)),
        actions=frozenset(json.loads(row.actions)),
        valid_from=row.valid_from,
        valid_until=row.valid_until,
    )


class RepresentationService:
    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        keys: VaultKeys,
        hasher: KeyedHasher,
        clock: Clock,
        settings: RepresentationSettings | None = None,
    ) -> None:
        self._uow = uow
        self._keys = keys
        self._hasher = hasher
        self._clock = clock
        self._settings = settings or RepresentationSettings()
        self._throttle = RefusalThrottle(hasher=hasher, per_hour=self._settings.refusals_per_hour)

    # -- the principal offers, the representative accepts ---------------------------------

    def offer(
        self,
        principal_id: uuid.UUID,
        *,
        categories: Sequence[str],
        actions: Sequence[str],
        valid_until: datetime,
        valid_from: datetime | None = None,
        label: str = "",
        acting: ActingFor | None = None,
    ) -> MandateOffer:
        """Offer a mandate over the principal's vault. Under `acting` only a parent may do
        this, for the child's vault (the second parent), within the parent's own mandate:
        its scope now, and its end (`MandateTooLong` past it: refused, never cut short)."""
        now = self._clock.now()
        start = valid_from or now
        self._validate(categories, actions, start, valid_until, label, now)
        with self._uow() as uow:
            principal = self._keys.active_resident(uow, principal_id)
            latest = self._as_parent(uow, principal_id, acting, categories, actions)
            if latest is not None and valid_until > latest:
                raise MandateTooLong(latest)
            return self._offered(
                uow, principal, "mandate", categories, actions, start, valid_until, label, acting
            )

    def offer_parent(
        self, child_id: uuid.UUID, *, acting: ActingFor | None, label: str = ""
    ) -> MandateOffer:
        """A parent offers another parent a `parent` mandate for the child's vault: the same
        powers as their own (every category and action; giving and ending the child's
        mandates; deleting the vault), until the same end (the child's majority at the
        latest). Accepted with the one-time code, like any offer."""
        if acting is None:
            raise AccessDenied(
                "only a parent can give a parent's mandate, for a child's vault",
                reason="not-a-parent",
            )
        if len(label) > 200:
            raise InvalidInput("the description can be at most 200 characters")
        now = self._clock.now()
        with self._uow() as uow:
            child = self._keys.active_resident(uow, child_id)
            everything = sorted(CATEGORIES)
            latest = self._as_parent(uow, child_id, acting, everything, MANDATE_ACTIONS)
            if latest is None or latest <= now:  # _as_parent refused that already
                raise AccessDenied("this mandate has expired", reason="mandate-expired")
            return self._offered(
                uow, child, "parent", everything, MANDATE_ACTIONS, now, latest, label, acting
            )

    def _offered(
        self,
        uow: SqlUnitOfWork,
        principal: ResidentRow,
        kind: str,
        categories: Sequence[str],
        actions: Sequence[str],
        start: datetime,
        until: datetime,
        label: str,
        acting: ActingFor | None,
    ) -> MandateOffer:
        now = self._clock.now()
        shown, raw = new_code()
        mandate_id = uuid.uuid4()
        key = self._keys.current(uow, principal)
        row = MandateRow(
            resident_id=principal.resident_id,
            mandate_id=mandate_id,
            kind=kind,
            representative_id=None,
            status="offered",
            end_reason=None,
            categories=json.dumps(sorted(set(categories))),
            actions=json.dumps(sorted(set(actions))),
            valid_from=start,
            valid_until=until,
            dek_version=key.version,
            label_ct=key.seal(label.strip().encode(), _binding("label_ct", mandate_id))
            if label.strip()
            else None,
            representative_name_ct=None,
            code_hash=code_hash(self._hasher, CODE_PURPOSE, raw),
            code_expires_at=now + CODE_LIFETIME,
            created_at=now,
            accepted_at=None,
            ended_at=None,
        )
        uow.mandates.add(row)
        actor, actor_id = by(principal.resident_id, acting)
        self._history(uow, row, "offered", actor, actor_id, None, now)
        uow.commit()
        view = self._view(uow, row, "principal")
        return MandateOffer(view, shown, now + CODE_LIFETIME)

    def _as_parent(
        self,
        uow: SqlUnitOfWork,
        principal_id: uuid.UUID,
        acting: ActingFor | None,
        categories: Sequence[str],
        actions: Sequence[str],
    ) -> datetime | None:
        """Under a mandate, giving or ending mandates is a parent's only (for the child's
        vault), and never wider than the parent's own mandate covers now: the end of that
        mandate (what nothing given under it may outlast); None for one's own vault."""
        if acting is None:
            return None
        acting.same_vault(principal_id)
        if acting.kind != "parent":
            raise AccessDenied(
                "this cannot be done for someone else", reason="not-for-representatives"
            )
        for action in sorted(set(actions)):
            acting.check_all(uow, categories, action=action)
        own = uow.mandates.held_by(acting.representative_id, acting.mandate_id)
        if own is None:  # check_all found it a moment ago, in this transaction
            raise AccessDenied("there is no such mandate", reason="no-mandate")
        return own.valid_until

    def accept(self, representative_id: uuid.UUID, code: str) -> MandateView:
        """The representative (signed in) accepts with the code: the mandate is active.

        Every way a code can fail (unknown, used, expired) gives the same answer."""
        now = self._clock.now()
        refused = AuthenticationFailed("this code is not valid (any more)")
        with self._uow() as uow:
            representative = self._keys.active_resident(uow, representative_id)
            row = uow.mandates.by_code(code_hash(self._hasher, CODE_PURPOSE, code))
            if row is None or row.status != "offered" or row.code_expires_at is None:
                raise refused
            if row.code_expires_at <= now:
                self._settle(uow, row, now)
                uow.commit()
                raise refused
            if row.resident_id == representative_id:
                # Not spent: the principal may have pasted their own code by mistake.
                raise InvalidInput("you cannot accept a mandate you gave yourself")
            if row.kind == "parent" and any(
                held.kind == "parent" and held.status == "active"
                for held in uow.mandates.parents(row.resident_id)
                if held.representative_id == representative_id
            ):
                # Not spent either: the parent who offered it pasted it by mistake.
                raise InvalidInput("you already hold a parent's mandate for this vault")
            self._keys.active_resident(uow, row.resident_id)
            row.representative_id = representative_id
            row.representative_name_ct = self._keys.key(uow, row.resident_id, row.dek_version).seal(
                self._name(uow, representative).encode(),
                _binding("representative_name_ct", row.mandate_id),
            )
            row.status = "active"
            row.accepted_at = now
            row.code_hash = None  # single use: the code now finds nothing
            row.code_expires_at = None
            self._history(uow, row, "active", "representative", str(row.mandate_id), None, now)
            uow.commit()
            return self._view(uow, row, "representative")

    # -- ending -------------------------------------------------------------------------

    def revoke(
        self, principal_id: uuid.UUID, mandate_id: uuid.UUID, *, acting: ActingFor | None = None
    ) -> MandateView:
        """The principal ends a mandate (or withdraws an offer): it ends now. Under `acting`
        a parent ends one in the child's vault, a parent's too, but never the last parent's
        (`_keep_a_parent`: the child's vault has no one else who could sign in)."""
        now = self._clock.now()
        with self._uow() as uow:
            self._keys.active_resident(uow, principal_id)
            row = self._locked(uow, uow.mandates.get(principal_id, mandate_id))
            if row is None:
                raise NotFound("no such mandate in this vault")
            if acting is not None:
                self._as_parent(
                    uow, principal_id, acting, json.loads(row.categories), json.loads(row.actions)
                )
            self._settle(uow, row, now)
            if row.status in ("offered", "active"):
                self._keep_a_parent(uow, row, now)
                actor, actor_id = by(principal_id, acting)
                self._end(uow, row, "revoked", actor, actor_id, now)
            uow.commit()
            return self._view(uow, row, "principal")

    def give_up(self, representative_id: uuid.UUID, mandate_id: uuid.UUID) -> MandateView:
        """The representative stops acting for the principal; a parent only while another
        parent keeps the child's vault (`_keep_a_parent`)."""
        now = self._clock.now()
        with self._uow() as uow:
            self._keys.active_resident(uow, representative_id)
            row = self._locked(uow, uow.mandates.held_by(representative_id, mandate_id))
            if row is None:
                raise NotFound("you hold no such mandate")
            self._settle(uow, row, now)
            if row.status == "active":
                self._keep_a_parent(uow, row, now)
                self._end(uow, row, "given-up", "representative", str(mandate_id), now)
            uow.commit()
            return self._view(uow, row, "representative")

    def end_held_for_deleted_vault(
        self, uow: SqlUnitOfWork, representative_id: uuid.UUID, now: datetime
    ) -> None:
        """Inside a vault's deletion: the mandates it held for others end; its own go with it.
        Not while it is the last parent of a child's vault (Conflict, nothing deleted):
        that vault could never be opened again."""
        for row in uow.mandates.of_representative(representative_id):
            locked = self._locked(uow, row)
            if locked is not None and locked.status == "active":
                self._keep_a_parent(
                    uow,
                    locked,
                    now,
                    "you are the last parent who can open a child's vault: delete that vault"
                    " first, or give another parent a parent's mandate for it",
                )
                self._end(uow, locked, "vault-deleted", "system", None, now)
        uow.mandates.delete_all(representative_id)

    # -- a parent and a child's vault -----------------------------------------------------

    def create_child(self, parent_id: uuid.UUID, display_name: str) -> MandateView:
        """A vault for a child (no passkey of its own), with the parent's standing mandate
        over all of it. A second parent gets a mandate the usual way (see docs/people.md)."""
        name = display_name.strip()
        if not name or len(name) > 64:
            raise InvalidInput("the child's name must be 1 to 64 characters")
        now = self._clock.now()
        child_id = uuid.uuid4()
        mandate_id = uuid.uuid4()
        with self._uow() as uow:
            parent = self._keys.active_resident(uow, parent_id)
            key = self._keys.create(uow, child_id, now)
            uow.residents.add(
                ResidentRow(
                    resident_id=child_id,
                    status="active",
                    display_name_ct=key.seal(name.encode(), name_binding(child_id)),
                    dek_version=key.version,
                    created_at=now,
                    deleted_at=None,
                )
            )
            row = MandateRow(
                resident_id=child_id,
                mandate_id=mandate_id,
                kind="parent",
                representative_id=parent_id,
                status="active",
                end_reason=None,
                categories=json.dumps(sorted(CATEGORIES)),
                actions=json.dumps(sorted(MANDATE_ACTIONS)),
                valid_from=now,
                valid_until=now + self._settings.parent_validity,
                dek_version=key.version,
                label_ct=None,
                representative_name_ct=key.seal(
                    self._name(uow, parent).encode(),
                    _binding("representative_name_ct", mandate_id),
                ),
                code_hash=None,
                code_expires_at=None,
                created_at=now,
                accepted_at=now,
                ended_at=None,
            )
            uow.flush()  # the resident row exists before rows that name it
            uow.mandates.add(row)
            self._history(uow, row, "active", "representative", str(mandate_id), None, now)
            uow.commit()
            return self._view(uow, row, "representative")

    # -- reading ------------------------------------------------------------------------

    def given(
        self, principal_id: uuid.UUID, *, acting: ActingFor | None = None
    ) -> list[MandateView]:
        """Who acts (or was asked to act) for me; under `acting`, for a parent's child."""
        now = self._clock.now()
        with self._uow() as uow:
            self._keys.active_resident(uow, principal_id)
            self._as_parent(uow, principal_id, acting, list(CATEGORIES), ["read"])
            rows = [self._settled(uow, r, now) for r in uow.mandates.given_by(principal_id)]
            uow.commit()
            return [self._view(uow, r, "principal") for r in rows]

    def held(self, representative_id: uuid.UUID) -> list[MandateView]:
        """For whom I act (or acted)."""
        now = self._clock.now()
        with self._uow() as uow:
            self._keys.active_resident(uow, representative_id)
            held = uow.mandates.of_representative(representative_id)
            rows = [self._settled(uow, r, now) for r in held]
            uow.commit()
            return [self._view(uow, r, "representative") for r in rows]

    # -- acting for someone (the resident API's "act for" selector) ----------------------

    def authorise(
        self,
        uow: SqlUnitOfWork,
        representative_id: uuid.UUID,
        mandate_id: uuid.UUID,
        *,
        category: str,
        action: str,
    ) -> MayAct:
        """`may_act` on the mandate as stored now, read in the caller's transaction; raises
        AccessDenied (with the reason) when it says no. A mandate id that is not the
        representative's own finds nothing, exactly like one that does not exist."""
        row = uow.mandates.held_by(representative_id, mandate_id)
        decision = may_act(
            facts(row) if row is not None else None,
            representative_id=representative_id,
            now=self._clock.now(),
            category=category,
            action=action,
        )
        if isinstance(decision, MayNot):
            raise AccessDenied(decision.detail, reason=decision.reason)
        return decision

    def scope(
        self,
        uow: SqlUnitOfWork,
        representative_id: uuid.UUID,
        mandate_id: uuid.UUID,
        *,
        action: str,
    ) -> frozenset[str]:
        """The categories `may_act` allows for `action` now (what a listing may show);
        AccessDenied with the mandate's reason when it allows none."""
        row = uow.mandates.held_by(representative_id, mandate_id)
        mandate = facts(row) if row is not None else None
        now = self._clock.now()
        decisions = {
            c: may_act(
                mandate, representative_id=representative_id, now=now, category=c, action=action
            )
            for c in CATEGORIES
        }
        allowed = frozenset(c for c, d in decisions.items() if isinstance(d, MayAct))
        if not allowed:
            # The reason for one of the mandate's own categories says most (ended, expired).
            own = sorted(mandate.categories & decisions.keys()) if mandate else []
            refusal = decisions[own[0] if own else next(iter(CATEGORIES))]
            if isinstance(refusal, MayNot):
                raise AccessDenied(refusal.detail, reason=refusal.reason)
            raise AccessDenied("this mandate covers nothing", reason="empty-scope")
        return allowed

    def parent_deletes(
        self, uow: SqlUnitOfWork, parent_id: uuid.UUID, mandate_id: uuid.UUID
    ) -> uuid.UUID:
        """Inside a child's vault deletion (`ResidentService.delete_vault`): the child's id,
        if `mandate_id` is a parent's mandate this parent holds and may use now over every
        category (`write`); else AccessDenied (`no-mandate` for anyone else's).

        A refusal of a mandate the signed-in resident does hold (an ordinary one, or a
        parent's that has ended) is an attempt in its principal's log, like every refusal
        under a mandate (`mandate.refused`, action `delete-vault`), committed before it is
        raised (nothing has been deleted yet); and bounded like them (`RateLimited`)."""
        row = uow.mandates.held_by(parent_id, mandate_id, for_update=True)
        if row is None:
            raise AccessDenied("there is no such mandate", reason="no-mandate")
        acting = ActingFor(parent_id, row.resident_id, mandate_id, row.kind, self)
        try:
            if row.kind != "parent":
                raise AccessDenied(
                    "only a parent can delete a child's vault", reason="not-a-parent"
                )
            for category in CATEGORIES:
                self.authorise(uow, parent_id, mandate_id, category=category, action="write")
        except AccessDenied as e:
            self.refused(uow, acting, e, category=None, action="delete-vault")
            raise
        return row.resident_id

    def refused(
        self,
        uow: SqlUnitOfWork,
        acting: ActingFor,
        refusal: AccessDenied,
        *,
        category: str | None,
        action: str | None,
    ) -> None:
        """A representative's attempt the mandate refused, in the principal's log
        (`mandate.refused`, with the reason, category and action), committed now; the caller
        then raises. A mandate this representative does not hold (`no-mandate`) names no
        principal: nothing to log.

        Bounded (vault/representation/throttle.py): beyond the representative's limit of
        refusals in this principal's log, this raises `RateLimited` instead, before anything
        is written, after logging one `mandate.throttled` for the first such attempt in an
        hour."""
        if refusal.reason == "no-mandate":
            return
        now = self._clock.now()
        rep, principal = acting.representative_id, acting.principal_id
        wait = self._throttle.wait(uow, representative_id=rep, principal_id=principal, now=now)
        if wait is not None:
            if self._throttle.first_in_hour(
                uow, representative_id=rep, principal_id=principal, now=now
            ):
                self._log_refusal(uow, acting, "mandate.throttled", "too-many-refusals", now)
                uow.commit()
            raise RateLimited(
                f"too many refused attempts for this person; retry after {wait} s",
                retry_after=wait,
                reason="too-many-refusals",
            ) from refusal
        self._log_refusal(
            uow, acting, "mandate.refused", refusal.reason, now, category=category, action=action
        )
        uow.commit()

    @staticmethod
    def _log_refusal(
        uow: SqlUnitOfWork,
        acting: ActingFor,
        name: str,
        reason: str,
        now: datetime,
        *,
        category: str | None = None,
        action: str | None = None,
    ) -> None:
        record(
            uow,
            AccessEvent(
                resident_id=acting.principal_id,
                name=name,
                outcome="deny",
                actor="representative",
                actor_id=str(acting.mandate_id),
                reason=reason,
                datatype=category,
                action=action,
            ),
            now,
        )

    def acting_for(self, representative_id: uuid.UUID, mandate_id: uuid.UUID) -> ActingFor:
        """The acting context of one request under `mandate_id`: whose vault it is about.

        Only a mandate this representative holds is found (someone else's, or a made-up id,
        is `no-mandate`, alike); whether it covers anything is asked again on every use
        (`ActingFor.check`), so this is no permission yet. One that cannot be used at all
        now (offered, ended, expired, not yet valid) is refused here already."""
        with self._uow() as uow:
            self._keys.active_resident(uow, representative_id)
            row = uow.mandates.held_by(representative_id, mandate_id)
            if row is None:
                raise AccessDenied("there is no such mandate", reason="no-mandate")
            principal = uow.residents.get(row.resident_id)
            if principal is None or principal.status != "active":
                raise AccessDenied("this vault is no longer there", reason="mandate-ended")
            acting = ActingFor(representative_id, row.resident_id, mandate_id, row.kind, self)
            refusals = [
                self._refusal(uow, representative_id, mandate_id, a) for a in MANDATE_ACTIONS
            ]
            first = refusals[0]
            if first is not None and all(refusals):
                self.refused(uow, acting, first, category=None, action=None)
                raise first
        return acting

    def _refusal(
        self, uow: SqlUnitOfWork, representative_id: uuid.UUID, mandate_id: uuid.UUID, action: str
    ) -> AccessDenied | None:
        try:
            self.scope(uow, representative_id, mandate_id, action=action)
        except AccessDenied as e:
            return e
        return None

    def representative_names(
        self, uow: SqlUnitOfWork, principal_id: uuid.UUID, mandate_ids: set[uuid.UUID]
    ) -> dict[uuid.UUID, str]:
        """The names of the representatives of the principal's mandates `mandate_ids`, as
        the principal knows them (sealed in the mandate under the principal's key): what the
        principal's log shows for events with actor `representative`. Gone ones are left out."""
        names: dict[uuid.UUID, str] = {}
        for mandate_id in mandate_ids:
            row = uow.mandates.get(principal_id, mandate_id)
            if row is None or row.representative_name_ct is None:
                continue
            key = self._keys.key(uow, principal_id, row.dek_version)
            names[mandate_id] = key.open(
                row.representative_name_ct, _binding("representative_name_ct", mandate_id)
            ).decode()
        return names

    # -- internals ----------------------------------------------------------------------

    @staticmethod
    def _locked(uow: SqlUnitOfWork, row: MandateRow | None) -> MandateRow | None:
        """`row` again, locked and read afresh. A parent's mandate locks every parent's
        mandate of that child's vault first, in one order: two parents ending each other's
        at the same moment then wait for each other instead of deadlocking, and the second
        sees that the first left one parent only."""
        if row is None:
            return None
        if row.kind == "parent":
            uow.mandates.parents(row.resident_id, for_update=True)
        return uow.mandates.get(row.resident_id, row.mandate_id, for_update=True)

    def _keep_a_parent(
        self,
        uow: SqlUnitOfWork,
        row: MandateRow,
        now: datetime,
        detail: str = "this is the last parent's mandate for this child's vault: nobody could"
        " open it any more; give another parent a parent's mandate first, or delete the vault",
    ) -> None:
        """A child's vault cannot sign in: a parent's mandate in force ends only while
        another parent (someone else) holds one that is in force too. Call with the
        parents' mandates locked (`_locked`)."""
        in_force = row.status == "active" and row.valid_from <= now < row.valid_until
        if row.kind != "parent" or not in_force:
            return
        others = [
            p
            for p in uow.mandates.parents(row.resident_id)
            if p.status == "active"
            and p.valid_from <= now < p.valid_until
            and p.representative_id is not None
            and p.representative_id != row.representative_id
        ]
        if not others:  # the state refuses, not the request: another parent would change it
            raise Conflict(detail)

    def _validate(
        self,
        categories: Sequence[str],
        actions: Sequence[str],
        start: datetime,
        until: datetime,
        label: str,
        now: datetime,
    ) -> None:
        unknown = sorted(set(categories) - set(CATEGORIES))
        if unknown or not categories:
            raise InvalidInput(
                f"categories must be among {', '.join(CATEGORIES)}"
                + (f"; unknown: {', '.join(unknown)}" if unknown else "")
            )
        if not actions or set(actions) - set(MANDATE_ACTIONS):
            raise InvalidInput(f"actions must be among {', '.join(MANDATE_ACTIONS)}")
        if start < now - timedelta(minutes=5):
            raise InvalidInput("a mandate cannot start in the past")
        if start > now + self._settings.max_start_delay:
            raise InvalidInput("a mandate must start within a year")
        if until <= start or until <= now:
            raise InvalidInput("the end of the mandate must be after its start, in the future")
        if until - start > self._settings.max_validity:
            raise InvalidInput(
                f"a mandate can last at most {self._settings.max_validity.days} days"
            )
        if len(label) > 200:
            raise InvalidInput("the description can be at most 200 characters")

    def _name(self, uow: SqlUnitOfWork, resident: ResidentRow) -> str:
        if resident.display_name_ct is None:
            return ""
        key = self._keys.current(uow, resident)
        return key.open(resident.display_name_ct, name_binding(resident.resident_id)).decode()

    def _settled(self, uow: SqlUnitOfWork, row: MandateRow, now: datetime) -> MandateRow:
        if self._due(row, now):
            locked = uow.mandates.get(row.resident_id, row.mandate_id, for_update=True)
            if locked is not None:
                self._settle(uow, locked, now)
                return locked
        return row

    @staticmethod
    def _due(row: MandateRow, now: datetime) -> bool:
        return (
            row.status == "offered"
            and row.code_expires_at is not None
            and row.code_expires_at <= now
        ) or (row.status == "active" and row.valid_until <= now)

    def _settle(self, uow: SqlUnitOfWork, row: MandateRow, now: datetime) -> None:
        """Write down what time has already decided (the check never waits for this)."""
        if not self._due(row, now):
            return
        if row.status == "offered":
            row.status = "lapsed"
            row.code_hash = None
            row.code_expires_at = None
            row.ended_at = now
            self._history(uow, row, "lapsed", "system", None, "code-expired", now)
        else:
            self._end(uow, row, "expired", "system", None, now)

    def _end(
        self,
        uow: SqlUnitOfWork,
        row: MandateRow,
        reason: str,
        actor: Actor,
        actor_id: str | None,
        now: datetime,
    ) -> None:
        row.status = "ended"
        row.end_reason = reason
        row.ended_at = now
        row.code_hash = None
        row.code_expires_at = None
        self._history(uow, row, "ended", actor, actor_id, reason, now)

    def _history(
        self,
        uow: SqlUnitOfWork,
        row: MandateRow,
        status: str,
        actor: Actor,
        actor_id: str | None,
        reason: str | None,
        now: datetime,
    ) -> None:
        uow.flush()
        uow.mandates.add(
            MandateEventRow(
                resident_id=row.resident_id,
                mandate_id=row.mandate_id,
                seq=uow.mandates.next_event_seq(row.resident_id, row.mandate_id),
                at=now,
                status=status,
                actor=actor,
                actor_id=actor_id,
                reason=reason,
            )
        )
        record(
            uow,
            AccessEvent(
                resident_id=row.resident_id,
                name=f"mandate.{status}",
                outcome="done",
                actor=actor,
                actor_id=actor_id,
                reason=reason,
            ),
            now,
        )

    def _view(self, uow: SqlUnitOfWork, row: MandateRow, role: Role) -> MandateView:
        principal = uow.residents.get(row.resident_id)
        key: DataKey | None = (
            self._keys.key(uow, row.resident_id, row.dek_version)
            if principal is not None and principal.status == "active"
            else None
        )

        def opened(sealed: bytes | None, column: str) -> str:
            if sealed is None or key is None:
                return ""
            return key.open(sealed, _binding(column, row.mandate_id)).decode()

        if role == "principal":
            other = opened(row.representative_name_ct, "representative_name_ct")
        else:
            other = self._name(uow, principal) if principal is not None else ""
        return MandateView(
            mandate_id=row.mandate_id,
            kind=row.kind,
            role=role,
            other_name=other,
            status=row.status,
            end_reason=row.end_reason,
            categories=tuple(json.loads(row.categories)),
            actions=tuple(json.loads(row.actions)),
            valid_from=row.valid_from,
            valid_until=row.valid_until,
            label=opened(row.label_ct, "label_ct"),
            code_expires_at=row.code_expires_at,
            created_at=row.created_at,
            accepted_at=row.accepted_at,
            ended_at=row.ended_at,
            history=tuple(
                MandateHistoryEntry(e.at, e.status, e.actor, e.reason)
                for e in uow.mandates.events(row.resident_id, row.mandate_id)
            ),
        )
