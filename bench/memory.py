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
  rule; per (rule, device) pair = the difference over `(rules - 1) x devices` (a quiet pair,
  held without a watch; the rules and the lists of them given are made before measuring), per
  device = the one-rule figure minus one pair (its window of recent ids, `RecentIds`, its facts
  and its quiet pairs' states). Once more with every pair having raised and cleared once
  (the first message of each device raises every rule, the next clears it): per fired pair =
  that difference over `rules x devices` plus a quiet pair (an explicit watch each).

The projection for 100,000 devices x 100 rules counts the streams the ingestion process keeps
(`FLEETWATCH_INGEST_CACHED_STREAMS`, default 20,000), not one per device.

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
from ingestion.settings import IngestSettings  # noqa: E402
from projections.alerting_index import RuleIndex  # noqa: E402
from write_side.alert_rules import AlertRule, RuleVersion  # noqa: E402
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


Fleet = tuple[list[DeviceFacts], dict[uuid.UUID, list[RuleVersion]]]


def fleet(devices: int, rules: int) -> Fleet:
    """The devices and the rules each is given (made before measuring: not the policy's)."""
    index = RuleIndex()
    facts = [DeviceFacts(uuid.UUID(int=d + 1), TENANT, "bench", frozenset({"bench"}))
             for d in range(devices)]  # fmt: skip
    for d in facts:
        index.put_device(d)
    for i in range(rules):
        index.put_rule(AlertRule.create(TENANT, definition(i)).current())
    return facts, {d.device_id: index.rules_for(d, METRICS) for d in facts}


def policy(given: Fleet, messages: int, fired: bool = False) -> AlertingPolicy:
    facts, chosen = given
    built = AlertingPolicy()
    for start in range(0, messages, 10):
        for n, d in enumerate(facts):
            entries = []
            for k in range(start, min(start + 10, messages)):
                at = T0 + timedelta(seconds=k)
                values = (1e9, 1e9, -1e9) if fired and k == 0 else (20.0, 45.5, 90.0)
                readings = tuple(Reading(m, v, at) for m, v in zip(METRICS, values, strict=True))
                entries.append(BatchEntry(message_id(n, k), at, readings))
            raised = built.handle_readings(
                chosen[d.device_id], d, TelemetryBatch(d.device_id, tuple(entries))
            )
            if raised and not (fired and start == 0):
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
    many_rules, one_rule = fleet(n, args.rules), fleet(n, 1)
    _, many = measured(lambda: policy(many_rules, m))
    _, one = measured(lambda: policy(one_rule, m))
    _, fired = measured(lambda: policy(many_rules, m, fired=True))
    pair = (many - one) / ((args.rules - 1) * n) if args.rules > 1 else 0.0
    fired_pair = (fired - many) / (args.rules * n) + pair
    result = {
        "devices": n, "messages_per_device": m, "rules": args.rules,
        "interval_s": args.interval, "window_ids": window,
        "baseline_plain_set_of_ids_bytes_per_device": round(plain / n),
        "telemetry_stream_bytes_per_device": round(stream_bytes / n),
        "alerting_bytes_per_rule_device_pair": round(pair),
        "alerting_bytes_per_fired_pair": round(fired_pair),
        "alerting_bytes_per_device_besides_pairs": round(one / n - pair),
        "alerting_total_mib": round(many / 2**20, 1),
    }  # fmt: skip
    print(json.dumps(result, indent=2))
    if args.json_only:
        return
    cached = min(100_000, IngestSettings().ingest_cached_streams)
    fixed = (
        result["telemetry_stream_bytes_per_device"] * cached
        + result["alerting_bytes_per_device_besides_pairs"] * 100_000
    )
    rows = [
        ("a set of the window's ids (baseline), per device",
         "baseline_plain_set_of_ids_bytes_per_device"),
        ("Telemetry stream, per device", "telemetry_stream_bytes_per_device"),
        ("alerting policy, per device (ids, facts)", "alerting_bytes_per_device_besides_pairs"),
        ("alerting policy, per quiet (rule, device) pair", "alerting_bytes_per_rule_device_pair"),
        ("alerting policy, per pair that fired once", "alerting_bytes_per_fired_pair"),
    ]  # fmt: skip
    print(f"\n{n:,} devices, {m:,} messages each, {args.rules} rules")
    for label, key in rows:
        print(f"{label:<50} {result[key]:>10,} bytes")
    print(f"100,000 devices x 100 rules, {cached:,} cached streams, projected:")
    for share in (0.0, 0.1, 1.0):
        per_pair = (1 - share) * result["alerting_bytes_per_rule_device_pair"] + share * result[
            "alerting_bytes_per_fired_pair"
        ]
        projected = (fixed + per_pair * 100 * 100_000) / 2**30
        label = f"  {share:.0%} of the pairs fired once"
        print(f"{label:<50} {projected:>10.2f} GiB")


if __name__ == "__main__":
    main()
