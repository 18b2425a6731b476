"""The auditor's export of one tenant's log (docs/audit.md section 19.5). Pure: no I/O.

JSON lines: first the checkpoint (with the public key, base64), then one line per event of
the log up to the checkpoint's size: its log index, its canonical envelope, the stored state
(base64 of the exact bytes) and its inclusion proof (hex). `scripts/verify_audit_export.py`
checks it without this project.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace

from audit.canonical import Meta, StoredRecord, canonical_fields
from audit.checkpoints import Checkpoint
from audit.ledger_port import LedgerEntry
from audit.merkle import MerkleTree
from audit.verify import prev_hashes


def checkpoint_line(checkpoint: Checkpoint, public_key: bytes) -> str:
    return json.dumps(
        {
            "kind": "checkpoint",
            "tenant_id": checkpoint.tenant_id,
            "tree_size": checkpoint.tree_size,
            "root": checkpoint.root.hex(),
            "position": checkpoint.position,
            "issued_at": checkpoint.issued_at,
            "key_id": checkpoint.key_id,
            "signature": base64.b64encode(checkpoint.signature).decode(),
            "public_key": base64.b64encode(public_key).decode(),
        },
        sort_keys=True,
    )


def export_lines(
    checkpoint: Checkpoint,
    public_key: bytes,
    log: Sequence[LedgerEntry],
    stored: Mapping[tuple[str, int], StoredRecord],
    meta_of: Callable[[StoredRecord], Meta],
) -> Iterator[str]:
    """The export's lines. Each event's envelope is recomputed from the store as it is now
    (an event no longer stored is exported with `state` null), so a changed store yields an
    export that fails verification rather than one that hides the change."""
    entries = log[: checkpoint.tree_size]
    tree = MerkleTree([e.hash for e in entries])
    prev = prev_hashes(entries)
    yield checkpoint_line(checkpoint, public_key)
    for entry in entries:
        key = (entry.stream_id, entry.version)
        record = stored.get(key)
        line: dict[str, object] = {"kind": "event", "log_index": entry.log_index}
        if record is None:
            line.update(envelope=None, state=None)
        else:
            at = replace(record, position=entry.position)
            line["envelope"] = canonical_fields(at, meta_of(record), prev[key])
            line["state"] = base64.b64encode(record.state).decode()
        line["proof"] = [node.hex() for node in tree.inclusion_proof(entry.log_index)]
        yield json.dumps(line, sort_keys=True)
