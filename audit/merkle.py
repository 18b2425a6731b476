"""The Merkle log of RFC 6962 (RFC 9162 section 2.1): tree hashes, inclusion and consistency
proofs, their verification, and the frontier that appends in O(log n). Pure: no I/O.

Leaves are given hashed (`leaf_hash`); proofs are lists of 32-byte node hashes. The proof
generators take every leaf hash of the tree (`MerkleTree` keeps the subtree hashes it has
computed); the verifiers take only the proof.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


class MerkleTree:
    """The tree of some hashed leaves; each subtree hash is computed once, so every leaf's
    proof together costs O(n log n), not O(n^2)."""

    def __init__(self, leaves: Sequence[bytes]) -> None:
        self.leaves = tuple(leaves)
        self._hashes: dict[tuple[int, int], bytes] = {}

    def __len__(self) -> int:
        return len(self.leaves)

    def root(self, start: int = 0, end: int | None = None) -> bytes:
        """MTH(D[start:end])."""
        end = len(self.leaves) if end is None else end
        if end - start == 0:
            return EMPTY_ROOT
        if end - start == 1:
            return self.leaves[start]
        found = self._hashes.get((start, end))
        if found is None:
            k = start + _split(end - start)
            found = self._hashes[(start, end)] = node_hash(self.root(start, k), self.root(k, end))
        return found

    def inclusion_proof(self, index: int) -> list[bytes]:
        """PATH(index, D[n]): the audit path of leaf `index`."""
        if not 0 <= index < len(self.leaves):
            raise ValueError(f"leaf index {index} is outside a tree of size {len(self.leaves)}")
        proof: list[bytes] = []
        start, end = 0, len(self.leaves)
        while end - start > 1:
            k = start + _split(end - start)
            if index < k:
                proof.append(self.root(k, end))
                end = k
            else:
                proof.append(self.root(start, k))
                start = k
        proof.reverse()
        return proof

    def consistency_proof(self, old_size: int) -> list[bytes]:
        """PROOF(m, D[n]): that the tree of the first `old_size` leaves is a prefix of this."""
        if not 0 <= old_size <= len(self.leaves):
            raise ValueError(f"size {old_size} is outside a tree of size {len(self.leaves)}")
        if old_size in (0, len(self.leaves)):
            return []
        proof: list[bytes] = []
        start, end, m, complete = 0, len(self.leaves), old_size, True
        while m != end - start:
            k = _split(end - start)
            if m <= k:
                proof.append(self.root(start + k, end))
                end = start + k
            else:
                proof.append(self.root(start, start + k))
                start, m, complete = start + k, m - k, False
        if not complete:
            proof.append(self.root(start, end))
        proof.reverse()
        return proof


def root(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) of the hashed leaves."""
    return MerkleTree(leaves).root()


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    return MerkleTree(leaves).inclusion_proof(index)


def consistency_proof(leaves: Sequence[bytes], old_size: int) -> list[bytes]:
    return MerkleTree(leaves).consistency_proof(old_size)


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], expected_root: bytes
) -> bool:
    """RFC 9162 section 2.1.3.2: does `proof` put the hashed `leaf` at `index` of the tree of
    `size` leaves whose root is `expected_root`?"""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == expected_root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 section 2.1.4.2: is the tree (`old_size`, `old_root`) a prefix of the tree
    (`new_size`, `new_root`)? Equal sizes need equal roots and an empty proof; every tree
    extends the empty one."""
    if not 0 <= old_size <= new_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof and old_root == EMPTY_ROOT
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # an exact power of two: the old root is a node
        path.insert(0, old_root)
    if not path:
        return False
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == old_root and sr == new_root and sn == 0


def frontier_append(size: int, frontier: Sequence[bytes], leaf: bytes) -> list[bytes]:
    """The frontier after appending a hashed leaf to a tree of `size` leaves. The frontier is
    the roots of the perfect subtrees the tree splits into, largest first (one per bit of
    `size`)."""
    result = [*frontier, leaf]
    while size & 1:  # each trailing one bit is a subtree of the new leaf's height: merge
        right = result.pop()
        result[-1] = node_hash(result[-1], right)
        size >>= 1
    return result


def frontier_root(frontier: Sequence[bytes]) -> bytes:
    """MTH of the tree whose frontier this is."""
    if not frontier:
        return EMPTY_ROOT
    r = frontier[-1]
    for subtree in reversed(frontier[:-1]):
        r = node_hash(subtree, r)
    return r


def prefix_roots(leaves: Sequence[bytes], sizes: Collection[int]) -> dict[int, bytes]:
    """MTH(D[:size]) of the hashed leaves for each of `sizes` at most their number, in one
    pass (the frontier): a log's c checkpoints checked in O(n + c log n), not O(n) each."""
    wanted = {size for size in sizes if 0 <= size <= len(leaves)}
    roots = {0: EMPTY_ROOT} if 0 in wanted else {}
    frontier: list[bytes] = []
    for size, leaf in enumerate(leaves[: max(wanted, default=0)]):
        frontier = frontier_append(size, frontier, leaf)
        if size + 1 in wanted:
            roots[size + 1] = frontier_root(frontier)
    return roots
