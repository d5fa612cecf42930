"""The log key: the one Ed25519 key that signs the audit log's checkpoints.

Unlike the token signing keys (keys/signing.py), the log key never rotates: auditors pin its
verifier key, and a log's identity is its name (the checkpoint origin) together with this key.
It lives in the keyring file under ``"log"`` as a signer key string
(``PRIVATE+KEY+<name>+<key id>+...``, the format of Go's sumdb/note), made on first use; a
keyring written before the log key existed simply gets one then.

The key is bound to the name it was made for. Opening it under another name (say
REGIE_PUBLIC_URL changed, and with it the default log name) is refused instead of quietly
starting a second log: checkpoints of the existing log would stop verifying for every auditor.
"""

from __future__ import annotations

from keys.errors import KeyringError, MalformedNoteKey
from keys.keyring import Document, KeyringFile, utcnow_iso
from keys.note import Checkpoint, Signer, Verifier, sign, sign_checkpoint, valid_name

ENTRY = "log"


class LogKey:
    """The deployment's checkpoint signer for the log `name`, kept in `keyring`."""

    def __init__(self, keyring: KeyringFile, name: str) -> None:
        if not valid_name(name):
            raise ValueError(f"{name!r} is not a note key name (no spaces, no '+', not empty)")
        self._keyring = keyring
        self.name = name
        self._signer: Signer | None = None

    def ensure(self) -> None:
        """Create the log key if the keyring has none; refuse one made for another log name."""
        self._load()

    def _load(self) -> Signer:
        # A stat on every use: a keyring made readable by others stops signing at once.
        self._keyring.refresh()
        if self._signer is None:
            entry = self._keyring.document().get(ENTRY)
            if entry is None:
                entry = self._keyring.update(self._add)[ENTRY]
            try:
                signer = Signer.parse(str(entry["signer_key"]))
            except (MalformedNoteKey, KeyError, TypeError) as e:
                raise KeyringError(f"the log key in {self._keyring.path} is unusable") from e
            if signer.name != self.name:
                raise KeyringError(
                    f"the log key in {self._keyring.path} belongs to log {signer.name!r}, "
                    f"not {self.name!r}; set REGIE_LOG_NAME={signer.name} to go on signing "
                    "that log (a log's name and key must never change)"
                )
            self._signer = signer
        return self._signer

    def _add(self, doc: Document) -> None:
        if doc.get(ENTRY) is not None:
            return  # another process made it meanwhile
        signer_key = Signer.generate(self.name).signer_key
        doc[ENTRY] = {"signer_key": signer_key, "created_at": utcnow_iso()}

    @property
    def key_id(self) -> int:
        return self._load().key_id

    @property
    def verifier(self) -> Verifier:
        return self._load().verifier

    @property
    def verifier_key(self) -> str:
        """What auditors pin: ``<name>+<hex8 key id>+base64(0x01 || public key)``."""
        return self._load().verifier.verifier_key

    def sign(self, text: str) -> bytes:
        """`text` as a note signed by the log key (see `keys.note.sign`)."""
        return sign(text, [self._load()])

    def sign_checkpoint(self, checkpoint: Checkpoint) -> bytes:
        """A signed checkpoint; its origin must be this log's name."""
        return sign_checkpoint(checkpoint, self._load())

    def __repr__(self) -> str:
        return f"LogKey({self.name!r})"
