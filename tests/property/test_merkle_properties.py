"""Properties of the log's Merkle proofs: for every tree size, every inclusion and consistency
proof verifies, and any change to what is verified fails with ProofError.

One tree of 300 distinct leaves; the proofs for a size n come from a NodeSource that serves
only the subtrees complete at size n, as the store does. Sizes 1..64 are checked exhaustively,
larger ones (up to 300) sampled by Hypothesis.

"A wrong size" is verified against the root of that wrong size, as a checkpoint binds the two:
RFC inclusion proofs of two sizes can share a shape (index 0 in trees of 5 and 6 leaves), so
a proof checked against a root of another size than it claims may verify; no tree of the
claimed size has that root, so no signed checkpoint can offer the pair.
"""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from vault.audit.merkle import (
    Frontier,
    NodeSource,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root,
    verify_consistency,
    verify_inclusion,
)
from vault.errors import ProofError

MAX = 300
LEAVES = [leaf_hash(b"event %d" % i) for i in range(MAX)]
ROOTS = [root(LEAVES[:n]) for n in range(MAX + 1)]
_NODES: dict[tuple[int, int], bytes] = {}
_frontier = Frontier()
for _leaf in LEAVES:
    for _level, _index, _value in _frontier.append(_leaf):
        _NODES[(_level, _index)] = _value


def store(size: int) -> NodeSource:
    """The complete subtrees of the tree of `size` leaves, and nothing else."""

    def node(level: int, index: int) -> bytes:
        assert (index + 1) << level <= size, f"({level}, {index}) is not complete at {size}"
        return _NODES[(level, index)]

    return node


