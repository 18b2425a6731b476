"""The fleet report of a range (docs/analytics.md 20.4), computed from the devices in scope and
the connectivity and alert events of the feed; plain Python, no I/O (the source that reads the
read models and the feed is `projections.report_source`).

Its rows are one long table, `(section, subject_id, subject, metric, value)`, the same for the
CSV, the Parquet file and the HTML page (`projections.report_html`):

- `summary` (subject `fleet`): devices, uptime_pct, outages, alerts_raised, alerts_<severity>,
  acknowledged, resolved, mtta_s, mttr_s, behind_latest, compliance_pct.
- `device` (one per device, by name): uptime_pct, online_s, observed_s, outages, alerts,
  behind_latest (1 or 0).
- `rule` (one per rule that raised an alert in the range): alerts_raised, alerts_<severity>,
  acknowledged, resolved, mtta_s, mttr_s.
- `firmware` (subject_id the device type, subject the reported version or `(none)`): devices,
  behind_latest.

Uptime: a device is observed from the later of the range's start and its registration to the
earlier of the range's end, now and its decommissioning; it is online from `DeviceCameOnline.at`
to `DeviceWentOffline.last_seen_at` (its last message, not the later detection), and offline
before it first reports. An outage is a `DeviceWentOffline` detected within the observed time.
Alerts: those raised in the range on a device in scope, counted by their severity when raised;
MTTA and MTTR are the means over those acknowledged (resolved) by now, whenever that was.
A metric without data (no alert acknowledged: no `mtta_s`) has no row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from event_store.envelope import EventEnvelope
from read_side.device_status.row import DeviceStatus
from write_side.alerts import ALERT_ACKNOWLEDGED, ALERT_RAISED, ALERT_RESOLVED
from write_side.severity import SEVERITIES
from write_side.telemetry_log import TELEMETRY_DEVICE_CAME_ONLINE, TELEMETRY_DEVICE_WENT_OFFLINE

ReportRow = tuple[str, str, str, str, float]
REPORT_COLUMNS = (
    ("section", "VARCHAR"),
    ("subject_id", "VARCHAR"),
    ("subject", "VARCHAR"),
    ("metric", "VARCHAR"),
    ("value", "DOUBLE"),
)
# The events the report reads from the feed.
REPORT_TYPES = tuple(
    name.type
    for name in (
        TELEMETRY_DEVICE_CAME_ONLINE,
        TELEMETRY_DEVICE_WENT_OFFLINE,
        ALERT_RAISED,
        ALERT_ACKNOWLEDGED,
        ALERT_RESOLVED,
    )
)
Behind = Callable[[str, str | None], bool]  # (device type, reported version) -> behind latest


def _time(value: object) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


@dataclass
class _Device:
    name: str
    device_type: str
    version: str | None
    start: datetime  # observed from
    end: datetime  # observed until
    online_since: datetime | None = None
    online_s: float = 0.0
    outages: int = 0
    alerts: int = 0

    def online_until(self, until: datetime) -> None:
        if self.online_since is not None:
            lo, hi = max(self.online_since, self.start), min(until, self.end)
            self.online_s += max((hi - lo).total_seconds(), 0.0)
        self.online_since = None

    @property
    def observed_s(self) -> float:
        return max((self.end - self.start).total_seconds(), 0.0)


@dataclass
class _Alert:
    rule_id: str
    severity: str
    raised_at: datetime
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None


@dataclass
class _Tally:
    raised: int = 0
    severities: dict[str, int] = field(default_factory=dict)
    to_ack: list[float] = field(default_factory=list)
    to_resolve: list[float] = field(default_factory=list)

    def add(self, alert: _Alert) -> None:
        self.raised += 1
        self.severities[alert.severity] = self.severities.get(alert.severity, 0) + 1
        if alert.acknowledged_at is not None:
            self.to_ack.append((alert.acknowledged_at - alert.raised_at).total_seconds())
        if alert.resolved_at is not None:
            self.to_resolve.append((alert.resolved_at - alert.raised_at).total_seconds())

    def metrics(self) -> Iterator[tuple[str, float]]:
        yield "alerts_raised", self.raised
        for severity in SEVERITIES:
            yield f"alerts_{severity}", self.severities.get(severity, 0)
        yield "acknowledged", len(self.to_ack)
        yield "resolved", len(self.to_resolve)
        if self.to_ack:
            yield "mtta_s", sum(self.to_ack) / len(self.to_ack)
        if self.to_resolve:
            yield "mttr_s", sum(self.to_resolve) / len(self.to_resolve)


class FleetReport:
    """Feed it the events of `REPORT_TYPES` in feed order (`add`), then read its `rows`."""

    def __init__(
        self,
        devices: Iterable[DeviceStatus],
        start: datetime,
        end: datetime,
        *,
        now: datetime,
        behind: Behind,
        rule_names: Callable[[str], str | None] = lambda _: None,
    ) -> None:
        self.start, self.end = start, end
        self.behind, self.rule_names = behind, rule_names
        self.devices: dict[str, _Device] = {}
        for d in devices:
            until = min(end, now, d.decommissioned_at or end)
            since = max(start, d.registered_at)
            if since < until:
                self.devices[str(d.device_id)] = _Device(
                    d.name, d.device_type, d.firmware_version, since, until
                )
        self.alerts: dict[str, _Alert] = {}

    def add(self, e: EventEnvelope) -> None:
        payload, kind = e.payload, e.type
        if kind == ALERT_RAISED.type:
            self._raised(e.stream_id, payload)
        elif kind in {ALERT_ACKNOWLEDGED.type, ALERT_RESOLVED.type}:
            alert = self.alerts.get(e.stream_id)
            if alert is None:
                return
            at = _time(payload["at"])
            if kind == ALERT_ACKNOWLEDGED.type and alert.acknowledged_at is None:
                alert.acknowledged_at = at
            if kind == ALERT_RESOLVED.type and alert.resolved_at is None:
                alert.resolved_at = at
        elif (device := self.devices.get(str(payload.get("device_id")))) is not None:
            if kind == TELEMETRY_DEVICE_CAME_ONLINE.type:
                if device.online_since is None:
                    device.online_since = _time(payload["at"])
            elif kind == TELEMETRY_DEVICE_WENT_OFFLINE.type:
                device.online_until(_time(payload["last_seen_at"]))
                if device.start <= _time(payload["detected_at"]) < device.end:
                    device.outages += 1

    def _raised(self, alert_id: str, payload: dict[str, Any]) -> None:
        at, device = _time(payload["at"]), self.devices.get(str(payload["device_id"]))
        if device is None or not self.start <= at < self.end:
            return
        device.alerts += 1
        self.alerts[alert_id] = _Alert(str(payload["rule_id"]), str(payload["severity"]), at)

    def rows(self) -> Iterator[ReportRow]:
        devices = sorted(self.devices.items(), key=lambda item: (item[1].name, item[0]))
        for _, device in devices:
            device.online_until(device.end)
        behind = {key: self.behind(d.device_type, d.version) for key, d in devices}
        fleet, rules = _Tally(), dict[str, _Tally]()
        for alert in self.alerts.values():
            fleet.add(alert)
            rules.setdefault(alert.rule_id, _Tally()).add(alert)

        observed = sum(d.observed_s for _, d in devices)
        summary: list[tuple[str, float]] = [("devices", len(devices))]
        if observed:
            summary.append(("uptime_pct", 100 * sum(d.online_s for _, d in devices) / observed))
        summary.append(("outages", sum(d.outages for _, d in devices)))
        summary += fleet.metrics()
        summary.append(("behind_latest", sum(behind.values())))
        if devices:
            summary.append(("compliance_pct", 100 * (1 - sum(behind.values()) / len(devices))))
        yield from (("summary", "fleet", "fleet", m, float(v)) for m, v in summary)

        for key, d in devices:
            metrics: list[tuple[str, float]] = []
            if d.observed_s:
                metrics.append(("uptime_pct", 100 * d.online_s / d.observed_s))
            metrics += [("online_s", d.online_s), ("observed_s", d.observed_s),
                        ("outages", d.outages), ("alerts", d.alerts),
                        ("behind_latest", int(behind[key]))]  # fmt: skip
            yield from (("device", key, d.name, m, float(v)) for m, v in metrics)

        for rule_id, tally in sorted(rules.items(), key=lambda r: (-r[1].raised, r[0])):
            name = self.rule_names(rule_id) or rule_id
            yield from (("rule", rule_id, name, m, float(v)) for m, v in tally.metrics())

        versions: dict[tuple[str, str], list[int]] = {}
        for key, d in devices:
            counts = versions.setdefault((d.device_type, d.version or "(none)"), [0, 0])
            counts[0] += 1
            counts[1] += behind[key]
        for (device_type, version), (count, late) in sorted(versions.items()):
            yield ("firmware", device_type, version, "devices", float(count))
            yield ("firmware", device_type, version, "behind_latest", float(late))
