"""Fleet reports (docs/analytics.md 20.4): a month's report of a fleet whose feed is mostly
telemetry, beside a bare scan of the same feed.

    .venv/bin/python bench/report.py [--devices 10000] [--batches 20] [--alerts 2000]
                                     [--json-only]

Workload, on the embedded default (SQLite, one temporary directory): `--devices` pumps
registered through the device service and projected (device-status model), five alert rules;
then, with no worker running (as `fleetwatch report` runs), each device's Telemetry stream
records `--batches` batches of one reading, going offline every fifth one
(`DeviceWentOffline`, then `DeviceCameOnline` with the next batch), and `--alerts` alerts are
raised, acknowledged and resolved. The history lies in the current month after the devices'
registration, so the report reads and folds every event of it (the figures of uptime are not
the point here, the cost is).

Measured, per format (CSV, HTML): `Exporter.run` of this month's report of the tenant (all
its devices) into a local blob store, its seconds (the better of two runs), feed events per
second and the peak of Python's allocations (tracemalloc, a third run). Baseline, same run:
the feed read from its start in pages of 500 notifications (`select_notifications`, no
decoding): the floor of any report that reads the feed. Prints one JSON document, then a table.
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

from event_store.envelope import EventMetadata, recording_as  # noqa: E402
from fleetwatch.bootstrap import System, build_system  # noqa: E402
from fleetwatch.settings import Settings  # noqa: E402
from write_side.alert_commands import CreateAlertRule  # noqa: E402
from write_side.alert_rules import parse_rule_definition  # noqa: E402
from write_side.alerts import Alert  # noqa: E402
from write_side.commands import RegisterDevice  # noqa: E402
from write_side.export_service import RequestExport  # noqa: E402
from write_side.exports import ExportFormat, ExportKind, ExportStatus, month_range  # noqa: E402
from write_side.telemetry import BatchEntry, Reading  # noqa: E402
from write_side.telemetry_log import Telemetry  # noqa: E402

META = EventMetadata("acme", "user:bench")
SEVERITIES = ("info", "warning", "critical")
PAGE = 500


def settings(directory: Path) -> Settings:
    return Settings(
        store="sqlite", sqlite_path=directory / "fleet.sqlite3", redis_url=None,
        blob_dir=directory / "blobs", analytics_path=directory / "analytics",
    )  # fmt: skip


def register(system: System, devices: int) -> tuple[list[uuid.UUID], list[uuid.UUID]]:
    rules = []
    for i in range(5):
        condition = {"kind": "threshold", "metric": "temp", "op": ">", "value": 80 + i}
        rule = {"name": f"rule {i}", "scope": {"device_type": "pump"}, "severity": "warning",
                "condition": condition}  # fmt: skip
        saved = system.alert_service.create_rule(
            CreateAlertRule(definition=parse_rule_definition(rule)), META
        )
        rules.append(saved.aggregate.id)
    ids = []
    for d in range(devices):
        saved = system.device_service.register(
            RegisterDevice(name=f"pump {d:06d}", device_type="pump", tags=[f"site-{d % 10}"]), META
        )
        ids.append(saved.aggregate.id)
    assert system.wait_for(saved.position, 600), "the device-status model did not catch up"
    return ids, rules


def history(system: System, devices: list[uuid.UUID], rules: list[uuid.UUID], batches: int,
            alerts: int) -> None:  # fmt: skip
    """The devices' batches and outages, and the alerts, after their registration."""
    app, t0 = system.app, datetime.now(UTC)
    for start in range(0, len(devices), 200):
        streams = []
        for device in devices[start : start + 200]:
            stream = Telemetry(tenant_id="acme", device_id=device)
            for b in range(batches):
                at = t0 + timedelta(minutes=10 * b)
                stream.record([BatchEntry(f"m{b}", at, (Reading("temp", 20.0, at),))], at, "mqtt")
                if b % 5 == 4:
                    stream.check_heartbeat(at + timedelta(minutes=6), 300)
            streams.append(stream)
        app.save_telemetry(streams, EventMetadata("acme", "system:ingestion"))
    with recording_as(EventMetadata("acme", "system:alerting")):
        for i in range(alerts):
            at = t0 + timedelta(minutes=i)
            alert = Alert.open(
                tenant_id="acme", rule_id=rules[i % len(rules)], rule_revision=1,
                device_id=devices[i % len(devices)], episode=i + 1,
                severity=SEVERITIES[i % 3], value=90.0, at=at,
            )  # fmt: skip
            alert.acknowledge("user:op", at + timedelta(minutes=3))
            alert.resolve("user:op", at + timedelta(minutes=30))
            app.save(alert)


