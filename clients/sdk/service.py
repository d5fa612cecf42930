"""`ServiceClient` and `AsyncServiceClient`: a school, municipality or care system on the vault.

    from clients.sdk import Procedure, Purpose, ServiceClient

    with ServiceClient("https://vault.example.nl", client_id="huisarts-de-linde",
                       key="clinic-key.jwk") as vault:
        subject = vault.connect("K7QF2-M9D4X")           # the resident's connection code
        request = vault.request_access(subject, datatypes=["health.medication"],
                                       actions=["read"], purpose=Purpose("Medicatiebeoordeling"),
                                       procedure=Procedure("BEH-2026-0042"))
        grant = vault.wait(request)                       # the resident answers in the app
        for record in vault.list_records(grant): ...
        vault.close_procedure(subject, "BEH-2026-0042")   # treatment done: access ends now

The client discovers the vault (RFC 8414), signs a `private_key_jwt` assertion for every
call that needs one, sends a DPoP proof with every token and data request (retrying once
with the vault's nonce when it asks for one), and keeps and refreshes each grant's tokens
itself (`clients.sdk._service_core` says exactly how). Errors are the SDK's one tree
(`clients.sdk._errors`): `AccessDenied` when the resident says no, `RequestExpired` when a
request lapses, `GrantEnded` once a grant is over, whoever ended it.

For a resident present at your site, the browser flow instead of `request_access` / `wait`:

    flow = vault.start_authorization(redirect_uri="https://portal.example/callback", ...)
    # keep flow.to_dict() in the browser's session; answer with a 303 to flow.url
    grant = vault.finish_authorization(flow, callback_url)   # state and iss checked first

Both clients have the same methods; the async one's are coroutines. Neither puts a key,
token or `auth_req_id` in its repr or in any log line (the SDK logs nothing; httpx logs
URLs, which carry none).
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

import anyio
import httpx

from clients.sdk._discovery import VaultMetadata
from clients.sdk._flow import AsyncLocks, Flow, SyncLocks, drive_async, drive_sync
from clients.sdk._grants import (
    DPV_CONSENT,
    AccessRequest,
    BrowserAuthorization,
    Grant,
    MemoryTokenStore,
    Procedure,
    Purpose,
    TokenStore,
)
from clients.sdk._http import DEFAULT_TIMEOUT, AsyncHttp, SyncHttp
from clients.sdk._jose import ServiceKey
from clients.sdk._records import Record, RecordSignature
from clients.sdk._service_core import ServiceCore
from clients.sdk.events import Event, EventBatch, GrantCache, SetVerification

__all__ = ["AsyncServiceClient", "ServiceClient"]

T = TypeVar("T")
KeyLike = ServiceKey | str | os.PathLike[str]


def _key(key: KeyLike) -> ServiceKey:
    return key if isinstance(key, ServiceKey) else ServiceKey.load(key)


def _core(
    base_url: str,
    *,
    client_id: str,
    key: KeyLike,
    dpop_key: ServiceKey | None,
    token_store: TokenStore | None,
    cache: GrantCache | None,
    refresh_margin: float,
    assertion_lifetime: int,
    event_max_age: timedelta,
    clock: Callable[[], float],
) -> ServiceCore:
    if not 0 <= refresh_margin < 300:
        raise ValueError("refresh_margin is in seconds, under the 5-minute token lifetime")
    return ServiceCore(
        vault_url=base_url,
        client_id=client_id,
        key=_key(key),
        dpop_key=dpop_key or ServiceKey.generate("ES256"),
        tokens=token_store if token_store is not None else MemoryTokenStore(),
        cache=cache,
        events=SetVerification(
            base_url,
            client_id=client_id,
            max_age=event_max_age,
            refetch_interval=30.0,
            jwks_ttl=3600.0,
            clock=clock,
        ),
        clock=clock,
        refresh_margin=refresh_margin,
        assertion_lifetime=assertion_lifetime,
    )


class ServiceClient:
    """A service's blocking connection to one vault.

    `key` is the private key registered for `client_id` (a `ServiceKey`, or the path of a
    JWK or PEM file). `dpop_key` is the key tokens are bound to: by default a new one per
    client, which suits the in-memory `token_store`; a persistent token store needs a
    persistent DPoP key. With `cache`, every record read is kept there under its grant and
    purged when the grant ends. `timeout` is httpx's (seconds, or an `httpx.Timeout`);
    `transport` replaces the network (`httpx.MockTransport`, an ASGI app's transport).
    """

    def __init__(
        self,
        vault_url: str,
        *,
        client_id: str,
        key: KeyLike,
        dpop_key: ServiceKey | None = None,
        token_store: TokenStore | None = None,
        cache: GrantCache | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
        allow_http: bool = False,
        refresh_margin: float = 30.0,
        assertion_lifetime: int = 60,
        event_max_age: timedelta = timedelta(hours=48),
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._http = SyncHttp(
            vault_url, transport=transport, timeout=timeout, allow_http=allow_http
        )
        self._core = _core(
            self._http.base_url,
            client_id=client_id,
            key=key,
            dpop_key=dpop_key,
            token_store=token_store,
            cache=cache,
            refresh_margin=refresh_margin,
            assertion_lifetime=assertion_lifetime,
            event_max_age=event_max_age,
            clock=clock,
        )
        self._sleep = sleep
        self._locks = SyncLocks()

    def _run(self, flow: Flow[T]) -> T:
        return drive_sync(flow, self._http, sleep=self._sleep, locks=self._locks)

    @property
    def client_id(self) -> str:
        return self._core.client_id

    @property
    def vault_url(self) -> str:
        return self._core.vault_url

    @property
    def cache(self) -> GrantCache | None:
        return self._core.cache

    def discover(self) -> VaultMetadata:
        """The vault's RFC 8414 metadata (fetched once, its issuer checked)."""
        return self._run(self._core.discover())

    def connect(self, code: str) -> str:
        """Redeem a resident's one-time connection code: their pairwise subject for you."""
        return self._run(self._core.connect(code))

    def request_access(
        self,
        subject: str,
        *,
        datatypes: Sequence[str],
        actions: Sequence[str],
        purpose: Purpose | str,
        procedure: Procedure | str,
        valid_until: date | datetime | None = None,
        binding_message: str | None = None,
        legal_basis: str = DPV_CONSENT,
        ping: bool = False,
        client_notification_token: str | None = None,
    ) -> AccessRequest:
        """Ask the resident for access (the vault tells them); `wait` for the answer.

        `purpose` is a `Purpose` (or its text: what the resident reads), `procedure` a
        `Procedure` (or its ref): access ends when it ends. For a service registered in CIBA
        ping mode, `ping=True` sends a fresh `client_notification_token` (or the one given),
        kept on the request as `notification_token`: check the vault's ping with
        `clients.sdk.ping.check_ping`, then `poll` once."""
        return self._run(
            self._core.request_access(
                subject,
                datatypes=datatypes,
                actions=actions,
                purpose=purpose,
                procedure=procedure,
                valid_until=valid_until,
                binding_message=binding_message,
                legal_basis=legal_basis,
                ping=ping,
                client_notification_token=client_notification_token,
            )
        )

    def start_authorization(
        self,
        *,
        redirect_uri: str,
        datatypes: Sequence[str],
        actions: Sequence[str],
        purpose: Purpose | str,
        procedure: Procedure | str,
        valid_until: date | datetime | None = None,
        binding_message: str | None = None,
        legal_basis: str = DPV_CONSENT,
    ) -> BrowserAuthorization:
        """Start the browser flow for a resident at your site (authorization code + PKCE,
        pushed to the vault with the same `authorization_details` as `request_access`):
        send their browser to the answer's `url`, keep the answer in their session
        (`to_dict`), and `finish_authorization` when the browser comes back to
        `redirect_uri` (one registered for your service, exactly)."""
        return self._run(
            self._core.start_authorization(
                redirect_uri=redirect_uri,
                datatypes=datatypes,
                actions=actions,
                purpose=purpose,
                procedure=procedure,
                valid_until=valid_until,
                binding_message=binding_message,
                legal_basis=legal_basis,
            )
        )

    def finish_authorization(
        self, pending: BrowserAuthorization, callback: str | Mapping[str, str]
    ) -> Grant:
        """The browser came back: `callback` is the URL it came to (or its parsed query).
        Checks `state` and `iss`, redeems the code: the grant (its `subject` is the
        resident's subject for you from now on), or `AccessDenied` if they said no,
        `AuthError` for an answer not of this flow or vault, `InvalidRequest` for a code the
        vault no longer takes (used, expired: start again)."""
        return self._run(self._core.finish_authorization(pending, callback))

    def poll(self, request: AccessRequest) -> Grant:
        """Ask once: the grant, or `AuthorizationPending` / `SlowDown` / `AccessDenied` /
        `RequestExpired`."""
        return self._run(self._core.poll(request))

    def wait(self, request: AccessRequest, *, timeout: float | None = None) -> Grant:
        """Poll until the resident answers (honouring `interval` and `slow_down`): the grant,
        or `AccessDenied`, `RequestExpired`; `AuthorizationPending` after `timeout` seconds."""
        return self._run(self._core.wait(request, timeout=timeout))

    def grant(self, grant_id: str) -> Grant:
        """A grant this client holds tokens for (`GrantEnded` / `NotFound` otherwise)."""
        return self._core.grant(grant_id)

    def grants(self) -> list[Grant]:
        """Every grant this client holds tokens for."""
        return [stored.grant for stored in self._core.tokens.grants()]

    def list_records(self, grant: Grant | str) -> list[Record]:
        """The records this grant lets you read (metadata; `read_record` for contents)."""
        return self._run(self._core.list_records(grant))

    def read_record(self, grant: Grant | str, record_id: str) -> Record:
        return self._run(self._core.read_record(grant, record_id))

    def write_record(
        self,
        grant: Grant | str,
        *,
        type: str,
        title: str,
        content: Any,
        category: str | None = None,
        sign: bool = False,
    ) -> Record:
        """Write a record into the resident's vault (it stays theirs). `sign=True` adds your
        issuer signature, so a later reader can check that you wrote exactly this."""
        return self._run(
            self._core.write_record(
                grant, type=type, title=title, content=content, category=category, sign=sign
            )
        )

    def verify_signature(self, record: Record) -> RecordSignature:
        """Check a record's issuer signature against the issuer's registered keys:
        the signature, or `SignatureInvalid`."""
        return self._run(self._core.verify_signature(record))

    def relinquish(self, grant: Grant | str) -> None:
        """Give the grant back now; its tokens and cached data are dropped."""
        self._run(self._core.relinquish(grant))

    def close_procedure(self, subject: str, ref: str) -> int:
        """Close a procedure: every grant under it ends at once. How many ended."""
        return self._run(self._core.close_procedure(subject, ref))

    def poll_events(
        self, *, ack: Iterable[str] = (), max_events: int | None = None, wait: bool = False
    ) -> EventBatch:
        """Fetch (and acknowledge) events (RFC 8936), verified; a `grant-ended` among them is
        applied to this client at once (`handle_event`). With `wait`, the vault holds the
        request until an event arrives or its wait is over."""
        return self._run(self._core.poll_events(ack=ack, max_events=max_events, wait=wait))

    def handle_event(self, event: Event) -> None:
        """Apply a verified event (e.g. from an `EventReceiver`): forget an ended grant."""
        self._core.handle_event(event)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ServiceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"ServiceClient({self.vault_url!r}, client_id={self.client_id!r},"
            f" key={self._core.key!r})"
        )


