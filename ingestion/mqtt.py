"""MQTT transport: a long-running subscriber on `devices/+/telemetry` (QoS 1).

Acknowledgement after commit: the client runs paho-mqtt 2.x with manual acks
(`manual_ack=True`), so paho sends no PUBACK by itself; each message's PUBACK is sent with
`client.ack(mid, 1)` only when the ingestion service has its final result (committed, duplicate of
a committed message, or definitively rejected and counted). PUBACKs go out in the order the
messages arrived (MQTT 4.6), so an early refusal waits for the commits before it. A message
whose commit never happened (the service stopped) is never acknowledged: the broker keeps it in
our persistent session (MQTT v5, clean start off, session expiry 1 h) and redelivers it, with
DUP set, when a subscriber with the same client id connects again; the device's `Telemetry`
stream then drops it if it was stored after all. Acks of messages received on an earlier
connection are dropped (their packet ids belong to that connection; the broker resends them).

Authentication: our Mosquitto allows anonymous clients and checks no ACL, so it proves nothing;
each message carries the device's token in its JSON payload (`"token"`), and the device id in the
topic must equal the payload's `device_id`. (A production broker would also authenticate the
connection, e.g. MQTT username = device id, password = token, via an auth plugin.)

Backpressure: when the service's buffer is full, `on_message` blocks paho's network thread, so
the broker stops sending once our in-flight window (`Receive Maximum`, 1,000 by default) is full
and queues the rest for our session. Mosquitto drops QoS 1 messages for a session beyond
`max_queued_messages` (1,000 by default): size that setting for the fleet. With a shared
subscription (`$share/<group>/...`) several ingestion processes split the load.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from typing import Any
from urllib.parse import urlparse

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from ingestion.buffer import IngestService
from write_side.ingestion import Submission

log = logging.getLogger(__name__)

SESSION_EXPIRY_S = 3600


class _Slot:
    __slots__ = ("done", "generation", "mid", "ok")

    def __init__(self, mid: int, generation: int) -> None:
        self.mid, self.generation, self.done, self.ok = mid, generation, False, False


class MqttIngestor:
    """Subscribes, submits every message to the ingestion service, acks after commit."""

    def __init__(
        self,
        service: IngestService,
        url: str = "mqtt://127.0.0.1:1883",
        *,
        client_id: str = "fleetwatch-ingest",
        topic_root: str = "devices",
        shared_group: str | None = "fleetwatch",
        receive_maximum: int = 1000,
    ) -> None:
        parsed = urlparse(url)
        self.host, self.port = parsed.hostname or "127.0.0.1", parsed.port or 1883
        self.service = service
        self.topic = f"{topic_root}/+/telemetry"
        self.subscription = f"$share/{shared_group}/{self.topic}" if shared_group else self.topic
        self.received = 0
        self.acked = 0
        self.connected = threading.Event()  # set once connected AND subscribed (SUBACK)
        self._receive_maximum = receive_maximum
        self._lock = threading.Lock()
        self._slots: deque[_Slot] = deque()
        self._generation = 0
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=MQTTProtocolVersion.MQTTv5,
            manual_ack=True,
        )
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_: self.connected.set()

    def start(self, timeout: float = 10.0) -> None:
        """Connect (resuming the session) and subscribe; returns once the broker confirmed the
        subscription, raises if that did not happen in time."""
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = SESSION_EXPIRY_S
        props.ReceiveMaximum = self._receive_maximum
        self.client.connect(self.host, self.port, keepalive=30, clean_start=False, properties=props)
        self.client.loop_start()
        if not self.connected.wait(timeout):
            self.stop()
            msg = f"MQTT broker at {self.host}:{self.port} did not accept the connection"
            raise ConnectionError(msg)

    def stop(self) -> None:
        """Disconnect; unacknowledged messages stay in the broker's session."""
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(
        self, client: mqtt.Client, _: Any, __: Any, reason: ReasonCode, ___: Any
    ) -> None:
        if reason.is_failure:
            log.error("MQTT connection refused: %s", reason)
            return
        with self._lock:
            self._generation += 1
            self._slots.clear()  # their packet ids belonged to the previous connection
        client.subscribe(self.subscription, qos=1)

    def _on_disconnect(self, *_: Any) -> None:
        self.connected.clear()

    def _on_message(self, _: mqtt.Client, __: Any, message: mqtt.MQTTMessage) -> None:
        self.received += 1
        parts = message.topic.split("/")
        submission = Submission(
            payload=bytes(message.payload),
            transport="mqtt",
            channel_device_id=parts[-2] if len(parts) >= 3 else "",
        )
        with self._lock:
            slot = _Slot(message.mid, self._generation)
            if message.qos > 0:
                self._slots.append(slot)
        # Settled from the flusher once committed (ok) or given up (None: not acknowledged).
        settle = [lambda result: self._settle(slot, ok=result is not None)]
        try:
            refused = self.service.submit_each([submission], settle, block=True)[0]
        except Exception:  # stopping: leave it unacknowledged, the broker keeps it
            log.warning("message %d not submitted; it will be redelivered", message.mid)
            self._settle(slot, ok=False)
            return
        if refused is not None:  # a final answer: acknowledged, never redelivered
            self._settle(slot, ok=True)

    def _settle(self, slot: _Slot, ok: bool) -> None:
        """Mark the message done and send the PUBACKs that are now due, in arrival order."""
        due: list[int] = []
        with self._lock:
            slot.done, slot.ok = True, ok
            while self._slots and self._slots[0].done:
                head = self._slots.popleft()
                if head.ok and head.generation == self._generation:
                    due.append(head.mid)
        for mid in due:
            self.client.ack(mid, 1)
            self.acked += 1
