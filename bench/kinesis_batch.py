"""A shard's Kinesis batch through the ingestion function (issue 15 item 5): how long the IoT
rule's Kinesis path takes to commit one batch, in how many commits, and how many of a device's
messages share an event, by how many messages of each device the batch holds.

    .venv/bin/python bench/kinesis_batch.py [--devices 500] [--per-device 1,10,20]
        [--latency 0,20] [--json-only]

A device sending once a second puts `per-device` messages in a shard's batch when the event
source mapping gathers `per-device` seconds (`MaximumBatchingWindowInSeconds`, up to 300 s, and a
batch size of up to 10,000 records). Each row hands one such batch (`--devices` x
`--per-device` records, round-robin over the devices as they arrive, each with the IoT rule's
client id `{tenant}_{device}`, so no token) to `ingestion.iot_core.handle` with the ingestion
function's service, built as the function builds it (DynamoDB, tables made beforehand, nothing
but ingestion started), on DynamoDB Local with every request delayed by `--latency` ms at the
boto3 boundary (the round trip; docs/event-store.md 6.5). The first row of the run (one message
a device, no latency) is the baseline.

Reported per row: the invocation's seconds, records/s, commits (TransactWriteItems of the
event store), devices per commit, messages per telemetry event, CPU per message in this process
(DynamoDB Local runs in its own), and whether the batch is done within the window it stands for
(`per-device` seconds): then a shard of `--devices` devices keeps up. Prints one JSON document,
then a table.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]


from bench.round_trip import RoundTrip, local_dynamodb  # noqa: E402
from event_store.envelope import EventMetadata  # noqa: E402
from fleetwatch.bootstrap import build_system  # noqa: E402
from fleetwatch.wiring import make_tables_made_on_first_use  # noqa: E402
from ingestion import iot_core  # noqa: E402
from ingestion.settings import IngestSettings  # noqa: E402
from write_side.devices import Device  # noqa: E402

TENANT = "bench"
META = EventMetadata(TENANT, "user:bench")
KINESIS_MAX_BATCH = 10_000  # records an event source mapping hands over at most
PER_COMMIT = 40  # devices registered per commit


def batch(devices: list[uuid.UUID], per_device: int, round_id: str) -> dict[str, Any]:
    """A Kinesis event as the mapping delivers it: `per_device` messages of each device, in
    arrival order (every device's first message, then every second one, ...)."""
    records = []
    for n in range(per_device):
        at = datetime.now(UTC).isoformat()
        for device in devices:
            message = {
                "device_id": str(device),
                "message_id": f"{round_id}-{n}",
                "timestamp": at,
                "metrics": {"temperature": 20.0 + n, "humidity": 40.0, "battery": 3.7},
                "client_id": f"{TENANT}_{device}",
            }
            data = base64.b64encode(json.dumps(message).encode()).decode()
            sequence = f"{len(records):020d}"
            records.append({"kinesis": {"data": data, "sequenceNumber": sequence}})
    return {"Records": records}


def run(
    system: Any, requests: RoundTrip, devices: list[uuid.UUID], per_device: int
) -> dict[str, Any]:
    event = batch(devices, per_device, uuid.uuid4().hex[:8])
    head = system.app.recorder.max_notification_id() or 0
    requests.reset(1000 * requests.latency)
    cpu, started = time.process_time(), time.perf_counter()
    answer = iot_core.handle(system.ingest, event)
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu
    if answer["batchItemFailures"]:
        raise SystemExit(f"{len(answer['batchItemFailures'])} records failed")
    events = (system.app.recorder.max_notification_id() or 0) - head
    records = len(event["Records"])
    commits = requests.transactions
    return {
        "devices": len(devices),
        "per_device": per_device,
        "records": records,
        "seconds": seconds,
        "records_per_s": records / seconds,
        "commits": commits,
        "devices_per_commit": len(devices) / max(commits, 1),
        "events": events,
        "messages_per_event": records / max(events, 1),
        "cpu_us_per_message": 1e6 * cpu / records,
        "within_window": seconds < per_device,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=500, help="devices of the shard")
    parser.add_argument("--per-device", default="1,10,20", help="messages of each in a batch")
    parser.add_argument("--latency", default="0,20", help="ms per request (comma separated)")
    parser.add_argument("--json-only", action="store_true")
    args = parser.parse_args()
    shapes = [int(x) for x in args.per_device.split(",")]
    if max(shapes) * args.devices > KINESIS_MAX_BATCH:
        parser.error(f"--devices x --per-device: at most {KINESIS_MAX_BATCH} records a batch")
    latencies = [float(x) for x in args.latency.split(",")]
    rows = []
    with local_dynamodb(run_projections=False) as settings:
        setup = build_system(settings)
        make_tables_made_on_first_use(setup.app)
        registered = [
            Device(tenant_id=TENANT, name=f"d{i}", device_type="pump", tags=[], metadata={})
            for i in range(args.devices)
        ]
        for i in range(0, len(registered), PER_COMMIT):
            first, *rest = registered[i : i + PER_COMMIT]
            setup.app.commit(first, META, *rest)
        setup.close()
        devices = [d.id for d in registered]
        function = build_system(
            settings.model_copy(update={"create_tables": False}), IngestSettings()
        )
        assert function.ingest is not None
        function.ingest.start()
        requests = RoundTrip(function.app.factory.client)  # type: ignore[attr-defined]
        try:
            run(function, requests, devices, 1)  # warm up: every device online, looked up
            for latency in latencies:
                requests.reset(latency)
                rows.extend(
                    {"latency_ms": latency} | run(function, requests, devices, per_device)
                    for per_device in shapes
                )
        finally:
            function.ingest.close()
            function.close()
    print(json.dumps({"bench": "kinesis_batch", "rows": rows}, indent=1))
    if args.json_only:
        return
    print()
    print("| latency ms | messages a device | records | seconds | records/s | commits "
          "| devices/commit | messages/event | CPU µs/message | within the window |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['latency_ms']:.0f} | {r['per_device']} | {r['records']:,} "
            f"| {r['seconds']:.2f} | {r['records_per_s']:,.0f} | {r['commits']} "
            f"| {r['devices_per_commit']:.1f} | {r['messages_per_event']:.1f} "
            f"| {r['cpu_us_per_message']:.0f} | {'yes' if r['within_window'] else 'no'} |"
        )


if __name__ == "__main__":
    main()
