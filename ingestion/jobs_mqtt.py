"""Job updates over MQTT (docs/firmware.md section 12.5): a subscriber on
`devices/+/jobs/+/update` (QoS 1) answering each update on the same topic plus `/accepted`
(`{seq, duplicate}`) or `/rejected` (`{seq, code, field, message}`), QoS 1.

Authenticated as telemetry over MQTT is (`ingestion/mqtt.py`, `device_auth`): with `"token"`
the payload carries the device's token (`"token"`), which must be the current credential of the
device the topic names; with `"certificate"` the broker proved the topic's device and no token
is needed. The tenant is that device's. The payload names no device.

An update is decided and committed before the answer is published and before paho
acknowledges the message (its PUBACK follows `on_message`), so a crash before the commit leaves
the message in our persistent session for redelivery, and a redelivered update is a duplicate
`seq` (answered `duplicate: true`, stored once). An unexpected failure (the store down) is
answered `UNAVAILABLE`: the device sends the same `seq` again later.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import paho.mqtt.client as mqtt

from ingestion.device_jobs import DeviceJobService
from ingestion.job_updates import answer_topic, answer_update
from ingestion.mqtt_session import MqttSubscriber, MqttTls


class JobUpdatesSubscriber(MqttSubscriber):
    """Subscribes to device job updates, hands each to the `DeviceJobService`, answers it."""

    def __init__(
        self,
        service: DeviceJobService,
        url: str = "mqtt://127.0.0.1:1883",
        *,
        client_id: str = "fleetwatch-jobs",
        topic_root: str = "devices",
        shared_group: str | None = "fleetwatch",
        tls: MqttTls | None = None,
        device_auth: Literal["token", "certificate"] = "token",
    ) -> None:
        self.service = service
        self.answered = 0
        self.proven = device_auth == "certificate"
        super().__init__(
            url,
            client_id=client_id,
            topic=f"{topic_root}/+/jobs/+/update",
            shared_group=shared_group,
            tls=tls,
        )

    def _on_message(self, client: mqtt.Client, _: Any, message: mqtt.MQTTMessage) -> None:
        parts = message.topic.split("/")  # {root...}/{device}/jobs/{execution}/update
        accepted, answer = self.handle(parts[-4], parts[-2], bytes(message.payload))
        client.publish(answer_topic(message.topic, accepted), json.dumps(answer), qos=1)
        self.answered += 1

    def handle(self, device: str, execution: str, payload: bytes) -> tuple[bool, dict[str, Any]]:
        """(accepted, the answer's body) for one update published on the device's topic."""
        return answer_update(self.service, device, execution, payload, proven=self.proven)
