"""KEKs kept in the local keyring file: the embedded default backend."""

from __future__ import annotations

import threading
from datetime import datetime

from keys import aead
from keys.errors import DecryptionError, KeyRetirementRefused, UnknownKeyVersion
from keys.interfaces import KekInfo
from keys.keyring import Document, KeyringFile, b64d, b64e, utcnow_iso


def _parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


class LocalKekBackend:
    """AES-256-GCM key wrapping with KEKs stored in the keyring file."""

    name = "local"

    def __init__(self, keyring: KeyringFile) -> None:
        self._keyring = keyring
        self._mutex = threading.Lock()

    def _entries(self) -> list[dict[str, object]]:
        entries: list[dict[str, object]] = self._keyring.document()["kek"]
        return entries

    def _key(self, version: int) -> bytes:
        # Look at the file on every use (a stat; it is re-read only when it changed): a keyring
        # that became readable by others, or vanished, stops unwrapping at once (fail closed),
        # and a version another process created is found. Data keys are cached above this, so
        # this runs once per resident per cache lifetime, not per request.
        self._keyring.refresh()
        for entry in self._entries():
            if entry["version"] == version and entry["state"] == "active":
                return b64d(str(entry["key"]))
        raise UnknownKeyVersion(version)

    def current_version(self) -> int:
        self._keyring.refresh()
        active = [int(str(e["version"])) for e in self._entries() if e["state"] == "active"]
        if active:
            return max(active)
        with self._mutex:
            return self._create(only_if_none=True)

    def wrap(self, version: int, data_key: bytes, associated_data: bytes) -> bytes:
        return aead.seal(self._key(version), data_key, associated_data)

    def unwrap(self, version: int, wrapped: bytes, associated_data: bytes) -> bytes:
        key = self._key(version)
        try:
            return aead.open_sealed(key, wrapped, associated_data)
        except DecryptionError:
            raise
        except ValueError as e:
            raise DecryptionError from e

    def create_version(self) -> int:
        return self._create(only_if_none=False)

    def _create(self, *, only_if_none: bool) -> int:
        created: list[int] = []

        def change(doc: Document) -> None:
            now = utcnow_iso()
            entries = doc["kek"]
            active = [e["version"] for e in entries if e["state"] == "active"]
            if only_if_none and active:  # another process made the first one meanwhile
                created.append(max(active))
                return
            version = max((e["version"] for e in entries), default=0) + 1
            for e in entries:
                if e["state"] == "active" and e.get("superseded_at") is None:
                    e["superseded_at"] = now
            entries.append(
                {
                    "version": version,
                    "key": b64e(aead.new_key()),
                    "state": "active",
                    "created_at": now,
                    "superseded_at": None,
                    "retired_at": None,
                }
            )
            created.append(version)

        self._keyring.update(change)
        return created[0]

    def retire(self, version: int) -> None:
        def change(doc: Document) -> None:
            entries = doc["kek"]
            active = [e["version"] for e in entries if e["state"] == "active"]
            if version not in active:
                raise UnknownKeyVersion(version)
            if version == max(active):
                raise KeyRetirementRefused("the current KEK cannot be retired; rotate first")
            for e in entries:
                if e["version"] == version:
                    e["key"] = None  # the key material is gone for good
                    e["state"] = "retired"
                    e["retired_at"] = utcnow_iso()

        self._keyring.update(change)

    def versions(self) -> list[KekInfo]:
        self._keyring.refresh()
        return [
            KekInfo(
                version=int(str(e["version"])),
                state="active" if e["state"] == "active" else "retired",
                created_at=datetime.fromisoformat(str(e["created_at"])),
                superseded_at=_parse_time(e.get("superseded_at")),  # type: ignore[arg-type]
                retired_at=_parse_time(e.get("retired_at")),  # type: ignore[arg-type]
            )
            for e in sorted(self._entries(), key=lambda e: int(str(e["version"])))
        ]

    def check(self) -> None:
        self._keyring.refresh()
