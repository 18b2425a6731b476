"""Event-store append throughput, next to the raw write ceiling measured in the same run.

    .venv/bin/python bench/event_store.py [--events 3000] [--batch 100] [--json-only]

For each store (SQLite file; DynamoDB Local, started here) it measures events/s for
single-event appends (one `insert_events` call per event, each to a new stream, as a command on
a new aggregate does), the same from 8 threads at once, and batched appends (`--batch` events
per call); and the raw ceiling of the same storage written the plain way, one row or item per
event (the raw ceilings are single-threaded): `sqlite3.executemany` in one transaction; boto3
`BatchWriteItem` (25 items per call) and `TransactWriteItems` (25 items per call). Prints one
JSON document, then a table.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]

from dynamodb_local import dynamodb_local  # noqa: E402
from eventsourcing.persistence import ApplicationRecorder, InfrastructureFactory, StoredEvent  # noqa: E402
from eventsourcing.utils import Environment  # noqa: E402

STATE = b'{"name":"pump 17","device_type":"pump","tags":["north","b2"],"metadata":{"site":"lyon"}}'
TOPIC = "write_side.devices:Device.Registered"
WRITERS = 8


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def timed(fn: Callable[[], int]) -> tuple[int, float]:
    started = time.perf_counter()
    count = fn()
    return count, time.perf_counter() - started


def events(stream: uuid.UUID, count: int) -> list[StoredEvent]:
    return [StoredEvent(stream, version, TOPIC, STATE) for version in range(1, count + 1)]


def bench_recorder(recorder: ApplicationRecorder, total: int, batch: int) -> dict[str, float]:
    singles = max(total // 4, 100)

    def single() -> int:
        for _ in range(singles):
            recorder.insert_events(events(uuid.uuid4(), 1))
        return singles

    def batched() -> int:
        calls = max(total // batch, 1)
        for _ in range(calls):
            recorder.insert_events(events(uuid.uuid4(), batch))
        return calls * batch

    def concurrent_singles() -> int:  # 8 writers, one event per call (group commit applies)
        with ThreadPoolExecutor(max_workers=WRITERS) as pool:
            list(
                pool.map(lambda _: recorder.insert_events(events(uuid.uuid4(), 1)), range(singles))
            )
        return singles

    recorder.insert_events(events(uuid.uuid4(), 10))  # warm up
    return {
        "single_append_events_per_s": rate(*timed(single)),
        "concurrent_single_append_events_per_s": rate(*timed(concurrent_singles)),
        "batch_append_events_per_s": rate(*timed(batched)),
    }


def recorder_for(env: dict[str, str]) -> tuple[InfrastructureFactory[Any], ApplicationRecorder]:
    factory = InfrastructureFactory.construct(Environment("Bench", env))
    return factory, factory.application_recorder()


def sqlite_ceiling(path: str, total: int) -> dict[str, float]:
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute(
        "CREATE TABLE raw (originator_id TEXT, originator_version INTEGER, topic TEXT, "
        "state BLOB, PRIMARY KEY (originator_id, originator_version))"
    )
    rows = [(uuid.uuid4().hex, 1, TOPIC, STATE) for _ in range(total)]

    def write() -> int:
        with connection:
            connection.executemany("INSERT INTO raw VALUES (?,?,?,?)", rows)
        return total

    def write_one_by_one() -> int:
        singles = max(total // 4, 100)
        for _ in range(singles):
            with connection:
                connection.execute(
                    "INSERT INTO raw VALUES (?,?,?,?)", (uuid.uuid4().hex, 1, TOPIC, STATE)
                )
        return singles

    result = {
        "ceiling_single_commit_rows_per_s": rate(*timed(write_one_by_one)),
        "ceiling_executemany_rows_per_s": rate(*timed(write)),
    }
    connection.close()
    return result


def bench_sqlite(total: int, batch: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        factory, recorder = recorder_for(
            {"PERSISTENCE_MODULE": "event_store.sqlite", "SQLITE_DBNAME": f"{tmp}/es.sqlite3"}
        )
        figures = bench_recorder(recorder, total, batch)
        factory.close()
        ceiling = sqlite_ceiling(f"{tmp}/raw.sqlite3", total)
    return {"store": "sqlite", **figures, **ceiling}


def dynamodb_item(pk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"N": "1"}, "t": {"S": TOPIC}, "d": {"B": STATE}}


def dynamodb_ceilings(client: Any, total: int) -> dict[str, float]:
    table = f"raw{uuid.uuid4().hex[:8]}"
    client.create_table(
        TableName=table,
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    client.get_waiter("table_exists").wait(TableName=table)

    def batch_write() -> int:
        for start in range(0, total, 25):
            requests = [
                {"PutRequest": {"Item": dynamodb_item(uuid.uuid4().hex)}}
                for _ in range(min(25, total - start))
            ]
            pending: dict[str, Any] = {table: requests}
            while pending:
                pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems", {})
        return total

    def transact_write() -> int:
        for start in range(0, total, 25):
            client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": table,
                            "Item": dynamodb_item(uuid.uuid4().hex),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    }
                    for _ in range(min(25, total - start))
                ]
            )
        return total

    def single_put() -> int:
        singles = max(total // 4, 100)
        for _ in range(singles):
            client.put_item(
                TableName=table,
                Item=dynamodb_item(uuid.uuid4().hex),
                ConditionExpression="attribute_not_exists(pk)",
            )
        return singles

    return {
        "ceiling_conditional_put_items_per_s": rate(*timed(single_put)),
        "ceiling_batch_write_items_per_s": rate(*timed(batch_write)),
        "ceiling_transact_write25_items_per_s": rate(*timed(transact_write)),
    }


@contextmanager
def dynamodb_endpoint() -> Iterator[str]:
    url = os.environ.get("FLEETWATCH_BENCH_DYNAMODB_URL")
    if url:
        yield url
        return
    with dynamodb_local() as started:
        yield started


def bench_dynamodb(total: int, batch: int) -> dict[str, Any]:
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    with dynamodb_endpoint() as url:
        factory, recorder = recorder_for(
            {
                "PERSISTENCE_MODULE": "event_store.dynamodb",
                "DYNAMODB_ENDPOINT_URL": url,
                "DYNAMODB_REGION": "us-east-1",
                "DYNAMODB_TABLE_PREFIX": f"bench{uuid.uuid4().hex[:6]}_",
            }
        )
        figures = bench_recorder(recorder, total, batch)
        ceilings = dynamodb_ceilings(factory.client, total)  # type: ignore[attr-defined]
        factory.close()
    return {"store": "dynamodb-local", **figures, **ceilings}


BASELINES = {
    # measure -> the raw write it is compared with (same storage, same run)
    "single_append_events_per_s": (
        "ceiling_single_commit_rows_per_s",
        "ceiling_conditional_put_items_per_s",
    ),
    "concurrent_single_append_events_per_s": (
        "ceiling_single_commit_rows_per_s",
        "ceiling_conditional_put_items_per_s",
    ),
    "batch_append_events_per_s": (
        "ceiling_executemany_rows_per_s",
        "ceiling_batch_write_items_per_s",
        "ceiling_transact_write25_items_per_s",
    ),
}


def add_ratios(result: dict[str, Any]) -> None:
    for measure, baselines in BASELINES.items():
        for baseline in baselines:
            if measure in result and baseline in result:
                result[f"{measure}/{baseline}"] = round(result[measure] / result[baseline], 3)


def table(results: list[dict[str, Any]]) -> str:
    lines = [f"{'store':<16}{'measure':<42}{'per second':>12}  compared with the raw write"]
    for result in results:
        for measure, baselines in BASELINES.items():
            ratios = ", ".join(
                f"{result[f'{measure}/{b}']:.2f}x {b.removeprefix('ceiling_')}"
                for b in baselines
                if f"{measure}/{b}" in result
            )
            lines.append(f"{result['store']:<16}{measure:<42}{result[measure]:>12,.0f}  {ratios}")
        for key, value in result.items():
            if key.startswith("ceiling_") and "/" not in key:
                lines.append(f"{result['store']:<16}{key:<42}{value:>12,.0f}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--only", choices=["sqlite", "dynamodb"])
    args = parser.parse_args()
    results = []
    if args.only in (None, "sqlite"):
        results.append(bench_sqlite(args.events, args.batch))
    if args.only in (None, "dynamodb"):
        results.append(bench_dynamodb(args.events, args.batch))
    for result in results:
        for key, value in result.items():
            if isinstance(value, float):
                result[key] = round(value, 1)
        add_ratios(result)
    document = {"benchmark": "event_store", "events": args.events, "batch": args.batch}
    print(json.dumps({**document, "results": results}, indent=2))
    print()
    print(table(results))


if __name__ == "__main__":
    main()
