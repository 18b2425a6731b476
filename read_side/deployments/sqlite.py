"""The deployments model on SQLite, in the read-models file: tables `deployments`,
`deployment_executions`, `deployment_transitions` and `device_compliance`, one column per field
of their rows (`DeploymentRow`, `ExecutionRow`, `TransitionRow`, `DeviceComplianceRow`), every
key starting with the tenant, plus the listings' sort keys (`created_key`, `queued_key`: the
port's `deployment_key` and `device_execution_key`, filled in on opening a file written before
them; the ISO text of a time column does not sort as time); the view writes every part of a
batch and the checkpoint in one transaction, the reader reads them (compliance grouped by SQL,
with the firmware model's latest release of each type)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Tracking
from eventsourcing.sqlite import SQLiteCursor, SQLiteDatastore

from event_store.sqlite import SQLiteTrackingRecorder
from read_side.alerts.port import decode_cursor, encode_cursor
from read_side.deployments.compliance import latest_release, summarize
from read_side.deployments.port import (
    DEPLOYMENTS_CURSOR,
    DEVICE_EXECUTIONS_CURSOR,
    EXECUTIONS_CURSOR,
    DeploymentFilter,
    DeploymentsChanges,
    DeploymentsReader,
    DeploymentsView,
    deployment_key,
    device_execution_key,
    execution_key,
)
from read_side.deployments.row import (
    ComplianceRow,
    DeploymentRow,
    DeviceComplianceRow,
    ExecutionRow,
    TransitionRow,
)
from read_side.firmware.sqlite import SQLiteFirmwareReader
from read_side.paging import Page, check_page_size
from read_side.sqlite_rows import SQLiteRowCodec
from write_side.deployment_states import ExecutionState

TABLES: dict[str, tuple[SQLiteRowCodec[Any], tuple[str, ...]]] = {
    "deployments": (SQLiteRowCodec(DeploymentRow), ("tenant_id", "deployment_id")),
    "deployment_executions": (SQLiteRowCodec(ExecutionRow), ("tenant_id", "execution_id")),
    "deployment_transitions": (
        SQLiteRowCodec(TransitionRow),
        ("tenant_id", "execution_id", "version"),
    ),
    "device_compliance": (SQLiteRowCodec(DeviceComplianceRow), ("tenant_id", "device_id")),
}
_PARTS = (
    ("deployments", "deployments"),
    ("deployment_executions", "executions"),
    ("deployment_transitions", "transitions"),
    ("device_compliance", "devices"),
)
_INDEXES = (
    "CREATE INDEX IF NOT EXISTS deployment_executions_by_deployment "
    "ON deployment_executions (tenant_id, deployment_id, device_id, purpose)",
    "CREATE INDEX IF NOT EXISTS device_compliance_by_type "
    "ON device_compliance (tenant_id, device_type)",
)
# table -> (sort key column, its value, the row's id column); indexed after the tenant
_SORT_KEYS: dict[str, tuple[str, Callable[[Any], str], str]] = {
    "deployments": ("created_key", deployment_key, "deployment_id"),
    "deployment_executions": ("queued_key", device_execution_key, "execution_id"),
}
_OLD_INDEXES = ("deployment_executions_by_device", "deployments_by_created")


_COMPLIANCE = (
    "SELECT device_type, reported_version, COUNT(*) AS devices, "
    "SUM(last_failed_execution IS NOT NULL) AS failed FROM device_compliance "
    "WHERE {where} GROUP BY device_type, reported_version"
)


def _select(table: str) -> str:
    return f"SELECT {', '.join(TABLES[table][0].names)} FROM {table}"  # noqa: S608 - constants


def _upsert(table: str) -> tuple[str, Callable[[Any], tuple[Any, ...]]]:
    """The statement writing a row of `table`, and the row's parameters (its sort key last)."""
    codec = TABLES[table][0]
    if table not in _SORT_KEYS:
        return codec.upsert(table), codec.to_row
    column, key_of, _ = _SORT_KEYS[table]
    names = (*codec.names, column)
    statement = (
        f"INSERT OR REPLACE INTO {table} ({', '.join(names)}) "  # noqa: S608 - constants
        f"VALUES ({', '.join('?' for _ in names)})"
    )
    return statement, lambda row: (*codec.to_row(row), key_of(row))


