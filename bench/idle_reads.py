"""Reads of an idle process on DynamoDB: per subscription and for the workers `serve` runs.

    .venv/bin/python bench/idle_reads.py [--subscriptions 1,10,100] [--seconds 3]
        [--settle 1] [--endpoint URL] [--json-only]

Every DynamoDB request of the process is counted by operation through botocore's own event
system (a ``before-call.dynamodb`` handler added to the handlers every new botocore session
registers), and every read asks for its ``ConsumedCapacity`` (``provide-client-params``), which
DynamoDB Local reports (``rcu_reported_per_s``). DynamoDB Local reports 0 for a Query that
finds nothing, where DynamoDB rounds every read up to one 4 KB unit (1 RCU, strongly
consistent): ``rcu_per_s`` counts each read as at least 1 RCU. Nothing is stubbed: the
requests go to DynamoDB Local (started here unless ``--endpoint`` is given).

Scenarios, each on fresh tables holding a few events, measured for ``--seconds`` after
``--settle`` seconds of idling (pollers back off first):

- ``subscriptions-N``: N subscriptions of one recorder, all at the head.
- ``serve-workers``: the projection workers (and worker group) `fleetwatch serve` starts, from
  `build_system` on the DynamoDB store, caught up.

Prints one JSON document and a table: requests per second by operation and table, reads per
second (all, and those of the feed: table ``events``), read capacity units per second, and
the same per consumer. The ``serve`` process also reads its outbox (the notification
dispatcher: one Query per shard per ``notify_poll_interval``), which is not a feed consumer.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]

import botocore.handlers  # noqa: E402
from dynamodb_local import dynamodb_local  # noqa: E402
from eventsourcing.persistence import StoredEvent  # noqa: E402

from event_store.dynamodb import DynamoDBApplicationRecorder, DynamoDBFactory  # noqa: E402

# boto3 needs credentials and a region even for DynamoDB Local (letters and digits only).
os.environ.setdefault("AWS_ACCESS_KEY_ID", "fleetwatchbench")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "fleetwatchbench")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

READS = ("GetItem", "Query", "BatchGetItem", "Scan", "TransactGetItems")


class Counts:
    """Requests and consumed read capacity of every DynamoDB client created after `install`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: Counter[str] = Counter()
        self.rcu = 0.0
        self.rcu_billed = 0.0

    def install(self) -> None:
        handlers = botocore.handlers.BUILTIN_HANDLERS
        handlers.append(("provide-client-params.dynamodb", self._ask_capacity))
        handlers.append(("before-call.dynamodb", self._count))
        handlers.append(("after-call.dynamodb", self._capacity))

    def _ask_capacity(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name in READS:
            params.setdefault("ReturnConsumedCapacity", "TOTAL")

    def _count(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        table = json.loads(params.get("body") or b"{}").get("TableName", "")
        key = f"{model.name} {table.partition('_')[2]}" if table else model.name
        with self._lock:
            self.requests[key] += 1

    def _capacity(self, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name not in READS:
            return
        consumed = parsed.get("ConsumedCapacity") or {}
        entries = consumed if isinstance(consumed, list) else [consumed]
        units = sum(float(e.get("CapacityUnits", 0.0)) for e in entries)
        with self._lock:
            self.rcu += units
            self.rcu_billed += max(1.0, units)

    def snapshot(self) -> tuple[Counter[str], float, float]:
        with self._lock:
            return Counter(self.requests), self.rcu, self.rcu_billed


COUNTS = Counts()


def measure(seconds: float) -> dict[str, Any]:
    before, rcu_before, billed_before = COUNTS.snapshot()
    started = time.monotonic()
    time.sleep(seconds)  # the quantity measured is what happens during an idle interval
    elapsed = time.monotonic() - started
    after, rcu_after, billed_after = COUNTS.snapshot()
    per_second = {op: round((after[op] - before[op]) / elapsed, 1) for op in after}
    return {
        "requests_per_s": {op: v for op, v in sorted(per_second.items()) if v},
        "reads_per_s": round(sum(v for k, v in per_second.items() if _op(k) in READS), 1),
        "feed_reads_per_s": round(sum(v for k, v in per_second.items() if _feed_read(k)), 1),
        "rcu_reported_per_s": round((rcu_after - rcu_before) / elapsed, 1),
        "rcu_per_s": round((billed_after - billed_before) / elapsed, 1),
        "seconds": round(elapsed, 2),
    }


def _op(key: str) -> str:
    return key.partition(" ")[0]


def _feed_read(key: str) -> bool:
    """A read of the event store's feed or head (table `events`), not of a read model's."""
    return _op(key) in READS and key.endswith(" events")


@contextlib.contextmanager
def fresh_factory(endpoint: str) -> Iterator[DynamoDBFactory]:
    prefix = f"bench{uuid.uuid4().hex[:8]}_"
    factory = DynamoDBFactory({"DYNAMODB_ENDPOINT_URL": endpoint, "DYNAMODB_TABLE_PREFIX": prefix})
    try:
        yield factory
    finally:
        factory.delete_tables()
        factory.close()


def subscriptions(endpoint: str, count: int, settle: float, seconds: float) -> dict[str, Any]:
    with fresh_factory(endpoint) as factory:
        recorder = factory.application_recorder()
        assert isinstance(recorder, DynamoDBApplicationRecorder)
        recorder.create_table()
        oid = uuid.uuid4()
        recorder.insert_events([StoredEvent(oid, v, "bench", b"x") for v in range(1, 4)])
        head = recorder.max_notification_id() or 0
        subs = [recorder.subscribe(gt=head) for _ in range(count)]
        try:
            time.sleep(settle)
            result = measure(seconds)
        finally:
            for sub in subs:
                sub.stop()
    return {"scenario": f"subscriptions-{count}", "consumers": count, **result}


def serve_workers(endpoint: str, settle: float, seconds: float) -> dict[str, Any]:
    from fleetwatch.bootstrap import build_system
    from fleetwatch.settings import Settings

    prefix = f"bench{uuid.uuid4().hex[:8]}_"
    folder = tempfile.TemporaryDirectory()
    settings = Settings(
        store="dynamodb",
        dynamodb_endpoint_url=endpoint,
        dynamodb_table_prefix=prefix,
        sqlite_path=Path(folder.name) / "fleet.sqlite3",
    )
    system = build_system(settings)
    try:
        system.start()
        threads = len(system.groups) + sum(
            1 for n in system.workers if n not in {w for g in system.worker_groups for w in g}
        )
        time.sleep(settle)
        result = measure(seconds)
    finally:
        system.close()
        DynamoDBFactory(
            {"DYNAMODB_ENDPOINT_URL": endpoint, "DYNAMODB_TABLE_PREFIX": prefix}
        ).delete_tables()
        folder.cleanup()
    return {"scenario": "serve-workers", "consumers": threads, **result}


def table(results: list[dict[str, Any]]) -> str:
    header = f"{'scenario':<18} {'consumers':>9} {'reads/s':>8} {'feed':>6} {'RCU/s':>7}"
    lines = [f"{header} {'RCU/s each':>10}  requests/s (operation table)"]
    for r in results:
        each = r["rcu_per_s"] / max(1, r["consumers"])
        ops = ", ".join(f"{op} {v}" for op, v in r["requests_per_s"].items())
        lines.append(
            f"{r['scenario']:<18} {r['consumers']:>9} {r['reads_per_s']:>8}"
            f" {r['feed_reads_per_s']:>6} {r['rcu_per_s']:>7} {each:>10.2f}  {ops}"
        )
    return "\n".join(lines)


def run(endpoint: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    scenarios: list[Callable[[], dict[str, Any]]] = [
        functools.partial(subscriptions, endpoint, int(n), args.settle, args.seconds)
        for n in args.subscriptions.split(",")
        if n
    ]
    scenarios.append(lambda: serve_workers(endpoint, args.settle, args.seconds))
    return [scenario() for scenario in scenarios]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscriptions", default="1,10,100")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--settle", type=float, default=1.0)
    parser.add_argument("--endpoint", default=None)
    parser.add_argument("--json-only", action="store_true")
    args = parser.parse_args()
    COUNTS.install()
    with contextlib.ExitStack() as stack:
        endpoint = args.endpoint or stack.enter_context(dynamodb_local())
        results = run(endpoint, args)
    print(json.dumps({"bench": "idle_reads", "results": results}, indent=2))
    if not args.json_only:
        print()
        print(table(results))


if __name__ == "__main__":
    main()
