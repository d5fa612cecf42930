"""The `regie` command line.

Exit codes: 0 done; 1 refused or failed (the message says why); 2 usage error (typer).
Every server-side command reads the same `REGIE_*` environment as the server (see
docs/operations.md). `regie service ...` is the client side (clients/cli/service.py): it speaks
only HTTP, through the SDK, reads `REGIE_SERVICE_*` and has more exit codes (listed there).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from api.bootstrap import build_container
from api.container import Container
from api.logs import logging_config
from api.metrics import prepare_multiprocess_dir
from api.settings import Settings, UnsafeSettingsError, unknown_environment
from clients.cli import audit
from clients.cli import operator as operator_cli
from clients.cli.service import service_app
from keys.errors import KeysError
from vault.errors import VaultError
from vault.identity.auditors import AuditorInfo
from vault.services.service import ServiceInfo
from vault.storage.engine import build_engine
from vault.storage.migrate import (
    ahead_problem,
    current_revision,
    schema_problem,
    upgrade,
)

app = typer.Typer(
    help="Regie: a personal-data vault with consent-based sharing.", no_args_is_help=True
)
keys_app = typer.Typer(help="Key-encryption keys and signing keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
services_app = typer.Typer(
    help="Registered services (OAuth clients) and their ceilings.", no_args_is_help=True
)
app.add_typer(services_app, name="services")
# The client side: act as a service over HTTP, through the SDK (exit codes in its docstring).
app.add_typer(service_app, name="service")
console = Console()
err = Console(stderr=True)


def _settings() -> Settings:
    try:
        settings = Settings()
    except ValueError as e:
        err.print(f"[red]Configuration error:[/red] {e}")
        raise typer.Exit(1) from e
    for name in unknown_environment(os.environ):
        err.print(f"[yellow]Warning:[/yellow] {name} is not a Regie setting (a typo?); ignored")
    return settings


def _fail(message: str) -> typer.Exit:
    err.print(f"[red]{message}[/red]")
    return typer.Exit(1)


@app.callback()
def _private_files() -> None:
    # Database files, keyring and logs that Regie creates are for its own user only.
    os.umask(0o077)


def _create_postgres_database(url: str) -> bool:
    """CREATE DATABASE for `url` if it does not exist (True when it was made), connected to
    the server's `postgres` maintenance database as the same user."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool

    target = make_url(url)
    name = target.database
    if not name:
        raise _fail("REGIE_DATABASE_URL names no database")
    maintenance = create_engine(
        target.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=NullPool
    )
    try:
        with maintenance.connect() as conn:
            if conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}):
                return False
            # An identifier cannot be a bind parameter; quote it as PostgreSQL does.
            quoted = conn.dialect.identifier_preparer.quote(name)
            conn.execute(text(f"CREATE DATABASE {quoted}"))
            return True
    except SQLAlchemyError as e:
        raise _fail(
            f"the database {name!r} cannot be created ({type(e).__name__}): check"
            " REGIE_DATABASE_URL and that its user may create databases"
        ) from e
    finally:
        maintenance.dispose()


@app.command()
def migrate(
    create_database: bool = typer.Option(
        False,
        "--create-database",
        help="On PostgreSQL, create the database first if it does not exist",
    ),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output"),
) -> None:
    """Apply database migrations (creates the SQLite file and data directory if needed)."""
    settings = _settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    url = settings.resolved_database_url
    created = create_database and url.startswith("postgresql") and _create_postgres_database(url)
    if created and not as_json:
        console.print("created the database")
    engine = build_engine(url)
    try:
        before = current_revision(engine)
        if (problem := ahead_problem(before)) is not None:
            raise _fail(problem)
        upgrade(engine)
        after = current_revision(engine)
    finally:
        engine.dispose()
    if as_json:
        print(json.dumps({"revision": after, "was": before, "created_database": created}))
    else:
        console.print(f"database at migration {after} (was {before or 'empty'})")


