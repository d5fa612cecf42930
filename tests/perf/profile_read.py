"""In-process profile of the grant API's hot path: authorized reads, and CIBA token requests
(docs/performance.md, "Where the time goes").

No HTTP server and no sockets to the client: the ASGI app is called directly, `--conns`
requests in flight on one event loop, so the figure is the app's own CPU per request
(process CPU time / requests; PostgreSQL's backends are not counted). The database is
PostgreSQL (a fresh schema in database `test`, dropped at the end) with the real async
engine, or SQLite with `--sqlite`.

    .venv/bin/python tests/perf/profile_read.py                 # reads and tokens, c=32
    .venv/bin/python tests/perf/profile_read.py --profile read  # + cProfile of the reads
    .venv/bin/python tests/perf/profile_read.py --scenarios ping,read  # + the FastAPI peer

Scenario `ping` drives the bare FastAPI peer's `/ping` (PEER_APP, default
/work/shared/peers/python/fastapi_app.py) the same way in the same process: bar (a)'s
reference, so that read ÷ ping is measured on the same machine load.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import importlib.util
import io
import os
import pstats
import sys
import tempfile
import time
import uuid
import warnings
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))
sys.path.insert(0, str(HERE.parents[1] / "tests"))
warnings.filterwarnings("ignore", message=".*httpx.*")

from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from api.app import create_app  # noqa: E402
from api.bootstrap import build_container  # noqa: E402
from api.settings import Settings  # noqa: E402
from support.residents import sign_up  # noqa: E402
from support.service_client import BASE, ServiceAgent  # noqa: E402
from vault.storage.engine import build_engine  # noqa: E402
from vault.storage.migrate import upgrade  # noqa: E402

PEER_APP = Path(os.environ.get("PEER_APP", "/work/shared/peers/python/fastapi_app.py"))
PG = os.environ.get("REGIE_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def database(sqlite: bool, tmp: Path) -> tuple[str, str | None]:
    if sqlite:
        return f"sqlite:///{tmp / 'p.db'}", None
    schema = f"regie_prof_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    return f"{PG}?options=-csearch_path%3D{schema}", schema


def drop(schema: str | None) -> None:
    if schema:
        admin = create_engine(PG)
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


async def call(
    app: Any, method: str, path: str, headers: list[tuple[bytes, bytes]], body: bytes = b""
) -> int:
    """One request straight into the ASGI app; its status."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"localhost:8000"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    sent = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def drive(
    app: Any, requests: list[tuple[str, str, list[tuple[bytes, bytes]], bytes]], conns: int
) -> Counter[int]:
    statuses: Counter[int] = Counter()
    queue = list(reversed(requests))

    async def worker() -> None:
        while queue:
            method, path, headers, body = queue.pop()
            statuses[await call(app, method, path, headers, body)] += 1

    await asyncio.gather(*(worker() for _ in range(conns)))
    return statuses


LIBRARIES = (
    ("sqlalchemy", "SQLAlchemy"),
    ("psycopg", "psycopg"),
    ("aiosqlite", "aiosqlite"),
    ("greenlet", "greenlet (SQLAlchemy's async bridge)"),
    ("fastapi", "FastAPI"),
    ("starlette", "Starlette"),
    ("pydantic", "pydantic"),
    ("joserfc", "joserfc"),
    ("cryptography", "cryptography (OpenSSL)"),
    ("/work/", "Regie (api/, vault/, keys/)"),
    ("asyncio", "asyncio event loop"),
    ("json", "json"),
)


def by_library(stats: pstats.Stats, n: int) -> str:
    """Self CPU time per request, by the library of the function that spent it."""
    totals: Counter[str] = Counter()
    for (filename, _line, name), row in stats.stats.items():  # type: ignore[attr-defined]
        where = filename if filename != "~" else name
        label = next((lab for key, lab in LIBRARIES if key in where), "other (stdlib, builtins)")
        if label.startswith("Regie") and "/.venv/" in where:
            label = "other (stdlib, builtins)"
        totals[label] += row[2]
    whole = sum(totals.values())
    lines = [
        f"self CPU per request by library (cProfile, {whole / n * 1000:.2f} ms/request"
        " with the profiler's own overhead):"
    ]
    for label, seconds in totals.most_common():
        lines.append(f"  {100 * seconds / whole:5.1f} %  {seconds / n * 1000:6.3f} ms  {label}")
    return "\n".join(lines)


