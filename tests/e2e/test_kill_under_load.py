"""Kill -9 under load (issue 14), on SQLite and on DynamoDB Local: MQTT ingestion runs in one
`fleetwatch projections run` process, the telemetry and device-status consumers and the
alerting process manager in another, and the other consumers of telemetry and alerts (the
alerts view, the dashboard, the tamper-evidence ledger, the Parquet writer) in a third; while
devices publish over the real Mosquitto (QoS 1), each process is killed with SIGKILL once and
started again, and devices send some messages a second time (a retry after a lost PUBACK).
Afterwards every message sent is in the event store exactly once, and the telemetry and
device-status read models show exactly what was sent: nothing lost, nothing repeated; so do
the dashboard's message count, the Parquet files' rows (each message once) and the alerts
view (one alert per device); the ledger covers every event and verifies without a finding.
A for-duration rule's run is pending on every device when the consumers are killed: it is
raised once per device when its 30 s are up, because the restarted manager restored its
snapshot (taken every 0.5 s here); it would restart empty without one."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import duckdb
import orjson
import paho.mqtt.client as mqtt
import pytest
from local_services import MOSQUITTO, endpoint
from paho.mqtt.enums import CallbackAPIVersion

from event_store.envelope import EventMetadata
from fleetwatch.bootstrap import System, build_system
from fleetwatch.ledger import verify_store
from fleetwatch.settings import Settings
from ingestion.mqtt_session import end_session
from read_side.alerts.port import AlertFilter
from read_side.alerts.rows import AlertRow
from read_side.telemetry.port import HistoryQuery
from tests.e2e.conftest import TEST_SECRET, new_tenant
from tests.e2e.fleet_process import FleetProcess
from write_side.alert_commands import CreateAlertRule
from write_side.alert_rules import parse_rule_definition
from write_side.alerts import ALERT_RAISED
from write_side.commands import RegisterDevice
from write_side.credentials import IssueDeviceCredential
from write_side.telemetry_log import TELEMETRY_BATCH_RECORDED

# 1,000 messages at 100 a second. What arrives while ingestion is down (about 4 s on a loaded
# machine) queues in its broker session, and Mosquitto drops what exceeds its default
# max_queued_messages (1,000, in flight included): at 150 a second a loaded run lost 49.
DEVICES, PER_DEVICE, RATE = 20, 50, 100
RETRIED = 60  # messages sent a second time
SUSTAINED = {
    "name": "warm for 30 s", "scope": {"device_type": "pump"}, "severity": "warning",
    "condition": {
        "kind": "for_duration", "metric": "temperature", "op": ">", "value": 10, "seconds": 30,
    },
}  # fmt: skip
RAISED_AFTER = timedelta(seconds=41)  # temperature k at t0 + k s: above 10 from k = 11


def test_kill_9_of_ingestion_and_of_the_consumers_loses_and_repeats_nothing(
    store_settings: Settings, mqtt_url: str, tmp_path: Path
) -> None:
    # Device time starts now and runs ahead of the wall clock (each device's message k is at
    # t0 + k seconds, all sent within about 7 s), so the manager's wall-clock ticks raise
    # nothing before the readings do.
    t0 = datetime.now(UTC).replace(microsecond=0)
    settings = store_settings.model_copy(
        update={
            "blob_dir": tmp_path / "blobs", "analytics_dir": tmp_path / "analytics",
            "run_projections": False, "redis_url": None,
            "jwt_secret": TEST_SECRET,  # the processes' (`FleetProcess`): the ledger's key
        }
    )  # fmt: skip
    system = build_system(settings)  # to register devices and read the results: no workers
    tenant = new_tenant()
    fleet = register(system, tenant)
    rule = CreateAlertRule(definition=parse_rule_definition(SUSTAINED))
    system.alert_service.create_rule(rule, EventMetadata(tenant, "user:admin"))
    # A group of its own: a stopped member of a group keeps a share of its messages for as
    # long as its session lives (`ingestion.mqtt_session`), here another test's member.
    client_id, group = f"ingest-{uuid.uuid4().hex[:8]}", f"kill-{uuid.uuid4().hex[:8]}"
    ingestion = FleetProcess(
        settings, tmp_path / "ingestion.log",
        FLEETWATCH_PROJECTIONS="users", FLEETWATCH_MQTT_URL=mqtt_url,
        FLEETWATCH_INSTANCE_ID=f"{client_id}-process",  # restarted: takes its leases back
        FLEETWATCH_MQTT_CLIENT_ID=client_id, FLEETWATCH_MQTT_SHARED_GROUP=group,
    )  # fmt: skip
    consumers = FleetProcess(
        settings, tmp_path / "consumers.log",
        FLEETWATCH_PROJECTIONS="telemetry,device_status,alerting",
        FLEETWATCH_ALERTING_SNAPSHOT_INTERVAL="0.5",
        FLEETWATCH_INSTANCE_ID=f"consumers-{client_id}",
    )  # fmt: skip
    others = FleetProcess(
        settings, tmp_path / "others.log",
        FLEETWATCH_PROJECTIONS="alerts,dashboard,ledger,parquet",
        FLEETWATCH_INSTANCE_ID=f"others-{client_id}",
        FLEETWATCH_ANALYTICS_FLUSH_READINGS="100",  # files written before and after the kill
        FLEETWATCH_ANALYTICS_FLUSH_SECONDS="1",
    )  # fmt: skip
    processes = (ingestion, consumers, others)
    messages = [(device, k) for k in range(PER_DEVICE) for device in fleet]  # round robin
    publisher = Publisher(mqtt_url, fleet, t0)
    try:
        for process in processes:
            process.start()
        until(lambda: all("running:" in p.tail() for p in processes), 60)
        publisher.connect()
        for n, (device, k) in enumerate(messages):
            publisher.send(device, k)
            if n == len(messages) // 3:
                ingestion.kill()
                ingestion.start()  # what the broker holds meanwhile waits in its session
            if n == len(messages) // 2:
                for again, k_again in messages[n - RETRIED : n]:
                    publisher.send(again, k_again)  # as stored, or in flight at the kill
                # Killed with work committed (files written, counts kept) and more coming.
                until(lambda: has_written(system, tenant, settings.analytics_path), 30)
                others.kill()
                others.start()
            if n == 2 * len(messages) // 3:
                consumers.kill()
                consumers.start()
            time.sleep(1 / RATE)
        publisher.wait_acknowledged()

        def history(device: UUID) -> list[tuple[str, float]]:
            end = t0 + timedelta(seconds=PER_DEVICE)
            query = HistoryQuery.checked(device, "temperature", t0, end, first=1000)
            return [(r.message_id, r.value) for r in system.telemetry.readings(tenant, query).items]

        def caught_up() -> bool:  # both models show each device's last message
            return all(
                row is not None and row.last_values.get("temperature") == PER_DEVICE - 1
                for row in (system.devices.get(tenant, d) for d in fleet)
            ) and all(len(history(d)) >= PER_DEVICE for d in fleet)

        def progress() -> str:
            rows = [system.devices.get(tenant, d) for d in fleet]
            last = Counter(r.last_values.get("temperature") if r else None for r in rows)
            stored = sum(stored_message_ids(system, tenant).values())
            logs = "".join(p.tail() for p in processes)
            return f"newest temperatures {last}; stored {stored} of {len(messages)}\n{logs}"

        until(caught_up, 120, progress)
        until(lambda: len(raised(system, tenant)) >= DEVICES, 30, progress)
        until(lambda: others_caught_up(system, tenant, settings.analytics_path), 60, progress)
        stored = stored_message_ids(system, tenant)
        assert (ingestion.kills, consumers.kills, others.kills) == (1, 1, 1)
        assert publisher.sent == len(messages) + RETRIED
        repeated = {key: count for key, count in stored.items() if count > 1}
        assert repeated == {}, "stored twice"
        assert set(stored) == {(d, f"m{k}") for d, k in messages}, "lost"
        assert sorted(raised(system, tenant)) == sorted((d, t0 + RAISED_AFTER) for d in fleet)
        for device in fleet:
            assert history(device) == [(f"m{k}", float(k)) for k in range(PER_DEVICE)]
            row = system.devices.get(tenant, device)
            assert row is not None
            assert row.online is True
            assert row.last_values_at["temperature"] == t0 + timedelta(seconds=PER_DEVICE - 1)
        assert dashboard_messages(system, tenant) == len(messages)
        assert parquet_messages(settings.analytics_path, tenant) == Counter(
            {(str(d), f"m{k}"): 1 for d, k in messages}
        )
        alerts = alert_rows(system, tenant)
        assert sorted(a.device_id for a in alerts) == sorted(fleet)
        assert {(a.episode, a.state) for a in alerts} == {(1, "open")}
        assert system.ledger is not None
        report = verify_store(system.app, system.settings, system.ledger)
        assert report.findings == []
        assert report.pending == 0
    finally:
        publisher.close()
        for process in processes:
            process.stop()
        for session in (client_id, f"{client_id}-jobs"):
            end_session(mqtt_url, session)
        system.close()


def others_caught_up(system: System, tenant: str, analytics: Path) -> bool:
    """The third process's models show every message (each may still lag behind)."""
    assert system.ledger is not None
    covered = system.ledger.checkpoint() >= system.event_log.head()
    return (
        covered
        and dashboard_messages(system, tenant) >= DEVICES * PER_DEVICE
        and sum(parquet_messages(analytics, tenant).values()) >= DEVICES * PER_DEVICE
        and len(alert_rows(system, tenant)) >= DEVICES
    )


