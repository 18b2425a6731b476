"""DynamoDB capacity per telemetry message (issue 15 item 5): what the event store and then the
read models' projectors consume for each message, as DynamoDB itself counts it.

    .venv/bin/python bench/write_cost.py [--devices 49] [--rounds 20] [--per-event 1] [--json-only]

`--devices` devices (at most 49 per commit) each send `--rounds` messages of three readings,
committed as ingestion commits them on DynamoDB (one `save_telemetry` per round); then every
read model's projector catches up (`fleetwatch.lambdas.project`, as the projector function
does). Every DynamoDB request is asked for its consumed capacity (`ReturnConsumedCapacity`
added at the boto3 boundary, read back from each response): write and read capacity units per
message, for the commits and for the projectors, and what a million messages cost at the
on-demand prices given (`--wru-price`, `--rru-price`: dollars per million request units;
defaults: us-east-1 after the November 2024 reduction, $0.625 and $0.125 as reported by
third-party summaries; check the AWS price list for yours). DynamoDB Local computes capacity
as DynamoDB does (item sizes, transactions counting double); it does not count index writes
the same way everywhere, so treat the figures as a floor. Prints one JSON document, then a
table.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]

from bench.round_trip import local_dynamodb  # noqa: E402
from event_store.envelope import EventMetadata  # noqa: E402
from fleetwatch.bootstrap import build_system  # noqa: E402
from fleetwatch.lambdas import project  # noqa: E402
from fleetwatch.wiring import READ_MODELS, make_tables_made_on_first_use  # noqa: E402
from write_side.telemetry import BatchEntry, Reading  # noqa: E402
from write_side.telemetry_log import Telemetry  # noqa: E402

META = EventMetadata("bench", "device:bench")
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
KB = 1024


def item_size(item: dict[str, Any]) -> int:
    """An item's size as DynamoDB bills it (low-level attribute values): names plus values."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _value_size(value: dict[str, Any]) -> int:
    ((kind, data),) = value.items()
    if kind == "S":
        return len(data.encode())
    if kind == "B":
        return len(data)
    if kind == "N":
        return len(data.lstrip("-").replace(".", "")) // 2 + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + item_size(data)
    if kind == "L":
        return 3 + sum(1 + _value_size(v) for v in data)
    return sum(len(str(v).encode()) for v in data)  # SS, NS, BS


