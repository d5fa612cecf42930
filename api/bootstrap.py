"""Wiring: settings in, a `Container` of ready services out. Used by the app and the CLI."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import httpx
from sqlalchemy import Engine
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import sessionmaker

from api.container import Container
from api.events.push import HttpxPingPoster, HttpxSetPoster, push_client
from api.metrics import Metrics
from api.oauth.client_auth import ClientAssertionVerifier, JwksClientKeys
from api.oauth.dpop import DpopNonces, DpopVerifier
from api.ratelimit import Limiter, default_rules
from api.settings import Settings
from keys.interfaces import KekBackend
from keys.keyring import KeyringFile
from keys.local import LocalKekBackend
from keys.logkey import LogKey
from keys.secrets import DeploymentSealer, KeyedHasher
from keys.service import KeyService
from keys.signing import SigningKeyring
from keys.unsafe import UnsafeMemoryKekBackend
from vault.audit.events import AccessLog
from vault.audit.log import Integrator, LogReader
from vault.audit.resident_log import ResidentLog
from vault.audit.search import AuditorQueries
from vault.events.delivery import OutboxDelivery
from vault.events.feed import EventFeed
from vault.events.model import PushPolicy
from vault.events.outbox import OutboxWriter
from vault.grants.access import ServiceAccess
from vault.grants.authorization import AuthorizationCodeFlow
from vault.grants.service import GrantPolicySettings, GrantService
from vault.grants.tokens import TokenService
from vault.identity.auditors import AuditorService
from vault.identity.service import IdentityPolicy, IdentityService
from vault.keyring.service import KeyRotationService
from vault.ports import Clock, SystemClock
from vault.records.export import VaultExporter
from vault.records.service import RecordService
from vault.representation.service import RepresentationService, RepresentationSettings
from vault.residents.keys import VaultKeys
from vault.residents.service import ResidentService
from vault.services.service import ServiceRegistry
from vault.storage.async_uow import AsyncUnitOfWorkFactory, async_uow_factory, blocking_uow_factory
from vault.storage.engine import Timeouts, build_async_engines, build_engine
from vault.storage.hot_path import HotPath, PsycopgHotPath, UowHotPath
from vault.storage.rate_buckets import SqlRateBuckets
from vault.storage.repositories import SqlReplayCache
from vault.storage.unit_of_work import SessionFactory, SqlUnitOfWork

# Endpoints where services authenticate with a client assertion (accepted as its audience).
CLIENT_AUTH_PATHS = (
    "/oauth/token",
    "/oauth/bc-authorize",
    "/v1/service/connections",
    "/v1/service/procedures/close",
    "/oauth/introspect",
    "/oauth/revoke",
    "/v1/service/events",
)


def build_kek_backend(settings: Settings, keyring: KeyringFile) -> KekBackend:
    if settings.key_backend == "local":
        return LocalKekBackend(keyring)
    if settings.key_backend == "pkcs11":
        from keys.pkcs11 import Pkcs11KekBackend  # loads the PKCS#11 module only when asked

        return Pkcs11KekBackend(
            module_path=settings.pkcs11_module,
            token_label=settings.pkcs11_token_label,
            pin=settings.pkcs11_pin.get_secret_value(),
        )
    return UnsafeMemoryKekBackend()


def build_container(
    settings: Settings,
    *,
    engine: Engine | None = None,
    session_factory: SessionFactory | None = None,
    kek: KekBackend | None = None,
    clock: Clock | None = None,
) -> Container:
    """Build every service. Tests may pass a session factory (savepoint per test), a KEK
    backend or a clock; everything else comes from `settings`."""
    settings.assert_safe()
    async_uow: AsyncUnitOfWorkFactory
    async_engines: tuple[AsyncEngine, ...] = ()
    if session_factory is None:
        timeouts = Timeouts(
            statement_seconds=settings.db_statement_timeout_seconds,
            idle_in_transaction_seconds=settings.db_idle_in_transaction_seconds,
        )
        engine = engine or build_engine(
            settings.resolved_database_url, pool_size=settings.db_pool_size, timeouts=timeouts
        )
        session_factory = sessionmaker(bind=engine, expire_on_commit=False)
        writer, reader = build_async_engines(
            settings.resolved_database_url, pool_size=settings.db_pool_size, timeouts=timeouts
        )
        async_engines = (writer,) if reader is None else (writer, reader)
        async_uow = async_uow_factory(writer, reader)
        hot: HotPath = (
            UowHotPath(async_uow) if reader is None else PsycopgHotPath(reader, sibling=writer)
        )
    else:
        # Tests share one rolled-back connection between the sync and the async side.
        if settings.mode != "development":
            raise ValueError("an injected session factory is for tests (development mode) only")
        async_uow = blocking_uow_factory(session_factory)
        hot = UowHotPath(async_uow)
    factory = session_factory

    def uow() -> SqlUnitOfWork:
        return SqlUnitOfWork(factory)

    the_clock = clock or SystemClock()
    keyring = KeyringFile(settings.resolved_keyring_path)
    kek_backend = kek or build_kek_backend(settings, keyring)
    metrics = Metrics()
    keys = KeyService(
        kek=kek_backend,
        cache_ttl_seconds=settings.dek_cache_ttl_seconds,
        on_cache_lookup=metrics.key_cache_lookup,
    )
    signing = SigningKeyring(keyring, publish_seconds=settings.signing_publish_seconds)
    signing.ensure()
    log_key = LogKey(keyring, settings.resolved_log_name)
    log_key.ensure()  # made on first run; a keyring bound to another log name stops start-up
    vault_keys = VaultKeys(keys)
    residents = ResidentService(uow=uow, keys=vault_keys, clock=the_clock)
    records = RecordService(
        uow=uow, keys=vault_keys, clock=the_clock, max_file_bytes=settings.max_file_bytes
    )
    origin = urlsplit(settings.public_url)
    hasher = KeyedHasher(keyring)
    sealer = DeploymentSealer(keyring)  # CIBA ping secrets (vault/events/ping.py)
    limiter = Limiter(
        default_rules(
            sign_in_per_minute=settings.rate_limit_sign_in_per_minute,
            recovery_per_minute=settings.rate_limit_recovery_per_minute,
            codes_per_minute=settings.rate_limit_codes_per_minute,
            oauth_per_minute=settings.rate_limit_oauth_per_minute,
        )
        if settings.rate_limits
        else [],
        # One table for every process; rows named by a keyed hash, so no address is stored.
        store=SqlRateBuckets(
            async_uow=async_uow,
            uow=uow,
            name=lambda bucket: hasher.digest("rate-limit-bucket", bucket.encode()),
        ),
        clock=the_clock,
    )

    def subject_hash(person_id: str) -> str:
        """How the audit log names a person (docs/audit-format.md, `subject`)."""
        return hasher.digest("audit-subject", person_id.encode()).hex()

    registry = ServiceRegistry(
        uow=uow, hasher=hasher, clock=the_clock, allow_http_localhost=settings.mode == "development"
    )
    access_log = AccessLog(store=hot, clock=the_clock)
    tokens = TokenService(
        uow=uow,
        clock=the_clock,
        access_lifetime=timedelta(seconds=settings.access_token_seconds),
        async_uow=async_uow,
        log=access_log,
    )
    events = OutboxWriter(
        signer=signing,
        registry=registry,
        issuer=settings.public_url,
        retention=timedelta(days=settings.outbox_retention_days),
        sealer=sealer,
    )
    grants = GrantService(
        uow=uow,
        keys=vault_keys,
        registry=registry,
        tokens=tokens,
        clock=the_clock,
        settings=GrantPolicySettings(
            max_validity=timedelta(days=settings.grant_max_validity_days),
            pending_lifetime=timedelta(days=settings.pending_request_days),
        ),
        events=events,
        async_uow=async_uow,
    )
    tokens.on_reuse = grants.end_for_token_reuse
    people = RepresentationService(
        uow=uow,
        keys=vault_keys,
        hasher=hasher,
        clock=the_clock,
        settings=RepresentationSettings(
            max_validity=timedelta(days=settings.mandate_max_validity_days),
            refusals_per_hour=settings.mandate_refusals_per_hour,
        ),
    )

    # A record a representative wrote names them to the resident (never to a service).
    records.representative_names = people.representative_names

    def before_delete(uow: SqlUnitOfWork, resident_id: uuid.UUID, now: datetime) -> None:
        grants.end_all_for_deleted_vault(uow, resident_id, now)
        people.end_held_for_deleted_vault(uow, resident_id, now)

    residents.before_delete = before_delete
    replay = SqlReplayCache(session_factory)
    client_keys = JwksClientKeys(
        lookup=registry.key_source,
        http=httpx.Client(timeout=5.0, follow_redirects=False),
        clock=the_clock,
    )
    identity_policy = IdentityPolicy(
        rp_id=settings.rp_id,
        rp_name=settings.rp_name,
        origin=f"{origin.scheme}://{origin.netloc}",
        session_idle=timedelta(minutes=settings.session_idle_minutes),
        session_max=timedelta(hours=settings.session_max_hours),
    )
    identity = IdentityService(
        uow=uow, keys=vault_keys, hasher=hasher, clock=the_clock, policy=identity_policy
    )
    audit_reader = LogReader(uow=uow, subject_hash=subject_hash)
    resident_log = ResidentLog(uow=uow, grants=grants, clock=the_clock, people=people)
    push_http = push_client(timeout=settings.events_push_timeout_seconds)
    return Container(
        settings=settings,
        engine=engine,
        uow=uow,
        clock=the_clock,
        keyring=keyring,
        keys=keys,
        signing=signing,
        log_key=log_key,
        integrator=Integrator(uow=uow, clock=the_clock, signer=log_key, subject_hash=subject_hash),
        audit=audit_reader,
        resident_log=resident_log,
        identity=identity,
        # Same relying party and session lifetimes as residents; other principals.
        auditors=AuditorService(uow=uow, hasher=hasher, clock=the_clock, policy=identity_policy),
        auditor_queries=AuditorQueries(uow=uow, log=audit_reader, clock=the_clock),
        residents=residents,
        records=records,
        exporter=VaultExporter(
            uow=uow,
            records=records,
            residents=residents,
            grants=grants,
            services=registry,
            log=resident_log,
            audit=audit_reader,
            clock=the_clock,
        ),
        key_rotation=KeyRotationService(
            uow=uow,
            keys=keys,
            signing=signing,
            clock=the_clock,
            grace_seconds=settings.kek_retire_grace_seconds,
        ),
        services=registry,
        tokens=tokens,
        grants=grants,
        authorizations=AuthorizationCodeFlow(
            uow=uow,
            grants=grants,
            registry=registry,
            tokens=tokens,
            clock=the_clock,
            issuer=settings.public_url,
        ),
        people=people,
        service_access=ServiceAccess(
            uow=uow,
            hot=hot,
            log=access_log,
            records=records,
            keys=vault_keys,
            clock=the_clock,
            on_attempt=metrics.access_decided,
        ),
        async_uow=async_uow,
        async_engines=async_engines,
        access_log=access_log,
        replay=replay,
        client_keys=client_keys,
        client_auth=ClientAssertionVerifier(
            keys=client_keys,
            replay=replay,
            clock=the_clock,
            issuer=settings.public_url,
            endpoint_urls=[settings.public_url + path for path in CLIENT_AUTH_PATHS],
            max_lifetime_seconds=settings.client_assertion_max_lifetime_seconds,
        ),
        dpop=DpopVerifier(
            replay=replay,
            clock=the_clock,
            max_age_seconds=settings.dpop_proof_max_age_seconds,
            nonce=DpopNonces(
                # Every process derives the same secret from the keyring.
                hasher.digest("dpop-nonce", b""),
                the_clock,
                settings.dpop_nonce_lifetime_seconds,
            )
            if settings.dpop_nonces
            else None,
        ),
        events=events,
        event_delivery=OutboxDelivery(
            uow=uow,
            poster=HttpxSetPoster(push_http, body_timeout=settings.events_push_timeout_seconds),
            pinger=HttpxPingPoster(push_http),
            sealer=sealer,
            signer=signing,
            clock=the_clock,
            policy=PushPolicy(
                batch=settings.events_push_batch,
                lease=timedelta(seconds=settings.events_push_lease_seconds),
                backoff=timedelta(seconds=settings.events_push_backoff_seconds),
                backoff_max=timedelta(seconds=settings.events_push_backoff_max_seconds),
                give_up_after=timedelta(hours=settings.events_push_give_up_hours),
            ),
        ),
        event_feed=EventFeed(
            uow=uow,
            clock=the_clock,
            max_events=settings.events_poll_max_events,
            signer=signing,
        ),
        metrics=metrics,
        limiter=limiter,
    )
