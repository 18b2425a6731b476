"""The pure part of the OTA read models (docs/firmware.md 12.7): the `evolve` functions folded
over the events the real services record (an in-memory store), each event at most once; the
ETA and the compliance summary."""

from __future__ import annotations

import base64
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from event_store.envelope import EventEnvelope
from projections.deployment_evolve import DEPLOYMENT_TYPES, count_move, evolve_deployment
from projections.execution_evolve import EXECUTION_TYPES, evolve_device, evolve_execution
from projections.firmware import KEYS_TYPES, RELEASE_TYPES, evolve_keys, evolve_release
from read_side.deployments import DeploymentRow, DeploymentStatus, DeviceComplianceRow
from read_side.deployments.compliance import summarize
from read_side.deployments.eta import bucket_of, eta, median_seconds
from read_side.firmware import FirmwareRow, FirmwareStatus, SigningKeysRow
from tests.ota_world import ADMIN, OTA, OtaWorld
from write_side.application import FleetApplication
from write_side.deployment_executions import EXECUTION_FAILED, EXECUTION_SUCCEEDED
from write_side.deployment_states import ExecutionState
from write_side.devices import DEVICE_REGISTERED
from write_side.firmware_commands import RegisterSigningKey, RequireSignedFirmware, RevokeSigningKey
from write_side.semver import parse_semver
from write_side.telemetry_log import TELEMETRY_BATCH_RECORDED

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def world() -> OtaWorld:
    built = OtaWorld(FleetApplication())
    built.record()
    return built


def fold(world: OtaWorld) -> dict[str, dict[Any, Any]]:
    """Every model's rows after each event once, as the projections fold them."""
    rows: dict[str, dict[Any, Any]] = {"releases": {}, "deployments": {}, "executions": {}}
    rows |= {"devices": {}, "history": {}}
    for e in world.envelopes():
        key = (e.tenant_id, uuid.UUID(e.stream_id))
        if e.type in RELEASE_TYPES:
            rows["releases"][key] = evolve_release(rows["releases"].get(key), e)
        elif e.type in DEPLOYMENT_TYPES:
            rows["deployments"][key] = evolve_deployment(rows["deployments"].get(key), e)
        elif e.type in EXECUTION_TYPES:
            result = evolve_execution(rows["executions"].get(key), e)
            assert result is not None
            execution, transition, move = result
            rows["executions"][key] = execution
            rows["history"].setdefault(key, []).append(transition)
            owner = (e.tenant_id, execution.deployment_id)
            rows["deployments"][owner] = count_move(rows["deployments"][owner], e, move)
            device = (e.tenant_id, execution.device_id)
            changed = evolve_device(rows["devices"].get(device), e, execution)
            rows["devices"][device] = changed or rows["devices"].get(device)
        elif e.type == DEVICE_REGISTERED.type:
            rows["devices"][key] = evolve_device(None, e)
    return rows


def test_releases_follow_their_events(world: OtaWorld) -> None:
    releases = fold(world)["releases"]
    withdrawn = releases["acme", world.releases["acme/1.0.0"]]
    assert isinstance(withdrawn, FirmwareRow)
    assert (withdrawn.status, withdrawn.withdrawn_by, withdrawn.version) == (
        FirmwareStatus.WITHDRAWN,
        "user:alice",
        3,
    )
    rc = releases["acme", world.releases["acme/2.0.0-rc.1"]]
    assert (rc.status, rc.device_types) == (FirmwareStatus.AVAILABLE, ("pump", "valve"))
    assert rc.sort_key > releases["acme", world.releases["acme/1.2.0"]].sort_key  # precedence


def test_an_absorbed_event_changes_nothing(world: OtaWorld) -> None:
    rows = fold(world)
    for e in world.envelopes():
        key = (e.tenant_id, uuid.UUID(e.stream_id))
        if e.type in RELEASE_TYPES:
            assert evolve_release(rows["releases"][key], e) is None
        elif e.type in DEPLOYMENT_TYPES:
            assert evolve_deployment(rows["deployments"][key], e) is None
        elif e.type in EXECUTION_TYPES:
            assert evolve_execution(rows["executions"][key], e) is None
        elif e.type == DEVICE_REGISTERED.type:
            assert evolve_device(rows["devices"][key], e) is None


