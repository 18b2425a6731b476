"""The DynamoDB alert read models' tables and item codecs, shared by their writer and reader
(`read_side.alerts.dynamodb`, which lists the tables and their indexes). Every item keeps the
whole row as JSON in `d` beside its key, index and filter attributes, and the rows that the
writer guards carry their `version`.
"""

from __future__ import annotations

from typing import Any

from event_store.dynamodb.tables import table_spec
from read_side.alerts.records import dumps
from read_side.alerts.rows import AlertRow, AlertRuleRow, DeviceName, TimelineEntry

# Each table's sort key, by table (every table's partition key is `tenant_id`).
KEYS = {
    "alert_rules": "rule_id",
    "alerts": "alert_id",
    "alert_timeline": "sk",
    "alert_device_names": "device_id",
}


def table_names(prefix: str) -> dict[str, str]:
    return {t: f"{prefix}{t}" for t in KEYS}


def _table(
    prefix: str, table: str, indexes: dict[str, tuple[str, str]] | None = None
) -> dict[str, Any]:
    return table_spec(f"{prefix}{table}", "tenant_id", KEYS[table], indexes=indexes)


def create_table_kwargs(prefix: str) -> list[dict[str, Any]]:
    return [
        _table(prefix, "alert_rules"),
        _table(
            prefix,
            "alerts",
            {
                "by_time": ("tenant_id", "raised_key"),
                "by_device": ("tenant_device", "raised_key"),
                "by_rule": ("tenant_rule", "raised_key"),
                "active": ("active_tenant", "raised_key"),
            },
        ),
        _table(
            prefix,
            "alert_timeline",
            {
                "by_device": ("tenant_device", "sk"),
                "by_alert": ("tenant_alert", "sk"),
                "by_rule": ("tenant_rule", "sk"),
            },
        ),
        _table(prefix, "alert_device_names"),
    ]


def s_attr(value: str) -> dict[str, str]:
    return {"S": value}


def rule_item(row: AlertRuleRow) -> dict[str, Any]:
    return {
        "tenant_id": s_attr(row.tenant_id),
        "rule_id": s_attr(row.rule_id.hex),
        "d": s_attr(dumps(row)),
        "severity": s_attr(row.severity),
        "enabled": {"BOOL": row.enabled},
        "deleted": {"BOOL": row.deleted},
        "version": {"N": str(row.version)},  # the writer's row guard
    }


def alert_item(row: AlertRow) -> dict[str, Any]:
    item = {
        "tenant_id": s_attr(row.tenant_id),
        "alert_id": s_attr(row.alert_id.hex),
        "raised_key": s_attr(row.raised_key),
        "tenant_device": s_attr(f"{row.tenant_id}#{row.device_id.hex}"),
        "tenant_rule": s_attr(f"{row.tenant_id}#{row.rule_id.hex}"),
        "alert_state": s_attr(row.state),
        "severity": s_attr(row.severity),
        "d": s_attr(dumps(row)),
        "version": {"N": str(row.version)},  # the writer's row guard
    }
    if row.state != "resolved":
        item["active_tenant"] = s_attr(row.tenant_id)
    return item


def entry_item(entry: TimelineEntry) -> dict[str, Any]:
    t = entry.tenant_id
    return {
        "tenant_id": s_attr(t),
        "sk": s_attr(entry.key),
        "tenant_device": s_attr(f"{t}#{entry.device_id.hex}"),
        "tenant_alert": s_attr(f"{t}#{entry.alert_id.hex}"),
        "tenant_rule": s_attr(f"{t}#{entry.rule_id.hex}"),
        "severity": s_attr(entry.severity),
        "transition": s_attr(entry.transition),
        "state_after": s_attr(entry.state_after),
        "d": s_attr(dumps(entry)),
    }


def name_item(name: DeviceName) -> dict[str, Any]:
    return {
        "tenant_id": s_attr(name.tenant_id),
        "device_id": s_attr(name.device_id.hex),
        "name": s_attr(name.name),
    }
