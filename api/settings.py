"""The one configuration object. Built by the entry points (CLI, uvicorn factory), passed in.

Every field can be set from the environment with the `REGIE_` prefix, e.g.
`REGIE_DATABASE_URL`, `REGIE_PUBLIC_URL`, `REGIE_KEY_BACKEND`. docs/operations.md lists them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from keys.note import valid_name

LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
# PINs that a fresh SoftHSM or vendor token is often left with: refused in production.
WELL_KNOWN_PINS = frozenset({"", "0000", "1234", "12345", "123456", "1111", "password", "changeme"})


class UnsafeSettingsError(ValueError):
    """The settings are not fit for production; the message lists every problem."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REGIE_", extra="forbid")

    mode: Literal["development", "production"] = "production"
    data_dir: Path = Path("var")
    database_url: str | None = None  # default: SQLite file in data_dir
    public_url: str = "http://localhost:8000"
    host: str = "127.0.0.1"
    port: int = 8000
    rp_name: str = "Regie"
    # Diagnostic logs on standard error (api/logs.py; not the audit log of `log_name`): one
    # JSON object a line, or text for a terminal. The level is that of Regie's and uvicorn's
    # loggers; libraries stay at WARNING.
    log_format: Literal["json", "text"] = "json"
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    key_backend: Literal["local", "pkcs11", "unsafe-memory"] = "local"
    keyring_path: Path | None = None  # default: data_dir / "keyring.json"
    pkcs11_module: str = "/usr/lib/softhsm/libsofthsm2.so"
    pkcs11_token_label: str = "regie"  # noqa: S105 - a token name, not a secret
    pkcs11_pin: SecretStr = SecretStr("")
    dek_cache_ttl_seconds: float = Field(default=60.0, ge=0, le=3600)
    kek_retire_grace_seconds: float = Field(default=300.0, ge=0)
    signing_publish_seconds: int = Field(default=7 * 24 * 3600, ge=0)
    # The audit log's name: the origin line of its checkpoints and the name of the log key
    # (keys/logkey.py). Default: "<host of public_url>/audit". Fixed for the log's lifetime.
    log_name: str | None = None

    # `/metrics` (Prometheus) is served only when this is set, to callers that send it as a
    # bearer token (docs/operations.md#metrics). At least 32 characters outside development.
    metrics_token: SecretStr | None = None
    # Behind a reverse proxy: the proxies' addresses (comma-separated, or "*") whose
    # X-Forwarded-For uvicorn believes, so rate limits count the resident's address, not the
    # proxy's. Unset: no forwarded header is believed.
    forwarded_allow_ips: str | None = None
    # Rate limits per client address and per service (api/ratelimit.py,
    # docs/operations.md#rate-limits): requests a minute, per server process; 0 turns a rule off.
    rate_limits: bool = True
    rate_limit_sign_in_per_minute: int = Field(default=30, ge=0, le=100_000)
    rate_limit_recovery_per_minute: int = Field(default=5, ge=0, le=100_000)
    rate_limit_codes_per_minute: int = Field(default=60, ge=0, le=100_000)
    rate_limit_oauth_per_minute: int = Field(default=600, ge=0, le=1_000_000)
    max_json_bytes: int = Field(default=1024 * 1024, ge=1024)
    max_file_bytes: int = Field(default=25 * 1024 * 1024, ge=1024)
    # An upload that has not finished this long after it began is dropped by the sweeper
    # (its sealed chunks; the record keeps its earlier versions). 25 MiB at 1 KB/s is 7 h.
    upload_abandon_seconds: int = Field(default=24 * 3600, ge=3600, le=30 * 24 * 3600)
    session_idle_minutes: int = Field(default=30, ge=1, le=24 * 60)
    session_max_hours: int = Field(default=12, ge=1, le=24 * 30)
    db_pool_size: int = Field(default=10, ge=1, le=200)
    # PostgreSQL limits per server connection (vault/storage/engine.py `Timeouts`).
    db_statement_timeout_seconds: float = Field(default=60.0, ge=1, le=3600)
    db_idle_in_transaction_seconds: float = Field(default=300.0, ge=1, le=3600)
    # uvicorn's default (5 s) kills workers that are still importing on a loaded machine, and
    # then their replacements, in a loop; a hung worker is still replaced, only later.
    worker_healthcheck_seconds: int = Field(default=30, ge=5, le=600)
    # Graceful shutdown (SIGTERM, `docker stop`): requests in flight get this long to finish
    # (new connections are refused meanwhile), then the process pushes the events that are
    # due and integrates committed access events for at most `shutdown_drain_seconds`.
    shutdown_grace_seconds: int = Field(default=30, ge=1, le=600)
    shutdown_drain_seconds: float = Field(default=10.0, ge=0, le=600)
    grant_max_validity_days: int = Field(default=365, ge=1, le=3650)
    pending_request_days: int = Field(default=14, ge=1, le=90)
    # The longest mandate a resident can give a representative (vault/representation/).
    mandate_max_validity_days: int = Field(default=5 * 365 + 1, ge=1, le=10 * 366)
    # Refused attempts of one representative that are logged in one principal's log: this
    # many at once, then this many an hour; beyond, 429 and one `mandate.throttled` an hour
    # (vault/representation/throttle.py, docs/people.md).
    mandate_refusals_per_hour: int = Field(default=10, ge=1, le=1000)
    access_token_seconds: int = Field(default=300, ge=30, le=300)
    # Stock OAuth clients (Authlib) sign assertions valid for an hour; each jti is remembered
    # until it expires, so a longer lifetime costs replay-cache rows, not safety.
    client_assertion_max_lifetime_seconds: int = Field(default=3600, ge=60, le=3600)
    dpop_proof_max_age_seconds: int = Field(default=300, ge=10, le=600)
    # Require a server nonce in every DPoP proof (RFC 9449 §8, §9): limits a stolen proof's
    # use to the nonce's window. Stateless (HMAC of the time window, derived from the
    # deployment secret), so every worker accepts every worker's nonces.
    dpop_nonces: bool = False
    dpop_nonce_lifetime_seconds: int = Field(default=300, ge=10, le=3600)
    # How often a server marks expired grants and ended procedures (and tells services);
    # 0 turns it off. Access never waits for it: the check compares times itself.
    sweep_interval_seconds: float = Field(default=60.0, ge=0, le=3600)
    # Finished events to services (taken, refused or given up) are deleted by the sweeper
    # after this many days (docs/operations.md).
    outbox_retention_days: int = Field(default=7, ge=1, le=3650)
    # Seconds between rounds of the audit log's integrator (sequence events, sign a
    # checkpoint); 0 turns it off in this process (run `regie audit integrate` instead).
    audit_integrate_interval_seconds: float = Field(default=1.0, ge=0, le=60)

    # Events to services (docs/events.md): Security Event Tokens pushed to each service's event
    # endpoint (RFC 8935) and pollable (RFC 8936). `events_push` runs a pusher thread in every
    # server process (safe with several: they never push the same event at once); set it off
    # to push from `regie events deliver` instead.
    events_push: bool = True
    events_push_interval_seconds: float = Field(default=2.0, gt=0, le=300)
    events_push_batch: int = Field(default=50, ge=1, le=1000)
    events_push_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    # How long a claimed event is held by its pusher; must outlast a push (>= 4 x the timeout).
    events_push_lease_seconds: float = Field(default=60.0, gt=0, le=3600)
    events_push_backoff_seconds: float = Field(default=5.0, gt=0, le=3600)
    events_push_backoff_max_seconds: float = Field(default=3600.0, gt=0, le=24 * 3600)
    events_push_give_up_hours: float = Field(default=24.0, gt=0, le=24 * 30)
    events_poll_max_events: int = Field(default=100, ge=1, le=1000)
    # A poll without returnImmediately waits this long for an event (HTTP long poll); 0: never.
    events_poll_wait_seconds: float = Field(default=15.0, ge=0, le=60)

    @field_validator("log_format", "log_level", mode="before")
    @classmethod
    def _lower_case(cls, value: object) -> object:
        # REGIE_LOG_LEVEL=DEBUG is what operators type.
        return value.lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _public_url_is_an_origin(self) -> Settings:
        parts = urlsplit(self.public_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("public_url must be an http(s) URL such as https://vault.example.nl")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError("public_url must be an origin, without a path")
        self.public_url = f"{parts.scheme}://{parts.netloc}"
        return self

    @model_validator(mode="after")
    def _log_name_is_a_note_key_name(self) -> Settings:
        if self.log_name is not None and not valid_name(self.log_name):
            raise ValueError("log_name must be non-empty, without spaces or '+'")
        return self

    @model_validator(mode="after")
    def _push_lease_outlasts_a_push(self) -> Settings:
        # api/events/push.py bounds one push to about 4 timeouts (connect, send, answer, body).
        if self.events_push_lease_seconds < 4 * self.events_push_timeout_seconds:
            raise ValueError(
                "events_push_lease_seconds must be at least 4 x events_push_timeout_seconds"
            )
        return self

    # -- derived values --------------------------------------------------------------------

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'regie.db').resolve()}"

    @property
    def resolved_keyring_path(self) -> Path:
        return self.keyring_path or self.data_dir / "keyring.json"

    @property
    def rp_id(self) -> str:
        host = urlsplit(self.public_url).hostname
        if host is None:  # checked by the validator; never silently an empty RP id
            raise ValueError("REGIE_PUBLIC_URL has no host")
        return host

    @property
    def resolved_log_name(self) -> str:
        return self.log_name or f"{self.rp_id}/audit"

    # -- safety ----------------------------------------------------------------------------

    def unsafe_reasons(self) -> list[str]:
        """What makes these settings unfit for production (empty when they are fit)."""
        reasons = []
        if self.key_backend == "unsafe-memory":
            reasons.append("REGIE_KEY_BACKEND=unsafe-memory loses every key on restart")
        if self.key_backend == "pkcs11" and self.pkcs11_pin.get_secret_value() in WELL_KNOWN_PINS:
            reasons.append("REGIE_PKCS11_PIN is empty or a well-known default PIN")
        if self.metrics_token is not None and len(self.metrics_token.get_secret_value()) < 32:
            reasons.append("REGIE_METRICS_TOKEN is shorter than 32 characters")
        parts = urlsplit(self.public_url)
        if parts.scheme != "https" and parts.hostname not in LOCAL_HOSTS:
            reasons.append(
                f"REGIE_PUBLIC_URL={self.public_url} is plain HTTP on a non-local host; use https"
            )
        return reasons

    def assert_safe(self) -> None:
        """Refuse to run outside development mode with unsafe settings."""
        reasons = self.unsafe_reasons()
        if self.mode != "development" and reasons:
            raise UnsafeSettingsError(
                "refusing to start in production mode: "
                + "; ".join(reasons)
                + " (set REGIE_MODE=development to run anyway on your own machine)"
            )


def unknown_environment(environ: Mapping[str, str]) -> list[str]:
    """`REGIE_*` variables that are not settings: most likely typos (`REGIE_DATABSE_URL`).

    pydantic-settings ignores unknown environment variables, so we say it out loud. Variables
    of the test suite (`REGIE_TEST_*`) and of the client commands (`REGIE_SERVICE_*`, read by
    `regie service ...`, clients/cli/service.py) are not settings and not reported.
    """
    known = {f"REGIE_{name.upper()}" for name in Settings.model_fields}
    return sorted(
        name
        for name in environ
        if name.upper().startswith("REGIE_")
        and name.upper() not in known
        and not name.upper().startswith(("REGIE_TEST_", "REGIE_SERVICE_"))
    )
