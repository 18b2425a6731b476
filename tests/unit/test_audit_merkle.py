"""The Merkle log of RFC 6962 (`audit.merkle`): properties of its proofs, and the frontier.

Any leaf's inclusion proof verifies and any prefix's consistency proof verifies against the
later root; a flipped bit in a leaf, a proof node or a root makes verification fail. One known
answer pins the hashing itself (the empty tree's root and a two-leaf root written out)."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from audit.merkle import (
    EMPTY_ROOT,
    consistency_proof,
    frontier_append,
    frontier_root,
    inclusion_proof,
    leaf_hash,
    node_hash,
    prefix_roots,
    root,
    verify_consistency,
    verify_inclusion,
)

leaves_st = st.lists(st.binary(max_size=8), min_size=1, max_size=40).map(
    lambda data: [leaf_hash(d) for d in data]
)


def _flip(value: bytes, bit: int) -> bytes:
    index = (bit // 8) % len(value)
    return value[:index] + bytes([value[index] ^ (1 << (bit % 8))]) + value[index + 1 :]


def test_known_answers() -> None:
    assert hashlib.sha256(b"").digest() == EMPTY_ROOT
    a, b = leaf_hash(b"a"), leaf_hash(b"b")
    assert a == hashlib.sha256(b"\x00a").digest()
    assert root([a, b]) == hashlib.sha256(b"\x01" + a + b).digest()
    c = leaf_hash(b"c")
    assert root([a, b, c]) == node_hash(node_hash(a, b), c)
    assert verify_consistency(0, 3, EMPTY_ROOT, root([a, b, c]), [])
    assert not verify_consistency(0, 3, a, root([a, b, c]), [])


@given(leaves_st, st.data())
def test_any_inclusion_proof_verifies_and_a_flipped_bit_fails(
    leaves: list[bytes], data: st.DataObject
) -> None:
    index = data.draw(st.integers(0, len(leaves) - 1))
    tree_root = root(leaves)
    proof = inclusion_proof(leaves, index)
    assert verify_inclusion(leaves[index], index, len(leaves), proof, tree_root)
    bit = data.draw(st.integers(0, 255))
    assert not verify_inclusion(_flip(leaves[index], bit), index, len(leaves), proof, tree_root)
    assert not verify_inclusion(leaves[index], index, len(leaves), proof, _flip(tree_root, bit))
    if proof:
        at = data.draw(st.integers(0, len(proof) - 1))
        bad = [*proof[:at], _flip(proof[at], bit), *proof[at + 1 :]]
        assert not verify_inclusion(leaves[index], index, len(leaves), bad, tree_root)
    if len(leaves) > 1:  # the same proof does not place the leaf elsewhere
        other = (index + 1) % len(leaves)
        if leaves[other] != leaves[index]:
            assert not verify_inclusion(leaves[other], index, len(leaves), proof, tree_root)


@given(leaves_st, st.data())
def test_any_prefix_is_consistent_with_the_later_tree_and_a_flipped_bit_fails(
    leaves: list[bytes], data: st.DataObject
) -> None:
    old = data.draw(st.integers(1, len(leaves)))  # size 0: below (every tree extends it)
    old_root, new_root = root(leaves[:old]), root(leaves)
    proof = consistency_proof(leaves, old)
    assert verify_consistency(old, len(leaves), old_root, new_root, proof)
    bit = data.draw(st.integers(0, 255))
    assert not verify_consistency(old, len(leaves), _flip(old_root, bit), new_root, proof)
    assert not verify_consistency(old, len(leaves), old_root, _flip(new_root, bit), proof)
    if proof:
        at = data.draw(st.integers(0, len(proof) - 1))
        bad = [*proof[:at], _flip(proof[at], bit), *proof[at + 1 :]]
        assert not verify_consistency(old, len(leaves), old_root, new_root, bad)


@given(leaves_st, st.data())
def test_a_rewritten_prefix_is_not_consistent(leaves: list[bytes], data: st.DataObject) -> None:
    """A log whose old part was changed has no consistency proof from the old root."""
    old = data.draw(st.integers(1, len(leaves)))
    at = data.draw(st.integers(0, old - 1))
    rewritten = [*leaves[:at], _flip(leaves[at], 0), *leaves[at + 1 :]]
    proof = consistency_proof(rewritten, old)
    assert not verify_consistency(old, len(leaves), root(leaves[:old]), root(rewritten), proof)


@given(leaves_st)
def test_the_frontier_gives_the_root_of_every_size(leaves: list[bytes]) -> None:
    frontier: list[bytes] = []
    for size, leaf in enumerate(leaves):
        frontier = frontier_append(size, frontier, leaf)
        assert frontier_root(frontier) == root(leaves[: size + 1])
        assert len(frontier) == bin(size + 1).count("1")


@given(leaves_st, st.data())
def test_prefix_roots_are_the_roots_of_the_prefixes_asked_for(
    leaves: list[bytes], data: st.DataObject
) -> None:
    sizes = data.draw(st.sets(st.integers(0, len(leaves) + 2)))
    roots = prefix_roots(leaves, sizes)
    assert roots == {size: root(leaves[:size]) for size in sizes if size <= len(leaves)}
