"""Real servers for end-to-end tests: `regie serve` in a process group of its own, and a
private PostgreSQL cluster that a test may stop, restart or break without touching the
shared one other tests use.

    with PostgresCluster() as pg, RegieServer(tmp, database_url=pg.url, workers=2) as srv:
        srv.cli("services", "add", ...)
        httpx.get(srv.base + "/healthz")
        pg.restart()
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

import httpx

REPO = Path(__file__).resolve().parents[2]
START_SECONDS = 60
CLI_SECONDS = 60


_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A port nothing listens on; never the same one twice in a process (a port handed out
    may not be bound yet). `REGIE_TEST_PORTS` (e.g. `8300-8399`) narrows the ports tried, so
    that engineers sharing a machine do not collide; by default the system picks."""
    wanted = os.environ.get("REGIE_TEST_PORTS")
    if wanted:
        low, _, high = wanted.partition("-")
        candidates = list(range(int(low), int(high or low) + 1))
    else:
        candidates = [0]
    for port in candidates:
        if port in _HANDED_OUT:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            chosen = int(s.getsockname()[1])
        _HANDED_OUT.add(chosen)
        return chosen
    raise RuntimeError(f"no free port in REGIE_TEST_PORTS={wanted}")


def regie_command() -> str:
    beside = Path(sys.executable).with_name("regie")
    if beside.exists():
        return str(beside)
    found = shutil.which("regie")
    assert found, "the `regie` command is not installed (pip install -e .)"
    return found


def tail(log: Path, lines: int = 40) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError as e:
        return f"(no log: {e})"


def children(pid: int) -> set[int]:
    """The PIDs whose parent is `pid` (from /proc)."""
    kids = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces, so split after the last ')'.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            kids.add(int(entry.name))
    return kids


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


class RegieServer:
    """`regie migrate` then `regie serve --workers N` on a free port of localhost."""

    def __init__(
        self,
        tmp: Path,
        *,
        database_url: str | None = None,
        workers: int = 1,
        env: dict[str, str] | None = None,
    ) -> None:
        self.tmp = tmp
        self.port = free_port()
        self.base = f"http://localhost:{self.port}"
        self.workers = workers
        self.log = tmp / f"serve-{self.port}.log"
        base_env = {k: v for k, v in os.environ.items() if not k.startswith("REGIE_")}
        base_env.update(
            REGIE_MODE="development",
            REGIE_PUBLIC_URL=self.base,
            REGIE_DATA_DIR=str(tmp / "data"),
            # Rate limits have tests of their own (tests/integration/test_rate_limits.py).
            REGIE_RATE_LIMITS="false",
        )
        if database_url is not None:
            base_env["REGIE_DATABASE_URL"] = database_url
        base_env.update(env or {})
        self.env = base_env
        self.proc: subprocess.Popen[bytes] | None = None

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [regie_command(), *args],
            cwd=REPO,
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=CLI_SECONDS,
            check=False,
        )
        if check:
            assert done.returncode == 0, (
                f"regie {' '.join(args)}: {done.returncode}\n{done.stdout}\n{done.stderr}"
            )
        return done

    def start(self) -> RegieServer:
        self.cli("migrate")
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [
                    regie_command(),
                    "serve",
                    "--workers",
                    str(self.workers),
                    "--port",
                    str(self.port),
                ],
                cwd=REPO,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.wait_for_workers(self.workers)
        return self

    def worker_pids(self) -> list[int]:
        """The live workers: children that logged their start (not multiprocessing helpers)."""
        assert self.proc is not None
        if self.workers == 1:
            return [self.proc.pid]
        text = self.log.read_text(errors="replace")
        started = {int(p) for p in re.findall(r"Started server process \[(\d+)\]", text)}
        return sorted(started & children(self.proc.pid))

    def wait_for_workers(self, count: int, *, seconds: float = START_SECONDS) -> list[int]:
        """/healthz answers and `count` workers have logged a complete start-up."""
        assert self.proc is not None
        deadline = time.monotonic() + seconds
        with httpx.Client(base_url=self.base, timeout=5) as http:
            while True:
                rc = self.proc.poll()
                assert rc is None, f"regie serve exited with {rc}:\n{tail(self.log)}"
                healthy = False
                with contextlib.suppress(httpx.HTTPError):
                    healthy = http.get("/healthz").status_code == 200
                text = self.log.read_text(errors="replace")
                complete = text.count("Application startup complete")
                if healthy and complete >= count and len(self.worker_pids()) == self.workers:
                    return self.worker_pids()
                assert time.monotonic() < deadline, (
                    f"no {count} started workers and /healthz within {seconds} s:\n{tail(self.log)}"
                )
                time.sleep(0.2)

    def stop(self) -> None:
        """SIGTERM to the server's process group (supervisor and workers), SIGKILL after 10 s."""
        if self.proc is None:
            return
        pgid = self.proc.pid  # start_new_session: the server leads a group of its own
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            self.proc.poll()  # reap the supervisor, so only live workers keep the group alive
            if not _group_alive(pgid):
                break
            time.sleep(0.1)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
        self.proc.wait()
        self.proc = None

    def logged_errors(self) -> list[str]:
        """Lines of the server log that speak of a traceback or a 500: an access line (JSON,
        api/logs.py) with status 500, a line with an exception's stack, or a raw traceback
        (printed before logging was configured)."""
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

    def __enter__(self) -> RegieServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _postgres_bin() -> Path | None:
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").exists():
            return candidate
    found = shutil.which("initdb")
    return Path(found).parent if found else None


class PostgresCluster:
    """A PostgreSQL cluster of the test's own (initdb in `tmp`, a free port, trust auth).

    As root, initdb and postgres run as the `postgres` user (they refuse to run as root).
    """

    def __init__(self) -> None:
        bin_dir = _postgres_bin()
        if bin_dir is None:
            raise RuntimeError("PostgreSQL's server programs (initdb, pg_ctl) are not installed")
        self.bin = bin_dir
        # Not under pytest's tmp_path: those are 0700 and root's, which postgres cannot enter.
        self.dir = Path(tempfile.mkdtemp(prefix="regie-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        self.log = self.dir / "postgres.log"

    def _run(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, f"{args[0]}: {done.stdout}\n{done.stderr}\n{tail(self.log)}"

    def init(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.log), "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def __enter__(self) -> PostgresCluster:
        self.init()
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(AssertionError):
            self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


def register_clinic(server: RegieServer, tmp: Path, client_id: str) -> Path:
    """A care provider that may read medication, registered as an operator does it
    (`regie service keygen`, `regie services add`); its private key file."""
    key, jwks = tmp / "clinic.jwk", tmp / "clinic.json"
    server.cli("service", "keygen", str(key), "--jwks", str(jwks))
    server.cli(
        "services", "add", "--name", "Huisartsenpraktijk De Linde",
        "--organisation", "ura:12345678", "--kind", "care-provider",
        "--datatype", "health.medication", "--action", "read",
        "--jwks", str(jwks), "--client-id", client_id,
    )  # fmt: skip
    return key
