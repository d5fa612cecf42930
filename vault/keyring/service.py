"""KEK rotation and retirement, as `regie keys rotate` runs them.

Rotation makes a new KEK version current, then rewraps every data key still wrapped under
an older version, in batches, each batch in its own short transaction. It is resumable (run
it again and it carries on where it stopped: it only looks for keys not yet under the current
version) and safe while servers run: a data key is swapped only if its wrapping is still the
one that was read (compare-and-swap), and servers keep opening keys under both versions
until the old one is retired.

Retirement destroys an old KEK for good. It is refused while any data key still references
it, and for `grace_seconds` after it stopped being current, so a server that wrapped a new
resident's key just before the rotation has committed it before the check.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from keys.errors import KeyRetirementRefused
from keys.interfaces import KekInfo
from keys.service import KeyService, WrappedDataKey
from vault.ports import Clock
from vault.storage.unit_of_work import UnitOfWorkFactory

Progress = Callable[[int, int], None]  # (done, total)


@dataclass(frozen=True, slots=True)
class KeyStatus:
    backend: str
    current_version: int
    versions: list[KekInfo]
    data_keys_by_version: dict[int, int]


@dataclass(frozen=True, slots=True)
class RotationResult:
    new_version: int
    rewrapped: int
    skipped: int  # changed by someone else meanwhile; picked up by the next run


class KeyRotationService:
    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        keys: KeyService,
        clock: Clock,
        grace_seconds: float = 300,
        batch_size: int = 500,
    ) -> None:
        self._uow = uow
        self._keys = keys
        self._clock = clock
        self._grace = timedelta(seconds=grace_seconds)
        self._batch = batch_size

    def status(self) -> KeyStatus:
        current = self._keys.kek.current_version()
        with self._uow() as uow:
            counts = uow.data_keys.count_by_kek_version()
        return KeyStatus(self._keys.kek.name, current, self._keys.kek.versions(), counts)

    def rotate(
        self, *, new_version: bool = True, progress: Progress | None = None
    ) -> RotationResult:
        """Make a new KEK current (unless resuming) and rewrap every data key under it."""
        target = (
            self._keys.kek.create_version() if new_version else self._keys.kek.current_version()
        )
        result = self.rewrap(target, progress=progress)
        return RotationResult(target, result[0], result[1])

    def rewrap(self, target: int, *, progress: Progress | None = None) -> tuple[int, int]:
        with self._uow() as uow:
            counts = uow.data_keys.count_by_kek_version()
        total = sum(n for v, n in counts.items() if v != target)
        done = skipped = 0
        # Keys another writer changed under us stay "needing rewrap" in this run's queries;
        # remember them so the loop moves past them (the next --resume run picks them up).
        skip: set[tuple[object, int]] = set()
        while True:
            with self._uow() as uow:
                batch = [
                    row
                    for row in uow.data_keys.needing_rewrap(target, self._batch + len(skip))
                    if (row.resident_id, row.version) not in skip
                ][: self._batch]
                if not batch:
                    break
                for row in batch:
                    again = self._keys.rewrap(
                        WrappedDataKey(row.resident_id, row.version, row.kek_version, row.wrapped),
                        target,
                    )
                    swapped = uow.data_keys.replace_wrapping(
                        row.resident_id,
                        row.version,
                        old_kek_version=row.kek_version,
                        new_kek_version=target,
                        wrapped=again.wrapped,
                    )
                    if swapped:
                        done += 1
                    else:
                        skipped += 1
                        skip.add((row.resident_id, row.version))
                uow.commit()
            if progress:
                progress(done + skipped, total)
        return done, skipped

    def retire(self, version: int) -> None:
        """Destroy KEK `version`; refused while it still wraps a data key or is too fresh."""
        info = {v.version: v for v in self._keys.kek.versions()}.get(version)
        if info is None or info.state != "active":
            raise KeyRetirementRefused(f"KEK version {version} is not an active version")
        if info.superseded_at is None:
            raise KeyRetirementRefused("the current KEK cannot be retired; rotate first")
        if self._clock.now() - info.superseded_at < self._grace:
            raise KeyRetirementRefused(
                f"KEK version {version} was current until {info.superseded_at:%Y-%m-%d %H:%M:%S}"
                f" UTC; wait {self._grace.total_seconds():.0f} s after that before retiring it"
            )
        with self._uow() as uow:
            still = uow.data_keys.count_by_kek_version().get(version, 0)
        if still:
            raise KeyRetirementRefused(
                f"KEK version {version} still wraps {still} data keys;"
                " run `regie keys rotate --resume` first"
            )
        self._keys.kek.retire(version)

    def retire_unused(self) -> list[int]:
        """Retire every old version that may be retired now; returns their numbers."""
        return self.retire_old()[0]

    def retire_old(self) -> tuple[list[int], dict[int, str]]:
        """Try to retire every superseded version: (retired, {refused version: reason})."""
        retired: list[int] = []
        refused: dict[int, str] = {}
        for info in self._keys.kek.versions():
            if info.state == "active" and info.superseded_at is not None:
                try:
                    self.retire(info.version)
                except KeyRetirementRefused as e:
                    refused[info.version] = str(e)
                    continue
                retired.append(info.version)
        return retired, refused
