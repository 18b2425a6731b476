"""The audit ledger's throughput on the embedded default (SQLite) or on a DynamoDB Local
started for the run, docs/audit.md 19.4.

    .venv/bin/python bench/ledger.py [--events 100000] [--tenants 10] [--streams 2000]
        [--store sqlite|dynamodb]

Stores `--events` events (about 300 bytes of state each, the envelope metadata as the mapper
writes it) over `--streams` streams of `--tenants` tenants, in bulk, then measures, in events
per second: the ledger catching up from position zero (`LedgerWorker.catch_up`: canonical
hashing, chains, per-tenant logs, checkpoints, one commit per batch of 1,000), the whole
verification (`verify_store`: the feed read and every hash recomputed) and one tenant's export
(`export_tenant`, its inclusion proofs included). Prints one JSON document, then a table.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]

from dynamodb_local import dynamodb_local  # noqa: E402
from eventsourcing.persistence import StoredEvent  # noqa: E402

from fleetwatch.bootstrap import build_system  # noqa: E402
from fleetwatch.ledger import export_tenant, verify_store  # noqa: E402
from fleetwatch.settings import Settings  # noqa: E402

TOPIC = "write_side.devices:Device.Updated"


def _state(tenant: str, i: int) -> bytes:
    meta = {
        "event_id": uuid.uuid4().hex,
        "tenant_id": tenant,
        "actor": "user:bench",
        "correlation_id": uuid.uuid4().hex,
        "causation_id": None,
        "recorded_at": "2026-12-05T12:00:00+00:00",
    }
    body = {"name": f"device-{i}", "tags": ["a", "b"], "metadata": {"site": "x" * 80}}
    return json.dumps({**body, "_meta": meta}).encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--tenants", type=int, default=10)
    parser.add_argument("--streams", type=int, default=2_000)
    parser.add_argument("--store", choices=("sqlite", "dynamodb"), default="sqlite")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory())
        settings = Settings(store="sqlite", sqlite_path=Path(tmp) / "bench.sqlite3")
        if args.store == "dynamodb":
            endpoint = stack.enter_context(dynamodb_local())
            os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")  # DynamoDB Local's dummies
            os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
            settings = Settings(store="dynamodb", dynamodb_endpoint_url=endpoint)
        system = build_system(settings)
        try:
            streams = [uuid.uuid4() for _ in range(args.streams)]
            versions = dict.fromkeys(streams, 0)
            tenant_of = {s: f"t{n % args.tenants}" for n, s in enumerate(streams)}
            batch: list[StoredEvent] = []
            for i in range(args.events):
                stream = streams[i % len(streams)]
                versions[stream] += 1
                state = _state(tenant_of[stream], i)
                batch.append(StoredEvent(stream, versions[stream], TOPIC, state))
                if len(batch) == (1_000 if args.store == "sqlite" else 40):  # DynamoDB: streams
                    system.app.recorder.insert_events(batch)
                    batch = []
            if batch:
                system.app.recorder.insert_events(batch)
            assert system.ledger is not None
            started = time.perf_counter()
            system.ledger.catch_up()
            ledger_s = time.perf_counter() - started
            started = time.perf_counter()
            report = verify_store(system.app, settings, system.ledger)
            verify_s = time.perf_counter() - started
            if report.findings or report.checked != args.events:
                raise SystemExit(f"verification failed: {report.findings[:3]}")
            system.ledger.ledger.checkpoint_now()
            started = time.perf_counter()
            lines = export_tenant(system.app, settings, system.ledger, "t0")
            export_s = time.perf_counter() - started
        finally:
            system.close()
    exported = len(lines) - 1
    result = {
        "store": args.store,
        "events": args.events,
        "tenants": args.tenants,
        "streams": args.streams,
        "ledger_events_per_s": round(args.events / ledger_s),
        "verify_events_per_s": round(args.events / verify_s),
        "export_events": exported,
        "export_events_per_s": round(exported / export_s),
    }
    print(json.dumps(result))
    print(f"{'ledger catch-up':<18}{result['ledger_events_per_s']:>12,} events/s")
    print(f"{'verify':<18}{result['verify_events_per_s']:>12,} events/s")
    print(f"{'export (1 tenant)':<18}{result['export_events_per_s']:>12,} events/s")


if __name__ == "__main__":
    main()
