"""Memory and time of reading a DynamoDB read model in key order for `fleetwatch replay`: the
rows spilled to a scratch SQLite file and read back sorted (`read_side.dynamodb_snapshot.
SortedRows`, what the replay does), beside the same scan sorted in a Python list (what it did
before), on the same table in the same run.

    .venv/bin/python bench/replay_scan.py [--items 20000] [--endpoint URL]

The table is the device-status model's, filled with `--items` rows (one tenant, about 700 bytes
each: name, type, tags, metadata, last values) written straight to DynamoDB Local (started here
unless `--endpoint` is given). Each way runs in a forked process of its own, so its peak RSS is
its own: the figures are the peak RSS, its growth over the process's RSS before the scan, the
wall time, and the rows walked in key order (both must walk the same number). Prints one JSON
document, then a table.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]

from dynamodb_local import dynamodb_local  # noqa: E402

from audit.replay import order  # noqa: E402
from bench.replay import apart  # noqa: E402 - each way in a forked process of its own
from fleetwatch.settings import Settings  # noqa: E402
from fleetwatch.wiring import application_env, open_read_model  # noqa: E402
from read_side.dynamodb_snapshot import Row, SortedRows, _scan  # noqa: E402
from write_side.application import FleetApplication  # noqa: E402

os.environ.setdefault("AWS_ACCESS_KEY_ID", "fleetwatchbench")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "fleetwatchbench")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
TRACKING = "Fleetwatch>device_status"
AT = "2026-12-01T10:00:00+00:00"
LAST_VALUES = {"temperature": [20.5, AT], "humidity": [40.0, AT], "battery": [90.0, AT]}


def settings_for(endpoint: str, prefix: str) -> Settings:
    return Settings(store="dynamodb", dynamodb_endpoint_url=endpoint, dynamodb_table_prefix=prefix)


@contextlib.contextmanager
def view_of(settings: Settings) -> Iterator[Any]:
    app = FleetApplication(env=application_env(settings))
    try:
        yield open_read_model(app, settings, "device_status")[0]
    finally:
        app.close()


def fill(settings: Settings, items: int) -> None:
    with view_of(settings) as view:
        table = f"{settings.dynamodb_table_prefix}device_status"
        for first in range(0, items, 25):
            requests = [
                {"PutRequest": {"Item": _item(i)}} for i in range(first, min(first + 25, items))
            ]
            while requests:
                answer = view.client.batch_write_item(RequestItems={table: requests})
                requests = answer.get("UnprocessedItems", {}).get(table, [])


def _item(i: int) -> dict[str, Any]:
    device = uuid.UUID(int=i * 7919 + 1).hex
    return {
        "tenant_id": {"S": "acme"},
        "device_id": {"S": device},
        "name": {"S": f"pump {i:06d} in hall {i % 40}"},
        "device_type": {"S": "pump"},
        "tags": {"SS": ["plant-a", f"line-{i % 12}", "critical" if i % 9 else "spare"]},
        "metadata": {"S": json.dumps({"serial": f"SN-{i:09d}", "site": "north", "fw": "1.4.2"})},
        "last_values": {"S": json.dumps(LAST_VALUES)},
        "version": {"N": str(i % 17 + 1)},
        "position": {"N": str(i * 3 + 100)},
        "updated_at": {"S": "2026-12-01T10:00:00.123456+00:00"},
    }


def in_a_list(view: Any) -> Iterator[Row]:
    """Before: every row scanned into a list, sorted in memory."""
    rows = [row for spec in view.construct_extra_tables() for row in _scan(view, spec)]
    return iter(sorted(rows, key=lambda row: order(row[0])))


def spilled(view: Any, stack: contextlib.ExitStack) -> Iterator[Row]:
    """Now: every row spilled to a scratch SQLite file, read back in key order."""
    rows = stack.enter_context(SortedRows())
    rows.fill(view, TRACKING)
    return rows.rows()


def measure(settings: Settings, way: str, out: dict[str, Any]) -> None:
    with view_of(settings) as view, contextlib.ExitStack() as stack:
        before = _rss_mib()
        started = time.perf_counter()
        rows = in_a_list(view) if way == "list" else spilled(view, stack)
        walked = sum(1 for _ in rows)
        wall = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out |= {"rows": walked, "wall_s": round(wall, 2), "peak_rss_mib": round(peak, 1),
            "growth_mib": round(peak - before, 1)}  # fmt: skip


def _rss_mib() -> float:
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def main() -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--endpoint", default=None)
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        endpoint = args.endpoint or stack.enter_context(dynamodb_local())
        settings = settings_for(endpoint, f"bench{uuid.uuid4().hex[:6]}_")
        started = time.perf_counter()
        fill(settings, args.items)
        result: dict[str, Any] = {"benchmark": "replay_scan", "items": args.items,
                                  "fill_s": round(time.perf_counter() - started, 1)}  # fmt: skip
        result["list"] = apart(measure, settings, "list")
        result["spilled"] = apart(measure, settings, "spilled")
    if result["list"]["rows"] != result["spilled"]["rows"]:
        raise SystemExit("the two ways walked different numbers of rows")
    print(json.dumps(result, indent=2))
    print()
    print(f"{'device_status items':<22}{result['items']:>8,}")
    print(f"{'':<44}{'rows':>8}{'wall s':>8}{'peak RSS MiB':>14}{'growth MiB':>12}")
    for way, label in (("list", "sorted in a Python list (before)"),
                       ("spilled", "spilled to SQLite, read sorted (now)")):  # fmt: skip
        row = result[way]
        print(f"{label:<44}{row['rows']:>8,}{row['wall_s']:>8}{row['peak_rss_mib']:>14}"
              f"{row['growth_mib']:>12}")  # fmt: skip
    return result


if __name__ == "__main__":
    main()
