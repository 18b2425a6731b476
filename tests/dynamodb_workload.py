"""A writer process of the fault-injection workload (run by tests/integration/
test_dynamodb_fault_workload.py in several processes at once).

Each thread owns a few streams and appends to them one call at a time (1-3 events), through
the real DynamoDB recorder with faults injected at its boto3 client (each kind once, then at
random, seeded). It records what each call reported: the notification ids, or the error.
After an error the same versions are tried again, as an application reloading the aggregate
would: if the error was true, they are free. The parent process then holds the reports
against the store.
"""

from __future__ import annotations

import json
import random
import threading
import uuid
from dataclasses import replace
from typing import Any

from eventsourcing.persistence import StoredEvent

from event_store.dynamodb import DynamoDBApplicationRecorder, DynamoDBFactory
from tests.dynamodb_faults import KINDS, FaultInjector

STREAMS_PER_THREAD = 3


def run_writer(
    endpoint: str,
    prefix: str,
    seed: int,
    threads: int,
    appends: int,
    rates: dict[str, float],
    out_path: str,
) -> None:
    factory = DynamoDBFactory(
        {"DYNAMODB_ENDPOINT_URL": endpoint, "DYNAMODB_TABLE_PREFIX": prefix, "CREATE_TABLE": "n"}
    )
    factory.datastore.retry_policy = replace(
        factory.datastore.retry_policy,
        transient_base_delay=0.002,
        transient_max_delay=0.02,
        head_base_delay=0.001,
        head_max_delay=0.02,
    )
    recorder = factory.application_recorder()
    assert isinstance(recorder, DynamoDBApplicationRecorder)
    # Each kind once first (surely seen, whatever the draws), then at random.
    injector = FaultInjector(factory.client, rates=rates, seed=seed, carry=True)
    injector.then(*(kind for kind in KINDS if rates.get(kind)))
    reports: list[dict[str, Any]] = []
    lock = threading.Lock()
    start = threading.Barrier(threads)

    def write(index: int) -> None:
        rng = random.Random(seed * 1000 + index)
        streams = [uuid.uuid4() for _ in range(STREAMS_PER_THREAD)]
        next_version = dict.fromkeys(streams, 1)
        start.wait()
        for call in range(appends):
            oid = streams[call % len(streams)]
            first, count = next_version[oid], rng.randint(1, 3)
            events = [
                StoredEvent(oid, v, "Workload", f"{oid}/{v}".encode())
                for v in range(first, first + count)
            ]
            report: dict[str, Any] = {"stream": str(oid), "first": first, "count": count}
            try:
                ids = recorder.insert_events(events)
            except Exception as e:  # reported: the parent checks it against the store
                report["error"] = f"{type(e).__name__}: {e}"
            else:
                report["ids"] = list(ids or [])
                next_version[oid] = first + count
            with lock:
                reports.append(report)

    workers = [threading.Thread(target=write, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    injector.remove()
    factory.close()
    with open(out_path, "w", encoding="utf-8") as out:
        json.dump(
            {"reports": reports, "faults": dict(injector.counts), "calls": injector.calls}, out
        )
