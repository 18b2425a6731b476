"""The alerting process manager's state as bytes and back (issue 14): what a restart restores
instead of forgetting the evaluation state that only readings carry.

A snapshot holds the rule index (current rules, device facts) and every watch of the policy:
its episode, its open alert and its `EvaluationState` (a for-duration's pending run, a
rate-of-change window, an absence timer, the watermarks late readings are judged by). Not the
policy's per-device window of recent message ids: the device's Telemetry stream already drops
redeliveries, and replaying the events after the snapshot refills it.

Format 1: zlib (level 1) of JSON lines: first `{"format": 1, "position": P, "rules": [[id,
tenant, revision, definition]], "devices": [[id, tenant, type, [tags]]]}`, then the watches in
lines of at most 10,000 `[rule, device, has rule, episode, open alert, state]`, a watch naming
its rule and device by their index in those lists (a million watches: no UUID text to write or
parse per watch). Written and read a line at a time, so neither holds the whole document as
Python objects (at a million watches that was 0.6 GB to write and 1.4 GB to read); times as
integer microseconds since the epoch (exact, and cheaper than ISO text). No I/O.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import orjson

from projections.alerting_index import RuleIndex
from write_side.alert_rules import RuleDefinition, RuleVersion
from write_side.alerting_policy import AlertingPolicy, DeviceFacts, Watch
from write_side.rule_compiled import INITIAL, EvaluationState, copied

FORMAT = 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
CHUNK = 10_000  # watches per line
_NONE: Any = object()
_PIECE = 1 << 20  # compressed bytes decompressed at a time


def capture(policy: AlertingPolicy, index: RuleIndex, position: int) -> bytes:
    """The state at feed `position` as bytes."""
    rules = {rule_id: i for i, rule_id in enumerate(index.rules)}
    devices = {device_id: i for i, device_id in enumerate(index.devices)}
    header = {
        "format": FORMAT,
        "position": position,
        "rules": [
            [str(r.rule_id), r.tenant_id, r.revision, r.definition.model_dump(mode="json")]
            for r in index.rules.values()
        ],
        "devices": [
            [str(d.device_id), d.tenant_id, d.device_type, sorted(d.tags)]
            for d in index.devices.values()
        ],
    }
    compressor = zlib.compressobj(1)
    parts = [compressor.compress(orjson.dumps(header) + b"\n")]
    chunk: list[list[Any]] = []
    for watches in policy.watches.per_device():  # a device's by rule (implicit or not)
        encoded: dict[int, list[Any] | None] = {}  # by state: a lane's pairs share theirs
        for w in sorted(watches, key=lambda w: rules.get(w.rule_id, -1)):
            rule, device = rules.get(w.rule_id), devices.get(w.device.device_id)
            if rule is None or device is None:
                continue  # a deleted rule's or a removed device's: dropped with it already
            alert = None if w.open_alert is None else str(w.open_alert)
            state = encoded.get(id(w.state), _NONE)
            if state is _NONE:
                state = encoded[id(w.state)] = _state(w.state)
            chunk.append([rule, device, w.rule is not None, w.episode, alert, state])
            if len(chunk) == CHUNK:
                parts.append(compressor.compress(orjson.dumps(chunk) + b"\n"))
                chunk = []
    if chunk:
        parts.append(compressor.compress(orjson.dumps(chunk) + b"\n"))
    parts.append(compressor.flush())
    return b"".join(parts)


def restore(data: bytes) -> tuple[int, RuleIndex, AlertingPolicy]:
    """The position, index and policy of a snapshot; `ValueError` when it is not one this code
    reads (the caller then rebuilds from the feed)."""
    lines = _lines(data)
    try:
        header = orjson.loads(next(lines, b"null"))
    except orjson.JSONDecodeError as e:
        raise ValueError(f"not an alerting snapshot: {e}") from e
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ValueError("not an alerting snapshot of format 1")
    index = RuleIndex()
    rules: list[RuleVersion] = []
    for rule_id, tenant, revision, definition in header["rules"]:
        valid = RuleDefinition.model_validate(definition)
        rules.append(RuleVersion(UUID(rule_id), tenant, revision, valid))
        index.put_rule(rules[-1])
    devices = []
    for device_id, tenant, device_type, tags in header["devices"]:
        devices.append(DeviceFacts(UUID(device_id), tenant, device_type, frozenset(tags)))
        index.put_device(devices[-1])
    policy = AlertingPolicy()
    for line in lines:  # a chunk at a time: the document is never held whole
        watches = []
        decoded: dict[bytes, EvaluationState | None] = {}  # equal states: one object
        for rule, device, has_rule, episode, open_alert, state in orjson.loads(line):
            version = rules[rule]
            alert = None if open_alert is None else UUID(open_alert)
            rule_version = version if has_rule else None
            text = orjson.dumps(state)
            evaluation = decoded.get(text, _NONE)
            if evaluation is _NONE:
                evaluation = decoded[text] = _evaluation(state)
            watch = Watch(
                version.rule_id, devices[device], rule_version, evaluation, episode, alert
            )
            watches.append(watch)
        policy.restore(watches)
    return int(header["position"]), index, policy


def _lines(data: bytes) -> Iterator[bytes]:
    """The snapshot's lines, decompressed a piece at a time."""
    decompressor = zlib.decompressobj()
    pending = b""
    try:
        for start in range(0, len(data), _PIECE):
            pending += decompressor.decompress(data[start : start + _PIECE])
            *complete, pending = pending.split(b"\n")
            yield from complete
        pending += decompressor.flush()
    except zlib.error as e:
        raise ValueError(f"not an alerting snapshot: {e}") from e
    if pending:
        yield pending


def _state(s: EvaluationState | None) -> list[Any] | None:
    if s is None:
        return None
    return [
        s.active, _us(s.since), _us(s.watermark), _us(s.last_seen), _us(s.pending_since),
        s.pending_value, [[_us(at), value] for at, value in s.recent], _us(s.started),
    ]  # fmt: skip


def _evaluation(fields: list[Any] | None) -> EvaluationState | None:
    if fields is None:
        return None
    active, since, watermark, last_seen, pending_since, pending_value, recent, started = fields
    return copied(
        INITIAL, active=active, since=_at(since), watermark=_at(watermark),
        last_seen=_at(last_seen), pending_since=_at(pending_since), pending_value=pending_value,
        recent=tuple((_EPOCH + at * _US, value) for at, value in recent), started=_at(started),
    )  # fmt: skip


def _us(at: datetime | None) -> int | None:
    return None if at is None else (at - _EPOCH) // _US


def _at(us: int | None) -> datetime | None:
    return None if us is None else _EPOCH + us * _US
