"""The async hot path on the real async drivers (psycopg async, aiosqlite), not on the test
adapter the rolled-back-transaction fixtures use: replay caches shared by workers, group
commit of access events (exactly one per attempt, durable before the answer), failing closed
when the log cannot be written, and a dead database connection answered with 503.

Each test builds a fresh, committed database (SQLite and PostgreSQL) and containers from
settings, as `regie serve` does; two containers on one database are two workers.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import PG_URL, Database, drop_database, new_database
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from api.app import create_app
from api.bootstrap import build_container
from api.container import Container
from api.settings import Settings
from support.residents import sign_up
from support.service_client import BASE, ServiceAgent
from vault.audit.events import AccessEvent, event_row
from vault.grants.tokens import token_hash
from vault.storage.async_uow import async_uow_factory
from vault.storage.engine import build_async_engines
from vault.storage.hot_path import HotPath, PsycopgHotPath, UowHotPath
from vault.storage.orm import AccessEventRow

CLIENT_ID = "clinic-hot-path"


@dataclass
class World:
    db: Database
    settings: Settings
    agent: ServiceAgent
    token: str
    path: str
    app_name: str
    built: list[Container]

    def container(self) -> Container:
        """A container (one worker's) on this database; its engines closed at the end."""
        c = build_container(self.settings)
        self.built.append(c)
        return c


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    db = new_database(request.param, tmp_path)
    app_name = f"regie_hot_{uuid.uuid4().hex[:8]}"
    url = db.url + (f"&application_name={app_name}" if db.kind == "postgresql" else "")
    settings = Settings(
        mode="development",
        data_dir=tmp_path / "var",
        database_url=url,
        public_url=BASE,
        events_push=False,
        sweep_interval_seconds=0,
    )
    built: list[Container] = []
    try:
        setup = build_container(settings)
        built.append(setup)
        with TestClient(create_app(settings, container=setup), base_url=BASE) as client:
            agent = ServiceAgent(client, CLIENT_ID)
            setup.services.add(
                operator="test-operator",
                name="Huisartsenpraktijk De Linde",
                organisation="ura:12345678",
                kind="care-provider",
                datatypes=["health.medication"],
                actions=["read"],
                jwks=agent.jwks,
                client_id=CLIENT_ID,
            )
            anna = sign_up(client, "Anna")
            made = client.post(
                "/v1/me/records",
                headers=anna.headers,
                json={
                    "category": "health",
                    "type": "health.medication",
                    "title": "Medicatieoverzicht",
                    "content": {"metformine": "500 mg"},
                },
            )
            code = client.post("/v1/me/connection-codes", headers=anna.headers).json()["code"]
            asked = agent.ask(
                agent.connect(code), datatypes=["health.medication"], actions=["read"]
            )
            grant = client.get("/v1/me/requests", headers=anna.headers).json()["grants"][0]
            client.post(f"/v1/me/grants/{grant['id']}/approve", json={}, headers=anna.headers)
            polled = agent.poll(asked.json()["auth_req_id"])
            assert polled.status_code == 200, polled.text
        yield World(
            db,
            settings,
            agent,
            polled.json()["access_token"],
            f"/v1/service/records/{made.json()['id']}",
            app_name,
            built,
        )
    finally:
        for c in built:
            if c.engine is not None:
                c.engine.dispose()
        drop_database(db)


def read_headers(w: World, proof: str | None = None) -> dict[str, str]:
    return {
        "Authorization": f"DPoP {w.token}",
        "DPoP": proof or w.agent.proof("GET", w.path, token=w.token),
    }


def access_events(w: World) -> Counter[tuple[str, str]]:
    engine = create_engine(w.db.url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(AccessEventRow.name, AccessEventRow.outcome, func.count()).group_by(
                    AccessEventRow.name, AccessEventRow.outcome
                )
            ).all()
    finally:
        engine.dispose()
    return Counter({(name, outcome): n for name, outcome, n in rows})


def test_a_proof_one_worker_accepted_is_refused_by_another(world: World) -> None:
    w = world
    proof = w.agent.proof("GET", w.path, token=w.token)
    one, other = w.container(), w.container()
    with TestClient(create_app(w.settings, container=one), base_url=BASE) as first:
        assert first.get(w.path, headers=read_headers(w, proof)).status_code == 200
    with TestClient(create_app(w.settings, container=other), base_url=BASE) as second:
        again = second.get(w.path, headers=read_headers(w, proof))
        assert again.status_code == 401
        assert again.json() == {
            "error": "invalid_dpop_proof",
            "error_description": "DPoP proof has been used before",
        }
        assert second.get(w.path, headers=read_headers(w)).status_code == 200  # a fresh one
    assert access_events(w)[("record.read", "permit")] == 2  # the replay left no event


def test_a_client_assertion_one_worker_accepted_is_refused_by_another(world: World) -> None:
    w = world
    assertion = w.agent.assertion()
    form = {
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion,
        "grant_type": "refresh_token",
        "refresh_token": "rrt_unknown",
    }
    one, other = w.container(), w.container()
    with TestClient(create_app(w.settings, container=one), base_url=BASE) as first:
        answer = first.post(
            "/oauth/token", data=form, headers={"DPoP": w.agent.proof("POST", "/oauth/token")}
        )
        assert answer.json()["error"] == "invalid_grant"  # authenticated; the token is unknown
    with TestClient(create_app(w.settings, container=other), base_url=BASE) as second:
        again = second.post(
            "/oauth/token", data=form, headers={"DPoP": w.agent.proof("POST", "/oauth/token")}
        )
        assert again.status_code == 401
        assert again.json()["error"] == "invalid_client"
        assert "already been used" in again.json()["error_description"]


async def _asgi_get(app: Any, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
    """One request straight into the ASGI app, so that many share one event loop."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"localhost:8000")]
        + [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    status, body = 0, b""
    received = False

    async def receive() -> dict[str, Any]:
        nonlocal received
        if received:
            await asyncio.sleep(3600)
        received = True
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status, body
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            body += message.get("body", b"")

    await app(scope, receive, send)
    return status, body


def test_concurrent_reads_share_commits_and_each_leaves_one_event(world: World) -> None:
    w = world
    c = w.container()
    app = create_app(w.settings, container=c)
    twice = w.agent.proof("GET", w.path, token=w.token)
    requests = [read_headers(w) for _ in range(40)] + [read_headers(w, twice)] * 2

    async def run() -> list[tuple[int, bytes]]:
        try:
            return await asyncio.gather(*(_asgi_get(app, w.path, h) for h in requests))
        finally:
            for engine in c.async_engines:
                await engine.dispose()

    answers = asyncio.run(run())
    statuses = Counter(status for status, _ in answers)
    assert statuses == {200: 41, 401: 1}  # the proof sent twice at once is served once
    assert all(b"metformine" in body for status, body in answers if status == 200)
    assert access_events(w)[("record.read", "permit")] == 41


def test_a_read_whose_access_event_cannot_be_written_fails_closed(world: World) -> None:
    w = world
    c = w.container()
    with TestClient(create_app(w.settings, container=c), base_url=BASE) as client:
        assert client.get(w.path, headers=read_headers(w)).status_code == 200
        engine = create_engine(w.db.url)
        try:
            with engine.begin() as conn:
                conn.execute(text("ALTER TABLE access_events RENAME TO access_events_away"))
            refused = client.get(w.path, headers=read_headers(w))
            assert refused.status_code == 503
            assert refused.headers["content-type"] == "application/problem+json"
            assert b"metformine" not in refused.content
        finally:
            with engine.begin() as conn:
                conn.execute(text("ALTER TABLE access_events_away RENAME TO access_events"))
            engine.dispose()
        assert client.get(w.path, headers=read_headers(w)).status_code == 200


@pytest.mark.postgres
def test_a_dead_database_connection_is_a_503_then_the_next_request_reconnects(
    world: World,
) -> None:
    w = world
    if w.db.kind != "postgresql":
        pytest.skip("PostgreSQL backends can be terminated; SQLite has none")
    c = w.container()
    with TestClient(create_app(w.settings, container=c), base_url=BASE) as client:
        assert client.get(w.path, headers=read_headers(w)).status_code == 200
        admin = create_engine(PG_URL)
        try:
            with admin.begin() as conn:
                killed = conn.execute(
                    text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                        " WHERE application_name = :name"
                    ),
                    {"name": w.app_name},
                ).scalar_one()
        finally:
            admin.dispose()
        assert killed >= 1  # only this test's own connections
        dead = client.get(w.path, headers=read_headers(w))
        assert dead.status_code == 503, dead.text
        assert dead.headers["content-type"] == "application/problem+json"
        assert dead.json()["type"].endswith("/problems/service-unavailable")
        assert client.get(w.path, headers=read_headers(w)).status_code == 200


def _hot_paths(w: World) -> tuple[list[HotPath], list[AsyncEngine]]:
    """The hot path this database runs on in production and, on PostgreSQL, the unit-of-work
    one beside it (the two must agree)."""
    writer, reader = build_async_engines(w.db.url)
    uow = UowHotPath(async_uow_factory(writer, reader))
    if reader is None:
        return [uow], [writer]
    return [PsycopgHotPath(reader, sibling=writer), uow], [writer, reader]


def test_the_hot_paths_read_the_same_row(world: World) -> None:
    w = world
    record_id = uuid.UUID(w.path.rsplit("/", 1)[1])

    async def run() -> list[Any]:
        paths, engines = _hot_paths(w)
        try:
            rows = [await p.token_and_record(token_hash(w.token), record_id) for p in paths]
            rows.append(await paths[0].token_and_record(token_hash(w.token), uuid.uuid4()))
            rows.append(await paths[0].token_and_record(token_hash("rg_at_nothing"), record_id))
            return rows
        finally:
            for engine in engines:
                await engine.dispose()

    *rows, other_record, no_token = asyncio.run(run())
    first = rows[0]._asdict()
    assert first["record_id"] == record_id
    assert first["version_content_ct"]
    assert first["token_expires_at"].utcoffset() == timedelta(0)  # UtcDateTime applied
    for row in rows[1:]:
        assert row._asdict() == first
    assert other_record.record_id is None
    assert other_record.token_kind == "access"
    assert no_token is None


def test_a_batch_writes_the_events_only_of_requests_whose_claims_were_all_new(
    world: World,
) -> None:
    w = world
    now = datetime.now(UTC)
    later = now + timedelta(minutes=5)
    resident = uuid.uuid4()

    def event(name: str) -> dict[str, Any]:
        return event_row(
            AccessEvent(resident_id=resident, name=name, outcome="permit", actor="service"), now
        )

    async def run() -> list[set[tuple[str, str]]]:
        paths, engines = _hot_paths(w)
        out = []
        try:
            for i, p in enumerate(paths):
                seen, new, also = f"seen-{i}", f"new-{i}", f"also-{i}"
                out.append(await p.claim_and_log([(0, "dpop", seen, later)], [], now))
                out.append(
                    await p.claim_and_log(
                        [
                            (0, "dpop", new, later),
                            (1, "dpop", also, later),
                            (1, "dpop", seen, later),  # seen before: owner 1 is a replay
                        ],
                        [
                            (0, event(f"fresh-{i}")),
                            (1, event(f"replayed-{i}")),
                            (2, event(f"none-{i}")),
                        ],
                        now,
                    )
                )
            return out
        finally:
            for engine in engines:
                await engine.dispose()

    results = asyncio.run(run())
    for i in range(len(results) // 2):
        assert results[2 * i] == {("dpop", f"seen-{i}")}
        assert results[2 * i + 1] == {("dpop", f"new-{i}"), ("dpop", f"also-{i}")}
        events = access_events(w)
        assert events[(f"fresh-{i}", "permit")] == 1
        assert events[(f"none-{i}", "permit")] == 1  # no claims: nothing to refuse it for
        assert (f"replayed-{i}", "permit") not in events