def peer_app() -> Any:
    """The bare FastAPI app of the peers' benchmark (bar (a)'s reference)."""
    spec = importlib.util.spec_from_file_location("peer_fastapi_app", PEER_APP)
    if spec is None or spec.loader is None:
        raise SystemExit(f"no peer app at {PEER_APP} (set PEER_APP)")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.app


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--sqlite", action="store_true")
    ap.add_argument("--n", type=int, default=2000, help="requests per scenario")
    ap.add_argument("--conns", type=int, default=32)
    ap.add_argument("--scenarios", default="read,token")
    ap.add_argument("--sort", default="tottime", help="cProfile order: tottime, cumulative")
    ap.add_argument("--profile", choices=["read", "token"], default=None)
    ap.add_argument("--dump", default=None, help="also write the profile's pstats to this file")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp())
    url, schema = database(args.sqlite, tmp)
    try:
        upgrade(build_engine(url))
        settings = Settings(
            mode="development",
            data_dir=tmp / "var",
            database_url=url,
            public_url=BASE,
            events_push=False,
            sweep_interval_seconds=0,
            # As the wrk benchmark runs: the token scenario comes from one address, far above
            # the default limits (docs/operations.md#rate-limits).
            rate_limits=False,
        )
        setup = build_container(settings)
        with TestClient(create_app(settings, container=setup), base_url=BASE) as client:
            clinic = ServiceAgent(client, "clinic-prof")
            setup.services.add(
                operator="test-operator",
                name="X",
                organisation="ura:12345678",
                kind="care-provider",
                datatypes=["health.medication"],
                actions=["read"],
                jwks=clinic.jwks,
                client_id=clinic.client_id,
            )
            anna = sign_up(client)
            rid = client.post(
                "/v1/me/records",
                headers=anna.headers,
                json={
                    "category": "health",
                    "type": "health.medication",
                    "title": "M",
                    "content": {"x": "a" * 1000},
                },
            ).json()["id"]
            subject = clinic.connect(
                client.post("/v1/me/connection-codes", headers=anna.headers).json()["code"]
            )
            asked = clinic.ask(subject, datatypes=["health.medication"], actions=["read"])
            g = client.get("/v1/me/requests", headers=anna.headers).json()["grants"][0]
            client.post(f"/v1/me/grants/{g['id']}/approve", json={}, headers=anna.headers)
            read_handle = asked.json()["auth_req_id"]
            # Approved requests for the token scenario (as grant_bench.py makes them).
            resident_id = setup.identity.authenticate(anna.token).resident_id
            service = setup.services.by_client_id(clinic.client_id)
            from vault.grants.model import AccessRequestSpec

            handles = []
            for i in range(args.n if "token" in args.scenarios else 0):
                spec = AccessRequestSpec(
                    datatypes=frozenset({"health.medication"}),
                    actions=frozenset({"read"}),
                    purpose_uri="https://w3id.org/dpv#ServiceProvision",
                    purpose_text="Bench",
                    legal_basis="https://w3id.org/dpv#Consent",
                    procedure_ref=f"P-{i}",
                    procedure_description=None,
                    procedure_planned_end=None,
                    valid_until=None,
                    binding_message=None,
                )
                accepted = setup.grants.request(service, subject, spec)
                pending = setup.grants.pending(resident_id)
                for p in pending:
                    setup.grants.approve(resident_id, p.grant_id)
                handles.append(accepted.auth_req_id)
            # Redeemed last, so that the access token (5 minutes) is fresh for the reads.
            token = clinic.poll(read_handle).json()["access_token"]

        # A fresh container for the measured part: its async engine lives on this loop.
        c = build_container(settings)
        app = create_app(settings, container=c)

        path = f"/v1/service/records/{rid}"

        def requests_for(name: str) -> list[tuple[str, str, list[tuple[bytes, bytes]], bytes]]:
            # Made just before their run: proofs and assertions are short-lived.
            if name == "ping":
                return [("GET", "/ping", [], b"")] * args.n
            if name == "read":
                return [
                    (
                        "GET",
                        path,
                        [
                            (b"authorization", f"DPoP {token}".encode()),
                            (b"dpop", clinic.proof("GET", path, token=token).encode()),
                        ],
                        b"",
                    )
                    for _ in range(args.n)
                ]
            out = []
            for handle in handles:
                body = urlencode(
                    clinic.form(grant_type="urn:openid:params:grant-type:ciba", auth_req_id=handle)
                ).encode()
                out.append(
                    (
                        "POST",
                        "/oauth/token",
                        [
                            (b"content-type", b"application/x-www-form-urlencoded"),
                            (b"content-length", str(len(body)).encode()),
                            (b"dpop", clinic.proof("POST", "/oauth/token").encode()),
                        ],
                        body,
                    )
                )
            return out

        async def run() -> None:
            for name in args.scenarios.split(","):
                requests = requests_for(name)
                warm, measured = requests[:100], requests[100:]
                target = peer_app() if name == "ping" else app
                await drive(target, warm, args.conns)
                prof = cProfile.Profile(time.process_time) if args.profile == name else None
                cpu0, wall0 = time.process_time(), time.perf_counter()
                if prof:
                    prof.enable()
                statuses = await drive(target, measured, args.conns)
                if prof:
                    prof.disable()
                cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
                n = len(measured)
                print(
                    f"{name:5s} c={args.conns}: {n} requests, statuses {dict(statuses)},"
                    f" {1000 * cpu / n:.3f} ms CPU/request in process,"
                    f" {n / wall:.0f} req/s (one loop, no HTTP)"
                )
                if prof:
                    if args.dump:
                        prof.dump_stats(args.dump)
                    print(by_library(pstats.Stats(prof), n))
                    out = io.StringIO()
                    pstats.Stats(prof, stream=out).sort_stats(args.sort).print_stats(45)
                    print(out.getvalue()[:9000])

        asyncio.run(run())
    finally:
        drop(schema)


if __name__ == "__main__":
    main()
