"""The job dispatcher's publisher and the notices' channel, decided once from the settings
(`fleetwatch.consumers`): polling without a broker, Mosquitto's or IoT Core's otherwise, and
never both. Nothing connects here."""

from __future__ import annotations

import pytest

from fleetwatch.consumers import PolledJobs, job_publisher, notice_channel
from fleetwatch.settings import Settings
from ota.iot_jobs import IotCoreDeviceJobs
from ota.mqtt_jobs import MqttDeviceJobs


def test_without_a_broker_devices_poll() -> None:
    settings = Settings()
    assert notice_channel(settings) == "http"
    assert isinstance(job_publisher(settings), PolledJobs)


@pytest.mark.parametrize(
    ("setting", "kind"),
    [({"ota_mqtt_url": "mqtt://127.0.0.1:1883"}, MqttDeviceJobs),
     ({"ota_iot_endpoint": "describe"}, IotCoreDeviceJobs)],
)  # fmt: skip
def test_a_broker_or_iot_core_takes_job_documents(setting: dict[str, str], kind: type) -> None:
    settings = Settings(**setting)
    assert notice_channel(settings) == "mqtt"
    publisher = job_publisher(settings)
    assert isinstance(publisher, kind)
    publisher.close()


def test_both_are_refused() -> None:
    settings = Settings(ota_mqtt_url="mqtt://127.0.0.1:1883", ota_iot_endpoint="describe")
    with pytest.raises(ValueError, match="not both"):
        job_publisher(settings)
