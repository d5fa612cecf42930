"""The two services most tests register: a care provider and a school."""

from __future__ import annotations

from typing import Any

from api.container import Container
from vault.services.service import ServiceInfo


def clinic_and_school(c: Container, jwks: dict[str, Any]) -> tuple[ServiceInfo, ServiceInfo]:
    """Huisartsenpraktijk De Linde (medication, allergies) and Basisschool De Regenboog
    (grades), both reading and writing, with the public keys `jwks`."""
    clinic = c.services.add(
        operator="test-operator",
        name="Huisartsenpraktijk De Linde",
        organisation="ura:12345678",
        kind="care-provider",
        datatypes=["health.medication", "health.allergies"],
        actions=["read", "write"],
        jwks=jwks,
    )
    school = c.services.add(
        operator="test-operator",
        name="Basisschool De Regenboog",
        organisation="oin:00000001234567890000",
        kind="school",
        datatypes=["education.grades"],
        actions=["read", "write"],
        jwks=jwks,
    )
    return clinic, school
