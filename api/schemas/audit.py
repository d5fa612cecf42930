"""Wire shapes of the verifiable log: checkpoints and proofs. Hashes are standard base64."""

from __future__ import annotations

import uuid
from datetime import datetime

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


class LoggedServiceOut(BaseModel):
    id: uuid.UUID
    name: str


class MyLogEntryOut(BaseModel):
    id: uuid.UUID = Field(description="the event id")
    at: datetime
    name: str = Field(description="record.read | record.list | record.write | grant.* | ...")
    outcome: str = Field(description="permit | deny | done")
    reason: str | None = Field(description="why it was refused, or why a grant ended")
    service: LoggedServiceOut | None = Field(description="the service; null if none or removed")
    datatype: str | None
    action: str | None
    grant_id: uuid.UUID | None
    log_index: int | None = Field(description="index in the verifiable log; null until integrated")
    text_nl: str = Field(description="the event as a sentence, in Dutch (B1)")
    text_en: str = Field(description="the event as a sentence, in English")


class MyLogOut(BaseModel):
    entries: list[MyLogEntryOut] = Field(description="newest first")
    next_before: uuid.UUID | None = Field(
        description="pass as `before` for the next, older page; null when there is no more"
    )
    services: list[LoggedServiceOut] = Field(description="every service in my log, for a filter")


class MyLogProofOut(InclusionProofOut):
    event_id: uuid.UUID
    root_hash: str = Field(description="the root hash of the checkpoint the proof is against")
    origin: str = Field(description="the log's name: the checkpoint's first line")
    verifier_key: str = Field(description="the log's verifier key, to check the checkpoint with")
