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

Token signing keys (`keys.signing`) are rotated and destroyed here too, for the operator.

Every change is the operator's event in the verifiable log (invariant I2). The keys live in
the keyring file or the HSM, not in the database, so no transaction holds both: the event is
committed first, and the change is made only once it is. So no key changes without its entry;
a change that fails after its entry (a full disk, an HSM gone) leaves an entry for an attempt
that did not finish, which `regie keys status` then shows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from keys.errors import KeyRetirementRefused
from keys.interfaces import KekInfo
from keys.service import KeyService, WrappedDataKey
from keys.signing import SigningKeyring
from vault.audit.events import operator_event, record
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
        signing: SigningKeyring,
        clock: Clock,
        grace_seconds: float = 300,
        batch_size: int = 500,
    ) -> None:
        self._uow = uow
        self._keys = keys
        self._signing = signing
        self._clock = clock
        self._grace = timedelta(seconds=grace_seconds)
        self._batch = batch_size

    def status(self) -> KeyStatus:
        current = self._keys.kek.current_version()
        with self._uow() as uow:
            counts = uow.data_keys.count_by_kek_version()
        return KeyStatus(self._keys.kek.name, current, self._keys.kek.versions(), counts)

    def _log(self, name: str, operator: str, reason: str) -> None:
        """Commit the operator's event for a change about to be made outside the database;
        raises (and the caller changes nothing) if it cannot be written."""
        with self._uow() as uow:
            record(uow, operator_event(name, operator, reason=reason), self._clock.now())
            uow.commit()

    def rotate(
        self, *, operator: str, new_version: bool = True, progress: Progress | None = None
    ) -> RotationResult:
        """Make a new KEK current (unless resuming) and rewrap every data key under it.
        Logged as `key.rotated` (reason `kek`), or `key.rewrapped` when resuming."""
        if new_version:
            self._log("key.rotated", operator, "kek")
            target = self._keys.kek.create_version()
        else:
            target = self._keys.kek.current_version()
            self._log("key.rewrapped", operator, f"kek-version={target}")
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

    def retire(self, version: int, *, operator: str) -> None:
        """Destroy KEK `version`; refused while it still wraps a data key or is too fresh.
        Logged as `key.retired` (reason `kek-version=N`) once every check has passed."""
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
        self._log("key.retired", operator, f"kek-version={version}")
        self._keys.kek.retire(version)

    def retire_unused(self, *, operator: str) -> list[int]:
        """Retire every old version that may be retired now; returns their numbers."""
        return self.retire_old(operator=operator)[0]

    def retire_old(self, *, operator: str) -> tuple[list[int], dict[int, str]]:
        """Try to retire every superseded version: (retired, {refused version: reason})."""
        retired: list[int] = []
        refused: dict[int, str] = {}
        for info in self._keys.kek.versions():
            if info.state == "active" and info.superseded_at is not None:
                try:
                    self.retire(info.version, operator=operator)
                except KeyRetirementRefused as e:
                    refused[info.version] = str(e)
                    continue
                retired.append(info.version)
        return retired, refused

    def rotate_signing(self, *, operator: str) -> tuple[list[str], list[str]]:
        """Destroy the signing keys past their publication window (logged as `key.retired`,
        reason `signing`, if there are any), then make new signing keys, the old ones staying
        published (`key.rotated`, reason `signing`). Returns (new kids, destroyed kids)."""
        destroyed: list[str] = []
        if self._signing.prunable():
            self._log("key.retired", operator, "signing")
            destroyed = self._signing.prune()
        self._log("key.rotated", operator, "signing")
        return self._signing.rotate(), destroyed