@app.command()
def serve(
    host: str | None = typer.Option(None, help="Address to listen on (default REGIE_HOST)"),
    port: int | None = typer.Option(None, help="Port (default REGIE_PORT, 8000)"),
    workers: int = typer.Option(1, min=1, help="uvicorn worker processes"),
) -> None:
    """Serve the vault (OpenAPI at /docs). Refuses unsafe settings outside development.

    Logs go to standard error as JSON lines (REGIE_LOG_FORMAT=text for a terminal,
    REGIE_LOG_LEVEL for the level; docs/operations.md#logs).
    """
    import uvicorn

    settings = _settings()
    try:
        settings.assert_safe()
    except UnsafeSettingsError as e:
        raise _fail(str(e)) from e
    engine = build_engine(settings.resolved_database_url)
    try:
        current = current_revision(engine)
    except SQLAlchemyError as e:
        raise _fail(
            f"the database cannot be opened ({type(e).__name__}): check REGIE_DATABASE_URL,"
            " or run `regie migrate` to create it"
        ) from e
    finally:
        engine.dispose()
    if (problem := schema_problem(current)) is not None:
        raise _fail(problem)
    # Workers rebuild settings from the environment: pass what the options changed.
    os.environ["REGIE_HOST"] = host or settings.host
    os.environ["REGIE_PORT"] = str(port or settings.port)
    # Several workers add up their metrics in one directory (api/metrics.py).
    prepare_multiprocess_dir(workers)
    console.print(
        f"Regie serves on http://{os.environ['REGIE_HOST']}:{os.environ['REGIE_PORT']}"
        f" (public URL {settings.public_url}, mode {settings.mode}, keys {settings.key_backend})",
        # One line on standard output, whatever the width: the logs (standard error) are
        # read by machines, and so may this be.
        soft_wrap=True,
    )
    uvicorn.run(
        "api.main:app_from_environment",
        factory=True,
        host=os.environ["REGIE_HOST"],
        port=int(os.environ["REGIE_PORT"]),
        workers=workers,
        timeout_worker_healthcheck=settings.worker_healthcheck_seconds,
        # SIGTERM: stop accepting, let requests in flight finish, then the lifespan drains.
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
        # JSON (or text) lines on standard error from every worker (api/logs.py); uvicorn's
        # access log is off: the app writes its own, with route templates instead of paths.
        log_config=logging_config(settings),
        log_level=settings.log_level,
        access_log=False,
        # X-Forwarded-For only from the operator's proxies (REGIE_FORWARDED_ALLOW_IPS).
        proxy_headers=settings.forwarded_allow_ips is not None,
        forwarded_allow_ips=settings.forwarded_allow_ips,
    )


@contextlib.contextmanager
def _changing() -> Iterator[None]:
    """Around an operator's change: a refusal, or a database that cannot take the change with
    its log entry, is a message and exit 1, and nothing changed."""
    try:
        yield
    except VaultError as e:
        raise _fail(e.detail) from e
    except SQLAlchemyError as e:
        raise _fail(f"nothing was changed: the database refused it ({type(e).__name__})") from e


def _container() -> Container:

    settings = _settings()
    try:
        return build_container(settings)
    except (UnsafeSettingsError, KeysError) as e:
        raise _fail(str(e)) from e


