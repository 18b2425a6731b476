"""`DeviceJobs` over MQTT (docs/firmware.md section 12.5): a job document to
`devices/{device_id}/jobs/notify` at QoS 1; `publish` returns once the broker acknowledged it
(PUBACK with a success reason code) and raises `JobNotDelivered` otherwise, so the notice
stays pending and the dispatcher tries again.

The URL is `mqtt://host:port` or `mqtts://host:port` (TLS with the system's CAs, or
`ca_file`, and our own certificate, `cert_file` and `key_file`, where the broker requires one:
docs/ingestion.md: certificates); a user and password in the URL
(`mqtts://fleetwatch:secret@broker:8883`) are the connection's credentials. The broker sees
our client id; several dispatchers need distinct ids.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse
from uuid import UUID

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.reasoncodes import ReasonCode


class JobNotDelivered(RuntimeError):
    """The broker did not acknowledge the job document in time, or refused it."""


def _json_default(value: object) -> str:
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def encode(document: Mapping[str, object]) -> bytes:
    return json.dumps(document, default=_json_default, separators=(",", ":")).encode()


class MqttDeviceJobs:
    def __init__(
        self,
        url: str = "mqtt://127.0.0.1:1883",
        *,
        client_id: str = "fleetwatch-jobs",
        topic_root: str = "devices",
        timeout: float = 10.0,
        ca_file: Path | None = None,
        cert_file: Path | None = None,
        key_file: Path | None = None,
    ) -> None:
        parsed = urlparse(url)
        if parsed.scheme not in ("mqtt", "mqtts"):
            raise ValueError(f"an MQTT URL is mqtt:// or mqtts://, not {parsed.scheme}://")
        tls = parsed.scheme == "mqtts"
        self.host = parsed.hostname or "127.0.0.1"
        self.port = parsed.port or (8883 if tls else 1883)
        self.topic_root, self.timeout = topic_root, timeout
        self.connected = threading.Event()
        self._lock = threading.Lock()
        self._acks: dict[int, ReasonCode] = {}
        self._started = False
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv5
        )
        if parsed.username:
            self.client.username_pw_set(
                unquote(parsed.username), unquote(parsed.password) if parsed.password else None
            )
        if tls:
            self.client.tls_set(
                ca_certs=str(ca_file) if ca_file else None,
                certfile=str(cert_file) if cert_file else None,
                keyfile=str(key_file) if key_file else None,
            )
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda *_: self.connected.clear()
        self.client.on_publish = self._on_publish

    def topic(self, device_id: UUID) -> str:
        return f"{self.topic_root}/{device_id}/jobs/notify"

    def start(self) -> None:
        """Connect (once); raises `JobNotDelivered` when the broker does not accept us."""
        with self._lock:
            if not self._started:
                try:
                    self.client.connect(self.host, self.port, keepalive=30)
                except OSError as e:
                    raise JobNotDelivered(f"MQTT broker {self.host}:{self.port}: {e}") from e
                self.client.loop_start()
                self._started = True
        if not self.connected.wait(self.timeout):
            raise JobNotDelivered(f"MQTT broker {self.host}:{self.port} did not accept us")

    def publish(self, tenant_id: str, device_id: UUID, document: Mapping[str, object]) -> None:
        """Publish at QoS 1 and wait for the broker's PUBACK (the tenant is the device's;
        the device id alone names the topic, as the device's credential does)."""
        self.start()
        info = self.client.publish(self.topic(device_id), encode(document), qos=1)
        try:
            info.wait_for_publish(self.timeout)
        except (RuntimeError, ValueError) as e:
            raise JobNotDelivered(f"job for device {device_id} not sent: {e}") from e
        if not info.is_published():
            raise JobNotDelivered(f"no PUBACK for the job of device {device_id} in time")
        with self._lock:
            reason = self._acks.pop(info.mid, None)
        if reason is not None and reason.is_failure:
            raise JobNotDelivered(f"the broker refused the job of device {device_id}: {reason}")

    def close(self) -> None:
        with self._lock:
            if self._started:
                self.client.disconnect()
                self.client.loop_stop()
                self._started = False

    def _on_connect(self, _: mqtt.Client, __: Any, ___: Any, reason: ReasonCode, ____: Any) -> None:
        if not reason.is_failure:
            self.connected.set()

    def _on_publish(self, _: mqtt.Client, __: Any, mid: int, reason: ReasonCode, ___: Any) -> None:
        with self._lock:
            self._acks[mid] = reason
