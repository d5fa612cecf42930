"""Registered services, their keys and ceilings, and how residents connect to them.

A service sees a resident only as a pairwise subject: a keyed hash of (service, resident)
under a deployment secret, so two services cannot correlate a resident and neither learns the
resident's internal id (invariant I4). A resident connects by giving a service a one-time
connection code (15 minutes, single use); the service redeems it for the subject.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from keys.secrets import KeyedHasher
from vault.audit.events import AccessEvent, operator_event, record
from vault.codes import CODE_ALPHABET, CODE_LIFETIME, code_hash, new_code
from vault.errors import AuthenticationFailed, Conflict, InvalidInput, NotFound
from vault.grants.policy import ACTIONS
from vault.ports import Clock
from vault.records.catalogue import TYPES
from vault.representation.acting import ActingFor
from vault.storage.orm import ConnectionCodeRow, ServiceConnectionRow, ServiceRow
from vault.storage.unit_of_work import SqlUnitOfWork, UnitOfWorkFactory

KINDS = ("school", "municipality", "care-provider", "other")
# How a service learns a CIBA request was answered (OpenID CIBA §4; push is not offered).
DELIVERY_MODES = ("poll", "ping")
ORGANISATION_SCHEMES = {
    "oin": re.compile(r"^\d{20}$"),  # Organisatie-identificatienummer (Logius)
    "kvk": re.compile(r"^\d{8}$"),  # Kamer van Koophandel
    "ura": re.compile(r"^\d{8}$"),  # UZI-register abonneenummer (care providers)
}
SUBJECT_PURPOSE = "pairwise-subject"
CODE_PURPOSE = "connection-code"


class Unchanged:
    """The default of `ServiceRegistry.update`'s endpoints: keep the value (None clears it)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "UNCHANGED"


UNCHANGED = Unchanged()


@dataclass(frozen=True, slots=True)
class ServiceInfo:
    service_id: uuid.UUID
    client_id: str
    name: str
    organisation: str  # "oin:00000001234567890000"
    kind: str
    jwks: dict[str, Any] | None
    jwks_uri: str | None
    event_endpoint: str | None
    backchannel_token_delivery_mode: str  # poll | ping (OpenID CIBA §4)
    backchannel_client_notification_endpoint: str | None  # ping mode only (CIBA §10.2)
    ceiling_datatypes: frozenset[str]
    ceiling_actions: frozenset[str]
    active: bool
    created_at: datetime
    # Exact redirect URIs for the authorization code flow (RFC 6749 §3.1.2); empty: none.
    redirect_uris: tuple[str, ...] = ()


# What `ServiceRegistry.update` may change, with the word its log entry's `reason` names it by
# when it does (comma-separated; the column holds 48 characters).
_UPDATABLE = {
    "name": "name",
    "event_endpoint": "events",
    "backchannel_token_delivery_mode": "mode",  # nosec B105 - a field name and its short word
    "backchannel_client_notification_endpoint": "ping",
    "redirect_uris": "redirects",
}


def service_info(row: ServiceRow) -> ServiceInfo:
    return ServiceInfo(
        service_id=row.service_id,
        client_id=row.client_id,
        name=row.name,
        organisation=f"{row.organisation_scheme}:{row.organisation_id}",
        kind=row.kind,
        jwks=json.loads(row.jwks) if row.jwks else None,
        jwks_uri=row.jwks_uri,
        event_endpoint=row.event_endpoint,
        backchannel_token_delivery_mode=row.backchannel_token_delivery_mode,
        backchannel_client_notification_endpoint=row.backchannel_client_notification_endpoint,
        ceiling_datatypes=frozenset(json.loads(row.ceiling_datatypes)),
        ceiling_actions=frozenset(json.loads(row.ceiling_actions)),
        active=row.status == "active",
        created_at=row.created_at,
        redirect_uris=tuple(json.loads(row.redirect_uris or "[]")),
    )


def _public_jwks(jwks: dict[str, Any]) -> str:
    keys = jwks.get("keys") if isinstance(jwks, dict) else None
    if not isinstance(keys, list) or not keys:
        raise InvalidInput("the JWKS needs a non-empty 'keys' list")
    for key in keys:
        if not isinstance(key, dict) or "kty" not in key:
            raise InvalidInput("every JWK needs a 'kty'")
        if any(member in key for member in ("d", "p", "q", "dp", "dq", "qi", "k")):
            raise InvalidInput("the JWKS holds private key material: register public keys only")
    return json.dumps({"keys": keys}, sort_keys=True)


