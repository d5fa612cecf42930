"""CIBA ping mode (OpenID CIBA Core 1.0 §10.2): the service's bearer token, and the sealed
secrets a ping needs.

A ping-mode service sends a ``client_notification_token`` with its backchannel request
(§7.1: required in ping mode, at most 1024 characters, RFC 6750 §2.1 ``b64token`` syntax).
When the resident answers, the vault POSTs ``{"auth_req_id": "..."}`` to the service's
client notification endpoint with ``Authorization: Bearer <client_notification_token>``; the
service then redeems the request at the token endpoint as in poll mode.

Both values are secrets the vault must keep until the ping is delivered: the token is a bearer
credential for the service's endpoint, and the auth_req_id is otherwise only stored hashed.
Neither belongs to a resident, and the pusher holds no resident's data key; so they are sealed
together (AES-256-GCM) under a key derived from the deployment secret for this purpose alone
(`keys.secrets.DeploymentSealer`), bound to the table and row they sit in. While the request
is pending they sit on the grant (``grants.ping_ct``); when it is answered they are re-sealed
into the ping's outbox row and blanked on the grant, in the answer's transaction; once the ping
is finished (delivered, refused, given up) they are blanked there too.

A poll-mode service that sends a ``client_notification_token`` has it ignored and never
stored: CIBA defines it only for ping and push, and RFC 6749 §3.1 has servers ignore what does
not apply rather than refuse it.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Final, Protocol

from vault.errors import InvalidInput

PURPOSE: Final = "ciba-ping"
MAX_TOKEN_LENGTH: Final = 1024  # CIBA §7.1
# RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
_B64TOKEN: Final = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
#: The grant statuses that end a pending request, and so are pinged (CIBA §10.2: "after a
#: successful or failed end-user authentication"). A request that lapses because its time ran
#: out is not pinged: the service knows `expires_in` and gets expired_token if it asks.
PINGED: Final = frozenset({"approved", "denied", "lapsed"})
NOT_PINGED_REASONS: Final = frozenset({None, "expired"})


class Sealer(Protocol):
    """What seals ping secrets: `keys.secrets.DeploymentSealer` in the application."""

    def seal(self, purpose: str, plaintext: bytes, *context: str | int | bytes) -> bytes: ...

    def open(self, purpose: str, sealed: bytes, *context: str | int | bytes) -> bytes: ...


@dataclass(frozen=True, slots=True)
class PingSecret:
    auth_req_id: str = field(repr=False)
    token: str = field(repr=False)  # the service's client_notification_token


def notification_token(mode: str, value: str | None) -> str | None:
    """The client_notification_token to keep for a service in `mode`: required and checked
    in ping mode (InvalidInput otherwise), None (ignored) in poll mode."""
    if mode != "ping":
        return None
    if not value:
        raise InvalidInput("client_notification_token is required in ping mode (CIBA §7.1)")
    if len(value) > MAX_TOKEN_LENGTH:
        raise InvalidInput(f"client_notification_token is longer than {MAX_TOKEN_LENGTH}")
    if not _B64TOKEN.fullmatch(value):
        raise InvalidInput("client_notification_token must be an RFC 6750 bearer token")
    return value


def is_pinged(status: str, reason: str | None) -> bool:
    return status in PINGED and not (status == "lapsed" and reason in NOT_PINGED_REASONS)


def seal(sealer: Sealer, secret: PingSecret, table: str, row: uuid.UUID) -> bytes:
    body = json.dumps({"auth_req_id": secret.auth_req_id, "token": secret.token}).encode()
    return sealer.seal(PURPOSE, body, table, str(row))


def open_secret(sealer: Sealer, sealed: bytes, table: str, row: uuid.UUID) -> PingSecret:
    """The secret sealed for (table, row); `keys.errors.DecryptionError` for anything else."""
    body = json.loads(sealer.open(PURPOSE, sealed, table, str(row)))
    return PingSecret(auth_req_id=str(body["auth_req_id"]), token=str(body["token"]))
