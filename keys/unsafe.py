"""A KEK backend that keeps keys in memory only: for unit tests and throwaway demos.

Its name says what it is. `api.settings` refuses it outside development mode, because a
restart loses every key and with it every record.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from keys import aead
from keys.errors import KeyRetirementRefused, UnknownKeyVersion
from keys.interfaces import KekInfo


class UnsafeMemoryKekBackend:
    name = "unsafe-memory"

    def __init__(self) -> None:
        self._keys: dict[int, bytes | None] = {}
        self._info: dict[int, KekInfo] = {}
        self._mutex = threading.Lock()

    def current_version(self) -> int:
        with self._mutex:
            live = [v for v, k in self._keys.items() if k is not None]
            if live:
                return max(live)
        return self.create_version()

    def _key(self, version: int) -> bytes:
        key = self._keys.get(version)
        if key is None:
            raise UnknownKeyVersion(version)
        return key

    def wrap(self, version: int, data_key: bytes, associated_data: bytes) -> bytes:
        return aead.seal(self._key(version), data_key, associated_data)

    def unwrap(self, version: int, wrapped: bytes, associated_data: bytes) -> bytes:
        return aead.open_sealed(self._key(version), wrapped, associated_data)

    def create_version(self) -> int:
        with self._mutex:
            now = datetime.now(UTC)
            version = max(self._keys, default=0) + 1
            for v, info in self._info.items():
                if info.superseded_at is None and self._keys[v] is not None:
                    self._info[v] = KekInfo(v, "active", info.created_at, now, None)
            self._keys[version] = aead.new_key()
            self._info[version] = KekInfo(version, "active", now, None, None)
            return version

    def retire(self, version: int) -> None:
        with self._mutex:
            live = [v for v, k in self._keys.items() if k is not None]
            if version not in live:
                raise UnknownKeyVersion(version)
            if version == max(live):
                raise KeyRetirementRefused("the current KEK cannot be retired; rotate first")
            self._keys[version] = None
            old = self._info[version]
            self._info[version] = KekInfo(
                version, "retired", old.created_at, old.superseded_at, datetime.now(UTC)
            )

    def versions(self) -> list[KekInfo]:
        return [self._info[v] for v in sorted(self._info)]

    def check(self) -> None:
        return None
