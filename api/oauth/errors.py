"""OAuth endpoints answer errors in RFC 6749 §5.2 form, not problem+json."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse

STATUS = {
    "invalid_client": 401,
    "access_denied": 403,
    "invalid_token": 401,  # nosec B105 - an RFC 6750 error code, not a secret
}


class OAuthError(Exception):
    def __init__(
        self,
        error: str,
        description: str,
        *,
        status: int | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status or STATUS.get(error, 400)
        self.retry_after = retry_after


async def oauth_error_response(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, OAuthError):  # registered for OAuthError only
        raise TypeError(type(exc).__name__)
    headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}
    if exc.status == 401:
        headers["WWW-Authenticate"] = f'DPoP error="{exc.error}"'
    if exc.retry_after is not None:
        headers["Retry-After"] = str(exc.retry_after)
    if exc.error == "use_dpop_nonce":  # RFC 9449 §8: the nonce to use comes with the refusal
        nonces = request.app.state.container.dpop.nonces
        if nonces is not None:
            headers["DPoP-Nonce"] = nonces.issue()
    return JSONResponse(
        {"error": exc.error, "error_description": exc.description},
        status_code=exc.status,
        headers=headers,
    )
