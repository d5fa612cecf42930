"""A resident's data keys as the vault uses them: made, fetched and unwrapped in one place.

Translates `keys` errors at the boundary: an unreachable key backend is `KeyServiceUnavailable`
(fail closed, 503); a data key that does not open is the same, because the vault cannot
serve the data and must not pretend otherwise.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from keys.errors import KeysError
from keys.service import DataKey, KeyService, WrappedDataKey
from vault.errors import KeyServiceUnavailable, NotFound, VaultDeleted
from vault.storage.orm import DataKeyRow, ResidentRow
from vault.storage.unit_of_work import SqlUnitOfWork


class VaultKeys:
    def __init__(self, keys: KeyService) -> None:
        self._keys = keys

    def create(self, uow: SqlUnitOfWork, resident_id: uuid.UUID, now: datetime) -> DataKey:
        """A first data key for a new resident, stored wrapped in this unit of work."""
        try:
            wrapped, key = self._keys.new_data_key(resident_id, 1)
        except KeysError as e:
            raise KeyServiceUnavailable("the key service cannot be used right now") from e
        uow.data_keys.add(
            DataKeyRow(
                resident_id=resident_id,
                version=wrapped.version,
                kek_version=wrapped.kek_version,
                wrapped=wrapped.wrapped,
                created_at=now,
            )
        )
        return key

    def active_resident(self, uow: SqlUnitOfWork, resident_id: uuid.UUID) -> ResidentRow:
        resident = uow.residents.get(resident_id)
        if resident is None:
            raise NotFound("no such resident")
        if resident.status != "active":
            raise VaultDeleted("this vault has been deleted")
        return resident

    def key(self, uow: SqlUnitOfWork, resident_id: uuid.UUID, version: int) -> DataKey:
        row = uow.data_keys.get(resident_id, version)
        if row is None:
            raise KeyServiceUnavailable("the data key of this vault is missing")
        try:
            return self._keys.data_key(
                WrappedDataKey(row.resident_id, row.version, row.kek_version, row.wrapped)
            )
        except KeysError as e:
            raise KeyServiceUnavailable("the data key of this vault cannot be opened") from e

    def cached(self, resident_id: uuid.UUID, version: int) -> DataKey | None:
        """A data key from the process cache, without touching the KEK backend; None on a miss."""
        return self._keys.cached(resident_id, version)

    def unwrap(self, wrapped: WrappedDataKey) -> DataKey:
        """A data key read by the caller (the async read path), unwrapped; may block (HSM)."""
        try:
            return self._keys.data_key(wrapped)
        except KeysError as e:
            raise KeyServiceUnavailable("the data key of this vault cannot be opened") from e

    def current(self, uow: SqlUnitOfWork, resident: ResidentRow) -> DataKey:
        return self.key(uow, resident.resident_id, resident.dek_version)

    def forget(self, resident_id: uuid.UUID) -> None:
        self._keys.forget(resident_id)
