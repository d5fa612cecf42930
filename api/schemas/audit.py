"""Wire shapes of the verifiable log: checkpoints and proofs. Hashes are standard base64."""

from __future__ import annotations

from pydantic import BaseModel, Field


class LogKeyOut(BaseModel):
    origin: str = Field(description="the log's name: the first line of every checkpoint")
    verifier_key: str = Field(
        description="C2SP signed-note verifier key (name+keyid+base64), as Go's sumdb/note reads"
    )


class CheckpointOut(BaseModel):
    size: int
    root_hash: str = Field(description="RFC 9162 root hash of the first `size` entries")
    checkpoint: str = Field(description="the signed note (C2SP tlog-checkpoint)")


class CheckpointListOut(BaseModel):
    checkpoints: list[CheckpointOut] = Field(description="oldest first")


class InclusionProofOut(BaseModel):
    index: int
    size: int
    leaf_hash: str = Field(description="the tree's hash of the entry at `index`")
    hashes: list[str] = Field(description="RFC 9162 §2.1.3 inclusion proof, bottom up")
    checkpoint: str = Field(description="the signed checkpoint of `size` the proof is against")


class ConsistencyProofOut(BaseModel):
    old_size: int
    new_size: int
    hashes: list[str] = Field(description="RFC 9162 §2.1.4 consistency proof")
    checkpoint: str = Field(description="the signed checkpoint of `new_size`")
