"""Receiving the vault's Security Event Tokens (RFC 8417), and forgetting what a grant let you see.

`EventReceiver` (and `AsyncEventReceiver`) verify a SET, pushed (RFC 8935) or polled (RFC
8936), before anyone acts on it, in this order; the first failure raises `SetRejected` with
the RFC 8935 §2.3 code a push endpoint answers with (400, final: the vault never resends it):

1. a compact JWS whose header has `typ` `secevent+jwt`, an `alg` of ES256 or Ed25519 and a
   `kid` (`invalid_request`);
2. the `kid` names a key of the vault's JWKS (`/.well-known/jwks.json`, found by RFC 8414
   discovery, cached for `jwks_ttl`); an unknown `kid` fetches the JWKS again once, since the
   vault may have rotated, and is refused if it is still unknown (`invalid_key`). Refetches
   are spaced `refetch_interval` apart, so forged kids cannot make you hammer the vault; an
   unknown `kid` that arrives sooner is answered "try later" (`Unavailable`: answer 503, the
   vault pushes again) rather than refused for good;
3. the signature verifies with that key (`invalid_key`);
4. `iss` is the vault's issuer (`invalid_issuer`), `aud` is (or holds) your client_id
   (`invalid_audience`);
5. `iat` is a number; for a pushed SET, not in the future (beyond `skew`, 5 minutes) and not
   older than `max_age` (the vault retries a push for 24 hours; `invalid_request`). A polled
   SET is exempt from both time checks: you fetched it yourself over an authenticated
   request, a backlog must not be thrown away, and a refusal is final, so a receiver whose
   clock is off must not refuse events for that;
6. a `jti`, and exactly one event of a type this SDK knows, with a `grant_id` and `subject`
   (`invalid_request`).

Delivery is at least once, so `receive` and `handle_push` dedupe by `jti` through a
`JtiStore`: a SET seen before is returned with `duplicate=True` and not handed to the
handlers again. The `jti` is remembered only after every handler returned: if one fails (or
the process dies), the vault's retry handles the event again. Handlers must therefore be
idempotent, and purging is.

`GrantCache` is the pattern for data a service may keep only while its grant lives: keep
everything fetched under a grant under that grant's id, and a verified `grant-ended` purges
it ("treatment done, data gone" on your side too). docs/integrators.md shows it at work.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal, Protocol

import httpx
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from clients.sdk._discovery import VaultMetadata, fetch_metadata
from clients.sdk._errors import ProtocolError, SetRejected, Unavailable
from clients.sdk._flow import Call, Flow, drive_async, drive_sync
from clients.sdk._http import DEFAULT_TIMEOUT, AsyncHttp, SyncHttp, error_for, json_body
from clients.sdk._records import parse_time

__all__ = [
    "EVENT_BASE",
    "AsyncEventReceiver",
    "Event",
    "EventBatch",
    "EventReceiver",
    "GrantCache",
    "JtiStore",
    "MemoryJtiStore",
]

EVENT_BASE: Final = "https://regie.example/events/"
EventType = Literal["grant-approved", "grant-denied", "grant-ended", "request-lapsed"]
EVENT_TYPES: Final[frozenset[str]] = frozenset(
    {"grant-approved", "grant-denied", "grant-ended", "request-lapsed"}
)
SET_TYP: Final = "secevent+jwt"
SET_MEDIA_TYPE: Final = "application/secevent+jwt"
SET_ALGORITHMS: Final = ("ES256", "Ed25519")
_MAX_SET_CHARS: Final = 16 * 1024


@dataclass(frozen=True, slots=True)
class Event:
    """One verified event about one of your grants."""

    jti: str
    type: EventType
    grant_id: str
    subject: str  # the resident as you know them (pairwise)
    procedure: str | None  # your procedure reference
    reason: str | None  # grant-ended / request-lapsed: revoked, procedure-closed, expired, ...
    at: datetime | None  # decided_at or ended_at
    issued_at: datetime
    txn: str | None  # shared by every SET of one change (closing a procedure ends several)
    duplicate: bool = False  # seen before: acknowledge, do not act again

    @property
    def ends_access(self) -> bool:
        """True for the events after which nothing may be read under the grant any more."""
        return self.type in ("grant-ended", "grant-denied", "request-lapsed")


@dataclass(frozen=True, slots=True)
class EventBatch:
    """One RFC 8936 poll's answer, verified. Acknowledge `events` in the next poll once you
    have stored what they mean; `rejected` (jti → RFC 8935 code) is reported by the client
    itself in its next poll."""

    events: list[Event]
    rejected: dict[str, str]
    more_available: bool


class JtiStore(Protocol):
    """Remembers which SETs were handled, until `until` (seconds since the epoch)."""

    def seen(self, jti: str) -> bool: ...

    def remember(self, jti: str, until: float) -> None: ...


class MemoryJtiStore:
    """`JtiStore` in this process; entries are dropped once past their time."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._lock = threading.Lock()
        self._until: dict[str, float] = {}
        self._clock = clock

    def seen(self, jti: str) -> bool:
        with self._lock:
            until = self._until.get(jti)
            return until is not None and until > self._clock()

    def remember(self, jti: str, until: float) -> None:
        with self._lock:
            now = self._clock()
            if len(self._until) > 10_000:
                self._until = {j: u for j, u in self._until.items() if u > now}
            self._until[jti] = until


