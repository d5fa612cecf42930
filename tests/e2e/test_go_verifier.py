"""Go's own transparency-log code verifies a real server's audit log, unchanged.

tests/go/tlogverify is a small Go program on golang.org/x/mod/sumdb/note and sumdb/tlog only
(Debian's golang-golang-x-mod-dev, built offline). Against `regie serve`, after 600 events
written to the server's database in two batches (as the vault writes them) and the operator's
export of them (itself an entry, with no data subject), integrated by the server's own
integrator, it opens the checkpoint with
`note.Open`, reads the C2SP hash tiles through `tlog.TileHashReader`, proves an entry
(`ProveRecord`/`CheckRecord`, with Go's `RecordHash` of the entry's canonical bytes) and a
consistency (`ProveTree`/`CheckTree`), and checks the vault's own proofs against Go's.
Attacks: a changed tile row, the wrong key, a changed entry, an index past the checkpoint.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from keys.note import Signer
from support.server import REPO, RegieServer
from vault.audit.events import AccessEvent, event_row
from vault.storage.engine import build_engine
from vault.storage.orm import AccessEventRow, AuditTileRow

pytestmark = pytest.mark.slow

GO = shutil.which("go")
X_MOD = Path("/usr/share/gocode/src/golang.org/x/mod")  # Debian's golang-golang-x-mod-dev
if GO is None or not (X_MOD / "sumdb" / "tlog").is_dir():
    pytest.skip(
        "the Go toolchain or golang.org/x/mod is missing: `make system-deps` installs "
        "golang-go and golang-golang-x-mod-dev",
        allow_module_level=True,
    )


def go_env(tmp: Path) -> dict[str, str]:
    """Offline: no module proxy, no checksum database, caches under `tmp`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GO")}
    env.update(
        GOPROXY="off",
        GOSUMDB="off",
        GOFLAGS="-mod=mod",
        GOCACHE=str(tmp / "gocache"),
        GOPATH=str(tmp / "gopath"),
        GOTOOLCHAIN="local",
        CGO_ENABLED="0",
    )
    return env


@pytest.fixture(scope="module")
def tlogverify(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Go program, built against Debian's x/mod (the repo's go.mod names the upstream
    module; the copy is pointed at the local one, as docs/audit-format.md shows)."""
    assert GO is not None
    tmp = tmp_path_factory.mktemp("go")
    src = tmp / "tlogverify"
    shutil.copytree(REPO / "tests" / "go" / "tlogverify", src)
    env = go_env(tmp)
    for command in (
        [GO, "mod", "edit", f"-replace=golang.org/x/mod={X_MOD}"],
        [GO, "vet", "."],
        [GO, "build", "-o", str(tmp / "tlogverify-bin"), "."],
    ):
        done = subprocess.run(
            command, cwd=src, env=env, capture_output=True, text=True, timeout=300, check=False
        )
        assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout}\n{done.stderr}"
    return tmp / "tlogverify-bin"


@dataclass
class Log:
    server: RegieServer
    database_url: str
    http: httpx.Client
    key: str  # the verifier key
    size: int  # the latest checkpoint's size, covering every event
    old: int  # an older checkpoint's size
    export: Path  # the operator's export (`regie audit export`) of the first `exported`
    exported: int  # ... entries; the export itself is the entry after them (`audit.export`)

    @property
    def prefix(self) -> str:
        return self.server.base + "/v1/audit"


def write_events(url: str, n: int) -> None:
    """`n` committed events in the server's database, as the vault writes them."""
    engine = build_engine(url)
    try:
        with Session(engine) as session:
            for i in range(n):
                event = AccessEvent(
                    resident_id=uuid.uuid4(),
                    name="record.read",
                    outcome="permit" if i % 3 else "deny",
                    reason=None if i % 3 else "grant-revoked",
                    actor="service",
                    service_id=uuid.uuid4(),
                    grant_id=uuid.uuid4(),
                    datatype="health.medication",
                    action="read",
                )
                session.add(AccessEventRow(**event_row(event, datetime.now(UTC))))
            session.commit()
    finally:
        engine.dispose()


def count_events(url: str) -> int:
    engine = build_engine(url)
    try:
        with Session(engine) as session:
            return int(session.scalar(select(func.count()).select_from(AccessEventRow)) or 0)
    finally:
        engine.dispose()


def integrated(http: httpx.Client, url: str, seconds: float = 30) -> int:
    """Wait until the latest checkpoint covers every event in the database; its size."""
    want = count_events(url)
    deadline = time.monotonic() + seconds
    while True:
        got = http.get("/v1/audit/checkpoints", params={"after": want - 1})
        sizes = [cp["size"] for cp in got.json()["checkpoints"]]
        if sizes:
            return int(sizes[-1])
        assert time.monotonic() < deadline, f"no checkpoint of size {want} within {seconds} s"
        time.sleep(0.3)


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Log]:
    tmp = tmp_path_factory.mktemp("server")
    url = f"sqlite:///{(tmp / 'data' / 'regie.db').resolve()}"
    with RegieServer(tmp) as srv, httpx.Client(base_url=srv.base, timeout=10) as http:
        # Over two rounds, so that there is an older checkpoint past a full tile.
        write_events(url, 300)
        old = integrated(http, url)
        write_events(url, 300)
        exported = integrated(http, url)
        export = tmp / "log.jsonl"
        srv.cli("audit", "export", "--out", str(export), "--size", str(exported))
        # The operator's export is itself an entry of the log (`audit.export`, actor operator).
        size = integrated(http, url)
        assert size == exported + 1, (exported, size)
        key = http.get("/v1/audit/key").json()["verifier_key"]
        assert 256 < old < size, (old, size)
        assert size > 512, size
        yield Log(srv, url, http, key, size, old, export, exported)


