"""The one small interface every key-encryption-key (KEK) backend implements.

A KEK never leaves its backend: callers hand in a data key to wrap and get bytes back.
Versions are positive integers; the highest active version is current. A retired version
has had its key material destroyed, which is what makes crypto-shredding reach backups.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

KekState = Literal["active", "retired"]


@dataclass(frozen=True, slots=True)
class KekInfo:
    """What may be said about a KEK version without touching its key material."""

    version: int
    state: KekState
    created_at: datetime
    # When this version stopped being the current one (None while it is current or never was).
    superseded_at: datetime | None
    retired_at: datetime | None


class KekBackend(Protocol):
    """Wraps and unwraps data keys under versioned key-encryption keys."""

    name: str

    def current_version(self) -> int:
        """The version new data keys are wrapped with; creates version 1 if there is none."""
        ...

    def wrap(self, version: int, data_key: bytes, associated_data: bytes) -> bytes:
        """Encrypt `data_key` under KEK `version`, bound to `associated_data`."""
        ...

    def unwrap(self, version: int, wrapped: bytes, associated_data: bytes) -> bytes:
        """Open a wrapped data key; raises `DecryptionError` or `UnknownKeyVersion`."""
        ...

    def create_version(self) -> int:
        """Make a new KEK version and make it current; returns its number."""
        ...

    def retire(self, version: int) -> None:
        """Destroy the key material of `version` (never the current one)."""
        ...

    def versions(self) -> list[KekInfo]:
        """Every version this backend knows, oldest first."""
        ...

    def check(self) -> None:
        """Raise `KeyBackendUnavailable` if the backend cannot be used right now."""
        ...
