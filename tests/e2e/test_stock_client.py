"""The whole service flow against a real server, the service side driven by a stock OAuth client.

The client is Authlib's httpx `OAuth2Client` with its own `private_key_jwt` client
authentication (`authlib.oauth2.rfc7523.PrivateKeyJWT`), used as its documentation shows and
never patched: Authlib signs every client assertion itself (typ JWT, aud the token endpoint,
one hour of lifetime, which REGIE_CLIENT_ASSERTION_MAX_LIFETIME_SECONDS allows by default).

What Authlib does not do is DPoP (RFC 9449): the test makes each proof with joserfc and hands it
to Authlib as an extra `DPoP` header, which is an ordinary argument, not a change to the client.
For the resource call Authlib cannot put the token in the request itself (it signs only
`Bearer` tokens and raises UnsupportedTokenTypeError for `token_type: DPoP`), so that request
goes out through the same client with `withhold_token=True` and the `Authorization: DPoP`
header set by the test.

The server is the real thing: `regie migrate`, `regie services add --jwks FILE`, and `regie
serve` (uvicorn) in a process group of its own on a free 127.0.0.1 port, with a fresh SQLite
data directory; the resident signs up with a software passkey over HTTP.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from joserfc import jwt
from joserfc.jwk import ECKey

from support.residents import sign_up

pytestmark = pytest.mark.slow

REGIE = Path(sys.executable).with_name("regie")
CLIENT_ID = "huisarts-de-linde"
CIBA = "urn:openid:params:grant-type:ciba"
CALLBACK = "https://kliniek.example/callback"
START_SECONDS = 30
# Authlib >= 1.8 prefers the httpx fork "httpx2" and warns, once, when its httpx integration is
# imported with plain httpx. design.md §4 keeps httpx: silence exactly that warning. (The import
# happens inside the test, so the warning cannot fire at collection, where marks do not apply.)
AUTHLIB_HTTPX_WARNING = (
    "ignore:The httpx module is deprecated; please use httpx2 instead."
    ":authlib.deprecate.AuthlibDeprecationWarning"
)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _environment(port: int, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGIE_")}
    env.update(
        REGIE_MODE="development",
        REGIE_DATA_DIR=str(data_dir),
        REGIE_PUBLIC_URL=f"http://localhost:{port}",
        REGIE_HOST="127.0.0.1",
        REGIE_PORT=str(port),
    )
    return env


def _regie(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [str(REGIE), *args],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, f"regie {' '.join(args)}: {done.stdout}{done.stderr}"
    return done.stdout


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's own process group, SIGKILL after 10 s."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@dataclass
class Server:
    base: str
    env: dict[str, str]
    data_dir: Path


@pytest.fixture
def service_key() -> ECKey:
    return ECKey.generate_key("P-256", parameters={"kid": f"{CLIENT_ID}-1"})


@pytest.fixture
def server(tmp_path: Path, service_key: ECKey) -> Iterator[Server]:
    """`regie migrate`, `regie services add`, then `regie serve` until the test is done."""
    port = _free_port()
    data_dir = tmp_path / "data"
    env = _environment(port, data_dir)
    _regie(env, "migrate")
    jwks = tmp_path / "clinic-jwks.json"
    public = {**service_key.as_dict(private=False), "alg": "ES256", "use": "sig"}
    jwks.write_text(json.dumps({"keys": [public]}))
    added = _regie(
        env,
        "services",
        "add",
        "--name",
        "Huisartsenpraktijk De Linde",
        "--organisation",
        "ura:12345678",
        "--kind",
        "care-provider",
        "--datatype",
        "health.medication",
        "--action",
        "read",
        "--jwks",
        str(jwks),
        "--client-id",
        CLIENT_ID,
        "--redirect-uri",
        CALLBACK,
        "--json",
    )
    assert json.loads(added)["client_id"] == CLIENT_ID

    log = tmp_path / "serve.log"
    base = f"http://localhost:{port}"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(REGIE), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + START_SECONDS
            while True:
                assert proc.poll() is None, "regie serve exited:\n" + log.read_text()
                try:
                    if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "no /healthz:\n" + log.read_text()
                time.sleep(0.2)
            yield Server(base, env, data_dir)
        except BaseException:
            print(f"\n--- regie serve ({log}) ---\n{log.read_text(errors='replace')[-4000:]}")
            raise
        finally:
            _stop(proc)


def dpop_proof(key: ECKey, method: str, url: str, *, token: str | None = None) -> str:
    """A DPoP proof (RFC 9449 §4.2): made by the test, since Authlib has no DPoP."""
    claims: dict[str, Any] = {
        "jti": str(uuid.uuid4()),
        "htm": method,
        "htu": url,
        "iat": int(time.time()),
    }
    if token is not None:
        digest = hashlib.sha256(token.encode()).digest()
        claims["ath"] = base64.urlsafe_b64encode(digest).decode().rstrip("=")
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": key.as_dict(private=False)}
    return jwt.encode(header, claims, key)


def authorization_details() -> str:
    return json.dumps(
        [
            {
                "type": "regie:records",
                "actions": ["read"],
                "datatypes": ["health.medication"],
                "purpose": {
                    "id": "https://w3id.org/dpv#ServiceProvision",
                    "text": "Medicatiebeoordeling voor uw behandeling",
                },
                "legal_basis": "https://w3id.org/dpv#Consent",
                "procedure": {"ref": "BEH-2026-0042"},
            }
        ]
    )


@pytest.mark.filterwarnings(AUTHLIB_HTTPX_WARNING)
def test_the_flow_with_authlibs_oauth2_client(server: Server, service_key: ECKey) -> None:
    from authlib.integrations.base_client import OAuthError
    from authlib.integrations.httpx_client import OAuth2Client

    base = server.base
    token_endpoint = f"{base}/oauth/token"

    # -- the resident: passkey sign-up, a record, a connection code (all over HTTP) ------------
    with httpx.Client(base_url=base, timeout=10) as http:
        anna = sign_up(http, "Anna", origin=base)  # type: ignore[arg-type]
        made = http.post(
            "/v1/me/records",
            headers=anna.headers,
            json={
                "category": "health",
                "type": "health.medication",
                "title": "Medicatieoverzicht",
                "content": {"metformine": "500 mg"},
            },
        )
        assert made.status_code == 201, made.text
        record_url = f"{base}/v1/service/records/{made.json()['id']}"
        code = http.post("/v1/me/connection-codes", headers=anna.headers).json()["code"]

        # -- the service: Authlib's client, configured as Authlib documents it ----------------
        dpop_key = ECKey.generate_key("P-256")
        client = OAuth2Client(
            client_id=CLIENT_ID,
            client_secret=service_key,  # PrivateKeyJWT takes a joserfc key object as it is
            token_endpoint_auth_method="private_key_jwt",
            revocation_endpoint_auth_method="private_key_jwt",
            timeout=10,
        )
        client.register_client_auth_method(PrivateKeyJWT(token_endpoint, alg="ES256"))
        with client:
            # Authlib's client authentication signs any request, not only the token endpoint's.
            client_auth = client.client_auth("private_key_jwt")
            connected = client.post(
                f"{base}/v1/service/connections", data={"code": code}, auth=client_auth
            )
            assert connected.status_code == 200, connected.text
            subject = connected.json()["subject"]

            asked = client.post(
                f"{base}/oauth/bc-authorize",
                data={
                    "login_hint": subject,
                    "binding_message": "Code 4711",
                    "authorization_details": authorization_details(),
                },
                auth=client.client_auth("private_key_jwt"),
            )
            assert asked.status_code == 200, asked.text
            auth_req_id = asked.json()["auth_req_id"]

            def poll() -> Any:
                return client.fetch_token(
                    token_endpoint,
                    grant_type=CIBA,
                    auth_req_id=auth_req_id,
                    headers={"DPoP": dpop_proof(dpop_key, "POST", token_endpoint)},
                )

            # Not answered yet: Authlib raises the OAuth error; the service retries later.
            with pytest.raises(OAuthError) as pending:
                poll()
            assert pending.value.error == "authorization_pending"

            waiting = http.get("/v1/me/requests", headers=anna.headers).json()["grants"]
            assert [g["service"]["name"] for g in waiting] == ["Huisartsenpraktijk De Linde"]
            approved = http.post(
                f"/v1/me/grants/{waiting[0]['id']}/approve", json={}, headers=anna.headers
            )
            assert approved.status_code == 200, approved.text

            token = poll()
            assert token["token_type"] == "DPoP"
            assert client.token["access_token"] == token["access_token"]
            assert token["authorization_details"][0]["datatypes"] == ["health.medication"]

            def read(access_token: str) -> httpx.Response:
                # withhold_token (an argument of Authlib's `request`): the client's own token
                # signing knows Bearer only, so the test sets the DPoP Authorization header.
                response: httpx.Response = client.request(
                    "GET",
                    record_url,
                    withhold_token=True,
                    headers={
                        "Authorization": f"DPoP {access_token}",
                        "DPoP": dpop_proof(dpop_key, "GET", record_url, token=access_token),
                    },
                )
                return response

            first = read(token["access_token"])
            assert first.status_code == 200, first.text
            assert first.json()["content"] == {"metformine": "500 mg"}

            refreshed = client.refresh_token(
                token_endpoint,
                refresh_token=token["refresh_token"],
                headers={"DPoP": dpop_proof(dpop_key, "POST", token_endpoint)},
            )
            assert refreshed["refresh_token"] != token["refresh_token"]
            assert read(refreshed["access_token"]).status_code == 200

            # Introspection and revocation, through Authlib's own RFC 7662 / RFC 7009 calls.
            introspected = client.introspect_token(
                f"{base}/oauth/introspect",
                token=refreshed["access_token"],
                token_type_hint="access_token",
            )
            assert introspected.status_code == 200, introspected.text
            facts = introspected.json()
            assert (facts["active"], facts["client_id"], facts["sub"]) == (True, CLIENT_ID, subject)
            assert facts["cnf"] == {"jkt": dpop_key.thumbprint()}

            revoked = client.revoke_token(
                f"{base}/oauth/revoke",
                token=refreshed["refresh_token"],
                token_type_hint="refresh_token",
            )
            assert revoked.status_code == 200, revoked.text
            assert read(refreshed["access_token"]).status_code == 401
            gone = client.introspect_token(
                f"{base}/oauth/introspect", token=refreshed["access_token"]
            )
            assert gone.json() == {"active": False}


@pytest.mark.filterwarnings(AUTHLIB_HTTPX_WARNING)
def test_the_code_flow_with_authlibs_oauth2_client(server: Server, service_key: ECKey) -> None:
    """Authorization code + PKCE with Authlib's client: Authlib makes the authorization
    request's parameters (state, S256 challenge) and redeems the code from the redirect URL
    with its own private_key_jwt. Authlib has no PAR call, so its parameters are posted to
    /oauth/par through the same client and its client authentication; the resident's part
    (what the browser would do) goes over the resident API."""
    from urllib.parse import parse_qsl, urlsplit

    from authlib.common.security import generate_token
    from authlib.integrations.httpx_client import OAuth2Client

    base = server.base
    token_endpoint = f"{base}/oauth/token"
    dpop_key = ECKey.generate_key("P-256")
    with httpx.Client(base_url=base, timeout=10) as http:
        anna = sign_up(http, "Anna", origin=base)  # type: ignore[arg-type]
        client = OAuth2Client(
            client_id=CLIENT_ID,
            client_secret=service_key,
            token_endpoint_auth_method="private_key_jwt",
            redirect_uri=CALLBACK,
            code_challenge_method="S256",
            timeout=10,
        )
        client.register_client_auth_method(PrivateKeyJWT(token_endpoint, alg="ES256"))
        with client:
            verifier = generate_token(48)
            url, state = client.create_authorization_url(
                f"{base}/oauth/authorize",
                code_verifier=verifier,
                authorization_details=authorization_details(),
            )
            params = dict(parse_qsl(urlsplit(url).query))
            assert params["code_challenge_method"] == "S256"
            pushed = client.post(
                f"{base}/oauth/par", data=params, auth=client.client_auth("private_key_jwt")
            )
            assert pushed.status_code == 201, pushed.text

            # The resident's browser, through the resident API the app uses.
            started = http.post(
                "/v1/me/authorizations",
                json={"client_id": CLIENT_ID, "request_uri": pushed.json()["request_uri"]},
                headers=anna.headers,
            )
            assert started.status_code == 201, started.text
            answered = http.post(
                f"/v1/me/authorizations/{started.json()['grant_id']}/approve",
                json={},
                headers=anna.headers,
            )
            assert answered.status_code == 200, answered.text
            back = answered.json()["redirect_to"]
            assert dict(parse_qsl(urlsplit(back).query))["iss"] == base

            token = client.fetch_token(
                token_endpoint,
                authorization_response=back,  # Authlib checks the state itself
                code_verifier=verifier,
                headers={"DPoP": dpop_proof(dpop_key, "POST", token_endpoint)},
            )
            assert state == dict(parse_qsl(urlsplit(back).query))["state"]
            assert token["token_type"] == "DPoP"
            assert token["sub"]
            assert token["authorization_details"][0]["datatypes"] == ["health.medication"]
