"""Rate limits on the doors an attacker knocks on: sign-in and recovery, one-time codes
(connection codes, auditor enrolment) and the OAuth endpoints (docs/operations.md#rate-limits).

What is limited, and by what:
- **Per client address**, before anything else runs (`RateLimitMiddleware`): every request to
  a limited route counts against its address's bucket for that rule. The resident app's own
  API calls are in-process: they count against the address of the page request that made
  them (carried in a context variable), so the app is limited exactly as the API is.
- **Per service**, after its client authentication (`Limiter.check_client`): a service's
  token, backchannel and connection calls count against its own bucket too, so one busy
  service cannot use up an address shared with others, and a stolen key cannot guess
  connection codes faster than the limit. Counting only *authenticated* calls means no one
  can empty another service's bucket by sending requests in its name.

**No lock-out of an account, ever.** Nothing here counts failures per resident: a resident
cannot be locked out of their own vault by someone who types their name, or guesses at
their recovery codes. Passkeys cannot be guessed; recovery codes (keyed hashes of 80 random
bits, docs/security.md) are looked up without knowing whose they are, so the limit on
guessing them is the per-address one, which a resident on another network never meets.
(One more count shares the table: a representative's refused attempts in a principal's
log, vault/representation/throttle.py. It counts refusals only, never what a mandate
allows, so it locks no one out either.)

The algorithm is GCRA (the "generic cell rate algorithm", as in redis-cell and Envoy's local
limiter): one timestamp per bucket, a steady rate with a burst, `Retry-After` exact. Written
here because it is twenty lines and the libraries that do it (slowapi, limits) bring a
storage layer and a decorator model that do not fit a pure ASGI middleware.

**One store for every process.** The buckets live behind `BucketStore`: in production the
`rate_limit_buckets` table (vault/storage/rate_buckets.py), on PostgreSQL and on SQLite
alike, so every worker of `regie serve --workers N` counts against the same buckets and a
limit is a limit, not N of them. A check is one atomic upsert that does the GCRA step in SQL;
this module keeps the rules, the keys and the answers (and remembers refusals, so that a
flood from one address does not become one statement per request: `Limiter`). Time is the
injectable clock's, in whole nanoseconds since the epoch (the same in every process, unlike
a monotonic clock).

**Fail closed.** If the store cannot be reached, the request is refused with 503 (the same
problem+json a database outage gives everywhere, `Retry-After: 5`), not let through: every
limited door needs the database anyway, and an outage of the limiter alone (a locked or
slow table) must not open the doors to guessing. Never a 500.
"""

from __future__ import annotations

import contextvars
import functools
import ipaddress
import json
import logging
import math
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import PROBLEMS
from api.middleware import API_CSP, SECURITY_HEADERS
from vault import errors as ve
from vault.ports import Clock
from vault.storage.rate_buckets import NS, nanoseconds

# Set by the resident app's in-process transport (clients/app/transport.py) on the scopes of
# its API calls: a network request cannot put a key in an ASGI scope.
IN_PROCESS = "regie.in_process"
log = logging.getLogger("regie.ratelimit")
_page_client: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "regie_page_client", default=None
)


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    per_minute: int  # the steady rate
    burst: int  # how many at once, from a full bucket
    paths: tuple[str, ...]  # exact paths; a trailing "*" is a prefix
    oauth: bool = False  # refused in RFC 6749 form (an OAuth endpoint), else problem+json

    def matches(self, path: str) -> bool:
        return any(path.startswith(p[:-1]) if p.endswith("*") else path == p for p in self.paths)


