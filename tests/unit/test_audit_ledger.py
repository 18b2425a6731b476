"""The ledger's fold and the verification, over stored records in memory (no store): a clean
history verifies; each kind of tampering of the records is caught and named; a rewritten
ledger no longer matches its signed checkpoint; cutting the feed into commits of any size
(DynamoDB's `max_actions`) ledgers the same hashes."""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import replace

import pytest
from eventsourcing.persistence import Tracking

from audit.canonical import Meta, StoredRecord, meta_from_state
from audit.checkpoints import Checkpoint, SigningKey, verify_checkpoint
from audit.keys import KeyRing, parse_key_ring, public_text
from audit.ledger import Ledger
from audit.ledger_port import LedgerCommit, LedgerEntry, LedgerStore, StreamHead, TenantHead
from audit.merkle import root, verify_inclusion
from audit.proofs import consistency, inclusion
from audit.verify import Ledgered, Report, verify
from event_store.tracking import AlreadyTracked

KEY = SigningKey(bytes(range(32)))
KEYS = KeyRing(KEY)
NAME = "app>ledger"


class MemoryLedger(LedgerStore):
    def __init__(self, max_actions: int | None = None) -> None:
        self.max_actions = max_actions
        self.commits = 0
        self.streams: dict[str, StreamHead] = {}
        self.tenants: dict[str, TenantHead] = {}
        self.logs: dict[str, list[LedgerEntry]] = {}
        self.signed: dict[str, list[Checkpoint]] = {}
        self.tracked = 0

    def stream_heads(self, stream_ids: Collection[str]) -> dict[str, StreamHead]:
        return {s: self.streams[s] for s in stream_ids if s in self.streams}

    def tenant_heads(self, tenant_ids: Collection[str] | None = None) -> dict[str, TenantHead]:
        ids = self.tenants if tenant_ids is None else tenant_ids
        return {t: self.tenants[t] for t in ids if t in self.tenants}

    def commit(self, commit: LedgerCommit, tracking: Tracking | None) -> None:
        self.commits += 1
        actions = len(commit.entries) + len(commit.streams) + len(commit.tenants)
        assert self.max_actions is None or actions + len(commit.checkpoints) < self.max_actions
        if tracking is not None:
            if tracking.notification_id <= self.tracked:
                raise AlreadyTracked(str(tracking.notification_id))
            self.tracked = tracking.notification_id
        for e in commit.entries:
            self.logs.setdefault(e.tenant_id, []).append(e)
        self.streams.update({s.stream_id: s for s in commit.streams})
        self.tenants.update({t.tenant_id: t for t in commit.tenants})
        for c in commit.checkpoints:
            self.signed.setdefault(c.tenant_id, []).append(c)

    def entries(self, tenant_id: str) -> list[LedgerEntry]:
        return list(self.logs.get(tenant_id, []))

    def checkpoints(self, tenant_id: str) -> list[Checkpoint]:
        return list(self.signed.get(tenant_id, []))

    def max_tracking_id(self, application_name: str) -> int | None:
        return self.tracked


def meta_of(record: StoredRecord) -> Meta:
    try:
        return meta_from_state(json.loads(record.state))
    except ValueError:
        return Meta("", "", "", "")


def _record(position: int, stream: str, version: int, tenant: str, text: str) -> StoredRecord:
    meta = {"tenant_id": tenant, "event_id": f"e{position}", "actor": "user:a", "recorded_at": ""}
    state = json.dumps({"text": text, "_meta": meta}).encode()
    return StoredRecord(position, stream, version, "x:Thing.Happened", state)


# Two tenants; streams a and c of tenant t1, b of tenant t2.
FEED = [
    _record(1, "a", 1, "t1", "one"),
    _record(2, "b", 1, "t2", "two"),
    _record(3, "a", 2, "t1", "three"),
    _record(4, "c", 1, "t1", "four"),
    _record(5, "a", 3, "t1", "five"),
    _record(6, "b", 2, "t2", "six"),
]


def _ledger(records: list[StoredRecord], max_actions: int | None = None) -> MemoryLedger:
    store = MemoryLedger(max_actions)
    Ledger(store, KEYS, meta_of, checkpoint_interval=0).append(records, NAME)
    return store


def _verify(store: MemoryLedger, feed: list[StoredRecord]) -> Report:
    ledgered = Ledgered(store.logs, store.signed, store.tracked)
    return verify(ledgered, feed, meta_of, KEYS)


def test_a_clean_history_verifies_with_one_log_per_tenant() -> None:
    store = _ledger(FEED)
    report = _verify(store, FEED)
    assert report.findings == []
    assert (report.checked, report.pending) == (6, 0)
    assert [e.position for e in store.logs["t1"]] == [1, 3, 4, 5]
    assert [e.position for e in store.logs["t2"]] == [2, 6]
    last = store.signed["t1"][-1]
    assert verify_checkpoint(last, KEY.public_key)
    assert (last.tree_size, last.position) == (4, 5)
    assert last.root == root([e.hash for e in store.logs["t1"]])


