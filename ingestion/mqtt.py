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

Authentication, `device_auth`:
- `"token"` (the default): the broker proves nothing (our development Mosquitto lets anonymous
  clients in), so each message carries the device's token in its JSON payload (`"token"`), and
  the device id in the topic must equal the payload's `device_id`.
- `"certificate"`: the broker proved the topic's device (docs/ingestion.md: certificates: a TLS
  listener that requires a certificate signed by the fleet's CA, whose common name is the device
  id, and an ACL letting it write `devices/<its id>/telemetry` only), so no token is needed; the
  device must still be registered and active, and the payload's `device_id` the topic's.

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
from typing import Any, Literal

import paho.mqtt.client as mqtt

from ingestion.buffer import IngestService
from ingestion.mqtt_session import MqttSubscriber, MqttTls
from write_side.ingestion import Submission

log = logging.getLogger(__name__)


class _Slot:
    __slots__ = ("done", "generation", "mid", "ok")

    def __init__(self, mid: int, generation: int) -> None:
        self.mid, self.generation, self.done, self.ok = mid, generation, False, False


class MqttIngestor(MqttSubscriber):
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
        tls: MqttTls | None = None,
        device_auth: Literal["token", "certificate"] = "token",
    ) -> None:
        self.service = service
        self.proven = device_auth == "certificate"
        self.received = 0
        self.acked = 0
        self._lock = threading.Lock()
        self._slots: deque[_Slot] = deque()
        self._generation = 0
        super().__init__(
            url,
            client_id=client_id,
            topic=f"{topic_root}/+/telemetry",
            shared_group=shared_group,
            manual_ack=True,
            receive_maximum=receive_maximum,
            tls=tls,
        )

    def _on_session(self) -> None:
        with self._lock:
            self._generation += 1
            self._slots.clear()  # their packet ids belonged to the previous connection

    def _on_message(self, _: mqtt.Client, __: Any, message: mqtt.MQTTMessage) -> None:
        self.received += 1
        parts = message.topic.split("/")
        submission = Submission(
            payload=bytes(message.payload),
            transport="mqtt",
            channel_device_id=parts[-2] if len(parts) >= 3 else "",
            channel_proven=self.proven,
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
