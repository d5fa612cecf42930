"""Rotation never overwrites a data key that another writer changed meanwhile."""

from __future__ import annotations

import uuid

from api.container import Container
from keys.service import KeyService, WrappedDataKey
from support.residents import make_resident
from vault.keyring.service import KeyRotationService


class InterferingKeys(KeyService):
    """Rewraps as usual, but first lets 'another process' rewrap the same key itself."""

    def __init__(self, inner: KeyService, container: Container, victim: uuid.UUID) -> None:
        super().__init__(kek=inner.kek)
        self._container = container
        self._victim = victim

    def rewrap(self, wrapped: WrappedDataKey, kek_version: int) -> WrappedDataKey:
        if wrapped.resident_id == self._victim:
            other = super().rewrap(wrapped, kek_version)
            with self._container.uow() as uow:
                assert uow.data_keys.replace_wrapping(
                    wrapped.resident_id,
                    wrapped.version,
                    old_kek_version=wrapped.kek_version,
                    new_kek_version=kek_version,
                    wrapped=other.wrapped,
                )
                uow.commit()
        return super().rewrap(wrapped, kek_version)


def test_a_key_changed_meanwhile_is_skipped_not_overwritten(container: Container) -> None:
    residents = []
    for _ in range(3):
        rid = make_resident(container)
        residents.append(rid)
    victim = residents[1]
    with container.uow() as uow:
        row = uow.data_keys.get(victim, 1)
        assert row is not None
    rotation = KeyRotationService(
        uow=container.uow,
        keys=InterferingKeys(container.keys, container, victim),
        signing=container.signing,
        clock=container.clock,
    )
    result = rotation.rotate(operator="test-operator")
    assert (result.rewrapped, result.skipped) == (2, 1)
    with container.uow() as uow:
        after = uow.data_keys.get(victim, 1)
        assert after is not None
        # The other writer's wrapping stands, and it opens.
        assert after.kek_version == 2
        opened = KeyService(kek=container.keys.kek).data_key(
            WrappedDataKey(after.resident_id, after.version, after.kek_version, after.wrapped)
        )
        assert opened.resident_id == victim
    assert rotation.status().data_keys_by_version == {2: 3}
