"""Rate-limit buckets in the database, shared by every server process (api/ratelimit.py).

A check is ONE statement: an upsert that reads the bucket's stored "theoretical arrival
time" (`tat`, GCRA), decides and moves it on, under the row's lock, and returns the result.
No read-modify-write in Python, so concurrent checks of one bucket, from any process, queue
on that row and never grant more than the bucket holds. The maths, on integers (ns):

    later   = max(tat, now)                   # a bucket never fills beyond full
    granted = later - now <= tolerance        # tolerance = interval * (burst - 1)
    tat     = later + interval if granted else tat   # a refused request costs nothing

A missing row is a full bucket (`tat = now`): the INSERT branch grants and stores
`now + interval`. The same statement runs on PostgreSQL and SQLite (3.35 or later, for
RETURNING); only `GREATEST` is spelt `MAX` there.

On PostgreSQL the check runs in autocommit (the statement is its own transaction: one round
trip, no BEGIN/COMMIT) on the async writer pool the token endpoint uses; on SQLite it is a
short IMMEDIATE write transaction, as every write there. An unreachable database raises
`StorageUnavailable`, like every unit of work.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import BigInteger, Boolean, text

from vault.storage.async_uow import AsyncUnitOfWorkFactory
from vault.storage.unit_of_work import SqlUnitOfWork, UnitOfWorkFactory

__all__ = ["NS", "SqlRateBuckets", "nanoseconds", "take_in"]

NS = 1_000_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def nanoseconds(moment: datetime) -> int:
    """`moment` in whole nanoseconds since the epoch (exact: datetimes count microseconds):
    the same in every process, unlike a monotonic clock."""
    return (moment - _EPOCH) // _MICROSECOND * 1000


_TAKE_PG = text(
    "INSERT INTO rate_limit_buckets AS b (bucket, tat, granted)"
    " VALUES (:bucket, :now + :interval, true)"
    " ON CONFLICT (bucket) DO UPDATE SET"
    " tat = CASE WHEN GREATEST(b.tat, :now) - :now <= :tolerance"
    " THEN GREATEST(b.tat, :now) + :interval ELSE b.tat END,"
    " granted = (GREATEST(b.tat, :now) - :now <= :tolerance)"
    " RETURNING tat, granted"
).columns(tat=BigInteger, granted=Boolean)
# The same statement; SQLite's two-argument MAX is PostgreSQL's GREATEST.
_TAKE_SQLITE = text(
    "INSERT INTO rate_limit_buckets AS b (bucket, tat, granted)"
    " VALUES (:bucket, :now + :interval, true)"
    " ON CONFLICT (bucket) DO UPDATE SET"
    " tat = CASE WHEN MAX(b.tat, :now) - :now <= :tolerance"
    " THEN MAX(b.tat, :now) + :interval ELSE b.tat END,"
    " granted = (MAX(b.tat, :now) - :now <= :tolerance)"
    " RETURNING tat, granted"
).columns(tat=BigInteger, granted=Boolean)
_TAKE = {"postgresql": _TAKE_PG, "sqlite": _TAKE_SQLITE}

# `tat <= :now` twice: on PostgreSQL a row that a concurrent check moved into the future
# after the subquery chose it is re-checked by the outer condition, and kept.
_SWEEP = text(
    "DELETE FROM rate_limit_buckets WHERE tat <= :now AND bucket IN"
    " (SELECT bucket FROM rate_limit_buckets WHERE tat <= :now LIMIT :batch)"
)


def take_in(
    uow: SqlUnitOfWork, bucket: bytes, *, now: int, interval: int, tolerance: int
) -> tuple[bool, int]:
    """The same GCRA step, in the caller's transaction (`bucket`: the row key, already a
    keyed hash): what a service step counts with when the count must commit, or roll back,
    with what the step writes (vault/representation/throttle.py). The row stays locked
    until the caller's transaction ends; keep it short."""
    params = {"bucket": bucket, "now": now, "interval": interval, "tolerance": tolerance}
    row = uow.session.execute(_TAKE[uow.dialect], params).one()
    return bool(row.granted), int(row.tat)


class SqlRateBuckets:
    """The `BucketStore` of api/ratelimit.py on the `rate_limit_buckets` table.

    `name` turns a bucket's name (rule and key) into its 32-byte row key: a keyed hash
    (keys.secrets.KeyedHasher), so that no client address is stored.
    """

    def __init__(
        self,
        *,
        async_uow: AsyncUnitOfWorkFactory,
        uow: UnitOfWorkFactory,
        name: Callable[[str], bytes],
    ) -> None:
        self._async_uow = async_uow
        self._uow = uow
        self._name = name

    async def take(
        self, bucket: str, *, now: int, interval: int, tolerance: int
    ) -> tuple[bool, int]:
        """Let one request through `bucket` at `now` if it fits (see the module docstring),
        atomically; (whether it was let through, the bucket's `tat` after)."""
        params = {
            "bucket": self._name(bucket),
            "now": now,
            "interval": interval,
            "tolerance": tolerance,
        }
        async with self._async_uow(autocommit=True) as uow:
            row = (await uow.execute(_TAKE[uow.dialect], params)).one()
            await uow.commit()
        return bool(row.granted), int(row.tat)

    def sweep(self, *, now: int, batch: int) -> int:
        """Delete up to `batch` full buckets (their `tat` has passed: the same as no row);
        how many were deleted."""
        with self._uow() as uow:
            done = uow.session.connection().execute(_SWEEP, {"now": now, "batch": batch})
            uow.commit()
        return int(done.rowcount)
