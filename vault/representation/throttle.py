"""A bound on refused representation attempts: how many of one representative's refusals
may be written into one principal's log.

Every refused attempt under `Regie-Act-For` is an event in the principal's verifiable,
append-only log (`mandate.refused`, invariant I2). Unbounded, that lets a former
representative (an ended mandate still names its principal) append events to someone
else's log for ever. So refusals are counted per (representative, principal) in the shared
rate-limit buckets (the `rate_limit_buckets` table of api/ratelimit.py, so every server
process counts against the same bucket), with the same GCRA step, in the refusal's own
transaction (`vault.storage.rate_buckets.take_in`): the count commits with the event, or
not at all.

- Within the limit (`per_hour` at once, then `per_hour` an hour), a refusal is logged and
  answered as before (403 with its reason).
- Beyond it, the attempt is answered `RateLimited` (429, `Retry-After`: until a refusal
  would be logged again) before anything is written; only the first such attempt in an
  hour (a second bucket: one an hour) logs one `mandate.throttled`, so the principal sees
  that it happened. At most `2 * per_hour` refusals and one `mandate.throttled` reach a
  principal's log from one representative in any hour, however many attempts there are.

Only refusals count. A step the mandate allows never touches these buckets (a representative
is never kept from what the mandate covers), nor does anything the principal does in their
own vault. Per principal, not per mandate: two ended mandates of one principal do not double
the budget. If the buckets cannot be reached the request fails with the database's outage
(503) and nothing is logged or served: fail closed, like every limited door.
"""

from __future__ import annotations

import math
import uuid
from datetime import datetime

from keys.secrets import KeyedHasher
from vault.storage.rate_buckets import NS, nanoseconds, take_in
from vault.storage.unit_of_work import SqlUnitOfWork

HOUR = 3600 * NS
# The row keys are keyed hashes of these names (as api/ratelimit.py's are of its rules'),
# so the table holds no resident id.
_REFUSED = "mandate-refused"
_NOTICE = "mandate-throttled"


class RefusalThrottle:
    """Counts one representative's refused attempts in one principal's vault."""

    def __init__(self, *, hasher: KeyedHasher, per_hour: int) -> None:
        if per_hour < 1:
            # Without this, a limit of 0 would refuse (and never log) every refusal.
            raise ValueError("at least one refusal an hour must be logged")
        self._hasher = hasher
        self.per_hour = per_hour

    def wait(
        self,
        uow: SqlUnitOfWork,
        *,
        representative_id: uuid.UUID,
        principal_id: uuid.UUID,
        now: datetime,
    ) -> int | None:
        """Count one refusal: None if it may be logged (within the limit), else the whole
        seconds until one may be again (a refusal beyond the limit counts nothing)."""
        interval = HOUR // self.per_hour
        tolerance = interval * (self.per_hour - 1)
        at = nanoseconds(now)
        granted, tat = take_in(
            uow,
            self._bucket(_REFUSED, representative_id, principal_id),
            now=at,
            interval=interval,
            tolerance=tolerance,
        )
        if granted:
            return None
        return max(1, math.ceil((tat - at - tolerance) / NS))

    def first_in_hour(
        self,
        uow: SqlUnitOfWork,
        *,
        representative_id: uuid.UUID,
        principal_id: uuid.UUID,
        now: datetime,
    ) -> bool:
        """Whether this throttled attempt is the first in an hour (then it is logged)."""
        granted, _ = take_in(
            uow,
            self._bucket(_NOTICE, representative_id, principal_id),
            now=nanoseconds(now),
            interval=HOUR,
            tolerance=0,
        )
        return granted

    def _bucket(self, rule: str, representative_id: uuid.UUID, principal_id: uuid.UUID) -> bytes:
        name = f"{rule}\x00{representative_id}\x00{principal_id}"
        return self._hasher.digest("rate-limit-bucket", name.encode())
