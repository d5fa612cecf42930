"""The demo's own vault: a temporary data directory, migrated and served by `regie serve`
(uvicorn on a free localhost port, SQLite), as `make run` does; stopped and deleted after.

The operator's part (registering services, appointing the auditor, reading the log's public
key) runs here, in this process, with the same container calls the `regie services add`,
`regie auditors add` and `regie audit key` commands make, before the server starts: so only
one process ever writes the SQLite file at a time. The demo's settings are only the ones
given here (no `REGIE_*` from the environment leaks in, neither here nor into the server).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess  # nosec B404 - runs `regie serve`, our own program
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

import clients
from api.bootstrap import build_container
from api.container import Container
from api.settings import Settings
from clients.sdk import ServiceKey
from clients.sdk.resident import LogKey
from vault.storage.engine import build_engine
from vault.storage.migrate import upgrade

START_SECONDS = 60
STOP_SECONDS = 10
# The name the demo's operator acts under (`regie ... --operator`): its entries in the log say so.
DEMO_OPERATOR = "demo"
# The source tree this process runs from: the server runs the very same code.
_SOURCE_ROOT = Path(clients.__file__).resolve().parents[1]


class DemoError(Exception):
    """The demo could not do what it set out to do (the message says what)."""


class _DemoSettings(Settings):
    """Settings from the arguments only: the caller's environment is not the demo's."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True, slots=True)
class RegisteredService:
    client_id: str
    name: str
    key: ServiceKey


@dataclass(frozen=True, slots=True)
class Appointment:
    name: str
    code: str


class DemoVault:
    """`with DemoVault() as vault:` a served vault at `vault.url`; `vault.log` is its log."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://localhost:{self.port}"
        self.dir = Path(tempfile.mkdtemp(prefix="regie-demo-"))
        self.log = self.dir / "serve.log"
        values: dict[str, Any] = {
            "mode": "development",
            "public_url": self.url,
            "data_dir": self.dir / "data",
            "events_push_interval_seconds": 0.2,  # the demo waits for pushed events
        }
        self.settings = _DemoSettings(**values)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("REGIE_")}
        self.env.update(
            REGIE_MODE="development",
            REGIE_PUBLIC_URL=self.url,
            REGIE_DATA_DIR=str(self.dir / "data"),
            REGIE_EVENTS_PUSH_INTERVAL_SECONDS="0.2",
            # Everything is delivered and integrated before the demo stops the server; a
            # short drain keeps the stop quick (the directory is deleted right after).
            REGIE_SHUTDOWN_DRAIN_SECONDS="2",
            PYTHONPATH=os.pathsep.join(
                p for p in (str(_SOURCE_ROOT), os.environ.get("PYTHONPATH")) if p
            ),
        )
        self._container: Container | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    # -- the operator's part, before the server starts -------------------------------------

    def prepare(self) -> None:
        """`regie migrate`: the schema, and the keyring on first use."""
        self.settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        engine = build_engine(self.settings.resolved_database_url)
        try:
            upgrade(engine)
        finally:
            engine.dispose()
        self._container = build_container(self.settings)

    def _operator(self) -> Container:
        if self._container is None:
            raise DemoError("the vault is not prepared yet")
        return self._container

    def add_service(
        self,
        *,
        client_id: str,
        name: str,
        organisation: str,
        kind: str,
        datatypes: list[str],
        actions: list[str],
        event_endpoint: str | None = None,
    ) -> RegisteredService:
        """What `regie services add --jwks ...` does, with a new key of the service's own."""
        key = ServiceKey.generate()
        self._operator().services.add(
            operator=DEMO_OPERATOR,
            name=name,
            organisation=organisation,
            kind=kind,
            datatypes=datatypes,
            actions=actions,
            jwks=key.public_jwks(),
            jwks_uri=None,
            event_endpoint=event_endpoint,
            client_id=client_id,
        )
        return RegisteredService(client_id, name, key)

    def appoint_auditor(self, name: str) -> Appointment:
        """What `regie auditors add NAME` does: the one-time enrolment code."""
        made = self._operator().auditors.appoint(name, operator=DEMO_OPERATOR)
        return Appointment(name, made.code)

    def log_key(self) -> LogKey:
        """What `regie audit key` prints: the key an auditor pins (with the log's name)."""
        key = self._operator().log_key
        return LogKey(key.name, key.verifier_key)

    def _close_operator(self) -> None:
        container, self._container = self._container, None
        if container is not None and container.engine is not None:
            container.engine.dispose()

    # -- the server -------------------------------------------------------------------------

    def start(self) -> None:
        """`regie serve --port N`, waiting until /healthz answers."""
        self._close_operator()  # the server is the only writer from here on
        command = [sys.executable, "-m", "clients.cli.main", "serve", "--port", str(self.port)]
        with self.log.open("ab") as out:
            self._proc = subprocess.Popen(  # noqa: S603  # nosec B603 - our own command, no shell
                command,
                cwd=self.dir,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_SECONDS
        with httpx.Client(base_url=self.url, timeout=5) as http:
            while True:
                if self._proc.poll() is not None:
                    raise DemoError(f"the vault did not start:\n{self.log_tail()}")
                with contextlib.suppress(httpx.HTTPError):
                    if http.get("/healthz").status_code == 200:
                        return
                if time.monotonic() > deadline:
                    raise DemoError(f"the vault did not answer in {START_SECONDS} s")
                time.sleep(0.2)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"

    def logged_errors(self) -> list[str]:
        """Lines of the server's log that speak of a 500 or an exception's stack trace."""
        errors = []
        for line in self.log.read_text(errors="replace").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                entry = None
            if not isinstance(entry, dict):
                if "Traceback" in line:
                    errors.append(line)
            elif entry.get("status") == 500 or "stack" in entry:
                errors.append(line)
        return errors

    def stop(self) -> None:
        """SIGTERM to the server's process group, SIGKILL after a while; then delete it all."""
        self._close_operator()
        proc, self._proc = self._proc, None
        if proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> DemoVault:
        try:
            self.prepare()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
