"""docs/integrators.md runs as written, against a real server, so the guide cannot rot.

Every ```sh and ```python block of the guide is preceded by `<!-- example: NAME -->` and is run
here (or says `not-run` and why). Shell blocks run in order in one bash session (so their
variables carry over), with `regie`, curl and jq on the PATH; Python blocks of the step-by-step
part run in order in one namespace, and the 30-line example on its own. What the guide fills
in for the reader is all that is changed: the vault's URL, the event endpoint's URL, and the
resident's connection code (each block that uses one gets a new resident with a record). A
resident approves every request while the examples wait, as a person would in the app. Where
the guide shows an output (a ```text block right after), the block's output must match it,
`…` standing for anything.

The push example is served as the clinic's real event endpoint: every grant the examples end
must be told, to it or (for the flow that polls) by poll. The browser-flow example runs with the
step-by-step client; a resident's browser opens its URL and answers, and the example's
callback gets the URL the browser is sent back to, as a web framework would hand it over.
"""

from __future__ import annotations

import contextlib
import io
import os
import queue
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import httpx
import pytest

import clients.sdk as sdk
from support.residents import Resident, sign_up
from support.server import RegieServer, free_port

pytestmark = pytest.mark.slow

DOC = Path(__file__).resolve().parents[2] / "docs" / "integrators.md"
BLOCK = re.compile(
    r"<!-- example: (?P<name>[^\n]*?) -->\n```(?P<lang>\w+)\n(?P<code>.*?)^```\n"
    r"(?:\n```text\n(?P<output>.*?)^```\n)?",
    re.DOTALL | re.MULTILINE,
)
DOC_VAULT = "http://localhost:8000"
DOC_EVENTS = "http://localhost:9000"
DOC_CODE = "K7QF2-M9D4X"
STEP_BLOCKS = (
    "sdk-key",
    "sdk-setup",
    "sdk-connect",
    "sdk-request",
    "sdk-wait",
    "sdk-read-write",
    "sdk-close",
    "sdk-events-poll",
)
BROWSER_BLOCKS = ("sdk-browser-start", "sdk-browser-finish")
SHELL_BLOCKS = (
    "keygen",
    "register",
    "curl-setup",
    "curl-connect",
    "curl-request",
    "curl-wait",
    "curl-read",
    "curl-write",
    "curl-close",
    "curl-events",
    "cli",
)


@dataclass(frozen=True)
class Example:
    name: str
    lang: str
    code: str
    output: str | None


def examples() -> dict[str, Example]:
    text = DOC.read_text(encoding="utf-8")
    found = [Example(m["name"], m["lang"], m["code"], m["output"]) for m in BLOCK.finditer(text)]
    fences = len(re.findall(r"^```(?:sh|python)$", text, re.MULTILINE))
    assert len(found) == fences, "every sh/python block needs an <!-- example: NAME --> marker"
    by_name = {e.name: e for e in found}
    assert len(by_name) == len(found), "example names must be unique"
    return by_name


def matches(expected: str, actual: str) -> bool:
    want = [line.rstrip() for line in expected.strip("\n").splitlines()]
    got = [line.rstrip() for line in actual.strip("\n").splitlines()]
    patterns = [re.escape(line).replace("…", ".*") for line in want]
    return len(want) == len(got) and all(
        re.fullmatch(p, g) for p, g in zip(patterns, got, strict=True)
    )


class Shell:
    """One bash session; `run` feeds it a block and returns what the block printed."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self._proc = subprocess.Popen(
            ["bash", "--noprofile", "--norc"],
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def run(self, script: str, *, timeout: float = 180) -> str:
        assert self._proc.stdin is not None
        done = f"__block_done_{uuid.uuid4().hex}__"
        # -e: a failing command ends the session, and the test with it.
        self._proc.stdin.write(f"set -eo pipefail\n{script}\necho {done}\n")
        self._proc.stdin.flush()
        lines: list[str] = []
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError("the block did not finish:\n" + "".join(lines)) from None
            if line is None:
                raise AssertionError("the block failed:\n" + "".join(lines))
            if line.strip() == done:
                return "".join(lines)
            lines.append(line)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            assert self._proc.stdin is not None
            self._proc.stdin.close()
        self._proc.wait(timeout=10)
        if self._proc.stdout is not None:
            self._proc.stdout.close()


class Residents:
    """Residents with a medication record, and one who approves every request meanwhile."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = httpx.Client(base_url=base, timeout=10)
        self.people: list[Resident] = []
        self.approved: list[str] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._approve, daemon=True)
        self._thread.start()

    def new_code(self) -> str:
        with self._lock:
            person = sign_up(self.http, f"Inwoner {len(self.people) + 1}", origin=self.base)  # type: ignore[arg-type]
            made = self.http.post(
                "/v1/me/records",
                headers=person.headers,
                json={
                    "category": "health",
                    "type": "health.medication",
                    "title": "Medicatieoverzicht",
                    "content": {"metformine": "500 mg"},
                },
            )
            assert made.status_code == 201, made.text
            self.people.append(person)
            code = self.http.post("/v1/me/connection-codes", headers=person.headers)
            return str(code.json()["code"])

    def _approve(self) -> None:
        while not self._stop.wait(0.5):
            with self._lock:
                for person in self.people:
                    waiting = self.http.get("/v1/me/requests", headers=person.headers)
                    for request in waiting.json()["grants"]:
                        done = self.http.post(
                            f"/v1/me/grants/{request['id']}/approve",
                            json={},
                            headers=person.headers,
                        )
                        assert done.status_code == 200, done.text
                        self.approved.append(request["id"])

    def browser(self, url: str, verb: str) -> str:
        """A signed-in resident's browser opens a browser-flow link and answers: where the
        vault sends it back to."""
        with self._lock:
            person = sign_up(self.http, "Inwoner in de browser", origin=self.base)  # type: ignore[arg-type]
        link = httpx.URL(url)
        assert (
            f"{link.scheme}://{link.host}:{link.port}{link.path}" == f"{self.base}/oauth/authorize"
        )
        started = self.http.post(
            "/v1/me/authorizations", json=dict(link.params), headers=person.headers
        )
        assert started.status_code == 201, started.text
        grant_id = started.json()["grant_id"]
        answered = self.http.post(
            f"/v1/me/authorizations/{grant_id}/{verb}",
            json={} if verb == "approve" else None,
            headers=person.headers,
        )
        assert answered.status_code == 200, answered.text
        return str(answered.json()["redirect_to"])

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.http.close()


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class Run:
    server: RegieServer
    events_url: str
    residents: Residents
    cwd: Path

    def urls(self, text: str) -> str:
        return text.replace(DOC_VAULT, self.server.base).replace(DOC_EVENTS, self.events_url)

    def fill_in(self, code: str) -> str:
        filled = self.urls(code)
        if DOC_CODE in filled:
            filled = filled.replace(DOC_CODE, self.residents.new_code())
        return filled


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Run]:
    server = RegieServer(tmp_path, env={"REGIE_EVENTS_PUSH_INTERVAL_SECONDS": "0.2"})
    with server:
        residents = Residents(server.base)
        monkeypatch.chdir(tmp_path)  # the examples name their key files relative to here
        try:
            yield Run(server, f"http://localhost:{free_port()}", residents, tmp_path)
        finally:
            residents.close()