class SQLiteDeploymentsView(SQLiteTrackingRecorder, DeploymentsView):
    """Build with `app.factory.tracking_recorder(SQLiteDeploymentsView)` (shares the file)."""

    def construct_create_table_statements(self) -> list[str]:
        tables = [codec.create_table(name, key) for name, (codec, key) in TABLES.items()]
        return [*super().construct_create_table_statements(), *tables, *_INDEXES]

    def _create_table(self, c: SQLiteCursor) -> None:
        super()._create_table(c)
        for name, (codec, _) in TABLES.items():
            codec.add_missing_columns(c, name)
        for name in _OLD_INDEXES:  # on the ISO text of the times
            c.execute(f"DROP INDEX IF EXISTS {name}")
        for table, (column, key_of, id_column) in _SORT_KEYS.items():
            c.execute(f"PRAGMA table_info({table})")
            if column not in {row["name"] for row in c.fetchall()}:
                c.execute(f"ALTER TABLE {table} ADD COLUMN {column} TEXT")
            c.execute(f"{_select(table)} WHERE {column} IS NULL")
            keys = [(key_of(row), row.tenant_id, getattr(row, id_column).hex)
                    for row in map(TABLES[table][0].from_row, c.fetchall())]  # fmt: skip
            update = f"UPDATE {table} SET {column} = ? WHERE tenant_id = ? AND {id_column} = ?"  # noqa: S608
            c.executemany(update, keys)  # rows written before the column: their keys
            c.execute(
                f"CREATE INDEX IF NOT EXISTS {table}_by_{column} ON {table} (tenant_id, {column})"
            )

    def commit(self, parts: Sequence[DeploymentsChanges], tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as c:
            self._insert_tracking(c, tracking)
            for part in parts:
                for table, attribute in _PARTS:
                    statement, params = _upsert(table)
                    c.executemany(statement, [params(row) for row in getattr(part, attribute)])

    def reset(self, application_name: str) -> None:
        with self.datastore.transaction(commit=True) as c:
            for table in TABLES:
                c.execute(f"DELETE FROM {table}")  # noqa: S608 - constant names
            c.execute("DELETE FROM tracking WHERE application_name = ?", (application_name,))


class SQLiteDeploymentsReader(DeploymentsReader):
    def __init__(self, datastore: SQLiteDatastore) -> None:
        self.datastore = datastore
        self.firmware = SQLiteFirmwareReader(datastore)

    def _rows(self, table: str, where: str, args: Sequence[Any]) -> list[Any]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"{_select(table)} WHERE {where}", tuple(args))
            found = c.fetchall()
        codec = TABLES[table][0]
        return [codec.from_row(row) for row in found]

    def get(self, tenant_id: str, deployment_id: UUID) -> DeploymentRow | None:
        found = self._rows(
            "deployments", "tenant_id = ? AND deployment_id = ?", (tenant_id, deployment_id.hex)
        )
        return found[0] if found else None

    def deployments(
        self, tenant_id: str, criteria: DeploymentFilter, first: int, after: str | None
    ) -> Page[DeploymentRow]:
        check_page_size(first)
        where, args = "tenant_id = ?", [tenant_id]
        if after is not None:
            where += " AND created_key < ?"
            args.append(decode_cursor(DEPLOYMENTS_CURSOR, after))
        if criteria.status is not None:
            where, args = where + " AND status = ?", [*args, criteria.status.value]
        if criteria.firmware_id is not None:
            where, args = where + " AND firmware_id = ?", [*args, criteria.firmware_id.hex]
        if criteria.device_id is not None:
            where += (
                " AND deployment_id IN (SELECT deployment_id FROM deployment_executions "
                "WHERE tenant_id = ? AND device_id = ?)"
            )
            args += [tenant_id, criteria.device_id.hex]
        order = " ORDER BY created_key DESC LIMIT ?"
        rows = self._rows("deployments", where + order, [*args, first + 1])
        return _page(rows, first, DEPLOYMENTS_CURSOR, deployment_key)

    def execution(self, tenant_id: str, execution_id: UUID) -> ExecutionRow | None:
        found = self._rows(
            "deployment_executions",
            "tenant_id = ? AND execution_id = ?",
            (tenant_id, execution_id.hex),
        )
        return found[0] if found else None

    def executions(
        self,
        tenant_id: str,
        deployment_id: UUID,
        state: ExecutionState | None,
        first: int,
        after: str | None,
    ) -> Page[ExecutionRow]:
        check_page_size(first)
        where, args = "tenant_id = ? AND deployment_id = ?", [tenant_id, deployment_id.hex]
        if after is not None:
            where += " AND device_id || '#' || purpose > ?"
            args.append(decode_cursor(EXECUTIONS_CURSOR, after))
        if state is not None:
            where, args = where + " AND state = ?", [*args, state.value]
        order = " ORDER BY device_id, purpose LIMIT ?"
        rows = self._rows("deployment_executions", where + order, [*args, first + 1])
        return _page(rows, first, EXECUTIONS_CURSOR, execution_key)

    def device_executions(
        self, tenant_id: str, device_id: UUID, first: int, after: str | None
    ) -> Page[ExecutionRow]:
        check_page_size(first)
        where, args = "tenant_id = ? AND device_id = ?", [tenant_id, device_id.hex]
        if after is not None:
            where += " AND queued_key < ?"
            args.append(decode_cursor(DEVICE_EXECUTIONS_CURSOR, after))
        order = " ORDER BY queued_key DESC LIMIT ?"
        rows = self._rows("deployment_executions", where + order, [*args, first + 1])
        return _page(rows, first, DEVICE_EXECUTIONS_CURSOR, device_execution_key)

    def history(self, tenant_id: str, execution_id: UUID) -> list[TransitionRow]:
        return self._rows(
            "deployment_transitions",
            "tenant_id = ? AND execution_id = ? ORDER BY version",
            (tenant_id, execution_id.hex),
        )

    def device_compliance(self, tenant_id: str, device_id: UUID) -> DeviceComplianceRow | None:
        found = self._rows(
            "device_compliance", "tenant_id = ? AND device_id = ?", (tenant_id, device_id.hex)
        )
        return found[0] if found else None

    def compliance(self, tenant_id: str, device_type: str | None) -> list[ComplianceRow]:
        where, args = "tenant_id = ?", [tenant_id]
        if device_type is not None:
            where, args = where + " AND device_type = ?", [*args, device_type]
        with self.datastore.transaction(commit=False) as c:
            c.execute(_COMPLIANCE.format(where=where), tuple(args))
            groups = [
                (r["device_type"], r["reported_version"], r["devices"], r["failed"])
                for r in c.fetchall()
            ]
        return summarize(groups, lambda kind: latest_release(self.firmware, tenant_id, kind))


def _page(rows: list[Any], first: int, kind: str, key: Any) -> Page[Any]:
    if len(rows) > first:
        return Page(rows[:first], encode_cursor(kind, key(rows[first - 1])))
    return Page(rows)
