"""Proofs for an auditor (docs/audit.md section 19.5): that an event is in its tenant's signed
log, and that a later signed log extends an earlier one. Pure: no I/O; JSON-ready answers
(hashes in hex), each with `verified`: whether it holds against the signed roots, as
`audit.merkle`'s verifiers (and an auditor's) check it."""

from __future__ import annotations

from collections.abc import Sequence

from audit.checkpoints import Checkpoint
from audit.ledger_port import LedgerEntry
from audit.merkle import MerkleTree, verify_consistency, verify_inclusion

Proof = dict[str, object]


def _checkpoint(checkpoint: Checkpoint) -> Proof:
    return {
        "tree_size": checkpoint.tree_size,
        "root": checkpoint.root.hex(),
        "position": checkpoint.position,
        "issued_at": checkpoint.issued_at,
        "key_id": checkpoint.key_id,
        "signature": checkpoint.signature.hex(),
    }


def inclusion(log: Sequence[LedgerEntry], checkpoint: Checkpoint, position: int) -> Proof:
    """The inclusion proof of the event at feed `position` against `checkpoint`; ValueError
    when the log has no such event or the checkpoint does not cover it yet."""
    entry = next((e for e in log if e.position == position), None)
    if entry is None:
        raise ValueError(f"position {position} is not in tenant {checkpoint.tenant_id!r}'s log")
    if entry.log_index >= checkpoint.tree_size:
        raise ValueError(f"position {position} is after the last signed checkpoint")
    tree = MerkleTree([e.hash for e in log[: checkpoint.tree_size]])
    proof = tree.inclusion_proof(entry.log_index)
    size = checkpoint.tree_size
    verified = verify_inclusion(entry.hash, entry.log_index, size, proof, checkpoint.root)
    return {
        "tenant_id": checkpoint.tenant_id,
        "stream_id": entry.stream_id,
        "version": entry.version,
        "position": position,
        "log_index": entry.log_index,
        "leaf_hash": entry.hash.hex(),
        "tree_size": size,
        "proof": [node.hex() for node in proof],
        "verified": verified,  # against the signed root
        "checkpoint": _checkpoint(checkpoint),
    }


def consistency(
    log: Sequence[LedgerEntry], checkpoints: Sequence[Checkpoint], old: int, new: int
) -> Proof:
    """The consistency proof between the tenant's signed checkpoints of sizes `old` and
    `new`; ValueError when either is not a signed checkpoint or `old > new`."""
    by_size = {c.tree_size: c for c in checkpoints}
    if old not in by_size or new not in by_size:
        sizes = ", ".join(str(size) for size in sorted(by_size)) or "none"
        raise ValueError(f"sizes {old} and {new} must be signed checkpoints' (signed: {sizes})")
    if old > new:
        raise ValueError(f"the first size ({old}) must not exceed the second ({new})")
    proof = MerkleTree([e.hash for e in log[:new]]).consistency_proof(old)
    first, second = by_size[old], by_size[new]
    return {
        "tenant_id": first.tenant_id,
        "old": _checkpoint(first),
        "new": _checkpoint(second),
        "proof": [node.hex() for node in proof],
        "verified": verify_consistency(old, new, first.root, second.root, proof),
    }
