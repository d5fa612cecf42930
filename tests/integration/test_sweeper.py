"""The set-based sweeper (`GrantService.sweep`): batches, procedure ends, what each end writes,
all or nothing, and two sweepers at once. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import ORIGIN
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from test_events import (
    REF,
    BrokenSigner,
    FakeReceiver,
    World,
    ask,
    decoded,
    live_vault,
    outbox,
    receiver,
    spec,
    world,
)

from api.events.push import HttpxSetPoster
from support.residents import sign_up
from support.service_client import ServiceAgent
from vault.events.delivery import OutboxDelivery
from vault.events.model import PushPolicy
from vault.events.outbox import OutboxWriter
from vault.grants.service import GrantService
from vault.residents.keys import VaultKeys
from vault.services.service import ServiceRegistry
from vault.storage.orm import AccessEventRow, GrantEventRow, GrantRow, OAuthTokenRow, OutboxRow

__all__ = ["world"]  # the fixture, imported for pytest

JKT = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"


def with_tokens(w: World, **changes: Any) -> uuid.UUID:
    """A grant Anna approved for the clinic, redeemed for tokens (so there is something to
    revoke); `changes` go to the request."""
    accepted = w.c.grants.request(w.clinic, w.subject, spec(**changes))
    grant_id = w.c.grants.pending(w.anna_id)[-1].grant_id
    w.c.grants.approve(w.anna_id, grant_id)
    outcome = asyncio.run(w.c.grants.poll(w.clinic, accepted.auth_req_id, JKT))
    assert outcome.status == "approved"
    return grant_id


def expiring(w: World, n: int, *, hours: int = 1) -> list[uuid.UUID]:
    return [
        with_tokens(w, valid_until=w.clock.now() + timedelta(hours=hours), procedure_ref=f"P-{i}")
        for i in range(n)
    ]


def history(w: World, grant_id: uuid.UUID) -> list[tuple[int, str, str, str | None]]:
    with w.c.uow() as uow:
        rows = uow.session.execute(
            select(
                GrantEventRow.seq, GrantEventRow.status, GrantEventRow.actor, GrantEventRow.reason
            )
            .where(GrantEventRow.resident_id == w.anna_id, GrantEventRow.grant_id == grant_id)
            .order_by(GrantEventRow.seq)
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


def events_named(w: World, name: str) -> list[AccessEventRow]:
    with w.c.uow() as uow:
        rows = list(
            uow.session.scalars(
                select(AccessEventRow).where(
                    AccessEventRow.resident_id == w.anna_id, AccessEventRow.name == name
                )
            )
        )
        uow.session.expunge_all()
        return rows


def live_tokens(w: World, grant_id: uuid.UUID) -> int:
    with w.c.uow() as uow:
        return int(
            uow.session.scalar(
                select(func.count()).where(
                    OAuthTokenRow.resident_id == w.anna_id,
                    OAuthTokenRow.grant_id == grant_id,
                    OAuthTokenRow.revoked_at.is_(None),
                )
            )
            or 0
        )


def ended_sets(w: World) -> dict[str, dict[str, Any]]:
    """grant_id -> the claims of its grant-ended SET, as stored."""
    found = {}
    for row in outbox(w):
        if row.event_type == "grant-ended":
            assert row.set_claims is not None
            claims = json.loads(row.set_claims)
            (payload,) = claims["events"].values()
            assert payload["grant_id"] not in found  # one per grant
            found[payload["grant_id"]] = claims
    return found


# -- batches ----------------------------------------------------------------------------------


def test_batches_end_each_expired_grant_once_with_everything_an_end_writes(world: World) -> None:
    w = world
    grants = expiring(w, 5)
    later = with_tokens(w, valid_until=w.clock.now() + timedelta(hours=3), procedure_ref="later")
    assert w.c.grants.sweep(batch=2)["expired"] == 0  # nothing due yet
    w.clock.advance(hours=1)  # valid_until == now: due (the check refuses it from now on)
    assert [w.c.grants.sweep(batch=2)["expired"] for _ in range(4)] == [2, 2, 1, 0]
    sets = ended_sets(w)
    assert set(sets) == {str(g) for g in grants}
    for grant_id in grants:
        view = w.c.grants.get(w.anna_id, grant_id)
        assert (view.status, view.end_reason, view.ended_at) == ("ended", "expired", w.clock.now())
        steps = history(w, grant_id)
        assert [s[0] for s in steps] == list(range(1, len(steps) + 1))  # numbered on
        assert steps[-1][1:] == ("ended", "system", "expired")
        assert [s[1] for s in steps].count("ended") == 1
        assert live_tokens(w, grant_id) == 0
    ended = events_named(w, "grant.ended")
    assert Counter(e.grant_id for e in ended) == Counter(grants)  # one event per grant
    assert {(e.actor, e.reason, e.outcome, e.service_id) for e in ended} == {
        ("system", "expired", "done", w.clinic.service_id)
    }
    assert {e.purpose for e in ended} == {"https://w3id.org/dpv#ServiceProvision"}
    assert w.c.grants.get(w.anna_id, later).status == "approved"
    assert live_tokens(w, later) > 0


def test_the_sweepers_sets_carry_what_a_single_end_would_and_are_signed_at_delivery(
    world: World,
) -> None:
    w = world
    (grant_id,) = expiring(w, 1)
    with_tokens(w, valid_until=w.clock.now() + timedelta(hours=3), procedure_ref="later")
    w.c.event_feed.poll(w.clinic.service_id, ack=[r.jti for r in outbox(w)])  # the approvals
    w.clock.advance(hours=2)
    assert w.c.grants.sweep()["expired"] == 1
    (row,) = [r for r in outbox(w) if r.event_type == "grant-ended"]
    assert row.set_jwt is None  # not signed on the sweep's path
    claims = ended_sets(w)[str(grant_id)]
    assert claims["iss"] == ORIGIN
    assert claims["aud"] == w.clinic.client_id
    assert claims["iat"] == int(w.clock.now().timestamp())
    assert claims["jti"] == row.jti
    assert claims["events"] == {
        "https://regie.example/events/grant-ended": {
            "grant_id": str(grant_id),
            "subject": w.subject,
            "procedure": "P-0",
            "reason": "expired",
            "ended_at": w.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
    }
    assert str(w.anna_id) not in str(row.set_claims)
    assert w.anna_id.hex not in str(row.set_claims)
    # Pushed: signed at the claim, exactly these claims, and the same bytes on a retry.
    fake = FakeReceiver(httpx.Response(503), httpx.Response(202))
    http = httpx.Client(transport=httpx.MockTransport(fake), follow_redirects=False)
    pusher = OutboxDelivery(
        uow=w.c.uow,
        poster=HttpxSetPoster(http),
        clock=w.clock,
        signer=w.c.signing,
        policy=PushPolicy(backoff=timedelta(seconds=1)),
    )
    assert pusher.run_once().retrying == 1
    w.clock.advance(seconds=2)
    assert pusher.run_once().acknowledged == 1
    sent = [r.content.decode() for r in fake.requests if row.jti in decoded(r.content.decode())]
    assert len(sent) == 2  # refused with a 503, then taken
    assert sent[0] == sent[1]
    event = receiver(w, w.clinic).verify(sent[0])
    assert event.claims == claims
    (after,) = [r for r in outbox(w) if r.jti == row.jti]
    assert after.set_jwt == sent[0]


def test_a_sweepers_set_that_cannot_be_signed_waits_and_is_polled_signed_later(
    world: World,
) -> None:
    w = world
    (grant_id,) = expiring(w, 1)
    w.c.event_feed.poll(w.clinic.service_id, ack=[r.jti for r in outbox(w)])  # the approval
    w.clock.advance(hours=1)
    assert w.c.grants.sweep()["expired"] == 1
    fake = FakeReceiver(httpx.Response(202))
    http = httpx.Client(transport=httpx.MockTransport(fake), follow_redirects=False)
    broken = OutboxDelivery(
        uow=w.c.uow, poster=HttpxSetPoster(http), clock=w.clock, signer=BrokenSigner()
    )
    assert broken.run_once().retrying == 1  # nothing sent, nothing lost
    assert fake.requests == []
    (row,) = [r for r in outbox(w) if r.event_type == "grant-ended"]
    assert (row.set_jwt, row.delivered_at) == (None, None)
    sets = w.c.event_feed.poll(w.clinic.service_id).sets  # the feed signs it
    event = receiver(w, w.clinic).verify(sets[row.jti])
    assert event.payload["grant_id"] == str(grant_id)


def test_one_batch_shares_one_txn(world: World) -> None:
    w = world
    expiring(w, 3)
    w.clock.advance(hours=1)
    assert w.c.grants.sweep()["expired"] == 3
    assert len({c["txn"] for c in ended_sets(w).values()}) == 1


# -- procedures past their planned end --------------------------------------------------------


def test_a_procedure_past_its_planned_end_ends_its_grants_and_lapses_its_requests(
    world: World,
) -> None:
    w = world
    end = w.clock.now() + timedelta(days=2)
    first = with_tokens(w, procedure_planned_end=end)
    second = with_tokens(
        w, procedure_planned_end=end, valid_until=w.clock.now() + timedelta(days=1)
    )
    pending = ask(w, procedure_planned_end=end, valid_until=w.clock.now() + timedelta(days=30))
    other = with_tokens(w, procedure_ref="other", procedure_planned_end=end + timedelta(days=1))
    w.clock.advance(days=2)  # `second` expired yesterday, but its procedure's end wins
    counts = w.c.grants.sweep()
    assert (counts["procedures_closed"], counts["expired"]) == (1, 0)
    for grant_id in (first, second):
        view = w.c.grants.get(w.anna_id, grant_id)
        assert (view.status, view.end_reason) == ("ended", "procedure-closed")
        assert (view.procedure.status, view.procedure.closed_by) == ("closed", "planned-end")
        assert history(w, grant_id)[-1][1:] == ("ended", "system", "procedure-closed")
        assert live_tokens(w, grant_id) == 0
    assert w.c.grants.get(w.anna_id, pending).status == "lapsed"
    assert history(w, pending)[-1][1:] == ("lapsed", "system", "procedure-closed")
    assert w.c.grants.get(w.anna_id, other).status == "approved"
    (closed,) = events_named(w, "procedure.closed")
    assert (closed.actor, closed.reason, closed.service_id) == (
        "system",
        "planned-end",
        w.clinic.service_id,
    )
    assert Counter(e.grant_id for e in events_named(w, "grant.ended")) == Counter([first, second])
    assert [e.grant_id for e in events_named(w, "grant.lapsed")] == [pending]
    sets = ended_sets(w)
    assert set(sets) == {str(first), str(second)}
    for claims in sets.values():
        (payload,) = claims["events"].values()
        assert (payload["reason"], payload["procedure"]) == ("procedure-closed", REF)
    assert [r.event_type for r in outbox(w)].count("request-lapsed") == 1
    assert w.c.grants.sweep()["procedures_closed"] == 0  # closed once
    assert len(events_named(w, "procedure.closed")) == 1


# -- all or nothing ---------------------------------------------------------------------------


class FailingRegistry:
    """The real registry, except that the `n`-th pairwise subject fails: the SETs are the last
    thing a batch writes, so the grants, their history, tokens and events are in by then."""

    def __init__(self, real: ServiceRegistry, n: int) -> None:
        self._real = real
        self._left = n

    def subject(self, service_id: uuid.UUID, resident_id: uuid.UUID) -> str:
        self._left -= 1
        if self._left == 0:
            raise OSError("the key that derives subjects cannot be read")
        return self._real.subject(service_id, resident_id)


def test_a_failure_mid_batch_leaves_nothing_half_written(world: World) -> None:
    w = world
    grants = expiring(w, 4)
    w.clock.advance(hours=1)
    before = outbox(w)
    failing = GrantService(
        uow=w.c.uow,
        keys=VaultKeys(w.c.keys),
        registry=w.c.services,
        tokens=w.c.tokens,
        clock=w.clock,
        events=OutboxWriter(
            signer=w.c.signing,
            registry=FailingRegistry(w.c.services, 3),  # type: ignore[arg-type]
            issuer="https://vault.example",
        ),
    )
    with pytest.raises(OSError, match="subjects"):
        failing.sweep()
    for grant_id in grants:
        view = w.c.grants.get(w.anna_id, grant_id)
        assert (view.status, view.end_reason, view.ended_at) == ("approved", None, None)
        assert "ended" not in [s[1] for s in history(w, grant_id)]
        assert live_tokens(w, grant_id) > 0
    assert events_named(w, "grant.ended") == []
    assert [r.jti for r in outbox(w)] == [r.jti for r in before]
    assert w.c.grants.sweep()["expired"] == 4  # and the next sweep does it all
    assert len(events_named(w, "grant.ended")) == 4


class _RepeatedIds:
    """`uuid` for vault/events/outbox.py whose uuid4 keeps giving one id: the outbox rows of a
    batch then share an `event_id` and a `jti` (one already taken), which the table refuses."""

    UUID = uuid.UUID

    def __init__(self, taken: str) -> None:
        self._id = uuid.UUID(taken)

    def uuid4(self) -> uuid.UUID:
        return self._id


def test_outbox_rows_the_database_refuses_fail_the_whole_batch(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The SETs are the batch's last write (a COPY on PostgreSQL): when the table refuses
    them, the grants' ends, history steps, token revocations and access events, all written
    by then, go with them (I2: no end without its event and its notice)."""
    w = world
    grants = expiring(w, 3)
    w.clock.advance(hours=1)
    before = outbox(w)
    monkeypatch.setattr("vault.events.outbox.uuid", _RepeatedIds(before[0].jti))
    with pytest.raises(IntegrityError):
        w.c.grants.sweep()
    monkeypatch.undo()
    for grant_id in grants:
        view = w.c.grants.get(w.anna_id, grant_id)
        assert (view.status, view.end_reason) == ("approved", None)
        assert "ended" not in [s[1] for s in history(w, grant_id)]
        assert live_tokens(w, grant_id) > 0
    assert events_named(w, "grant.ended") == []
    assert [r.jti for r in outbox(w)] == [r.jti for r in before]
    assert w.c.grants.sweep()["expired"] == 3
    assert set(ended_sets(w)) == {str(g) for g in grants}


