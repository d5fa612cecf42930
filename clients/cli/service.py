"""`regie service ...`: act as a service against a vault, by hand or from a script.

These commands speak only HTTP, through the SDK (`clients.sdk.ServiceClient`); they never
touch a database. Each takes the service's identity:

    --vault URL        the vault's issuer URL            (or REGIE_SERVICE_VAULT)
    --client-id ID     the client_id it was registered as (or REGIE_SERVICE_CLIENT_ID)
    --key FILE         its private signing key, JWK or PEM (or REGIE_SERVICE_KEY)
    --state DIR        where tokens, pending requests and the DPoP key are kept between
                       commands (or REGIE_SERVICE_STATE; default
                       $XDG_STATE_HOME/regie/service/<client id>), files mode 0600

    regie service keygen clinic-key.jwk --jwks clinic-jwks.json   a key pair to register
    regie service connect K7QF2-M9D4X                              → the resident's subject
    regie service request --subject S --datatype health.medication --purpose "..." \\
        --procedure BEH-2026-0042                                  → an auth_req_id
    regie service wait AUTH_REQ_ID [--timeout 600]                 → the grant
    regie service request --ping ...                               for a ping-mode service
    regie service wait AUTH_REQ_ID --listen http://127.0.0.1:9100/regie/ping
                                     take the vault's ping there, then fetch the grant
    regie service read GRANT_ID [RECORD_ID]                        list, or read one
    regie service write GRANT_ID --type T --title T --content '{...}' [--sign]
    regie service close --subject S --procedure BEH-2026-0042      every grant under it ends
    regie service relinquish GRANT_ID | grants | events [--ack JTI] [--wait]
    regie service assertion | proof                               JWTs for trying it with curl

`--json` prints one JSON object (or list) on stdout for scripts; without it, people get
tables. Errors go to stderr (and, with `--json`, as `{"error": ..., "detail": ...}` to stdout).

Exit codes:
    0  done
    1  refused or failed for another reason (the message says why), or bad input
    2  usage error (typer)
    3  access denied: the resident said no, or the grant does not cover this
    4  the grant has ended (revoked, procedure closed, expired, relinquished)
    5  the request lapsed before the resident answered
    6  still waiting: the resident has not answered within --timeout
    7  authentication failed: wrong client id or key, or a token the vault refused
    8  the vault could not be reached or failed (5xx): try again later
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Annotated, Any, NoReturn
from urllib.parse import urlsplit

import typer
from rich.console import Console
from rich.table import Table

import clients.sdk as sdk
from clients.sdk._jose import client_assertion, dpop_proof
from clients.sdk.ping import MAX_PING_BODY

service_app = typer.Typer(
    help="Act as a service against a vault over HTTP (for trying the API and for scripts).",
    no_args_is_help=True,
)
out = Console(soft_wrap=True)  # messages are never broken mid-line; tables fit
err = Console(stderr=True, soft_wrap=True)

EXIT_CODES: list[tuple[type[sdk.RegieError], int]] = [
    # Most specific first.
    (sdk.GrantEnded, 4),
    (sdk.RequestExpired, 5),
    (sdk.AccessDenied, 3),
    (sdk.AuthorizationPending, 6),
    (sdk.AuthError, 7),
    (sdk.TransportError, 8),
    (sdk.ServerError, 8),
]

Vault = Annotated[
    str, typer.Option("--vault", envvar="REGIE_SERVICE_VAULT", help="The vault's issuer URL")
]
ClientId = Annotated[
    str,
    typer.Option("--client-id", envvar="REGIE_SERVICE_CLIENT_ID", help="Your registered client_id"),
]
KeyFile = Annotated[
    Path,
    typer.Option(
        "--key", envvar="REGIE_SERVICE_KEY", help="Your private signing key (JWK or PEM file)"
    ),
]
StateDir = Annotated[
    Path | None,
    typer.Option(
        "--state",
        envvar="REGIE_SERVICE_STATE",
        help="Directory for tokens and pending requests (default: $XDG_STATE_HOME/regie/...)",
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="Machine-readable output")]


def _exit_code(error: sdk.RegieError) -> int:
    return next((code for cls, code in EXIT_CODES if isinstance(error, cls)), 1)


def _fail(message: str, *, as_json: bool, code: int = 1, kind: str = "error") -> NoReturn:
    if as_json:
        print(json.dumps({"error": kind, "detail": message}))
    err.print(f"[red]{message}[/red]", highlight=False)
    raise typer.Exit(code)


@contextmanager
def _reported(as_json: bool) -> Iterator[None]:
    """SDK errors become one line on stderr and the documented exit code."""
    try:
        yield
    except sdk.RegieError as e:
        where = f" ({e.code})" if e.code else ""
        _fail(f"{e.detail}{where}", as_json=as_json, code=_exit_code(e), kind=e.code or "error")
    except ValueError as e:  # a key file, a date, JSON content: bad input on our side
        _fail(str(e), as_json=as_json)


def _state_dir(state: Path | None, client_id: str) -> Path:
    if state is not None:
        return state
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return base / "regie" / "service" / client_id


def _private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def _dpop_key(state: Path) -> sdk.ServiceKey:
    """The DPoP key the stored tokens are bound to: made once, kept in the state directory."""
    path = _private_dir(state) / "dpop.jwk"
    if path.exists():
        return sdk.ServiceKey.load(path)
    key = sdk.ServiceKey.generate("ES256")
    key.save(path)
    return key


def _client(vault: str, client_id: str, key: Path, state: Path | None) -> sdk.ServiceClient:
    where = _state_dir(state, client_id)
    return sdk.ServiceClient(
        vault,
        client_id=client_id,
        key=key,
        dpop_key=_dpop_key(where),
        token_store=sdk.FileTokenStore(where / "grants.json"),
    )


def _requests_file(client_id: str, state: Path | None) -> Path:
    return _private_dir(_state_dir(state, client_id)) / "requests.json"


def _load_requests(path: Path) -> dict[str, Any]:
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _save_requests(path: Path, requests: dict[str, Any]) -> None:
    temporary = path.with_name(path.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(requests, f, indent=2)
    temporary.replace(path)


def _instant(value: str | None, what: str) -> date | datetime | None:
    if value is None:
        return None
    try:
        if len(value) == 10:
            return date.fromisoformat(value)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as e:
        raise ValueError(
            f"{what}: give a date (2027-02-01) or a time (2027-02-01T00:00:00Z)"
        ) from e
    if moment.tzinfo is None:
        raise ValueError(f"{what}: give the time zone (e.g. Z)")
    return moment


def _grant_json(grant: sdk.Grant) -> dict[str, Any]:
    return grant.to_dict()


def _record_json(record: sdk.Record) -> dict[str, Any]:
    return {
        "id": record.id,
        "category": record.category,
        "type": record.type,
        "kind": record.kind,
        "version": record.version,
        "current_version": record.current_version,
        "title": record.title,
        "content": record.content,
        "written_by": record.provenance.written_by,
        "signature": None
        if record.signature is None
        else {"issuer": record.signature.issuer, "kid": record.signature.kid},
        "updated_at": record.updated_at.isoformat(),
    }


def _print_pairs(title: str, pairs: dict[str, Any]) -> None:
    table = Table(show_header=False, title=title, title_justify="left")
    for k, v in pairs.items():
        table.add_row(
            k, json.dumps(v, ensure_ascii=False) if isinstance(v, dict | list) else str(v)
        )
    out.print(table)


# -- keys and raw JWTs (for curl) ------------------------------------------------------------


@service_app.command("keygen")
def keygen(
    out_file: Annotated[Path, typer.Argument(help="Where to write the private key (JWK)")],
    jwks: Annotated[
        Path | None, typer.Option(help="Also write the public JWKS, for `regie services add`")
    ] = None,
    alg: Annotated[str, typer.Option(help="ES256, Ed25519 or PS256")] = "ES256",
    kid: Annotated[str | None, typer.Option(help="Key id (default: its thumbprint)")] = None,
    as_json: AsJson = False,
) -> None:
    """Make a signing key pair: keep the private key, register the public JWKS."""
    with _reported(as_json):
        key = sdk.ServiceKey.generate(alg, kid=kid)
        try:
            key.save(out_file)
        except FileExistsError:
            _fail(f"{out_file} exists: not overwriting a key", as_json=as_json)
        if jwks is not None:
            jwks.write_text(json.dumps(key.public_jwks(), indent=2) + "\n", encoding="utf-8")
    result = {"key": str(out_file), "jwks": str(jwks) if jwks else None, "kid": key.kid, "alg": alg}
    if as_json:
        print(json.dumps(result))
        return
    out.print(f"private key: {out_file} (mode 0600; keep it secret)")
    if jwks:
        out.print(f"public JWKS: {jwks} (register it: regie services add ... --jwks {jwks})")
    out.print(f"kid: {key.kid}")


@service_app.command("assertion")
def assertion(vault: Vault, client_id: ClientId, key: KeyFile) -> None:
    """Print a fresh private_key_jwt client assertion (valid 60 s, works once)."""
    with _reported(False):
        signer = sdk.ServiceKey.load(key)
        print(client_assertion(signer, client_id=client_id, audience=vault.rstrip("/")))


@service_app.command("proof")
def proof(
    dpop_key: Annotated[Path, typer.Option("--dpop-key", help="The DPoP private key (JWK/PEM)")],
    method: Annotated[str, typer.Option(help="The request's method")],
    url: Annotated[str, typer.Option(help="The request's URL")],
    token: Annotated[
        str | None, typer.Option(help="The access token sent with it (adds ath)")
    ] = None,
    nonce: Annotated[
        str | None, typer.Option(help="The vault's DPoP-Nonce, if it gave one")
    ] = None,
) -> None:
    """Print a DPoP proof (RFC 9449) for one request."""
    with _reported(False):
        signer = sdk.ServiceKey.load(dpop_key)
        print(dpop_proof(signer, method=method, url=url, access_token=token, nonce=nonce))


# -- the flow ------------------------------------------------------------------------------


@service_app.command("connect")
def connect(
    code: Annotated[str, typer.Argument(help="The resident's one-time connection code")],
    vault: Vault,
    client_id: ClientId,
    key: KeyFile,
    state: StateDir = None,
    as_json: AsJson = False,
) -> None:
    """Redeem a resident's connection code: their pairwise subject for you."""
    with _reported(as_json), _client(vault, client_id, key, state) as client:
        subject = client.connect(code)
    if as_json:
        print(json.dumps({"subject": subject}))
    else:
        out.print(f"subject: {subject}")


