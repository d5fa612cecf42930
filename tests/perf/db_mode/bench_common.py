"""Shared by app_sync.py and app_async.py: DSN, schema, ORM mappings, AES-GCM key.

The tables themselves are created with plain SQL by run.py (setup_db); the mappings here
only describe them. The key comes from BENCH_KEY_HEX (set by run.py for the servers).
"""

from __future__ import annotations

import os
import uuid
from datetime import datetime
from typing import Annotated

from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: TID251 - benchmark only
from fastapi import Header
from sqlalchemy import BigInteger, DateTime, LargeBinary, MetaData, String, Uuid
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

SCHEMA = "bench_db_mode"
DSN = os.environ.get("REGIE_BENCH_DSN", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
POOL_SIZE = 20
# Default max_overflow=10 would open and close overflow connections all the time under c=32
# (a PostgreSQL fork + auth per request beyond 20); a fixed pool is what production would use.
MAX_OVERFLOW = int(os.environ.get("BENCH_MAX_OVERFLOW", "0"))
NONCE_LEN = 12
# Stands in for the resident taken from the access token in the real API.
ResidentId = Annotated[uuid.UUID, Header(alias="X-Resident-Id")]


class Base(DeclarativeBase):
    metadata = MetaData(schema=SCHEMA)


class Row(Base):
    __tablename__ = "rows"
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    resident_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    payload: Mapped[bytes] = mapped_column(LargeBinary)  # nonce (12) || AES-256-GCM ciphertext+tag


class Event(Base):
    __tablename__ = "events"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # GENERATED ALWAYS AS IDENTITY
    row_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    resident_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    action: Mapped[str] = mapped_column(String)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default="now()")


def aead() -> AESGCM:
    return AESGCM(bytes.fromhex(os.environ["BENCH_KEY_HEX"]))


def decrypt(cipher: AESGCM, row_id: uuid.UUID, payload: bytes) -> bytes:
    """AAD = row id, so a payload copied to another row does not decrypt."""
    return cipher.decrypt(payload[:NONCE_LEN], payload[NONCE_LEN:], row_id.bytes)
