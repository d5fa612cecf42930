"""Telling services that access changed: Security Event Tokens (RFC 8417) written to a
transactional outbox with the change, pushed (RFC 8935) with retries, and pollable (RFC 8936).

    model.py       event types and their URIs, push outcomes, the push policy
    outbox.py      OutboxWriter: the signed SET, added in the caller's unit of work
    repository.py  SqlOutboxRepository: the event_outbox table's queries
    delivery.py    OutboxDelivery: claim due events, push them through a SetPoster, record
    feed.py        EventFeed: a service polls and acknowledges

HTTP lives in api/events/ (this package never imports httpx); docs/events.md is the contract
for services.
"""

from vault.events.delivery import OutboxDelivery, SetPoster
from vault.events.feed import EventFeed
from vault.events.model import (
    EVENT_BASE,
    EVENT_TYPES,
    SET_MEDIA_TYPE,
    SET_TYPE,
    Acknowledged,
    DeliveryReport,
    EventType,
    PollResult,
    PushOutcome,
    PushPolicy,
    Refused,
    Retry,
    error_code,
    event_uri,
)
from vault.events.outbox import OutboxWriter, SetSigner

__all__ = [
    "EVENT_BASE",
    "EVENT_TYPES",
    "SET_MEDIA_TYPE",
    "SET_TYPE",
    "Acknowledged",
    "DeliveryReport",
    "EventFeed",
    "EventType",
    "OutboxDelivery",
    "OutboxWriter",
    "PollResult",
    "PushOutcome",
    "PushPolicy",
    "Refused",
    "Retry",
    "SetPoster",
    "SetSigner",
    "error_code",
    "event_uri",
]