class GrantCache:
    """Data kept only while its grant lives: `put` under the grant's id, `purge` when it ends.

    `handle(event)` purges on an event that ends access; pass it to a receiver's handlers
    (a `ServiceClient` with `cache=` also fills it and purges on `GrantEnded` by itself).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._data: dict[str, dict[str, Any]] = {}

    def put(self, grant_id: str, key: str, value: Any) -> None:
        with self._lock:
            self._data.setdefault(grant_id, {})[key] = value

    def get(self, grant_id: str, key: str, default: Any = None) -> Any:
        with self._lock:
            return self._data.get(grant_id, {}).get(key, default)

    def items(self, grant_id: str) -> dict[str, Any]:
        with self._lock:
            return dict(self._data.get(grant_id, {}))

    def grants(self) -> set[str]:
        with self._lock:
            return set(self._data)

    def purge(self, grant_id: str) -> int:
        """Forget everything kept under `grant_id`; how many entries went."""
        with self._lock:
            return len(self._data.pop(grant_id, {}))

    def handle(self, event: Event) -> None:
        if event.ends_access:
            self.purge(event.grant_id)

    def __len__(self) -> int:
        with self._lock:
            return sum(len(v) for v in self._data.values())

    def __repr__(self) -> str:
        return f"GrantCache({len(self._data)} grants)"


# -- verification (pure) -------------------------------------------------------------------


class _UnknownKey(Exception):
    pass


def _b64_json(segment: str) -> Any:
    try:
        return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, TypeError) as e:
        raise SetRejected("invalid_request", "not a signed JWT") from e


def verify_set(
    token: str,
    keys: KeySet | None,
    *,
    issuer: str,
    audience: str,
    now: float,
    max_age: float | None,
    skew: float | None = 300.0,
) -> Event:
    """The event in `token`, or `SetRejected`; `_UnknownKey` when `keys` lacks its kid."""
    if not isinstance(token, str) or len(token) > _MAX_SET_CHARS or token.count(".") != 2:
        raise SetRejected("invalid_request", "not a compact JWS")
    header = _b64_json(token.split(".", 1)[0])
    if not isinstance(header, dict):
        raise SetRejected("invalid_request", "not a signed JWT")
    typ = header.get("typ")
    if not isinstance(typ, str) or typ.lower().removeprefix("application/") != SET_TYP:
        raise SetRejected("invalid_request", "not a security event token (typ)")
    alg, kid = header.get("alg"), header.get("kid")
    if alg not in SET_ALGORITHMS or "crit" in header:
        raise SetRejected("invalid_request", "unexpected JWS header")
    if not isinstance(kid, str) or not kid:
        raise SetRejected("invalid_request", "the SET names no kid")
    key = next((k for k in keys or () if k.kid == kid), None)
    if key is None:
        raise _UnknownKey(kid)
    try:
        signed = jws.deserialize_compact(token, key, algorithms=[alg])
    except (JoseError, ValueError, TypeError) as e:
        raise SetRejected("invalid_key", "the signature does not verify") from e
    try:
        claims = json.loads(signed.payload)
    except ValueError as e:
        raise SetRejected("invalid_request", "the claims are not JSON") from e
    if not isinstance(claims, dict):
        raise SetRejected("invalid_request", "the claims are not an object")

    if claims.get("iss") != issuer:
        raise SetRejected("invalid_issuer", "not issued by this vault")
    aud = claims.get("aud")
    if audience not in ([aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []):
        raise SetRejected("invalid_audience", "not addressed to this client")
    iat = claims.get("iat")
    if isinstance(iat, bool) or not isinstance(iat, int | float):
        raise SetRejected("invalid_request", "iat is missing")
    if skew is not None and iat > now + skew:
        raise SetRejected("invalid_request", "iat is in the future")
    if max_age is not None and iat < now - max_age:
        raise SetRejected("invalid_request", "the SET is too old")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not 0 < len(jti) <= 256:
        raise SetRejected("invalid_request", "jti is missing")
    events = claims.get("events")
    if not isinstance(events, dict) or len(events) != 1:
        raise SetRejected("invalid_request", "expected exactly one event")
    ((uri, payload),) = events.items()
    name = uri.removeprefix(EVENT_BASE) if isinstance(uri, str) else ""
    if not uri.startswith(EVENT_BASE) or name not in EVENT_TYPES or not isinstance(payload, dict):
        raise SetRejected("invalid_request", "unknown event type")
    grant_id, subject = payload.get("grant_id"), payload.get("subject")
    if not isinstance(grant_id, str) or not isinstance(subject, str):
        raise SetRejected("invalid_request", "the event names no grant or subject")
    moment = payload.get("ended_at") or payload.get("decided_at")
    try:
        at = parse_time(moment, "the event's time") if moment is not None else None
    except ProtocolError as e:
        raise SetRejected("invalid_request", "the event's time is unreadable") from e
    procedure, reason, txn = payload.get("procedure"), payload.get("reason"), claims.get("txn")
    return Event(
        jti=jti,
        type=name,  # type: ignore[arg-type]  # checked against EVENT_TYPES above
        grant_id=grant_id,
        subject=subject,
        procedure=procedure if isinstance(procedure, str) else None,
        reason=reason if isinstance(reason, str) else None,
        at=at,
        issued_at=datetime.fromtimestamp(iat, UTC),
        txn=txn if isinstance(txn, str) else None,
    )


class SetVerification:
    """The verification flows, sans I/O: the vault's metadata and JWKS, fetched and cached."""

    def __init__(
        self,
        vault_url: str,
        *,
        client_id: str,
        max_age: timedelta,
        refetch_interval: float,
        jwks_ttl: float,
        clock: Callable[[], float],
    ) -> None:
        self.vault_url = vault_url
        self.client_id = client_id
        self.max_age = max_age.total_seconds()
        self._refetch_interval = refetch_interval
        self._ttl = jwks_ttl
        self._clock = clock
        self.metadata: VaultMetadata | None = None
        self._keys: KeySet | None = None
        self._fetched_at = float("-inf")
        self._lock = threading.Lock()

    def discover(self) -> Flow[VaultMetadata]:
        if self.metadata is None:
            self.metadata = yield from fetch_metadata(self.vault_url)
        return self.metadata

    def _fetch_keys(self) -> Flow[KeySet]:
        meta = yield from self.discover()
        with self._lock:
            self._fetched_at = self._clock()  # claimed before the fetch: one at a time
        response = yield Call("GET", meta.jwks_uri, headers={"Accept": "application/json"})
        if response.status_code != 200:
            raise error_for(response)
        try:
            keys = KeySet.import_key_set(json_body(response))
        except (JoseError, ValueError, TypeError, KeyError) as e:
            raise ProtocolError("the vault's JWKS is not readable") from e
        self._keys = keys
        return keys

    def verify(self, token: str, *, check_age: bool = True) -> Flow[Event]:
        meta = yield from self.discover()
        now = self._clock()
        cached = self._keys
        just_fetched = cached is None or now - self._fetched_at > self._ttl
        keys = (yield from self._fetch_keys()) if cached is None or just_fetched else cached
        max_age = self.max_age if check_age else None

        def check(keys: KeySet) -> Event:
            return verify_set(
                token,
                keys,
                issuer=meta.issuer,
                audience=self.client_id,
                now=now,
                max_age=max_age,
                skew=300.0 if check_age else None,
            )

        try:
            return check(keys)
        except _UnknownKey as e:
            if just_fetched:  # the vault's keys as of now: it does not publish this one
                raise SetRejected(
                    "invalid_key", "the SET names a key the vault does not publish"
                ) from e
        if now - self._fetched_at < self._refetch_interval:
            raise Unavailable("the SET names a key the vault did not publish yet; try later")
        keys = yield from self._fetch_keys()
        try:
            return check(keys)
        except _UnknownKey as e:
            raise SetRejected(
                "invalid_key", "the SET names a key the vault does not publish"
            ) from e


