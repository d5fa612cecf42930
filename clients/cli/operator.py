"""Who runs a command that changes services, auditors or keys, or exports the whole log:
`--operator NAME` (or REGIE_OPERATOR), else the OS user. Each such command is an entry in the
verifiable log under this name (hashed there, like every person's id; docs/operations.md)."""

from __future__ import annotations

import getpass
from typing import Any

import typer
from rich.console import Console

from vault.audit.events import operator_name
from vault.errors import VaultError

_err = Console(stderr=True)


def option() -> Any:  # typer.Option is typed Any
    return typer.Option(
        None,
        "--operator",
        envvar="REGIE_OPERATOR",
        help="Your name in the access log for this command (default: the OS user)",
    )


def name(given: str | None) -> str:
    """The checked name (`vault.audit.events.operator_name`); a message and exit 1 if none."""
    if given is None:
        try:
            given = getpass.getuser()
        except (OSError, KeyError):  # no login name and no user database entry
            given = None
    if given is None:
        _err.print("[red]who is this? give --operator NAME (or set REGIE_OPERATOR)[/red]")
        raise typer.Exit(1)
    try:
        return operator_name(given)
    except VaultError as e:
        _err.print(f"[red]{e.detail}[/red]")
        raise typer.Exit(1) from e
