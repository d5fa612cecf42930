"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from api.deps import ContainerDep
from keys.errors import KeysError

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is alive")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="The database and the key backend can be reached")
def readyz(c: ContainerDep) -> JSONResponse:
    checks: dict[str, str] = {}
    try:
        with c.uow() as uow:
            uow.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as e:  # noqa: BLE001 - any failure means "not ready"; the kind is reported
        checks["database"] = f"unavailable ({type(e).__name__})"
    try:
        c.keys.kek.check()
        c.keyring.refresh()
        checks["keys"] = "ok"
    except (KeysError, OSError) as e:
        checks["keys"] = f"unavailable ({type(e).__name__})"
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "unavailable", "checks": checks},
        status_code=200 if ready else 503,
    )
