"""What the vault's services need from the outside world, as Protocols."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ReplayCache(Protocol):
    """Remembers one-time identifiers (client assertion and DPoP proof `jti`s) until they expire.

    Shared by every worker process (the SQL implementation is a table with a primary key), so a
    value seen by one worker is refused by all.
    """

    def first_use(self, namespace: str, value: str, expires_at: datetime) -> bool:
        """Record `value` in `namespace`; True the first time, False on every later call
        before `expires_at`."""
        ...
