"""The verifiable log, public: its key, checkpoints and proofs (docs/audit-format.md).

Nothing here names a resident or shows an entry: a checkpoint is a size and a hash, a proof
is a list of hashes, a tile is a row of hashes. Entries themselves are for their resident
(`/v1/me/log`) and auditors, so of C2SP tlog-tiles' static layout (checkpoint, hash tiles,
entry bundles) the entry bundles (`tile/entries/...`) are not served: an entry carries
pseudonymous metadata (a keyed hash of the resident, services, times).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse, Response

from api.deps import ContainerDep
from api.schemas.audit import (
    CheckpointListOut,
    CheckpointOut,
    ConsistencyProofOut,
    InclusionProofOut,
    LogKeyOut,
)
from vault.audit.log import InclusionProof, StoredCheckpoint, parse_tile_path
from vault.audit.verify import b64
from vault.errors import NotFound

router = APIRouter(prefix="/v1/audit", tags=["audit log"])

# Positions in the log are 63-bit (BigInteger): a larger number names nothing and would not
# fit a database integer, so it is refused as invalid input.
MAX_POSITION = 2**63 - 1
Size = Annotated[
    int | None,
    Query(ge=0, le=MAX_POSITION, description="a checkpoint's size (default: latest)"),
]


def checkpoint_out(cp: StoredCheckpoint) -> CheckpointOut:
    return CheckpointOut(size=cp.size, root_hash=b64(cp.root_hash), checkpoint=cp.note)


def inclusion_out(proof: InclusionProof) -> InclusionProofOut:
    return InclusionProofOut(
        index=proof.index,
        size=proof.size,
        leaf_hash=b64(proof.leaf_hash),
        hashes=[b64(h) for h in proof.hashes],
        checkpoint=proof.checkpoint,
    )


@router.get("/key", summary="The log's public key")
def log_key(c: ContainerDep) -> LogKeyOut:
    return LogKeyOut(origin=c.log_key.name, verifier_key=c.log_key.verifier_key)


@router.get(
    "/checkpoint",
    summary="The latest signed checkpoint (or the one of `size`), as a signed note",
    response_class=PlainTextResponse,
)
def checkpoint(c: ContainerDep, size: Size = None) -> PlainTextResponse:
    cp = c.audit.checkpoint(size)
    return PlainTextResponse(
        cp.note, headers={"Cache-Control": "no-cache" if size is None else "public, max-age=86400"}
    )


@router.get(
    "/tile/{path:path}",
    summary="A hash tile of the tree (C2SP tlog-tiles, height 8): `<L>/<N>[.p/<W>]`",
    response_class=Response,
)
def tile(c: ContainerDep, path: str) -> Response:
    if path.startswith("entries/"):
        raise NotFound("entry bundles are not published: entries are for residents and auditors")
    try:
        level, index, width = parse_tile_path(path)
    except ValueError as e:
        raise NotFound(str(e)) from e
    # A tile's first W hashes never change once there (the tree only grows): cache for good.
    return Response(
        c.audit.tile(level, index, width),
        media_type="application/octet-stream",
        headers={"Cache-Control": "public, max-age=31536000, immutable"},
    )


@router.get("/checkpoints", summary="The checkpoint history, oldest first")
def checkpoints(
    c: ContainerDep,
    after: Annotated[
        int, Query(ge=-1, le=MAX_POSITION, description="only sizes greater than this")
    ] = -1,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> CheckpointListOut:
    return CheckpointListOut(
        checkpoints=[checkpoint_out(cp) for cp in c.audit.checkpoints(after=after, limit=limit)]
    )


@router.get("/proof/inclusion", summary="Proof that entry `index` is in a checkpoint")
def inclusion(
    c: ContainerDep, index: Annotated[int, Query(ge=0, le=MAX_POSITION)], size: Size = None
) -> InclusionProofOut:
    return inclusion_out(c.audit.inclusion(index, size))


@router.get("/proof/consistency", summary="Proof that an older checkpoint is a prefix of a newer")
def consistency(
    c: ContainerDep,
    old: Annotated[int, Query(ge=0, le=MAX_POSITION, description="the older checkpoint's size")],
    new: Size = None,
) -> ConsistencyProofOut:
    proof = c.audit.consistency(old, new)
    return ConsistencyProofOut(
        old_size=proof.old_size,
        new_size=proof.new_size,
        hashes=[b64(h) for h in proof.hashes],
        checkpoint=proof.checkpoint,
    )
