"""Commits of one feed against DynamoDB's round trip (issue 15 item 5): how many telemetry
commits per second one feed takes when every request costs what it costs on AWS.

    .venv/bin/python bench/feed_latency.py [--latency 0,10,20] [--writers 1,8]
        [--streams 40] [--seconds 8] [--json-only]

DynamoDB Local answers in about a millisecond; AWS in-region in 5-20 ms. Each request the
event store makes is delayed by `--latency` ms at the boto3 boundary (botocore's `before-send`
event: the request then goes to DynamoDB Local as it is), which models the round trip, not
DynamoDB's own limits (those are in docs/event-store.md 6.4). For each latency and each number
of writer threads, the writers commit telemetry as ingestion does, `save_telemetry` of
`--streams` devices with one message each (each writer its own devices: they contend only for
the feed), for `--seconds`. The row with latency 0 is the baseline of the same run.

Reported per row: commits/s, messages/s, DynamoDB requests per commit, commit latency p50/p99,
and the ceiling a sequential commit chain allows, `1 / (requests per commit x latency)`.
Prints one JSON document, then a table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]


from bench.round_trip import RoundTrip, local_dynamodb  # noqa: E402
from event_store.envelope import EventMetadata  # noqa: E402
from fleetwatch.wiring import application_env, make_tables_made_on_first_use  # noqa: E402
from write_side.application import FleetApplication  # noqa: E402
from write_side.telemetry import BatchEntry, Reading  # noqa: E402
from write_side.telemetry_log import Telemetry  # noqa: E402

META = EventMetadata("bench", "device:bench")
MAX_STREAMS = 49  # a stream head and a commit item each, plus the feed's: 100 actions


def run(app: FleetApplication, writers: int, streams: int, seconds: float) -> dict[str, Any]:
    """`writers` threads committing `streams` devices' messages each until `seconds` pass."""
    durations: list[float] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def writer() -> None:
        devices = [Telemetry(tenant_id="bench", device_id=uuid.uuid4()) for _ in range(streams)]
        sequence = 0
        while time.monotonic() < stop:
            at = datetime.now(UTC)
            for device in devices:
                entry = BatchEntry(f"m{sequence}", at, (Reading("temperature", 20.0, at),))
                device.record([entry], at, "mqtt")
            sequence += 1
            started = time.perf_counter()
            app.save_telemetry(devices, META)  # any failure ends the bench
            with lock:
                durations.append(time.perf_counter() - started)

    threads = [threading.Thread(target=writer) for _ in range(writers)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    durations.sort()
    return {
        "commits": len(durations),
        "seconds": elapsed,
        "commits_per_s": len(durations) / elapsed,
        "messages_per_s": len(durations) * streams / elapsed,
        "p50_ms": 1000 * statistics.median(durations) if durations else None,
        "p99_ms": 1000 * durations[int(0.99 * (len(durations) - 1))] if durations else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", default="0,10,20", help="ms per request (comma separated)")
    parser.add_argument("--writers", default="1,8", help="writer threads (comma separated)")
    parser.add_argument("--streams", type=int, default=40, help="devices per commit")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--json-only", action="store_true")
    args = parser.parse_args()
    if not 1 <= args.streams <= MAX_STREAMS:
        parser.error(f"--streams: 1 to {MAX_STREAMS} (one transaction holds 100 actions)")
    latencies = [float(x) for x in args.latency.split(",")]
    writer_counts = [int(x) for x in args.writers.split(",")]
    rows = []
    with local_dynamodb() as settings:
        app = FleetApplication(env=application_env(settings))
        make_tables_made_on_first_use(app)
        requests = RoundTrip(app.factory.client)  # type: ignore[attr-defined]
        run(app, 1, args.streams, 1.0)  # warm up
        for latency in latencies:
            for writers in writer_counts:
                requests.reset(latency)
                row = run(app, writers, args.streams, args.seconds)
                per_commit = requests.count / max(row["commits"], 1)
                row |= {
                    "latency_ms": latency,
                    "writers": writers,
                    "streams_per_commit": args.streams,
                    "requests_per_commit": per_commit,
                    "chain_ceiling_commits_per_s": (
                        1000 / (per_commit * latency) if latency else None
                    ),
                }
                rows.append(row)
        app.close()
    print(json.dumps({"bench": "feed_latency", "rows": rows}, indent=1))
    if args.json_only:
        return
    print()
    print("| latency ms | writers | commits/s | messages/s | requests/commit | p50 ms | p99 ms "
          "| chain ceiling commits/s |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        ceiling = r["chain_ceiling_commits_per_s"]
        print(
            f"| {r['latency_ms']:.0f} | {r['writers']} | {r['commits_per_s']:.1f} "
            f"| {r['messages_per_s']:,.0f} | {r['requests_per_commit']:.2f} "
            f"| {r['p50_ms']:.1f} | {r['p99_ms']:.1f} "
            f"| {'-' if ceiling is None else f'{ceiling:.0f}'} |"
        )


if __name__ == "__main__":
    main()
