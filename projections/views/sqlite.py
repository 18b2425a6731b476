"""SQLite views: one SQLite transaction per change holds the row upsert and the checkpoint."""

from __future__ import annotations

from eventsourcing.persistence import Tracking
from eventsourcing.sqlite import SQLiteTrackingRecorder

from projections.device_status import DeviceStatusView
from read_side.device_rows import COLUMNS, to_row
from read_side.device_status import DeviceStatus
from read_side.sqlite import DEVICE_STATUS_TABLE

_UPSERT = (
    f"INSERT OR REPLACE INTO {DEVICE_STATUS_TABLE} ({', '.join(COLUMNS)}) "  # noqa: S608 - constants
    f"VALUES ({', '.join('?' for _ in COLUMNS)})"
)


class SQLiteDeviceStatusView(SQLiteTrackingRecorder, DeviceStatusView):
    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            f"CREATE TABLE IF NOT EXISTS {DEVICE_STATUS_TABLE} ("
            "tenant_id TEXT NOT NULL, device_id TEXT NOT NULL, name TEXT NOT NULL, "
            "device_type TEXT NOT NULL, lifecycle TEXT NOT NULL, tags TEXT NOT NULL, "
            "metadata TEXT NOT NULL, version INTEGER NOT NULL, registered_at TEXT NOT NULL, "
            "updated_at TEXT NOT NULL, decommissioned_at TEXT, decommission_reason TEXT, "
            "position INTEGER NOT NULL, PRIMARY KEY (tenant_id, device_id)) WITHOUT ROWID",
            f"CREATE INDEX IF NOT EXISTS {DEVICE_STATUS_TABLE}_type "
            f"ON {DEVICE_STATUS_TABLE} (tenant_id, device_type, device_id)",
        ]

    def save(self, status: DeviceStatus, tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as c:
            self._insert_tracking(c, tracking)
            c.execute(_UPSERT, to_row(status))

    def reset(self, application_name: str) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute(f"DELETE FROM {DEVICE_STATUS_TABLE}")  # noqa: S608 - constant name
            c.execute("DELETE FROM tracking WHERE application_name = ?", (application_name,))
