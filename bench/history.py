"""Telemetry history latency on the embedded default (SQLite): pre-aggregated rollups versus
a scan of the raw readings, measured in the same run on the same data.

    .venv/bin/python bench/history.py [--days 30] [--repeat 20] [--json-only]

One device reports 3 metrics once a minute for `--days` days (43,200 messages for 30 days),
stored through the `Telemetry` aggregate in events of 500 messages and projected by the
telemetry projection. Then, per query, the median latency of `--repeat` runs of:

- rollup: `TelemetryReader.buckets` (the API's path; one index range over the rollup rows);
- raw scan: the same buckets computed from the raw readings by SQLite at query time
  (`GROUP BY at_ms / bucket`, one index range over the readings, aggregation in C), returned
  as the same `Bucket` objects;
- raw read: reading the raw readings of the range through `TelemetryReader.readings`
  (pages of 5,000), as a client computing its own buckets would.

Prints one JSON document, then a table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from event_store.envelope import EventMetadata  # noqa: E402
from fleetwatch.settings import Settings  # noqa: E402
from fleetwatch.wiring import application_env, open_read_model  # noqa: E402
from projections.batching import BatchingProjectionWorker  # noqa: E402
from projections.telemetry import TelemetryProjection  # noqa: E402
from read_side.telemetry import (  # noqa: E402
    BUCKET_SECONDS,
    Bucket,
    HistoryQuery,
    Resolution,
    epoch_ms,
    from_epoch_ms,
)
from write_side.application import FleetApplication  # noqa: E402
from write_side.telemetry import BatchEntry, Reading  # noqa: E402
from write_side.telemetry_log import Telemetry, telemetry_id  # noqa: E402

T0 = datetime(2026, 1, 1, tzinfo=UTC)
TENANT = "bench"
METRICS = ("temp", "hum", "volt")


def median_ms(fn: Callable[[], int], repeat: int) -> tuple[float, int]:
    times, size = [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        size = fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), size


def load(app: FleetApplication, device: uuid.UUID, days: int) -> int:
    meta = EventMetadata(TENANT, "system:bench")
    stream_id = telemetry_id(TENANT, device)
    minutes = days * 24 * 60
    for start in range(0, minutes, 500):
        stream = app.load_telemetry(stream_id) or Telemetry(tenant_id=TENANT, device_id=device)
        entries = []
        for minute in range(start, min(start + 500, minutes)):
            at = T0 + timedelta(minutes=minute)
            values = (20 + minute % 7, 40 + minute % 11, 3.3 + (minute % 5) / 10)
            readings = tuple(Reading(m, float(v), at) for m, v in zip(METRICS, values, strict=True))
            entries.append(BatchEntry(f"m{minute}", at, readings))
        stream.record(entries, at, "http")
        app.save_telemetry([stream], meta)
    return minutes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--json-only", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(store="sqlite", sqlite_path=Path(tmp) / "bench.sqlite3")
        app = FleetApplication(env=application_env(settings))
        view, reader = open_read_model(app, settings, "telemetry")
        device = uuid.uuid4()
        started = time.perf_counter()
        messages = load(app, device, args.days)
        stored = time.perf_counter() - started
        worker = BatchingProjectionWorker(
            TelemetryProjection(view),
            checkpoints=view,
            recorder=app.recorder,
            mapper=app.envelope_mapper,
            upstream_name=app.name,
        )
        started = time.perf_counter()
        worker.catch_up()
        projected = time.perf_counter() - started
        end = T0 + timedelta(days=args.days)
        cases = [
            ("1h over the whole range", Resolution.HOUR, T0, end),
            ("1d over the whole range", Resolution.DAY, T0, end),
            ("1m over one day", Resolution.MINUTE, end - timedelta(days=1), end),
        ]
        results: list[dict[str, Any]] = []
        for label, resolution, start, stop in cases:
            query = HistoryQuery(device, "temp", start, stop, resolution, first=5000)

            def rollup(query: HistoryQuery = query) -> int:
                return len(reader.buckets(TENANT, query).items)

            def raw_scan(resolution: Resolution = resolution, start: datetime = start,
                         stop: datetime = stop) -> int:  # fmt: skip
                seconds = BUCKET_SECONDS[resolution]
                size = seconds * 1000
                with view.datastore.transaction(commit=False) as c:
                    c.execute(
                        "SELECT at_ms / ? * ?, min(value), max(value), sum(value), count(*) "
                        "FROM telemetry_readings WHERE tenant_id = ? AND device_id = ? "
                        "AND metric = 'temp' AND at_ms >= ? AND at_ms < ? GROUP BY at_ms / ? "
                        "ORDER BY 1",
                        (size, seconds, TENANT, device.hex, epoch_ms(start), epoch_ms(stop), size),
                    )
                    rows = c.fetchall()
                # The same objects the rollup path returns, so both answer the same thing.
                buckets = [Bucket(from_epoch_ms(r[0] * 1000), seconds, *r[1:]) for r in rows]
                return len(buckets)

            def raw_read(start: datetime = start, stop: datetime = stop) -> int:
                count, after = 0, None
                while True:
                    q = HistoryQuery(device, "temp", start, stop, Resolution.RAW, 5000, after)
                    page = reader.readings(TENANT, q)
                    count += len(page.items)
                    if page.next_cursor is None:
                        return count
                    after = page.next_cursor

            row: dict[str, Any] = {"query": label}
            for name, fn in (("rollup", rollup), ("raw_scan", raw_scan), ("raw_read", raw_read)):
                ms, size = median_ms(fn, args.repeat)
                row[f"{name}_ms"] = round(ms, 3)
                row[f"{name}_rows"] = size
            row["speedup_vs_raw_scan"] = round(row["raw_scan_ms"] / row["rollup_ms"], 1)
            results.append(row)
        app.close()
    document = {
        "store": "sqlite",
        "device_messages": messages,
        "readings": messages * len(METRICS),
        "store_seconds": round(stored, 2),
        "projection_seconds": round(projected, 2),
        "projection_readings_per_s": round(messages * len(METRICS) / projected),
        "repeat": args.repeat,
        "results": results,
    }
    print(json.dumps(document, indent=2))
    if not args.json_only:
        print()
        header = f"{'query':<26}{'rollup ms':>11}{'raw scan ms':>13}{'raw read ms':>13}{'x':>7}"
        print(header)
        for r in results:
            print(
                f"{r['query']:<26}{r['rollup_ms']:>11.3f}{r['raw_scan_ms']:>13.3f}"
                f"{r['raw_read_ms']:>13.3f}{r['speedup_vs_raw_scan']:>7.1f}"
            )


if __name__ == "__main__":
    main()
