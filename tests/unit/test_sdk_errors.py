"""The SDK's HTTP core: every error response becomes the right error, sync and async alike."""

from __future__ import annotations

import json
import types
from typing import Any

import anyio
import httpx
import pytest

import clients.sdk as sdk
from api.errors import PROBLEMS
from clients.sdk import _errors
from clients.sdk._http import AsyncHttp, SyncHttp, checked_base_url

BASE = "http://localhost:8000"


def answering(status: int, body: Any = None, *, headers: dict[str, str] | None = None) -> Any:
    def handler(request: httpx.Request) -> httpx.Response:
        if body is None:
            return httpx.Response(status, headers=headers)
        if isinstance(body, bytes):
            return httpx.Response(status, content=body, headers=headers)
        return httpx.Response(status, json=body, headers=headers)

    return handler


def problem(slug: str, status: int, **extra: Any) -> dict[str, Any]:
    return {
        "type": f"{BASE}/problems/{slug}",
        "title": "t",
        "status": status,
        "detail": "d",
        **extra,
    }


def sync_error(status: int, body: Any = None, **kw: Any) -> sdk.RegieError:
    http = SyncHttp(BASE, transport=httpx.MockTransport(answering(status, body, **kw)))
    with pytest.raises(sdk.RegieError) as caught:
        http.request("GET", "/x")
    return caught.value


def async_error(status: int, body: Any = None, **kw: Any) -> sdk.RegieError:
    async def go() -> sdk.RegieError:
        http = AsyncHttp(BASE, transport=httpx.MockTransport(answering(status, body, **kw)))
        try:
            await http.request("GET", "/x")
        except sdk.RegieError as e:
            return e
        finally:
            await http.aclose()
        raise AssertionError("no error raised")

    return anyio.run(go)


@pytest.fixture(params=["sync", "async"])
def error_of(request: pytest.FixtureRequest) -> Any:
    return sync_error if request.param == "sync" else async_error


def test_every_problem_type_of_the_api_is_mapped() -> None:
    # A new problem type in api/errors.py must get its place in the SDK's tree.
    assert set(PROBLEMS) <= set(_errors.PROBLEM_SLUGS)


@pytest.mark.parametrize(
    ("slug", "status", "cls"),
    [
        ("not-found", 404, sdk.NotFound),
        ("vault-deleted", 410, sdk.VaultDeleted),
        ("conflict", 409, sdk.Conflict),
        ("invalid-request", 422, sdk.InvalidRequest),
        ("authentication-required", 401, sdk.AuthError),
        ("reauthentication-required", 403, sdk.ReauthenticationRequired),
        ("access-denied", 403, sdk.AccessDenied),
        ("grant-ended", 403, sdk.GrantEnded),
        ("service-unavailable", 503, sdk.Unavailable),
        ("internal-error", 500, sdk.ServerError),
    ],
)
def test_problem_json_maps_by_type(error_of: Any, slug: str, status: int, cls: type) -> None:
    e = error_of(status, problem(slug, status, reason="grant-expired"))
    assert type(e) is cls
    assert (e.status, e.code, e.detail, e.reason) == (status, slug, "d", "grant-expired")


def test_grant_ended_is_an_access_denied(error_of: Any) -> None:
    e = error_of(403, problem("grant-ended", 403))
    assert isinstance(e, sdk.AccessDenied)


@pytest.mark.parametrize(
    ("code", "status", "cls"),
    [
        ("invalid_client", 401, sdk.AuthError),
        ("invalid_dpop_proof", 401, sdk.AuthError),
        ("access_denied", 403, sdk.AccessDenied),
        ("expired_token", 400, sdk.RequestExpired),
        ("authorization_pending", 400, sdk.AuthorizationPending),
        ("slow_down", 400, sdk.SlowDown),
        ("invalid_grant", 400, sdk.InvalidRequest),
    ],
)
def test_oauth_errors_map_by_code(error_of: Any, code: str, status: int, cls: type) -> None:
    e = error_of(status, {"error": code, "error_description": "why"})
    assert type(e) is cls
    assert (e.code, e.detail) == (code, "why")


