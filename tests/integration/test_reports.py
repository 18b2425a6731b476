"""A month's fleet report below the API (docs/analytics.md 20.4), on SQLite and DynamoDB Local:
devices of two tags send through the real ingestion handler (so they come online), the alerting
manager raises an alert on one and it is acknowledged; the report of this month and tag
`north`, run by the exporter, has exactly the north devices, the alert, its rule's name and
acknowledgement, and an uptime within the devices' observed time; a report whose tag names no
device has none and is still a report."""

from __future__ import annotations

import csv
import io
import time
import uuid
from datetime import UTC, datetime, timedelta

from event_store.envelope import EventMetadata
from fleetwatch.bootstrap import System, build_system
from fleetwatch.settings import Settings
from ingestion.settings import IngestSettings
from tests.integration.test_replay import RULE
from write_side.alert_commands import AcknowledgeAlert, CreateAlertRule
from write_side.alert_rules import parse_rule_definition
from write_side.commands import RegisterDevice
from write_side.credentials import IssueDeviceCredential
from write_side.export_service import RequestExport
from write_side.exports import ExportFormat, ExportKind, ExportStatus, month_range
from write_side.ingestion import Submission

META = EventMetadata("acme", "user:alice")


def fleet(system: System) -> dict[str, uuid.UUID]:
    """Three pumps (two `north`, one `south`), all sending; the first north one too hot."""
    system.alert_service.create_rule(CreateAlertRule(definition=parse_rule_definition(RULE)), META)
    devices: dict[str, uuid.UUID] = {}
    submissions = []
    now = datetime.now(UTC)
    for name, tag, temperature in (("n1", "north", 90.0), ("n2", "north", 20.0),
                                   ("s1", "south", 95.0)):  # fmt: skip
        saved = system.device_service.register(
            RegisterDevice(name=name, device_type="pump", tags=[tag]), META
        )
        device = devices[name] = saved.aggregate.id
        token = system.device_service.issue_credential(
            IssueDeviceCredential(device_id=device), META
        )
        submissions += [
            Submission({"device_id": str(device), "message_id": f"{name}-{i}",
                        "timestamp": (now - timedelta(seconds=3 - i)).isoformat(),
                        "metrics": {"temperature": temperature}}, "http", token.token)
            for i in range(3)
        ]  # fmt: skip
    assert system.ingest is not None
    assert all(r.status == "accepted" for r in system.ingest.ingest(submissions))
    deadline = time.monotonic() + 20
    raised: list[uuid.UUID] = []
    while len(raised) < 2:  # n1 and s1
        assert time.monotonic() < deadline, "no alerts raised"
        time.sleep(0.05)
        feed = system.event_log.read_feed(limit=1000, types=("Alert.Raised",))
        raised = [uuid.UUID(e.stream_id) for e in feed]
    for alert in raised:
        system.alert_service.acknowledge(AcknowledgeAlert(alert_id=alert), META)
    assert system.wait_for(system.event_log.head(), timeout=20)
    return devices


def report(system: System, tag: str) -> list[dict[str, str]]:
    assert system.exports is not None
    start, end = month_range(f"{datetime.now(UTC):%Y-%m}")
    command = RequestExport(
        ExportKind.REPORT, ExportFormat.CSV, start, end, in_process=True, tag=tag
    )
    export = system.exports.service.request(command, META).aggregate
    done = system.exports.exporter.run("acme", export.id)
    assert done.status is ExportStatus.COMPLETED, done.reason
    assert done.object_key is not None
    text = b"".join(system.blobs.read_range(done.object_key)).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_a_tags_report_on_each_store(store_settings: Settings) -> None:
    system = build_system(store_settings, IngestSettings(ingest_flush_ms=5))
    system.start()
    try:
        devices = fleet(system)
        rows = report(system, "north")
        nobody = report(system, "nowhere")
    finally:
        system.close()

    def section(name: str) -> dict[tuple[str, str], float]:
        return {(r["subject_id"], r["metric"]): float(r["value"]) for r in rows
                if r["section"] == name}  # fmt: skip

    summary = {metric: value for (_, metric), value in section("summary").items()}
    assert summary["devices"] == 2
    assert summary["alerts_raised"] == summary["alerts_critical"] == 1  # not the south one's
    assert summary["acknowledged"] == 1
    assert summary["mtta_s"] >= 0
    assert 0 < summary["uptime_pct"] <= 100
    device = section("device")
    assert {subject for subject, _ in device} == {str(devices["n1"]), str(devices["n2"])}
    for name in ("n1", "n2"):
        key = str(devices[name])
        assert 0 < device[(key, "online_s")] <= device[(key, "observed_s")]
    assert device[(str(devices["n1"]), "alerts")] == 1
    assert {r["subject"] for r in rows if r["section"] == "rule"} == {"too hot"}
    assert [(r["metric"], r["value"]) for r in nobody] == [
        ("devices", "0.0"), ("outages", "0.0"), ("alerts_raised", "0.0"), ("alerts_info", "0.0"),
        ("alerts_warning", "0.0"), ("alerts_critical", "0.0"), ("acknowledged", "0.0"),
        ("resolved", "0.0"), ("behind_latest", "0.0"),
    ]  # fmt: skip