class AsyncServiceClient:
    """`ServiceClient` for asyncio/trio: the same methods, as coroutines."""

    def __init__(
        self,
        vault_url: str,
        *,
        client_id: str,
        key: KeyLike,
        dpop_key: ServiceKey | None = None,
        token_store: TokenStore | None = None,
        cache: GrantCache | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
        allow_http: bool = False,
        refresh_margin: float = 30.0,
        assertion_lifetime: int = 60,
        event_max_age: timedelta = timedelta(hours=48),
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        self._http = AsyncHttp(
            vault_url, transport=transport, timeout=timeout, allow_http=allow_http
        )
        self._core = _core(
            self._http.base_url,
            client_id=client_id,
            key=key,
            dpop_key=dpop_key,
            token_store=token_store,
            cache=cache,
            refresh_margin=refresh_margin,
            assertion_lifetime=assertion_lifetime,
            event_max_age=event_max_age,
            clock=clock,
        )
        self._sleep = sleep
        self._locks = AsyncLocks()

    async def _run(self, flow: Flow[T]) -> T:
        return await drive_async(flow, self._http, sleep=self._sleep, locks=self._locks)

    @property
    def client_id(self) -> str:
        return self._core.client_id

    @property
    def vault_url(self) -> str:
        return self._core.vault_url

    @property
    def cache(self) -> GrantCache | None:
        return self._core.cache

    async def discover(self) -> VaultMetadata:
        return await self._run(self._core.discover())

    async def connect(self, code: str) -> str:
        return await self._run(self._core.connect(code))

    async def request_access(
        self,
        subject: str,
        *,
        datatypes: Sequence[str],
        actions: Sequence[str],
        purpose: Purpose | str,
        procedure: Procedure | str,
        valid_until: date | datetime | None = None,
        binding_message: str | None = None,
        legal_basis: str = DPV_CONSENT,
        ping: bool = False,
        client_notification_token: str | None = None,
    ) -> AccessRequest:
        return await self._run(
            self._core.request_access(
                subject,
                datatypes=datatypes,
                actions=actions,
                purpose=purpose,
                procedure=procedure,
                valid_until=valid_until,
                binding_message=binding_message,
                legal_basis=legal_basis,
                ping=ping,
                client_notification_token=client_notification_token,
            )
        )

    async def start_authorization(
        self,
        *,
        redirect_uri: str,
        datatypes: Sequence[str],
        actions: Sequence[str],
        purpose: Purpose | str,
        procedure: Procedure | str,
        valid_until: date | datetime | None = None,
        binding_message: str | None = None,
        legal_basis: str = DPV_CONSENT,
    ) -> BrowserAuthorization:
        return await self._run(
            self._core.start_authorization(
                redirect_uri=redirect_uri,
                datatypes=datatypes,
                actions=actions,
                purpose=purpose,
                procedure=procedure,
                valid_until=valid_until,
                binding_message=binding_message,
                legal_basis=legal_basis,
            )
        )

    async def finish_authorization(
        self, pending: BrowserAuthorization, callback: str | Mapping[str, str]
    ) -> Grant:
        return await self._run(self._core.finish_authorization(pending, callback))

    async def poll(self, request: AccessRequest) -> Grant:
        return await self._run(self._core.poll(request))

    async def wait(self, request: AccessRequest, *, timeout: float | None = None) -> Grant:
        return await self._run(self._core.wait(request, timeout=timeout))

    def grant(self, grant_id: str) -> Grant:
        return self._core.grant(grant_id)

    def grants(self) -> list[Grant]:
        return [stored.grant for stored in self._core.tokens.grants()]

    async def list_records(self, grant: Grant | str) -> list[Record]:
        return await self._run(self._core.list_records(grant))

    async def read_record(self, grant: Grant | str, record_id: str) -> Record:
        return await self._run(self._core.read_record(grant, record_id))

    async def write_record(
        self,
        grant: Grant | str,
        *,
        type: str,
        title: str,
        content: Any,
        category: str | None = None,
        sign: bool = False,
    ) -> Record:
        return await self._run(
            self._core.write_record(
                grant, type=type, title=title, content=content, category=category, sign=sign
            )
        )

    async def verify_signature(self, record: Record) -> RecordSignature:
        return await self._run(self._core.verify_signature(record))

    async def relinquish(self, grant: Grant | str) -> None:
        await self._run(self._core.relinquish(grant))

    async def close_procedure(self, subject: str, ref: str) -> int:
        return await self._run(self._core.close_procedure(subject, ref))

    async def poll_events(
        self, *, ack: Iterable[str] = (), max_events: int | None = None, wait: bool = False
    ) -> EventBatch:
        return await self._run(self._core.poll_events(ack=ack, max_events=max_events, wait=wait))

    def handle_event(self, event: Event) -> None:
        self._core.handle_event(event)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncServiceClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return (
            f"AsyncServiceClient({self.vault_url!r}, client_id={self.client_id!r},"
            f" key={self._core.key!r})"
        )
