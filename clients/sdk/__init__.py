"""Regie's Python SDK: typed clients on httpx, sync and async, for the vault's API.

The error tree is drawn in `clients.sdk._errors`; `tests/unit/test_sdk_errors.py` keeps
`__all__` honest. Clients for residents, services and auditors build on `SyncHttp` /
`AsyncHttp` (`clients.sdk._http`), which map every error response to that tree.

For services: `ServiceClient` / `AsyncServiceClient` (`clients.sdk.service`) and, for the
events the vault sends, `EventReceiver` / `AsyncEventReceiver` and `GrantCache`
(`clients.sdk.events`); for a CIBA ping, `check_ping` / `PingCallback` (`clients.sdk.ping`).
docs/integrators.md walks through them. For auditors:
`AuditorClient` / `AsyncAuditorClient` (`clients.sdk.auditor`, docs/auditors.md).
"""

import typing as _typing

from clients.sdk._discovery import VaultMetadata
from clients.sdk._errors import (
    AccessDenied,
    AuthError,
    AuthorizationPending,
    Conflict,
    GrantEnded,
    InvalidRequest,
    LogInvalid,
    NotFound,
    ProtocolError,
    ReauthenticationRequired,
    RegieError,
    RequestExpired,
    ServerError,
    SetRejected,
    SignatureInvalid,
    SlowDown,
    TooManyRequests,
    TransportError,
    Unavailable,
    VaultDeleted,
)
from clients.sdk._grants import (
    AccessRequest,
    BrowserAuthorization,
    FileTokenStore,
    Grant,
    MemoryTokenStore,
    Procedure,
    Purpose,
    StoredGrant,
    TokenStore,
)
from clients.sdk._http import AsyncHttp, SyncHttp
from clients.sdk._jose import ServiceKey
from clients.sdk._records import FileInfo, Provenance, Record, RecordSignature
from clients.sdk.events import (
    AsyncEventReceiver,
    Event,
    EventBatch,
    EventReceiver,
    GrantCache,
    JtiStore,
    MemoryJtiStore,
)
from clients.sdk.ping import PingCallback, check_ping
from clients.sdk.service import AsyncServiceClient, ServiceClient

__all__ = [
    "AccessDenied",
    "AccessRequest",
    "AsyncAuditorClient",
    "AsyncEventReceiver",
    "AsyncHttp",
    "AsyncServiceClient",
    "AuditorClient",
    "AuthError",
    "AuthorizationPending",
    "BrowserAuthorization",
    "Conflict",
    "Event",
    "EventBatch",
    "EventReceiver",
    "FileInfo",
    "FileTokenStore",
    "Grant",
    "GrantCache",
    "GrantEnded",
    "InvalidRequest",
    "JtiStore",
    "LogInvalid",
    "MemoryJtiStore",
    "MemoryTokenStore",
    "NotFound",
    "PingCallback",
    "Procedure",
    "ProtocolError",
    "Provenance",
    "Purpose",
    "ReauthenticationRequired",
    "Record",
    "RecordSignature",
    "RegieError",
    "RequestExpired",
    "ServerError",
    "ServiceClient",
    "ServiceKey",
    "SetRejected",
    "SignatureInvalid",
    "SlowDown",
    "StoredGrant",
    "SyncHttp",
    "TokenStore",
    "TooManyRequests",
    "TransportError",
    "Unavailable",
    "VaultDeleted",
    "VaultMetadata",
    "check_ping",
]


if _typing.TYPE_CHECKING:
    from clients.sdk.auditor import AsyncAuditorClient, AuditorClient

_AUDITOR = frozenset({"AuditorClient", "AsyncAuditorClient"})


def __getattr__(name: str) -> _typing.Any:
    """The auditor clients load on first use: they verify with the vault's own pure
    verifiers (vault.audit, keys.note), which a service's or resident's program need not load
    (`regie service ...` loads no server code: tests/unit/test_cli_service.py)."""
    if name in _AUDITOR:
        from clients.sdk import auditor

        return getattr(auditor, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _AUDITOR)
