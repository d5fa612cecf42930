"""`GET /metrics`: Prometheus text format for operators (api/metrics.py says what is in it)."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.deps import ContainerDep
from api.metrics import CONTENT_TYPE
from vault import errors as ve
from vault.monitoring import backlog

router = APIRouter(tags=["health"])


def _bearer(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


@router.get(
    "/metrics",
    summary="Prometheus metrics (only when REGIE_METRICS_TOKEN is set; send it as a bearer token)",
    include_in_schema=False,
)
def metrics(request: Request, c: ContainerDep) -> Response:
    expected = c.settings.metrics_token
    if expected is None:
        # Off: answer as for any unknown path, so a scan learns nothing.
        raise ve.NotFound("no such resource")
    given = _bearer(request)
    if given is None or not hmac.compare_digest(
        given.encode("utf-8"), expected.get_secret_value().encode("utf-8")
    ):
        raise ve.AuthenticationFailed("send the metrics token as a bearer token")
    body = c.metrics.exposition(backlog(c.uow, c.clock.now()))
    return Response(body, media_type=CONTENT_TYPE)