@service_app.command("request")
def request(
    vault: Vault,
    client_id: ClientId,
    key: KeyFile,
    subject: Annotated[str, typer.Option(help="The resident's subject (from connect)")],
    datatype: Annotated[list[str], typer.Option("--datatype", help="A datatype (repeat)")],
    purpose: Annotated[str, typer.Option(help="Why, in words the resident reads")],
    procedure: Annotated[str, typer.Option(help="Your procedure reference")],
    action: Annotated[list[str], typer.Option("--action", help="read / write (repeat)")] = [  # noqa: B006
        "read"
    ],
    purpose_id: Annotated[
        str, typer.Option(help="DPV purpose URI")
    ] = "https://w3id.org/dpv#ServiceProvision",
    procedure_description: Annotated[str | None, typer.Option(help="What it is")] = None,
    planned_end: Annotated[str | None, typer.Option(help="When it will end (date)")] = None,
    valid_until: Annotated[str | None, typer.Option(help="Access until (date or time)")] = None,
    binding_message: Annotated[str | None, typer.Option(help="Shown to the resident")] = None,
    ping: Annotated[
        bool,
        typer.Option(
            "--ping",
            help="CIBA ping mode (a service registered with --token-delivery-mode ping must):"
            " sends a fresh client_notification_token, kept in the state directory",
        ),
    ] = False,
    state: StateDir = None,
    as_json: AsJson = False,
) -> None:
    """Ask the resident for access; `wait` for the answer with the auth_req_id printed."""
    with _reported(as_json), _client(vault, client_id, key, state) as client:
        asked = client.request_access(
            subject,
            datatypes=datatype,
            actions=action,
            purpose=sdk.Purpose(purpose, id=purpose_id),
            procedure=sdk.Procedure(
                procedure,
                description=procedure_description,
                planned_end=_instant(planned_end, "--planned-end"),
            ),
            valid_until=_instant(valid_until, "--valid-until"),
            binding_message=binding_message,
            ping=ping,
        )
        path = _requests_file(client_id, state)
        pending = _load_requests(path)
        pending[asked.auth_req_id] = asked.to_dict()
        _save_requests(path, pending)
    result = asked.to_dict()
    # A bearer credential for your notification endpoint: kept in the state file (0600),
    # never printed.
    result.pop("notification_token", None)
    if as_json:
        print(json.dumps(result))
        return
    _print_pairs("Request sent: the resident answers in their app", result)
    if ping:
        out.print(
            f"next: regie service wait {asked.auth_req_id} --listen URL"
            " (the notification endpoint registered for you, served here), or poll without it"
        )
    else:
        out.print(f"next: regie service wait {asked.auth_req_id}")


