"""Everything the routes use, built once per application by `create_app`."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.ext.asyncio import AsyncEngine

from api.metrics import Metrics
from api.oauth.client_auth import ClientAssertionVerifier, JwksClientKeys
from api.oauth.dpop import DpopVerifier
from api.ratelimit import Limiter
from api.settings import Settings
from keys.keyring import KeyringFile
from keys.logkey import LogKey
from keys.service import KeyService
from keys.signing import SigningKeyring
from vault.audit.events import AccessLog
from vault.audit.log import Integrator, LogReader
from vault.audit.resident_log import ResidentLog
from vault.audit.search import AuditorQueries
from vault.events.delivery import OutboxDelivery
from vault.events.feed import EventFeed
from vault.events.outbox import OutboxWriter
from vault.grants.access import ServiceAccess
from vault.grants.authorization import AuthorizationCodeFlow
from vault.grants.service import GrantService
from vault.grants.tokens import TokenService
from vault.identity.auditors import AuditorService
from vault.identity.service import IdentityService
from vault.keyring.service import KeyRotationService
from vault.ports import Clock
from vault.records.export import VaultExporter
from vault.records.service import RecordService
from vault.representation.service import RepresentationService
from vault.residents.service import ResidentService
from vault.services.service import ServiceRegistry
from vault.storage.async_uow import AsyncUnitOfWorkFactory
from vault.storage.repositories import SqlReplayCache
from vault.storage.unit_of_work import UnitOfWorkFactory


@dataclass(frozen=True)
class Container:
    settings: Settings
    engine: Engine | None
    uow: UnitOfWorkFactory
    clock: Clock
    keyring: KeyringFile
    keys: KeyService
    signing: SigningKeyring
    log_key: LogKey  # signs the audit log's checkpoints; never rotates
    # The verifiable log (vault/audit/log.py): sequencing and signing, and reading proofs.
    integrator: Integrator
    audit: LogReader
    resident_log: ResidentLog  # a resident's own events, as sentences (/v1/me/log)
    identity: IdentityService
    # Auditors (docs/auditors.md): their sign-in, and what they may read of the log.
    auditors: AuditorService
    auditor_queries: AuditorQueries
    residents: ResidentService
    records: RecordService
    exporter: VaultExporter
    key_rotation: KeyRotationService
    services: ServiceRegistry
    tokens: TokenService
    grants: GrantService
    # The browser flow: pushed request, authorization code + PKCE (vault/grants/authorization.py)
    authorizations: AuthorizationCodeFlow
    people: RepresentationService  # mandates and children's vaults (vault/representation/)
    service_access: ServiceAccess
    # The async side (ADR 0001): the data API's reads and the token endpoint.
    async_uow: AsyncUnitOfWorkFactory
    async_engines: tuple[AsyncEngine, ...]  # disposed when the app shuts down
    access_log: AccessLog
    replay: SqlReplayCache
    client_keys: JwksClientKeys
    client_auth: ClientAssertionVerifier
    dpop: DpopVerifier
    # Events to services (vault/events/): written with grant changes, pushed, polled.
    events: OutboxWriter
    event_delivery: OutboxDelivery
    event_feed: EventFeed
    metrics: Metrics  # counters for /metrics (api/metrics.py)
    limiter: Limiter  # rate limits per client address and per service (api/ratelimit.py)
