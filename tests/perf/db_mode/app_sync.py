"""Sync variant: create_engine (psycopg 3), `def` endpoints (threadpool), Session per request."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bench_common import DSN, MAX_OVERFLOW, POOL_SIZE, Event, ResidentId, Row, aead, decrypt
from fastapi import FastAPI, HTTPException
from sqlalchemy import create_engine, select
from sqlalchemy.orm import sessionmaker

engine = create_engine(DSN, pool_size=POOL_SIZE, max_overflow=MAX_OVERFLOW)
SessionLocal = sessionmaker(engine, expire_on_commit=False)
cipher = aead()


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    yield
    engine.dispose()


app = FastAPI(lifespan=lifespan)


@app.get("/rows/{row_id}")
def get_row(row_id: uuid.UUID, x_resident_id: ResidentId) -> dict[str, object]:
    with SessionLocal() as s:
        row = s.scalars(
            select(Row).where(Row.id == row_id, Row.resident_id == x_resident_id)
        ).one_or_none()
        if row is None:
            raise HTTPException(404)
        payload = row.payload
    plain = decrypt(cipher, row_id, payload)
    return {"id": str(row_id), "length": len(plain)}


@app.post("/rows/{row_id}/touch")
def touch_row(row_id: uuid.UUID, x_resident_id: ResidentId) -> dict[str, object]:
    with SessionLocal() as s, s.begin():
        row = s.scalars(
            select(Row).where(Row.id == row_id, Row.resident_id == x_resident_id)
        ).one_or_none()
        if row is None:
            raise HTTPException(404)
        ev = Event(row_id=row.id, resident_id=row.resident_id, action="read")
        s.add(ev)
        s.flush()  # INSERT ... RETURNING id
        event_id = ev.id
    # leaving s.begin() commits
    return {"id": str(row_id), "event": event_id}
