"""SQLite writer of the alert read models: one transaction holds a batch's rows and the
checkpoint."""

from __future__ import annotations

from eventsourcing.persistence import Tracking

from event_store.sqlite import SQLiteTrackingRecorder
from projections.alert_views import AlertsChanges, AlertsView
from read_side.alerts import dumps
from read_side.alerts_sqlite import ALERTS_TABLE, DDL, NAMES_TABLE, RULES_TABLE, TIMELINE_TABLE

_UPSERT_RULE = f"INSERT OR REPLACE INTO {RULES_TABLE} VALUES (?, ?, ?, ?, ?, ?)"  # noqa: S608
_UPSERT_ALERT = f"INSERT OR REPLACE INTO {ALERTS_TABLE} VALUES (?, ?, ?, ?, ?, ?, ?, ?)"  # noqa: S608
_UPSERT_ENTRY = f"INSERT OR REPLACE INTO {TIMELINE_TABLE} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"  # noqa: S608
_UPSERT_NAME = f"INSERT OR REPLACE INTO {NAMES_TABLE} VALUES (?, ?, ?)"  # noqa: S608


class SQLiteAlertsView(SQLiteTrackingRecorder, AlertsView):
    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(), *DDL]

    def commit(self, changes: AlertsChanges, tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as c:
            self._insert_tracking(c, tracking)
            c.executemany(
                _UPSERT_RULE,
                [
                    (
                        r.tenant_id,
                        r.rule_id.hex,
                        r.severity,
                        int(r.enabled),
                        int(r.deleted),
                        dumps(r),
                    )
                    for r in changes.rules
                ],
            )
            c.executemany(
                _UPSERT_ALERT,
                [
                    (
                        a.tenant_id,
                        a.alert_id.hex,
                        a.raised_key,
                        a.device_id.hex,
                        a.rule_id.hex,
                        a.state,
                        a.severity,
                        dumps(a),
                    )
                    for a in changes.alerts
                ],
            )
            c.executemany(
                _UPSERT_ENTRY,
                [
                    (
                        e.tenant_id,
                        e.key,
                        e.alert_id.hex,
                        e.device_id.hex,
                        e.rule_id.hex,
                        e.severity,
                        e.transition,
                        e.state_after,
                        dumps(e),
                    )
                    for e in changes.entries
                ],
            )
            c.executemany(
                _UPSERT_NAME, [(d.tenant_id, d.device_id.hex, d.name) for d in changes.devices]
            )

    def reset(self, application_name: str) -> None:
        with self.datastore.transaction(commit=True) as c:
            for table in (RULES_TABLE, ALERTS_TABLE, TIMELINE_TABLE, NAMES_TABLE):
                c.execute(f"DELETE FROM {table}")  # noqa: S608 - constant names
            c.execute("DELETE FROM tracking WHERE application_name = ?", (application_name,))
