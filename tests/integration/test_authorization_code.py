"""The browser flow over HTTP: pushed request (RFC 9126) -> the resident answers -> code + PKCE
(RFC 7636, S256) at the token endpoint, DPoP-bound tokens and the pairwise subject; and the
attacks on it: wrong or missing verifier, plain PKCE, a reused code (the grant ends), another
client's code, redirect_uri mismatches, reused, expired or foreign request_uris, widening at
approval, a DPoP key other than dpop_jkt, an expired code."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection
from sqlalchemy.orm import sessionmaker

from api.app import create_app
from api.bootstrap import build_container
from api.container import Container
from api.settings import Settings
from support import service_client
from support.clock import FakeClock
from support.passkeys import SoftPasskey
from support.residents import Resident, sign_up
from support.service_client import ServiceAgent, details

BASE = "http://localhost:8000"
REDIRECT = "https://kliniek.example/callback"


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode()
    return verifier, challenge.rstrip("=")


@dataclass
class Scene:
    client: TestClient
    c: Container
    clock: FakeClock
    clinic: ServiceAgent
    school: ServiceAgent
    anna: Resident
    verifier: str
    challenge: str

    def par(self, agent: ServiceAgent | None = None, **fields: Any) -> Any:
        agent = agent or self.clinic
        form: dict[str, Any] = {
            "response_type": "code",
            "client_id": agent.client_id,
            "redirect_uri": REDIRECT,
            "code_challenge": self.challenge,
            "code_challenge_method": "S256",
            "state": "st-123",
            "authorization_details": details(),
        }
        form.update(fields)
        return self.client.post(
            "/oauth/par", data=agent.form(**{k: v for k, v in form.items() if v is not None})
        )

    def request_uri(self, **fields: Any) -> str:
        pushed = self.par(**fields)
        assert pushed.status_code == 201, pushed.text
        return str(pushed.json()["request_uri"])

    def start(self, request_uri: str, client_id: str = "huisarts-de-linde") -> Any:
        return self.client.post(
            "/v1/me/authorizations",
            json={"client_id": client_id, "request_uri": request_uri},
            headers=self.anna.headers,
        )

    def approve(self, grant_id: str, **narrower: Any) -> Any:
        return self.client.post(
            f"/v1/me/authorizations/{grant_id}/approve", json=narrower, headers=self.anna.headers
        )

    def code(self, **fields: Any) -> str:
        started = self.start(self.request_uri(**fields))
        assert started.status_code == 201, started.text
        approved = self.approve(started.json()["grant_id"])
        assert approved.status_code == 200, approved.text
        return query(approved.json()["redirect_to"])["code"]

    def redeem(
        self,
        code: str,
        *,
        verifier: str | None = None,
        agent: ServiceAgent | None = None,
        redirect_uri: str = REDIRECT,
        proof: str | None = None,
    ) -> Any:
        agent = agent or self.clinic
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": verifier if verifier is not None else self.verifier,
        }
        return self.client.post(
            "/oauth/token",
            data=agent.form(**{k: v for k, v in form.items() if v}),
            headers={"DPoP": proof or agent.proof("POST", "/oauth/token")},
        )


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


@pytest.fixture
def scene(
    settings: Settings, connection: Connection, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Scene]:
    clock = FakeClock()
    # The service's assertions and proofs are dated by the same clock as the server.
    monkeypatch.setattr(
        service_client, "time", SimpleNamespace(time=lambda: clock.moment.timestamp())
    )
    factory = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    c = build_container(settings, session_factory=factory, clock=clock)
    with TestClient(create_app(settings, container=c), base_url=BASE) as client:
        clinic = ServiceAgent(client, "huisarts-de-linde")
        school = ServiceAgent(client, "school-regenboog")
        c.services.add(
            operator="test-operator",
            name="Huisartsenpraktijk De Linde",
            organisation="ura:12345678",
            kind="care-provider",
            datatypes=["health.medication", "health.allergies"],
            actions=["read", "write"],
            jwks=clinic.jwks,
            client_id=clinic.client_id,
            redirect_uris=[REDIRECT],
        )
        c.services.add(
            operator="test-operator",
            name="Basisschool De Regenboog",
            organisation="oin:00000001234567890000",
            kind="school",
            datatypes=["health.medication", "health.allergies"],
            actions=["read"],
            jwks=school.jwks,
            client_id=school.client_id,
            redirect_uris=["https://school.example/cb"],
        )
        anna = sign_up(client, "Anna")
        verifier, challenge = pkce()
        yield Scene(client, c, clock, clinic, school, anna, verifier, challenge)


def test_metadata_names_the_browser_flow(scene: Scene) -> None:
    meta = scene.client.get("/.well-known/oauth-authorization-server").json()
    assert meta["authorization_endpoint"] == f"{BASE}/oauth/authorize"
    assert meta["pushed_authorization_request_endpoint"] == f"{BASE}/oauth/par"
    assert meta["require_pushed_authorization_requests"] is True
    assert meta["response_types_supported"] == ["code"]
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["authorization_response_iss_parameter_supported"] is True
    assert "authorization_code" in meta["grant_types_supported"]


def test_happy_path_connects_and_issues_dpop_bound_tokens(scene: Scene) -> None:
    s = scene
    pushed = s.par(dpop_jkt=s.clinic.dpop_key.thumbprint())
    assert pushed.status_code == 201, pushed.text
    assert pushed.headers["cache-control"] == "no-store"
    body = pushed.json()
    assert body["request_uri"].startswith("urn:ietf:params:oauth:request_uri:")
    assert 60 <= body["expires_in"] <= 600
    started = s.start(body["request_uri"])
    assert started.status_code == 201, started.text
    assert started.json()["redirect_uri"] == REDIRECT
    grant_id = started.json()["grant_id"]
    shown = s.client.get(f"/v1/me/grants/{grant_id}", headers=s.anna.headers).json()
    assert shown["status"] == "requested"
    # Not among the requests waiting at home, and not approvable without issuing the code.
    assert s.client.get("/v1/me/requests", headers=s.anna.headers).json()["grants"] == []
    plain = s.client.post(f"/v1/me/grants/{grant_id}/approve", json={}, headers=s.anna.headers)
    assert plain.status_code == 409
    approved = s.approve(grant_id, datatypes=["health.medication"])  # narrower is fine
    assert approved.status_code == 200, approved.text
    target = approved.json()["redirect_to"]
    assert target.startswith(REDIRECT + "?")
    params = query(target)
    assert params["state"] == "st-123"
    assert params["iss"] == BASE
    assert params["code"].startswith("rac_")

    issued = s.redeem(params["code"])
    assert issued.status_code == 200, issued.text
    tokens = issued.json()
    assert tokens["token_type"] == "DPoP"
    assert tokens["authorization_details"][0]["datatypes"] == ["health.medication"]
    assert tokens["grant_id"] == grant_id
    sub = tokens["sub"]
    # Anna is now connected to the clinic under that pairwise subject: the same one a
    # connection code gives, and one the backchannel flow accepts as login_hint.
    code = s.client.post("/v1/me/connection-codes", headers=s.anna.headers).json()["code"]
    assert s.clinic.connect(code) == sub
    assert s.clinic.ask(sub, procedure={"ref": "BEH-2"}).status_code == 200

    record = s.client.post(
        "/v1/me/records",
        headers=s.anna.headers,
        json={
            "category": "health",
            "type": "health.medication",
            "title": "Medicatie",
            "content": {"a": 1},
        },
    ).json()["id"]
    read = s.clinic.call("GET", f"/v1/service/records/{record}", tokens["access_token"])
    assert read.status_code == 200, read.text
    refreshed = s.clinic.refresh(tokens["refresh_token"])
    assert refreshed.status_code == 200, refreshed.text


def test_deny_sends_access_denied_back(scene: Scene) -> None:
    s = scene
    grant_id = s.start(s.request_uri()).json()["grant_id"]
    denied = s.client.post(f"/v1/me/authorizations/{grant_id}/deny", headers=s.anna.headers)
    assert denied.status_code == 200, denied.text
    params = query(denied.json()["redirect_to"])
    assert params["error"] == "access_denied"
    assert params["state"] == "st-123"
    assert params["iss"] == BASE
    assert "code" not in params
    assert s.approve(grant_id).status_code == 409  # answered once


def test_pkce_attacks(scene: Scene) -> None:
    s = scene
    # Without PKCE, or with the plain method, the request is refused at the pushed request.
    missing = s.par(code_challenge=None, code_challenge_method=None)
    assert missing.status_code == 400
    assert missing.json()["error"] == "invalid_request"
    plain = s.par(code_challenge="a" * 43, code_challenge_method="plain")
    assert plain.status_code == 400
    assert "S256" in plain.json()["error_description"]
    no_method = s.par(code_challenge_method=None)  # the default method is plain: refused
    assert no_method.status_code == 400
    # A wrong verifier fails, and the code is used up: the right one no longer works.
    code = s.code()
    wrong = s.redeem(code, verifier=pkce()[0])
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "invalid_grant"
    assert s.redeem(code).json()["error"] == "invalid_grant"  # no second try
    # No verifier at all.
    code2 = s.code(authorization_details=details(procedure={"ref": "BEH-2"}))
    assert s.redeem(code2, verifier="").json()["error"] == "invalid_grant"


def test_reused_code_ends_the_grant_and_its_tokens(scene: Scene) -> None:
    s = scene
    code = s.code()
    first = s.redeem(code)
    assert first.status_code == 200, first.text
    again = s.redeem(code)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    grant = s.client.get(f"/v1/me/grants/{first.json()['grant_id']}", headers=s.anna.headers)
    assert grant.json()["status"] == "ended"
    assert grant.json()["end_reason"] == "token-reuse"
    listed = s.clinic.call("GET", "/v1/service/records", first.json()["access_token"])
    assert listed.status_code == 401
    assert s.clinic.refresh(first.json()["refresh_token"]).status_code == 400


def test_another_clients_code_and_redirect_mismatch(scene: Scene) -> None:
    s = scene
    code = s.code()
    stolen = s.redeem(code, agent=s.school, redirect_uri=REDIRECT)
    assert stolen.status_code == 400
    assert stolen.json()["error"] == "invalid_grant"
    # The other client's attempt did not touch the code: its own service still redeems it.
    assert s.redeem(code).status_code == 200
    # A redirect_uri other than the pushed one at the token endpoint.
    code2 = s.code(authorization_details=details(procedure={"ref": "BEH-2"}))
    other = s.redeem(code2, redirect_uri="https://kliniek.example/callback/")
    assert other.json()["error"] == "invalid_grant"
    # An unregistered redirect_uri at the pushed request (no prefix matching).
    for uri in (
        "https://evil.example/cb",
        REDIRECT + "x",
        REDIRECT + "?a=1",
        "https://school.example/cb",
    ):
        refused = s.par(redirect_uri=uri)
        assert refused.status_code == 400, uri
        assert refused.json()["error"] == "invalid_request"


def test_request_uri_is_single_use_bound_and_short_lived(scene: Scene) -> None:
    s = scene
    uri = s.request_uri()
    # Another client's id with this request_uri: refused, and it stays usable by its own.
    assert s.start(uri, client_id="school-regenboog").status_code == 422
    assert s.start(uri).status_code == 201
    assert s.start(uri).status_code == 422  # single use
    assert s.start("urn:ietf:params:oauth:request_uri:made-up").status_code == 422
    late = s.request_uri(authorization_details=details(procedure={"ref": "BEH-2"}))
    s.clock.advance(seconds=301)
    assert s.start(late).status_code == 422
    unused = s.request_uri(authorization_details=details(procedure={"ref": "BEH-3"}))
    s.clock.advance(seconds=301)
    assert s.c.grants.sweep()["requests_purged"] == 1  # the sweeper drops what nobody used
    assert s.start(unused).status_code == 422
    # Pushing a request_uri inside a pushed request is not allowed (RFC 9126 §2.1).
    assert s.par(request_uri=uri).json()["error"] == "invalid_request"


def test_widening_at_approval_is_refused(scene: Scene) -> None:
    s = scene
    grant_id = s.start(s.request_uri()).json()["grant_id"]
    wider = s.approve(grant_id, datatypes=["health.medication", "education.grades"])
    assert wider.status_code == 422
    assert s.approve(grant_id, actions=["read", "write", "delete"]).status_code == 422
    shown = s.client.get(f"/v1/me/grants/{grant_id}", headers=s.anna.headers).json()
    assert shown["status"] == "requested"
    # Beyond the service's ceiling is refused at the pushed request already.
    beyond = s.par(authorization_details=details(datatypes=["education.grades"]))
    assert beyond.status_code in (400, 403)
    # Another resident cannot answer Anna's request.
    bob = sign_up(s.client, "Bob")
    stolen = s.client.post(
        f"/v1/me/authorizations/{grant_id}/approve", json={}, headers=bob.headers
    )
    assert stolen.status_code == 404


def test_dpop_key_must_be_the_one_named_at_the_request(scene: Scene) -> None:
    s = scene
    code = s.code(dpop_jkt=s.clinic.dpop_key.thumbprint())
    other_key = ServiceAgent(s.client, "huisarts-de-linde").dpop_key
    refused = s.redeem(code, proof=s.clinic.proof("POST", "/oauth/token", key=other_key))
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_grant"
    assert "DPoP" in refused.json()["error_description"]
    assert s.par(dpop_jkt="not a thumbprint").status_code == 400


def test_expired_code(scene: Scene) -> None:
    s = scene
    code = s.code()
    s.clock.advance(seconds=61)
    late = s.redeem(code)
    assert late.status_code == 400
    assert late.json()["error"] == "invalid_grant"


def test_the_app_signs_in_shows_the_request_and_redirects(scene: Scene) -> None:
    s = scene
    uri = s.request_uri()
    page = f"/oauth/authorize?client_id=huisarts-de-linde&request_uri={uri}"
    s.client.cookies.clear()
    anonymous = s.client.get(page, follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/sign-in?next=%2Foauth%2Fauthorize")
    s.client.cookies.set("regie-session", "rgs_ended-long-ago")  # a session that has ended
    ended = s.client.get(page, follow_redirects=False)
    assert ended.status_code == 303
    assert ended.headers["location"] == anonymous.headers["location"]
    s.client.cookies.set("regie-session", s.anna.token)
    started = s.client.get(page, follow_redirects=False)
    assert started.status_code == 303, started.text
    consent_path = started.headers["location"]
    assert re.fullmatch(r"/authorize/[0-9a-f-]{36}", consent_path)
    assert s.client.get(page, follow_redirects=False).status_code == 400  # used up: kind page
    consent = s.client.get(consent_path)
    assert consent.status_code == 200
    assert "Huisartsenpraktijk De Linde" in consent.text
    assert (
        "form-action 'self' https://kliniek.example;" in consent.headers["content-security-policy"]
    )
    csrf = re.search(r'name="csrf" value="([^"]+)"', consent.text)
    assert csrf is not None
    answered = s.client.post(
        consent_path,
        data={"csrf": csrf.group(1), "decision": "approve", "datatypes": ["health.medication"]},
        headers={"Origin": BASE},
        follow_redirects=False,
    )
    assert answered.status_code == 303, answered.text
    target = answered.headers["location"]
    assert target.startswith(REDIRECT + "?")
    issued = s.redeem(query(target)["code"])
    assert issued.status_code == 200, issued.text
    assert issued.json()["authorization_details"][0]["datatypes"] == ["health.medication"]


def test_the_app_refuses_without_a_pushed_request(scene: Scene) -> None:
    s = scene
    s.client.cookies.set("regie-session", s.anna.token)
    for bad in (
        "/oauth/authorize?client_id=huisarts-de-linde&redirect_uri=https://evil.example/&response_type=code",
        "/oauth/authorize",
        "/oauth/authorize?client_id=huisarts-de-linde&request_uri=urn:ietf:params:oauth:request_uri:x",
    ):
        refused = s.client.get(bad, follow_redirects=False)
        assert refused.status_code == 400, bad
        assert "location" not in refused.headers
        assert "Deze link werkt niet" in refused.text


def _sign_up_in_app(client: TestClient, page: str, name: str, *, forged_next: str = "") -> str:
    """Sign up as the sign-up page's script does (options, the authenticator, the answer as a
    form field), from the page at `page`, sending the `next` of its passkey form (or
    `forged_next`): the recovery-codes page."""
    shown = client.get(page)
    assert shown.status_code == 200, shown.text
    passkey_form = re.search(r'<form method="post" action="/sign-up".*?</form>', shown.text, re.S)
    assert passkey_form is not None
    csrf = re.search(r'name="csrf" value="([^"]+)"', passkey_form.group(0))
    assert csrf is not None
    hidden = re.search(r'name="next" value="([^"]*)"', passkey_form.group(0))
    form = {"csrf": csrf.group(1), "display_name": name}
    if hidden is not None:
        form["next"] = html.unescape(hidden.group(1))
    if forged_next:
        form["next"] = forged_next
    ceremony = client.post("/sign-up/options", data=form).json()
    answer = SoftPasskey(BASE).create(ceremony["public_key"])
    done = client.post(
        "/sign-up",
        data={**form, "flow_id": ceremony["flow_id"], "credential": json.dumps(answer)},
    )
    assert done.status_code == 200, done.text
    assert "herstelcodes" in done.text.lower()
    return done.text


def _continue_link(codes_page: str) -> str:
    found = re.search(r'href="([^"]*)">Ik heb de codes bewaard', codes_page)
    assert found is not None
    return html.unescape(found.group(1))


def test_a_resident_without_an_account_signs_up_and_comes_back_to_the_request(
    scene: Scene,
) -> None:
    s = scene
    fields = {"client_id": "huisarts-de-linde", "request_uri": s.request_uri()}
    page = "/oauth/authorize?" + urlencode(fields)
    s.client.cookies.clear()
    sign_in = s.client.get(page, follow_redirects=False).headers["location"]
    shown = s.client.get(sign_in)
    # The sign-in page offers a vault to someone without one, and keeps where to go back to.
    link = re.search(r'href="(/sign-up\?next=[^"]+)"', shown.text)
    assert link is not None
    sign_up = html.unescape(link.group(1))
    assert query(sign_up)["next"] == page
    first = s.client.get(sign_up)
    assert "Maak eerst uw kluis. Daarna ziet u wat de dienst vraagt." in first.text
    signed_in = re.search(r'href="(/sign-in\?next=[^"]+)"', first.text)
    assert signed_in is not None  # and back to sign-in, still with the request
    assert query(html.unescape(signed_in.group(1)))["next"] == page
    codes = _sign_up_in_app(s.client, sign_up, "Dirk")
    assert "Daarna ziet u wat de dienst vraagt." in codes
    # The recovery codes first (shown once), then on to the request she came for.
    assert _continue_link(codes) == page
    started = s.client.get(page, follow_redirects=False)
    assert started.status_code == 303, started.text
    consent = s.client.get(started.headers["location"])
    assert consent.status_code == 200
    assert "Huisartsenpraktijk De Linde" in consent.text
    assert "Dirk" in s.client.get("/").text  # signed in as the new resident


@pytest.mark.parametrize(
    "evil",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example",
        "\\\\evil.example",
        "/\t/evil.example",
        "/\r\nLocation: https://evil.example",
        "javascript:alert(1)",
    ],
)
def test_next_never_leaves_the_site(scene: Scene, evil: str) -> None:
    s = scene
    s.client.cookies.clear()
    # Sign-up: the page keeps no such next, a forged form's is dropped: the codes lead home.
    page = s.client.get("/sign-up", params={"next": evil})
    assert _nexts(page.text) == ["/sign-up?" + urlencode({"next": evil})]  # the language form
    assert 'href="/sign-in"' in page.text
    s.client.cookies.clear()
    codes = _sign_up_in_app(s.client, "/sign-up", "Eva", forged_next=evil)
    assert _continue_link(codes) == "/"
    # Sign-in: neither the page nor the link to sign-up carries it.
    shown = s.client.get("/sign-in", params={"next": evil})
    assert _nexts(shown.text) == ["/sign-in?" + urlencode({"next": evil})]
    assert 'href="/sign-up"' in shown.text
    signed_in = s.client.post("/sign-in", data={"next": evil}, follow_redirects=False)
    assert "evil.example" not in signed_in.headers.get("location", "")


def _nexts(page: str) -> list[str]:
    """Every `next` a form on the page sends: the passkey form's, the language switch's."""
    return [html.unescape(v) for v in re.findall(r'name="next" value="([^"]*)"', page)]
