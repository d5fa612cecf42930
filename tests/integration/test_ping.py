"""CIBA ping mode (OpenID CIBA Core 1.0 §10.2) end to end: a ping-mode service asks over HTTP
with a client_notification_token; the resident answers; the pusher POSTs the auth_req_id with
the Bearer token to a real loopback receiver; the service redeems at the token endpoint and
reads. Also: the token is required, is never stored in plaintext, survives a process that
stops after the commit, and is retried on a failing receiver. And the same with the SDK on the
service side: `request_access(ping=True)`, `PingCallback.check` in the receiver, `poll`, read.
"""

from __future__ import annotations

import json
import secrets
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import ORIGIN
from fastapi.testclient import TestClient
from sqlalchemy import Connection, text
from sqlalchemy.orm import sessionmaker
from test_events import QUIET, REPO, Live, _regie, live_vault

import clients.sdk as sdk
from api.app import create_app
from api.bootstrap import build_container
from api.container import Container
from api.events.push import HttpxPingPoster, HttpxSetPoster
from api.settings import Settings
from support.clock import FakeClock
from support.residents import sign_up
from support.sdk_clients import KINDS, make_client
from support.service_client import ServiceAgent, details
from vault.errors import InvalidInput, NotFound
from vault.events.delivery import OutboxDelivery
from vault.events.model import PushPolicy
from vault.events.ping import MAX_TOKEN_LENGTH, notification_token


class PingReceiver:
    """A service's client notification endpoint on 127.0.0.1: records each ping, answers with
    the next status of `answers` (the last one repeats), or with what `check` says (given the
    request's headers, as http.server has them, and its body)."""

    def __init__(self, *answers: int, check: Callable[[Any, bytes], int] | None = None) -> None:
        self.answers = list(answers or (204,))
        self.check = check
        self.pings: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.pings.append(({k.lower(): v for k, v in self.headers.items()}, body))
                if receiver.check is not None:
                    status = receiver.check(self.headers, body)
                else:
                    status = (
                        receiver.answers.pop(0)
                        if len(receiver.answers) > 1
                        else receiver.answers[0]
                    )
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/ciba/ping"

    def __enter__(self) -> PingReceiver:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()


@dataclass
class World:
    c: Container
    client: TestClient
    clock: FakeClock
    agent: ServiceAgent
    receiver: PingReceiver
    anna_id: uuid.UUID
    subject: str


@pytest.fixture
def world(settings: Settings, connection: Connection) -> Iterator[World]:
    clock = FakeClock()
    factory = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    c = build_container(settings, session_factory=factory, clock=clock)
    with (
        PingReceiver(204) as receiver,
        TestClient(create_app(settings, container=c), base_url=ORIGIN) as client,
    ):
        agent = ServiceAgent(client, "huisarts-de-linde")
        clinic = c.services.add(
            operator="test-operator",
            name="Huisartsenpraktijk De Linde",
            organisation="ura:12345678",
            kind="care-provider",
            datatypes=["health.medication", "health.allergies"],
            actions=["read", "write"],
            jwks=agent.jwks,
            client_id=agent.client_id,
            backchannel_token_delivery_mode="ping",
            backchannel_client_notification_endpoint=receiver.url,
        )
        anna = sign_up(client, "Anna")
        anna_id = c.identity.authenticate(anna.token).resident_id
        subject = c.services.redeem(clinic, c.services.connection_code(anna_id)[0])
        yield World(c, client, clock, agent, receiver, anna_id, subject)


def ask(w: World, **fields: str) -> httpx.Response:
    form = w.agent.form(
        login_hint=w.subject,
        binding_message="Code 4711",
        authorization_details=details(),
        **fields,
    )
    return w.client.post("/oauth/bc-authorize", data=form)  # type: ignore[no-any-return]


def pusher(w: World, **policy: Any) -> OutboxDelivery:
    http = httpx.Client(timeout=5.0, follow_redirects=False)
    return OutboxDelivery(
        uow=w.c.uow,
        poster=HttpxSetPoster(http),
        pinger=HttpxPingPoster(http),
        sealer=w.c.event_delivery._sealer,  # the application's deployment sealer
        clock=w.clock,
        policy=PushPolicy(**policy),
    )


def pending_grant(w: World) -> uuid.UUID:
    return w.c.grants.pending(w.anna_id)[-1].grant_id


def test_metadata_offers_ping(world: World) -> None:
    meta = world.client.get("/.well-known/oauth-authorization-server").json()
    assert meta["backchannel_token_delivery_modes_supported"] == ["poll", "ping"]


