"""Regie's Python SDK: typed clients on httpx, sync and async, for the vault's API.

The error tree is drawn in `clients.sdk._errors`; `tests/unit/test_sdk_errors.py` keeps
`__all__` honest. Clients for residents, services and auditors build on `SyncHttp` /
`AsyncHttp` (`clients.sdk._http`), which map every error response to that tree.
"""

from clients.sdk._errors import (
    AccessDenied,
    AuthError,
    AuthorizationPending,
    Conflict,
    GrantEnded,
    InvalidRequest,
    NotFound,
    ProtocolError,
    ReauthenticationRequired,
    RegieError,
    RequestExpired,
    ServerError,
    SlowDown,
    TransportError,
    Unavailable,
    VaultDeleted,
)
from clients.sdk._http import AsyncHttp, SyncHttp

__all__ = [
    "AccessDenied",
    "AsyncHttp",
    "AuthError",
    "AuthorizationPending",
    "Conflict",
    "GrantEnded",
    "InvalidRequest",
    "NotFound",
    "ProtocolError",
    "ReauthenticationRequired",
    "RegieError",
    "RequestExpired",
    "ServerError",
    "SlowDown",
    "SyncHttp",
    "TransportError",
    "Unavailable",
    "VaultDeleted",
]
