"""Telemetry messages: validated per reading, so one bad value never costs the good ones.

`validate_message` is pure (the caller passes `now`). Whole-message problems raise
`InvalidTelemetry`; per-reading problems come back as `Rejection`s beside the accepted readings.
A `TelemetryBatch` holds the accepted messages of one device, to be stored as one event.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, NamedTuple
from uuid import UUID

from write_side.errors import InvalidTelemetry
from write_side.uuids import parse_uuid

METRIC_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$")
_NUMBER = (int, float)  # a tuple, not `int | float`: no union object built per check
_BIG_INT = 2**53  # ints within this convert to float exactly (and never overflow)
_EPOCH_MILLIS_ABOVE = 1e11  # a number above this is epoch milliseconds (1e11 s is year 5138)


class RejectionCode(StrEnum):
    NOT_A_NUMBER = "NOT_A_NUMBER"
    NOT_FINITE = "NOT_FINITE"
    BAD_METRIC_NAME = "BAD_METRIC_NAME"
    TOO_MANY_METRICS = "TOO_MANY_METRICS"
    BAD_TIMESTAMP = "BAD_TIMESTAMP"
    TIMESTAMP_IN_FUTURE = "TIMESTAMP_IN_FUTURE"
    TIMESTAMP_TOO_OLD = "TIMESTAMP_TOO_OLD"
    BAD_STATUS_FIELD = "BAD_STATUS_FIELD"


@dataclass(frozen=True)
class TelemetryLimits:
    max_payload_bytes: int = 16_384
    max_metrics: int = 64
    max_future_skew: timedelta = timedelta(minutes=5)
    max_age: timedelta = timedelta(days=7)


# The value objects a message becomes are named tuples: immutable like frozen dataclasses, and
# built several times per ingested message at a fraction of a frozen dataclass's cost.


class Reading(NamedTuple):
    metric: str
    value: float
    at: datetime  # timezone-aware UTC


class Rejection(NamedTuple):
    metric: str | None  # None for the timestamp of a status-only message and for status fields
    code: RejectionCode
    detail: str


class StatusReport(NamedTuple):
    firmware_version: str | None = None
    battery: float | None = None  # percent, 0..100
    rssi: float | None = None  # dBm, -150..0

    def as_dict(self) -> dict[str, Any]:
        """The fields that were reported (JSON-friendly)."""
        if self.firmware_version is None and self.battery is None and self.rssi is None:
            return {}  # most messages report none: no loop (measured: 6% of an ingestion commit)
        return {k: v for k, v in zip(self._fields, self, strict=True) if v is not None}

    def reported(self) -> bool:
        """Whether any field was reported (`bool(as_dict())` without building the dict)."""
        return not (self.firmware_version is None and self.battery is None and self.rssi is None)


class ValidatedMessage(NamedTuple):
    device_id: UUID
    message_id: str
    at: datetime | None  # None when the timestamp was rejected
    readings: tuple[Reading, ...]
    rejections: tuple[Rejection, ...]
    status: StatusReport = StatusReport()

    def entry(self) -> BatchEntry | None:
        """What to store for this message; None when nothing was accepted."""
        if self.at is None or not (self.readings or self.status.reported()):
            return None
        return BatchEntry(self.message_id, self.at, self.readings, self.status)


class BatchEntry(NamedTuple):
    message_id: str
    at: datetime
    readings: tuple[Reading, ...]  # all at `at`
    status: StatusReport = StatusReport()


@dataclass(frozen=True)
class TelemetryBatch:
    """Many messages of one device in one event. `to_payload` is JSON-friendly and compact."""

    device_id: UUID
    entries: tuple[BatchEntry, ...]

    @property
    def readings(self) -> tuple[Reading, ...]:
        return tuple(r for e in self.entries for r in e.readings)

    def to_payload(self) -> dict[str, Any]:
        return {
            "device_id": str(self.device_id),
            "entries": [
                {
                    "message_id": e.message_id,
                    "at": e.at.isoformat(),
                    "metrics": {r.metric: r.value for r in e.readings},
                    "status": e.status.as_dict(),
                }
                for e in self.entries
            ],
        }

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> TelemetryBatch:
        entries = []
        for e in payload["entries"]:
            at = datetime.fromisoformat(e["at"])
            readings = tuple(Reading(m, float(v), at) for m, v in e["metrics"].items())
            entries.append(BatchEntry(e["message_id"], at, readings, StatusReport(**e["status"])))
        return cls(parse_uuid(str(payload["device_id"])), tuple(entries))


def validate_message(
    raw: Mapping[str, Any], now: datetime, limits: TelemetryLimits, *, size: int | None = None
) -> ValidatedMessage:
    """Validate one message; `size` is its encoded size in bytes (measured here when omitted)."""
    if not isinstance(raw, dict) and not isinstance(raw, Mapping):  # dict: skip the ABC check
        raise InvalidTelemetry("a telemetry message must be a JSON object")
    if size is None:
        size = len(json.dumps(raw, default=str).encode())
    if size > limits.max_payload_bytes:
        raise InvalidTelemetry(f"message of {size} bytes is over {limits.max_payload_bytes}")
    device_id, message_id = _ids(raw)
    metrics = raw.get("metrics", {})
    if not isinstance(metrics, dict) and not isinstance(metrics, Mapping):
        raise InvalidTelemetry("metrics must be an object of {name: number}", field="metrics")
    rejections: list[Rejection] = []
    at, time_problem = _timestamp(raw.get("timestamp"), now, limits)
    readings: list[Reading] = []
    fast_at = at if time_problem is None else None
    for index, (name, value) in enumerate(metrics.items()):
        kind = type(value)
        if (
            fast_at is not None
            and (kind is float or (kind is int and -_BIG_INT < value < _BIG_INT))
            and name in _GOOD_NAMES
            and index < limits.max_metrics
            and math.isfinite(value)
        ):  # the common case, decided without the checks below (which say the same)
            readings.append(Reading(name, float(value), fast_at))
            continue
        problem = _reading_problem(name, value, index, limits) or time_problem
        if problem is not None:
            rejections.append(Rejection(name if isinstance(name, str) else None, *problem))
        elif at is not None:
            readings.append(Reading(name, float(value), at))  # float() is safe: checked above
    status, status_rejections = _status(raw)
    rejections += status_rejections
    if time_problem is not None:  # nothing of this message is kept, not even its status
        if status.reported() or not metrics:
            rejections.append(Rejection(None, *time_problem))
        status = StatusReport()
    return ValidatedMessage(device_id, message_id, at, tuple(readings), tuple(rejections), status)


def _ids(raw: Mapping[str, Any]) -> tuple[UUID, str]:
    try:
        device_id = parse_uuid(str(raw["device_id"]))
    except (KeyError, ValueError):
        raise InvalidTelemetry("device_id must be a device's UUID", field="device_id") from None
    message_id = raw.get("message_id")
    if not isinstance(message_id, str) or not 1 <= len(message_id) <= 128:
        raise InvalidTelemetry("message_id must be a string of 1..128 characters", "message_id")
    return device_id, message_id


Problem = tuple[RejectionCode, str]


def _timestamp(
    value: object, now: datetime, limits: TelemetryLimits
) -> tuple[datetime | None, Problem | None]:
    at = _parse_time(value)
    if at is None:
        return None, (RejectionCode.BAD_TIMESTAMP, f"unreadable timestamp {value!r}")
    if at > now + limits.max_future_skew:
        return None, (RejectionCode.TIMESTAMP_IN_FUTURE, f"{at.isoformat()} is in the future")
    if at < now - limits.max_age:
        return None, (RejectionCode.TIMESTAMP_TOO_OLD, f"{at.isoformat()} is too old")
    return at, None


def _parse_time(value: object) -> datetime | None:
    """ISO 8601 (no zone = UTC) or epoch seconds (milliseconds when above 1e11)."""
    try:
        if isinstance(value, str):
            at = datetime.fromisoformat(value)
            return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
        if isinstance(value, _NUMBER) and not isinstance(value, bool):
            seconds = value / 1000 if value > _EPOCH_MILLIS_ABOVE else value
            return datetime.fromtimestamp(seconds, UTC)
    except (ValueError, OverflowError, OSError):
        return None
    return None


def _reading_problem(
    name: object, value: object, index: int, limits: TelemetryLimits
) -> Problem | None:
    if not isinstance(name, str) or (name not in _GOOD_NAMES and not _good_name(name)):
        return RejectionCode.BAD_METRIC_NAME, f"metric name must match {METRIC_NAME.pattern}"
    if index >= limits.max_metrics:
        return RejectionCode.TOO_MANY_METRICS, f"only the first {limits.max_metrics} are kept"
    if isinstance(value, bool) or not isinstance(value, _NUMBER):
        return RejectionCode.NOT_A_NUMBER, f"{type(value).__name__} is not a number"
    if _finite(value) is None:
        return RejectionCode.NOT_FINITE, f"{value!r} is not a finite float"
    return None


_GOOD_NAMES: set[str] = set()  # names that matched METRIC_NAME (a fleet reuses a few)
_MAX_GOOD_NAMES = 10_000


def _good_name(name: str) -> bool:
    if METRIC_NAME.match(name) is None:
        return False
    if len(_GOOD_NAMES) < _MAX_GOOD_NAMES:
        _GOOD_NAMES.add(name)
    return True


def _finite(value: object) -> float | None:
    """`value` as a finite float; None for anything else (bools, strings, NaN, inf, 10**400)."""
    if isinstance(value, bool) or not isinstance(value, _NUMBER):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


_NO_STATUS = StatusReport()


def _status(raw: Mapping[str, Any]) -> tuple[StatusReport, list[Rejection]]:
    if "battery" not in raw and "rssi" not in raw and "firmware_version" not in raw:
        return _NO_STATUS, []
    kept: dict[str, Any] = {}
    rejections = []
    for key, low, high in (("battery", 0, 100), ("rssi", -150, 0)):
        value = raw.get(key)
        if value is None:
            continue
        number = _finite(value)
        if number is not None and low <= number <= high:
            kept[key] = number
        else:
            detail = f"{key} must be a number in {low}..{high}, not {value!r}"
            rejections.append(Rejection(None, RejectionCode.BAD_STATUS_FIELD, detail))
    firmware = raw.get("firmware_version")
    if isinstance(firmware, str) and 1 <= len(firmware) <= 64:
        kept["firmware_version"] = firmware
    elif firmware is not None:
        detail = "firmware_version must be a string of 1..64 characters"
        rejections.append(Rejection(None, RejectionCode.BAD_STATUS_FIELD, detail))
    return StatusReport(**kept), rejections
