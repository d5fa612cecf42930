"""The unit of work: one database transaction, the repositories that share it."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType

from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session

from vault.errors import StorageUnavailable
from vault.storage.repositories import (
    SqlAccessEventRepository,
    SqlAuthRepository,
    SqlBlobRepository,
    SqlDataKeyRepository,
    SqlGrantRepository,
    SqlRecordRepository,
    SqlResidentRepository,
    SqlServiceRepository,
    SqlTokenRepository,
)

SessionFactory = Callable[[], Session]


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
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.session.rollback()
        finally:
            self.session.close()
        if isinstance(exc, OperationalError | InterfaceError):
            raise StorageUnavailable("the database cannot be reached") from exc

    def flush(self) -> None:
        self.session.flush()

    def commit(self) -> None:
        self.session.commit()


UnitOfWorkFactory = Callable[[], SqlUnitOfWork]
