"""One budgeted history page on the embedded default (SQLite): how long reading the whole scan
budget takes when no item matches (the worst page an auditor's filter can cost).

    .venv/bin/python -m bench.audit_scan [--devices 10000]

Registers `--devices` devices (one event each) in a fresh SQLite file, then times one
`scan_feed` page of `first=100` with a filter that matches nothing: by actor (every item is
decoded) and by kind (the stored topic decides, nothing is decoded). Prints one line each.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from event_store.envelope import EventMetadata
from event_store.feed_scan import DEFAULT_BUDGET, FeedFilter, scan_feed
from write_side.application import FleetApplication
from write_side.commands import RegisterDevice
from write_side.device_service import DeviceService
from write_side.entity_kinds import EntityKind, select_kinds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=2 * DEFAULT_BUDGET)
    devices = parser.parse_args().devices
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "fleet.sqlite3"
        app = FleetApplication(
            env={"PERSISTENCE_MODULE": "event_store.sqlite", "SQLITE_DBNAME": str(path)}
        )
        try:
            service = DeviceService(app)
            meta = EventMetadata(tenant_id="acme", actor="user:a")
            for i in range(devices):
                service.register(RegisterDevice(name=f"d{i}", device_type="p"), meta)
            filters = {
                "actor (every item decoded)": FeedFilter("acme", actor="user:nobody"),
                "kind (topic only)": FeedFilter("acme", topic=select_kinds([EntityKind.RULE])),
            }
            for name, selection in filters.items():
                start = time.perf_counter()
                page = scan_feed(app.recorder, app.envelope_mapper, selection, after=0, first=100)
                elapsed = (time.perf_counter() - start) * 1000
                done = f"scanned {page.scanned}, exhausted {page.exhausted}"
                print(f"{name}: {done}, {elapsed:.0f} ms")
        finally:
            app.close()


if __name__ == "__main__":
    main()
