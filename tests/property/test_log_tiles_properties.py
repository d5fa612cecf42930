"""The tiles an inclusion proof reads in its one statement (`vault.audit.log._inclusion_read`)
hold every node the proof looks up: per tile level L, the tile of the entry,
index // 256^(L+1), or the tile on the right edge of the tree, size // 256^(L+1). If this
failed for some tree, a proof would still be right (the reader fetches what it lacks in a
second statement) but slower; the test keeps the statement honest about what it covers.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from vault.audit import merkle
from vault.audit.log import TILE_HEIGHT, _tile_levels, node_tile


def covering(index: int, size: int, levels: int) -> set[tuple[int, int]]:
    return {
        (level, point >> (TILE_HEIGHT * (level + 1)))
        for level in range(levels)
        for point in (index, size)
    }


def check(index: int, size: int) -> None:
    needed = merkle.inclusion_nodes(index, size) | {(0, index)}
    tiles = {node_tile(level, i)[:2] for level, i in needed}
    levels = _tile_levels(size)
    assert tiles <= covering(index, size, levels), (index, size)
    assert max(level for level, _ in tiles) < levels


def test_every_index_of_trees_around_tile_boundaries() -> None:
    for size in (1, 2, 255, 256, 257, 511, 512, 513, 65535, 65536, 65537, 70_000):
        for index in {0, 1, size // 2, size - 2, size - 1, *range(0, size, 997)}:
            if 0 <= index < size:
                check(index, size)


@settings(max_examples=2000, deadline=None)
@given(st.integers(min_value=1, max_value=2**62), st.data())
def test_any_tree(size: int, data: st.DataObject) -> None:
    check(data.draw(st.integers(min_value=0, max_value=size - 1)), size)


def test_tile_levels() -> None:
    assert [_tile_levels(n) for n in (0, 1, 255, 256, 65535, 65536, 2**24, 2**62)] == [
        1,
        1,
        1,
        2,
        2,
        3,
        4,
        8,
    ]