# -- CIBA ping: a one-off notification endpoint ----------------------------------------------


def _listen_address(url: str) -> tuple[str, int, str]:
    """Host, port and path to serve a notification endpoint at. Plain HTTP only: the CLI
    serves no TLS, so an https endpoint needs a TLS proxy in front, and this the proxy's
    local address."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname or parts.port is None:
        raise ValueError(
            "--listen is http://HOST:PORT/PATH (the CLI serves plain HTTP: for an https"
            " endpoint, give the local address your TLS proxy forwards to)"
        )
    return parts.hostname, parts.port, parts.path or "/"


class _PingListener:
    """Serves POST <path> until a genuine ping for `awaited` arrives, checked with the SDK's
    `PingCallback`: the Bearer token and the auth_req_id compared in constant time with a
    request in this state directory. A ping for another of them is accepted too (204: the
    vault sends each ping once), and reported; a forged or unknown one is refused with 401 or
    400, which the vault does not retry."""

    def __init__(
        self, address: tuple[str, int, str], awaited: sdk.AccessRequest, others: list[Any]
    ) -> None:
        host, port, self.path = address
        self.awaited = awaited
        self.callback = sdk.PingCallback()
        self.callback.expect(awaited)
        for other in others:
            self.callback.expect(other)
        self.pinged = threading.Event()
        self.others_pinged: list[str] = []
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass  # the Authorization header is a secret: log nothing

            def _answer(self, status: int) -> None:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self) -> None:
                if self.path.split("?", 1)[0] != listener.path:
                    self._answer(404)
                    return
                try:
                    length = int(self.headers.get("Content-Length") or 0)
                except ValueError:
                    length = -1
                if not 0 <= length <= MAX_PING_BODY:
                    self._answer(400)
                    return
                body = self.rfile.read(length)
                try:
                    request = listener.callback.check(self.headers, body)
                except sdk.RegieError as refused:
                    self._answer(refused.status or 400)
                    return
                self._answer(204)
                if request.auth_req_id == listener.awaited.auth_req_id:
                    listener.pinged.set()
                else:
                    listener.others_pinged.append(request.auth_req_id)

        try:
            self.server = HTTPServer((host, port), Handler)  # binds now, before any poll
        except OSError as e:
            raise ValueError(f"cannot listen at {host}:{port}: {e.strerror or e}") from e
        self.server.timeout = 0.2

    def wait(self, deadline: float | None) -> bool:
        """Serve until the awaited ping (True) or the deadline (False)."""
        while not self.pinged.is_set():
            if deadline is not None and time.monotonic() >= deadline:
                return False
            self.server.handle_request()
        return True

    def close(self) -> None:
        self.server.server_close()


@service_app.command("wait")
def wait(
    auth_req_id: Annotated[str, typer.Argument(help="From `regie service request`")],
    vault: Vault,
    client_id: ClientId,
    key: KeyFile,
    timeout: Annotated[
        float | None, typer.Option(help="Give up after this many seconds (exit code 6)")
    ] = None,
    listen: Annotated[
        str | None,
        typer.Option(
            help="Ping mode: serve your registered notification endpoint at this http:// URL"
            " until the vault's ping, then fetch the answer (instead of polling all along)"
        ),
    ] = None,
    state: StateDir = None,
    as_json: AsJson = False,
) -> None:
    """Wait for the resident's answer (polling as the vault asks, or, with --listen, told by
    the vault's ping): the grant."""
    path = _requests_file(client_id, state)
    pending = _load_requests(path)
    if auth_req_id not in pending:
        _fail(
            "no request with that auth_req_id in this state directory (see --state)",
            as_json=as_json,
        )
    with _reported(as_json), _client(vault, client_id, key, state) as client:
        asked = sdk.AccessRequest.from_dict(pending[auth_req_id])
        try:
            if listen is not None:
                grant = _wait_for_ping(client, asked, pending, listen, timeout)
            else:
                with err.status("waiting for the resident's answer", spinner="dots"):
                    grant = client.wait(asked, timeout=timeout)
        except (sdk.AccessDenied, sdk.InvalidRequest):
            pending.pop(auth_req_id, None)  # answered (no, or lapsed): nothing to wait for
            _save_requests(path, pending)
            raise
        pending.pop(auth_req_id, None)
        _save_requests(path, pending)
    if as_json:
        print(json.dumps(_grant_json(grant)))
        return
    _print_pairs(
        "Access given (read what was given: it may be less than asked)", _grant_json(grant)
    )


