"""Readings of the telemetry contract suites (`test_telemetry_contract.py`,
`test_telemetry_rollups_contract.py`): recorded as `Telemetry.BatchRecorded` events by
`FleetApplication` and applied by the telemetry projection, once per module; and the walks and
brute-force oracles the suites check the readers against."""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from event_store.envelope import EventMetadata
from fleetwatch.bootstrap import _telemetry_store, application_env
from fleetwatch.settings import Settings
from projections.batching import BatchingProjectionWorker
from projections.telemetry import TelemetryProjection
from read_side.device_status import Page
from read_side.telemetry import (
    BUCKET_SECONDS,
    Bucket,
    HistoryQuery,
    RawReading,
    Resolution,
    TelemetryReader,
    encode_bucket_cursor,
    encode_reading_cursor,
    epoch_ms,
)
from write_side.application import FleetApplication
from write_side.telemetry import BatchEntry, Reading
from write_side.telemetry_log import Telemetry, telemetry_id

TENANT, OTHER = "acme", "globex"
T0 = datetime(2026, 3, 1, 22, 0, tzinfo=UTC)  # the data crosses hours and a UTC day
SPAN = timedelta(hours=3)
Message = tuple[str, datetime, dict[str, float]]
Row = tuple[int, str, float]  # at_ms, message id, value


def messages_of_a() -> list[Message]:
    """Device A: a reading every 7 min 13 ms over three hours (hum on every other one), two
    messages at the same millisecond (ordered by id), one on the hour, extreme values."""
    found: list[Message] = []
    for k in range(26):
        at = T0 + timedelta(minutes=7 * k, milliseconds=13 * k)
        metrics = {"temp": round(20 + k * 0.37 - (k % 4) * 1.1, 3)}
        if k % 2 == 0:
            metrics["hum"] = float(40 + k)
        found.append((f"a{k:02d}", at, metrics))
    same_ms = T0 + timedelta(minutes=33, milliseconds=500)
    found += [
        ("z-same", same_ms, {"temp": -3.5}),
        ("b-same", same_ms, {"temp": 7.25}),
        ("on-the-hour", T0 + timedelta(hours=1), {"temp": 1e-200, "hum": 0.0}),
        ("huge", T0 + timedelta(hours=2, minutes=1), {"temp": 1.5e300}),
    ]
    return found


@dataclass
class Model:
    app: FleetApplication
    reader: TelemetryReader
    a: uuid.UUID
    b: uuid.UUID
    messages: list[Message]  # device A's in the tenant
    b_messages: list[Message]
    other_messages: list[Message]  # device A's id in the other tenant


def record(
    app: FleetApplication, tenant: str, device_id: uuid.UUID, sent: Sequence[Message]
) -> int:
    stream_id = telemetry_id(tenant, device_id)
    telemetry = app.load_telemetry(stream_id) or Telemetry(tenant_id=tenant, device_id=device_id)
    entries = [
        BatchEntry(mid, at, tuple(Reading(m, v, at) for m, v in metrics.items()))
        for mid, at, metrics in sent
    ]
    telemetry.record(entries, T0 + SPAN, "http")
    return app.save_telemetry([telemetry], EventMetadata(tenant, "system:ingestion"))[stream_id]


def telemetry_model(contract_settings: Settings) -> Iterator[Model]:
    """The module's readings on one store (each test module's `model` fixture yields from it)."""
    app = FleetApplication(env=application_env(contract_settings))
    view, reader = _telemetry_store(app, contract_settings)
    a, b = uuid.uuid4(), uuid.uuid4()
    messages = messages_of_a()
    # Several events, out of time order, so an hour holds parts of many events.
    for part in (messages[1::3], messages[0::3], messages[2::3]):
        record(app, TENANT, a, part)
    b_messages = [(f"b{k}", T0 + timedelta(minutes=k), {"temp": 100.0 + k}) for k in range(5)]
    record(app, TENANT, b, b_messages)
    other_messages: list[Message] = [
        (mid, at, {"temp": -v["temp"]}) for mid, at, v in messages[:4]
    ]  # same device id, same message ids and times: another tenant's device
    record(app, OTHER, a, other_messages)
    worker = BatchingProjectionWorker(
        TelemetryProjection(view),
        checkpoints=view,
        recorder=app.recorder,
        mapper=app.envelope_mapper,
        upstream_name=app.name,
        max_batch=2,
    )
    assert worker.catch_up() > 0
    yield Model(app, reader, a, b, messages, b_messages, other_messages)
    app.close()


def expected_rows(
    messages: Sequence[Message], metric: str, start: datetime, end: datetime
) -> list[Row]:
    low, high = epoch_ms(start), epoch_ms(end)
    return sorted(
        (epoch_ms(at), mid, metrics[metric])
        for mid, at, metrics in messages
        if metric in metrics and low <= epoch_ms(at) < high
    )


def expected_buckets(
    messages: Sequence[Message], metric: str, query: HistoryQuery
) -> list[tuple[int, float, float, float, int]]:
    """(start s, min, max, sum, count) of the buckets whose start is in `[align(start), end)`."""
    seconds = BUCKET_SECONDS[query.resolution]
    low = epoch_ms(query.start) // 1000 // seconds * seconds
    high = -(-epoch_ms(query.end) // 1000)
    grouped: dict[int, list[float]] = {}
    for _, at, metrics in messages:
        if metric in metrics:
            grouped.setdefault(epoch_ms(at) // 1000 // seconds * seconds, []).append(
                metrics[metric]
            )
    return [
        (s, min(v), max(v), sum(v), len(v)) for s, v in sorted(grouped.items()) if low <= s < high
    ]


def walk(reader: TelemetryReader, query: HistoryQuery, tenant: str = TENANT) -> list[Any]:
    """Every page of a history, checking each page's promises on the way."""
    found: list[Any] = []
    for _ in range(500):
        page: Page[RawReading] | Page[Bucket] = reader.history(tenant, query)
        assert len(page.items) <= query.first
        found += page.items
        if page.next_cursor is None:
            break
        assert len(page.items) == query.first  # only a full page says there is more
        last = page.items[-1]
        if isinstance(last, RawReading):
            assert page.next_cursor == encode_reading_cursor(epoch_ms(last.at), last.message_id)
        else:
            assert page.next_cursor == encode_bucket_cursor(epoch_ms(last.start) // 1000)
        query = replace(query, after=page.next_cursor)
    else:
        raise AssertionError("more than 500 pages")
    if query.resolution is Resolution.RAW:
        return [(epoch_ms(r.at), r.message_id, r.value) for r in found]
    return found


def raw(
    device: uuid.UUID, metric: str, start: datetime, end: datetime, first: int = 500
) -> HistoryQuery:
    return HistoryQuery.checked(device, metric, start, end, first=first)


def assert_buckets(
    got: Sequence[Bucket], expected: Sequence[tuple[int, float, float, float, int]], seconds: int
) -> None:
    assert [epoch_ms(b.start) // 1000 for b in got] == [e[0] for e in expected]
    for bucket, (_, mn, mx, sm, ct) in zip(got, expected, strict=True):
        assert (bucket.min, bucket.max, bucket.count, bucket.seconds) == (mn, mx, ct, seconds)
        assert math.isclose(bucket.sum, sm, rel_tol=1e-12)
        assert bucket.start.utcoffset() == timedelta(0)
