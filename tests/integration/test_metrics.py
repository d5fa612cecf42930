"""`/metrics` (api/metrics.py): off unless a token is set, then only for that token; counts a
real flow's requests, grant checks and key cache lookups by route template and outcome; reads
the outbox and log backlog from the database; and never shows a path, an id or a secret.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlalchemy import func, select

from api.app import create_app
from api.container import Container
from api.settings import Settings
from support.log_flow import RecordingAgent, leaks, realistic_flow, resident_ids
from support.service_client import register_clinic_and_school
from vault.storage.orm import AccessEventRow, ResidentRow

ORIGIN = "http://localhost:8000"
TOKEN = "m" * 40
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(text: str, name: str, **labels: str) -> float:
    """The sum of `name` over the series whose labels include `labels`."""
    return sum(
        v
        for (n, ls), v in samples(text).items()
        if n == name and all((k, x) in ls for k, x in labels.items())
    )


@pytest.fixture
def metered(settings: Settings, container: Container) -> Iterator[tuple[TestClient, Container]]:
    on = settings.model_copy(
        update={"metrics_token": SecretStr(TOKEN), "audit_integrate_interval_seconds": 0}
    )
    built = container.__class__(**{**container.__dict__, "settings": on})
    with TestClient(create_app(on, container=built), base_url=ORIGIN) as c:
        yield c, built


def test_off_unless_a_token_is_set(client: TestClient) -> None:
    answer = client.get("/metrics", headers=AUTH)
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": f"Bearer {TOKEN}x"},
    ],
)
def test_only_for_the_token(metered: tuple[TestClient, Container], headers: dict[str, str]) -> None:
    http, _ = metered
    answer = http.get("/metrics", headers=headers)
    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/problem+json"
    assert "regie_" not in answer.text


def test_counts_a_real_flow_without_a_secret(
    metered: tuple[TestClient, Container], settings: Settings
) -> None:
    http, c = metered
    clinic, _ = register_clinic_and_school(c, http)
    agent = RecordingAgent(http, clinic.client_id)
    agent.key = clinic.key  # the registered key
    with TestClient(http.app, base_url=ORIGIN) as app:
        secrets = realistic_flow(http, app, agent, origin=ORIGIN)
    record_id = secrets["record id"]
    # One refused read: a record that is not there.
    token = secrets["access token"]
    missing = agent.call("GET", f"/v1/service/records/{record_id[:-4]}0000", token)
    assert missing.status_code == 404
    http.request("FOOBAR", "/healthz")

    answer = http.get("/metrics", headers=AUTH)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=")
    text = answer.text
    read_route = "/v1/service/records/{record_id}"
    assert (
        value(text, "regie_http_requests_total", method="GET", route=read_route, status="200") == 1
    )
    assert (
        value(text, "regie_http_requests_total", method="GET", route=read_route, status="404") == 1
    )
    assert value(text, "regie_http_request_duration_seconds_count", route=read_route) == 2
    assert value(text, "regie_http_requests_total", method="OTHER", route="/healthz") == 1
    assert value(text, "regie_http_requests_total", method="FOOBAR") == 0
    # The grant check: the read and the listing were allowed, the probe was refused.
    assert value(text, "regie_grant_checks_total", action="read", outcome="permit") == 1
    assert (
        value(text, "regie_grant_checks_total", action="read", outcome="deny", reason="no-grant")
        == 1
    )
    assert value(text, "regie_grant_checks_total", action="read", outcome="deny", reason="") == 0
    assert value(text, "regie_key_cache_lookups_total", result="hit") >= 1
    # No path, id or secret: not the record's id, not any token, code or name of the flow.
    with c.uow() as uow:
        secrets |= resident_ids(list(uow.session.scalars(select(ResidentRow.resident_id))))
    assert record_id not in text
    assert leaks(text, secrets) == []


def test_reads_the_backlog_from_the_database(metered: tuple[TestClient, Container]) -> None:
    http, c = metered
    clinic, _ = register_clinic_and_school(c, http)
    agent = RecordingAgent(http, clinic.client_id)
    agent.key = clinic.key  # the registered key
    with TestClient(http.app, base_url=ORIGIN) as app:
        realistic_flow(http, app, agent, origin=ORIGIN)

    before = http.get("/metrics", headers=AUTH).text
    waiting = value(before, "regie_audit_unintegrated_events")
    with c.uow() as uow:
        committed = uow.session.scalar(select(func.count()).select_from(AccessEventRow))
    # The integrator is off in this fixture: every event of the flow waits (request, approval,
    # the read).
    assert waiting == committed >= 3
    assert value(before, "regie_audit_integration_lag_seconds") >= 0
    assert value(before, "regie_audit_tree_size") == 0
    assert "regie_audit_checkpoint_age_seconds" not in before  # no checkpoint yet
    # The approval's event for the clinic: no event endpoint takes it, so it waits for a poll.
    assert value(before, "regie_outbox_pending_events") >= 1

    c.integrator.run_once()
    after = http.get("/metrics", headers=AUTH).text
    assert value(after, "regie_audit_unintegrated_events") == 0
    assert value(after, "regie_audit_integration_lag_seconds") == 0
    assert value(after, "regie_audit_tree_size") >= waiting
    assert 0 <= value(after, "regie_audit_checkpoint_age_seconds") < 60


def test_a_short_token_is_unsafe_in_production(settings: Settings) -> None:
    short = settings.model_copy(update={"metrics_token": SecretStr("short")})
    assert any("REGIE_METRICS_TOKEN" in r for r in short.unsafe_reasons())
    assert not any(
        "METRICS" in r
        for r in settings.model_copy(update={"metrics_token": SecretStr(TOKEN)}).unsafe_reasons()
    )