def _wait_for_ping(
    client: sdk.ServiceClient,
    asked: sdk.AccessRequest,
    pending: dict[str, Any],
    listen: str,
    timeout: float | None,
) -> sdk.Grant:
    """Listen for the ping, then fetch the answer. One poll first: the resident may have
    answered before the endpoint was up (the vault then retries its ping, with backoff)."""
    if asked.notification_token is None:
        raise ValueError("this request was not sent with --ping: wait for it without --listen")
    others = [
        sdk.AccessRequest.from_dict(d)
        for key, d in pending.items()
        if key != asked.auth_req_id and d.get("notification_token")
    ]
    listener = _PingListener(_listen_address(listen), asked, others)
    deadline = None if timeout is None else time.monotonic() + timeout
    polled_at = time.monotonic()
    try:
        try:
            return client.poll(asked)
        except sdk.AuthorizationPending:  # SlowDown too: not answered yet
            pass
        with err.status(f"waiting for the vault's ping at {listen}", spinner="dots"):
            pinged = listener.wait(deadline)
    finally:
        listener.close()
    for other in listener.others_pinged:
        err.print(f"[yellow]request {other} was answered too: regie service wait {other}[/]")
    if not pinged:
        raise sdk.AuthorizationPending(
            f"no ping within {timeout:g} seconds; wait again later with the same request",
            code="authorization_pending",
        )
    # The vault wants `interval` seconds between polls (else slow_down): then fetch the answer.
    time.sleep(max(0.0, polled_at + asked.interval - time.monotonic()))
    return client.wait(asked)