@keys_app.command("status")
def keys_status(
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output"),
) -> None:
    """KEK versions, how many data keys each wraps, and the signing keys."""
    c = _container()
    try:
        status = c.key_rotation.status()
    except (KeysError, VaultError) as e:
        raise _fail(f"the key backend cannot be used: {e}") from e
    jwks = c.signing.jwks()["keys"]
    if as_json:
        print(
            json.dumps(
                {
                    "backend": status.backend,
                    "current_version": status.current_version,
                    "versions": [
                        {
                            "version": v.version,
                            "state": v.state,
                            "created_at": v.created_at.isoformat(),
                            "superseded_at": v.superseded_at.isoformat()
                            if v.superseded_at
                            else None,
                            "retired_at": v.retired_at.isoformat() if v.retired_at else None,
                            "data_keys": status.data_keys_by_version.get(v.version, 0),
                        }
                        for v in status.versions
                    ],
                    "signing_keys": [{"kid": k["kid"], "alg": k["alg"]} for k in jwks],
                },
                indent=2,
            )
        )
        return
    table = Table(title=f"Key-encryption keys ({status.backend} backend)")
    for column in ("version", "state", "created", "superseded", "data keys"):
        table.add_column(column)
    for v in status.versions:
        table.add_row(
            f"{v.version}{' (current)' if v.version == status.current_version else ''}",
            v.state,
            f"{v.created_at:%Y-%m-%d %H:%M}",
            f"{v.superseded_at:%Y-%m-%d %H:%M}" if v.superseded_at else "",
            str(status.data_keys_by_version.get(v.version, 0)),
        )
    console.print(table)
    signing = Table(title="Signing keys (published in /.well-known/jwks.json)")
    signing.add_column("kid")
    signing.add_column("alg")
    for k in jwks:
        signing.add_row(k["kid"], k["alg"])
    console.print(signing)