class BucketStore(Protocol):
    """Where the buckets live (vault/storage/rate_buckets.py: a table every process shares).

    `take` is the whole GCRA step, atomic for the bucket: with `later = max(tat, now)` (a
    missing bucket has `tat = now`), let the request through if `later - now <= tolerance`,
    and then store `tat = later + interval`; else change nothing. It returns (let through,
    the bucket's `tat` after). Integers in nanoseconds. An unreachable store raises
    `vault.errors.Unavailable`."""

    async def take(
        self, bucket: str, *, now: int, interval: int, tolerance: int
    ) -> tuple[bool, int]: ...

    def sweep(self, *, now: int, batch: int) -> int:
        """Drop up to `batch` buckets that are full again (`tat <= now`); how many."""
        ...


class Limiter:
    """GCRA buckets by (rule, key), kept in `store`, on `clock`'s time.

    A refusal is remembered in the process until the instant the store could first grant
    that bucket again (`tat - tolerance`), and requests before it are refused without asking
    the store, with the same `Retry-After` it would give: a refused request changes nothing,
    and a bucket's `tat` only grows until then (no process can be granted before it, and the
    sweep deletes only rows whose `tat` has passed), so the answer is the store's own. A flood
    from one address thus costs the database one statement per window, not one per request.
    At most `max_remembered` refusals are kept (the oldest forgotten: the store is asked)."""

    def __init__(
        self,
        rules: Sequence[Rule],
        *,
        store: BucketStore,
        clock: Clock,
        max_remembered: int = 100_000,
    ) -> None:
        self.rules = tuple(r for r in rules if r.per_minute > 0)
        self.store = store
        self._clock = clock
        self._max = max_remembered
        self._refused: OrderedDict[str, int] = OrderedDict()  # bucket -> ns it may grant at

    def rule_for(self, method: str, path: str) -> Rule | None:
        if method != "POST":  # every limited door is a POST
            return None
        return next((r for r in self.rules if r.matches(path)), None)

    async def hit(self, rule: Rule, key: str) -> int | None:
        """Count one request; None if allowed, else the whole seconds to wait. Raises
        `vault.errors.Unavailable` when the store cannot be reached."""
        # In whole nanoseconds: float sums of the interval would refuse the last of a burst.
        interval = 60 * NS // rule.per_minute
        tolerance = interval * (rule.burst - 1)
        now = nanoseconds(self._clock.now())
        bucket = f"{rule.name}\x00{key}"
        until = self._refused.get(bucket)
        if until is not None:
            if now < until:
                return max(1, math.ceil((until - now) / NS))
            del self._refused[bucket]
        granted, tat = await self.store.take(
            bucket, now=now, interval=interval, tolerance=tolerance
        )
        if granted:
            return None
        self._refused[bucket] = tat - tolerance
        if len(self._refused) > self._max:
            self._refused.popitem(last=False)
        return max(1, math.ceil((tat - now - tolerance) / NS))

    async def check_client(self, path: str, client_id: str) -> None:
        """Count an authenticated service's call to `path` against the service's own bucket
        of the path's rule; raise `RateLimited` if it is over (`Unavailable` if the store
        cannot be reached)."""
        rule = self.rule_for("POST", path)
        if rule is None:
            return
        wait = await self.hit(rule, f"client:{client_id}")
        if wait is not None:
            raise ve.RateLimited(
                f"too many requests from this service; retry after {wait} s", retry_after=wait
            )

    def sweep(self, batch: int) -> int:
        """Drop up to `batch` buckets that are full again (the background sweep); how many.
        Nothing depends on it but the table's size: a full bucket and no row are the same."""
        return self.store.sweep(now=nanoseconds(self._clock.now()), batch=batch)


def client_address(scope: Scope) -> str:
    """The address a request counts against: for the app's in-process API calls, the page
    request's; else the peer's (set proxy headers in uvicorn to use X-Forwarded-For). An
    IPv6 peer counts by its /64, the smallest network one is given: else every one of its
    2^64 addresses would be a fresh bucket (an IPv4-mapped one counts as its IPv4 address)."""
    if scope.get(IN_PROCESS):
        return _page_client.get() or "in-process"
    client = scope.get("client")
    return _counted(str(client[0])) if client else "unknown"