@service_app.command("grants")
def grants(
    vault: Vault, client_id: ClientId, key: KeyFile, state: StateDir = None, as_json: AsJson = False
) -> None:
    """The grants this state directory holds tokens for."""
    with _reported(as_json), _client(vault, client_id, key, state) as client:
        held = client.grants()
    if as_json:
        print(json.dumps([_grant_json(g) for g in held]))
        return
    table = Table(title="Grants held")
    for column in ("grant_id", "subject", "procedure", "datatypes", "actions", "valid_until"):
        table.add_column(column)
    for g in held:
        table.add_row(
            g.grant_id,
            g.subject,
            g.procedure,
            ", ".join(g.datatypes),
            ", ".join(g.actions),
            g.valid_until.isoformat() if g.valid_until else "",
        )
    out.print(table)


@service_app.command("read")
def read(
    grant_id: Annotated[str, typer.Argument(help="The grant to read under")],
    vault: Vault,
    client_id: ClientId,
    key: KeyFile,
    record_id: Annotated[str | None, typer.Argument(help="One record (default: list)")] = None,
    verify: Annotated[bool, typer.Option(help="Check the issuer signature, if any")] = False,
    state: StateDir = None,
    as_json: AsJson = False,
) -> None:
    """List the records a grant lets you read, or read one."""
    with _reported(as_json), _client(vault, client_id, key, state) as client:
        if record_id is None:
            records = client.list_records(grant_id)
        else:
            one = client.read_record(grant_id, record_id)
            if verify and one.signature is not None:
                client.verify_signature(one)
            records = [one]
    if as_json:
        shaped = [_record_json(r) for r in records]
        print(json.dumps(shaped if record_id is None else shaped[0]))
        return
    if record_id is None:
        table = Table(title=f"Records under grant {grant_id}")
        for column in ("id", "type", "title", "version", "written by", "signed by"):
            table.add_column(column)
        for r in records:
            table.add_row(
                r.id,
                r.type,
                r.title or "",
                str(r.version),
                r.provenance.written_by,
                r.signature.issuer if r.signature else "",
            )
        out.print(table)
        return
    shown = _record_json(records[0])
    if verify and records[0].signature is not None:
        shown["signature"] = {**shown["signature"], "verified": True}
    _print_pairs(records[0].title or records[0].id, shown)