def run(binary: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(binary), *args], capture_output=True, text=True, timeout=120, check=False
    )


def canonical_entry(log: Log, tmp: Path, index: int) -> Path:
    """Entry `index` as the operator's export has it, in the canonical bytes
    docs/audit-format.md gives (sorted members, no whitespace, UTF-8). One export for the
    module: each export is an entry, so exporting here would grow the log under the tests."""
    assert index < log.exported
    item = json.loads(log.export.read_text().splitlines()[index + 1])
    assert item["index"] == index
    path = tmp / f"entry-{index}.json"
    canonical = json.dumps(item["entry"], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    path.write_bytes(canonical.encode())
    return path


def test_go_verifies_checkpoint_tiles_inclusion_and_consistency(
    tlogverify: Path, log: Log, tmp_path: Path
) -> None:
    for index in (0, 100, 300, log.exported - 1):  # full tiles, the partial edge
        done = run(
            tlogverify,
            "-log", log.prefix, "-key", log.key, "-index", str(index),
            "-record", str(canonical_entry(log, tmp_path, index)), "-old", str(log.old),
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        lines = done.stdout.splitlines()
        assert lines[0].startswith(f"checkpoint: size {log.size}, root ")
        assert lines[1].startswith(f"inclusion from tiles: entry {index}, leaf ")
        assert lines[2].startswith(f"inclusion from the vault's proof: entry {index}")
        assert lines[3] == f"consistency from tiles: {log.old} is a prefix of {log.size}"
        assert lines[4].startswith("consistency from the vault's proof: ")
        assert lines[-1] == "VERIFIED"
    # Without -record, the leaf is the one the authenticated tiles hold.
    done = run(tlogverify, "-log", log.prefix, "-key", log.key, "-index", "513")
    assert done.returncode == 0, done.stdout + done.stderr
    # The last entry, the operator's export (no data subject): proven like any other.
    done = run(tlogverify, "-log", log.prefix, "-key", log.key, "-index", str(log.size - 1))
    assert done.returncode == 0, done.stdout + done.stderr


def test_go_refuses_a_wrong_key_a_changed_entry_and_an_index_past_the_checkpoint(
    tlogverify: Path, log: Log, tmp_path: Path
) -> None:
    other = Signer.generate(log.key.split("+", 1)[0]).verifier.verifier_key
    done = run(tlogverify, "-log", log.prefix, "-key", other, "-index", "1")
    assert done.returncode == 1
    assert "FAILED: checkpoint:" in done.stderr
    entry = canonical_entry(log, tmp_path, 100)
    entry.write_bytes(entry.read_bytes().replace(b'"permit"', b'"deny"', 1))
    done = run(
        tlogverify, "-log", log.prefix, "-key", log.key, "-index", "100", "-record", str(entry)
    )
    assert done.returncode == 1
    assert "entry 100 from the tiles: invalid transparency proof" in done.stderr
    done = run(tlogverify, "-log", log.prefix, "-key", log.key, "-index", str(log.size))
    assert done.returncode == 1
    assert f"entry {log.size} is not in the checkpoint" in done.stderr


def tamper(log: Log, level: int, index: int, position: int) -> bytes:
    """Flip a bit of one hash of a stored tile, in the server's database; the new tile."""
    engine = build_engine(log.database_url)
    try:
        with Session(engine) as session:
            tile = session.get(AuditTileRow, (level, index))
            assert tile is not None
            changed = bytearray(tile.hashes)
            changed[32 * position] ^= 1
            tile.hashes = bytes(changed)
            session.commit()
            return tile.hashes
    finally:
        engine.dispose()


def test_go_refuses_a_tampered_tile(tlogverify: Path, log: Log) -> None:
    """A hash changed in the server's database: the tiles no longer build the signed root.
    Last in the module: it leaves the log broken."""
    changed = tamper(log, 0, 0, 100)  # a leaf in the first full tile
    assert log.http.get("/v1/audit/tile/0/000").content == changed
    done = run(tlogverify, "-log", log.prefix, "-key", log.key, "-index", "100")
    assert done.returncode == 1, done.stdout
    # Caught by CheckRecord against the signed root. (x/mod 0.7.0's TileHashReader does not
    # check this child tile against its parent itself when, as here, several of the tree's
    # peaks lie in one tile: its loop over child tiles starts at len(stx), not at the count
    # of peak tiles. So the verifier never trusts a hash it has not checked against the root.)
    assert "FAILED: entry 100 from the tiles: invalid transparency proof" in done.stderr
    # An entry in another tile still proves, from the untouched tiles.
    done = run(tlogverify, "-log", log.prefix, "-key", log.key, "-index", str(log.size - 1))
    assert done.returncode == 0, done.stdout + done.stderr
    # A tile holding peaks of the tree: TileHashReader's own check against the root fails.
    partial = f"/v1/audit/tile/0/002.p/{log.size - 512}"
    assert log.http.get(partial).status_code == 200
    tamper(log, 0, 2, 3)
    done = run(tlogverify, "-log", log.prefix, "-key", log.key, "-index", str(log.size - 1))
    assert done.returncode == 1, done.stdout
    assert "FAILED: tiles: downloaded inconsistent tile" in done.stderr
