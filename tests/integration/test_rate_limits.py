"""Rate limits (api/ratelimit.py) on a real app: guessing recovery codes is slowed per client
address and locks no one out; a service has a bucket of its own that no one else can empty;
the resident app is limited by its visitor's address and says so kindly; OAuth endpoints
refuse in RFC 6749 form. Every refusal is a 429 with Retry-After."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection
from sqlalchemy.orm import sessionmaker

from api.app import create_app
from api.bootstrap import build_container
from api.settings import Settings
from support.clock import FakeClock
from support.residents import sign_in, sign_up
from support.service_client import ServiceAgent, register_clinic_and_school
from vault.errors import StorageUnavailable

ORIGIN = "http://localhost:8000"
WRONG_CODE = "0000-0000-0000-0000"

Client = Callable[[str], TestClient]


@pytest.fixture
def at(settings: Settings, connection: Connection) -> Iterator[tuple[Client, object]]:
    """`at(address)`: a client of one app with rate limits on, from that address."""
    on = settings.model_copy(update={"rate_limits": True})
    factory = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    # Time stands still for the buckets (in the database table, on SQLite and PostgreSQL):
    # the bursts are exact however slow the machine is (the refill itself is tested in
    # tests/unit/test_ratelimit.py and tests/integration/test_rate_buckets.py).
    built = build_container(on, session_factory=factory, clock=FakeClock())
    app = create_app(on, container=built)
    clients: list[TestClient] = []

    def client(address: str) -> TestClient:
        c = TestClient(app, base_url=ORIGIN, client=(address, 40000))
        c.__enter__()
        clients.append(c)
        return c

    yield client, built
    for c in clients:
        c.__exit__(None, None, None)


def assert_too_many(answer: object, *, oauth: bool = False) -> None:
    status = getattr(answer, "status_code", None)
    assert status == 429, getattr(answer, "text", answer)
    headers = answer.headers  # type: ignore[attr-defined]
    assert int(headers["retry-after"]) >= 1
    body = answer.json()  # type: ignore[attr-defined]
    if oauth:
        assert body["error"] == "temporarily_unavailable"
    else:
        assert headers["content-type"] == "application/problem+json"
        assert body["type"] == f"{ORIGIN}/problems/too-many-requests"
        assert body["status"] == 429


def test_guessing_recovery_codes_is_slowed_and_locks_no_one_out(
    at: tuple[Client, object],
) -> None:
    client, _ = at
    home, attacker = client("192.0.2.10"), client("203.0.113.66")
    anna = sign_up(home, "Anna", origin=ORIGIN)
    for _ in range(5):  # the burst of the recovery rule
        assert attacker.post("/v1/auth/recovery", json={"code": WRONG_CODE}).status_code == 401
    assert_too_many(attacker.post("/v1/auth/recovery", json={"code": WRONG_CODE}))
    # Slowed, not decided: even a right code waits at that address.
    assert_too_many(attacker.post("/v1/auth/recovery", json={"code": anna.recovery_codes[0]}))
    # Anna is not locked out: her code works from her own address...
    mine = home.post("/v1/auth/recovery", json={"code": anna.recovery_codes[0]})
    assert mine.status_code == 200, mine.text
    # ... and her passkey from any address, the attacker's included (another rule).
    assert sign_in(attacker, anna)
    problem = attacker.get("/problems/too-many-requests")
    assert problem.status_code == 200


def test_passkey_sign_in_is_limited_per_address(at: tuple[Client, object]) -> None:
    client, _ = at
    busy, other = client("198.51.100.1"), client("198.51.100.2")
    answers = [busy.post("/v1/auth/passkeys/login/options") for _ in range(11)]
    assert [a.status_code for a in answers[:10]] == [200] * 10
    assert_too_many(answers[10])
    assert other.post("/v1/auth/passkeys/login/options").status_code == 200


def test_a_service_has_a_bucket_of_its_own(at: tuple[Client, object]) -> None:
    client, built = at
    first, second, third = client("192.0.2.1"), client("192.0.2.2"), client("192.0.2.3")
    clinic, school = register_clinic_and_school(built, first)
    clinic_elsewhere = ServiceAgent(second, clinic.client_id)
    clinic_elsewhere.key = clinic.key
    redeem = "/v1/service/connections"
    for agent in [clinic] * 10 + [clinic_elsewhere] * 10:  # the burst, from two addresses
        answer = agent.http.post(redeem, data=agent.form(code="WRONG-CODE"))
        assert answer.status_code == 400, answer.text  # invalid_grant: counted all the same
    # Each address has room left; the clinic has none.
    assert_too_many(
        clinic_elsewhere.http.post(redeem, data=clinic_elsewhere.form(code="X")), oauth=True
    )
    school_there = ServiceAgent(third, school.client_id)
    school_there.key = school.key
    assert third.post(redeem, data=school_there.form(code="X")).status_code == 400


def test_no_one_can_empty_another_services_bucket(at: tuple[Client, object]) -> None:
    client, built = at
    mine, theirs = client("192.0.2.20"), client("203.0.113.9")
    clinic, _ = register_clinic_and_school(built, mine)
    impostor = ServiceAgent(theirs, clinic.client_id)  # claims the clinic, has another key
    redeem = "/v1/service/connections"
    answers = [theirs.post(redeem, data=impostor.form(code="X")) for _ in range(25)]
    assert {a.status_code for a in answers[:20]} == {401}
    assert_too_many(answers[20])  # the impostor's address is limited...
    # ... and the clinic's own bucket was never touched: it authenticates and is answered.
    for _ in range(20):
        assert mine.post(redeem, data=clinic.form(code="X")).status_code == 400


def test_the_token_endpoint_refuses_in_oauth_form(at: tuple[Client, object]) -> None:
    client, _ = at
    busy = client("192.0.2.30")
    answers = [busy.post("/oauth/token", data={"grant_type": "x"}) for _ in range(101)]
    assert {a.status_code for a in answers[:100]} == {401}
    assert_too_many(answers[100], oauth=True)


def test_the_resident_app_is_limited_by_its_visitors_address(
    at: tuple[Client, object],
) -> None:
    client, _ = at
    attacker, neighbour = client("203.0.113.70"), client("203.0.113.71")

    def guess(app: TestClient) -> object:
        page = app.get("/recover")
        csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        return app.post("/recover", data={"csrf": csrf, "code": WRONG_CODE})

    assert [guess(attacker).status_code for _ in range(5)] == [401] * 5  # type: ignore[attr-defined]
    refused = guess(attacker)
    assert refused.status_code == 429  # type: ignore[attr-defined]
    assert "vaak geprobeerd" in refused.text  # type: ignore[attr-defined]
    assert "Uw gegevens zijn veilig" in refused.text  # type: ignore[attr-defined]
    # Another visitor of the app is not slowed by the first one.
    assert guess(neighbour).status_code == 401  # type: ignore[attr-defined]


class UnreachableBuckets:
    """The table's store when the database cannot be reached (the real outage is in
    tests/e2e/test_rate_limits_workers.py)."""

    async def take(self, bucket: str, **_: int) -> tuple[bool, int]:
        raise StorageUnavailable("the database cannot be reached")

    def sweep(self, **_: int) -> int:
        raise StorageUnavailable("the database cannot be reached")


def test_an_unreachable_store_fails_closed_never_500(at: tuple[Client, object]) -> None:
    client, built = at
    visitor = client("192.0.2.40")
    page = visitor.get("/recover")  # a GET: not limited, so the form is there
    csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    built.limiter.store = UnreachableBuckets()  # type: ignore[attr-defined]
    for path, kwargs in [
        ("/v1/auth/recovery", {"json": {"code": WRONG_CODE}}),
        ("/v1/auth/passkeys/login/options", {}),
        ("/oauth/token", {"data": {"grant_type": "x"}}),
    ]:
        answer = visitor.post(path, **kwargs)  # type: ignore[arg-type]
        assert answer.status_code == 503, (path, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["type"] == f"{ORIGIN}/problems/service-unavailable"
        assert answer.headers["retry-after"] == "5"
    # Not limited: answered as before.
    assert visitor.get("/v1/catalogue").status_code == 200
    # The resident app's in-process call is refused too, and the page says so kindly.
    refused = visitor.post("/recover", data={"csrf": csrf, "code": WRONG_CODE})
    assert refused.status_code == 503
    assert "Dat ligt niet aan u" in refused.text
