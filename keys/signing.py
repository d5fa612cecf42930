"""Signing keys for tokens and events, and the public JWKS that verifies them.

One active key per algorithm: ``ES256`` (P-256, what most OAuth libraries verify) and
``Ed25519`` (RFC 9864's fully-specified name for EdDSA over Ed25519; also the key type of
C2SP signed notes). Private keys live in the keyring file as PKCS#8. ``kid`` is the RFC 7638
thumbprint.

Rotation makes a new key per algorithm; the old public key stays in the JWKS for
`publish_seconds` after it stopped signing, long enough for anything it signed that is still
live (access-token introspection, pushed events with retries) to verify. `prune` then
destroys it. The audit log's checkpoints are signed by the log key instead
(keys/logkey.py), which never rotates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from joserfc import jwt
from joserfc.jwk import ECKey, OKPKey

from keys.keyring import Document, KeyringFile, b64d, b64e, utcnow_iso

Algorithm = Literal["ES256", "Ed25519"]
ALGORITHMS: tuple[Algorithm, ...] = ("ES256", "Ed25519")


@dataclass(frozen=True, slots=True)
class SigningKey:
    kid: str
    alg: Algorithm
    jwk: ECKey | OKPKey


def _generate(alg: Algorithm) -> bytes:
    private: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
    private = (
        ec.generate_private_key(ec.SECP256R1())
        if alg == "ES256"
        else ed25519.Ed25519PrivateKey.generate()
    )
    return private.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _load(alg: Algorithm, der: bytes) -> ECKey | OKPKey:
    if alg == "ES256":
        return ECKey.import_key(der)
    return OKPKey.import_key(der)


class SigningKeyring:
    """The deployment's signing keys, kept in the keyring file."""

    def __init__(self, keyring: KeyringFile, *, publish_seconds: int = 7 * 24 * 3600) -> None:
        self._keyring = keyring
        self._publish = timedelta(seconds=publish_seconds)
        self._loaded: dict[str, SigningKey] = {}

    def _entries(self) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = self._keyring.document()["signing"]
        return entries

    def _key(self, entry: dict[str, Any]) -> SigningKey:
        kid = str(entry["kid"])
        cached = self._loaded.get(kid)
        if cached is None:
            alg: Algorithm = entry["alg"]
            cached = SigningKey(kid, alg, _load(alg, b64d(entry["private_pkcs8"])))
            self._loaded[kid] = cached
        return cached

    def ensure(self) -> None:
        """Create a key for every algorithm that has no active one (first run)."""
        self._keyring.refresh()
        missing = [a for a in ALGORITHMS if not self._active(a)]
        if missing:
            self._keyring.update(lambda doc: self._add(doc, missing))

    def _active(self, alg: Algorithm) -> list[dict[str, Any]]:
        return [e for e in self._entries() if e["alg"] == alg and e["state"] == "active"]

    @staticmethod
    def _add(doc: Document, algs: list[Algorithm]) -> None:
        now = utcnow_iso()
        for alg in algs:
            if any(e["alg"] == alg and e["state"] == "active" for e in doc["signing"]):
                continue  # another process added it meanwhile
            der = _generate(alg)
            kid = _load(alg, der).thumbprint()
            for e in doc["signing"]:
                if e["alg"] == alg and e["state"] == "active":
                    e["state"] = "published"
                    e["superseded_at"] = now
            doc["signing"].append(
                {
                    "kid": kid,
                    "alg": alg,
                    "private_pkcs8": b64e(der),
                    "state": "active",
                    "created_at": now,
                    "superseded_at": None,
                }
            )

    def current(self, alg: Algorithm) -> SigningKey:
        active = self._active(alg)
        if not active:
            self.ensure()
            active = self._active(alg)
        return self._key(active[-1])

    def rotate(self) -> list[str]:
        """A new key for every algorithm; the old ones stay published. Returns the new kids."""

        def change(doc: Document) -> None:
            now = utcnow_iso()
            for e in doc["signing"]:
                if e["state"] == "active":
                    e["state"] = "published"
                    e["superseded_at"] = now
            self._add(doc, list(ALGORITHMS))

        doc = self._keyring.update(change)
        return [e["kid"] for e in doc["signing"] if e["state"] == "active"]

    def _past_window(self, entry: dict[str, Any], moment: datetime) -> bool:
        superseded = entry.get("superseded_at")
        return bool(
            entry["state"] == "published"
            and superseded
            and datetime.fromisoformat(superseded) + self._publish <= moment
        )

    def prunable(self, now: datetime | None = None) -> list[str]:
        """The kids `prune` would destroy now."""
        self._keyring.refresh()
        moment = now or datetime.now(UTC)
        return [e["kid"] for e in self._entries() if self._past_window(e, moment)]

    def prune(self, now: datetime | None = None) -> list[str]:
        """Destroy superseded keys older than the publication window; returns their kids."""
        moment = now or datetime.now(UTC)
        gone: list[str] = []

        def change(doc: Document) -> None:
            keep = []
            for e in doc["signing"]:
                if self._past_window(e, moment):
                    gone.append(e["kid"])
                    continue
                keep.append(e)
            doc["signing"] = keep

        self._keyring.update(change)
        for kid in gone:
            self._loaded.pop(kid, None)
        return gone

    def jwks(self, now: datetime | None = None) -> dict[str, list[dict[str, Any]]]:
        """The public keys that verify anything live: active ones, and superseded ones still
        inside their publication window (whether or not `prune` has run yet)."""
        self._keyring.refresh()
        moment = now or datetime.now(UTC)
        keys = []
        for e in self._entries():
            if e["state"] not in ("active", "published"):
                continue
            superseded = e.get("superseded_at")
            if superseded and datetime.fromisoformat(superseded) + self._publish <= moment:
                continue
            public = dict(self._key(e).jwk.as_dict(private=False))
            public.update({"kid": e["kid"], "alg": e["alg"], "use": "sig"})
            keys.append(public)
        return {"keys": keys}

    def sign_jwt(
        self, claims: dict[str, Any], *, alg: Algorithm = "ES256", typ: str | None = None
    ) -> str:
        key = self.current(alg)
        header: dict[str, Any] = {"alg": alg, "kid": key.kid}
        if typ:
            header["typ"] = typ
        return jwt.encode(header, claims, key.jwk, algorithms=[alg])

    def sign_bytes(self, message: bytes) -> tuple[str, bytes]:
        """An Ed25519 signature over raw bytes (for C2SP signed notes); returns (kid, signature)."""
        entry = self._active("Ed25519")
        if not entry:
            self.ensure()
            entry = self._active("Ed25519")
        private = serialization.load_der_private_key(b64d(entry[-1]["private_pkcs8"]), None)
        if not isinstance(private, ed25519.Ed25519PrivateKey):
            raise TypeError("the Ed25519 signing key is not an Ed25519 key")
        return str(entry[-1]["kid"]), private.sign(message)