# -- two sweepers at once -----------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_concurrent_sweepers_end_and_tell_each_grant_once(kind: str, tmp_path: Path) -> None:
    """Four sweepers with their own connections and small batches, all at once, over grants
    that are all due: each grant is ended, logged and told exactly once (SKIP LOCKED and the
    UPDATE's status guard on PostgreSQL, IMMEDIATE transactions on SQLite)."""
    n = 40
    with live_vault(kind, tmp_path, push=False) as live:
        c = live.c
        clinic = c.services.add(
            name="Huisartsenpraktijk De Linde",
            organisation="ura:12345678",
            kind="care-provider",
            datatypes=["health.medication"],
            actions=["read"],
            jwks=ServiceAgent(live.client, "huisarts-de-linde").jwks,
            event_endpoint="https://linde.example/regie/events",
            client_id="huisarts-de-linde",
            operator="test-operator",
        )
        anna_id = c.identity.authenticate(sign_up(live.client, "Anna").token).resident_id
        subject = c.services.redeem(clinic, c.services.connection_code(anna_id)[0])
        for i in range(n):
            c.grants.request(clinic, subject, spec(procedure_ref=f"P-{i}"))
            c.grants.approve(anna_id, c.grants.pending(anna_id)[0].grant_id)
        with c.uow() as uow:  # all due now (the real clock: moved by hand)
            uow.session.execute(
                update(GrantRow).values(valid_until=c.clock.now() - timedelta(minutes=1))
            )
            uow.commit()
        start = threading.Barrier(4)
        ended: list[int] = []
        failures: list[BaseException] = []

        def sweep() -> None:
            try:
                start.wait(10)
                while (done := c.grants.sweep(batch=3)["expired"]) > 0:
                    ended.append(done)
            except BaseException as e:  # noqa: BLE001 - reported below
                failures.append(e)

        threads = [threading.Thread(target=sweep) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert failures == []
        assert sum(ended) == n
        with c.uow() as uow:
            steps = Counter(
                uow.session.scalars(
                    select(GrantEventRow.grant_id).where(GrantEventRow.status == "ended")
                )
            )
            logged = Counter(
                uow.session.scalars(
                    select(AccessEventRow.grant_id).where(AccessEventRow.name == "grant.ended")
                )
            )
            told = Counter(
                json.loads(claims)["events"]["https://regie.example/events/grant-ended"]["grant_id"]
                for claims in uow.session.scalars(
                    select(OutboxRow.set_claims).where(OutboxRow.event_type == "grant-ended")
                )
            )
            statuses = set(uow.session.scalars(select(GrantRow.status)))
        assert statuses == {"ended"}
        assert len(steps) == n
        assert set(steps.values()) == {1}
        assert len(logged) == n
        assert set(logged.values()) == {1}
        assert len(told) == n
        assert set(told.values()) == {1}
