"""The ledger's wiring (docs/audit.md section 19.4): its store on the configured event store
(SQLite: its own file, `Settings.ledger_path`; DynamoDB: table `{prefix}ledger`), the signing
keys from the settings (`key_ring`), its worker, and the verification of the store against it."""

from __future__ import annotations

import hashlib
import weakref

from eventsourcing.sqlite import SQLiteDatastore

from audit.canonical import StoredRecord
from audit.checkpoints import SigningKey
from audit.export import export_lines
from audit.keys import KeyRing, parse_key_ring
from audit.ledger import Ledger
from audit.ledger_dynamodb import DynamoDBLedger
from audit.ledger_port import LedgerStore
from audit.ledger_sqlite import SQLiteLedger
from audit.proofs import consistency, inclusion
from audit.records import feed_records, meta_decoder
from audit.records_dynamodb import scan_records
from audit.verify import Ledgered, Report, verify
from event_store.dynamodb import DynamoDBApplicationRecorder
from event_store.sqlite_files import use_pool
from fleetwatch.settings import Settings
from projections.ledger_worker import LedgerWorker
from write_side.application import FleetApplication

_datastores: weakref.WeakKeyDictionary[FleetApplication, SQLiteDatastore] = (
    weakref.WeakKeyDictionary()
)


def signing_key(settings: Settings) -> SigningKey:
    """The system's key: `FLEETWATCH_AUDIT_SIGNING_KEY`, or the development key."""
    if settings.audit_signing_key:
        try:
            return SigningKey.from_base64(settings.audit_signing_key)
        except ValueError as e:
            raise ValueError(f"FLEETWATCH_AUDIT_SIGNING_KEY: {e}") from None
    seed = f"fleetwatch-audit-development-key\n{settings.jwt_secret}".encode()
    return SigningKey(hashlib.sha256(seed).digest())


def key_ring(settings: Settings) -> KeyRing:
    """The checkpoints' keys: the system's, the tenants' own
    (`FLEETWATCH_AUDIT_TENANT_SIGNING_KEYS`) and the retired public keys still trusted
    (`FLEETWATCH_AUDIT_RETIRED_KEYS`); ValueError naming a bad one."""
    return parse_key_ring(
        signing_key(settings), settings.audit_tenant_signing_keys, settings.audit_retired_keys
    )


def open_ledger(app: FleetApplication, settings: Settings) -> LedgerStore:
    if settings.store == "dynamodb":
        store = app.factory.tracking_recorder(DynamoDBLedger)
        assert isinstance(store, DynamoDBLedger)
        return store
    datastore = _datastores.get(app)
    if datastore is None:
        path = settings.ledger_path
        path.parent.mkdir(parents=True, exist_ok=True)
        datastore = _datastores[app] = SQLiteDatastore(str(path))
        use_pool(datastore)
    ledger = SQLiteLedger(datastore=datastore)
    if settings.create_tables:
        ledger.create_table()
    return ledger


def close_ledger(app: FleetApplication) -> None:
    datastore = _datastores.pop(app, None)
    if datastore is not None:
        datastore.close()


def build_ledger(app: FleetApplication, settings: Settings, store: LedgerStore) -> LedgerWorker:
    ledger = Ledger(
        store,
        key_ring(settings),
        meta_decoder(app.envelope_mapper),
        checkpoint_interval=settings.audit_checkpoint_interval,
    )
    return LedgerWorker(
        ledger, recorder=app.recorder, mapper=app.envelope_mapper, upstream_name=app.name
    )


def _stored(
    app: FleetApplication,
) -> tuple[list[StoredRecord], dict[str, list[StoredRecord]] | None]:
    """The feed's records, and the streams' own copies where the store keeps them apart."""
    if isinstance(app.recorder, DynamoDBApplicationRecorder):
        return scan_records(app.recorder)
    return list(feed_records(app.recorder)), None


def verify_store(app: FleetApplication, settings: Settings, worker: LedgerWorker) -> Report:
    """The event store as it is now against the ledger (which is not moved first: what was
    appended after its position is reported as not covered yet)."""
    store = worker.ledger.store
    heads = store.tenant_heads()
    ledgered = Ledgered(
        logs={t: store.entries(t) for t in heads},
        checkpoints={t: store.checkpoints(t) for t in heads},
        covered=store.max_tracking_id(worker.tracking_name) or 0,
    )
    feed, streams = _stored(app)
    return verify(ledgered, feed, meta_decoder(app.envelope_mapper), key_ring(settings), streams)


def export_tenant(
    app: FleetApplication, settings: Settings, worker: LedgerWorker, tenant_id: str
) -> list[str]:
    """The auditor's export of the tenant's log up to its last signed checkpoint (19.5), with
    the public key that signed it; ValueError when the tenant has none, or when that key is not
    one of the keys trusted for the tenant (`fleetwatch audit verify` names it)."""
    store = worker.ledger.store
    checkpoints = store.checkpoints(tenant_id)
    if not checkpoints:
        raise ValueError(f"tenant {tenant_id!r} has no signed checkpoint yet")
    last = checkpoints[-1]
    public_key = key_ring(settings).trusted(tenant_id).get(last.key_id)
    if public_key is None:
        msg = f"the last checkpoint of tenant {tenant_id!r} is signed by key {last.key_id}"
        raise ValueError(f"{msg}, which is not trusted for it (current or retired)")
    feed, _streams = _stored(app)
    stored = {(r.stream_id, r.version): r for r in feed}
    meta_of = meta_decoder(app.envelope_mapper)
    log = store.entries(tenant_id)
    return list(export_lines(last, public_key, log, stored, meta_of))


def prove(
    worker: LedgerWorker,
    tenant_id: str,
    *,
    position: int | None = None,
    sizes: tuple[int, int] | None = None,
) -> dict[str, object]:
    """The inclusion proof of the event at `position` against the tenant's last checkpoint,
    or the consistency proof between its checkpoints of `sizes`; ValueError on bad input."""
    store = worker.ledger.store
    checkpoints = store.checkpoints(tenant_id)
    if not checkpoints:
        raise ValueError(f"tenant {tenant_id!r} has no signed checkpoint yet")
    log = store.entries(tenant_id)
    if sizes is not None:
        return consistency(log, checkpoints, *sizes)
    if position is None:
        raise ValueError("give --position, or --from and --to")
    return inclusion(log, checkpoints[-1], position)
