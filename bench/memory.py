"""Memory per device (issue 14): what the write side and the alerting policy keep for each
device once its windows are full, measured with tracemalloc (Python's own allocations).

    .venv/bin/python bench/memory.py [--devices 500] [--messages 1100] [--rules 100]
                                     [--interval 1] [--json-only]

- `telemetry_stream`: a device's `Telemetry` aggregate (as the ingestion handler caches it)
  after `--messages` messages `--interval` seconds apart (device time), one per batch as a
  fleet sends them (a window of the ids of the last 1,024 messages and of the last 300 s of
  device time, and each batch's newest device time): bytes per device, over `--devices`;
  `window_ids` is what the window kept.
- `alerting`: the `AlertingPolicy` after every device sent `--messages` messages (batches of
  10) with `--rules` threshold rules scoped to all of them (none raising), and again with one
  rule; per (rule, device) pair = the difference over `(rules - 1) x devices`, per device = the
  one-rule figure minus one pair (its window of recent ids, `RecentIds`, and its facts).

Baseline, same run: the same message ids as a plain `set` of strings per device (the least a
window of that many ids can take in Python). Prints one JSON document, then a table.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import tracemalloc
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from bench.alerting_policy import METRICS, TENANT, definition  # noqa: E402
from projections.alerting_index import RuleIndex  # noqa: E402
from write_side.alert_rules import AlertRule  # noqa: E402
from write_side.alerting_policy import AlertingPolicy, DeviceFacts  # noqa: E402
from write_side.telemetry import BatchEntry, Reading, TelemetryBatch  # noqa: E402
from write_side.telemetry_log import Telemetry  # noqa: E402
from write_side.telemetry_window import (  # noqa: E402
    DEDUP_WINDOW,
    DEDUP_WINDOW_SECONDS,
    digest,
)

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)


def measured(build: Callable[[], Any]) -> tuple[Any, int]:
    """What `build` returns and the bytes it still holds (tracemalloc, after a collection)."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    built = build()
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return built, held


def message_id(device: int, k: int) -> str:
    return f"{device:08x}-{k:012d}"  # the length of a typical client id: 21 characters


def streams(devices: int, messages: int, interval: float) -> list[Telemetry]:
    built = []
    for d in range(devices):
        stream = Telemetry(tenant_id=TENANT, device_id=uuid.UUID(int=d + 1))
        for k in range(messages):
            at = T0 + timedelta(seconds=k * interval)
            entry = BatchEntry(message_id(d, k), at, (Reading("temperature", 20.0, at),))
            stream.record([entry], at, "mqtt")
        stream.collect_events()  # saved: the pending events go
        built.append(stream)
    digest.cache_clear()  # process-wide and bounded (4,096 ids, about 1 MB): not per device
    return built


def policy(devices: int, messages: int, rules: int) -> AlertingPolicy:
    index = RuleIndex()
    facts = [DeviceFacts(uuid.UUID(int=d + 1), TENANT, "bench", frozenset({"bench"}))
             for d in range(devices)]  # fmt: skip
    for d in facts:
        index.put_device(d)
    for i in range(rules):
        index.put_rule(AlertRule.create(TENANT, definition(i)).current())
    chosen = {d.device_id: index.rules_for(d, METRICS) for d in facts}
    built = AlertingPolicy()
    for start in range(0, messages, 10):
        for n, d in enumerate(facts):
            entries = []
            for k in range(start, min(start + 10, messages)):
                at = T0 + timedelta(seconds=k)
                values = (20.0, 45.5, 90.0)
                readings = tuple(Reading(m, v, at) for m, v in zip(METRICS, values, strict=True))
                entries.append(BatchEntry(message_id(n, k), at, readings))
            if built.handle_readings(
                chosen[d.device_id], d, TelemetryBatch(d.device_id, tuple(entries))
            ):
                raise AssertionError("a bench rule raised")
    return built


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=500)
    parser.add_argument("--messages", type=int, default=1100)
    parser.add_argument("--rules", type=int, default=100)
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between messages")
    parser.add_argument("--json-only", action="store_true")
    args = parser.parse_args()
    n, m = args.devices, args.messages
    built, stream_bytes = measured(lambda: streams(n, m, args.interval))
    window = len(built[0].window)
    assert window == min(m, DEDUP_WINDOW, int(DEDUP_WINDOW_SECONDS / args.interval) + 1)
    del built
    _, plain = measured(
        lambda: [{message_id(d, k) for k in range(m - window, m)} for d in range(n)]
    )
    _, many = measured(lambda: policy(n, m, args.rules))
    _, one = measured(lambda: policy(n, m, 1))
    pair = (many - one) / ((args.rules - 1) * n) if args.rules > 1 else 0.0
    result = {
        "devices": n, "messages_per_device": m, "rules": args.rules,
        "interval_s": args.interval, "window_ids": window,
        "baseline_plain_set_of_ids_bytes_per_device": round(plain / n),
        "telemetry_stream_bytes_per_device": round(stream_bytes / n),
        "alerting_bytes_per_rule_device_pair": round(pair),
        "alerting_bytes_per_device_besides_pairs": round(one / n - pair),
        "alerting_total_mib": round(many / 2**20, 1),
    }  # fmt: skip
    print(json.dumps(result, indent=2))
    if args.json_only:
        return
    per_device = (
        result["telemetry_stream_bytes_per_device"]
        + result["alerting_bytes_per_device_besides_pairs"]
    )
    pairs = result["alerting_bytes_per_rule_device_pair"] * 100 * 100_000
    rows = [
        ("a set of the window's ids (baseline), per device",
         "baseline_plain_set_of_ids_bytes_per_device"),
        ("Telemetry stream, per device", "telemetry_stream_bytes_per_device"),
        ("alerting policy, per device (ids, facts)", "alerting_bytes_per_device_besides_pairs"),
        ("alerting policy, per (rule, device) pair", "alerting_bytes_per_rule_device_pair"),
    ]  # fmt: skip
    print(f"\n{n:,} devices, {m:,} messages each, {args.rules} rules")
    for label, key in rows:
        print(f"{label:<50} {result[key]:>10,} bytes")
    projected = (per_device * 100_000 + pairs) / 2**30
    print(f"{'100,000 devices x 100 rules, projected':<50} {projected:>10.1f} GiB")


if __name__ == "__main__":
    main()
