"""Telemetry validation: bad readings are rejected one by one with a reason, good ones are kept."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from write_side.errors import InvalidTelemetry
from write_side.telemetry import (
    Reading,
    RejectionCode,
    StatusReport,
    TelemetryBatch,
    TelemetryLimits,
    validate_message,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DEVICE = uuid.uuid4()
LIMITS = TelemetryLimits(max_metrics=3)


def message(**overrides: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "device_id": str(DEVICE),
        "message_id": "m-1",
        "timestamp": (NOW - timedelta(seconds=5)).isoformat(),
        "metrics": {"temp": 21.5, "rpm": 1200},
    }
    return raw | overrides


def test_a_valid_message_keeps_every_reading_and_its_status() -> None:
    result = validate_message(message(battery=80, rssi=-70, firmware_version="1.2.3"), NOW, LIMITS)
    at = NOW - timedelta(seconds=5)
    assert result.device_id == DEVICE
    assert result.message_id == "m-1"
    assert result.readings == (Reading("temp", 21.5, at), Reading("rpm", 1200.0, at))
    assert result.rejections == ()
    assert result.status == StatusReport(firmware_version="1.2.3", battery=80.0, rssi=-70.0)


@pytest.mark.parametrize(
    ("metrics", "code"),
    [
        ({"x": "12"}, RejectionCode.NOT_A_NUMBER),
        ({"x": True}, RejectionCode.NOT_A_NUMBER),
        ({"x": None}, RejectionCode.NOT_A_NUMBER),
        ({"x": [1]}, RejectionCode.NOT_A_NUMBER),
        ({"x": float("nan")}, RejectionCode.NOT_FINITE),
        ({"x": float("inf")}, RejectionCode.NOT_FINITE),
        ({"x": 10**400}, RejectionCode.NOT_FINITE),
        ({"bad name": 1}, RejectionCode.BAD_METRIC_NAME),
        ({"9lives": 1}, RejectionCode.BAD_METRIC_NAME),
        ({"": 1}, RejectionCode.BAD_METRIC_NAME),
    ],
)
def test_each_bad_reading_is_rejected_with_its_code_and_the_good_one_kept(
    metrics: dict[str, Any], code: RejectionCode
) -> None:
    result = validate_message(message(metrics={"ok": 1.0, **metrics}), NOW, LIMITS)
    assert [r.metric for r in result.readings] == ["ok"]
    (rejection,) = result.rejections
    assert (rejection.metric, rejection.code) == (next(iter(metrics)), code)
    assert rejection.detail


def test_metrics_beyond_the_limit_are_rejected_in_message_order() -> None:
    result = validate_message(message(metrics={"a": 1, "b": 2, "c": 3, "d": 4}), NOW, LIMITS)
    assert [r.metric for r in result.readings] == ["a", "b", "c"]
    assert [(r.metric, r.code) for r in result.rejections] == [
        ("d", RejectionCode.TOO_MANY_METRICS)
    ]


@pytest.mark.parametrize(
    ("timestamp", "code"),
    [
        ((NOW + timedelta(minutes=6)).isoformat(), RejectionCode.TIMESTAMP_IN_FUTURE),
        ((NOW - timedelta(days=8)).isoformat(), RejectionCode.TIMESTAMP_TOO_OLD),
        ("yesterday", RejectionCode.BAD_TIMESTAMP),
        (None, RejectionCode.BAD_TIMESTAMP),
        (True, RejectionCode.BAD_TIMESTAMP),
        (1e300, RejectionCode.BAD_TIMESTAMP),
    ],
)
def test_an_unusable_timestamp_rejects_every_reading_and_the_status(
    timestamp: object, code: RejectionCode
) -> None:
    result = validate_message(message(timestamp=timestamp, battery=50), NOW, LIMITS)
    assert result.readings == ()
    assert result.at is None
    assert [(r.metric, r.code) for r in result.rejections] == [
        ("temp", code),
        ("rpm", code),
        (None, code),  # the status it carried
    ]
    assert result.status == StatusReport()
    assert result.entry() is None


def test_clock_skew_within_the_limit_is_accepted() -> None:
    result = validate_message(
        message(timestamp=(NOW + timedelta(minutes=4)).isoformat()), NOW, LIMITS
    )
    assert len(result.readings) == 2


@pytest.mark.parametrize(
    "timestamp",
    [
        NOW.timestamp(),  # epoch seconds
        int(NOW.timestamp() * 1000),  # epoch milliseconds
        "2026-03-01T12:00:00Z",
        "2026-03-01T13:00:00+01:00",
        "2026-03-01T12:00:00",  # no zone: UTC
    ],
)
def test_timestamp_formats(timestamp: object) -> None:
    (reading, _) = validate_message(message(timestamp=timestamp), NOW, LIMITS).readings
    assert reading.at == NOW
    assert reading.at.tzinfo is not None


@pytest.mark.parametrize(
    "status",
    [
        {"battery": 101},
        {"battery": -1},
        {"battery": True},
        {"battery": "full"},
        {"rssi": 3},
        {"rssi": -151},
        {"rssi": float("nan")},
        {"firmware_version": 12},
        {"firmware_version": ""},
    ],
)
def test_a_bad_status_field_is_rejected_and_the_readings_kept(status: dict[str, Any]) -> None:
    result = validate_message(message(**status), NOW, LIMITS)
    assert len(result.readings) == 2
    (rejection,) = result.rejections
    assert (rejection.metric, rejection.code) == (None, RejectionCode.BAD_STATUS_FIELD)
    assert next(iter(status)) in rejection.detail
    assert result.status == StatusReport()


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (message(device_id="not-a-uuid"), "device_id"),
        ({k: v for k, v in message().items() if k != "device_id"}, "device_id"),
        (message(message_id=""), "message_id"),
        (message(message_id="x" * 129), "message_id"),
        (message(message_id=7), "message_id"),
        ({k: v for k, v in message().items() if k != "message_id"}, "message_id"),
        (message(metrics=[1, 2]), "metrics"),
        (message(metrics={"x" + str(i): i for i in range(2000)}), None),  # oversize
    ],
)
def test_whole_message_problems_raise_invalid_telemetry(raw: Any, field: str | None) -> None:
    with pytest.raises(InvalidTelemetry) as caught:
        validate_message(raw, NOW, LIMITS)
    assert caught.value.code == "INVALID_TELEMETRY"
    assert caught.value.field == field


def test_not_an_object_and_a_given_oversize_are_invalid() -> None:
    with pytest.raises(InvalidTelemetry):
        validate_message([1, 2], NOW, LIMITS)  # type: ignore[arg-type]
    with pytest.raises(InvalidTelemetry, match="bytes"):
        validate_message(message(), NOW, LIMITS, size=LIMITS.max_payload_bytes + 1)
    assert validate_message(message(), NOW, LIMITS, size=LIMITS.max_payload_bytes).readings


def test_message_id_of_128_characters_and_a_status_only_message_are_fine() -> None:
    result = validate_message(message(message_id="x" * 128, metrics={}, battery=3), NOW, LIMITS)
    assert result.readings == ()
    entry = result.entry()
    assert entry is not None
    assert entry.status.battery == 3.0


def test_batch_payload_is_json_and_round_trips() -> None:
    first = validate_message(message(battery=10), NOW, LIMITS).entry()
    second = validate_message(
        message(message_id="m-2", metrics={"temp": "hot", "hum": 40}), NOW, LIMITS
    ).entry()
    assert first is not None
    assert second is not None
    batch = TelemetryBatch(DEVICE, (first, second))
    payload = json.loads(json.dumps(batch.to_payload()))
    assert TelemetryBatch.from_payload(payload) == batch
    assert [r.metric for r in batch.readings] == ["temp", "rpm", "hum"]  # "hot" was rejected