def test_approve_pings_with_the_bearer_then_the_token_endpoint_gives_tokens_that_read(
    world: World,
) -> None:
    w = world
    record_id = w.c.records.create(
        w.anna_id,
        category="health",
        record_type="health.medication",
        title="Medicatieoverzicht",
        content={"metformine": "500 mg"},
    ).record_id
    token = secrets.token_urlsafe(32)
    asked = ask(w, client_notification_token=token)
    assert asked.status_code == 200, asked.text
    auth_req_id = asked.json()["auth_req_id"]
    assert pusher(w).run_once().claimed == 0  # nothing to ping before the answer
    w.c.grants.approve(w.anna_id, pending_grant(w))
    report = pusher(w).run_once()
    assert (report.claimed, report.acknowledged) == (1, 1)
    ((headers, body),) = w.receiver.pings
    assert headers["authorization"] == f"Bearer {token}"
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == {"auth_req_id": auth_req_id}
    assert pusher(w).run_once().claimed == 0  # delivered once
    tokens = w.agent.poll(auth_req_id)
    assert tokens.status_code == 200, tokens.text
    access = tokens.json()["access_token"]
    read = w.agent.call("GET", f"/v1/service/records/{record_id}", access)
    assert read.status_code == 200, read.text
    # The ping is no SET: it is not in the service's RFC 8936 feed.
    feed = w.client.post(
        "/v1/service/events",
        json={
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": w.agent.assertion(),
            "returnImmediately": True,
        },
    )
    assert feed.status_code == 200, feed.text
    assert len(feed.json()["sets"]) == 1  # the grant-approved SET only


def test_deny_pings_and_the_token_endpoint_says_access_denied(world: World) -> None:
    w = world
    token = secrets.token_urlsafe(32)
    auth_req_id = ask(w, client_notification_token=token).json()["auth_req_id"]
    w.c.grants.deny(w.anna_id, pending_grant(w))
    assert pusher(w).run_once().acknowledged == 1
    ((headers, body),) = w.receiver.pings
    assert headers["authorization"] == f"Bearer {token}"
    assert json.loads(body) == {"auth_req_id": auth_req_id}
    answer = w.agent.poll(auth_req_id)
    assert answer.json()["error"] == "access_denied"


def test_polling_meanwhile_still_works_for_a_ping_client_with_slow_down(world: World) -> None:
    w = world
    auth_req_id = ask(w, client_notification_token="tok-1").json()["auth_req_id"]
    assert w.agent.poll(auth_req_id).json()["error"] == "authorization_pending"
    assert w.agent.poll(auth_req_id).json()["error"] == "slow_down"


def test_an_expired_request_is_not_pinged_and_its_token_is_blanked(world: World) -> None:
    w = world
    ask(w, client_notification_token="tok-1")
    w.clock.advance(days=15)
    assert w.c.grants.sweep()["lapsed"] == 1
    assert pusher(w).run_once().claimed == 0
    assert w.receiver.pings == []
    with w.c.uow() as uow:
        assert uow.session.execute(text("SELECT ping_ct FROM grants")).scalars().all() == [None]


@pytest.mark.parametrize("value", [None, "", "x" * (MAX_TOKEN_LENGTH + 1), "has spaces", 'quote"d'])
def test_a_ping_request_without_a_good_token_is_refused(world: World, value: str | None) -> None:
    fields = {} if value is None else {"client_notification_token": value}
    answer = ask(world, **fields)
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_request"
    assert world.c.grants.pending(world.anna_id) == []


def test_the_token_rules() -> None:
    assert notification_token("ping", "a" * MAX_TOKEN_LENGTH) == "a" * MAX_TOKEN_LENGTH
    assert notification_token("ping", "abc-._~+/==") == "abc-._~+/=="
    assert notification_token("poll", "ignored") is None  # poll mode: ignored, never stored
    with pytest.raises(InvalidInput):
        notification_token("ping", "==")


def test_the_token_and_auth_req_id_are_never_stored_in_plaintext(world: World) -> None:
    w = world
    token = "NOTIFY" + secrets.token_hex(16)
    auth_req_id = ask(w, client_notification_token=token).json()["auth_req_id"]

    def dump() -> str:
        found = []
        with w.c.uow() as uow:
            for table in ("grants", "event_outbox", "grant_events", "access_events"):
                for row in uow.session.execute(text(f"SELECT * FROM {table}")):  # noqa: S608
                    for value in row:
                        found.append(value.hex() if isinstance(value, bytes) else str(value))
                        if isinstance(value, bytes):
                            found.append(value.decode("latin-1"))
        return "\n".join(found)

    for stage in ("pending", "answered", "delivered"):
        if stage == "answered":
            w.c.grants.approve(w.anna_id, pending_grant(w))
        if stage == "delivered":
            assert pusher(w).run_once().acknowledged == 1
        everything = dump()
        assert token not in everything, stage
        assert token.encode().hex() not in everything, stage
        assert auth_req_id not in everything, stage
    with w.c.uow() as uow:
        assert uow.session.execute(text("SELECT ping_ct FROM grants")).scalars().all() == [None]
        kinds = uow.session.execute(text("SELECT kind, ping_ct FROM event_outbox")).all()
    assert sorted(k for k, _ in kinds) == ["ping", "set"]
    assert [ct for _, ct in kinds] == [None, None]  # blanked once delivered


