"""`regie audit ...`: the verifiable log from the command line.

Server side (they read the deployment's database and keyring, like `regie serve`):
`integrate`, `key`, `checkpoint`, `prove`, `consistency`, `export` (logged as the operator's
`audit.export`: it reads every resident's entries). Auditor side, offline:
`verify` needs only an export, a checkpoint and the log's verifier key — no database, no
network. Exit codes: 0 verified / done; 1 refused, failed or NOT verified (the message names
the first bad entry and why); 2 usage error.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy.exc import SQLAlchemyError

from api.container import Container
from clients.cli import operator as operator_cli
from keys.errors import NoteError
from keys.note import Checkpoint
from vault.audit import merkle
from vault.audit.verify import ExportInvalid, b64, verify_export
from vault.errors import ProofError, VaultError

console = Console()
err = Console(stderr=True)


def _fail(message: str) -> typer.Exit:
    err.print(f"[red]{message}[/red]")
    return typer.Exit(1)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    )


def build(container: Callable[[], Container]) -> typer.Typer:
    """The `audit` command group; `container` builds the server side's services."""
    audit_app = typer.Typer(
        help="The verifiable access log: checkpoints, proofs, exports, offline verification.",
        no_args_is_help=True,
    )

    @audit_app.command("integrate")
    def integrate(
        once: bool = typer.Option(False, "--once", help="Integrate what is waiting, then stop"),
        interval: float | None = typer.Option(None, help="Seconds between rounds"),
        as_json: bool = typer.Option(False, "--json", help="With --once: machine-readable"),
    ) -> None:
        """Append committed events to the tree and sign checkpoints. Servers do this every
        REGIE_AUDIT_INTEGRATE_INTERVAL_SECONDS; safe beside them (one integrator at a time)."""
        import signal
        import threading

        from api.workers import integrate_worker

        c = container()
        if once:
            total = 0
            try:
                while taken := c.integrator.run_once():
                    total += taken
            except (VaultError, SQLAlchemyError) as e:
                raise _fail(f"integration stopped ({type(e).__name__}: {e})") from e
            cp = c.audit.checkpoint()
            if as_json:
                print(json.dumps({"integrated": total, "size": cp.size}))
            else:
                console.print(f"integrated {total} events; the log has {cp.size}")
            return
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        err.print("integrating the log; stop with Ctrl-C or SIGTERM")
        integrate_worker(c, interval).run(stop)

    @audit_app.command("key")
    def key() -> None:
        """Print the log's verifier key (give it to auditors with the checkpoint)."""
        print(container().log_key.verifier_key)

    @audit_app.command("checkpoint")
    def checkpoint(
        size: int | None = typer.Option(None, help="The checkpoint of this size (default: latest)"),
        as_json: bool = typer.Option(False, "--json", help="Machine-readable output"),
    ) -> None:
        """Print the latest signed checkpoint (a C2SP signed note)."""
        try:
            cp = container().audit.checkpoint(size)
        except VaultError as e:
            raise _fail(e.detail) from e
        if as_json:
            print(json.dumps({"size": cp.size, "root_hash": b64(cp.root_hash), "note": cp.note}))
        else:
            print(cp.note, end="")

    @audit_app.command("prove")
    def prove(
        index: int = typer.Argument(..., help="The entry's index in the log", min=0),
        size: int | None = typer.Option(None, help="Against the checkpoint of this size"),
        as_json: bool = typer.Option(False, "--json", help="Machine-readable output"),
    ) -> None:
        """Print an inclusion proof for one entry, checked before it is printed."""
        try:
            proof = container().audit.inclusion(index, size)
            merkle.verify_inclusion(
                proof.leaf_hash, proof.index, proof.size, proof.hashes, proof.root_hash
            )
        except ProofError as e:
            raise _fail(f"the stored tree gives a proof that does not verify: {e.detail}") from e
        except VaultError as e:
            raise _fail(e.detail) from e
        out = {
            "index": proof.index,
            "size": proof.size,
            "leaf_hash": b64(proof.leaf_hash),
            "hashes": [b64(h) for h in proof.hashes],
            "checkpoint": proof.checkpoint,
        }
        if as_json:
            print(json.dumps(out))
        else:
            console.print(f"entry {index} is in the log of size {proof.size} (proof verified)")
            for h in proof.hashes:
                console.print(f"  {b64(h)}")

    @audit_app.command("consistency")
    def consistency(
        old: int = typer.Argument(..., help="The older checkpoint's size", min=0),
        new: int | None = typer.Argument(None, help="The newer checkpoint's size (latest)"),
        as_json: bool = typer.Option(False, "--json", help="Machine-readable output"),
    ) -> None:
        """Print a consistency proof between two checkpoints, checked before it is printed."""
        try:
            proof = container().audit.consistency(old, new)
            merkle.verify_consistency(
                old, proof.new_size, proof.old_root, proof.new_root, proof.hashes
            )
        except ProofError as e:
            raise _fail(f"the stored tree gives a proof that does not verify: {e.detail}") from e
        except VaultError as e:
            raise _fail(e.detail) from e
        out = {
            "old_size": old,
            "new_size": proof.new_size,
            "hashes": [b64(h) for h in proof.hashes],
        }
        if as_json:
            print(json.dumps(out))
        else:
            console.print(
                f"the log of size {old} is a prefix of the log of size {proof.new_size}"
                " (proof verified)"
            )
            for h in proof.hashes:
                console.print(f"  {b64(h)}")

    @audit_app.command("export")
    def export(
        out: Path = typer.Option(..., "--out", "-o", help="Write the export (JSON Lines) here"),
        checkpoint_out: Path | None = typer.Option(
            None, "--checkpoint-out", help="Also write the checkpoint here"
        ),
        size: int | None = typer.Option(None, help="Up to the checkpoint of this size"),
        as_json: bool = typer.Option(False, "--json", help="Machine-readable output"),
        operator: str | None = operator_cli.option(),
    ) -> None:
        """Export the whole log up to a checkpoint, for offline verification. Logged first
        as the operator's `audit.export` (nothing is exported if it cannot be)."""
        who = operator_cli.name(operator)
        c = container()
        try:
            cp, lines = c.auditor_queries.export_for_operator(who, size=size)
            with out.open("w", encoding="utf-8") as f, _progress() as bar:
                task = bar.add_task("exporting", total=cp.size)
                for number, line in enumerate(lines):
                    f.write(line + "\n")
                    if number:
                        bar.advance(task)
        except VaultError as e:
            raise _fail(e.detail) from e
        except SQLAlchemyError as e:
            raise _fail(f"nothing was exported: the database refused ({type(e).__name__})") from e
        if checkpoint_out is not None:
            checkpoint_out.write_text(cp.note, encoding="utf-8")
        if as_json:
            print(json.dumps({"entries": cp.size, "root_hash": b64(cp.root_hash), "out": str(out)}))
        else:
            console.print(f"exported {cp.size} entries to {out}")

    @audit_app.command("verify")
    def verify(
        export_file: Path = typer.Argument(..., help="An export (regie audit export)"),
        checkpoint_file: Path = typer.Option(..., "--checkpoint", help="The signed checkpoint"),
        key: str = typer.Option(
            ..., "--key", help="The log's verifier key, or @FILE to read it from a file"
        ),
        as_json: bool = typer.Option(
            False, "--json", help="Machine-readable result on standard output (also NOT VERIFIED)"
        ),
    ) -> None:
        """Verify an export offline: no entry changed, reordered or missing, and the entries
        build the signed checkpoint. Needs no database and no network."""

        def refused(detail: str, index: int | None = None) -> typer.Exit:
            if as_json:
                print(json.dumps({"verified": False, "index": index, "detail": detail}))
            where = f" (first bad index: {index})" if index is not None else ""
            return _fail(f"NOT VERIFIED{where}: {detail}")

        try:
            vkey = Path(key[1:]).read_text(encoding="utf-8").strip() if key.startswith("@") else key
            note = checkpoint_file.read_bytes()
        except OSError as e:
            raise refused(f"cannot read the key or the checkpoint ({e})") from e
        try:
            size = _size_of(note)
        except (ValueError, NoteError) as e:
            raise refused(f"{checkpoint_file} is not a checkpoint") from e
        try:
            with export_file.open(encoding="utf-8") as f, _progress() as bar:
                task = bar.add_task("verifying", total=size)
                result = verify_export(
                    f,
                    checkpoint=note,
                    verifier_key=vkey,
                    progress=lambda n: bar.update(task, completed=n),
                )
        except ExportInvalid as e:
            raise refused(e.detail, e.index) from e
        except (OSError, UnicodeDecodeError) as e:
            raise refused(f"the export cannot be read ({e})") from e
        if as_json:
            fields = ("entries", "complete", "origin", "size")
            print(json.dumps({"verified": True} | {f: getattr(result, f) for f in fields}))
            return
        kind = "complete log" if result.complete else "excerpt"
        console.print(
            f"[green]VERIFIED[/green]: {result.entries} entries ({kind}) of {result.origin}, "
            f"checkpoint size {result.size}"
        )

    return audit_app


def _size_of(signed: bytes) -> int:
    """The size a checkpoint file claims, for the progress bar; verification checks it."""
    return Checkpoint.parse(signed.decode().split("\n\n", 1)[0] + "\n").size