def run_report(system: System, format: ExportFormat) -> tuple[float, int, int]:
    """Seconds, rows and bytes of this month's report of the tenant."""
    assert system.exports is not None
    start, end = month_range(f"{datetime.now(UTC):%Y-%m}")
    command = RequestExport(ExportKind.REPORT, format, start, end, in_process=True)
    export_id = system.exports.service.request(command, META).aggregate.id
    began = time.perf_counter()
    done = system.exports.exporter.run("acme", export_id)
    seconds = time.perf_counter() - began
    assert done.status is ExportStatus.COMPLETED, done.reason
    return seconds, done.rows, done.bytes


def bare_scan(system: System) -> float:
    began, after, recorder = time.perf_counter(), 0, system.app.recorder
    while page := recorder.select_notifications(start=after, limit=PAGE, inclusive_of_start=False):
        after = page[-1].id
    return time.perf_counter() - began


def measure(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="fleetwatch-bench-report-") as tmp:
        config = settings(Path(tmp))
        began = time.perf_counter()
        system = build_system(config)
        system.start()
        try:
            devices, rules = register(system, args.devices)
        finally:
            system.close()
        system = build_system(config)  # no worker: as `fleetwatch report` runs
        try:
            history(system, devices, rules, args.batches, args.alerts)
            setup = time.perf_counter() - began
            events = system.event_log.head()
            scan = min(bare_scan(system) for _ in range(2))
            result: dict[str, Any] = {
                "devices": args.devices, "batches_per_device": args.batches,
                "alerts": args.alerts, "feed_events": events, "setup_s": round(setup, 1),
                "baseline_bare_scan_s": round(scan, 3),
                "baseline_bare_scan_events_per_s": round(events / scan),
            }  # fmt: skip
            for format in (ExportFormat.CSV, ExportFormat.HTML):
                runs = [run_report(system, format) for _ in range(2)]
                seconds, rows, size = min(runs)
                tracemalloc.start()
                run_report(system, format)
                _, peak = tracemalloc.get_traced_memory()
                tracemalloc.stop()
                result[format.value] = {
                    "seconds": round(seconds, 3), "rows": rows, "bytes": size,
                    "feed_events_per_s": round(events / seconds),
                    "vs_bare_scan": round(seconds / scan, 2),
                    "peak_python_mib": round(peak / 2**20, 1),
                }  # fmt: skip
        finally:
            system.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--alerts", type=int, default=2_000)
    parser.add_argument("--json-only", action="store_true")
    args = parser.parse_args()
    result = measure(args)
    print(json.dumps(result, indent=2))
    if args.json_only:
        return
    print(f"\n{result['devices']:,} devices, {result['feed_events']:,} feed events")
    print(f"{'what':<12} {'seconds':>9} {'events/s':>10} {'x bare scan':>12} {'peak MiB':>9}")
    print(f"{'bare scan':<12} {result['baseline_bare_scan_s']:>9} "
          f"{result['baseline_bare_scan_events_per_s']:>10,} {1.0:>12} {'':>9}")  # fmt: skip
    for format in ("csv", "html"):
        r = result[format]
        print(f"{'report ' + format:<12} {r['seconds']:>9} {r['feed_events_per_s']:>10,} "
              f"{r['vs_bare_scan']:>12} {r['peak_python_mib']:>9}")  # fmt: skip


if __name__ == "__main__":
    main()
