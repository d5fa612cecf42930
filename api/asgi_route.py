"""`AsgiRoute`: a documented API route served by a plain ASGI function, below FastAPI's
request handler.

FastAPI builds every route's handler from its endpoint's signature: it makes a `Request`,
solves the dependencies, validates the parameters, calls the endpoint, validates the answer
again against the response model and renders it. For the data API's hot read that machinery
is a large share of a request's CPU (docs/performance.md, "The grant API against its bars").
An `AsgiRoute` keeps everything FastAPI derives from the endpoint's signature (the OpenAPI
operation, the route's path, methods and name, the template in the access line and metrics)
and replaces only the handler: `serve`, an ASGI function that parses what the route needs
itself and sends bytes it made once.

Everything around the route stays as for any other: the middleware (trace, rate limits,
security headers, body limits, the last-resort 500) and the app's exception handlers, which
turn what `serve` raises (`OAuthError`, `VaultError`, `RequestValidationError`) into the same
answers as before. The route must be added to the application's own router, not through
`include_router` (which builds its own handler per inclusion).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.routing import APIRoute
from starlette.types import ASGIApp

__all__ = ["AsgiRoute", "json_response"]


class AsgiRoute(APIRoute):
    """An `APIRoute` for `endpoint` (which documents the operation) whose requests `serve`
    answers. `serve` gets the route's scope (with `path_params`) after the method check."""

    def __init__(
        self, path: str, endpoint: Callable[..., Any], *, serve: ASGIApp, **kwargs: Any
    ) -> None:
        super().__init__(path, endpoint, **kwargs)
        self.app = serve


async def json_response(send: Any, status: int, body: bytes) -> None:
    """Send `body` (JSON bytes) as a complete `application/json` response."""
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-length", str(len(body)).encode("ascii")),
                (b"content-type", b"application/json"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
