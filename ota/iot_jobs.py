"""`DeviceJobs` through AWS IoT Core (docs/firmware.md section 12.5): the job document published
to `devices/{device_id}/jobs/notify` at QoS 1 by the data plane's `Publish` (boto3
`iot-data`), where devices connect to IoT Core instead of our own broker. `publish` returns
once IoT Core took the message and raises `JobNotDelivered` otherwise, so the notice stays
pending and the dispatcher tries again.

The endpoint is the account's data endpoint (`https://<prefix>-ats.iot.<region>.amazonaws.com`,
`aws iot describe-endpoint --endpoint-type iot:Data-ATS`), or `describe`: asked of IoT once,
on the first publish (`iot:DescribeEndpoint`), which is what the CDK app sets, since the
endpoint is the account's and nothing is looked up at synth time. A local emulator's URL works
as any other endpoint.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any
from uuid import UUID

from botocore.exceptions import BotoCoreError, ClientError

from notifications.aws import aws_client
from ota.mqtt_jobs import JobNotDelivered, encode

DESCRIBE = "describe"  # FLEETWATCH_OTA_IOT_ENDPOINT: ask IoT for the account's data endpoint


class IotDataClient:
    """The data plane's client, made on first use (`describe`: its endpoint asked of IoT then);
    `publish(topic, payload)` at QoS 1. Raises `JobNotDelivered` for any failure."""

    def __init__(self, endpoint: str, region: str) -> None:
        self.endpoint, self.region = endpoint, region
        self._client: Any = None
        self._lock = threading.Lock()

    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                url = self.endpoint
                try:
                    if url == DESCRIBE:
                        iot = aws_client("iot", self.region)
                        found = iot.describe_endpoint(endpointType="iot:Data-ATS")
                        url = f"https://{found['endpointAddress']}"
                except (BotoCoreError, ClientError) as e:
                    raise JobNotDelivered(f"the IoT data endpoint is unknown: {e}") from e
                self._client = aws_client("iot-data", self.region, url)
            return self._client

    def publish(self, topic: str, payload: bytes) -> None:
        try:
            self.client().publish(topic=topic, qos=1, payload=payload)
        except (BotoCoreError, ClientError) as e:
            raise JobNotDelivered(f"IoT Core did not take the message for {topic}: {e}") from e


class IotCoreDeviceJobs:
    """Job documents to the devices' notify topics through IoT Core."""

    def __init__(self, data: IotDataClient, *, topic_root: str = "devices") -> None:
        self.data, self.topic_root = data, topic_root

    def topic(self, device_id: UUID) -> str:
        return f"{self.topic_root}/{device_id}/jobs/notify"

    def publish(self, tenant_id: str, device_id: UUID, document: Mapping[str, object]) -> None:
        """The device id alone names the topic, as the device's IoT policy does."""
        self.data.publish(self.topic(device_id), encode(document))

    def close(self) -> None:
        return None
