"""Per-device X.509 certificates on a real Mosquitto (docs/ingestion.md: certificates).

The broker is this module's own: a TLS listener on a free port, configured by
`fleetwatch mqtt broker-config` from an authority and certificates that `fleetwatch mqtt ca` and
`issue` made, exactly as an operator does it. Mosquitto is the machine's (installed with apt-get
when missing, as for `mqtt_url`); this fails, never skips, when it can not be started.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from local_services import MOSQUITTO, SEARCH_PATH, ServiceUnavailable, apt_install
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.reasoncodes import ReasonCode
from typer.testing import CliRunner

from event_store.envelope import EventMetadata
from fleetwatch.bootstrap import System, build_system
from fleetwatch.cli import app as cli
from fleetwatch.settings import Settings
from ingestion.settings import IngestSettings
from ingestion.x509 import Issued, issue, new_authority
from write_side.commands import DecommissionDevice, RegisterDevice
from write_side.telemetry_log import telemetry_id

META = EventMetadata("acme", "user:alice")
runner = CliRunner()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(*args: str) -> str:
    result = runner.invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


@dataclass
class Broker:
    port: int
    ca: Path  # the authority's directory
    certs: Path  # issued certificates: <name>.pem, <name>.key
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"mqtts://127.0.0.1:{self.port}"

    def reload(self) -> None:
        """What an operator does after a revocation: the broker reads its list again."""
        self.process.send_signal(signal.SIGHUP)
        time.sleep(0.3)


def _mosquitto() -> str:
    binary = shutil.which(MOSQUITTO.binary, path=SEARCH_PATH)
    if binary is None:
        try:
            apt_install([MOSQUITTO.package])
        except ServiceUnavailable as e:  # pragma: no cover - environment problem
            pytest.fail(f"Mosquitto is required and is not there: {e}")
        binary = shutil.which(MOSQUITTO.binary, path=SEARCH_PATH)
    if binary is None:  # pragma: no cover - environment problem
        pytest.fail("Mosquitto is required and is not there")
    return binary


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    base = tmp_path_factory.mktemp("x509")
    ca, certs, port = base / "ca", base / "certs", _free_port()
    _run("mqtt", "ca", str(ca))
    _run("mqtt", "issue", "broker", "--service", "--server-name", "127.0.0.1",
         "--ca", str(ca), "--out", str(certs))  # fmt: skip
    _run("mqtt", "issue", "fleetwatch", "--service", "--ca", str(ca), "--out", str(certs))
    _run("mqtt", "broker-config", "--ca", str(ca), "--out", str(base / "broker"),
         "--cert", str(certs / "broker.pem"), "--key", str(certs / "broker.key"),
         "--port", str(port), "--bind", "127.0.0.1")  # fmt: skip
    if os.getuid() == 0:  # else Mosquitto runs as `mosquitto`, who can not read our 0600 keys
        with (base / "broker" / "mosquitto.conf").open("a") as config:
            config.write("user root\n")
    log = (base / "mosquitto.log").open("wb")
    process = subprocess.Popen(
        [_mosquitto(), "-c", str(base / "broker" / "mosquitto.conf")], stdout=log, stderr=log
    )
    deadline = time.monotonic() + 10
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            break
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"Mosquitto did not start: {(base / 'mosquitto.log').read_text()}")
        time.sleep(0.05)
    try:
        yield Broker(port, ca, certs, process)
    finally:
        process.terminate()
        process.wait(10)
        log.close()


@pytest.fixture
def system(tmp_path: Path, broker: Broker, monkeypatch: pytest.MonkeyPatch) -> Iterator[System]:
    settings = Settings(sqlite_path=tmp_path / "fleet.sqlite3")
    monkeypatch.setenv("FLEETWATCH_SQLITE_PATH", str(settings.sqlite_path))  # for the CLI
    ingest = IngestSettings(
        mqtt_url=broker.url,
        mqtt_client_id=f"fleetwatch-{uuid.uuid4().hex[:8]}",
        mqtt_shared_group=None,
        mqtt_ca_file=broker.ca / "ca.pem",
        mqtt_cert_file=broker.certs / "fleetwatch.pem",
        mqtt_key_file=broker.certs / "fleetwatch.key",
        mqtt_device_auth="certificate",
        ingest_flush_ms=5,
    )
    built = build_system(settings, ingest)
    built.start()  # raises unless both subscribers' certificates were accepted
    yield built
    built.close()


def register(system: System) -> uuid.UUID:
    saved = system.device_service.register(RegisterDevice(name="pump", device_type="pump"), META)
    return saved.aggregate.id


class Device:
    """A device's MQTT client over TLS with its own certificate (or none)."""

    def __init__(self, broker: Broker, cert: Path | None, ca: Path | None = None) -> None:
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"dev-{uuid.uuid4().hex[:8]}",
            protocol=MQTTProtocolVersion.MQTTv5,
        )
        key = cert.with_suffix(".key") if cert else None
        self.client.tls_set(
            ca_certs=str(ca or broker.ca / "ca.pem"),
            certfile=str(cert) if cert else None,
            keyfile=str(key) if key else None,
        )
        self.acks: dict[int, ReasonCode] = {}
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.client.on_publish = lambda _c, _u, mid, reason, _p: self.acks.__setitem__(mid, reason)
        self.client.on_message = lambda _c, _u, m: self.received.append(
            (m.topic, json.loads(m.payload))
        )
        self.broker = broker

    def connect(self) -> bool:
        """Whether the broker let us in (TLS handshake and CONNACK)."""
        accepted: list[bool] = []
        self.client.on_connect = lambda *a: accepted.append(not a[3].is_failure)
        # TLS 1.3: a refused client certificate shows after the handshake, as a disconnect
        self.client.on_disconnect = lambda *_: accepted.append(False)
        try:
            self.client.connect("127.0.0.1", self.broker.port)
        except (ssl.SSLError, OSError):
            return False
        self.client.loop_start()
        deadline = time.monotonic() + 3
        while not accepted and time.monotonic() < deadline:
            time.sleep(0.02)
        return accepted[:1] == [True]

    def publish(self, topic: str, body: dict[str, Any]) -> ReasonCode:
        info = self.client.publish(topic, json.dumps(body), qos=1)
        wait_until(lambda: info.mid in self.acks)
        return self.acks[info.mid]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def devices() -> Iterator[Callable[[Device], Device]]:
    opened: list[Device] = []

    def track(device: Device) -> Device:
        opened.append(device)
        return device

    yield track
    for device in opened:
        device.close()


