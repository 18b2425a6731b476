"""The dashboard as the API shows it, assembled from the figures one read returns (pure).

`summarize` only reshapes what the projection keeps: counts by key, sums and counts of seconds,
and the bounded top-N lists; it never looks at a device or an alert.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from read_side.dashboard.keys import weeks_back
from read_side.dashboard.row import Top

__all__ = [
    "Count",
    "Dashboard",
    "IngestMinute",
    "Noisiest",
    "RuleWeek",
    "summarize",
]


@dataclass(frozen=True)
class Count:
    value: str
    count: int


@dataclass(frozen=True)
class RuleWeek:
    rule_id: str
    week: str
    acknowledged: int
    mean_seconds_to_acknowledge: float | None
    resolved: int
    mean_seconds_to_resolve: float | None


@dataclass(frozen=True)
class IngestMinute:
    minute: datetime
    messages: int
    readings: int


@dataclass(frozen=True)
class Noisiest:
    week: str
    devices: tuple[Count, ...]  # by alerts raised that week, most first
    rules: tuple[Count, ...]


@dataclass(frozen=True)
class Dashboard:
    tenant_id: str
    as_of: datetime
    devices_by_status: tuple[Count, ...]  # online | offline | unknown | decommissioned
    devices_by_type: tuple[Count, ...]  # active devices
    devices_by_firmware: tuple[Count, ...]  # active devices; "unknown" until reported
    online_ratio: float | None  # online / active; None without active devices
    open_alerts_by_severity: tuple[Count, ...]
    time_to_resolution: tuple[RuleWeek, ...]  # per rule per week, the last weeks
    noisiest: tuple[Noisiest, ...]  # this week and the one before
    ingest: tuple[IngestMinute, ...]  # the last hour's minutes that received anything
    readings_last_hour: int
    messages_last_hour: int


def _counts(figures: Mapping[str, float], prefix: str) -> tuple[Count, ...]:
    found = [
        Count(key[len(prefix) :], round(value))
        for key, value in figures.items()
        if key.startswith(prefix) and round(value) != 0
    ]
    return tuple(sorted(found, key=lambda c: (-c.count, c.value)))


def _rule_weeks(figures: Mapping[str, float]) -> tuple[RuleWeek, ...]:
    parts: dict[tuple[str, str], dict[str, float]] = {}
    for key, value in figures.items():
        if key.startswith("mtt#"):
            _, week, rule, part = key.split("#")
            parts.setdefault((week, rule), {})[part] = value
    found = []
    for (week, rule), p in sorted(parts.items()):
        ack_n, res_n = round(p.get("ack_n", 0)), round(p.get("res_n", 0))
        found.append(
            RuleWeek(
                rule_id=rule,
                week=week,
                acknowledged=ack_n,
                mean_seconds_to_acknowledge=p.get("ack_ms", 0) / 1000 / ack_n if ack_n else None,
                resolved=res_n,
                mean_seconds_to_resolve=p.get("res_ms", 0) / 1000 / res_n if res_n else None,
            )
        )
    return tuple(found)


def _ingest(figures: Mapping[str, float]) -> tuple[IngestMinute, ...]:
    minutes: dict[str, dict[str, int]] = {}
    for key, value in figures.items():
        if key.startswith("ingest#"):
            _, minute, part = key.split("#")
            minutes.setdefault(minute, {})[part] = round(value)
    return tuple(
        IngestMinute(
            minute=datetime.fromisoformat(minute).replace(tzinfo=UTC),
            messages=p.get("m", 0),
            readings=p.get("r", 0),
        )
        for minute, p in sorted(minutes.items())
    )


def _top(entries: Top | None) -> tuple[Count, ...]:
    return tuple(Count(entity, count) for entity, count in entries or ())


def summarize(
    tenant_id: str, now: datetime, figures: Mapping[str, float], tops: Mapping[str, Top]
) -> Dashboard:
    by_status = _counts(figures, "fleet#status#")
    statuses = {c.value: c.count for c in by_status}
    active = sum(n for status, n in statuses.items() if status != "decommissioned")
    ingest = _ingest(figures)
    weeks = weeks_back(now, 2)[::-1]
    return Dashboard(
        tenant_id=tenant_id,
        as_of=now,
        devices_by_status=by_status,
        devices_by_type=_counts(figures, "fleet#type#"),
        devices_by_firmware=_counts(figures, "fleet#firmware#"),
        online_ratio=statuses.get("online", 0) / active if active else None,
        open_alerts_by_severity=_counts(figures, "fleet#alerts#"),
        time_to_resolution=_rule_weeks(figures),
        noisiest=tuple(
            Noisiest(week, _top(tops.get(f"top#{week}#device")), _top(tops.get(f"top#{week}#rule")))
            for week in weeks
        ),
        ingest=ingest,
        readings_last_hour=sum(m.readings for m in ingest),
        messages_last_hour=sum(m.messages for m in ingest),
    )