def test_counts_per_state_add_up_to_the_executions(world: OtaWorld) -> None:
    rows = fold(world)
    assert world.deployment is not None
    row = rows["deployments"]["acme", world.deployment]
    assert isinstance(row, DeploymentRow)
    states = [e.state.value for e in rows["executions"].values()]
    assert row.counts == {s: states.count(s) for s in set(states)}
    assert sum(row.waves[0].counts.values()) == len(states) == 3
    assert row.waves[1].counts == {}
    assert row.status is DeploymentStatus.RUNNING


def test_pause_and_resume_return_to_the_status_before(world: OtaWorld) -> None:
    rows = fold(world)
    assert world.deployment is not None
    row = replace(
        rows["deployments"]["acme", world.deployment], status=DeploymentStatus.AWAITING_APPROVAL
    )
    paused = evolve_deployment(row, _event(row, "Deployment.Paused", by="user", reason="why"))
    assert paused is not None
    assert (paused.status, paused.decisions[-1].kind) == (DeploymentStatus.PAUSED, "paused")
    resumed = evolve_deployment(paused, _event(paused, "Deployment.Resumed", by="user:olga"))
    assert resumed is not None
    assert resumed.status is DeploymentStatus.AWAITING_APPROVAL


def test_signing_keys_row(world: OtaWorld) -> None:
    raw = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    text = base64.b64encode(raw).decode()
    key_id = world.firmware.register_key(RegisterSigningKey(public_key=text, label="ci"), ADMIN)
    world.firmware.require_signed(RequireSignedFirmware(required=True), ADMIN)
    world.firmware.revoke_key(RevokeSigningKey(key_id=key_id.key_id, reason="leaked"), ADMIN)
    row: SigningKeysRow | None = None
    for e in world.envelopes():
        if e.type in KEYS_TYPES:
            row = evolve_keys(row, e) or row
    assert row is not None
    assert row.required
    assert [(k.key_id, k.public_key, k.revoke_reason) for k in row.keys] == [
        (key_id.key_id, text, "leaked")
    ]
    assert row.keys[0].revoked_at is not None


def _event(row: Any, event_type: str, /, **payload: Any) -> EventEnvelope:
    return EventEnvelope(
        event_id=uuid.uuid4(),
        tenant_id="acme",
        stream_id=str(getattr(row, "deployment_id", getattr(row, "device_id", uuid.uuid4()))),
        version=getattr(row, "version", 1) + 1,
        type=event_type,
        schema_version=1,
        occurred_at=T0,
        recorded_at=T0,
        actor="system:ota",
        correlation_id="c",
        causation_id=None,
        payload=payload,
        position=row.position + 1,
    )


def test_a_device_row_takes_reported_versions_and_final_failures() -> None:
    device = DeviceComplianceRow("acme", uuid.uuid4(), "pump", None, None, None, None, 5, T0)
    at = T0.isoformat()
    entries = [
        {"at": at, "metrics": {}, "status": {"firmware_version": "1.0.0"}},
        {"at": (T0 + timedelta(seconds=1)).isoformat(), "metrics": {}, "status": {"battery": 3}},
    ]
    batch = _event(
        device, TELEMETRY_BATCH_RECORDED.type, device_id=str(device.device_id), entries=entries
    )
    reported = evolve_device(device, batch)
    assert reported is not None
    assert (reported.reported_version, reported.position) == ("1.0.0", 6)
    assert evolve_device(reported, batch) is None  # absorbed
    execution = _execution(device.device_id)
    retrying = _event(reported, EXECUTION_FAILED.type, retry_at=at, kind="download")
    assert evolve_device(reported, retrying, execution) is None  # a retry follows
    final = _event(reported, EXECUTION_FAILED.type, retry_at=None, kind="download")
    failed = evolve_device(reported, final, execution)
    assert failed is not None
    assert failed.last_failed_execution == execution.execution_id
    done = _event(failed, EXECUTION_SUCCEEDED.type)
    succeeded = evolve_device(failed, done, replace(execution, reported_version="2.0.0"))
    assert succeeded is not None
    assert (succeeded.reported_version, succeeded.last_failed_execution) == ("2.0.0", None)


