"""The local keyring file: KEKs (for the local backend), signing keys and deployment secrets.

Created on first use with mode 0600 in a directory of mode 0700; refuses to load when group-
or world-readable, as ssh does with private keys. Every change is written to a temporary file
and renamed over the old one under an exclusive lock, so a server reading it while
`regie keys rotate` writes never sees half a file. Processes notice changes by the file's
identity (inode, size, mtime) and reload.

The format is JSON, documented in docs/security.md ("The keyring file").
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import stat
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from keys.errors import KeyBackendUnavailable, KeyringError

FORMAT = "regie-keyring/1"
Document = dict[str, Any]


def b64e(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def b64d(text: str) -> bytes:
    return base64.b64decode(text.encode(), validate=True)


def utcnow_iso() -> str:
    return datetime.now(UTC).isoformat()


class KeyringFile:
    """A JSON document on disk, read-mostly, changed under a file lock."""

    def __init__(self, path: Path, *, create: bool = True) -> None:
        self.path = path
        self._lock_path = path.with_name(path.name + ".lock")
        self._mutex = threading.Lock()
        self._identity: tuple[int, int, int] | None = None
        self._doc: Document | None = None
        if not path.exists():
            if not create:
                raise KeyringError(f"no keyring at {path}")
            self._create()
        self.refresh()

    # -- reading -------------------------------------------------------------------------

    def document(self) -> Document:
        """The document as last loaded (call `refresh` to pick up other processes' changes)."""
        with self._mutex:
            if self._doc is None:
                raise KeyringError("keyring not loaded")
            return self._doc

    def refresh(self) -> bool:
        """Reload if the file changed on disk; True when it did."""
        try:
            st = self.path.stat()
        except FileNotFoundError as e:
            raise KeyBackendUnavailable(f"keyring {self.path} has disappeared") from e
        except OSError as e:
            raise KeyBackendUnavailable(f"keyring {self.path} cannot be read") from e
        identity = (st.st_ino, st.st_size, st.st_mtime_ns)
        # Checked on every look, not only on change: a keyring made readable by others while
        # the server runs must stop it from using the keys (fail closed).
        self._check_permissions(st)
        with self._mutex:
            if identity == self._identity and self._doc is not None:
                return False
            self._doc = self._read()
            self._identity = identity
            return True

    def _check_permissions(self, st: os.stat_result) -> None:
        if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise KeyringError(
                f"keyring {self.path} is readable by others (mode {stat.S_IMODE(st.st_mode):o}); "
                "run: chmod 600 " + str(self.path)
            )

    def _read(self) -> Document:
        try:
            doc = json.loads(self.path.read_text())
        except (OSError, ValueError) as e:
            raise KeyringError(f"keyring {self.path} cannot be parsed") from e
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise KeyringError(f"keyring {self.path} is not in format {FORMAT}")
        return doc

    # -- changing ------------------------------------------------------------------------

    def update(self, change: Callable[[Document], None]) -> Document:
        """Apply `change` to a fresh copy of the document under an exclusive lock, then save."""
        with self._exclusive():
            doc = self._read()
            change(doc)
            self._write(doc)
        self.refresh()
        return self.document()

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _create(self) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with self._exclusive():
            if self.path.exists():  # another process won the race
                return
            self._write(
                {
                    "format": FORMAT,
                    "created_at": utcnow_iso(),
                    "kek": [],
                    "signing": [],
                    "secrets": {"deployment": b64e(os.urandom(32))},
                }
            )

    def _write(self, doc: Document) -> None:
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, json.dumps(doc, indent=2, sort_keys=True).encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        tmp.replace(self.path)
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