def test_a_failing_receiver_gets_the_ping_again_with_backoff(world: World) -> None:
    w = world
    w.receiver.answers = [503, 500, 204]
    ask(w, client_notification_token="tok-1")
    w.c.grants.approve(w.anna_id, pending_grant(w))
    p = pusher(w)
    assert p.run_once().retrying == 1
    w.clock.advance(seconds=4)
    assert p.run_once().claimed == 0  # 5 s backoff
    w.clock.advance(seconds=1)
    assert p.run_once().retrying == 1
    w.clock.advance(seconds=10)
    assert p.run_once().acknowledged == 1
    assert len(w.receiver.pings) == 3
    assert len({h["authorization"] for h, _ in w.receiver.pings}) == 1


def test_a_receiver_that_says_unauthorized_is_not_retried(world: World) -> None:
    w = world
    w.receiver.answers = [401]
    ask(w, client_notification_token="tok-1")
    w.c.grants.approve(w.anna_id, pending_grant(w))
    assert pusher(w).run_once().refused == 1
    w.clock.advance(hours=1)
    assert pusher(w).run_once().claimed == 0
    with w.c.uow() as uow:
        row = uow.session.execute(
            text("SELECT last_error, ping_ct FROM event_outbox WHERE kind = 'ping'")
        ).one()
    assert tuple(row) == ("refused: http_401", None)


def test_ping_mode_registration_needs_a_good_endpoint(world: World) -> None:
    base: dict[str, Any] = {
        "name": "Gemeente",
        "organisation": "oin:00000001234567890000",
        "kind": "municipality",
        "datatypes": ["health.medication"],
        "actions": ["read"],
        "jwks": world.agent.jwks,
    }
    for changes in (
        {"backchannel_token_delivery_mode": "ping"},  # no endpoint
        {"backchannel_client_notification_endpoint": "https://g.example/ping"},  # poll mode
        {"backchannel_token_delivery_mode": "push"},
        {
            "backchannel_token_delivery_mode": "ping",
            "backchannel_client_notification_endpoint": "http://g.example/ping",  # not https
        },
    ):
        with pytest.raises(InvalidInput):
            world.c.services.add(operator="test-operator", **base, **changes)


def test_an_update_keeps_the_registration_rules_and_changes_nothing_when_refused(
    world: World,
) -> None:
    w = world
    cid = w.agent.client_id
    before = w.c.services.by_client_id(cid)
    for changes in (
        {"backchannel_token_delivery_mode": "poll"},  # would keep a ping endpoint in poll mode
        {"backchannel_client_notification_endpoint": None},  # ping mode without an endpoint
        {"backchannel_token_delivery_mode": "push"},
        {"backchannel_client_notification_endpoint": "http://g.example/ping"},  # not https
        {"event_endpoint": "ftp://g.example/events"},
        {"redirect_uris": ["https://g.example/cb#frag"]},
        {"name": " "},
        {},  # nothing to change
        {"name": before.name},  # the same: nothing changes
    ):
        with pytest.raises(InvalidInput):
            w.c.services.update(cid, operator="test-operator", **changes)
    assert w.c.services.by_client_id(cid) == before
    with pytest.raises(NotFound):
        w.c.services.update("no-such-service", operator="test-operator", name="X")


