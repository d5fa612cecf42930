"""Health, readiness, discovery, OpenAPI and the security headers on every response."""

from __future__ import annotations

from fastapi.testclient import TestClient
from joserfc.jwk import KeySet


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"database": "ok", "keys": "ok"}}


def test_readiness_fails_closed_when_the_keyring_is_unsafe(client: TestClient, container) -> None:  # type: ignore[no-untyped-def]
    container.keyring.path.chmod(0o644)
    try:
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["keys"].startswith("unavailable")
    finally:
        container.keyring.path.chmod(0o600)


def test_jwks_is_public_and_importable(client: TestClient) -> None:
    response = client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/jwk-set+json"
    keys = response.json()["keys"]
    assert {k["alg"] for k in keys} == {"ES256", "Ed25519"}
    assert all("d" not in k for k in keys)
    KeySet.import_key_set(response.json())


def test_openapi_and_docs(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "/v1/me/records" in spec["paths"]
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()


def test_openapi_declares_regie_act_for_where_representatives_are_served(
    client: TestClient,
) -> None:
    """Routes built on `vault_subject` show the header; routes that refuse it do not."""
    paths = client.get("/openapi.json").json()["paths"]

    def headers(path: str, method: str) -> set[str]:
        params = paths[path][method].get("parameters", [])
        return {p["name"] for p in params if p["in"] == "header"}

    assert "Regie-Act-For" in headers("/v1/me/records", "get")
    assert "Regie-Act-For" in headers("/v1/me/records", "post")
    assert "Regie-Act-For" in headers("/v1/me/grants", "get")
    assert "Regie-Act-For" in headers("/v1/me/log/{event_id}/proof", "get")
    assert "Regie-Act-For" in headers("/v1/me/services/{service_id}/revoke", "post")
    assert "Regie-Act-For" in headers("/v1/me/procedures/{procedure_id}/close", "post")
    assert "Regie-Act-For" not in headers("/v1/me/authorizations", "post")
    assert "Regie-Act-For" not in headers("/v1/me", "get")
    assert "Regie-Act-For" not in headers("/v1/me/sessions", "get")


def test_security_headers_on_success_and_error(client: TestClient) -> None:
    # /nope is a resident app page (a kind 404): the app sends Referrer-Policy same-origin,
    # so that its own form posts carry their Origin (clients/app/security.py).
    for response in (client.get("/healthz"), client.get("/v1/me"), client.get("/nope")):
        h = response.headers
        assert h["x-content-type-options"] == "nosniff"
        assert h["x-frame-options"] == "DENY"
        app_page = response.headers["content-type"].startswith("text/html")
        assert h["referrer-policy"] == ("same-origin" if app_page else "no-referrer")
        assert h["cache-control"] == "no-store"
        assert "default-src 'none'" in h["content-security-policy"]
        assert "unsafe-inline" not in h["content-security-policy"]


def test_sign_up_fails_closed_with_503_when_the_keyring_is_unsafe(
    client: TestClient, container
) -> None:  # type: ignore[no-untyped-def]
    container.keyring.path.chmod(0o644)
    try:
        options = client.post("/v1/auth/passkeys/register/options", json={"display_name": "Anna"})
        assert options.status_code == 200  # no key is needed to start
        from support.passkeys import SoftPasskey

        done = client.post(
            "/v1/auth/passkeys/register/verify",
            json={
                "flow_id": options.json()["flow_id"],
                "display_name": "Anna",
                "credential": SoftPasskey().create(options.json()["public_key"]),
            },
        )
        assert done.status_code == 503
        assert done.headers["content-type"] == "application/problem+json"
        assert done.headers["retry-after"]
    finally:
        container.keyring.path.chmod(0o600)


def test_an_unexpected_error_is_a_500_problem_and_its_message_is_not_logged(
    settings, container, caplog, capsys
) -> None:  # type: ignore[no-untyped-def]
    from api.app import create_app

    app = create_app(settings, container=container)

    @app.get("/boom")
    def boom() -> None:
        raise ValueError("SECRET-RESIDENT-DATA")

    with TestClient(app, base_url="http://localhost:8000", raise_server_exceptions=True) as c:
        response = c.get("/boom")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("/problems/internal-error")
    assert "SECRET" not in response.text
    assert response.headers["x-content-type-options"] == "nosniff"
    logged = caplog.text + "".join(capsys.readouterr())
    assert "ValueError" in logged
    assert "SECRET-RESIDENT-DATA" not in logged


def test_key_backend_unavailable_fails_closed_and_recovers(client: TestClient, container) -> None:  # type: ignore[no-untyped-def]
    from support.residents import sign_up

    anna = sign_up(client, "Anna")
    made = client.post(
        "/v1/me/records",
        headers=anna.headers,
        json={"category": "health", "type": "health.medication", "title": "Lijst", "content": [1]},
    )
    assert made.status_code == 201, made.text
    path = f"/v1/me/records/{made.json()['id']}"
    container.keyring.path.chmod(0o644)
    try:
        # Data keys are cached per process for REGIE_DEK_CACHE_TTL_SECONDS; once it has passed
        # (here: the cache is emptied), nothing that needs a key is served.
        container.keys._cache.clear()
        refused = client.get(path, headers=anna.headers)
        assert refused.status_code == 503, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["type"].endswith("/service-unavailable")
        assert "Lijst" not in refused.text
        assert client.get("/readyz").status_code == 503
    finally:
        container.keyring.path.chmod(0o600)
    back = client.get(path, headers=anna.headers)
    assert back.status_code == 200
    assert back.json()["content"] == [1]
    assert client.get("/readyz").status_code == 200
