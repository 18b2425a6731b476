"""The analytics dashboard read (docs/analytics.md 20.1) with a large fleet, beside a scan.

    .venv/bin/python bench/dashboard.py [--devices 100000] [--reads 1000] [--baseline-reads 50]
        [--store sqlite|dynamodb] [--json-only]

Workload, one tenant: `--devices` devices registered over 5 types; 3,000 of them come online
and send 5 telemetry batches each (3 firmware versions, 3 readings a message) within the last
hour, 500 go offline again; 2,000 alerts raised over 50 rules, 1,200 acknowledged, 1,000
resolved. The events are built in memory as the store would hand them to projections
(`EventEnvelope`s with feed positions) and applied by the real projections in batches of 1,000
(`DashboardProjection.process_batch`, `DeviceStatusProjection.process_batch`) into the real
read models on the chosen store: the rows are what the system's workers would write, without
the event store write (which `bench/ingest.py` measures) in front of them. DynamoDB Local is
started here unless FLEETWATCH_DYNAMODB_ENDPOINT_URL is set.

Measured: the dashboard read (`DashboardReader.dashboard`, the call behind
`GET /analytics/dashboard`), `--reads` times: p50/p99/max. Baseline, same run: the same device
and alert figures (devices by status, type and firmware, online ratio, open alerts by severity)
computed per request by scanning the tenant's rows of the device-status read model (SQLite:
one SELECT of the five columns; DynamoDB: a paginated Query), `--baseline-reads` times. Also
the time each projection took to build its model. Prints one JSON document, then a table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]

from dynamodb_local import dynamodb_local  # noqa: E402
from eventsourcing.persistence import Tracking  # noqa: E402

from event_store.envelope import EventEnvelope  # noqa: E402
from fleetwatch.settings import Settings  # noqa: E402
from fleetwatch.wiring import application_env, open_read_model  # noqa: E402
from projections.dashboard import DashboardProjection  # noqa: E402
from projections.device_status import DeviceStatusProjection  # noqa: E402
from write_side.alerts import ALERT_ACKNOWLEDGED, ALERT_RAISED, ALERT_RESOLVED  # noqa: E402
from write_side.application import FleetApplication  # noqa: E402
from write_side.devices import DEVICE_REGISTERED  # noqa: E402
from write_side.event_names import EventName  # noqa: E402
from write_side.telemetry_log import (  # noqa: E402
    TELEMETRY_BATCH_RECORDED,
    TELEMETRY_DEVICE_CAME_ONLINE,
    TELEMETRY_DEVICE_WENT_OFFLINE,
)

TENANT = "bench"
TYPES = ("pump", "valve", "meter", "sensor", "gateway")
VERSIONS = ("1.0.0", "1.1.0", "2.0.0")


class Events:
    """Envelopes numbered as the feed would number them."""

    def __init__(self) -> None:
        self.position = 0
        self.versions: Counter[str] = Counter()

    def __call__(
        self, name: EventName, stream: uuid.UUID, at: datetime, payload: dict[str, Any]
    ) -> EventEnvelope:
        self.position += 1
        self.versions[stream.hex] += 1
        return EventEnvelope(
            event_id=uuid.uuid4(), tenant_id=TENANT, stream_id=str(stream),
            version=self.versions[stream.hex], type=name.type, schema_version=1,
            occurred_at=at, recorded_at=at, actor="system:bench", correlation_id="c",
            causation_id=None, payload=payload, position=self.position,
        )  # fmt: skip


def workload(devices: int, now: datetime) -> Iterator[EventEnvelope]:
    make = Events()
    ids = [uuid.uuid4() for _ in range(devices)]
    start = now - timedelta(minutes=59)
    for i, device in enumerate(ids):
        payload = {"tenant_id": TENANT, "name": f"d{i}", "device_type": TYPES[i % 5], "tags": []}
        yield make(DEVICE_REGISTERED, device, start, payload)
    active = ids[: min(3000, devices)]
    streams = {device: uuid.uuid4() for device in active}
    for minute in range(5):
        at = start + timedelta(minutes=minute * 10)
        for i, device in enumerate(active):
            if minute == 0:
                online = {"device_id": str(device), "at": at.isoformat(), "offline_since": None}
                yield make(TELEMETRY_DEVICE_CAME_ONLINE, streams[device], at, online)
            entry = {
                "message_id": uuid.uuid4().hex, "at": at.isoformat(),
                "metrics": {"temp": 20.0, "hum": 40.0, "battery": 90.0},
                "status": {"firmware_version": VERSIONS[i % 3]},
            }  # fmt: skip
            batch = {"device_id": str(device), "entries": [entry], "received_at": at.isoformat()}
            yield make(TELEMETRY_BATCH_RECORDED, streams[device], at, batch | {"transport": "http"})
    for device in active[:500]:
        offline = {"device_id": str(device), "last_seen_at": now.isoformat()}
        yield make(TELEMETRY_DEVICE_WENT_OFFLINE, streams[device], now, offline)
    rules = [uuid.uuid4() for _ in range(50)]
    alerts = [uuid.uuid4() for _ in range(2000)]
    for k, alert in enumerate(alerts):
        raised = {
            "tenant_id": TENANT, "rule_id": str(rules[k % 50]), "rule_revision": 1,
            "device_id": str(active[(k * 7) % len(active)]), "episode": 1,
            "severity": ("info", "warning", "critical")[k % 3], "value": 1.0,
            "at": start.isoformat(), "peak_mode": "highest",
        }  # fmt: skip
        yield make(ALERT_RAISED, alert, start + timedelta(seconds=k), raised)
    for k, alert in enumerate(alerts[:1200]):
        at = start + timedelta(seconds=2000 + k)
        done = {"actor": "user:op", "note": None, "at": at.isoformat()}
        yield make(ALERT_ACKNOWLEDGED, alert, at, done)
        if k < 1000:
            at += timedelta(seconds=300)
            yield make(ALERT_RESOLVED, alert, at, done | {"at": at.isoformat(), "auto": False})


def build(projection: Any, events: list[EventEnvelope], name: str) -> float:
    began = time.perf_counter()
    for start in range(0, len(events), 1000):
        part = events[start : start + 1000]
        projection.process_batch(part, Tracking(name, part[-1].position or 0))
    return time.perf_counter() - began


def scan_sqlite(view: Any) -> Callable[[], dict[str, Any]]:
    def figures() -> dict[str, Any]:
        with view.datastore.transaction(commit=False) as c:
            c.execute(
                "SELECT lifecycle, device_type, online, firmware_version, open_alerts "
                "FROM device_status WHERE tenant_id = ?",
                (TENANT,),
            )
            rows = [tuple(row) for row in c.fetchall()]
        return summarize(rows)

    return figures


def scan_dynamodb(reader: Any) -> Callable[[], dict[str, Any]]:
    def figures() -> dict[str, Any]:
        pages = reader.client.get_paginator("query").paginate(
            TableName=reader.table, KeyConditionExpression="tenant_id = :t",
            ExpressionAttributeValues={":t": {"S": TENANT}}, ConsistentRead=True,
        )  # fmt: skip
        rows = []
        for page in pages:
            for item in page.get("Items", []):
                row = reader_row(reader, item)
                rows.append((row.lifecycle, row.device_type, row.online, row.firmware_version,
                             json.dumps(row.open_alerts)))  # fmt: skip
        return summarize(rows)

    return figures


def reader_row(reader: Any, item: dict[str, Any]) -> Any:
    from read_side.device_status.dynamodb import ITEMS

    return ITEMS.from_item(item)


def summarize(rows: list[tuple[Any, ...]]) -> dict[str, Any]:
    status: Counter[str] = Counter()
    types: Counter[str] = Counter()
    versions: Counter[str] = Counter()
    severities: Counter[str] = Counter()
    for lifecycle, device_type, online, firmware, open_alerts in rows:
        if lifecycle != "active":
            status[lifecycle] += 1
            continue
        status["unknown" if online is None else "online" if online else "offline"] += 1
        types[device_type] += 1
        versions[firmware or "unknown"] += 1
        if open_alerts and open_alerts != "{}":
            severities.update(json.loads(open_alerts).values())
    active = sum(n for s, n in status.items() if s != "decommissioned")
    return {
        "status": dict(status), "type": dict(types), "firmware": dict(versions),
        "online_ratio": status["online"] / active if active else None,
        "alerts": dict(severities),
    }  # fmt: skip


def timed(call: Callable[[], Any], count: int) -> tuple[dict[str, float], Any]:
    samples, answer = [], None
    for _ in range(count):
        began = time.perf_counter()
        answer = call()
        samples.append((time.perf_counter() - began) * 1000)
    samples.sort()
    return {
        "p50_ms": round(statistics.median(samples), 3),
        "p99_ms": round(samples[min(len(samples) - 1, int(len(samples) * 0.99))], 3),
        "max_ms": round(samples[-1], 3),
        "requests": count,
    }, answer


def run(args: argparse.Namespace, work: Path, stack: ExitStack) -> dict[str, Any]:
    if args.store == "sqlite":
        settings = Settings(store="sqlite", sqlite_path=work / "fleet.sqlite3")
    else:
        endpoint = os.environ.get("FLEETWATCH_DYNAMODB_ENDPOINT_URL")
        endpoint = endpoint or stack.enter_context(dynamodb_local())
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")  # DynamoDB Local takes any
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
        settings = Settings(
            store="dynamodb", dynamodb_endpoint_url=endpoint,
            dynamodb_table_prefix=f"bench{uuid.uuid4().hex[:6]}_",
        )  # fmt: skip
    app = FleetApplication(env=application_env(settings))
    stack.callback(app.close)
    board_view, board_reader = open_read_model(app, settings, "dashboard")
    status_view, status_reader = open_read_model(app, settings, "device_status")
    now = datetime.now(UTC)
    events = list(workload(args.devices, now))
    built_s = build(DashboardProjection(board_view, board_reader), events, "bench>dashboard")
    status_s = build(DeviceStatusProjection(status_view, status_reader), events, "bench>status")
    read, board = timed(lambda: board_reader.dashboard(TENANT, now), args.reads)
    scan = scan_sqlite(status_view) if args.store == "sqlite" else scan_dynamodb(status_reader)
    baseline, scanned = timed(scan, args.baseline_reads)
    ours = {
        "status": {c.value: c.count for c in board.devices_by_status},
        "type": {c.value: c.count for c in board.devices_by_type},
        "firmware": {c.value: c.count for c in board.devices_by_firmware},
        "online_ratio": board.online_ratio,
        "alerts": {c.value: c.count for c in board.open_alerts_by_severity},
    }
    assert ours == scanned, (ours, scanned)  # the same figures, two ways
    return {
        "store": args.store, "devices": args.devices, "events": len(events),
        "dashboard": read, "baseline_scan": baseline,
        "dashboard_build_s": round(built_s, 1), "device_status_build_s": round(status_s, 1),
        "figures_agree": True, "readings_last_hour": board.readings_last_hour,
        "rule_weeks": len(board.time_to_resolution),
    }  # fmt: skip


def table(result: Mapping[str, Any]) -> str:
    lines = [f"{result['store']} N={result['devices']:,}  {'read':<34}{'p50 ms':>11}{'p99 ms':>11}"]
    for name, key in (("dashboard (projection's figures)", "dashboard"),
                      ("baseline: scan device_status", "baseline_scan")):  # fmt: skip
        r = result[key]
        label = f"{name} x{r['requests']}"
        lines.append(f"{'':<16}{label:<34}{r['p50_ms']:>11.2f}{r['p99_ms']:>11.2f}")
    built = f"{result['dashboard_build_s']:>11}{result['device_status_build_s']:>11}"
    lines.append(f"{'':<16}{'build s (dashboard / device_status)':<34}{built}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--devices", type=int, default=100_000)
    parser.add_argument("--reads", type=int, default=1000)
    parser.add_argument("--baseline-reads", type=int, default=50)
    parser.add_argument("--store", choices=("sqlite", "dynamodb"), default="sqlite")
    parser.add_argument("--json-only", action="store_true")
    args = parser.parse_args()
    with ExitStack() as stack, tempfile.TemporaryDirectory() as work:
        result = run(args, Path(work), stack)
    print(json.dumps(result, indent=2))
    if not args.json_only:
        print()
        print(table(result))


if __name__ == "__main__":
    main()
