"""Appends from three processes with faults at random, against one DynamoDB Local feed.

Each process runs `tests.dynamodb_workload.run_writer`: three threads appending to their own
streams through the real recorder, with timeouts after commit, 500s after commit, throttling,
timeouts before sending and TransactionConflicts on the feed head injected at its boto3 client
(each kind once, then at random with a fixed seed per process, about 16 % of the
transactions). Then every call's reported outcome is held against what the store holds: the
feed is gap-free, nothing is stored twice, every reported id holds the events of its call,
and nothing is stored that no call reported stored.
"""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path
from typing import Any

import pytest

from event_store.dynamodb import DynamoDBApplicationRecorder, DynamoDBFactory
from tests.dynamodb_workload import run_writer

pytestmark = pytest.mark.dynamodb

PROCESSES = 3
THREADS = 3
APPENDS_PER_THREAD = 60
RATES = {
    "timeout_after_commit": 0.04,
    "error_500_after_commit": 0.02,
    "throttle": 0.04,
    "head_conflict": 0.04,
    "timeout_before": 0.01,
    "error_500_before": 0.01,
}


def test_every_reported_outcome_matches_the_store(
    dynamodb_endpoint: str, table_prefix: str, tmp_path: Path
) -> None:
    factory = DynamoDBFactory(
        {"DYNAMODB_ENDPOINT_URL": dynamodb_endpoint, "DYNAMODB_TABLE_PREFIX": table_prefix}
    )
    try:
        recorder = factory.application_recorder()  # creates the tables
        assert isinstance(recorder, DynamoDBApplicationRecorder)
        spawn = multiprocessing.get_context("spawn")
        outputs = [tmp_path / f"writer-{i}.json" for i in range(PROCESSES)]
        writers = [
            spawn.Process(
                target=run_writer,
                args=(
                    dynamodb_endpoint,
                    table_prefix,
                    1000 + i,
                    THREADS,
                    APPENDS_PER_THREAD,
                    RATES,
                    str(out),
                ),
            )
            for i, out in enumerate(outputs)
        ]
        for writer in writers:
            writer.start()
        for writer in writers:
            writer.join(240)
            assert writer.exitcode == 0, f"a writer process failed ({writer.exitcode})"
        results = [json.loads(out.read_text()) for out in outputs]
        feed = [
            (n.id, str(n.originator_id), n.originator_version, n.state)
            for n in recorder.select_notifications(None, 100_000)
        ]
        summary = check(results, feed)
        streams = {stream for _, stream, _, _ in feed}
        for stream in streams:  # the streams agree with the feed
            versions = [e.originator_version for e in recorder.select_events(stream)]
            assert versions == list(range(1, len(versions) + 1))
        print(json.dumps(summary))  # the counts, for `pytest -s`
    finally:
        factory.delete_tables()
        factory.close()


def check(results: list[dict[str, Any]], feed: list[tuple[int, str, int, bytes]]) -> dict[str, Any]:
    reports = [report for result in results for report in result["reports"]]
    assert len(reports) == PROCESSES * THREADS * APPENDS_PER_THREAD

    # Gap-free, nothing twice.
    assert [i for i, _, _, _ in feed] == list(range(1, len(feed) + 1))
    pairs = [(stream, version) for _, stream, version, _ in feed]
    assert len(set(pairs)) == len(pairs), "an event was stored twice"

    # Every reported success: its ids hold exactly its events.
    by_id = {i: (stream, version, state) for i, stream, version, state in feed}
    reported: set[tuple[str, int]] = set()
    for report in reports:
        if "ids" not in report:
            continue
        versions = range(report["first"], report["first"] + report["count"])
        assert len(report["ids"]) == report["count"]
        for i, version in zip(report["ids"], versions, strict=True):
            stream = report["stream"]
            assert by_id[i] == (stream, version, f"{stream}/{version}".encode())
            reported.add((stream, version))

    # Nothing stored that no call reported stored (an error's events were really not stored).
    assert set(pairs) == reported

    # Each stream's events are in the feed in version order.
    last: dict[str, tuple[int, int]] = {}
    for i, stream, version, _ in feed:
        if stream in last:
            assert last[stream][0] < i
            assert last[stream][1] == version - 1
        last[stream] = (i, version)

    faults: dict[str, int] = {}
    for result in results:
        for kind, count in result["faults"].items():
            faults[kind] = faults.get(kind, 0) + count
    errors = [report["error"] for report in reports if "error" in report]
    summary = {
        "calls": len(reports),
        "events": len(feed),
        "transactions": sum(result["calls"] for result in results),
        "faults": faults,
        "errors": errors,
    }
    # The faults are transient and bounded: every call gets through (within its retries).
    assert not errors, summary
    assert all(faults.get(kind, 0) > 0 for kind in RATES), summary
    return summary
