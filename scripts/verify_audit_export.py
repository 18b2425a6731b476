#!/usr/bin/env python3
"""Verify a Fleetwatch auditor's export offline (docs/audit.md section 19.5).

Usage: python verify_audit_export.py EXPORT.jsonl [--key-id KEY_ID ...]

Standalone on purpose: the Python standard library and the `cryptography` package only, no
import of the project, so an auditor can read all of it. It checks

- the checkpoint's ed25519 signature (and, with --key-id, that the key is one published: give
  it once per key the auditor trusts, e.g. a tenant's current key and the one it rotated from);
- per event: the stored bytes' SHA-256 against the envelope, the envelope's tenant, the leaf
  hash SHA-256(0x00 || canonical envelope) and its inclusion proof against the signed root
  (RFC 9162 section 2.1.3.2), increasing feed positions, and each stream's hash chain (`prev`
  is the hash of the stream's previous event, 64 zeros for version 1);
- that the export holds the whole log: log indexes 0 to the tree size, none missing.

Exit code 0 when everything verifies, 1 with one line per failure otherwise, 2 on bad usage.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import json
import sys
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

ENVELOPE_FORMAT = "fleetwatch.envelope.v1"
CHECKPOINT_FORMAT = "fleetwatch.checkpoint.v1"
GENESIS = "0" * 64


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def canonical(envelope: dict[str, Any]) -> bytes:
    return json.dumps(envelope, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def verify_inclusion(leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes) -> bool:
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
    return sn == 0 and r == root


def check_checkpoint(cp: dict[str, Any], key_ids: list[str] | None) -> list[str]:
    public_key = base64.b64decode(cp["public_key"])
    failures = []
    found_id = hashlib.sha256(public_key).hexdigest()[:16]
    if found_id != cp["key_id"]:
        failures.append(f"checkpoint: key id {cp['key_id']} is not the key's ({found_id})")
    if key_ids and found_id not in key_ids:
        published = " or ".join(key_ids)
        failures.append(f"checkpoint: signed by key {found_id}, not the published {published}")
    body = "\n".join(
        (
            CHECKPOINT_FORMAT,
            cp["tenant_id"],
            str(cp["tree_size"]),
            cp["root"],
            str(cp["position"]),
            cp["issued_at"],
        )
    ).encode()
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(
            base64.b64decode(cp["signature"]), body
        )
    except (InvalidSignature, ValueError):
        failures.append("checkpoint: the signature does not verify")
    return failures


def check_event(
    line: dict[str, Any], cp: dict[str, Any], root: bytes, chains: dict[str, tuple[int, str]]
) -> list[str]:
    index = line["log_index"]
    envelope, state = line.get("envelope"), line.get("state")
    if envelope is None or state is None:
        return [f"log index {index}: the event is missing from the store"]
    where = f"log index {index} (position {envelope['position']}, stream "
    where += f"{envelope['stream_id']} version {envelope['version']})"
    failures = []
    if envelope.get("format") != ENVELOPE_FORMAT:
        failures.append(f"{where}: unknown envelope format {envelope.get('format')!r}")
    if envelope["tenant_id"] != cp["tenant_id"]:
        failures.append(f"{where}: of tenant {envelope['tenant_id']!r}, not the log's")
    if hashlib.sha256(base64.b64decode(state)).hexdigest() != envelope["state_sha256"]:
        failures.append(f"{where}: the stored bytes do not match the envelope's SHA-256")
    hashed = leaf_hash(canonical(envelope))
    proof = [bytes.fromhex(node) for node in line["proof"]]
    if not verify_inclusion(hashed, index, cp["tree_size"], proof, root):
        failures.append(f"{where}: not included in the signed log (inclusion proof fails)")
    version, prev = chains.get(envelope["stream_id"], (0, GENESIS))
    if envelope["version"] != version + 1 or envelope["prev"] != prev:
        failures.append(f"{where}: breaks its stream's hash chain (after version {version})")
    chains[envelope["stream_id"]] = (envelope["version"], hashed.hex())
    return failures


def verify_export(lines: list[str], key_ids: list[str] | None = None) -> tuple[list[str], str]:
    """The failures, and a summary."""
    cp = json.loads(lines[0])
    if cp.get("kind") != "checkpoint":
        return ["the first line is not the checkpoint"], ""
    failures = check_checkpoint(cp, key_ids)
    root = bytes.fromhex(cp["root"])
    chains: dict[str, tuple[int, str]] = {}
    indexes, last_position = [], 0
    for text in lines[1:]:
        line = json.loads(text)
        indexes.append(line["log_index"])
        failures += check_event(line, cp, root, chains)
        envelope = line.get("envelope") or {}
        position = envelope.get("position", last_position + 1)
        if position <= last_position:
            failures.append(f"log index {line['log_index']}: feed positions do not increase")
        last_position = position
    if indexes != list(range(cp["tree_size"])):
        failures.append(f"the export does not hold log indexes 0 to {cp['tree_size'] - 1}")
    summary = (
        f"tenant {cp['tenant_id']!r}: {len(indexes)} events, checkpoint of size "
        f"{cp['tree_size']} root {cp['root']} signed by key {cp['key_id']} at {cp['issued_at']}"
    )
    return failures, summary


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="Verify a Fleetwatch auditor's export.")
    parser.add_argument("export", help="the export file (JSON lines)")
    parser.add_argument(
        "--key-id",
        action="append",
        help="a published key id the checkpoint may be signed by (repeatable)",
    )
    args = parser.parse_args(argv)
    try:
        with open(args.export, encoding="utf-8") as f:
            lines = [line for line in f.read().splitlines() if line.strip()]
        failures, summary = verify_export(lines, args.key_id)
    except (OSError, ValueError, KeyError, TypeError, IndexError, binascii.Error) as e:
        print(f"error: cannot read the export: {e!r}", file=sys.stderr)
        return 2
    for failure in failures:
        print(f"FAILED {failure}")
    print(("FAILED " if failures else "OK ") + summary)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