def test_a_service_moved_to_poll_asks_without_a_token_and_one_moved_to_ping_is_pinged(
    world: World,
) -> None:
    w = world
    cid = w.agent.client_id
    polling = w.c.services.update(
        cid,
        operator="test-operator",
        backchannel_token_delivery_mode="poll",
        backchannel_client_notification_endpoint=None,
    )
    assert polling.backchannel_client_notification_endpoint is None
    asked = ask(w)  # no client_notification_token: fine in poll mode
    assert asked.status_code == 200, asked.text
    w.c.grants.approve(w.anna_id, pending_grant(w))
    pusher(w).run_once()  # no ping: the request was made in poll mode
    assert w.receiver.pings == []
    with PingReceiver(204) as elsewhere:
        w.c.services.update(
            cid,
            operator="test-operator",
            backchannel_token_delivery_mode="ping",
            backchannel_client_notification_endpoint=elsewhere.url,
        )
        token = secrets.token_urlsafe(32)
        auth_req_id = ask(w, client_notification_token=token).json()["auth_req_id"]
        w.c.grants.deny(w.anna_id, pending_grant(w))
        pusher(w).run_once()
        ((headers, body),) = elsewhere.pings  # pinged at the new endpoint, not the old one
    assert headers["authorization"] == f"Bearer {token}"
    assert json.loads(body) == {"auth_req_id": auth_req_id}
    assert w.receiver.pings == []


def approved_in_ping_mode(live: Live, receiver: PingReceiver, token: str) -> httpx.Response:
    """On a live vault: a clinic registered in ping mode at `receiver` asks Anna over HTTP
    with the client notification token `token`, and she approves. The request's answer."""
    c = live.c
    agent = ServiceAgent(live.client, "huisarts-de-linde")
    clinic = c.services.add(
        operator="test-operator",
        name="Huisartsenpraktijk De Linde",
        organisation="ura:12345678",
        kind="care-provider",
        datatypes=["health.medication"],
        actions=["read"],
        jwks=agent.jwks,
        client_id=agent.client_id,
        backchannel_token_delivery_mode="ping",
        backchannel_client_notification_endpoint=receiver.url,
    )
    anna = sign_up(live.client, "Anna")
    anna_id = c.identity.authenticate(anna.token).resident_id
    subject = c.services.redeem(clinic, c.services.connection_code(anna_id)[0])
    asked = live.client.post(
        "/oauth/bc-authorize",
        data=agent.form(
            login_hint=subject,
            authorization_details=details(actions=["read"], datatypes=["health.medication"]),
            client_notification_token=token,
        ),
    )
    assert asked.status_code == 200, asked.text
    c.grants.approve(anna_id, c.grants.pending(anna_id)[0].grant_id)
    return asked