def _execution(device_id: uuid.UUID) -> Any:
    world = OtaWorld(FleetApplication())
    world.record()
    rows = fold(world)
    return replace(next(iter(rows["executions"].values())), device_id=device_id)


def test_eta_is_the_rate_wait_plus_the_median(world: OtaWorld) -> None:
    rows = fold(world)
    assert world.deployment is not None
    row = rows["deployments"]["acme", world.deployment]
    plan = dict(row.plan) | {"rate": {"base_per_minute": 2, "max_per_minute": None,
                                      "increase_factor": 1.0, "increase_every": 1,
                                      "criterion": "NOTIFIED"}}  # fmt: skip
    limited = replace(row, plan=plan, targets=12, notified=2, success_seconds={bucket_of(600): 3})
    estimate = eta(limited, T0)
    assert estimate is not None
    assert abs((estimate - T0) / timedelta(minutes=5 + 10) - 1) < 0.05  # 10 left at 2/min
    assert eta(replace(limited, status=DeploymentStatus.COMPLETED), T0) is None
    assert eta(replace(limited, success_seconds={}), T0) is None


def test_the_median_of_the_histogram_is_within_five_percent() -> None:
    times = [5.0, 30.0, 31.0, 400.0, 9000.0]
    histogram: dict[str, int] = {}
    for t in times:
        histogram[bucket_of(t)] = histogram.get(bucket_of(t), 0) + 1
    median = median_seconds(histogram)
    assert median is not None
    assert abs(median / 31.0 - 1) < 0.05
    assert median_seconds({}) is None


def test_compliance_counts_devices_behind_the_latest() -> None:
    latest = FirmwareRow(
        "acme", uuid.uuid4(), "1.2.0", "", ("pump",), None, "f", 1, "a" * 64, "k", None, None,
        None, FirmwareStatus.AVAILABLE, T0, None, None, None, None, None, None, 1, T0,
    )  # fmt: skip
    latest = replace(latest, sort_key=parse_semver("1.2.0").sort_key)
    groups = [
        ("pump", "1.2.0+b7", 4, 0),  # same precedence: current
        ("pump", "1.1.9", 2, 1),
        ("pump", "garbage", 1, 0),
        ("pump", None, 3, 0),
        ("fan", "0.1.0", 5, 2),
    ]
    fan, pump = summarize(groups, lambda kind: latest if kind == "pump" else None)
    assert (pump.devices, pump.behind, pump.failed, pump.latest_version) == (10, 6, 1, "1.2.0")
    assert pump.versions == {"1.2.0+b7": 4, "1.1.9": 2, "garbage": 1, "": 3}
    assert (fan.devices, fan.behind, fan.failed, fan.latest_firmware_id) == (5, 0, 2, None)


def test_a_retry_moves_the_execution_back_to_queued(world: OtaWorld) -> None:
    failed = world.service.get_execution("acme", world.executions[1])
    assert failed.execution.retry_at is not None
    assert failed.retry(failed.execution.retry_at)
    world.app.commit(failed, OTA)
    rows = fold(world)
    row = rows["executions"]["acme", world.executions[1]]
    assert (row.state, row.finished_at, row.retry_at) == (ExecutionState.QUEUED, None, None)
    assert [t.event for t in rows["history"]["acme", world.executions[1]]][-2:] == [
        "failed",
        "retried",
    ]
    assert world.deployment is not None
    deployment = rows["deployments"]["acme", world.deployment]
    assert deployment.counts == {"SUCCEEDED": 1, "QUEUED": 2}
    assert deployment.notified == 2  # the retry's notification is not a new device
