"""Event types, and the values the outbox hands between its parts.

Event type URIs are names, not addresses: ``https://regie.example/events/<name>``, the same
for every deployment and never dereferenced. They are deliberately not put under the
deployment's public URL: a receiver (or the SDK) matches on the event type, and a name that
changed with each vault would make every receiver configure it per vault, and would change
when a vault moves. The issuer (``iss``) already says which vault signed the SET. ``.example``
is reserved (RFC 2606), so the names can never be taken by someone else. These four are
stable: a change of meaning gets a new name, never a reused one.

    grant-approved   the resident approved a request (possibly narrower than asked)
    grant-denied     the resident said no to a request (or withdrew it before answering)
    grant-ended      an approved grant ended; `reason` says why
    request-lapsed   a request ended unanswered; `reason` says why
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal

from vault.events.ping import PingSecret

EVENT_BASE: Final = "https://regie.example/events/"
EventType = Literal["grant-approved", "grant-denied", "grant-ended", "request-lapsed"]
EVENT_TYPES: Final[tuple[EventType, ...]] = (
    "grant-approved",
    "grant-denied",
    "grant-ended",
    "request-lapsed",
)
#: The grant statuses that are told to the service, and the event each one becomes.
STATUS_EVENTS: Final[dict[str, EventType]] = {
    "approved": "grant-approved",
    "denied": "grant-denied",
    "ended": "grant-ended",
    "lapsed": "request-lapsed",
}
#: The JWS `typ` of a SET (RFC 8417 §2.3) and the media type it is pushed as (RFC 8935 §2).
SET_TYPE: Final = "secevent+jwt"
SET_MEDIA_TYPE: Final = "application/secevent+jwt"


def event_uri(event_type: EventType) -> str:
    return EVENT_BASE + event_type


# An RFC 8935 §2.3 error code is a short token; anything else is kept as "other".
_ERROR_CODE: Final = re.compile(r"^[a-z0-9_]{1,40}$")


def error_code(err: object) -> str:
    """A receiver's error code as the vault keeps it: a token of known shape, never free text
    (which could carry anything)."""
    return err if isinstance(err, str) and _ERROR_CODE.match(err) else "other"


# -- pushing ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Acknowledged:
    """The receiver took the SET (202, or 200 / 204)."""


@dataclass(frozen=True, slots=True)
class Refused:
    """The receiver refused the SET with an RFC 8935 §2.3 error: final, never retried."""

    err: str  # the error code only (invalid_key, invalid_audience, ...): no receiver text


@dataclass(frozen=True, slots=True)
class Retry:
    """Not delivered, for a reason that may pass (5xx, timeout, no answer)."""

    reason: str  # short and fixed in form ("HTTP 503", "timeout"): no receiver text


PushOutcome = Acknowledged | Refused | Retry


@dataclass(frozen=True, slots=True)
class PendingPush:
    """An event claimed for one push attempt: plain values that outlive the transaction.
    A SET carries `set_jwt`; a CIBA ping carries its opened `ping` secret instead."""

    event_id: uuid.UUID
    jti: str
    set_jwt: str | None
    endpoint: str
    attempt: int  # 1 for the first push
    created_at: datetime
    ping: PingSecret | None = None


@dataclass(frozen=True, slots=True)
class PushPolicy:
    """How often and how long to push.

    After the n-th failed attempt the next one waits `backoff * 2**(n-1)`, at most
    `backoff_max` (5 s, 10 s, 20 s, ... 1 h). When the next attempt would start later than
    `give_up_after` past the event's creation, pushing stops (the event can still be polled).
    Every event gets at least one attempt, however late. A claimed event is leased for
    `lease`: should the pusher die mid-push, another picks the event up after the lease, and
    no two pushers hold it at once as long as a push cannot outlast the lease (the HTTP
    poster bounds it; api/settings.py requires lease >= 4 x timeout).
    """

    batch: int = 50
    lease: timedelta = timedelta(seconds=60)
    backoff: timedelta = timedelta(seconds=5)
    backoff_max: timedelta = timedelta(hours=1)
    give_up_after: timedelta = timedelta(hours=24)

    def delay(self, attempt: int) -> timedelta:
        """The wait after failed attempt number `attempt` (1-based)."""
        exponent = min(max(attempt, 1) - 1, 40)  # 5 s * 2**40 is far past any cap
        return min(self.backoff * (1 << exponent), self.backoff_max)


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """What one delivery round did."""

    claimed: int = 0
    acknowledged: int = 0
    refused: int = 0
    retrying: int = 0
    gave_up: int = 0


# -- polling ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PollResult:
    sets: dict[str, str]  # jti -> SET, oldest first
    more_available: bool
