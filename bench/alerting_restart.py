"""Restart of the alerting process manager (issue 14): from its snapshot against from the feed.

    .venv/bin/python bench/alerting_restart.py [--events 100000,1000000] [--devices 1000]
        [--rules 100] [--tail 5000] [--watch-devices 10000] [--json-only]

For each feed length: `--devices` devices and `--rules` threshold rules (three metrics, all
devices in scope, none raising) on a fresh SQLite store; telemetry events (one message per
batch event, devices in turn) written straight to the event store; the manager catches up and
snapshots; `--tail` more events are decided after the snapshot and the checkpoint recorded
after them. Then two managers restart (`rebuild_state`, up to that checkpoint):
- `snapshot`: restores the snapshot and decides the tail again (effects discarded);
- `feed` (the baseline, same run, as before snapshots): rule, device and alert events from
  position 0 (SQLite filters the topics), evaluation state lost.
Also the snapshot of a policy of `--watch-devices` devices x `--rules` rules (captured, restored:
time, bytes, peak Python memory) without the store.

Prints one JSON document, then a table.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import tracemalloc
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from bench.alerting_policy import METRICS, TENANT, definition  # noqa: E402
from event_store.envelope import EventMetadata  # noqa: E402
from fleetwatch.consumers import build_alerting  # noqa: E402
from fleetwatch.runtime import tune_gc  # noqa: E402
from fleetwatch.settings import Settings  # noqa: E402
from fleetwatch.wiring import application_env  # noqa: E402
from projections.alerting import AlertingProcess  # noqa: E402
from projections.alerting_index import RuleIndex  # noqa: E402
from projections.alerting_snapshot import capture, restore  # noqa: E402
from projections.alerting_worker import AlertingWorker  # noqa: E402
from write_side.alert_commands import CreateAlertRule  # noqa: E402
from write_side.alert_rules import AlertRule  # noqa: E402
from write_side.alert_service import AlertService  # noqa: E402
from write_side.alerting_policy import AlertingPolicy, DeviceFacts  # noqa: E402
from write_side.application import FleetApplication  # noqa: E402
from write_side.commands import RegisterDevice  # noqa: E402
from write_side.device_service import DeviceService  # noqa: E402
from write_side.telemetry import BatchEntry, Reading, TelemetryBatch  # noqa: E402
from write_side.telemetry_log import Telemetry  # noqa: E402

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SAVE_GROUP = 500  # streams per save_telemetry call


def readings(at: datetime, k: int) -> tuple[Reading, ...]:
    return tuple(Reading(metric, 20.0 + k % 7, at) for metric in METRICS)


class Feed:
    """Devices, rules and their telemetry written to a fresh SQLite store."""

    def __init__(self, folder: str, devices: int, rules: int) -> None:
        settings = Settings(sqlite_path=Path(folder) / "restart.sqlite3")
        self.app = FleetApplication(env=application_env(settings))
        meta = EventMetadata(TENANT, "user:bench")
        service = DeviceService(self.app)
        self.devices = [
            service.register(RegisterDevice(name=f"d{i}", device_type="bench"), meta).aggregate.id
            for i in range(devices)
        ]
        alerts = AlertService(self.app)
        for i in range(rules):
            alerts.create_rule(CreateAlertRule(definition=definition(i)), meta)
        self.streams = {d: Telemetry(tenant_id=TENANT, device_id=d) for d in self.devices}
        self.sent = 0

    def write(self, events: int) -> None:
        meta = EventMetadata(TENANT, "system:ingestion", uuid.uuid4().hex)
        group: list[Telemetry] = []
        for _ in range(events):
            device = self.devices[self.sent % len(self.devices)]
            at = T0 + timedelta(seconds=self.sent // len(self.devices))
            stream = self.streams[device]
            stream.record([BatchEntry(f"m{self.sent}", at, readings(at, self.sent))], at, "mqtt")
            group.append(stream)
            self.sent += 1
            if len(group) == SAVE_GROUP:
                self.app.save_telemetry(group, meta)
                group = []
        if group:
            self.app.save_telemetry(group, meta)


def restart(feed: Feed, events: int, tail: int) -> dict[str, Any]:
    started = time.perf_counter()
    feed.write(events)
    written_s = time.perf_counter() - started
    manager = build_alerting(feed.app, snapshot_interval=0)
    started = time.perf_counter()
    manager.catch_up()
    first_catch_up_s = time.perf_counter() - started
    started = time.perf_counter()
    size = manager.snapshot()
    snapshot_s = time.perf_counter() - started
    feed.write(tail)
    manager.catch_up()
    manager.housekeeping()  # the checkpoint after the tail
    checkpoint = manager.checkpoint()
    watches = len(manager.projection.policy.watches)

    from_snapshot = build_alerting(feed.app, snapshot_interval=0)
    started = time.perf_counter()
    read_from_snapshot = from_snapshot.rebuild_state()
    snapshot_restart_s = time.perf_counter() - started
    kept = len(from_snapshot.projection.policy.watches)

    without = AlertingProcess(feed.app, feed.app.factory.process_recorder())  # no snapshots
    from_feed = AlertingWorker(
        without, recorder=feed.app.recorder, mapper=feed.app.envelope_mapper,
        upstream_name=feed.app.name,
    )  # fmt: skip
    started = time.perf_counter()
    read_from_feed = from_feed.rebuild_state()
    feed_restart_s = time.perf_counter() - started
    return {
        "feed_events": feed.app.recorder.max_notification_id(),
        "checkpoint": checkpoint,
        "watches": watches,
        "write_s": round(written_s, 1),
        "first_catch_up_s": round(first_catch_up_s, 1),
        "snapshot_bytes": size,
        "snapshot_save_s": round(snapshot_s, 3),
        "restart_from_snapshot_s": round(snapshot_restart_s, 3),
        "restart_from_snapshot_events_read": read_from_snapshot,
        "restart_from_snapshot_watches": kept,
        "restart_from_feed_s": round(feed_restart_s, 3),  # the baseline
        "restart_from_feed_events_read": read_from_feed,
        "restart_from_feed_watches_with_state": sum(
            1 for w in without.policy.watches.values() if w.state is not None
        ),
    }


def policy_snapshot(devices: int, rules: int) -> dict[str, Any]:
    """Capture and restore of a policy of `devices` x `rules` watches, without the store."""
    index = RuleIndex()
    for i in range(rules):
        index.put_rule(AlertRule.create(TENANT, definition(i)).current())
    policy = AlertingPolicy()
    for i in range(devices):
        device = DeviceFacts(uuid.uuid4(), TENANT, "bench", frozenset())
        index.put_device(device)
        at = T0 + timedelta(seconds=i)
        batch = TelemetryBatch(device.device_id, (BatchEntry("m", at, readings(at, i)),))
        policy.handle_readings(index.rules_for(device, METRICS), device, batch)
    started = time.perf_counter()
    data = capture(policy, index, 1)
    capture_s = time.perf_counter() - started
    started = time.perf_counter()
    _, _, restored = restore(data)
    restore_s = time.perf_counter() - started
    del restored
    tracemalloc.start()  # again, for the memory only (tracemalloc slows allocations down)
    capture(policy, index, 1)
    capture_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.reset_peak()
    _, _, restored = restore(data)
    restore_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {
        "devices": devices,
        "rules": rules,
        "watches": len(policy.watches),
        "restored_watches": len(restored.watches),
        "bytes": len(data),
        "bytes_per_watch": round(len(data) / max(len(policy.watches), 1), 1),
        "capture_s": round(capture_s, 2),
        "restore_s": round(restore_s, 2),
        "capture_peak_mib": round(capture_peak / 2**20, 1),
        "restore_peak_mib": round(restore_peak / 2**20, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", default="100000,1000000")
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--rules", type=int, default=100)
    parser.add_argument("--tail", type=int, default=5000)
    parser.add_argument("--watch-devices", type=int, default=10_000)
    parser.add_argument("--json-only", action="store_true")
    args = parser.parse_args()
    tune_gc()  # as the service entry points do (a million watches otherwise cost many gen-2 GCs)
    runs = []
    for events in (int(e) for e in args.events.split(",") if e):
        with tempfile.TemporaryDirectory() as folder:
            feed = Feed(folder, args.devices, args.rules)
            runs.append(restart(feed, events, args.tail))
            feed.app.close()
    report = {
        "restarts": runs,
        "policy_snapshot": policy_snapshot(args.watch_devices, args.rules),
    }
    print(json.dumps(report, indent=2))
    if args.json_only:
        return
    print()
    print(f"{'feed events':>12} {'from snapshot s':>16} {'from feed s (baseline)':>23} "
          f"{'snapshot bytes':>15} {'watches kept/with state':>24}")  # fmt: skip
    for r in runs:  # (none with --events "")
        kept = f"{r['restart_from_snapshot_watches']}/{r['restart_from_feed_watches_with_state']}"
        print(
            f"{r['feed_events']:>12} {r['restart_from_snapshot_s']:>16} "
            f"{r['restart_from_feed_s']:>23} {r['snapshot_bytes']:>15} {kept:>24}"
        )
    p = report["policy_snapshot"]
    print(
        f"policy of {p['watches']} watches: {p['bytes']} bytes ({p['bytes_per_watch']} per "
        f"watch), capture {p['capture_s']} s, restore {p['restore_s']} s"
    )


if __name__ == "__main__":
    main()