def test_the_hash_chains_each_stream() -> None:
    """Changing stream a's first event changes the hashes of all its later events."""
    store, other = _ledger(FEED), _ledger([_record(1, "a", 1, "t1", "uno"), *FEED[1:]])
    hashes = {(e.stream_id, e.version): e.hash for log in store.logs.values() for e in log}
    changed = {(e.stream_id, e.version): e.hash for log in other.logs.values() for e in log}
    differ = {key for key in hashes if hashes[key] != changed[key]}
    assert differ == {("a", 1), ("a", 2), ("a", 3)}


def test_commits_of_any_size_ledger_the_same_hashes() -> None:
    whole = _ledger(FEED)
    for max_actions in (5, 7, 9):  # 5: one event per commit
        cut = _ledger(FEED, max_actions)
        assert (cut.logs, cut.signed.keys(), cut.tracked) == (whole.logs, whole.signed.keys(), 6)
        assert cut.commits > whole.commits == 1


def test_each_kind_of_tampering_is_named() -> None:
    store = _ledger(FEED)
    edited = [
        *FEED[:2],
        replace(FEED[2], state=FEED[2].state.replace(b"three", b"THREE")),
        *FEED[3:],
    ]
    found = _verify(store, edited).findings
    assert [(f.kind, f.stream_id, f.version, f.position) for f in found] == [("edited", "a", 2, 3)]

    deleted = [r for r in FEED if r.position != 4]
    found = _verify(store, deleted).findings
    assert [(f.kind, f.stream_id, f.version, f.position) for f in found] == [("deleted", "c", 1, 4)]

    # A backdated insertion: a new event at position 3, the later ones moved one on.
    shifted = [replace(r, position=r.position + 1) for r in FEED[2:]]
    inserted = [*FEED[:2], _record(3, "d", 1, "t1", "forged"), *shifted]
    found = _verify(store, inserted).findings
    assert [(f.kind, f.stream_id, f.version, f.position) for f in found] == [
        ("inserted", "d", 1, 3)
    ]

    swapped = [
        FEED[0],
        FEED[1],
        replace(FEED[3], position=3),
        replace(FEED[2], position=4),
        *FEED[4:],
    ]
    found = _verify(store, swapped).findings  # the fewest moved events: one of the two
    assert [(f.kind, f.stream_id, f.version, f.position) for f in found] == [
        ("reordered", "c", 1, 3)
    ]


def test_events_after_the_ledgers_position_are_pending_not_judged() -> None:
    store = _ledger(FEED[:4])
    report = _verify(store, FEED)
    assert (report.findings, report.pending) == ([], 2)


def test_a_rewritten_ledger_fails_its_signed_checkpoint() -> None:
    store = _ledger(FEED)
    forged = store.logs["t1"][1]
    store.logs["t1"][1] = replace(forged, hash=bytes(32))
    kinds = [(f.kind, f.stream_id) for f in _verify(store, FEED).findings]
    assert ("ledger", "tenant 't1'") in kinds


def test_proofs_of_inclusion_and_consistency_hold_against_the_signed_roots() -> None:
    store = MemoryLedger()
    ledger = Ledger(store, KEYS, meta_of, checkpoint_interval=3600)
    ledger.append(FEED[:3], NAME)  # t1's first checkpoint: size 2
    ledger.append(FEED[3:], NAME)
    ledger.checkpoint_now()  # t1: size 4
    log, signed = store.logs["t1"], store.signed["t1"]
    assert [c.tree_size for c in signed] == [2, 4]
    proof = inclusion(log, signed[-1], position=4)
    assert (proof["log_index"], proof["verified"]) == (2, True)
    nodes = [bytes.fromhex(node) for node in proof["proof"]]  # type: ignore[attr-defined]
    assert verify_inclusion(log[2].hash, 2, 4, nodes, signed[-1].root)
    assert consistency(log, signed, 2, 4)["verified"] is True
    with pytest.raises(ValueError, match="position 2 is not in tenant 't1'"):
        inclusion(log, signed[-1], position=2)  # tenant t2's event
    with pytest.raises(ValueError, match="must be signed checkpoints"):
        consistency(log, signed, 3, 4)
    # A ledger whose rows were rewritten no longer proves its signed roots consistent (the
    # proof from size 2 is built from the leaves after it).
    store.logs["t1"][3] = replace(log[3], hash=bytes(32))
    assert consistency(store.logs["t1"], signed, 2, 4)["verified"] is False


TENANT_KEY = SigningKey(bytes(range(100, 132)))
NEW_KEY = SigningKey(bytes(range(200, 232)))


