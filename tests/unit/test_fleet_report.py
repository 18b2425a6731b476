"""The fleet report's figures (docs/analytics.md 20.4), from devices and events alone: uptime
from the connectivity events clipped to each device's observed time, outages, alerts by rule
and severity with MTTA/MTTR, firmware compliance; and the HTML page that shows them."""

from __future__ import annotations

import itertools
import re
import uuid
from datetime import datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from event_store.envelope import EventEnvelope
from projections.report import FleetReport, ReportRow
from projections.report_html import render
from read_side.device_status.row import DeviceStatus
from tests.unit.envelopes import recorded
from write_side.alerts import ALERT_ACKNOWLEDGED, ALERT_RAISED, ALERT_RESOLVED
from write_side.exports import month_range
from write_side.telemetry_log import TELEMETRY_DEVICE_CAME_ONLINE, TELEMETRY_DEVICE_WENT_OFFLINE

START, END = month_range("2026-11")  # 30 days
DAY = timedelta(days=1)
_positions = itertools.count(1)


def device(
    name: str, registered: datetime, version: str | None = "1.0.0", **more: Any
) -> DeviceStatus:
    return DeviceStatus(
        device_id=uuid.uuid5(uuid.NAMESPACE_OID, name), tenant_id="acme", name=name,
        device_type="pump", tags=(), metadata={}, lifecycle="active", version=1,
        registered_at=registered, updated_at=registered, firmware_version=version, **more,
    )  # fmt: skip


def event(type_: str, stream: str, when: datetime, /, **payload: Any) -> EventEnvelope:
    position = next(_positions)
    return recorded(type_, payload, stream_id=stream, version=position, at=when, actor="system",
                    position=position)  # fmt: skip


def online(d: DeviceStatus, at: datetime) -> EventEnvelope:
    return event(TELEMETRY_DEVICE_CAME_ONLINE.type, "t", at, device_id=str(d.device_id),
                 at=at.isoformat(), offline_since=None)  # fmt: skip


def offline(d: DeviceStatus, last_seen: datetime, detected: datetime) -> EventEnvelope:
    return event(TELEMETRY_DEVICE_WENT_OFFLINE.type, "t", detected, device_id=str(d.device_id),
                 last_seen_at=last_seen.isoformat(), detected_at=detected.isoformat(),
                 timeout_s=300)  # fmt: skip


def raised(alert: str, d: DeviceStatus, rule: str, severity: str, at: datetime) -> EventEnvelope:
    return event(ALERT_RAISED.type, alert, at, device_id=str(d.device_id), rule_id=rule,
                 severity=severity, at=at.isoformat())  # fmt: skip


def metrics(rows: list[ReportRow], section: str, subject_id: str) -> dict[str, float]:
    return {m: v for s, k, _, m, v in rows if s == section and k == subject_id}


def report(devices: list[DeviceStatus], events: list[EventEnvelope], now: datetime = END + DAY,
           behind: Any = lambda _t, v: v != "2.0.0") -> list[ReportRow]:  # fmt: skip
    built = FleetReport(devices, START, END, now=now, behind=behind, rule_names={"r1": "hot"}.get)
    for e in events:
        built.add(e)
    return list(built.rows())


PUMP = device("pump", START - 30 * DAY)
LATE = device("late", START + 15 * DAY, version="2.0.0")
SILENT = device("silent", START - DAY, version=None)
GONE = device("gone", START - 60 * DAY, decommissioned_at=START - DAY)


def test_uptime_is_the_online_time_within_each_devices_observed_time() -> None:
    events = [
        online(PUMP, START - 5 * DAY),  # online since before the month
        offline(PUMP, START + 10 * DAY, START + 10 * DAY + timedelta(minutes=5)),
        online(PUMP, START + 12 * DAY),  # then online to the end
        online(LATE, START + 15 * DAY),
        online(GONE, START - 50 * DAY),
    ]
    rows = report([PUMP, LATE, SILENT, GONE], events)
    pump = metrics(rows, "device", str(PUMP.device_id))
    assert pump["online_s"] == (10 + 18) * 86400
    assert pump["observed_s"] == 30 * 86400
    assert round(pump["uptime_pct"], 6) == round(100 * 28 / 30, 6)
    assert pump["outages"] == 1
    late = metrics(rows, "device", str(LATE.device_id))
    assert (late["observed_s"], late["uptime_pct"]) == (15 * 86400, 100.0)
    assert metrics(rows, "device", str(SILENT.device_id))["uptime_pct"] == 0.0
    assert metrics(rows, "device", str(GONE.device_id)) == {}  # decommissioned before the month
    summary = metrics(rows, "summary", "fleet")
    assert summary["devices"] == 3
    assert round(summary["uptime_pct"], 6) == round(100 * (28 + 15) / (30 + 15 + 30), 6)
    assert summary["outages"] == 1