@service_app.command("write")
def write(
    grant_id: Annotated[str, typer.Argument(help="The grant to write under")],
    vault: Vault,
    client_id: ClientId,
    key: KeyFile,
    type: Annotated[str, typer.Option("--type", help="The record type, e.g. education.grades")],
    title: Annotated[str, typer.Option(help="The title the resident sees")],
    content: Annotated[
        str | None, typer.Option(help="The JSON content (or @FILE to read it from a file)")
    ] = None,
    sign: Annotated[bool, typer.Option(help="Add your issuer signature")] = False,
    state: StateDir = None,
    as_json: AsJson = False,
) -> None:
    """Write a record into the resident's vault (it stays theirs)."""
    raw = content if content is not None else sys.stdin.read()
    if raw.startswith("@"):
        try:
            raw = Path(raw[1:]).read_text(encoding="utf-8")
        except OSError as e:
            _fail(f"cannot read {raw[1:]}: {e.strerror}", as_json=as_json)
    try:
        body = json.loads(raw)
    except ValueError:
        _fail("--content is not JSON", as_json=as_json)
    with _reported(as_json), _client(vault, client_id, key, state) as client:
        record = client.write_record(grant_id, type=type, title=title, content=body, sign=sign)
    if as_json:
        print(json.dumps(_record_json(record)))
        return
    _print_pairs("Written into the resident's vault", _record_json(record))


@service_app.command("close")
def close(
    vault: Vault,
    client_id: ClientId,
    key: KeyFile,
    subject: Annotated[str, typer.Option(help="The resident's subject")],
    procedure: Annotated[str, typer.Option(help="Your procedure reference")],
    state: StateDir = None,
    as_json: AsJson = False,
) -> None:
    """Close a procedure: every grant under it ends now (treatment done, data gone)."""
    with _reported(as_json), _client(vault, client_id, key, state) as client:
        ended = client.close_procedure(subject, procedure)
    if as_json:
        print(json.dumps({"ended_grants": ended}))
    else:
        out.print(f"procedure {procedure} closed: {ended} grant(s) ended")


@service_app.command("relinquish")
def relinquish(
    grant_id: Annotated[str, typer.Argument(help="The grant to give back")],
    vault: Vault,
    client_id: ClientId,
    key: KeyFile,
    state: StateDir = None,
    as_json: AsJson = False,
) -> None:
    """Give a grant back now."""
    with _reported(as_json), _client(vault, client_id, key, state) as client:
        client.relinquish(grant_id)
    if as_json:
        print(json.dumps({"relinquished": grant_id}))
    else:
        out.print(f"grant {grant_id} given back")


@service_app.command("events")
def events(
    vault: Vault,
    client_id: ClientId,
    key: KeyFile,
    ack: Annotated[
        list[str] | None, typer.Option("--ack", help="A jti you have handled (repeat)")
    ] = None,
    wait_for: Annotated[
        bool, typer.Option("--wait", help="Let the vault hold the request until an event comes")
    ] = False,
    state: StateDir = None,
    as_json: AsJson = False,
) -> None:
    """Fetch your events (RFC 8936), verified, and acknowledge the ones given with --ack."""
    with _reported(as_json), _client(vault, client_id, key, state) as client:
        batch = client.poll_events(ack=ack or [], wait=wait_for)
    shaped = [
        {
            "jti": e.jti,
            "type": e.type,
            "grant_id": e.grant_id,
            "subject": e.subject,
            "procedure": e.procedure,
            "reason": e.reason,
            "at": e.at.isoformat() if e.at else None,
        }
        for e in batch.events
    ]
    if as_json:
        print(
            json.dumps({"events": shaped, "rejected": batch.rejected, "more": batch.more_available})
        )
        return
    table = Table(title="Events (acknowledge with --ack JTI)")
    for column in ("jti", "type", "grant_id", "procedure", "reason", "at"):
        table.add_column(column)
    for e in shaped:
        table.add_row(
            *(str(e[c] or "") for c in ("jti", "type", "grant_id", "procedure", "reason", "at"))
        )
    out.print(table)
    for jti, code in batch.rejected.items():
        err.print(f"[yellow]refused SET {jti}: {code} (reported to the vault)[/yellow]")
