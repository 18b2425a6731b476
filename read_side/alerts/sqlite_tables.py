"""The alert read models' SQLite tables, each declared once: the writer's DDL and upserts and
the reader's columns are derived from these declarations (`read_side.alerts.sqlite`).

Each table keeps its keys and filter columns as columns and the whole row as JSON (`data`, the
`read_side.alerts.records` codec), except the device names, which are one column:

- `alert_rules (tenant_id, rule_id)`; columns `severity, enabled, deleted`;
- `alerts (tenant_id, alert_id)`; `raised_key, device_id, rule_id, state, severity`; indexes
  `(tenant_id, raised_key)`, `(tenant_id, device_id, raised_key)`, `(tenant_id, rule_id,
  raised_key)`, `(tenant_id, state, raised_key)`;
- `alert_timeline (tenant_id, key)`; `alert_id, device_id, rule_id, severity, transition,
  state_after`; indexes `(tenant_id, device_id, key)`, `(tenant_id, alert_id, key)`,
  `(tenant_id, rule_id, key)`;
- `alert_device_names (tenant_id, device_id)`; `name`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from read_side.alerts.records import dumps


@dataclass(frozen=True)
class Table:
    """A table keyed by (`tenant_id`, `columns[0]`); every column after `tenant_id` is read from
    the row's attribute of that name (UUIDs as hex, booleans as 0/1)."""

    name: str
    columns: tuple[str, ...]  # the key, then the columns queries filter and order on
    indexes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # name -> after tenant
    integers: frozenset[str] = frozenset()  # INTEGER columns (the others are TEXT)
    whole: bool = True  # the whole row as JSON in `data`

    @property
    def key(self) -> str:
        return self.columns[0]

    def ddl(self) -> list[str]:
        names = ("tenant_id", *self.columns, *(("data",) if self.whole else ()))
        columns = ", ".join(
            f"{c} {'INTEGER' if c in self.integers else 'TEXT'} NOT NULL" for c in names
        )
        return [
            f"CREATE TABLE IF NOT EXISTS {self.name} ({columns}, "
            f"PRIMARY KEY (tenant_id, {self.key})) WITHOUT ROWID",
            *(
                f"CREATE INDEX IF NOT EXISTS {self.name}_{index} ON {self.name} "
                f"(tenant_id, {', '.join(on)})"
                for index, on in self.indexes.items()
            ),
        ]

    def upsert(self) -> str:
        places = ", ".join("?" for _ in range(len(self.columns) + 1 + self.whole))
        return f"INSERT OR REPLACE INTO {self.name} VALUES ({places})"  # noqa: S608 - constants

    def params(self, row: Any) -> tuple[Any, ...]:
        values = [_column(getattr(row, c)) for c in self.columns]
        return (row.tenant_id, *values, *((dumps(row),) if self.whole else ()))


def _column(value: Any) -> Any:
    if isinstance(value, UUID):
        return value.hex
    return int(value) if isinstance(value, bool) else value


RULES = Table(
    "alert_rules",
    ("rule_id", "severity", "enabled", "deleted"),
    integers=frozenset({"enabled", "deleted"}),
)
ALERTS = Table(
    "alerts",
    ("alert_id", "raised_key", "device_id", "rule_id", "state", "severity"),
    {
        "time": ("raised_key",),
        "device": ("device_id", "raised_key"),
        "rule": ("rule_id", "raised_key"),
        "state": ("state", "raised_key"),
    },
)
TIMELINE = Table(
    "alert_timeline",
    ("key", "alert_id", "device_id", "rule_id", "severity", "transition", "state_after"),
    {c: (c, "key") for c in ("device_id", "alert_id", "rule_id")},
)
NAMES = Table("alert_device_names", ("device_id", "name"), whole=False)
TABLES = (RULES, ALERTS, TIMELINE, NAMES)
