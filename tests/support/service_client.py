"""A service as the tests drive it: its signing key, client assertions and DPoP proofs."""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from typing import Any

from joserfc import jwt
from joserfc.jwk import ECKey

BASE = "http://localhost:8000"
CIBA = "urn:openid:params:grant-type:ciba"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def details(**changes: Any) -> str:
    d: dict[str, Any] = {
        "type": "regie:records",
        "actions": ["read", "write"],
        "datatypes": ["health.medication", "health.allergies"],
        "purpose": {
            "id": "https://w3id.org/dpv#ServiceProvision",
            "text": "Medicatiebeoordeling voor uw behandeling",
        },
        "legal_basis": "https://w3id.org/dpv#Consent",
        "procedure": {"ref": "BEH-2026-0042", "description": "Fysiotherapie knie"},
    }
    d.update(changes)
    return json.dumps([d])


class ServiceAgent:
    def __init__(self, http: Any, client_id: str, *, base: str = BASE) -> None:
        self.http = http
        self.client_id = client_id
        self.base = base
        self.key = ECKey.generate_key("P-256", parameters={"kid": f"{client_id}-1"})
        self.dpop_key = ECKey.generate_key("P-256")

    @property
    def jwks(self) -> dict[str, Any]:
        public = self.key.as_dict(private=False)
        return {"keys": [{**public, "kid": self.key.kid, "alg": "ES256", "use": "sig"}]}

    def assertion(
        self, *, aud: str | None = None, jti: str | None = None, lifetime: int = 60
    ) -> str:
        now = int(time.time())
        claims = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": aud or self.base,
            "jti": jti or str(uuid.uuid4()),
            "iat": now,
            "exp": now + lifetime,
        }
        return jwt.encode({"alg": "ES256", "kid": self.key.kid}, claims, self.key)

    def form(self, **fields: str) -> dict[str, str]:
        return {
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": self.assertion(),
            **fields,
        }

    def proof(
        self, method: str, path: str, *, token: str | None = None, key: ECKey | None = None
    ) -> str:
        signer = key or self.dpop_key
        claims: dict[str, Any] = {
            "jti": str(uuid.uuid4()),
            "htm": method,
            "htu": self.base + path,
            "iat": int(time.time()),
        }
        if token:
            claims["ath"] = (
                base64.urlsafe_b64encode(hashlib.sha256(token.encode()).digest())
                .decode()
                .rstrip("=")
            )
        header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": signer.as_dict(private=False)}
        return jwt.encode(header, claims, signer)

    # -- the flow ---------------------------------------------------------------------------

    def connect(self, code: str) -> str:
        response = self.http.post("/v1/service/connections", data=self.form(code=code))
        assert response.status_code == 200, response.text
        return str(response.json()["subject"])

    def ask(self, subject: str, **changes: Any) -> Any:
        return self.http.post(
            "/oauth/bc-authorize",
            data=self.form(
                login_hint=subject,
                binding_message="Code 4711",
                authorization_details=details(**changes),
            ),
        )

    def poll(self, auth_req_id: str, *, proof: str | None = None) -> Any:
        return self.http.post(
            "/oauth/token",
            data=self.form(grant_type=CIBA, auth_req_id=auth_req_id),
            headers={"DPoP": proof or self.proof("POST", "/oauth/token")},
        )

    def refresh(self, refresh_token: str) -> Any:
        return self.http.post(
            "/oauth/token",
            data=self.form(grant_type="refresh_token", refresh_token=refresh_token),
            headers={"DPoP": self.proof("POST", "/oauth/token")},
        )

    def call(
        self, method: str, path: str, token: str, *, key: ECKey | None = None, **kwargs: Any
    ) -> Any:
        headers = {
            "Authorization": f"DPoP {token}",
            "DPoP": self.proof(method, path, token=token, key=key),
        }
        return self.http.request(method, path, headers=headers, **kwargs)


def register_clinic_and_school(container: Any, http: Any) -> tuple[ServiceAgent, ServiceAgent]:
    """The two services most tests use, registered as `regie services add` would."""
    clinic = ServiceAgent(http, "huisarts-de-linde")
    school = ServiceAgent(http, "school-regenboog")
    container.services.add(
        operator="test-operator",
        name="Huisartsenpraktijk De Linde",
        organisation="ura:12345678",
        kind="care-provider",
        datatypes=["health.medication", "health.allergies"],
        actions=["read", "write"],
        jwks=clinic.jwks,
        client_id=clinic.client_id,
    )
    container.services.add(
        operator="test-operator",
        name="Basisschool De Regenboog",
        organisation="oin:00000001234567890000",
        kind="school",
        datatypes=["education.grades", "health.medication"],
        actions=["read", "write"],
        jwks=school.jwks,
        client_id=school.client_id,
    )
    return clinic, school