def push_body(body: bytes | str, headers: Mapping[str, str]) -> str:
    """The SET of an RFC 8935 push request, or `SetRejected` (`invalid_request`)."""
    content_type = ""
    for name, value in headers.items():
        if name.lower() == "content-type":
            content_type = value.split(";", 1)[0].strip().lower()
    if content_type != SET_MEDIA_TYPE:
        raise SetRejected("invalid_request", f"send the SET as {SET_MEDIA_TYPE}")
    raw = body.encode("ascii", "replace") if isinstance(body, str) else body
    try:
        return raw.strip().decode("ascii")
    except UnicodeDecodeError as e:
        raise SetRejected("invalid_request", "the body is not a compact JWS") from e


Handler = Callable[[Event], None]


class EventReceiver:
    """Verifies and dedupes the vault's SETs for one client; calls `handlers` once per event.

    Use `handle_push(body, headers)` in your RFC 8935 endpoint: it returns the `Event` (answer
    202, also when `event.duplicate`), or raises `SetRejected` (answer `e.status` (400) with
    `e.response_body` as `application/json`: final), or another `RegieError` such as
    `Unavailable` or `TransportError` (answer 503: the vault tries again later).
    """

    def __init__(
        self,
        vault_url: str,
        *,
        client_id: str,
        handlers: Iterable[Handler] = (),
        jti_store: JtiStore | None = None,
        max_age: timedelta = timedelta(hours=48),
        refetch_interval: float = 30.0,
        jwks_ttl: float = 3600.0,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        allow_http: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._http = SyncHttp(
            vault_url, transport=transport, timeout=timeout, allow_http=allow_http
        )
        self._core = SetVerification(
            self._http.base_url,
            client_id=client_id,
            max_age=max_age,
            refetch_interval=refetch_interval,
            jwks_ttl=jwks_ttl,
            clock=clock,
        )
        self.handlers = list(handlers)
        self._jtis: JtiStore = jti_store or MemoryJtiStore(clock=clock)
        self._clock = clock

    def verify(self, set_jwt: str, *, check_age: bool = True) -> Event:
        """The verified event; no dedupe, no handlers."""
        return drive_sync(self._core.verify(set_jwt, check_age=check_age), self._http)

    def receive(self, set_jwt: str, *, check_age: bool = True) -> Event:
        """Verify, dedupe by `jti`, and hand a new event to every handler."""
        event = self.verify(set_jwt, check_age=check_age)
        if self._jtis.seen(event.jti):
            return dataclasses.replace(event, duplicate=True)
        for handler in self.handlers:
            handler(event)
        self._jtis.remember(event.jti, _remember_until(event, self._core.max_age))
        return event

    def handle_push(self, body: bytes | str, headers: Mapping[str, str]) -> Event:
        """An RFC 8935 push request's SET, received (see the class docstring for answers)."""
        return self.receive(push_body(body, headers))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> EventReceiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"EventReceiver({self._core.vault_url!r}, client_id={self._core.client_id!r})"


AsyncHandler = Callable[[Event], Awaitable[None] | None]


class AsyncEventReceiver:
    """`EventReceiver` for asyncio/trio applications; handlers may be sync or async."""

    def __init__(
        self,
        vault_url: str,
        *,
        client_id: str,
        handlers: Iterable[AsyncHandler] = (),
        jti_store: JtiStore | None = None,
        max_age: timedelta = timedelta(hours=48),
        refetch_interval: float = 30.0,
        jwks_ttl: float = 3600.0,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        allow_http: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._http = AsyncHttp(
            vault_url, transport=transport, timeout=timeout, allow_http=allow_http
        )
        self._core = SetVerification(
            self._http.base_url,
            client_id=client_id,
            max_age=max_age,
            refetch_interval=refetch_interval,
            jwks_ttl=jwks_ttl,
            clock=clock,
        )
        self.handlers = list(handlers)
        self._jtis: JtiStore = jti_store or MemoryJtiStore(clock=clock)

    async def verify(self, set_jwt: str, *, check_age: bool = True) -> Event:
        return await drive_async(self._core.verify(set_jwt, check_age=check_age), self._http)

    async def receive(self, set_jwt: str, *, check_age: bool = True) -> Event:
        event = await self.verify(set_jwt, check_age=check_age)
        if self._jtis.seen(event.jti):
            return dataclasses.replace(event, duplicate=True)
        for handler in self.handlers:
            outcome = handler(event)
            if outcome is not None:
                await outcome
        self._jtis.remember(event.jti, _remember_until(event, self._core.max_age))
        return event

    async def handle_push(self, body: bytes | str, headers: Mapping[str, str]) -> Event:
        return await self.receive(push_body(body, headers))

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncEventReceiver:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"AsyncEventReceiver({self._core.vault_url!r}, client_id={self._core.client_id!r})"


def _remember_until(event: Event, max_age: float) -> float:
    # Past this, the SET is refused as too old anyway (a day of slack for polled ones).
    return event.issued_at.timestamp() + max_age + 24 * 3600