def _https_url(value: str | None, what: str, *, allow_http_localhost: bool) -> str | None:
    if value is None:
        return None
    if value.startswith("https://"):
        return value
    if allow_http_localhost and re.match(r"^http://(localhost|127\.0\.0\.1)(:\d+)?(/|$)", value):
        return value
    raise InvalidInput(f"the {what} must be an https:// URL")


def _redirect_uris(values: list[str], *, allow_http_localhost: bool) -> str:
    """Redirect URIs compared as exact strings later (RFC 9700 §4.1.3): absolute https (or
    http on localhost in development), no fragment (RFC 6749 §3.1.2), no duplicates."""
    checked: list[str] = []
    for value in values:
        if len(value) > 500 or "#" in value or any(ch.isspace() for ch in value):
            raise InvalidInput("a redirect URI is at most 500 characters, without # or spaces")
        url = _https_url(value, "redirect URI", allow_http_localhost=allow_http_localhost)
        if url is not None and url not in checked:
            checked.append(url)
    return json.dumps(checked)


class ServiceRegistry:
    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        hasher: KeyedHasher,
        clock: Clock,
        allow_http_localhost: bool = False,
    ) -> None:
        self._uow = uow
        self._hasher = hasher
        self._clock = clock
        self._allow_http_localhost = allow_http_localhost

    # -- registration (operator, through `regie services ...`) -----------------------------
    # Each change is logged as the operator's (`operator`: the name they act under), in the
    # change's own transaction: if the event cannot be written, nothing changes (I2).

    def add(
        self,
        *,
        operator: str,
        name: str,
        organisation: str,
        kind: str,
        datatypes: list[str],
        actions: list[str],
        jwks: dict[str, Any] | None = None,
        jwks_uri: str | None = None,
        event_endpoint: str | None = None,
        client_id: str | None = None,
        redirect_uris: list[str] | None = None,
        backchannel_token_delivery_mode: str = "poll",  # noqa: S107 - a mode, not a secret
        backchannel_client_notification_endpoint: str | None = None,
    ) -> ServiceInfo:
        scheme, _, number = organisation.partition(":")
        if scheme not in ORGANISATION_SCHEMES or not ORGANISATION_SCHEMES[scheme].match(number):
            raise InvalidInput(
                "organisation must be oin:<20 digits>, kvk:<8 digits> or ura:<8 digits>"
            )
        if kind not in KINDS:
            raise InvalidInput(f"kind must be one of {', '.join(KINDS)}")
        unknown = sorted(set(datatypes) - set(TYPES))
        if unknown or not datatypes:
            raise InvalidInput(
                f"unknown datatypes in the ceiling: {', '.join(unknown) or '(none given)'}"
            )
        if not actions or set(actions) - set(ACTIONS):
            raise InvalidInput(f"actions must be among {', '.join(ACTIONS)}")
        if (jwks is None) == (jwks_uri is None):
            raise InvalidInput(
                "give the service's public keys as a JWKS or a jwks_uri (one of them)"
            )
        if not name.strip() or len(name) > 200:
            raise InvalidInput("a name of 1 to 200 characters is needed")
        if backchannel_token_delivery_mode not in DELIVERY_MODES:
            raise InvalidInput(f"the delivery mode must be one of {', '.join(DELIVERY_MODES)}")
        ping_mode = backchannel_token_delivery_mode == "ping"  # noqa: S105  # nosec B105 - a mode
        if ping_mode != (backchannel_client_notification_endpoint is not None):
            # CIBA §4: the endpoint is required in ping mode; in poll mode it would never be
            # called, and a registration that looks like ping but polls helps no one.
            raise InvalidInput("give a client notification endpoint in ping mode, and only then")
        cid = client_id or "svc-" + "".join(
            secrets.choice(CODE_ALPHABET.lower()) for _ in range(12)
        )
        if not re.match(r"^[a-z0-9][a-z0-9._-]{2,63}$", cid):
            raise InvalidInput("client_id: 3-64 of a-z, 0-9, '.', '_', '-'")
        row = ServiceRow(
            service_id=uuid.uuid4(),
            client_id=cid,
            name=name.strip(),
            organisation_scheme=scheme,
            organisation_id=number,
            kind=kind,
            jwks=_public_jwks(jwks) if jwks is not None else None,
            jwks_uri=_https_url(
                jwks_uri, "jwks_uri", allow_http_localhost=self._allow_http_localhost
            ),
            event_endpoint=_https_url(
                event_endpoint, "event endpoint", allow_http_localhost=self._allow_http_localhost
            ),
            backchannel_token_delivery_mode=backchannel_token_delivery_mode,
            backchannel_client_notification_endpoint=_https_url(
                backchannel_client_notification_endpoint,
                "client notification endpoint",
                allow_http_localhost=self._allow_http_localhost,
            ),
            ceiling_datatypes=json.dumps(sorted(set(datatypes))),
            ceiling_actions=json.dumps(sorted(set(actions))),
            redirect_uris=_redirect_uris(
                redirect_uris or [], allow_http_localhost=self._allow_http_localhost
            ),
            status="active",
            created_at=self._clock.now(),
            disabled_at=None,
        )
        with self._uow() as uow:
            if uow.services.by_client_id(cid) is not None:
                raise Conflict(f"client_id {cid} is taken")
            uow.services.add(row)
            record(
                uow,
                operator_event("service.registered", operator, service_id=row.service_id),
                row.created_at,
            )
            uow.commit()
            return service_info(row)

    def all(self) -> list[ServiceInfo]:
        with self._uow() as uow:
            return [service_info(r) for r in uow.services.all()]

    def by_client_id(self, client_id: str) -> ServiceInfo:
        with self._uow() as uow:
            row = uow.services.by_client_id(client_id)
            if row is None:
                raise NotFound(f"no service with client_id {client_id}")
            return service_info(row)

    def get(self, service_id: uuid.UUID) -> ServiceInfo:
        with self._uow() as uow:
            row = uow.services.get(service_id)
            if row is None:
                raise NotFound("no such service")
            return service_info(row)

    def disable(self, client_id: str, *, operator: str) -> ServiceInfo:
        with self._uow() as uow:
            row = uow.services.by_client_id(client_id)
            if row is None:
                raise NotFound(f"no service with client_id {client_id}")
            if row.status == "disabled":
                raise Conflict(f"{client_id} is already disabled")
            row.status = "disabled"
            row.disabled_at = self._clock.now()
            record(
                uow,
                operator_event("service.disabled", operator, service_id=row.service_id),
                row.disabled_at,
            )
            uow.commit()
            return service_info(row)

    def set_keys(
        self,
        client_id: str,
        *,
        operator: str,
        jwks: dict[str, Any] | None = None,
        jwks_uri: str | None = None,
    ) -> ServiceInfo:
        """Replace the service's public keys (its key rotation)."""
        if (jwks is None) == (jwks_uri is None):
            raise InvalidInput("give a JWKS or a jwks_uri (one of them)")
        with self._uow() as uow:
            row = uow.services.by_client_id(client_id)
            if row is None:
                raise NotFound(f"no service with client_id {client_id}")
            row.jwks = _public_jwks(jwks) if jwks is not None else None
            row.jwks_uri = _https_url(
                jwks_uri, "jwks_uri", allow_http_localhost=self._allow_http_localhost
            )
            record(
                uow,
                operator_event("service.keys-rotated", operator, service_id=row.service_id),
                self._clock.now(),
            )
            uow.commit()
            return service_info(row)

    def update(
        self,
        client_id: str,
        *,
        operator: str,
        name: str | None = None,
        event_endpoint: str | Unchanged | None = UNCHANGED,
        backchannel_token_delivery_mode: str | None = None,
        backchannel_client_notification_endpoint: str | Unchanged | None = UNCHANGED,
        redirect_uris: list[str] | None = None,
    ) -> ServiceInfo:
        """Change what a service registered besides its keys and its ceiling: its name, its
        event endpoint, how it learns a CIBA request was answered, its redirect URIs. `None`
        for an endpoint clears it; `UNCHANGED` (the default) keeps it. The same rules as at
        registration hold for the result (https, ping mode needs its endpoint and only then).

        The ceiling is not changed here: it is the service's legal basis, and grants given
        within the old one would outlive a narrower one; register a new service instead. A
        request already made in ping mode is pinged at the endpoint the service has when it
        is answered (none: it is not pinged, the service polls, CIBA §10.2 allows that)."""
        with self._uow() as uow:
            row = uow.services.by_client_id(client_id)
            if row is None:
                raise NotFound(f"no service with client_id {client_id}")
            before = service_info(row)
            local = self._allow_http_localhost
            if name is not None:
                if not name.strip() or len(name) > 200:
                    raise InvalidInput("a name of 1 to 200 characters is needed")
                row.name = name.strip()
            if not isinstance(event_endpoint, Unchanged):
                row.event_endpoint = _https_url(
                    event_endpoint, "event endpoint", allow_http_localhost=local
                )
            if backchannel_token_delivery_mode is not None:
                if backchannel_token_delivery_mode not in DELIVERY_MODES:
                    raise InvalidInput(
                        f"the delivery mode must be one of {', '.join(DELIVERY_MODES)}"
                    )
                row.backchannel_token_delivery_mode = backchannel_token_delivery_mode
            if not isinstance(backchannel_client_notification_endpoint, Unchanged):
                row.backchannel_client_notification_endpoint = _https_url(
                    backchannel_client_notification_endpoint,
                    "client notification endpoint",
                    allow_http_localhost=local,
                )
            ping_mode = row.backchannel_token_delivery_mode == "ping"  # noqa: S105  # nosec B105
            if ping_mode != (row.backchannel_client_notification_endpoint is not None):
                raise InvalidInput(
                    "give a client notification endpoint in ping mode, and only then"
                )
            if redirect_uris is not None:
                row.redirect_uris = _redirect_uris(redirect_uris, allow_http_localhost=local)
            after = service_info(row)
            changed = [w for f, w in _UPDATABLE.items() if getattr(before, f) != getattr(after, f)]
            if not changed:
                raise InvalidInput("nothing to change: give a new value for at least one field")
            record(
                uow,
                operator_event(
                    "service.updated", operator, service_id=row.service_id, reason=",".join(changed)
                ),
                self._clock.now(),
            )
            uow.commit()
            return after

    def key_source(self, client_id: str) -> tuple[str | None, str | None] | None:
        """(inline JWKS as JSON text, jwks_uri) of an active service, None otherwise: for
        client auth (which imports a JWKS once per distinct text)."""
        with self._uow() as uow:
            row = uow.services.by_client_id(client_id)
            if row is None or row.status != "active":
                return None
            return (row.jwks or None, row.jwks_uri)

    # -- pairwise subjects and connecting ----------------------------------------------------

    def subject(self, service_id: uuid.UUID, resident_id: uuid.UUID) -> str:
        digest = self._hasher.digest(SUBJECT_PURPOSE, service_id.bytes + resident_id.bytes)
        return base64.b32encode(digest[:20]).decode().lower()

    def connection_code(
        self, resident_id: uuid.UUID, *, acting: ActingFor | None = None
    ) -> tuple[str, datetime]:
        """A new one-time code for the resident to hand to a service (shown once).

        Under a mandate (a parent for a child's vault, a representative for the principal),
        only one that lets its holder decide on requests for some category: a connected
        service can do nothing but ask, and the asking is what the holder decides on. That
        step is logged in the principal's log (`connection.code`, actor `representative`);
        the resident's own codes are not logged, as before."""
        shown, raw = new_code()
        now = self._clock.now()
        with self._uow() as uow:
            if acting is not None:
                acting.same_vault(resident_id)
                acting.categories(uow, action="decide-requests")  # refusal logged, raised
                record(
                    uow,
                    AccessEvent(
                        resident_id=resident_id,
                        name="connection.code",
                        outcome="done",
                        actor="representative",
                        actor_id=str(acting.mandate_id),
                    ),
                    now,
                )
            uow.services.add(
                ConnectionCodeRow(
                    code_hash=code_hash(self._hasher, CODE_PURPOSE, raw),
                    resident_id=resident_id,
                    created_at=now,
                    expires_at=now + CODE_LIFETIME,
                    used_at=None,
                    used_by_service_id=None,
                )
            )
            uow.commit()
        return shown, now + CODE_LIFETIME

    def redeem(self, service: ServiceInfo, code: str) -> str:
        """The service's pairwise subject for the resident who gave it `code`."""
        with self._uow() as uow:
            row = uow.services.connection_code(code_hash(self._hasher, CODE_PURPOSE, code))
            now = self._clock.now()
            if row is None or row.used_at is not None or row.expires_at <= now:
                raise AuthenticationFailed("this connection code is not valid (any more)")
            row.used_at = now
            row.used_by_service_id = service.service_id
            subject = self.connect(uow, service.service_id, row.resident_id, now)
            uow.commit()
            return subject

    def connect(
        self, uow: SqlUnitOfWork, service_id: uuid.UUID, resident_id: uuid.UUID, now: datetime
    ) -> str:
        """The service's pairwise subject for the resident, connecting them (in `uow`) if new."""
        subject = self.subject(service_id, resident_id)
        if uow.services.connection(service_id, subject) is None:
            uow.services.add(
                ServiceConnectionRow(
                    service_id=service_id, subject=subject, resident_id=resident_id, created_at=now
                )
            )
        return subject

    def resident_of(self, uow: SqlUnitOfWork, service_id: uuid.UUID, subject: str) -> uuid.UUID:
        """The resident behind a subject this service knows; NotFound for anything else."""
        row = uow.services.connection(service_id, subject)
        if row is None:
            raise NotFound("no resident is connected to this service under that subject")
        return row.resident_id