def _findings(store: MemoryLedger, keys: KeyRing) -> list[tuple[str, str]]:
    ledgered = Ledgered(store.logs, store.signed, store.tracked)
    return [(f.stream_id, f.detail) for f in verify(ledgered, FEED, meta_of, keys).findings]


def test_a_tenant_with_its_own_key_has_its_checkpoints_signed_by_it_and_only_it() -> None:
    keys = KeyRing(KEY, {"t1": TENANT_KEY})
    store = MemoryLedger()
    Ledger(store, keys, meta_of, checkpoint_interval=0).append(FEED, NAME)
    assert {c.key_id for c in store.signed["t1"]} == {TENANT_KEY.key_id}
    assert {c.key_id for c in store.signed["t2"]} == {KEY.key_id}
    assert _findings(store, keys) == []
    # The tenant's key is not trusted for another tenant: t2's checkpoint signed by it fails.
    head = TenantHead("t2", 2, (), 6)
    forged = Ledger(MemoryLedger(), KeyRing(TENANT_KEY), meta_of).sign(head)
    store.signed["t2"].append(replace(forged, root=root([e.hash for e in store.logs["t2"]])))
    assert _findings(store, keys) == [
        (
            "tenant 't2'",
            f"checkpoint of size 2: signed by key {TENANT_KEY.key_id}, which is neither the "
            "tenant's nor the system's (current or retired)",
        )
    ]


def test_after_a_rotation_the_old_checkpoints_verify_while_their_key_is_listed_retired() -> None:
    store = MemoryLedger()
    Ledger(store, KeyRing(KEY, {"t1": TENANT_KEY}), meta_of).append(FEED[:3], NAME)
    rotated = KeyRing(NEW_KEY, {"t1": NEW_KEY})
    Ledger(store, rotated, meta_of, checkpoint_interval=0).append(FEED[3:], NAME)
    assert [c.key_id for c in store.signed["t1"]] == [TENANT_KEY.key_id, NEW_KEY.key_id]
    assert [c.key_id for c in store.signed["t2"]] == [KEY.key_id, NEW_KEY.key_id]
    unknown = {(f[0], f[1].split(",")[0]) for f in _findings(store, rotated)}
    assert unknown == {
        ("tenant 't1'", f"checkpoint of size 2: signed by key {TENANT_KEY.key_id}"),
        ("tenant 't2'", f"checkpoint of size 1: signed by key {KEY.key_id}"),
    }
    retired = {"t1": (TENANT_KEY.public_key,), "*": (KEY.public_key,)}
    assert _findings(store, KeyRing(NEW_KEY, {"t1": NEW_KEY}, retired)) == []
    # Retired for another tenant only, t1's old key verifies nothing of t1's.
    elsewhere = {"t2": (TENANT_KEY.public_key,), "*": (KEY.public_key,)}
    assert len(_findings(store, KeyRing(NEW_KEY, {"t1": NEW_KEY}, elsewhere))) == 1


def test_every_checkpoint_is_checked_not_only_the_last() -> None:
    store = MemoryLedger()
    ledger = Ledger(store, KEYS, meta_of, checkpoint_interval=0)
    for record in FEED:
        ledger.append([record], NAME)
    assert [c.tree_size for c in store.signed["t1"]] == [1, 2, 3, 4]
    first, second = store.signed["t1"][:2]
    store.signed["t1"][0] = replace(first, signature=bytes(64))
    store.signed["t1"][1] = replace(second, root=bytes(32))
    assert _findings(store, KEYS) == [
        (
            "tenant 't1'",
            f"checkpoint of size 1: the signature does not verify with key {KEY.key_id}",
        ),
        (
            "tenant 't1'",
            "checkpoint of size 2: the signature does not verify with key " + KEY.key_id,
        ),
        ("tenant 't1'", "the log does not hash to its signed root of size 2"),
    ]


def test_bad_keys_in_the_settings_are_named() -> None:
    with pytest.raises(ValueError, match="the signing key of tenant 'acme': not base64"):
        parse_key_ring(KEY, {"acme": "not a key"}, {})
    with pytest.raises(ValueError, match="the signing key of tenant 'acme': an ed25519 seed is 32"):
        parse_key_ring(KEY, {"acme": public_text(bytes(16))}, {})
    with pytest.raises(ValueError, match="a retired key of the system, 'AAAA': not base64 of a 32"):
        parse_key_ring(KEY, {}, {"*": ["AAAA"]})
    ring = parse_key_ring(
        KEY, {"acme": public_text(bytes(32))}, {"b": [public_text(KEY.public_key)]}
    )
    assert ring.signer("acme").key_id == SigningKey(bytes(32)).key_id
    assert ring.signer("b") is KEY
    assert set(ring.trusted("b")) == {KEY.key_id}