def has_written(system: System, tenant: str, analytics: Path) -> bool:
    return dashboard_messages(system, tenant) > 0 and bool(parquet_messages(analytics, tenant))


def dashboard_messages(system: System, tenant: str) -> int:
    assert system.dashboard is not None
    return system.dashboard.dashboard(tenant, datetime.now(UTC)).messages_last_hour


def parquet_messages(analytics: Path, tenant: str) -> Counter[tuple[str, str]]:
    """How many times each (device, message id) has a row in the tenant's Parquet files."""
    files = sorted(analytics.glob("**/*.parquet"))
    if not files:
        return Counter()
    rows = duckdb.execute(
        "SELECT device_id, message_id FROM read_parquet($files, hive_partitioning = true) "
        "WHERE tenant_id = $tenant",
        {"files": [str(f) for f in files], "tenant": tenant},
    ).fetchall()
    return Counter((str(device), str(message)) for device, message in rows)


def alert_rows(system: System, tenant: str) -> list[AlertRow]:
    return list(system.alerts.list_alerts(tenant, AlertFilter(), 100, None).items)


def register(system: System, tenant: str) -> dict[UUID, str]:
    """DEVICES devices with credentials: id -> token."""
    meta = EventMetadata(tenant, "user:admin")
    fleet = {}
    for i in range(DEVICES):
        command = RegisterDevice(name=f"kill-{i}", device_type="pump")
        device = system.device_service.register(command, meta).aggregate.id
        issued = system.device_service.issue_credential(
            IssueDeviceCredential(device_id=device), meta
        )
        fleet[device] = issued.token
    return fleet


