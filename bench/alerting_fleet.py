"""Resident memory of the alerting process manager's state at fleet size (issue 14): 100,000
devices x 100 fleet-wide rules in one process, measured rather than projected from a small run.

    .venv/bin/python bench/alerting_fleet.py [--devices 100000] [--rules 100] [--messages 3]
        [--fired 0.1] [--json-only]

Rules as `bench/alerting_policy.py` (threshold rules on three metrics, every device in scope).
The `RuleIndex` and the `AlertingPolicy` as the manager keeps them: every device registered,
then each sends `--messages` messages, one per batch as a fleet sends them, in rounds. For a
`--fired` share of the devices the first message raises every rule and the second clears it
(every pair of those devices fired once); the others never raise.

Resident memory (`/proc/self/statm`, after a collection) once the rules are made (the baseline,
same run) and after the last round; the difference per device and per (rule, device) pair. Also
the policy's CPU per message in the last round. Prints one JSON document, then a table.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from bench.alerting_policy import METRICS, T0, TENANT, definition  # noqa: E402
from projections.alerting_index import RuleIndex  # noqa: E402
from write_side.alert_rules import AlertRule  # noqa: E402
from write_side.alerting_policy import AlertingPolicy, DeviceFacts  # noqa: E402
from write_side.telemetry import BatchEntry, Reading, TelemetryBatch  # noqa: E402


def resident_mib() -> float:
    gc.collect()
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def batch(device: DeviceFacts, n: int, hot: bool, message: int) -> TelemetryBatch:
    at = T0 + timedelta(seconds=message)
    if hot and message == 0:
        values: tuple[float, ...] = (1e9, 1e9, -1e9)  # raises every rule
    else:
        values = (20.0 + message % 5, 45.5, 90.0)
    readings = tuple(Reading(m, v, at) for m, v in zip(METRICS, values, strict=True))
    return TelemetryBatch(device.device_id, (BatchEntry(f"{n:08x}-{message}", at, readings),))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=100_000)
    parser.add_argument("--rules", type=int, default=100)
    parser.add_argument("--messages", type=int, default=3)
    parser.add_argument("--fired", type=float, default=0.1, help="share of the devices")
    parser.add_argument("--json-only", action="store_true")
    args = parser.parse_args()
    index = RuleIndex()
    for i in range(args.rules):
        index.put_rule(AlertRule.create(TENANT, definition(i)).current())
    baseline = resident_mib()
    policy = AlertingPolicy()
    devices = [
        DeviceFacts(uuid.UUID(int=n + 1), TENANT, "bench", frozenset({"bench"}))
        for n in range(args.devices)
    ]
    for device in devices:
        index.put_device(device)
    hot_until = round(args.devices * args.fired)
    opened = 0
    elapsed = 0.0
    for message in range(args.messages):
        batches = [batch(d, n, n < hot_until, message) for n, d in enumerate(devices)]
        started = time.process_time()
        for device, given in zip(devices, batches, strict=True):
            opened += len(policy.handle_readings(index.rules_for(device, METRICS), device, given))
        elapsed = time.process_time() - started
        del batches
    after = resident_mib()
    pairs = args.devices * args.rules
    result: dict[str, Any] = {
        "devices": args.devices, "rules": args.rules, "messages_per_device": args.messages,
        "fired_share": args.fired, "commands": opened, "pairs": len(policy.watches),
        "rss_baseline_mib": round(baseline, 1), "rss_after_mib": round(after, 1),
        "state_mib": round(after - baseline, 1),
        "bytes_per_device": round((after - baseline) * 2**20 / args.devices),
        "bytes_per_pair": round((after - baseline) * 2**20 / pairs, 1),
        "policy_us_per_message_last_round": round(elapsed / args.devices * 1e6, 1),
    }  # fmt: skip
    print(json.dumps(result))
    if args.json_only:
        return
    print(f"\n{args.devices:,} devices x {args.rules} rules, {args.fired:.0%} of them fired once")
    for label, key in (
        ("resident, rules made (baseline)", "rss_baseline_mib"),
        ("resident, after every device sent", "rss_after_mib"),
        ("the manager's state", "state_mib"),
    ):
        print(f"{label:<45} {result[key]:>10,.1f} MiB")
    print(f"{'per device':<45} {result['bytes_per_device']:>10,} bytes")
    print(f"{'per (rule, device) pair':<45} {result['bytes_per_pair']:>10,.1f} bytes")
    cpu = result["policy_us_per_message_last_round"]
    print(f"{'policy CPU per message, last round':<45} {cpu:>10,.1f} us")


if __name__ == "__main__":
    main()
