"""The AWS IoT Core topic-rule handler: Lambda action and Kinesis batches, one code path."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest

from ingestion import iot_core
from ingestion.buffer import IngestService
from tests.unit.test_ingestion_handler import META, Fleet, message
from write_side.commands import DecommissionDevice


@pytest.fixture
def fleet() -> Fleet:
    return Fleet()


@pytest.fixture
def service(fleet: Fleet) -> Iterator[IngestService]:
    """The fleet's ingestion service, as the Lambda entry point builds it once per container
    (`fleetwatch.lambdas.iot_core_handler`) and passes it to `iot_core.handle`."""
    service = IngestService(fleet.handler, flush_interval=0.001)
    service.start()
    yield service
    service.close(timeout=1)


def test_a_lambda_action_event_is_trusted_by_its_client_id(
    fleet: Fleet, service: IngestService
) -> None:
    device, _ = fleet.device()
    event = message(device, "a") | {"client_id": f"acme_{device}"}
    result = iot_core.handle(service, event)
    assert result["results"][0]["status"] == "accepted"
    assert fleet.stored_entries("acme", device) == ["a"]


def test_a_client_id_of_another_device_or_tenant_is_refused(
    fleet: Fleet, service: IngestService
) -> None:
    device, _ = fleet.device()
    other, _ = fleet.device()
    spoofed = iot_core.handle(service, message(device, "a") | {"client_id": f"acme_{other}"})
    foreign = iot_core.handle(service, message(device, "b") | {"client_id": f"evil_{device}"})
    assert spoofed["results"][0]["code"] == "UNAUTHENTICATED"
    assert foreign["results"][0]["code"] == "UNKNOWN_DEVICE"


def test_kinesis_batches_report_only_uncommitted_records_as_failures(
    fleet: Fleet, service: IngestService
) -> None:
    device, _ = fleet.device()

    def record(seq: str, data: object) -> dict[str, object]:
        raw = json.dumps(data).encode() if not isinstance(data, bytes) else data
        return {"kinesis": {"sequenceNumber": seq, "data": base64.b64encode(raw).decode()}}

    event = {
        "Records": [
            record("1", message(device, "a") | {"client_id": f"acme_{device}"}),
            record("2", message(device, "a") | {"client_id": f"acme_{device}"}),
            record("3", b"not json"),
        ]
    }
    assert iot_core.handle(service, event) == {"batchItemFailures": []}  # rejections are final
    assert fleet.stored_entries("acme", device) == ["a"]
    counts = fleet.handler.counters.snapshot()["messages"]
    assert counts == {"accepted": 1, "duplicate": 1, "rejected": 1}


@pytest.mark.parametrize("client_id", ["acme_", "_{device}", "acme_not-a-uuid", "acme"])
def test_an_incomplete_client_id_is_not_trusted(
    fleet: Fleet, service: IngestService, client_id: str
) -> None:
    device, _ = fleet.device()
    event = message(device, "a") | {"client_id": client_id.format(device=device)}
    result = iot_core.handle(service, event)["results"][0]
    assert (result["status"], result["code"]) == ("rejected", "UNAUTHENTICATED")
    assert fleet.stored_entries("acme", device) == []


def test_a_decommissioned_device_is_refused_even_with_a_trusted_client_id(
    fleet: Fleet, service: IngestService
) -> None:
    device, _ = fleet.device()
    fleet.devices.decommission(DecommissionDevice(device_id=device), META)
    result = iot_core.handle(service, message(device, "a") | {"client_id": f"acme_{device}"})
    got = result["results"][0]
    assert (got["status"], got.get("code")) == ("rejected", "DEVICE_DECOMMISSIONED")
    assert fleet.stored_entries("acme", device) == []
