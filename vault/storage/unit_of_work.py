"""The unit of work: one database transaction, the repositories that share it."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session

from vault.errors import StorageUnavailable
from vault.storage.repositories import (
    SqlAccessEventRepository,
    SqlAuthRepository,
    SqlBlobRepository,
    SqlDataKeyRepository,
    SqlGrantRepository,
    SqlMandateRepository,
    SqlRecordRepository,
    SqlResidentRepository,
    SqlServiceRepository,
    SqlTokenRepository,
)

SessionFactory = Callable[[], Session]
_UNAVAILABLE = (OperationalError, InterfaceError, PoolTimeout)


def unreachable(e: BaseException) -> bool:
    """Whether `e` means the database cannot be used right now (down, restarting, a dead
    connection, an exhausted pool): answered with 503, never 500."""
    if isinstance(e, _UNAVAILABLE):
        return True
    return isinstance(e, DBAPIError) and bool(e.connection_invalidated)


class SqlUnitOfWork:
    """Use as a context manager; nothing is written unless `commit` is called."""

    residents: SqlResidentRepository
    data_keys: SqlDataKeyRepository
    records: SqlRecordRepository
    blobs: SqlBlobRepository
    auth: SqlAuthRepository
    services: SqlServiceRepository
    grants: SqlGrantRepository
    tokens: SqlTokenRepository
    access_events: SqlAccessEventRepository
    mandates: SqlMandateRepository

    def __init__(self, session_factory: SessionFactory) -> None:
        self._factory = session_factory

    def __enter__(self) -> SqlUnitOfWork:
        self.session = self._factory()
        self.residents = SqlResidentRepository(self.session)
        self.data_keys = SqlDataKeyRepository(self.session)
        self.records = SqlRecordRepository(self.session)
        self.blobs = SqlBlobRepository(self.session)
        self.auth = SqlAuthRepository(self.session)
        self.services = SqlServiceRepository(self.session)
        self.grants = SqlGrantRepository(self.session)
        self.tokens = SqlTokenRepository(self.session)
        self.access_events = SqlAccessEventRepository(self.session)
        self.mandates = SqlMandateRepository(self.session)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.session.rollback()
        except Exception as e:
            # Without a pre-ping, a connection that died is found here too: rolling back on it
            # fails. That is the same outage as the statement's error, not a second fault.
            if not unreachable(e) and (exc is None or not unreachable(exc)):
                raise
            if exc is None or not unreachable(exc):
                raise StorageUnavailable("the database cannot be reached") from e
        finally:
            self.session.close()
        if exc is not None and unreachable(exc):
            raise StorageUnavailable("the database cannot be reached") from exc

    @property
    def dialect(self) -> str:
        """The database's dialect name: "postgresql" or "sqlite"."""
        return self.session.get_bind().dialect.name

    def flush(self) -> None:
        self.session.flush()

    def commit(self) -> None:
        self.session.commit()


UnitOfWorkFactory = Callable[[], SqlUnitOfWork]