@functools.lru_cache(maxsize=4096)  # a pure function of the text, asked on every request
def _counted(host: str) -> str:
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])  # no zone index: one host
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


class RateLimitMiddleware:
    """Counts each request to a limited route against its client address; refuses with 429
    and `Retry-After` when over (problem+json, or RFC 6749 JSON on OAuth endpoints)."""

    def __init__(self, app: ASGIApp, *, limiter: Limiter, public_url: str) -> None:
        self.app = app
        self.limiter = limiter
        self.public_url = public_url

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        address = client_address(scope)
        rule = self.limiter.rule_for(scope["method"], scope["path"])
        if rule is not None:
            try:
                wait = await self.limiter.hit(rule, address)
            except ve.Unavailable as e:
                # Fail closed (see the module docstring), in the words of every other outage.
                log.warning("unavailable: %s", type(e.__cause__ or e).__name__)
                await _unavailable(send, self.public_url)
                return
            if wait is not None:
                await _too_many(send, rule, wait, self.public_url)
                return
        if scope.get(IN_PROCESS):
            await self.app(scope, receive, send)
            return
        token = _page_client.set(address)
        try:
            await self.app(scope, receive, send)
        finally:
            _page_client.reset(token)


def too_many_body(public_url: str, detail: str, *, oauth: bool) -> tuple[bytes, bytes]:
    """(content type, body) of a 429, in the form the endpoint speaks."""
    if oauth:
        # RFC 6749 has no code for this; `temporarily_unavailable` is the one that says
        # "retry later" (§4.1.2.1), and the status and Retry-After say the rest.
        body = {"error": "temporarily_unavailable", "error_description": detail}
        return b"application/json", json.dumps(body).encode()
    problem = {
        "type": f"{public_url}/problems/too-many-requests",
        "title": "Too many requests",
        "status": 429,
        "detail": detail,
    }
    return b"application/problem+json", json.dumps(problem).encode()


async def _too_many(send: Send, rule: Rule, wait: int, public_url: str) -> None:
    detail = f"too many requests from this address; retry after {wait} s"
    content_type, body = too_many_body(public_url, detail, oauth=rule.oauth)
    await _answer(send, 429, content_type, body, wait)


async def _unavailable(send: Send, public_url: str) -> None:
    """The 503 of api/errors.py's `service-unavailable`, for a store that cannot be reached."""
    kind = PROBLEMS["service-unavailable"]
    problem = {
        "type": f"{public_url}/problems/{kind.slug}",
        "title": kind.title,
        "status": kind.status,
        "detail": "the database cannot be reached",
    }
    body = json.dumps(problem).encode()
    await _answer(send, kind.status, b"application/problem+json", body, 5)


async def _answer(
    send: Send, status: int, content_type: bytes, body: bytes, retry_after: int
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                *SECURITY_HEADERS,
                (b"content-security-policy", API_CSP),
                (b"content-type", content_type),
                (b"retry-after", str(retry_after).encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def default_rules(
    *,
    sign_in_per_minute: int,
    recovery_per_minute: int,
    codes_per_minute: int,
    oauth_per_minute: int,
) -> list[Rule]:
    """The limited doors (all POSTs). The resident app's pages are not listed: their
    in-process API calls are, counted against the page's client address."""
    return [
        Rule("recovery", recovery_per_minute, 5, ("/v1/auth/recovery",)),
        Rule(
            "sign-in",
            sign_in_per_minute,
            10,
            ("/v1/auth/passkeys/*", "/v1/auditor/auth/login/*", "/v1/me/reauthenticate/*"),
        ),
        Rule("codes", codes_per_minute, 20, ("/v1/service/connections", "/v1/auditor/enrol/*")),
        Rule(
            "oauth",
            oauth_per_minute,
            100,
            ("/oauth/token", "/oauth/bc-authorize", "/oauth/introspect", "/oauth/revoke"),
            oauth=True,
        ),
    ]