def test_a_month_not_over_is_observed_until_now() -> None:
    now = START + 3 * DAY
    rows = report([PUMP], [online(PUMP, START + DAY)], now=now)
    pump = metrics(rows, "device", str(PUMP.device_id))
    assert (pump["observed_s"], pump["online_s"]) == (3 * 86400, 2 * 86400)


def test_alerts_by_rule_and_severity_with_the_mean_times_to_acknowledge_and_resolve() -> None:
    a, b, c, d = (str(uuid.uuid4()) for _ in range(4))
    t = START + 2 * DAY
    events = [
        raised(a, PUMP, "r1", "critical", t),
        raised(b, PUMP, "r1", "warning", t + DAY),
        raised(c, PUMP, "r2", "info", START - DAY),  # before the month: not counted
        raised(d, GONE, "r2", "info", t),  # a device out of scope
        event(ALERT_ACKNOWLEDGED.type, a, t, actor="u", note=None,
              at=(t + timedelta(minutes=10)).isoformat()),
        event(ALERT_ACKNOWLEDGED.type, c, t, actor="u", note=None, at=t.isoformat()),
        event(ALERT_RESOLVED.type, a, t, actor="u", note=None, auto=False, value=None,
              at=(t + timedelta(hours=2)).isoformat()),
        # acknowledged after the month's end: still its MTTA
        event(ALERT_ACKNOWLEDGED.type, b, END, actor="u", note=None, at=(t + 29 * DAY).isoformat()),
    ]  # fmt: skip
    rows = report([PUMP, GONE], events)
    rule = metrics(rows, "rule", "r1")
    assert rule == {
        "alerts_raised": 2, "alerts_info": 0, "alerts_warning": 1, "alerts_critical": 1,
        "acknowledged": 2, "resolved": 1, "mtta_s": (600 + 28 * 86400) / 2, "mttr_s": 7200,
    }  # fmt: skip
    assert metrics(rows, "rule", "r2") == {}
    assert {name for s, _, name, *_ in rows if s == "rule"} == {"hot"}  # its name, not its id
    assert metrics(rows, "device", str(PUMP.device_id))["alerts"] == 2
    assert metrics(rows, "summary", "fleet")["alerts_raised"] == 2


def test_firmware_compliance_per_version_and_per_device() -> None:
    rows = report([PUMP, LATE, SILENT], [])
    assert metrics(rows, "summary", "fleet")["behind_latest"] == 2
    assert round(metrics(rows, "summary", "fleet")["compliance_pct"], 6) == round(100 / 3, 6)
    versions = {(k, name, m): v for s, k, name, m, v in rows if s == "firmware"}
    assert versions[("pump", "2.0.0", "devices")] == 1
    assert versions[("pump", "2.0.0", "behind_latest")] == 0
    assert versions[("pump", "(none)", "behind_latest")] == 1
    assert metrics(rows, "device", str(LATE.device_id))["behind_latest"] == 0
    assert "mtta_s" not in metrics(rows, "summary", "fleet")  # no data, no row


transitions = st.lists(
    st.tuples(st.booleans(), st.integers(-40 * 24, 40 * 24), st.integers(0, 48)), max_size=30
)


@given(transitions, st.integers(-40, 40))
def test_uptime_stays_within_the_observed_time(
    steps: list[tuple[bool, int, int]], born: int
) -> None:
    d = device("d", START + born * DAY)
    at, events = START - 41 * DAY, []
    for up, hours, lag in steps:  # in stream order: times move forward
        at = max(at, START + timedelta(hours=hours))
        if up:
            events.append(online(d, at))
        else:
            events.append(offline(d, at, at + timedelta(minutes=lag)))
    rows = report([d], events)
    m = metrics(rows, "device", str(d.device_id))
    if not m:
        assert born >= 30  # registered after the month: not observed
        return
    assert 0 <= m["online_s"] <= m["observed_s"]
    assert 0.0 <= m["uptime_pct"] <= 100.0


def test_the_page_is_self_contained_and_escapes_what_it_shows() -> None:
    hostile = device("<script>alert(1)</script>", START - DAY)
    a = str(uuid.uuid4())
    rows = report(
        [PUMP, hostile], [online(PUMP, START), raised(a, PUMP, "r1", "critical", START + DAY)]
    )
    page = render(rows, "Fleet report: acme <b>", "2026-11")
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Fleet report: acme &lt;b&gt;" in page
    assert set(re.findall(r'data-chart="(\w+)"', page)) == {
        "uptime",
        "alerts",
        "response",
        "firmware",
    }
    assert page.count("<svg data-chart") == 3  # nothing acknowledged or resolved: no MTTA bars
    assert "default-src 'none'" in page  # nothing is fetched, not even by mistake
    assert re.findall(r"(?:src|href)=", page) == []
    # the worst uptime first in the devices table
    assert page.index("&lt;script&gt;alert(1)") < page.index(">pump<")
