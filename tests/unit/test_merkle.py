"""RFC 9162 Merkle trees: the de facto test vectors, the RFC's own example, the store-facing
functions against the RFC's recursion, and verification attacked case by case.

RFC 9162 prints no hash vectors. The ones every CT implementation tests against are in
transparency-dev/merkle (the Go library behind Trillian and Tessera), copied here exactly:
- testonly/constants.go: LeafInputs, NodeHashes, RootHashes, CompactTrees, EmptyRootHash;
- proof/verify_test.go (inclusionProofs, consistencyProofs, the corrupt*Proof probes, the edge
  cases of TestVerifyInclusion / TestVerifyConsistency) and testonly/reference_test.go
  (TestRefInclusionProof, TestRefConsistencyProof).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

import pytest

from vault.audit import merkle
from vault.audit.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    Frontier,
    NodeSource,
    consistency_nodes,
    consistency_proof,
    inclusion_nodes,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    root_from_inclusion,
    subtree_hash,
    verify_consistency,
    verify_inclusion,
)
from vault.errors import InvalidInput, ProofError, VaultError

h = bytes.fromhex

# testonly/constants.go
LEAF_INPUTS = [
    h(""),
    h("00"),
    h("10"),
    h("2021"),
    h("3031"),
    h("40414243"),
    h("5051525354555657"),
    h("606162636465666768696a6b6c6d6e6f"),
]
NODE_HASHES = [
    [
        h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
        h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
        h("0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7"),
        h("07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7"),
        h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        h("4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658"),
        h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
        h("46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1"),
    ],
    [
        h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
        h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
        h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
        h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
    ],
    [
        h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
    ],
    [h("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")],
]
EMPTY_ROOT_HASH = h("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
ROOT_HASHES = [
    EMPTY_ROOT_HASH,
    h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
    h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
    h("aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77"),
    h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
    h("4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4"),
    h("76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef"),
    h("ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c"),
    h("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"),
]
NH = NODE_HASHES
COMPACT_TREES: list[list[bytes]] = [
    [],
    [NH[0][0]],
    [NH[1][0]],
    [NH[1][0], NH[0][2]],
    [NH[2][0]],
    [NH[2][0], NH[0][4]],
    [NH[2][0], NH[1][2]],
    [NH[2][0], NH[1][2], NH[0][6]],
    [NH[3][0]],
]
# verify_test.go numbers leaves from 1 (`leaf - 1` is the index); reference_test.go from 0.
# Both are written here as 0-based indexes.
INCLUSION_VECTORS = [
    (0, 1, []),
    (0, 2, [h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7")]),
    (1, 2, [h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d")]),
    (2, 3, [h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")]),
    (
        1,
        5,
        [
            h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
    (
        0,
        8,
        [
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        5,
        8,
        [
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
]
CONSISTENCY_VECTORS = [
    (1, 1, []),
    (
        1,
        8,
        [
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        6,
        8,
        [
            h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    (
        2,
        5,
        [
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
    (
        6,
        7,
        [
            h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
]
SOME_HASH = h("abacaba000000000000000000000000000000000000000000060061e00123456")
LEAVES = [leaf_hash(e) for e in LEAF_INPUTS]


def vector_nodes(level: int, index: int) -> bytes:
    """The NodeSource of the 8-leaf vector tree: only NodeHashes, nothing computed."""
    return NODE_HASHES[level][index]


# --- The RFC's definitions, literally, over a list of leaf hashes: the reference. ---


def ref_mth(d: Sequence[bytes]) -> bytes:
    if not d:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return d[0]
    k = 1 << ((len(d) - 1).bit_length() - 1)
    return node_hash(ref_mth(d[:k]), ref_mth(d[k:]))


def ref_path(m: int, d: Sequence[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = 1 << ((len(d) - 1).bit_length() - 1)
    if m < k:
        return [*ref_path(m, d[:k]), ref_mth(d[k:])]
    return [*ref_path(m - k, d[k:]), ref_mth(d[:k])]


def ref_subproof(m: int, d: Sequence[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [ref_mth(d)]
    k = 1 << ((n - 1).bit_length() - 1)
    if m <= k:
        return [*ref_subproof(m, d[:k], b), ref_mth(d[k:])]
    return [*ref_subproof(m - k, d[k:], False), ref_mth(d[:k])]


def build(leaves: Sequence[bytes]) -> tuple[dict[tuple[int, int], bytes], Frontier]:
    """Every complete node of the tree over `leaves`, as a store would keep them."""
    frontier, nodes = Frontier(), {}
    for leaf in leaves:
        for level, index, value in frontier.append(leaf):
            assert (level, index) not in nodes
            nodes[(level, index)] = value
    return nodes, frontier


def recording(nodes: dict[tuple[int, int], bytes]) -> tuple[NodeSource, list[tuple[int, int]]]:
    calls: list[tuple[int, int]] = []

    def source(level: int, index: int) -> bytes:
        calls.append((level, index))
        return nodes[(level, index)]  # a KeyError if asked for a node the store cannot have

    return source, calls


# --- Vectors ---


def test_hashes_and_empty_root() -> None:
    assert HASH_SIZE == 32
    assert EMPTY_ROOT == EMPTY_ROOT_HASH == root([]) == Frontier().root()
    assert [leaf_hash(e) for e in LEAF_INPUTS] == NODE_HASHES[0]
    for level in range(1, 4):
        for i, value in enumerate(NODE_HASHES[level]):
            below = NODE_HASHES[level - 1]
            assert node_hash(below[2 * i], below[2 * i + 1]) == value


@pytest.mark.parametrize("size", range(9))
def test_roots_and_compact_trees(size: int) -> None:
    assert root(LEAVES[:size]) == ROOT_HASHES[size]
    assert subtree_hash(0, size, vector_nodes) == ROOT_HASHES[size]
    _, frontier = build(LEAVES[:size])
    assert frontier.size == size
    assert frontier.root() == ROOT_HASHES[size]
    assert list(frontier.peaks) == COMPACT_TREES[size]
    loaded = Frontier.load(size, vector_nodes)
    assert loaded.peaks == frontier.peaks
    assert loaded.root() == ROOT_HASHES[size]


def test_appends_finish_exactly_the_vector_nodes() -> None:
    nodes, _ = build(LEAVES)
    expected = {(lv, i): v for lv, row in enumerate(NODE_HASHES) for i, v in enumerate(row)}
    assert nodes == expected
    frontier = Frontier()
    for i, leaf in enumerate(LEAVES):
        finished = frontier.append(leaf)
        assert finished[0] == (0, i, leaf)
        # The leaf, then one parent per trailing 1 bit of its index (a left sibling waits).
        trailing_ones = (~i & (i + 1)).bit_length() - 1
        assert [lv for lv, _, _ in finished] == list(range(trailing_ones + 1))


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION_VECTORS)
def test_inclusion_vectors(index: int, size: int, proof: list[bytes]) -> None:
    assert inclusion_proof(index, size, vector_nodes) == proof
    verify_inclusion(LEAVES[index], index, size, proof, ROOT_HASHES[size])
    assert root_from_inclusion(LEAVES[index], index, size, proof) == ROOT_HASHES[size]


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY_VECTORS)
def test_consistency_vectors(old: int, new: int, proof: list[bytes]) -> None:
    assert consistency_proof(old, new, vector_nodes) == proof
    verify_consistency(old, new, ROOT_HASHES[old], ROOT_HASHES[new], proof)


def test_rfc_9162_example_tree_of_seven() -> None:
    """RFC 9162 §2.1.5 names the nodes of a 7-leaf tree and lists its proofs by letter."""
    d = [leaf_hash(bytes([i])) for i in range(7)]
    a, b, c, d_, e, f, j = d
    g, hh, i = node_hash(a, b), node_hash(c, d_), node_hash(e, f)
    k, l_ = node_hash(g, hh), node_hash(i, j)
    nodes, _ = build(d)
    source, _ = recording(nodes)
    assert inclusion_proof(0, 7, source) == [b, hh, l_]
    assert inclusion_proof(3, 7, source) == [c, g, l_]
    assert inclusion_proof(4, 7, source) == [f, j, k]
    assert inclusion_proof(6, 7, source) == [i, k]
    assert consistency_proof(3, 7, source) == [c, d_, g, l_]
    assert consistency_proof(4, 7, source) == [l_]
    assert consistency_proof(6, 7, source) == [i, j, k]
    # l is incomplete in a tree of 7: it is built from its complete parts i and j.
    assert inclusion_nodes(0, 7) == {(0, 1), (1, 1), (1, 2), (0, 6)}
    assert consistency_nodes(3, 7) == {(0, 2), (0, 3), (1, 0), (1, 2), (0, 6)}


# --- Against the reference, from a store's complete nodes ---


def test_roots_agree_for_every_size() -> None:
    leaves = [leaf_hash(n.to_bytes(2, "big")) for n in range(130)]
    frontier = Frontier()
    nodes: dict[tuple[int, int], bytes] = {}
    for n in range(131):
        source, _ = recording(nodes)
        assert root(leaves[:n]) == ref_mth(leaves[:n]) == frontier.root()
        assert subtree_hash(0, n, source) == frontier.root()
        assert Frontier.load(n, source).peaks == frontier.peaks
        if n < 130:
            for level, index, value in frontier.append(leaves[n]):
                nodes[(level, index)] = value


def test_every_aligned_subtree_hash() -> None:
    leaves = LEAVES + [leaf_hash(bytes([i])) for i in range(8)]
    nodes, _ = build(leaves)
    for size in range(1, 17):
        for start in range(0, 16 - size + 1, 1 << (size.bit_length() - 1)):
            got = subtree_hash(start, start + size, lambda lv, i: nodes[(lv, i)])
            assert got == ref_mth(leaves[start : start + size]), f"[{start}, {start + size})"


@pytest.mark.parametrize("size", range(1, 41))
def test_proofs_from_nodes_equal_the_rfc_recursion(size: int) -> None:
    leaves = [leaf_hash(b"entry %d" % n) for n in range(size)]
    nodes, _ = build(leaves)
    for index in range(size):
        source, calls = recording(nodes)
        proof = inclusion_proof(index, size, source)
        assert proof == ref_path(index, leaves)
        assert len(calls) == len(set(calls))
        assert set(calls) == inclusion_nodes(index, size)
    for old in range(size + 1):
        source, calls = recording(nodes)
        proof = consistency_proof(old, size, source)
        assert proof == ([] if old in (0, size) else ref_subproof(old, leaves, True))
        assert len(calls) == len(set(calls))
        assert set(calls) == consistency_nodes(old, size)


def test_a_proof_of_a_million_leaves_costs_log_n_complete_lookups() -> None:
    size = 1_000_003

    def run(proof: Callable[[NodeSource], list[bytes]]) -> list[tuple[int, int]]:
        calls: list[tuple[int, int]] = []

        def source(level: int, index: int) -> bytes:
            assert (index + 1) << level <= size, "asked for an incomplete subtree"
            calls.append((level, index))
            return hashlib.sha256(b"%d/%d" % (level, index)).digest()

        assert all(len(p) == HASH_SIZE for p in proof(source))
        return calls

    bound = 2 * size.bit_length()  # 40
    for index in (0, 1, 524_287, 524_288, 999_999, size - 1):
        calls = run(lambda s, index=index: inclusion_proof(index, size, s))
        assert len(calls) <= bound
        assert set(calls) == inclusion_nodes(index, size)
    for old in (1, 2, 3, 524_288, 524_289, 999_999, size - 1):
        calls = run(lambda s, old=old: consistency_proof(old, size, s))
        assert len(calls) <= bound
        assert set(calls) == consistency_nodes(old, size)
    assert len(run(lambda s: Frontier.load(size, s).peaks)) == size.bit_count()


# --- Verification attacked (verify_test.go's probes, and its edge cases) ---


def flip(value: bytes, bit: int = 3) -> bytes:
    return bytes([value[0] ^ (1 << bit)]) + value[1:]


def inclusion_probes(
    index: int, size: int, proof: list[bytes], root_: bytes, leaf: bytes
) -> list[tuple[str, int, int, list[bytes], bytes, bytes]]:
    probes = [
        ("index - 1", index - 1, size, proof, root_, leaf),
        ("index + 1", index + 1, size, proof, root_, leaf),
        ("index ^ 2", index ^ 2, size, proof, root_, leaf),
        ("size * 2", index, size * 2, proof, root_, leaf),
        ("size / 2", index, size // 2, proof, root_, leaf),
        ("wrong leaf", index, size, proof, root_, b"WrongLeaf"),
        ("flipped leaf", index, size, proof, root_, flip(leaf)),
        ("empty root", index, size, proof, EMPTY_ROOT_HASH, leaf),
        ("random root", index, size, proof, SOME_HASH, leaf),
        ("trailing garbage", index, size, [*proof, b""], root_, leaf),
        ("trailing root", index, size, [*proof, root_], root_, leaf),
        ("preceding garbage", index, size, [b"", *proof], root_, leaf),
        ("preceding root", index, size, [root_, *proof], root_, leaf),
    ]
    for i in range(len(proof)):
        wrong = [*proof]
        wrong[i] = flip(wrong[i])
        probes.append((f"proof[{i}] bit 3", index, size, wrong, root_, leaf))
    if proof:
        probes.append(("removed component", index, size, proof[:-1], root_, leaf))
    if len(proof) > 1:
        probes.append(("inserted", index, size, [proof[0], SOME_HASH, *proof[1:]], root_, leaf))
    return probes


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION_VECTORS[1:])
def test_corrupt_inclusion_proofs_fail(index: int, size: int, proof: list[bytes]) -> None:
    for desc, i, n, p, r, leaf in inclusion_probes(
        index, size, proof, ROOT_HASHES[size], LEAVES[index]
    ):
        assert reason_of(verify_inclusion, leaf, i, n, p, r), f"verified: {desc}"


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY_VECTORS[1:])
def test_corrupt_consistency_proofs_fail(old: int, new: int, proof: list[bytes]) -> None:
    r1, r2 = ROOT_HASHES[old], ROOT_HASHES[new]
    probes = [
        ("old - 1", old - 1, new, r1, r2, proof),
        ("old + 1", old + 1, new, r1, r2, proof),
        ("old ^ 2", old ^ 2, new, r1, r2, proof),
        ("new * 2", old, new * 2, r1, r2, proof),
        ("new / 2", old, new // 2, r1, r2, proof),
        ("wrong root1", old, new, b"WrongRoot", r2, proof),
        ("wrong root2", old, new, r1, b"WrongRoot", proof),
        ("flipped root1", old, new, flip(r1), r2, proof),
        ("flipped root2", old, new, r1, flip(r2), proof),
        ("swapped roots", old, new, r2, r1, proof),
        ("empty proof", old, new, r1, r2, []),
        ("trailing garbage", old, new, r1, r2, [*proof, b""]),
        ("trailing root1", old, new, r1, r2, [*proof, r1]),
        ("trailing root2", old, new, r1, r2, [*proof, r2]),
        ("preceding garbage", old, new, r1, r2, [b"", *proof]),
        ("preceding root1", old, new, r1, r2, [r1, *proof]),
        ("preceding root2", old, new, r1, r2, [r2, *proof]),
        ("preceding proof[0]", old, new, r1, r2, [proof[0], *proof]),
        ("truncated proof", old, new, r1, r2, proof[:-1]),
    ]
    for i in range(len(proof)):
        wrong = [*proof]
        wrong[i] = flip(wrong[i], 4)
        probes.append((f"proof[{i}] bit 4", old, new, r1, r2, wrong))
    for desc, m, n, a, b, p in probes:
        assert reason_of(verify_consistency, m, n, a, b, p), f"verified: {desc}"


def reason_of(verify: Callable[..., None], *args: object) -> str | None:
    """The reason `verify(*args)` refused, or None if it accepted."""
    try:
        verify(*args)
    except ProofError as e:
        return e.reason
    return None


X, Y = hashlib.sha256(b"don't care 1").digest(), hashlib.sha256(b"don't care 2").digest()
E = EMPTY_ROOT_HASH


@pytest.mark.parametrize(
    ("old", "new", "old_root", "new_root", "proof", "reason"),
    [
        # Sizes that are always consistent, with the empty proof.
        (0, 0, E, E, [], None),
        (0, 1, E, X, [], None),
        (0, 5, E, Y, [], None),
        (1, 1, X, X, [], None),
        (7, 7, Y, Y, [], None),
        # transparency-dev accepts any old root at size 0; a size-0 head must have the empty
        # root here (see the module docstring).
        (0, 0, X, X, [], "root-mismatch"),
        (0, 1, X, Y, [], "root-mismatch"),
        # Equal sizes, different roots: a fork.
        (0, 0, E, X, [], "root-mismatch"),
        (1, 1, X, Y, [], "root-mismatch"),
        (1, 1, E, Y, [], "root-mismatch"),
        # Time travel to the past, and sizes that are no sizes.
        (1, 0, X, Y, [], "size-out-of-range"),
        (2, 1, X, Y, [], "size-out-of-range"),
        (-1, 1, X, Y, [], "size-out-of-range"),
        # An empty proof where one is needed; a proof where none is.
        (1, 2, X, Y, [], "wrong-proof-length"),
        (0, 0, E, E, [E], "wrong-proof-length"),
        (0, 1, E, E, [E], "wrong-proof-length"),
        (1, 1, E, E, [E], "wrong-proof-length"),
        # Hashes of the wrong size.
        (0, 0, b"", b"", [], "wrong-hash-size"),
        (1, 1, X[:31], X[:31], [], "wrong-hash-size"),
        (1, 2, X, Y, [X + b"\x00"], "wrong-hash-size"),
    ],
)
def test_consistency_edge_cases(
    old: int, new: int, old_root: bytes, new_root: bytes, proof: list[bytes], reason: str | None
) -> None:
    assert reason_of(verify_consistency, old, new, old_root, new_root, proof) == reason


@pytest.mark.parametrize(
    ("index", "size", "leaf", "root_", "reason"),
    [
        (0, 0, SOME_HASH, E, "index-out-of-range"),
        (1, 0, SOME_HASH, E, "index-out-of-range"),
        (2, 1, SOME_HASH, E, "index-out-of-range"),
        (-1, 1, SOME_HASH, SOME_HASH, "index-out-of-range"),
        (0, 1, SOME_HASH, E, "root-mismatch"),
        (0, 1, SOME_HASH, SOME_HASH, None),  # a single leaf is its own root, proof empty
        (0, 1, SOME_HASH, b"", "wrong-hash-size"),
        (0, 1, b"", SOME_HASH, "wrong-hash-size"),
        (0, 1, b"", b"", "wrong-hash-size"),
    ],
)
def test_inclusion_edge_cases(
    index: int, size: int, leaf: bytes, root_: bytes, reason: str | None
) -> None:
    assert reason_of(verify_inclusion, leaf, index, size, [], root_) == reason


def test_reasons_of_a_wrong_length_and_a_wrong_root() -> None:
    index, size, proof = INCLUSION_VECTORS[-1]
    leaf, good = LEAVES[index], ROOT_HASHES[size]
    assert reason_of(verify_inclusion, leaf, index, size, proof[:-1], good) == (
        "wrong-proof-length"
    )
    assert reason_of(verify_inclusion, leaf, index, size, [*proof, good], good) == (
        "wrong-proof-length"
    )
    assert reason_of(verify_inclusion, leaf, index, size, proof, SOME_HASH) == ("root-mismatch")


def test_proof_error_is_an_invalid_input_with_a_reason() -> None:
    with pytest.raises(ProofError) as caught:
        verify_inclusion(LEAVES[0], 0, 2, [LEAVES[0]], ROOT_HASHES[2])
    error = caught.value
    assert isinstance(error, InvalidInput)
    assert isinstance(error, VaultError)
    assert error.reason == "root-mismatch"
    assert error.detail == "Merkle proof rejected: root mismatch"


# --- Contracts of the generators and the Frontier ---


@pytest.mark.parametrize(
    "call",
    [
        lambda: inclusion_proof(5, 5, vector_nodes),
        lambda: inclusion_proof(0, 0, vector_nodes),
        lambda: inclusion_proof(-1, 5, vector_nodes),
        lambda: inclusion_nodes(8, 8),
        lambda: consistency_proof(3, 2, vector_nodes),
        lambda: consistency_proof(-1, 2, vector_nodes),
        lambda: consistency_nodes(9, 8),
    ],
)
def test_proofs_out_of_range_are_invalid_input(call: Callable[[], object]) -> None:
    with pytest.raises(InvalidInput):
        call()


def test_trivial_consistency_proofs_are_empty_and_look_nothing_up() -> None:
    def nothing(level: int, index: int) -> bytes:
        raise AssertionError("no lookup expected")

    for old, new in [(0, 0), (0, 8), (5, 5)]:
        assert consistency_proof(old, new, nothing) == []
        assert consistency_nodes(old, new) == set()


@pytest.mark.parametrize(("start", "end"), [(1, 3), (2, 6), (4, 3), (-1, 0), (3, 7)])
def test_subtree_hash_refuses_ranges_the_rfc_never_splits(start: int, end: int) -> None:
    with pytest.raises(ValueError, match="not a range"):
        subtree_hash(start, end, vector_nodes)


def test_frontier_contract() -> None:
    with pytest.raises(ValueError, match="peaks"):
        Frontier(3, [SOME_HASH])
    with pytest.raises(ValueError, match="peaks"):
        Frontier(0, [SOME_HASH])
    with pytest.raises(ValueError, match="peaks"):
        Frontier(-1)
    with pytest.raises(ValueError, match="32-byte"):
        Frontier(1, [b"short"])
    frontier = Frontier(7, COMPACT_TREES[7])
    with pytest.raises(ValueError, match="leaf hash"):
        frontier.append(LEAF_INPUTS[7])  # an entry, not its leaf hash
    assert frontier.size == 7  # the refused append changed nothing
    with pytest.raises(AttributeError):
        frontier.size = 8  # type: ignore[misc]  # only append grows it
    finished = frontier.append(LEAVES[7])
    assert finished == [(0, 7, NH[0][7]), (1, 3, NH[1][3]), (2, 1, NH[2][1]), (3, 0, NH[3][0])]
    assert frontier.root() == ROOT_HASHES[8]
    assert frontier.peaks == (NH[3][0],)


def test_perfect_root_is_the_rfc_root_of_a_complete_subtree() -> None:
    for count in (1, 2, 4, 8, 64, 256):
        hashes = [merkle.leaf_hash(bytes([i % 256, i // 256])) for i in range(count)]
        assert merkle.perfect_root(b"".join(hashes)) == merkle.root(hashes)
    for bad in (b"", b"\x00" * 31, b"\x00" * 96, b"\x00" * 33):
        with pytest.raises(ValueError, match="power of two"):
            merkle.perfect_root(bad)