def flip(value: bytes, bit: int) -> bytes:
    changed = bytearray(value)
    changed[(bit // 8) % len(changed)] ^= 1 << (bit % 8)
    return bytes(changed)


def refused(verify: Callable[..., None], *args: object) -> bool:
    try:
        verify(*args)
    except ProofError:
        return True
    return False


def true_inclusion(leaf: bytes, index: int, size: int, proof: list[bytes]) -> bool:
    """Whether (leaf, index, size, proof, ROOTS[size]) is a true claim after all."""
    return (
        0 <= index < size <= MAX
        and leaf == LEAVES[index]
        and (inclusion_proof(index, size, store(size)) == proof)
    )


def true_consistency(old: int, new: int, proof: list[bytes]) -> bool:
    """Whether (old, new, ROOTS[old], ROOTS[new], proof) is a true claim after all: a wrong
    size can make one (an empty proof shows size 0 consistent with every size)."""
    return 0 <= old <= new <= MAX and consistency_proof(old, new, store(new)) == proof


def check_inclusion(index: int, size: int, bit: int, other: int) -> None:
    """The proof verifies; each change fails. `bit` picks bits to flip, `other` another
    index or size."""
    proof = inclusion_proof(index, size, store(size))
    leaf, top = LEAVES[index], ROOTS[size]
    verify_inclusion(leaf, index, size, proof, top)
    for i in range(len(proof)):
        changed = [*proof]
        changed[i] = flip(changed[i], bit)
        assert refused(verify_inclusion, leaf, index, size, changed, top), f"proof[{i}]"
    assert refused(verify_inclusion, flip(leaf, bit), index, size, proof, top), "leaf"
    assert refused(verify_inclusion, leaf, index, size, proof, flip(top, bit)), "root"
    assert refused(verify_inclusion, LEAVES[other % size], other % size, size, proof, top) or (
        other % size == index
    ), "another leaf at its own index"
    wrong_index = index + 1 + other % (MAX + 1)
    for i in (wrong_index % size, wrong_index, -1 - other, index ^ 1, index ^ 2):
        if i != index:
            assert refused(verify_inclusion, leaf, i, size, proof, top), f"index {i}"
            assert not true_inclusion(leaf, i, size, proof)
    wrong_size = 1 + (size + other % MAX) % MAX
    for n in (wrong_size, size + 1, size - 1, size * 2, size // 2):
        if n != size and 0 <= n <= MAX:
            assert refused(verify_inclusion, leaf, index, n, proof, ROOTS[n]), f"size {n}"
            assert not true_inclusion(leaf, index, n, proof)
    if proof:
        assert refused(verify_inclusion, leaf, index, size, proof[:-1], top), "truncated"
        assert refused(verify_inclusion, leaf, index, size, proof[1:], top), "head cut"
    for extra in (top, leaf, flip(top, bit), *proof[:1]):
        assert refused(verify_inclusion, leaf, index, size, [*proof, extra], top), "extended"
        assert refused(verify_inclusion, leaf, index, size, [extra, *proof], top), "prepended"


def check_consistency(old: int, new: int, bit: int, other: int) -> None:
    proof = consistency_proof(old, new, store(new))
    r1, r2 = ROOTS[old], ROOTS[new]
    verify_consistency(old, new, r1, r2, proof)
    for i in range(len(proof)):
        changed = [*proof]
        changed[i] = flip(changed[i], bit)
        assert refused(verify_consistency, old, new, r1, r2, changed), f"proof[{i}]"
    assert refused(verify_consistency, old, new, flip(r1, bit), r2, proof), "old root"
    if old > 0:  # the empty tree is a prefix of every tree: from 0, any new root is consistent
        assert refused(verify_consistency, old, new, r1, flip(r2, bit), proof), "new root"
    if r1 != r2:
        assert refused(verify_consistency, old, new, r2, r1, proof), "swapped roots"
    for m in ((old + 1 + other % MAX) % (new + 1), old + 1, old - 1, old ^ 1, old ^ 2, new + 1):
        if m != old and 0 <= m <= MAX and not true_consistency(m, new, proof):
            assert refused(verify_consistency, m, new, ROOTS[m], r2, proof), f"old size {m}"
    for n in ((new + 1 + other % MAX) % (MAX + 1), new + 1, new - 1, new * 2, new // 2):
        if n != new and 0 <= n <= MAX and not true_consistency(old, n, proof):
            assert refused(verify_consistency, old, n, r1, ROOTS[n], proof), f"new size {n}"
    if proof:
        assert refused(verify_consistency, old, new, r1, r2, proof[:-1]), "truncated"
        assert refused(verify_consistency, old, new, r1, r2, proof[1:]), "head cut"
    for extra in (r1, r2, flip(r2, bit), *proof[:1]):
        assert refused(verify_consistency, old, new, r1, r2, [*proof, extra]), "extended"
        assert refused(verify_consistency, old, new, r1, r2, [extra, *proof]), "prepended"


def test_every_proof_of_every_tree_up_to_64_leaves() -> None:
    for size in range(1, 65):
        for index in range(size):
            check_inclusion(index, size, bit=index * 7 + size, other=size * 31 + index)
        for old in range(size + 1):
            check_consistency(old, size, bit=old * 13 + size, other=size * 17 + old)


@st.composite
def position(draw: st.DrawFn) -> tuple[int, int]:
    size = draw(st.integers(1, MAX))
    return draw(st.integers(0, size - 1)), size


@st.composite
def two_sizes(draw: st.DrawFn) -> tuple[int, int]:
    new = draw(st.integers(0, MAX))
    return draw(st.integers(0, new)), new


@settings(max_examples=300, deadline=None)
@given(at=position(), bit=st.integers(0, 255), other=st.integers(0, 10_000))
def test_inclusion_proofs(at: tuple[int, int], bit: int, other: int) -> None:
    check_inclusion(*at, bit=bit, other=other)


@settings(max_examples=300, deadline=None)
@given(sizes=two_sizes(), bit=st.integers(0, 255), other=st.integers(0, 10_000))
def test_consistency_proofs(sizes: tuple[int, int], bit: int, other: int) -> None:
    check_consistency(*sizes, bit=bit, other=other)


@settings(max_examples=100, deadline=None)
@given(sizes=two_sizes(), bit=st.integers(0, 255))
def test_a_rewritten_history_is_never_consistent(sizes: tuple[int, int], bit: int) -> None:
    """Change one old leaf and rebuild: no proof from the new tree links it to the old root."""
    old, new = sizes
    if old == 0:
        return
    forged = [*LEAVES[:new]]
    at = bit % old
    forged[at] = flip(forged[at], bit)
    frontier, nodes = Frontier(), {}
    for leaf in forged:
        for level, index, value in frontier.append(leaf):
            nodes[(level, index)] = value
    proof = consistency_proof(old, new, lambda lv, i: nodes[(lv, i)])
    assert refused(verify_consistency, old, new, ROOTS[old], frontier.root(), proof)
    included = inclusion_proof(at, new, lambda lv, i: nodes[(lv, i)])
    assert refused(verify_inclusion, LEAVES[at], at, new, included, frontier.root())


@given(st.lists(st.integers(0, MAX), max_size=6))
def test_extend_in_any_pieces_gives_the_tree_of_append(cuts: list[int]) -> None:
    """`Frontier.extend` (what a verifier uses to rebuild a whole tree) gives the RFC root and
    the peaks of appending one by one, however the leaves are split into pieces."""
    points = sorted(cuts)
    frontier = Frontier()
    start = 0
    for end in [*points, points[-1] if points else 0]:
        frontier.extend(LEAVES[start:end])
        start = end
        assert frontier.size == end
        assert frontier.root() == ROOTS[end]
        assert frontier.peaks == Frontier.load(end, store(end)).peaks
    assert refused_value(frontier.extend, [LEAVES[0], b"short"])
    assert frontier.size == start  # nothing was added


def refused_value(f: Callable[..., object], *args: object) -> bool:
    try:
        f(*args)
    except ValueError:
        return True
    return False
