"""In-process profile of one authorized service read (docs/performance.md, "Where the time goes").

Run: .venv/bin/python tests/perf/profile_read.py
"""

import cProfile
import io
import pstats
import sys
import tempfile

sys.path.insert(0, "tests")
from pathlib import Path

from fastapi.testclient import TestClient

from api.app import create_app
from api.bootstrap import build_container
from api.settings import Settings
from support.residents import sign_up
from support.service_client import ServiceAgent
from vault.storage.engine import build_engine
from vault.storage.migrate import upgrade

tmp = Path(tempfile.mkdtemp())
url = f"sqlite:///{tmp / 'p.db'}"
eng = build_engine(url)
upgrade(eng)
s = Settings(
    mode="development",
    data_dir=tmp / "var",
    database_url=url,
    public_url="http://localhost:8000",
    events_push=False,
    sweep_interval_seconds=0,
)
c = build_container(s, engine=eng)
with TestClient(create_app(s, container=c), base_url="http://localhost:8000") as client:
    clinic = ServiceAgent(client, "clinic-x")
    c.services.add(
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
    token = clinic.poll(asked.json()["auth_req_id"]).json()["access_token"]
    path = f"/v1/service/records/{rid}"
    proofs = [clinic.proof("GET", path, token=token) for _ in range(200)]
    import time
    import uuid as _uuid

    from support.service_client import BASE

    proofs = [clinic.proof("GET", path, token=token) for _ in range(200)]
    record_id = _uuid.UUID(rid)

    def one(p):
        proof = c.dpop.verify(p, method="GET", url=BASE + path, access_token=token)
        who = c.tokens.authenticate(token, proof.jkt)
        return c.service_access.read_record(who, record_id)

    def parts(p):
        t0 = time.perf_counter()
        proof = c.dpop.verify(p, method="GET", url=BASE + path, access_token=token)
        t1 = time.perf_counter()
        who = c.tokens.authenticate(token, proof.jkt)
        t2 = time.perf_counter()
        c.service_access.read_record(who, record_id)
        t3 = time.perf_counter()
        return (t1 - t0, t2 - t1, t3 - t2)

    sums = [0, 0, 0]
    for p in proofs[:100]:
        for i, v in enumerate(parts(p)):
            sums[i] += v
    print(
        "ms per step (dpop verify, token auth, checked read):",
        [round(x / 100 * 1000, 2) for x in sums],
    )
    prof = cProfile.Profile()
    prof.enable()
    for p in proofs[100:]:
        one(p)
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(25)
    print(out.getvalue()[:7000])