def check_output(run: Run, example: Example, printed: str) -> None:
    if example.output is not None:
        assert matches(run.urls(example.output), printed), (
            f"{example.name} printed:\n{printed}\nthe guide shows:\n{example.output}"
        )


def exec_python(run: Run, example: Example, namespace: dict[str, Any]) -> None:
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(run.fill_in(example.code), f"{DOC}:{example.name}", "exec"), namespace)  # noqa: S102 - our own guide
    check_output(run, example, printed.getvalue())


def test_the_integrators_guide_runs_as_written(run: Run) -> None:
    found = examples()
    assert set(found) == {
        *STEP_BLOCKS,
        *SHELL_BLOCKS,
        *BROWSER_BLOCKS,
        "sdk-in-30-lines",
        "sdk-events-push",
    } | {name for name in found if name.startswith("not-run")}
    flow = found["sdk-in-30-lines"].code.strip("\n").splitlines()
    assert len(flow) < 30, f"the whole flow takes {len(flow)} lines"

    # The push endpoint of the guide, served where the clinic registers its event endpoint.
    push_namespace: dict[str, Any] = {"__name__": "integrators_push"}
    exec_python(run, found["sdk-events-push"], push_namespace)
    told: list[sdk.Event] = []
    push_namespace["receiver"].handlers.append(told.append)
    port = int(run.events_url.rsplit(":", 1)[1])
    endpoint = make_server(
        "127.0.0.1",
        port,
        push_namespace["events_app"],
        server_class=WSGIServer,
        handler_class=QuietHandler,
    )
    threading.Thread(target=endpoint.serve_forever, daemon=True).start()
    shell = Shell(
        run.cwd,
        {
            **run.server.env,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "XDG_STATE_HOME": str(run.cwd / "state"),
        },
    )
    try:
        for name in SHELL_BLOCKS:
            example = found[name]
            check_output(run, example, shell.run(run.fill_in(example.code)))

        steps: dict[str, Any] = {"__name__": "integrators_steps"}
        for name in STEP_BLOCKS:
            exec_python(run, found[name], steps)
        # The browser flow, approved and then denied in a resident's browser.
        for verb in ("approve", "deny"):
            for name in BROWSER_BLOCKS:
                exec_python(run, found[name], steps)
            back = run.residents.browser(steps["flow"].url, verb)
            assert back.startswith(f"{run.events_url}/callback?")
            grant = steps["callback"](back)
            if verb == "deny":
                assert grant is None
                continue
            assert isinstance(grant, sdk.Grant)
            assert grant.datatypes == ("health.medication",)
            assert steps["vault"].list_records(grant) == []  # a new resident: nothing yet
            with pytest.raises(KeyError):  # the flow was used up: a reload of the callback
                steps["callback"](back)
        steps["vault"].close()

        exec_python(run, found["sdk-in-30-lines"], {"__name__": "integrators_flow"})

        # The curl, CLI, step-by-step and 30-line flows each ended a grant: each was told,
        # by push or (the step-by-step flow polls) by poll: what one delivers, the other
        # does not. (Generous: on a loaded machine a push that times out comes again later.)
        polled = [e for e in steps["batch"].events if e.type == "grant-ended"]

        def ended() -> dict[str, str | None]:
            told_ended = [e for e in [*told, *polled] if e.type == "grant-ended"]
            return {e.grant_id: e.reason for e in told_ended}

        deadline = time.monotonic() + 120
        while len(ended()) < 4 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(ended()) == 4, [(e.type, e.grant_id, e.reason) for e in [*told, *polled]]
        assert set(ended().values()) == {"procedure-closed"}
        assert len(run.residents.approved) == 4
    finally:
        shell.close()
        endpoint.shutdown()
        endpoint.server_close()
        push_namespace["receiver"].close()
