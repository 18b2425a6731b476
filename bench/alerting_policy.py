"""Alerting hot path, in memory: CPU per message of the policy and of the process manager.

    .venv/bin/python bench/alerting_policy.py [--devices 1000] [--rules 100] [--messages 3]
        [--rounds 5] [--profile] [--fired]

Workload (as `bench/ingest.py`): `--rules` threshold rules scoped to the devices' type, a third
on each of temperature, humidity and battery, none ever raising; `--devices` devices; each round
gives every device one batch of `--messages` messages of those 3 metrics, one second apart.

- `policy`: `AlertingPolicy.handle_readings` with the rules the `RuleIndex` picks (pure).
- `process`: `AlertingProcess.process_batch` over `Telemetry.BatchRecorded` envelopes (payload
  parsing, rule index, policy; no commands, so no I/O), 50 events per call as the worker does.
- `--fired`: before the warm-up, each device sends a message raising every rule, which the
  warm-up batch clears: every pair fired once (an explicit watch each) and is quiet again. The
  policy path only.

Prints one JSON document: microseconds per message and per (rule, batch) evaluation.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from eventsourcing.persistence import Tracking  # noqa: E402

from event_store.envelope import EventEnvelope  # noqa: E402
from projections.alerting import AlertingProcess  # noqa: E402
from projections.alerting_index import RuleIndex  # noqa: E402
from write_side.alert_rules import AlertRule, RuleDefinition, parse_rule_definition  # noqa: E402
from write_side.alerting_policy import AlertingPolicy, DeviceFacts  # noqa: E402
from write_side.telemetry import BatchEntry, Reading, TelemetryBatch  # noqa: E402

TENANT = "bench"
METRICS = ("temperature", "humidity", "battery")
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


def definition(i: int) -> RuleDefinition:
    metric = METRICS[i % 3]
    op, value = (">", 1000.0 + i) if metric != "battery" else ("<", -1.0 - i)
    return parse_rule_definition({
        "name": f"bench rule {i}", "scope": {"device_type": "bench"},
        "severity": ("info", "warning", "critical")[i % 3],
        "condition": {"kind": "threshold", "metric": metric, "op": op, "value": value},
        "hysteresis": 1.0,
    })  # fmt: skip


def batch(device: DeviceFacts, round_: int, messages: int) -> TelemetryBatch:
    entries = []
    for k in range(messages):
        sequence = round_ * messages + k
        at = T0 + timedelta(seconds=sequence)
        values = (20 + (sequence % 50) / 10, 45.5, float(100 - sequence % 100))
        readings = tuple(Reading(m, v, at) for m, v in zip(METRICS, values, strict=True))
        entries.append(BatchEntry(f"b{sequence}", at, readings))
    return TelemetryBatch(device.device_id, tuple(entries))


def envelope(kind: str, stream: uuid.UUID, payload: dict[str, Any], position: int) -> Any:
    return EventEnvelope(
        event_id=uuid.uuid4(), tenant_id=TENANT, stream_id=str(stream), version=position,
        type=kind, schema_version=1, occurred_at=T0, recorded_at=T0, actor="bench",
        correlation_id="c", causation_id=None, payload=payload, position=position,
    )  # fmt: skip


def run_policy(devices: list[DeviceFacts], index: RuleIndex, args: argparse.Namespace) -> float:
    policy = AlertingPolicy()
    batches = [[batch(d, r, args.messages) for d in devices] for r in range(args.rounds + 1)]
    for d, b in zip(devices, batches[0], strict=True):  # warm-up: create the watches
        if args.fired:  # every rule raises, then the warm-up batch clears it
            at = T0 - timedelta(seconds=1)
            extreme = zip(METRICS, (1e9, 1e9, -1e9), strict=True)
            readings = tuple(Reading(m, v, at) for m, v in extreme)
            hot = TelemetryBatch(d.device_id, (BatchEntry("hot", at, readings),))
            assert policy.handle_readings(index.rules_for(d, METRICS), d, hot)
        policy.handle_readings(index.rules_for(d, METRICS), d, b)
    started = time.perf_counter()
    for round_batches in batches[1:]:
        for d, b in zip(devices, round_batches, strict=True):
            if policy.handle_readings(index.rules_for(d, METRICS), d, b):
                raise AssertionError("a bench rule raised")
    return time.perf_counter() - started


def run_process(devices: list[DeviceFacts], rules: int, args: argparse.Namespace) -> float:
    process = AlertingProcess(cast(Any, None), cast(Any, None))
    position = 0

    def feed(envelopes: list[Any]) -> None:
        for start in range(0, len(envelopes), 50):
            part = envelopes[start : start + 50]
            process.process_batch(part, Tracking("bench", part[-1].position))

    facts = []
    for i in range(rules):
        position += 1
        rule = AlertRule.create(TENANT, definition(i))
        payload = {"tenant_id": TENANT, "definition": rule.definition.model_dump(mode="json")}
        facts.append(envelope("AlertRule.Created", rule.id, payload, position))
    for d in devices:
        position += 1
        payload = {"tenant_id": TENANT, "device_type": "bench", "tags": ["bench"]}
        facts.append(envelope("Device.Registered", d.device_id, payload, position))
    feed(facts)
    rounds = []
    for r in range(args.rounds + 1):
        envelopes = []
        for d in devices:
            position += 1
            payload = batch(d, r, args.messages).to_payload()
            payload |= {"received_at": T0.isoformat(), "transport": "mqtt"}
            envelopes.append(envelope("Telemetry.BatchRecorded", d.device_id, payload, position))
        rounds.append(envelopes)
    feed(rounds[0])  # warm-up: create the watches
    started = time.perf_counter()
    for envelopes in rounds[1:]:
        feed(envelopes)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--rules", type=int, default=100)
    parser.add_argument("--messages", type=int, default=3, help="messages per batch")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="cProfile the process path")
    parser.add_argument(
        "--fired",
        action="store_true",
        help="every (rule, device) pair raised and cleared once before (the policy path only)",
    )
    args = parser.parse_args()
    devices = [
        DeviceFacts(uuid.uuid4(), TENANT, "bench", frozenset({"bench"}))
        for _ in range(args.devices)
    ]
    index = RuleIndex()
    for d in devices:
        index.put_device(d)
    for i in range(args.rules):
        rule = AlertRule.create(TENANT, definition(i))
        index.put_rule(rule.current())
    messages = args.devices * args.rounds * args.messages
    evaluations = args.devices * args.rounds * args.rules
    result: dict[str, Any] = {"devices": args.devices, "rules": args.rules}
    result["messages_per_batch"] = args.messages
    result["fired"] = args.fired
    runs = [("policy", lambda: run_policy(devices, index, args))]
    if not args.fired:  # (the process would apply the alert commands: I/O)
        runs.append(("process", lambda: run_process(devices, args.rules, args)))
    for name, run in runs:
        if args.profile and name == "process":
            profiler = cProfile.Profile()
            profiler.enable()
            elapsed = run()
            profiler.disable()
            pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(25)
        else:
            elapsed = min(run() for _ in range(3))
        result[f"{name}_us_per_message"] = round(elapsed / messages * 1e6, 2)
        result[f"{name}_us_per_rule_evaluation"] = round(elapsed / evaluations * 1e6, 3)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
