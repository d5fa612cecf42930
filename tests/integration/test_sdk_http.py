"""The SDK's HTTP core against the real app, in-process: the API's errors arrive as the SDK's."""

from __future__ import annotations

import uuid

import anyio
import httpx
import pytest
from conftest import ORIGIN
from fastapi.testclient import TestClient

import clients.sdk as sdk
from clients.sdk._http import AsyncHttp


def test_real_problems_map_to_the_sdk_tree(client: TestClient) -> None:
    async def go() -> None:
        transport = httpx.ASGITransport(app=client.app)
        async with AsyncHttp(ORIGIN, transport=transport) as http:
            assert (await http.request("GET", "/healthz")).status_code == 200
            with pytest.raises(sdk.AuthError) as auth:
                await http.request("GET", "/v1/me")
            assert auth.value.code == "authentication-required"
            with pytest.raises(sdk.InvalidRequest) as invalid:
                await http.request(
                    "POST", "/v1/auth/passkeys/register/options", json={"display_name": ""}
                )
            assert invalid.value.errors[0]["loc"] == ["body", "display_name"]
            with pytest.raises(sdk.NotFound):
                await http.request("GET", f"/v1/nothing/{uuid.uuid4()}")
            with pytest.raises(sdk.AuthError) as oauth:
                await http.request("POST", "/oauth/token", data={"grant_type": "refresh_token"})
            assert (oauth.value.code, oauth.value.status) == ("invalid_client", 401)

    anyio.run(go)