def write_units(item: dict[str, Any]) -> int:
    return max(1, -(-item_size(item) // KB))


def read_units(item: dict[str, Any], consistent: bool) -> float:
    units = max(1, -(-item_size(item) // (4 * KB)))
    return units if consistent else units / 2


class Capacity:
    """DynamoDB capacity as AWS bills it, computed from each request and response at the boto3
    boundary (DynamoDB Local's own `ConsumedCapacity` does not follow AWS's rules: a 2-item
    transaction of 1.5 KB and 40 B reported 12 units where AWS bills 6, a 98-action commit about
    25 where AWS bills over 200). Writes: 1 unit per KB of each item written (an update: of its
    key and new values, a floor when the item is bigger), twice that in a transaction. Reads:
    1 unit per 4 KB of each item returned when strongly consistent, half otherwise, twice in a
    transaction; a read that returns nothing: 1 (0.5)."""

    def __init__(self) -> None:
        self.write = 0.0
        self.read = 0.0
        self.by_operation: dict[str, list[float]] = {}  # operation -> [calls, units]
        self.last: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def attach(self, client: Any) -> None:
        client.meta.events.register("provide-client-params.dynamodb", self._request)
        client.meta.events.register("after-call.dynamodb", self._response)

    def _add(self, operation: str, units: float, *, write: bool) -> None:
        with self._lock:
            calls = self.by_operation.setdefault(operation, [0, 0.0])
            calls[0] += 1
            calls[1] += units
            if write:
                self.write += units
            else:
                self.read += units

    def _request(
        self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any
    ) -> None:
        context["bench_params"] = params  # for `_response`, which botocore gives no params
        name = model.name
        if name == "PutItem":
            self._add(name, write_units(params["Item"]), write=True)
        elif name in ("UpdateItem", "DeleteItem"):
            self._add(name, write_units(_update_image(params)), write=True)
        elif name == "BatchWriteItem":
            units = sum(
                write_units(
                    r["PutRequest"]["Item"] if "PutRequest" in r else r["DeleteRequest"]["Key"]
                )
                for requests in params["RequestItems"].values()
                for r in requests
            )
            self._add(name, units, write=True)
        elif name == "TransactWriteItems":
            units = 0
            for action in params["TransactItems"]:
                ((kind, body),) = action.items()
                image = body["Item"] if kind == "Put" else _update_image(body)
                units += 2 * write_units(image)
            self._add(name, units, write=True)

    def _response(
        self, parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any
    ) -> None:
        params = context.get("bench_params", {})
        name = model.name
        consistent = bool(params.get("ConsistentRead"))
        if name == "GetItem":
            item = parsed.get("Item")
            self._add(name, read_units(item or {}, consistent), write=False)
        elif name in ("Query", "Scan"):
            size = sum(item_size(i) for i in parsed.get("Items", []))
            units = max(1, -(-size // (4 * KB)))
            self._add(name, units if consistent else units / 2, write=False)
        elif name == "BatchGetItem":
            keys = [
                (table, item)
                for table, items in parsed.get("Responses", {}).items()
                for item in items
            ]
            tables = params.get("RequestItems", {})
            units = sum(
                read_units(item, bool(tables.get(table, {}).get("ConsistentRead")))
                for table, item in keys
            )
            self._add(name, units, write=False)
        elif name == "TransactGetItems":
            units = sum(
                2 * read_units(r.get("Item") or {}, True) for r in parsed.get("Responses", [])
            )
            self._add(name, units, write=False)

    def take(self) -> tuple[float, float]:
        with self._lock:
            taken = self.write, self.read
            self.write = self.read = 0.0
            self.last, self.by_operation = self.by_operation, {}
        return taken


def _update_image(body: dict[str, Any]) -> dict[str, Any]:
    """What an update or delete writes, as far as the request shows: its key and new values."""
    values = {f"v{i}": v for i, v in enumerate(body.get("ExpressionAttributeValues", {}).values())}
    return {**body["Key"], **values}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=49)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument(
        "--per-event", type=int, default=1, help="messages of a device in one event (batching)"
    )
    parser.add_argument("--wru-price", type=float, default=0.625)
    parser.add_argument("--rru-price", type=float, default=0.125)
    parser.add_argument("--json-only", action="store_true")
    args = parser.parse_args()
    if not 1 <= args.devices <= 49:
        parser.error("--devices: 1 to 49 (one commit)")
    capacity = Capacity()
    with local_dynamodb(run_projections=False) as settings:
        system = build_system(settings)
        make_tables_made_on_first_use(system.app)
        project(system, [m.name for m in READ_MODELS])  # checkpoints exist before measuring
        for client in _clients(system):
            capacity.attach(client)
        devices = [
            Telemetry(tenant_id="bench", device_id=uuid.uuid4()) for _ in range(args.devices)
        ]
        system.app.save_telemetry(devices, META)  # the streams' creation, not measured
        project(system, [m.name for m in READ_MODELS])
        capacity.take()
        for round_ in range(args.rounds):
            at = datetime.now(UTC)
            readings = (
                Reading("temperature", 20.0 + round_, at),
                Reading("humidity", 40.0, at),
                Reading("battery", 90.0, at),
            )
            for device in devices:
                entries = [
                    BatchEntry(f"m{round_}-{k}", at, readings) for k in range(args.per_event)
                ]
                device.record(entries, at, "mqtt")
            system.app.save_telemetry(devices, META)
        commit_w, commit_r = capacity.take()
        commit_calls = capacity.last
        project(system, [m.name for m in READ_MODELS])
        project_w, project_r = capacity.take()
        project_calls = capacity.last
        system.close()
    messages = args.devices * args.rounds * args.per_event
    rows = {
        "commits": {"wru": commit_w / messages, "rru": commit_r / messages},
        "projectors": {"wru": project_w / messages, "rru": project_r / messages},
    }
    rows["total"] = {k: rows["commits"][k] + rows["projectors"][k] for k in ("wru", "rru")}
    for row in rows.values():
        row["dollars_per_million_messages"] = (
            row["wru"] * args.wru_price + row["rru"] * args.rru_price
        )
    calls = {"commits": commit_calls, "projectors": project_calls}  # [requests, units] each
    report = {
        "bench": "write_cost",
        "messages": messages,
        "per_event": args.per_event,
        "rows": rows,
        "calls": calls,
    }
    print(json.dumps(report, indent=1))
    if args.json_only:
        return
    print()
    print(
        f"{messages} messages, {args.devices} devices per commit, {args.per_event} messages "
        "of a device per event, 3 readings each"
    )
    print("| part | WRU/message | RRU/message | $ per million messages |")
    print("|---|---|---|---|")
    for name, row in rows.items():
        print(
            f"| {name} | {row['wru']:.2f} | {row['rru']:.2f} "
            f"| {row['dollars_per_million_messages']:.2f} |"
        )


def _clients(system: Any) -> list[Any]:
    """The distinct boto3 DynamoDB clients of the system (the event store's, the read models')."""
    found: dict[int, Any] = {}
    candidates = [getattr(system.app.factory, "client", None)]
    candidates += [getattr(view, "client", None) for view in system.views.values()]
    for client in candidates:
        if client is not None:
            found[id(client)] = client
    return list(found.values())


if __name__ == "__main__":
    main()
