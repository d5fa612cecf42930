"""Residents: their profile and the deletion of a whole vault by crypto-shredding."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from keys.service import Binding
from vault.audit.events import AccessEvent, record
from vault.errors import NotFound
from vault.ports import Clock
from vault.residents.keys import VaultKeys
from vault.storage.orm import ResidentRow
from vault.storage.unit_of_work import SqlUnitOfWork, UnitOfWorkFactory


def name_binding(resident_id: uuid.UUID) -> Binding:
    return Binding("residents", "display_name_ct", str(resident_id))


@dataclass(frozen=True, slots=True)
class ResidentProfile:
    resident_id: uuid.UUID
    display_name: str
    created_at: datetime


class ResidentService:
    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        keys: VaultKeys,
        clock: Clock,
        before_delete: Callable[[SqlUnitOfWork, uuid.UUID, datetime], None] | None = None,
    ) -> None:
        self._uow = uow
        self._keys = keys
        self._clock = clock
        # Called inside the deletion's transaction first: the grant service ends every grant
        # there (history, access events, "grant ended" events to services) before rows go.
        self.before_delete = before_delete

    def profile(self, resident_id: uuid.UUID) -> ResidentProfile:
        with self._uow() as uow:
            resident = self._keys.active_resident(uow, resident_id)
            key = self._keys.current(uow, resident)
            name = (
                key.open(resident.display_name_ct, name_binding(resident_id)).decode()
                if resident.display_name_ct
                else ""
            )
            return ResidentProfile(resident_id, name, resident.created_at)

    def delete_vault(self, resident_id: uuid.UUID) -> None:
        """Shred the vault: drop its data keys and every row; keep a contentless tombstone and
        the access events (which hold no plaintext).

        The ciphertexts in backups stay unreadable once the KEK that wrapped the dropped data
        key is retired (docs/security.md, "Deletion and its horizon").
        """
        with self._uow() as uow:
            resident = uow.residents.get(resident_id, for_update=True)
            if resident is None or resident.status != "active":
                return  # deleting twice is not an error: the outcome is the same
            self._shred(uow, resident, "resident", str(resident_id))
        self._keys.forget(resident_id)

    def delete_child_vault(
        self,
        parent_id: uuid.UUID,
        mandate_id: uuid.UUID,
        parent_check: Callable[[SqlUnitOfWork, uuid.UUID, uuid.UUID], uuid.UUID],
    ) -> None:
        """A parent shreds their child's vault, like `delete_vault`. `parent_check`
        (`RepresentationService.parent_deletes`) names the child, or refuses, in the
        deletion's own transaction; the log says a representative did it, by the mandate."""
        with self._uow() as uow:
            child_id = parent_check(uow, parent_id, mandate_id)
            child = uow.residents.get(child_id, for_update=True)
            if child is None or child.status != "active":
                raise NotFound("this vault is no longer there")
            self._shred(uow, child, "representative", str(mandate_id))
        self._keys.forget(child_id)

    def _shred(
        self,
        uow: SqlUnitOfWork,
        resident: ResidentRow,
        actor: Literal["resident", "representative"],
        actor_id: str,
    ) -> None:
        resident_id = resident.resident_id
        if self.before_delete is not None:
            self.before_delete(uow, resident_id, self._clock.now())
        uow.blobs.delete_all(resident_id)
        uow.records.delete_all(resident_id)
        uow.auth.delete_all(resident_id)
        # Services lose access at once: tokens, connections, grants and procedures go too.
        # Access events stay: they hold no plaintext and are what the log is made of.
        uow.tokens.delete_all(resident_id)
        uow.services.delete_connections(resident_id)
        uow.grants.delete_all(resident_id)
        uow.mandates.delete_all(resident_id)  # mandates it gave (and a child's parent's)
        uow.data_keys.delete_all(resident_id)
        resident.status = "deleted"
        resident.display_name_ct = None
        resident.deleted_at = self._clock.now()
        # The log keeps that it happened (and, through this event, when and by whom).
        record(
            uow,
            AccessEvent(
                resident_id=resident_id,
                name="vault.deleted",
                outcome="done",
                actor=actor,
                actor_id=actor_id,
            ),
            resident.deleted_at,
        )
        uow.commit()
