"""A realistic flow that handles every kind of secret, for the tests that grep the logs for
them (tests/integration/test_flow_logs.py in process, tests/e2e/test_server_logs.py on a real
`regie serve`).

The flow: a resident signs up (passkey, recovery codes), writes a record holding a distinctive
plaintext marker, makes a connection code; a service connects, asks, and after approval
redeems, refreshes and reads with DPoP (and fails once with a wrong token); the resident
recovers a session with a recovery code and reads the record; another resident signs up in
the resident app (a session cookie, CSRF tokens) and opens their data page.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from support.passkeys import SoftPasskey
from support.residents import sign_up
from support.service_client import ServiceAgent

# The routes the flow requests; a capture that misses one of these did not see the flow.
FLOW_ROUTES = {
    ("POST", "/v1/me/records"),
    ("POST", "/oauth/token"),
    ("GET", "/v1/service/records/{record_id}"),
    ("GET", "/v1/me/records/{record_id}"),
    ("POST", "/v1/auth/recovery"),
    ("GET", "/data"),
}


class RecordingAgent(ServiceAgent):
    """A service that remembers every client assertion and DPoP proof it sent."""

    def __init__(self, http: Any, client_id: str, **kwargs: Any) -> None:
        super().__init__(http, client_id, **kwargs)
        self.sent: list[str] = []

    def assertion(self, **kwargs: Any) -> str:
        value = super().assertion(**kwargs)
        self.sent.append(value)
        return value

    def proof(self, method: str, path: str, **kwargs: Any) -> str:
        value = super().proof(method, path, **kwargs)
        self.sent.append(value)
        return value


def leaks(text: str, secrets: dict[str, str]) -> list[str]:
    """The names of the secrets that occur in `text`."""
    return sorted(name for name, value in secrets.items() if value in text)


def resident_ids(ids: list[uuid.UUID]) -> dict[str, str]:
    """Residents' internal ids as secrets, in the two spellings a log could carry."""
    secrets = {}
    for i, resident_id in enumerate(ids):
        secrets[f"resident id {i}"] = str(resident_id)
        secrets[f"resident id {i} (hex)"] = resident_id.hex
    return secrets


def realistic_flow(http: Any, app: Any, agent: RecordingAgent, *, origin: str) -> dict[str, str]:
    """Drive the flow (module docstring) through `http` (the API) and `app` (a second client,
    for the resident app's cookies); `agent` is registered. Every secret and identifier it
    handled, by name."""
    secrets: dict[str, str] = {}
    anna = sign_up(http, "Anna Marker-Naam", origin=origin)
    secrets["display name"] = "Anna Marker-Naam"
    secrets["session token"] = anna.token
    for i, code in enumerate(anna.recovery_codes):
        secrets[f"recovery code {i}"] = code
    marker = f"PLAINTEXT-MARKER-{uuid.uuid4().hex}"
    secrets["record plaintext"] = marker
    secrets["record title"] = f"Titel {marker[-12:]}"
    body = {
        "category": "health",
        "type": "health.medication",
        "title": secrets["record title"],
        "content": {"note": marker},
    }
    assert marker in json.dumps(body)  # the marker really is in what we send
    made = http.post("/v1/me/records", headers=anna.headers, json=body)
    assert made.status_code == 201, made.text
    record_id = made.json()["id"]
    secrets["record id"] = record_id
    code = http.post("/v1/me/connection-codes", headers=anna.headers).json()["code"]
    secrets["connection code"] = code

    subject = agent.connect(code)
    secrets["pairwise subject"] = subject
    asked = agent.ask(subject)
    assert asked.status_code == 200, asked.text
    secrets["auth_req_id"] = asked.json()["auth_req_id"]
    (waiting,) = http.get("/v1/me/requests", headers=anna.headers).json()["grants"]
    secrets["grant id"] = waiting["id"]
    approved = http.post(f"/v1/me/grants/{waiting['id']}/approve", json={}, headers=anna.headers)
    assert approved.status_code == 200, approved.text
    issued = agent.poll(asked.json()["auth_req_id"])
    assert issued.status_code == 200, issued.text
    secrets["first access token"] = issued.json()["access_token"]
    secrets["first refresh token"] = issued.json()["refresh_token"]
    refreshed = agent.refresh(issued.json()["refresh_token"])
    assert refreshed.status_code == 200, refreshed.text
    token = refreshed.json()["access_token"]
    secrets["access token"] = token
    secrets["refresh token"] = refreshed.json()["refresh_token"]
    read = agent.call("GET", f"/v1/service/records/{record_id}", token)
    assert read.status_code == 200, read.text
    assert read.json()["content"] == {"note": marker}  # the plaintext went through the app
    assert agent.call("GET", "/v1/service/records", token + "x").status_code == 401

    recovered = http.post("/v1/auth/recovery", json={"code": anna.recovery_codes[0]})
    assert recovered.status_code == 200, recovered.text
    secrets["recovery session"] = recovered.json()["session_token"]
    own = http.get(f"/v1/me/records/{record_id}", headers=anna.headers)
    assert own.json()["content"] == {"note": marker}

    page = app.get("/sign-up")
    csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    secrets["csrf token"] = csrf
    started = app.post("/sign-up/options", data={"csrf": csrf, "display_name": "Bram"})
    assert started.status_code == 200, started.text
    ceremony = started.json()
    done = app.post(
        "/sign-up",
        data={
            "csrf": csrf,
            "display_name": "Bram",
            "flow_id": ceremony["flow_id"],
            "credential": json.dumps(SoftPasskey(origin).create(ceremony["public_key"])),
        },
    )
    assert done.status_code == 200, done.text
    cookie = next(c.value for c in app.cookies.jar if c.name == "regie-session")
    secrets["session cookie"] = cookie
    data = app.get("/data")
    assert (data.status_code, data.url.path) == (200, "/data")  # signed in: no redirect

    for i, sent in enumerate(agent.sent):
        secrets[f"assertion or DPoP proof {i}"] = sent
    return secrets
