"""The analytics dashboard as both wires show it (docs/analytics.md 20.1): one definition per
shape, REST's answer as it is, GraphQL's types derived (`api.graphql.dashboard_types`)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from api.device_view import View
from api.graphql.scalars import Long
from read_side.dashboard import Count, Dashboard, IngestMinute, Noisiest, RuleWeek


class CountPublic(View):
    value: str = Field(description="What is counted: a status, a type, a version, an id.")
    count: Long

    @classmethod
    def of(cls, counts: tuple[Count, ...]) -> list[CountPublic]:
        return [cls(value=c.value, count=Long(c.count)) for c in counts]


class RuleWeekPublic(View):
    rule_id: str
    week: str = Field(description="ISO week of the acknowledgements and resolutions: 2026-W49.")
    acknowledged: Long
    mean_seconds_to_acknowledge: float | None = Field(
        description="Mean time from raise to acknowledgement; null when none was acknowledged."
    )
    resolved: Long
    mean_seconds_to_resolve: float | None = Field(
        description="Mean time from raise to resolution; null when none was resolved."
    )

    @classmethod
    def from_row(cls, row: RuleWeek) -> RuleWeekPublic:
        return cls(
            rule_id=row.rule_id,
            week=row.week,
            acknowledged=Long(row.acknowledged),
            mean_seconds_to_acknowledge=row.mean_seconds_to_acknowledge,
            resolved=Long(row.resolved),
            mean_seconds_to_resolve=row.mean_seconds_to_resolve,
        )


class NoisiestPublic(View):
    week: str = Field(description="ISO week of the alerts raised.")
    devices: list[CountPublic] = Field(description="Device ids by alerts raised, most first.")
    rules: list[CountPublic] = Field(description="Rule ids by alerts raised, most first.")

    @classmethod
    def from_row(cls, row: Noisiest) -> NoisiestPublic:
        return cls(
            week=row.week, devices=CountPublic.of(row.devices), rules=CountPublic.of(row.rules)
        )


class IngestMinutePublic(View):
    minute: datetime = Field(description="The UTC minute the server received the messages.")
    messages: Long
    readings: Long

    @classmethod
    def from_row(cls, row: IngestMinute) -> IngestMinutePublic:
        return cls(minute=row.minute, messages=Long(row.messages), readings=Long(row.readings))


class DashboardPublic(View):
    as_of: datetime = Field(description="Server time the figures were read at.")
    devices_by_status: list[CountPublic] = Field(
        description="online, offline, unknown (never reported), decommissioned."
    )
    devices_by_type: list[CountPublic] = Field(description="Active devices by type.")
    devices_by_firmware: list[CountPublic] = Field(
        description="Active devices by reported firmware version (unknown: none reported)."
    )
    online_ratio: float | None = Field(
        description="Online devices over active devices; null without active devices."
    )
    open_alerts_by_severity: list[CountPublic] = Field(
        description="Alerts not resolved (acknowledged or not), by severity."
    )
    time_to_resolution: list[RuleWeekPublic] = Field(
        description="Mean time to acknowledge and to resolve per rule and ISO week (8 weeks)."
    )
    noisiest: list[NoisiestPublic] = Field(
        description="The 10 noisiest devices and rules of this week and the week before."
    )
    ingest: list[IngestMinutePublic] = Field(
        description="Messages and readings per minute of the last hour (minutes with any)."
    )
    readings_last_hour: Long
    messages_last_hour: Long

    @classmethod
    def from_row(cls, row: Dashboard) -> DashboardPublic:
        return cls(
            as_of=row.as_of,
            devices_by_status=CountPublic.of(row.devices_by_status),
            devices_by_type=CountPublic.of(row.devices_by_type),
            devices_by_firmware=CountPublic.of(row.devices_by_firmware),
            online_ratio=row.online_ratio,
            open_alerts_by_severity=CountPublic.of(row.open_alerts_by_severity),
            time_to_resolution=[RuleWeekPublic.from_row(r) for r in row.time_to_resolution],
            noisiest=[NoisiestPublic.from_row(n) for n in row.noisiest],
            ingest=[IngestMinutePublic.from_row(m) for m in row.ingest],
            readings_last_hour=Long(row.readings_last_hour),
            messages_last_hour=Long(row.messages_last_hour),
        )