def stored_message_ids(system: System, tenant: str) -> Counter[tuple[UUID, str]]:
    """How many times each (device, message id) is recorded in the event store."""
    found: Counter[tuple[UUID, str]] = Counter()
    batches = system.event_log.read_range(
        after=0,
        up_to=system.event_log.head(),
        tenant_id=tenant,
        types=(TELEMETRY_BATCH_RECORDED.type,),
    )
    for envelope in batches:
        device = UUID(str(envelope.payload["device_id"]))
        found.update((device, str(e["message_id"])) for e in envelope.payload["entries"])
    return found


def raised(system: System, tenant: str) -> list[tuple[UUID, datetime]]:
    """Each alert raised: its device and when."""
    events = system.event_log.read_range(
        after=0, up_to=system.event_log.head(), tenant_id=tenant, types=(ALERT_RAISED.type,)
    )
    return [
        (UUID(str(e.payload["device_id"])), datetime.fromisoformat(str(e.payload["at"])))
        for e in events
    ]


class Publisher:
    """The devices' side: QoS 1 publishes to `devices/<id>/telemetry`, token in the payload."""

    def __init__(self, mqtt_url: str, fleet: dict[UUID, str], t0: datetime) -> None:
        self.host, self.port = endpoint(mqtt_url, MOSQUITTO.default_port)
        self.fleet, self.t0 = fleet, t0
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"devices-{uuid.uuid4()}")
        self.client.max_queued_messages_set(0)
        self.client.max_inflight_messages_set(100)
        self.infos: list[mqtt.MQTTMessageInfo] = []
        self.sent = 0

    def connect(self) -> None:
        self.client.connect(self.host, self.port)
        self.client.loop_start()

    def send(self, device: UUID, k: int) -> None:
        at = self.t0 + timedelta(seconds=k)
        body = {
            "device_id": str(device), "message_id": f"m{k}", "timestamp": at.isoformat(),
            "metrics": {"temperature": float(k)}, "token": self.fleet[device],
        }  # fmt: skip
        info = self.client.publish(f"devices/{device}/telemetry", orjson.dumps(body), qos=1)
        self.infos.append(info)
        self.sent += 1

    def wait_acknowledged(self) -> None:
        for info in self.infos:
            info.wait_for_publish(30)
            assert info.is_published()

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def until(check: Callable[[], bool], within: float, tail: Callable[[], str] | None = None) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            detail = "" if tail is None else tail()
            pytest.fail(f"not reached within {within} s\n{detail}")
        time.sleep(0.1)
