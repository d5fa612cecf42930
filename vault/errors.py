"""The vault's errors: one rooted tree, mapped to HTTP in exactly one place (api/errors.py).

    VaultError
    ├── NotFound                   no such thing for this resident (never "exists, not yours")
    ├── InvalidInput               the request is well-formed but not acceptable
    │   ├── UnknownCategory
    │   ├── UnknownRecordType
    │   ├── MandateTooLong         a mandate given under a mandate would outlast it
    │   └── ProofError             a Merkle inclusion or consistency proof did not verify
    ├── Conflict                   the state changed underneath (e.g. a stale version)
    ├── PayloadTooLarge            a file over the configured limit
    ├── AuthenticationFailed       a passkey, recovery code or session did not check out
    │   └── ReplayDetected         a one-time value (a DPoP proof or client assertion jti) came back
    ├── ReauthenticationRequired   a destructive action needs a fresh sign-in
    ├── VaultDeleted               the resident's vault has been shredded
    ├── AccessDenied               the grant check said no (reason says why)
    │   └── GrantEnded             ... because the grant has ended (revoked, closed, expired)
    └── Unavailable                a dependency is down; callers fail closed
        ├── KeyServiceUnavailable
        └── StorageUnavailable

Errors from other packages are wrapped (`raise X from e`) at the boundary where they occur.
A record of another resident is reported as `NotFound`, exactly as a missing one is, so the
API cannot be used to learn which record ids exist.
"""

from __future__ import annotations

from datetime import datetime


class VaultError(Exception):
    """Root of every error the vault raises on purpose."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(VaultError):
    pass


class InvalidInput(VaultError):
    pass


class UnknownCategory(InvalidInput):
    pass


class UnknownRecordType(InvalidInput):
    pass


class MandateTooLong(InvalidInput):
    """A mandate offered under a mandate (a parent, for the child's vault) would run past
    the end of the giver's own: refused, not cut short, with the latest end allowed
    (`latest`, the API's `valid_until_max`), so the giver decides again knowingly."""

    def __init__(self, latest: datetime) -> None:
        super().__init__(
            "a mandate given for this vault can run until "
            f"{latest.isoformat()} at the latest: the end of your own mandate"
        )
        self.latest = latest


class ProofError(InvalidInput):
    """A Merkle proof (vault/audit/merkle.py) did not verify against the tree heads given.

    `reason` is a stable code: "index-out-of-range", "size-out-of-range", "wrong-hash-size",
    "wrong-proof-length" or "root-mismatch"; the detail says it in words. Under InvalidInput
    because what failed is what the caller handed in (a proof, sizes, roots): the API answers
    422, never 500. A verifier treats every ProofError alike: the proof is refused."""

    def __init__(self, reason: str, detail: str | None = None) -> None:
        super().__init__(f"Merkle proof rejected: {detail or reason.replace('-', ' ')}")
        self.reason = reason


class Conflict(VaultError):
    pass


class PayloadTooLarge(VaultError):
    def __init__(self, detail: str, *, limit: int) -> None:
        super().__init__(detail)
        self.limit = limit


class AuthenticationFailed(VaultError):
    pass


class ReplayDetected(AuthenticationFailed):
    """A DPoP proof or client assertion `jti` was already used (by any worker).

    `namespaces` says which kinds of value ("dpop", "client_assertion") were refused."""

    def __init__(self, detail: str, *, namespaces: frozenset[str] = frozenset()) -> None:
        super().__init__(detail)
        self.namespaces = namespaces


class ReauthenticationRequired(VaultError):
    pass


class VaultDeleted(VaultError):
    pass


class AccessDenied(VaultError):
    """The grant check refused; `reason` is a stable code (see vault/grants/policy.py)."""

    def __init__(self, detail: str, *, reason: str) -> None:
        super().__init__(detail)
        self.reason = reason


class GrantEnded(AccessDenied):
    pass


class Unavailable(VaultError):
    pass


class KeyServiceUnavailable(Unavailable):
    pass


class StorageUnavailable(Unavailable):
    pass


class RateLimited(VaultError):
    """Too many requests from one client address or one service; retry after a while."""

    def __init__(self, detail: str, *, retry_after: int, reason: str | None = None) -> None:
        super().__init__(detail)
        self.retry_after = retry_after
        self.reason = reason  # which limit, where it is not the client's (`too-many-refusals`)
