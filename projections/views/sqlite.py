"""SQLite views: one SQLite transaction per change holds the row upserts and the checkpoint."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from eventsourcing.persistence import Tracking
from eventsourcing.sqlite import SQLiteCursor

from event_store.sqlite import SQLiteTrackingRecorder
from projections.device_status import AlertLinks, DeviceStatusView
from projections.views import device_alerts
from read_side.device_rows import COLUMNS, to_row
from read_side.device_status import DeviceStatus
from read_side.sqlite import DEVICE_STATUS_TABLE

_UPSERT = (
    f"INSERT OR REPLACE INTO {DEVICE_STATUS_TABLE} ({', '.join(COLUMNS)}) "  # noqa: S608 - constants
    f"VALUES ({', '.join('?' for _ in COLUMNS)})"
)
# Columns added after the first release: added to existing files by `create_table`.
_ADDED_COLUMNS = {
    "credential_id": "TEXT",
    "last_seen_at": "TEXT",
    "online": "INTEGER",
    "last_values": "TEXT",
    "firmware_version": "TEXT",
    "battery": "REAL",
    "rssi": "REAL",
    "telemetry_version": "INTEGER NOT NULL DEFAULT 0",
    "open_alerts": "TEXT",
}


class SQLiteDeviceStatusView(SQLiteTrackingRecorder, DeviceStatusView):
    def construct_create_table_statements(self) -> list[str]:
        added = "".join(f"{name} {kind}, " for name, kind in _ADDED_COLUMNS.items())
        return [
            *super().construct_create_table_statements(),
            f"CREATE TABLE IF NOT EXISTS {DEVICE_STATUS_TABLE} ("
            "tenant_id TEXT NOT NULL, device_id TEXT NOT NULL, name TEXT NOT NULL, "
            "device_type TEXT NOT NULL, lifecycle TEXT NOT NULL, tags TEXT NOT NULL, "
            "metadata TEXT NOT NULL, version INTEGER NOT NULL, registered_at TEXT NOT NULL, "
            "updated_at TEXT NOT NULL, decommissioned_at TEXT, decommission_reason TEXT, "
            f"position INTEGER NOT NULL, {added}"
            "PRIMARY KEY (tenant_id, device_id)) WITHOUT ROWID",
            f"CREATE INDEX IF NOT EXISTS {DEVICE_STATUS_TABLE}_type "
            f"ON {DEVICE_STATUS_TABLE} (tenant_id, device_type, device_id)",
            device_alerts.CREATE_SQLITE,
        ]

    def _create_table(self, c: SQLiteCursor) -> None:
        super()._create_table(c)
        c.execute(f"PRAGMA table_info({DEVICE_STATUS_TABLE})")
        existing = {row["name"] for row in c.fetchall()}
        for name, kind in _ADDED_COLUMNS.items():
            if name not in existing:
                c.execute(f"ALTER TABLE {DEVICE_STATUS_TABLE} ADD COLUMN {name} {kind}")

    def save(self, status: DeviceStatus, tracking: Tracking) -> None:
        self.save_many([status], tracking)

    def save_many(
        self,
        rows: Sequence[DeviceStatus],
        tracking: Tracking,
        alert_links: AlertLinks | None = None,
    ) -> None:
        with self.datastore.transaction(commit=True) as c:
            self._insert_tracking(c, tracking)
            c.executemany(_UPSERT, [to_row(status) for status in rows])
            device_alerts.sqlite_write(c, alert_links)

    def alert_devices(self, tenant_id: str, alert_ids: Sequence[str]) -> dict[str, UUID]:
        return device_alerts.sqlite_read(self.datastore, tenant_id, alert_ids)

    def reset(self, application_name: str) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute(f"DELETE FROM {DEVICE_STATUS_TABLE}")  # noqa: S608 - constant name
            c.execute(f"DELETE FROM {device_alerts.TABLE}")  # noqa: S608 - constant name
            c.execute("DELETE FROM tracking WHERE application_name = ?", (application_name,))