@keys_app.command("rotate")
def keys_rotate(
    resume: bool = typer.Option(
        False, "--resume", help="Do not make a new KEK; finish rewrapping under the current one"
    ),
    retire: bool = typer.Option(
        False, "--retire", help="Afterwards, retire (destroy) old KEKs that wrap nothing any more"
    ),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output"),
    operator: str | None = operator_cli.option(),
) -> None:
    """New KEK version, then rewrap every data key under it (resumable, safe while serving)."""
    who = operator_cli.name(operator)
    c = _container()
    with Progress(
        TextColumn("rewrapping data keys"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        disable=as_json or not sys.stderr.isatty(),
    ) as bar:
        task = bar.add_task("rewrap", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        try:
            result = c.key_rotation.rotate(operator=who, new_version=not resume, progress=progress)
            retired, refused = c.key_rotation.retire_old(operator=who) if retire else ([], {})
        except (KeysError, VaultError, SQLAlchemyError) as e:
            raise _fail(f"rotation stopped: {e}; run `regie keys rotate --resume` to go on") from e
    outcome = {
        "current_version": result.new_version,
        "rewrapped": result.rewrapped,
        "skipped": result.skipped,
        "retired_versions": retired,
        "not_retired": {str(v): reason for v, reason in refused.items()},
    }
    if as_json:
        print(json.dumps(outcome, indent=2))
        return
    console.print(
        f"KEK version {result.new_version} is current; rewrapped {result.rewrapped} data keys"
        + (
            f", {result.skipped} changed meanwhile (run again with --resume)"
            if result.skipped
            else ""
        )
    )
    if retired:
        console.print(f"retired KEK versions: {', '.join(map(str, retired))}")
    for version, reason in refused.items():
        console.print(f"KEK version {version} not retired yet: {reason}")


@keys_app.command("rotate-signing")
def keys_rotate_signing(
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output"),
    operator: str | None = operator_cli.option(),
) -> None:
    """New signing keys (ES256, Ed25519); old public keys stay in the JWKS for the publication
    window (REGIE_SIGNING_PUBLISH_SECONDS); keys past it are destroyed."""
    who = operator_cli.name(operator)
    c = _container()
    try:
        kids, pruned = c.key_rotation.rotate_signing(operator=who)
    except (KeysError, VaultError, SQLAlchemyError) as e:
        raise _fail(f"the signing keys were not rotated: {e}") from e
    if as_json:
        print(json.dumps({"new_signing_kids": kids, "destroyed_kids": pruned}, indent=2))
        return
    console.print(f"new signing keys: {', '.join(kids)}")
    if pruned:
        console.print(f"destroyed signing keys past their publication window: {', '.join(pruned)}")


@keys_app.command("retire")
def keys_retire(
    version: int = typer.Argument(..., help="The KEK version to destroy"),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output"),
    operator: str | None = operator_cli.option(),
) -> None:
    """Destroy an old KEK version for good (refused while it still wraps a data key)."""
    who = operator_cli.name(operator)
    c = _container()
    try:
        c.key_rotation.retire(version, operator=who)
    except (KeysError, VaultError, SQLAlchemyError) as e:
        raise _fail(str(e)) from e
    if as_json:
        print(json.dumps({"retired": version}))
    else:
        console.print(f"KEK version {version} retired: its key material is destroyed")


def _service_json(info: ServiceInfo) -> dict[str, object]:
    return {
        "client_id": info.client_id,
        "service_id": str(info.service_id),
        "name": info.name,
        "organisation": info.organisation,
        "kind": info.kind,
        "status": "active" if info.active else "disabled",
        "ceiling": {
            "datatypes": sorted(info.ceiling_datatypes),
            "actions": sorted(info.ceiling_actions),
        },
        "jwks_uri": info.jwks_uri,
        "jwks_kids": [k.get("kid") for k in (info.jwks or {}).get("keys", [])],
        "event_endpoint": info.event_endpoint,
        "redirect_uris": list(info.redirect_uris),
        # The CIBA client metadata names (OpenID CIBA Core 1.0 §4).
        "backchannel_token_delivery_mode": info.backchannel_token_delivery_mode,
        "backchannel_client_notification_endpoint": info.backchannel_client_notification_endpoint,
        "created_at": info.created_at.isoformat(),
    }


def _read_jwks(path: Path | None) -> dict[str, object] | None:
    if path is None:
        return None
    try:
        loaded = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise _fail(f"cannot read a JWKS from {path}: {e}") from e
    if not isinstance(loaded, dict):
        raise _fail(f"{path} does not hold a JWKS object")
    return loaded


def _print_service(info: ServiceInfo, as_json: bool) -> None:
    if as_json:
        print(json.dumps(_service_json(info), indent=2))
        return
    table = Table(show_header=False, title=info.name)
    for key, value in _service_json(info).items():
        table.add_row(key, json.dumps(value) if isinstance(value, dict | list) else str(value))
    console.print(table)


@services_app.command("add")
def services_add(
    name: str = typer.Option(..., help="The organisation's name as residents will read it"),
    organisation: str = typer.Option(..., help="oin:<20 digits>, kvk:<8 digits> or ura:<8 digits>"),
    kind: str = typer.Option(..., help="school | municipality | care-provider | other"),
    datatype: list[str] = typer.Option(
        ..., "--datatype", help="A datatype it may ever ask for (repeat)"
    ),
    action: list[str] = typer.Option(["read"], "--action", help="read and/or write (repeat)"),
    jwks: Path | None = typer.Option(None, help="File with the service's public keys (JWKS)"),
    jwks_uri: str | None = typer.Option(None, help="Or: https URL of its JWKS"),
    event_endpoint: str | None = typer.Option(None, help="https URL for pushed events (RFC 8935)"),
    token_delivery_mode: str = typer.Option(
        "poll", help="How it learns a request was answered (OpenID CIBA): poll | ping"
    ),
    notification_endpoint: str | None = typer.Option(
        None, help="Ping mode: https URL the vault pings when a request is answered (CIBA)"
    ),
    client_id: str | None = typer.Option(None, help="Choose the client_id (default: generated)"),
    redirect_uri: list[str] = typer.Option(
        [],
        "--redirect-uri",
        help="Exact redirect URI for the browser flow (authorization code + PKCE; repeat)",
    ),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output"),
    operator: str | None = operator_cli.option(),
) -> None:
    """Register a service with its keys and its ceiling (its legal basis)."""
    who = operator_cli.name(operator)
    c = _container()
    with _changing():
        info = c.services.add(
            operator=who,
            name=name,
            organisation=organisation,
            kind=kind,
            datatypes=datatype,
            actions=action,
            jwks=_read_jwks(jwks),
            jwks_uri=jwks_uri,
            event_endpoint=event_endpoint,
            client_id=client_id,
            redirect_uris=redirect_uri,
            backchannel_token_delivery_mode=token_delivery_mode,
            backchannel_client_notification_endpoint=notification_endpoint,
        )
    _print_service(info, as_json)


@services_app.command("list")
def services_list(
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output"),
) -> None:
    """Every registered service."""
    infos = _container().services.all()
    if as_json:
        print(json.dumps([_service_json(i) for i in infos], indent=2))
        return
    table = Table(title="Services")
    for column in ("client_id", "name", "organisation", "kind", "status", "datatypes"):
        table.add_column(column)
    for i in infos:
        table.add_row(
            i.client_id,
            i.name,
            i.organisation,
            i.kind,
            "active" if i.active else "disabled",
            ", ".join(sorted(i.ceiling_datatypes)),
        )
    console.print(table)


@services_app.command("show")
def services_show(
    client_id: str = typer.Argument(...),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output"),
) -> None:
    """One service."""
    try:
        info = _container().services.by_client_id(client_id)
    except VaultError as e:
        raise _fail(e.detail) from e
    _print_service(info, as_json)


@services_app.command("disable")
def services_disable(
    client_id: str = typer.Argument(...),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output"),
    operator: str | None = operator_cli.option(),
) -> None:
    """Disable a service: every access it has stops at once (its grants stay on record)."""
    who = operator_cli.name(operator)
    with _changing():
        info = _container().services.disable(client_id, operator=who)
    if as_json:
        _print_service(info, as_json)
    else:
        console.print(f"{info.name} ({info.client_id}) is disabled")


@services_app.command("rotate-keys")
def services_rotate_keys(
    client_id: str = typer.Argument(...),
    jwks: Path | None = typer.Option(None, help="File with the new public keys (JWKS)"),
    jwks_uri: str | None = typer.Option(None, help="Or: https URL of its JWKS"),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output"),
    operator: str | None = operator_cli.option(),
) -> None:
    """Replace a service's registered public keys."""
    who = operator_cli.name(operator)
    with _changing():
        info = _container().services.set_keys(
            client_id, operator=who, jwks=_read_jwks(jwks), jwks_uri=jwks_uri
        )
    if as_json:
        _print_service(info, as_json)
    else:
        console.print(f"new keys registered for {info.client_id}")


@services_app.command("update")
def services_update(
    client_id: str = typer.Argument(...),
    name: str | None = typer.Option(None, help="A new name, as residents will read it"),
    event_endpoint: str | None = typer.Option(None, help="A new https URL for pushed events"),
    no_event_endpoint: bool = typer.Option(
        False, "--no-event-endpoint", help="Push no events any more (the service fetches them)"
    ),
    token_delivery_mode: str | None = typer.Option(
        None, help="poll | ping (OpenID CIBA); ping needs --notification-endpoint"
    ),
    notification_endpoint: str | None = typer.Option(
        None, help="Ping mode: a new https URL the vault pings when a request is answered"
    ),
    redirect_uri: list[str] = typer.Option(
        [], "--redirect-uri", help="Replace the redirect URIs with these (repeat)"
    ),
    no_redirect_uris: bool = typer.Option(
        False, "--no-redirect-uris", help="Remove every redirect URI (no browser flow)"
    ),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output"),
    operator: str | None = operator_cli.option(),
) -> None:
    """Change a service's name, endpoints, delivery mode or redirect URIs (not its keys: see
    rotate-keys; not its ceiling: register a new service)."""
    if event_endpoint is not None and no_event_endpoint:
        raise _fail("give --event-endpoint or --no-event-endpoint, not both")
    if redirect_uri and no_redirect_uris:
        raise _fail("give --redirect-uri or --no-redirect-uris, not both")
    who = operator_cli.name(operator)
    changes: dict[str, Any] = {}
    if event_endpoint is not None or no_event_endpoint:
        changes["event_endpoint"] = event_endpoint
    if notification_endpoint is not None:
        changes["backchannel_client_notification_endpoint"] = notification_endpoint
    elif token_delivery_mode == "poll":  # noqa: S105  # nosec B105 - a mode, not a secret
        changes["backchannel_client_notification_endpoint"] = None  # poll mode has none
    if redirect_uri or no_redirect_uris:
        changes["redirect_uris"] = redirect_uri
    with _changing():
        info = _container().services.update(
            client_id,
            operator=who,
            name=name,
            backchannel_token_delivery_mode=token_delivery_mode,
            **changes,
        )
    _print_service(info, as_json)


# -- auditors (docs/auditors.md) ------------------------------------------------------------

auditors_app = typer.Typer(
    help="Auditors: appointed here, they sign in with a passkey and read the log's metadata.",
    no_args_is_help=True,
)
app.add_typer(auditors_app, name="auditors")


def _auditor_json(info: AuditorInfo) -> dict[str, object]:
    return {
        "auditor_id": str(info.auditor_id),
        "name": info.name,
        "status": info.status,
        "passkeys": info.passkeys,
        "created_at": info.created_at.isoformat(),
        "enrolled_at": info.enrolled_at.isoformat() if info.enrolled_at else None,
    }


@auditors_app.command("add")
def auditors_add(
    name: str = typer.Argument(..., help="Who is appointed (a label, e.g. 'A. Jansen, ADR')"),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output"),
    operator: str | None = operator_cli.option(),
) -> None:
    """Appoint an auditor; prints a one-time enrolment code (shown once, valid 24 hours)."""
    who = operator_cli.name(operator)
    c = _container()
    with _changing():
        made = c.auditors.appoint(name, operator=who)
    enrol = f"{c.settings.public_url}/v1/auditor/enrol/options"
    page = f"{c.settings.public_url}/auditor/enrol"  # the web page (clients/app/auditor.py)
    if as_json:
        body = _auditor_json(made.auditor)
        body.update(
            code=made.code,
            expires_at=made.expires_at.isoformat(),
            enrol_url=enrol,
            enrol_page=page,
        )
        print(json.dumps(body, indent=2))
        return
    console.print(f"auditor {made.auditor.name} appointed ({made.auditor.auditor_id})")
    console.print(f"enrolment code (shown once): [bold]{made.code}[/bold]")
    console.print(f"valid until {made.expires_at.isoformat()}; the auditor enrols at {page}")
    console.print(f"(or through the API: {enrol})")


@auditors_app.command("list")
def auditors_list(
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output"),
) -> None:
    """Every auditor, also removed ones."""
    infos = _container().auditors.all()
    if as_json:
        print(json.dumps([_auditor_json(i) for i in infos], indent=2))
        return
    table = Table(title="Auditors")
    for column in ("auditor_id", "name", "status", "passkeys", "created_at"):
        table.add_column(column)
    for i in infos:
        table.add_row(
            str(i.auditor_id), i.name, i.status, str(i.passkeys), i.created_at.isoformat()
        )
    console.print(table)


@auditors_app.command("remove")
def auditors_remove(
    auditor: str = typer.Argument(..., help="The auditor's id or name"),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output"),
    operator: str | None = operator_cli.option(),
) -> None:
    """Remove an auditor: their passkeys are deleted and their sessions end at once."""
    who = operator_cli.name(operator)
    with _changing():
        info = _container().auditors.remove(auditor, operator=who)
    if as_json:
        print(json.dumps(_auditor_json(info), indent=2))
    else:
        console.print(f"auditor {info.name} ({info.auditor_id}) is removed")


# -- events to services (docs/events.md) ----------------------------------------------------

events_app = typer.Typer(
    help="Events to services: signed SETs pushed to their event endpoints.", no_args_is_help=True
)
app.add_typer(events_app, name="events")


@events_app.command("deliver")
def events_deliver(
    once: bool = typer.Option(
        False, "--once", help="Push what is due now, then exit (default: keep pushing)"
    ),
    interval: float | None = typer.Option(
        None, min=0.05, help="Seconds between rounds (default REGIE_EVENTS_PUSH_INTERVAL_SECONDS)"
    ),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output (with --once)"),
) -> None:
    """Push events to services' event endpoints (RFC 8935), with retries and backoff.

    Safe beside servers that push too (REGIE_EVENTS_PUSH) and beside other `deliver`
    processes: an event is pushed by one of them at a time. Stops on SIGTERM or Ctrl-C."""
    import signal
    import threading

    from api.workers import push_worker

    c = _container()
    if once:
        try:
            report = c.event_delivery.drain()
        except (VaultError, SQLAlchemyError) as e:
            raise _fail(f"delivery stopped ({type(e).__name__}); run it again") from e
        outcome = {
            "pushed": report.claimed,
            "acknowledged": report.acknowledged,
            "refused": report.refused,
            "retrying": report.retrying,
            "gave_up": report.gave_up,
        }
        if as_json:
            print(json.dumps(outcome, indent=2))
        else:
            console.print(", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in outcome.items()))
        return
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    err.print("pushing events to services; stop with Ctrl-C or SIGTERM")
    push_worker(c, interval).run(stop)


grants_app = typer.Typer(
    help="Grants: the sweeper that marks what has ended.", no_args_is_help=True
)
app.add_typer(grants_app, name="grants")


@grants_app.command("sweep")
def grants_sweep(
    once: bool = typer.Option(False, "--once", help="One pass over everything due, then stop"),
    interval: float | None = typer.Option(None, help="Seconds between passes"),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output (with --once)"),
) -> None:
    """Mark expired grants, lapsed requests and procedures past their planned end, and tell
    their services; delete finished events, rate-limit buckets that are full again and
    abandoned uploads. Servers do this every REGIE_SWEEP_INTERVAL_SECONDS; access never
    waits for it (the check compares times itself). Safe beside running servers."""
    import signal
    import threading

    from api.workers import more_to_sweep, sweep_round, sweep_worker

    c = _container()
    if once:
        totals: dict[str, int] = {}
        try:
            while True:  # the server loop's rounds, until none leaves work waiting
                counts = sweep_round(c)
                for key, value in counts.items():
                    totals[key] = totals.get(key, 0) + value
                if not more_to_sweep(counts):
                    break
        except (VaultError, SQLAlchemyError) as e:
            raise _fail(f"the sweep stopped ({type(e).__name__}); run it again") from e
        if as_json:
            print(json.dumps(totals, indent=2))
        else:
            console.print(", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in totals.items()))
        return
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    err.print("sweeping grants; stop with Ctrl-C or SIGTERM")
    sweep_worker(c, interval).run(stop)


app.add_typer(audit.build(_container), name="audit")


@app.command()
def demo(
    quiet: bool = typer.Option(False, "--quiet", help="Print only the checked outcomes"),
    as_json: bool = typer.Option(
        False, "--json", help="Print nothing but a JSON summary (for scripts)"
    ),
) -> None:
    """Play the mission's story against a temporary vault (docs/demo.md); exit 1 if any
    step does not go as it should. Uses no REGIE_* setting and leaves nothing behind."""
    import signal

    from clients.demo import texts
    from clients.demo.story import DemoFailed, play
    from clients.demo.vault import DemoError
    from clients.sdk import RegieError

    # SIGTERM unwinds like Ctrl-C, so the demo's server is stopped and its directory deleted.
    before = signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    out = Console(quiet=True) if as_json else console
    try:
        outcomes = play(out, quiet=quiet)
    except (DemoFailed, DemoError, RegieError) as e:
        problem = str(e) if not isinstance(e, RegieError) else repr(e)
        if as_json:
            print(json.dumps({"ok": False, "problem": problem}))
        else:
            err.print(
                f"[red]{texts.nl('failed', problem=problem)}[/red]", highlight=False, soft_wrap=True
            )
            err.print(
                f"[red]{texts.en('failed', problem=problem)}[/red]", highlight=False, soft_wrap=True
            )
        raise typer.Exit(1) from e
    finally:
        signal.signal(signal.SIGTERM, before)
    if as_json:
        print(json.dumps({"ok": True, "outcomes": outcomes}))
        return
    console.print(f"[bold green]{texts.nl('all_ok')}[/bold green]")
    console.print(f"[green]{texts.en('all_ok')}[/green]")


if __name__ == "__main__":  # pragma: no cover
    app()
