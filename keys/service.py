"""Per-resident data keys (DEKs): made here, wrapped by a KEK backend, cached briefly.

Every resident has one or more data keys, numbered from 1. Records are sealed with a
`DataKey` and a `Binding` that names the table, column, row and resident the ciphertext
belongs to; the data key adds its own resident and version. A ciphertext copied to another
row, column, table or resident therefore fails to open, and so does one sealed under an
older data key version.

Unwrapped data keys are cached per process for a short TTL so an HSM stays off the hot path.
The cache holds at most `cache_size` keys and is dropped for a resident whose vault is shredded.
"""

from __future__ import annotations

import functools
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from keys import aead
from keys.errors import DecryptionError
from keys.interfaces import KekBackend

WRAP_CONTEXT = "regie/dek-wrap/v1"
SEAL_CONTEXT = "regie/record/v1"


@dataclass(frozen=True, slots=True)
class Binding:
    """Where a ciphertext lives. Sealing and opening must name the same place."""

    table: str
    column: str
    row: str


@dataclass(frozen=True, slots=True)
class WrappedDataKey:
    """A data key as it is stored: only openable by the KEK backend."""

    resident_id: UUID
    version: int
    kek_version: int
    wrapped: bytes


class DataKey:
    """An unwrapped data key of one resident. Seals and opens with mandatory binding."""

    __slots__ = ("_key", "_owner", "resident_id", "version")

    def __init__(self, resident_id: UUID, version: int, key: bytes) -> None:
        self.resident_id = resident_id
        self.version = version
        self._key = key
        # The associated data's last parts, the same for every binding of this key.
        self._owner = aead.encode_associated_data(str(resident_id), version)

    def _associated_data(self, binding: Binding) -> bytes:
        """`aead.encode_associated_data(SEAL_CONTEXT, table, column, row, resident, version)`,
        from its pieces: the encoding is the concatenation of its parts' encodings."""
        return (
            _place(binding.table, binding.column)
            + aead.encode_associated_data(binding.row)
            + self._owner
        )

    def seal(self, plaintext: bytes, binding: Binding) -> bytes:
        return aead.seal(self._key, plaintext, self._associated_data(binding))

    def open(self, sealed: bytes, binding: Binding) -> bytes:
        return aead.open_sealed(self._key, sealed, self._associated_data(binding))

    def __repr__(self) -> str:  # never show the key
        return f"DataKey(resident_id={self.resident_id}, version={self.version})"


@functools.lru_cache(maxsize=64)  # a handful of (table, column) pairs
def _place(table: str, column: str) -> bytes:
    return aead.encode_associated_data(SEAL_CONTEXT, table, column)


def _wrap_associated_data(resident_id: UUID, version: int, kek_version: int) -> bytes:
    return aead.encode_associated_data(WRAP_CONTEXT, str(resident_id), version, kek_version)


class KeyService:
    """Makes, unwraps, caches and rewraps data keys. The vault's only door to key material."""

    def __init__(
        self,
        *,
        kek: KekBackend,
        cache_ttl_seconds: float = 60.0,
        cache_size: int = 10_000,
        monotonic: Callable[[], float] = time.monotonic,
        on_cache_lookup: Callable[[bool], None] | None = None,
    ) -> None:
        self.kek = kek
        # Told of every cache lookup (True: a hit), for the operator's metrics.
        self._on_lookup = on_cache_lookup
        self._ttl = cache_ttl_seconds
        self._size = cache_size
        self._now = monotonic
        self._cache: OrderedDict[tuple[UUID, int], tuple[float, DataKey]] = OrderedDict()
        self._mutex = threading.Lock()
        self.cache_hits = 0
        self.cache_misses = 0

    def new_data_key(self, resident_id: UUID, version: int = 1) -> tuple[WrappedDataKey, DataKey]:
        """A fresh data key for `resident_id`, wrapped under the current KEK."""
        raw = aead.new_key()
        kek_version = self.kek.current_version()
        wrapped = self.kek.wrap(
            kek_version, raw, _wrap_associated_data(resident_id, version, kek_version)
        )
        key = DataKey(resident_id, version, raw)
        self._remember(key)
        return WrappedDataKey(resident_id, version, kek_version, wrapped), key

    def cached(self, resident_id: UUID, version: int) -> DataKey | None:
        """The unwrapped key from the cache when fresh, else None: never calls the KEK backend
        (an HSM call blocks), so an event loop may call this and unwrap elsewhere on a miss."""
        slot = (resident_id, version)
        now = self._now()
        with self._mutex:
            hit = self._cache.get(slot)
            fresh = hit is not None and hit[0] > now
            if fresh:
                self._cache.move_to_end(slot)
                self.cache_hits += 1
            else:
                self.cache_misses += 1
        if self._on_lookup is not None:
            self._on_lookup(fresh)
        return hit[1] if fresh and hit is not None else None

    def data_key(self, wrapped: WrappedDataKey) -> DataKey:
        """The unwrapped key, from the cache when fresh."""
        hit = self.cached(wrapped.resident_id, wrapped.version)
        if hit is not None:
            return hit
        raw = self.kek.unwrap(
            wrapped.kek_version,
            wrapped.wrapped,
            _wrap_associated_data(wrapped.resident_id, wrapped.version, wrapped.kek_version),
        )
        key = DataKey(wrapped.resident_id, wrapped.version, raw)
        self._remember(key)
        return key

    def rewrap(self, wrapped: WrappedDataKey, kek_version: int) -> WrappedDataKey:
        """The same data key wrapped under `kek_version` (for KEK rotation)."""
        if wrapped.kek_version == kek_version:
            return wrapped
        raw = self.kek.unwrap(
            wrapped.kek_version,
            wrapped.wrapped,
            _wrap_associated_data(wrapped.resident_id, wrapped.version, wrapped.kek_version),
        )
        again = self.kek.wrap(
            kek_version,
            raw,
            _wrap_associated_data(wrapped.resident_id, wrapped.version, kek_version),
        )
        # Prove the new wrapping opens before anyone replaces the old one with it.
        check = self.kek.unwrap(
            kek_version,
            again,
            _wrap_associated_data(wrapped.resident_id, wrapped.version, kek_version),
        )
        if check != raw:
            raise DecryptionError
        return WrappedDataKey(wrapped.resident_id, wrapped.version, kek_version, again)

    def forget(self, resident_id: UUID) -> None:
        """Drop every cached key of a resident (their vault is being shredded)."""
        with self._mutex:
            for slot in [s for s in self._cache if s[0] == resident_id]:
                del self._cache[slot]

    def _remember(self, key: DataKey) -> None:
        with self._mutex:
            self._cache[(key.resident_id, key.version)] = (self._now() + self._ttl, key)
            self._cache.move_to_end((key.resident_id, key.version))
            while len(self._cache) > self._size:
                self._cache.popitem(last=False)