def wait_until(check: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail("timed out")
        time.sleep(0.02)


def message(device_id: uuid.UUID, message_id: str) -> dict[str, Any]:
    return {
        "device_id": str(device_id),
        "message_id": message_id,
        "timestamp": datetime.now(UTC).isoformat(),
        "metrics": {"temperature": 21.5},
    }


def stored(system: System, device_id: uuid.UUID) -> list[str]:
    events = system.app.events.get(telemetry_id("acme", device_id))
    return [e["message_id"] for ev in events for e in getattr(ev, "entries", ())]


def certificate(broker: Broker, device_id: uuid.UUID) -> Path:
    _run("mqtt", "issue", str(device_id), "--tenant", "acme",
         "--ca", str(broker.ca), "--out", str(broker.certs))  # fmt: skip
    return broker.certs / f"{device_id}.pem"


def test_the_certificate_is_the_device_no_token_needed_and_only_its_own_topic(
    system: System, broker: Broker, devices: Callable[[Device], Device]
) -> None:
    a, b = register(system), register(system)
    device = devices(Device(broker, certificate(broker, a)))
    assert device.connect()
    assert not device.publish(f"devices/{a}/telemetry", message(a, "m1")).is_failure
    refused = device.publish(f"devices/{b}/telemetry", message(b, "m2"))  # b's topic
    assert refused.is_failure
    assert str(refused) == "Not authorized"
    # its own topic, another device's message: the handler refuses it
    assert not device.publish(f"devices/{a}/telemetry", message(b, "m3")).is_failure
    assert system.mqtt is not None
    wait_until(lambda: system.mqtt is not None and system.mqtt.acked == 2)
    assert stored(system, a) == ["m1"]
    assert stored(system, b) == []
    assert system.ingest is not None
    counts = system.ingest.handler.counters.snapshot()
    assert counts["messages"] == {"accepted": 1, "rejected": 1}
    assert counts["rejected_by_code"] == {"UNAUTHENTICATED": 1}


def test_a_device_not_registered_or_decommissioned_is_refused_by_the_registry(
    system: System, broker: Broker, devices: Callable[[Device], Device]
) -> None:
    a, ghost = register(system), uuid.uuid4()
    issued_a = certificate(broker, a)
    # The CLI issues certificates for registered devices only; the authority's key can sign
    # one for any name, and the registry still refuses it.
    ours = Issued((broker.ca / "ca.pem").read_bytes(), (broker.ca / "ca.key").read_bytes(), 0)
    ghost_cert = issue(ours, str(ghost))
    (broker.certs / f"{ghost}.pem").write_bytes(ghost_cert.certificate)
    (broker.certs / f"{ghost}.key").write_bytes(ghost_cert.key)

    ghost_device = devices(Device(broker, broker.certs / f"{ghost}.pem"))
    assert ghost_device.connect()
    assert not ghost_device.publish(f"devices/{ghost}/telemetry", message(ghost, "g1")).is_failure
    system.device_service.decommission(DecommissionDevice(device_id=a, reason="scrapped"), META)
    device = devices(Device(broker, issued_a))
    assert device.connect()
    assert not device.publish(f"devices/{a}/telemetry", message(a, "m1")).is_failure
    wait_until(lambda: system.mqtt is not None and system.mqtt.acked == 2)
    assert system.ingest is not None
    counts = system.ingest.handler.counters.snapshot()
    assert counts["rejected_by_code"] == {"UNKNOWN_DEVICE": 1, "DEVICE_DECOMMISSIONED": 1}
    assert stored(system, a) == []


def test_a_revoked_certificate_is_refused_and_a_new_one_works(
    system: System, broker: Broker, devices: Callable[[Device], Device]
) -> None:
    a = register(system)
    first = certificate(broker, a)
    assert devices(Device(broker, first)).connect()
    _run("mqtt", "revoke", str(first), "--ca", str(broker.ca))
    broker.reload()
    assert not devices(Device(broker, first)).connect()
    second_dir = broker.certs / "renewed"
    _run("mqtt", "issue", str(a), "--tenant", "acme", "--ca", str(broker.ca),
         "--out", str(second_dir))  # fmt: skip
    renewed = devices(Device(broker, second_dir / f"{a}.pem"))
    assert renewed.connect()
    assert not renewed.publish(f"devices/{a}/telemetry", message(a, "m1")).is_failure
    wait_until(lambda: stored(system, a) == ["m1"])


def test_no_certificate_or_another_authoritys_is_refused(
    system: System, broker: Broker, devices: Callable[[Device], Device], tmp_path: Path
) -> None:
    a = register(system)
    assert not devices(Device(broker, None)).connect()
    stranger = new_authority("Someone else's CA")
    forged = issue(stranger, str(a))
    (tmp_path / "forged.pem").write_bytes(forged.certificate)
    (tmp_path / "forged.key").write_bytes(forged.key)
    assert not devices(Device(broker, tmp_path / "forged.pem")).connect()


def test_a_job_update_is_authenticated_by_the_certificate(
    system: System, broker: Broker, devices: Callable[[Device], Device]
) -> None:
    """No token in the update: the certificate proved the device, so the service looks the
    execution up (there is none: NOT_FOUND, not UNAUTHENTICATED)."""
    a = register(system)
    device = devices(Device(broker, certificate(broker, a)))
    assert device.connect()
    device.client.subscribe(f"devices/{a}/jobs/#", qos=1)
    time.sleep(0.2)
    execution = str(uuid.uuid4())
    update = {"seq": 1, "status": "IN_PROGRESS"}
    assert not device.publish(f"devices/{a}/jobs/{execution}/update", update).is_failure
    wait_until(lambda: any(t.endswith("/rejected") for t, _ in device.received))
    answers = [body for topic, body in device.received if topic.endswith("/rejected")]
    assert answers[0]["code"] != "UNAUTHENTICATED"
    assert answers[0]["seq"] == 1


def test_the_cli_issues_certificates_for_registered_devices_only(
    system: System, broker: Broker, tmp_path: Path
) -> None:
    unknown = runner.invoke(cli, ["mqtt", "issue", str(uuid.uuid4()), "--tenant", "acme",
                                  "--ca", str(broker.ca), "--out", str(tmp_path)])  # fmt: skip
    assert unknown.exit_code == 2
    assert "no device" in unknown.output
    a = register(system)
    other_tenant = runner.invoke(cli, ["mqtt", "issue", str(a), "--tenant", "globex",
                                       "--ca", str(broker.ca), "--out", str(tmp_path)])  # fmt: skip
    assert other_tenant.exit_code == 2
    uuid_service = runner.invoke(cli, ["mqtt", "issue", str(a), "--service",
                                       "--ca", str(broker.ca), "--out", str(tmp_path)])  # fmt: skip
    assert uuid_service.exit_code == 2
    assert "must not be one" in uuid_service.output
    assert list(tmp_path.glob("*.pem")) == []
    again = runner.invoke(cli, ["mqtt", "ca", str(broker.ca)])
    assert again.exit_code == 2
    assert "already holds" in again.output


def test_certificate_auth_needs_a_tls_url(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FLEETWATCH_MQTT_URL", "mqtt://127.0.0.1:1883")
    monkeypatch.setenv("FLEETWATCH_MQTT_DEVICE_AUTH", "certificate")
    result = runner.invoke(cli, ["mqtt", "ca", str(tmp_path / "ca")])
    assert result.exit_code == 2
    assert "needs an mqtts:// FLEETWATCH_MQTT_URL" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not (tmp_path / "ca").exists()
