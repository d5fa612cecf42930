"""The SDK's errors: one tree, built from the vault's RFC 9457 problems and RFC 6749 bodies.

    RegieError                  anything the SDK raises on purpose
    ├── TransportError          the vault could not be reached, or the connection broke
    ├── ProtocolError           the vault answered something the SDK cannot read
    ├── ServerError             5xx: the vault failed; nothing to fix on your side
    │   └── Unavailable         503: a dependency is down, nothing was changed; retry later
    ├── AuthError               401: not signed in, bad client credentials, bad token or DPoP
    │   └── ReauthenticationRequired  403: this action needs a fresh passkey sign-in
    ├── AccessDenied            403: no live grant covers this (`reason` says which condition)
    │   ├── GrantEnded          ... because the grant has ended: revoked, closed, expired
    │   └── RequestExpired      a pending request lapsed before the resident answered
    ├── NotFound                404: no such thing for you (never "exists, but not yours")
    │   └── VaultDeleted        410: this vault has been deleted
    ├── InvalidRequest          400/405/413/415/422: the request is not acceptable (`errors`)
    │   └── Conflict            409: it changed underneath; read it and try again
    ├── TooManyRequests         429: over a rate limit; wait `retry_after` seconds
    ├── AuthorizationPending    the resident has not answered yet (CIBA poll)
    │   └── SlowDown            ... and you polled too fast: wait longer
    ├── SignatureInvalid        a record's issuer signature does not verify (or says otherwise)
    ├── LogInvalid              a checkpoint, proof or export of the log does not verify
    └── SetRejected             a Security Event Token is not acceptable (`err`: RFC 8935 code)

Every error carries the HTTP `status`, a stable `code` (the problem type's slug, the
OAuth `error`, or the RFC 8935/8936 `err`), the human `detail` and the whole decoded `body`.
The last three are raised by the SDK itself, about what it was given to check: they have no
HTTP status of the vault (`SetRejected.status` is the 400 a push receiver answers with).
"""

from __future__ import annotations

import json
from typing import Any


class RegieError(Exception):
    """Root of every error the SDK raises on purpose."""

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        code: str | None = None,
        body: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status
        self.code = code
        self.body: dict[str, Any] = body or {}

    @property
    def reason(self) -> str | None:
        """The vault's stable reason code for a refusal (see docs/api.md), if it gave one."""
        value = self.body.get("reason")
        return value if isinstance(value, str) else None

    @property
    def errors(self) -> list[dict[str, Any]]:
        """Per-field problems of an invalid request (`loc`, `msg`, `type`), if any."""
        value = self.body.get("errors")
        return [e for e in value if isinstance(e, dict)] if isinstance(value, list) else []

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, {self.detail!r})"


class TransportError(RegieError):
    pass


class ProtocolError(RegieError):
    pass


class ServerError(RegieError):
    pass


class Unavailable(ServerError):
    def __init__(self, detail: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(detail, **kw)
        self.retry_after = retry_after


class TooManyRequests(RegieError):
    def __init__(self, detail: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(detail, **kw)
        self.retry_after = retry_after


class AuthError(RegieError):
    pass


class ReauthenticationRequired(AuthError):
    pass


class AccessDenied(RegieError):
    pass


class GrantEnded(AccessDenied):
    pass


class RequestExpired(AccessDenied):
    pass


class NotFound(RegieError):
    pass


class VaultDeleted(NotFound):
    pass


class InvalidRequest(RegieError):
    pass


class Conflict(InvalidRequest):
    pass


class AuthorizationPending(RegieError):
    pass


class SlowDown(AuthorizationPending):
    pass


class SignatureInvalid(RegieError):
    pass


class LogInvalid(RegieError):
    """A checkpoint, proof or export of the verifiable log does not verify; `index` is the
    first log entry concerned, when one is (`AuditorClient`)."""

    def __init__(self, detail: str, *, index: int | None = None) -> None:
        super().__init__(detail, code="log-invalid")
        self.index = index


class SetRejected(RegieError):
    """A SET failed verification. `err` is the RFC 8935 §2.3 code a push receiver answers
    with (`invalid_request`, `invalid_key`, `invalid_issuer`, `invalid_audience`); `status`
    is 400 and `response_body` the JSON to send: the vault then never sends it again."""

    def __init__(self, err: str, description: str) -> None:
        super().__init__(description, status=400, code=err)
        self.err = err

    @property
    def response_body(self) -> bytes:
        return json.dumps({"err": self.err, "description": self.detail}).encode()


# Problem type slugs (the last path segment of `type`, api/errors.py) to error classes.
PROBLEM_SLUGS: dict[str, type[RegieError]] = {
    "not-found": NotFound,
    "vault-deleted": VaultDeleted,
    "invalid-input": InvalidRequest,
    "invalid-request": InvalidRequest,
    "unknown-category": InvalidRequest,
    "unknown-record-type": InvalidRequest,
    "malformed-json": InvalidRequest,
    "unsupported-media-type": InvalidRequest,
    "payload-too-large": InvalidRequest,
    "method-not-allowed": InvalidRequest,
    "conflict": Conflict,
    "authentication-required": AuthError,
    "reauthentication-required": ReauthenticationRequired,
    "access-denied": AccessDenied,
    "grant-ended": GrantEnded,
    "service-unavailable": Unavailable,
    "too-many-requests": TooManyRequests,
    "internal-error": ServerError,
}

# RFC 6749 §5.2, RFC 9449, CIBA §11 `error` codes to error classes.
OAUTH_ERRORS: dict[str, type[RegieError]] = {
    "invalid_client": AuthError,
    "invalid_token": AuthError,
    "invalid_dpop_proof": AuthError,
    "use_dpop_nonce": AuthError,
    "unauthorized_client": AuthError,
    "access_denied": AccessDenied,
    "expired_token": RequestExpired,
    "authorization_pending": AuthorizationPending,
    "slow_down": SlowDown,
    "invalid_request": InvalidRequest,
    "invalid_grant": InvalidRequest,
    "invalid_scope": InvalidRequest,
    "unsupported_grant_type": InvalidRequest,
    "invalid_authorization_details": InvalidRequest,
    "invalid_binding_message": InvalidRequest,
    "unknown_user_id": InvalidRequest,
    "insufficient_scope": AccessDenied,
    "temporarily_unavailable": Unavailable,
    "server_error": ServerError,
}

# RFC 8935 §2.3 / RFC 8936 §2.4.4 `err` codes (the event poll endpoint) to error classes.
SET_ERRORS: dict[str, type[RegieError]] = {
    "authentication_failed": AuthError,
    "access_denied": AccessDenied,
    "invalid_request": InvalidRequest,
}

# When a body names no known kind, the status decides.
STATUS_FALLBACK: dict[int, type[RegieError]] = {
    400: InvalidRequest,
    401: AuthError,
    403: AccessDenied,
    404: NotFound,
    405: InvalidRequest,
    409: Conflict,
    410: VaultDeleted,
    413: InvalidRequest,
    415: InvalidRequest,
    422: InvalidRequest,
    429: TooManyRequests,
    503: Unavailable,
}