def test_a_ping_committed_before_the_process_stopped_is_delivered_by_the_next(
    tmp_path: Path,
) -> None:
    """The answer commits and its process runs no pusher (as if it died right after the
    commit); a separate `regie events deliver --once` process started later delivers it."""
    with PingReceiver(204) as receiver, live_vault("sqlite", tmp_path, push=False) as live:
        asked = approved_in_ping_mode(live, receiver, "after-restart")
        assert receiver.pings == []
        done = subprocess.run(
            [*_regie(), "events", "deliver", "--once", "--json"],
            cwd=REPO,
            env=live.env,
            stdin=QUIET["stdin"],
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr.decode()
    ((headers, body),) = receiver.pings
    assert headers["authorization"] == "Bearer after-restart"
    assert json.loads(body) == {"auth_req_id": asked.json()["auth_req_id"]}


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_a_pusher_killed_mid_ping_is_replaced_and_the_ping_comes_again_then_is_blanked(
    kind: str, tmp_path: Path
) -> None:
    """The answer is committed, the pusher is killed -9 while its ping waits for the
    receiver's answer, then a new pusher starts: the ping comes again after the lease (a
    service takes a second ping for the same auth_req_id as a reason to poll once more), is
    recorded as delivered once, and its sealed token is blanked only then."""
    arrived, release = threading.Event(), threading.Event()

    def hold_the_first(headers: Any, body: bytes) -> int:
        if not arrived.is_set():
            arrived.set()
            release.wait(30)
        return 204

    settings = {"events_push_timeout_seconds": 2.0, "events_push_lease_seconds": 8.0}
    with (
        PingReceiver(check=hold_the_first) as receiver,
        live_vault(kind, tmp_path, push=False, **settings) as live,
    ):
        c = live.c
        asked = approved_in_ping_mode(live, receiver, "held-then-killed")

        def ping_row() -> tuple[Any, ...]:
            with c.uow() as uow:
                return tuple(
                    uow.session.execute(
                        text(
                            "SELECT delivered_at, attempts, ping_ct IS NOT NULL"
                            " FROM event_outbox WHERE kind = 'ping'"
                        )
                    ).one()
                )

        deliver = [*_regie(), "events", "deliver"]
        with subprocess.Popen(deliver, cwd=REPO, env=live.env, **QUIET) as first:
            try:
                assert arrived.wait(30), "the first pusher never pinged"
            finally:
                first.kill()  # SIGKILL while the ping waits for its answer
        assert first.returncode == -signal.SIGKILL
        release.set()
        assert ping_row()[::2] == (None, True)  # not recorded; the token still sealed
        with subprocess.Popen(deliver, cwd=REPO, env=live.env, **QUIET) as second:
            try:
                deadline = time.monotonic() + 30
                while ping_row()[0] is None:
                    assert time.monotonic() < deadline, "the second pusher never pinged"
                    time.sleep(0.05)
            finally:
                second.send_signal(signal.SIGTERM)
                second.wait(15)
        assert second.returncode == 0
        _, attempts, sealed = ping_row()
    assert (attempts, sealed) == (2, False)  # claimed by both; blanked once delivered
    assert [h["authorization"] for h, _ in receiver.pings] == ["Bearer held-then-killed"] * 2
    assert {json.loads(b)["auth_req_id"] for _, b in receiver.pings} == {
        asked.json()["auth_req_id"]
    }


@pytest.mark.parametrize("kind", KINDS)
def test_the_sdk_asks_with_ping_accepts_the_real_ping_then_redeems_and_reads(
    settings: Settings, connection: Connection, kind: str
) -> None:
    """The service side is the SDK only: it asks with `ping=True`, its notification endpoint
    (a real loopback server) checks each ping with `PingCallback`, answering 204 or the
    refusal's status; a forged ping is refused and the vault's genuine one accepted; then one
    `poll` gives the grant and the SDK reads."""
    clock = FakeClock()
    factory = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    c = build_container(settings, session_factory=factory, clock=clock)
    callback = sdk.PingCallback()
    accepted: list[sdk.AccessRequest] = []

    def check(headers: Any, body: bytes) -> int:
        try:
            accepted.append(callback.check(headers, body))
        except sdk.RegieError as refused:
            return refused.status or 400
        return 204

    key = sdk.ServiceKey.generate(kid="huisarts-de-linde-1")
    with (
        PingReceiver(check=check) as receiver,
        TestClient(create_app(settings, container=c), base_url=ORIGIN) as client,
    ):
        clinic = c.services.add(
            operator="test-operator",
            name="Huisartsenpraktijk De Linde",
            organisation="ura:12345678",
            kind="care-provider",
            datatypes=["health.medication"],
            actions=["read"],
            jwks=key.public_jwks(),
            client_id="huisarts-de-linde",
            backchannel_token_delivery_mode="ping",
            backchannel_client_notification_endpoint=receiver.url,
        )
        anna = sign_up(client, "Anna")
        anna_id = c.identity.authenticate(anna.token).resident_id
        subject = c.services.redeem(clinic, c.services.connection_code(anna_id)[0])
        record_id = c.records.create(
            anna_id,
            category="health",
            record_type="health.medication",
            title="Medicatieoverzicht",
            content={"metformine": "500 mg"},
        ).record_id
        with make_client(
            kind,
            ORIGIN,
            sync_transport=client._transport,
            async_transport=httpx.ASGITransport(app=client.app),
            client_id="huisarts-de-linde",
            key=key,
            clock=lambda: clock.now().timestamp(),
        ) as vault:
            request = vault.request_access(
                subject,
                datatypes=["health.medication"],
                actions=["read"],
                purpose="Medicatiebeoordeling",
                procedure="BEH-2026-0042",
                ping=True,
            )
            assert request.notification_token is not None
            callback.expect(request)
            # Someone who learnt the endpoint and the auth_req_id but not the token is refused.
            forged = httpx.post(
                receiver.url,
                json={"auth_req_id": request.auth_req_id},
                headers={"Authorization": "Bearer guessed"},
            )
            assert forged.status_code == 401
            assert accepted == []

            c.grants.approve(anna_id, c.grants.pending(anna_id)[0].grant_id)
            report = pusher_for(c, clock).run_once()
            assert (report.claimed, report.acknowledged) == (1, 1)  # the receiver said 204
            assert accepted == [request]
            headers, _ = receiver.pings[-1]
            assert headers["authorization"] == f"Bearer {request.notification_token}"

            grant = vault.poll(request)
            callback.discard(request)
            assert grant.datatypes == ("health.medication",)
            record = vault.read_record(grant, str(record_id))
            assert record.content == {"metformine": "500 mg"}


def pusher_for(c: Container, clock: FakeClock) -> OutboxDelivery:
    http = httpx.Client(timeout=5.0, follow_redirects=False)
    return OutboxDelivery(
        uow=c.uow,
        poster=HttpxSetPoster(http),
        pinger=HttpxPingPoster(http),
        sealer=c.event_delivery._sealer,
        clock=clock,
        policy=PushPolicy(),
    )