def test_unknown_bodies_fall_back_on_the_status(error_of: Any) -> None:
    assert type(error_of(404, b"<html>gone</html>")) is sdk.NotFound
    assert type(error_of(502, b"bad gateway")) is sdk.ServerError
    assert type(error_of(418, {"what": "teapot"})) is sdk.RegieError


def test_invalid_request_carries_the_field_errors(error_of: Any) -> None:
    errors = [{"loc": ["body", "title"], "msg": "too long", "type": "string_too_long"}]
    e = error_of(422, problem("invalid-request", 422, errors=errors))
    assert e.errors == errors


def test_unavailable_says_when_to_retry(error_of: Any) -> None:
    e = error_of(503, problem("service-unavailable", 503), headers={"Retry-After": "7"})
    assert isinstance(e, sdk.Unavailable)
    assert e.retry_after == 7.0
    e = error_of(503, problem("service-unavailable", 503), headers={"Retry-After": "Wed, 1"})
    assert isinstance(e, sdk.Unavailable)
    assert e.retry_after is None


def test_transport_failures_are_transport_errors() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    http = SyncHttp(BASE, transport=httpx.MockTransport(refuse))
    with pytest.raises(sdk.TransportError) as caught:
        http.request("GET", "/healthz")
    assert isinstance(caught.value.__cause__, httpx.ConnectError)


def test_success_passes_through_and_paths_join_the_base() -> None:
    seen: list[str] = []

    def ok(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json={"ok": True})

    with SyncHttp(BASE + "/", transport=httpx.MockTransport(ok)) as http:
        assert http.request("GET", "/healthz").json() == {"ok": True}
    assert seen == [f"{BASE}/healthz"]


def test_streamed_error_bodies_are_read_before_mapping() -> None:
    body = json.dumps(problem("not-found", 404)).encode()
    http = SyncHttp(BASE, transport=httpx.MockTransport(answering(404, body)))
    with pytest.raises(sdk.NotFound), http.stream("GET", "/file"):
        pass


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://vault.example.nl", True),
        ("http://localhost:8000", True),
        ("http://127.0.0.1:8000", True),
        ("http://vault.example.nl", False),
        ("ftp://vault.example.nl", False),
        ("vault.example.nl", False),
    ],
)
def test_plain_http_only_to_loopback(url: str, ok: bool) -> None:
    if ok:
        assert checked_base_url(url) == url
    else:
        with pytest.raises(ValueError, match="http"):
            checked_base_url(url)
    assert checked_base_url("http://vault.test", allow_http=True) == "http://vault.test"


def test_public_names_are_exported() -> None:
    # Public submodules (clients.sdk.service, .events) are importable as modules; the names
    # are what `__all__` lists.
    public = {
        name
        for name in dir(sdk)
        if not name.startswith("_") and not isinstance(getattr(sdk, name), types.ModuleType)
    } - {"annotations"}
    assert set(sdk.__all__) == public


def test_event_poll_errors_map_by_err(error_of: Any) -> None:
    # RFC 8935 §2.3 / RFC 8936 §2.4.4 bodies, as /v1/service/events answers.
    e = error_of(401, {"err": "authentication_failed", "description": "bad assertion"})
    assert (type(e), e.code, e.detail) == (sdk.AuthError, "authentication_failed", "bad assertion")
    e = error_of(400, {"err": "invalid_request", "description": "maxEvents"})
    assert (type(e), e.code) == (sdk.InvalidRequest, "invalid_request")


def test_send_returns_error_responses_for_the_caller_to_read() -> None:
    body = {"error": "use_dpop_nonce", "error_description": "nonce"}
    http = SyncHttp(BASE, transport=httpx.MockTransport(answering(400, body)))
    response = http.send("POST", "/oauth/token")
    assert response.status_code == 400
    assert _errors.OAUTH_ERRORS["use_dpop_nonce"] is sdk.AuthError


def test_transport_errors_never_repeat_a_query() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    http = SyncHttp(BASE, transport=httpx.MockTransport(refuse))
    with pytest.raises(sdk.TransportError) as caught:
        http.send("GET", "/v1/things?token=secret")
    assert "secret" not in str(caught.value)
    assert "/v1/things" in str(caught.value)
