"""The deployment service on an in-memory store (docs/firmware.md 12.2-12.5): creating a
deployment against the firmware port, the people's commands with expected versions, the device
protocol's updates (idempotent by seq, another device's execution not found), telemetry
versions, and one active execution per device (the second is queued, not notified)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from pydantic import ValidationError

from event_store.envelope import EventMetadata
from tests.unit.deployment_fixtures import OLD, OPERATOR, ORCHESTRATOR, OTHER, TARGET, World
from write_side.deployment_claims import DeviceClaim, claim_id
from write_side.deployment_commands import (
    ApproveWave,
    CancelDeployment,
    ObserveVersion,
    PauseDeployment,
    ReportUpdate,
    ResumeDeployment,
    parse_create_deployment,
)
from write_side.deployment_errors import (
    DeploymentFinished,
    DeviceBusy,
    FirmwareUnavailable,
    InvalidTransition,
    StaleUpdate,
)
from write_side.deployment_executions import DeploymentExecution
from write_side.deployment_states import DeploymentStatus, ExecutionState
from write_side.deployment_waves import WaveTally
from write_side.errors import ConcurrencyConflict, InvalidInput, NotFound

S = ExecutionState
DEVICE = uuid.UUID(int=11)


@pytest.fixture
def world() -> Iterator[World]:
    built = World.build()
    yield built
    built.app.close()


def report(world: World, execution: uuid.UUID, seq: int, status: str, **fields: object) -> int:
    """Report an update from DEVICE (unless `device_id` is given); the feed position."""
    body = {"device_id": DEVICE, "execution_id": execution, "seq": seq, "status": status}
    command = ReportUpdate.model_validate(body | {"at": world.clock.tick()} | fields)
    return world.service.report_update(command, ORCHESTRATOR).position


def test_create_records_the_release_version_and_a_drawn_seed(world: World) -> None:
    deployment = world.create()
    assert deployment.firmware_version == TARGET
    assert deployment.plan.seed == 7  # drawn by the service's `new_seed`
    assert deployment.created_by == "user:olga"
    given = world.create(seed="123", waves=[{"percent": 10}, {}])
    assert given.plan.seed == 123
    assert world.service.get("acme", given.id).plan == given.plan  # as stored


def test_create_refuses_firmware_that_cannot_be_deployed(world: World) -> None:
    def create(firmware: uuid.UUID, **target: object) -> None:
        data = {"name": "x", "firmwareId": str(firmware), "target": target or {"tags": ["t"]}}
        world.service.create(parse_create_deployment(data), OPERATOR)

    before = world.stored()
    with pytest.raises(FirmwareUnavailable):
        create(world.releases.add(status="WITHDRAWN"))
    with pytest.raises(InvalidInput) as unknown:
        create(uuid.uuid4())
    assert unknown.value.field == "firmwareId"
    with pytest.raises(InvalidInput) as foreign:  # another tenant's release is unknown too
        create(world.releases.add(tenant="globex"))
    assert foreign.value.field == "firmwareId"
    with pytest.raises(InvalidInput) as incompatible:
        create(world.releases.add(), deviceTypes=["pump", "valve"])
    assert (incompatible.value.field, "valve" in incompatible.value.message) == (
        "target.deviceTypes",
        True,
    )
    with pytest.raises(InvalidInput) as empty:
        create(world.releases.add(), dynamic=True)  # no devices, tags or types
    assert empty.value.field == "target"
    assert world.stored() == before


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        (
            {"waves": [{"percent": 10}, {"percent": 5, "successPercent": 0}, {}]},
            "waves[1].successPercent",
        ),
        ({"waves": [{"percent": "many"}, {}]}, "waves[0].percent"),
        ({"windows": [{"start": "02:00", "end": "25:00"}]}, "windows[0].end"),
        ({"rate": {"basePerMinute": 10, "maxPerMinute": 5}}, "rate.maxPerMinute"),
        ({"stallTimeouts": {"installing": 0}}, "stallTimeouts.installing"),
        ({"retry": {"maxRetries": {"download": 11}}}, "retry.maxRetries.download"),
        ({"healthGate": {"metric": "temp", "minDevices": 0}}, "healthGate.minDevices"),
        ({"defaultTimeZone": "Mars/Olympus"}, "defaultTimeZone"),
        ({"startAt": "2026-03-01T12:00:00"}, "startAt"),
        ({"name": ""}, "name"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_input_names_the_field_as_the_api_spells_it(
    fields: dict[str, object], field: str
) -> None:
    data = {"name": "x", "firmwareId": str(uuid.uuid4()), "target": {"tags": ["t"]}}
    with pytest.raises(InvalidInput) as caught:
        parse_create_deployment(data | fields)
    assert caught.value.field == field


def test_pause_resume_cancel_follow_expected_versions(world: World) -> None:
    deployment = world.running()
    at = deployment.version
    paused = world.service.pause(
        PauseDeployment(deployment_id=deployment.id, expected_version=at), OPERATOR
    )
    assert paused.aggregate.status is DeploymentStatus.PAUSED
    again = world.service.pause(PauseDeployment(deployment_id=deployment.id), OPERATOR)
    assert again.position == 0  # paused already: nothing recorded
    with pytest.raises(ConcurrencyConflict):
        world.service.resume(
            ResumeDeployment(deployment_id=deployment.id, expected_version=at), OPERATOR
        )
    resumed = world.service.resume(ResumeDeployment(deployment_id=deployment.id), OPERATOR)
    assert resumed.aggregate.status is DeploymentStatus.RUNNING
    with pytest.raises(InvalidTransition):
        world.service.resume(ResumeDeployment(deployment_id=deployment.id), OPERATOR)
    world.service.cancel(
        CancelDeployment(deployment_id=deployment.id, reason="wrong build"), OPERATOR
    )
    before = world.stored()
    with pytest.raises(DeploymentFinished):
        world.service.pause(PauseDeployment(deployment_id=deployment.id), OPERATOR)
    with pytest.raises(NotFound):  # another tenant's deployment
        world.service.cancel(
            CancelDeployment(deployment_id=deployment.id), EventMetadata("globex", "user:g")
        )
    assert world.stored() == before


def test_a_wave_that_needs_approval_is_approved(world: World) -> None:
    deployment = world.running(waves=[{"count": 1}, {"approval": True}])
    deployment.promote(0, WaveTally(members=1, succeeded=1), world.clock())
    deployment.start_wave(1, 9, world.clock())
    world.app.commit(deployment, ORCHESTRATOR)
    assert world.service.get("acme", deployment.id).status is DeploymentStatus.AWAITING_APPROVAL
    with pytest.raises(InvalidTransition):
        world.service.approve(ApproveWave(deployment_id=deployment.id, wave=2), OPERATOR)
    approved = world.service.approve(ApproveWave(deployment_id=deployment.id, wave=1), OPERATOR)
    assert approved.aggregate.status is DeploymentStatus.RUNNING
    assert 1 in approved.aggregate.approved


def test_a_device_update_moves_its_execution_and_a_duplicate_records_nothing(world: World) -> None:
    execution = world.notified(world.running(), DEVICE)
    assert report(world, execution, 1, "downloading", percent=40) > 0
    assert report(world, execution, 1, "downloading", percent=40) == 0  # duplicate
    assert report(world, execution, 3, "installing") > 0  # a skip forward is fine
    before = world.stored()
    with pytest.raises(StaleUpdate):
        report(world, execution, 2, "downloaded")
    with pytest.raises(InvalidTransition):
        report(world, execution, 4, "downloading")  # backwards
    with pytest.raises(NotFound):  # another device's execution
        report(world, execution, 5, "installing", device_id=uuid.UUID(int=99))
    command = ReportUpdate.model_validate(
        {
            "device_id": DEVICE,
            "execution_id": execution,
            "seq": 5,
            "status": "installing",
            "at": world.clock(),
        }
    )
    with pytest.raises(NotFound):  # another tenant's
        world.service.report_update(command, EventMetadata("globex", "device:x"))
    assert world.stored() == before
    assert report(world, execution, 5, "succeeded") > 0  # "done" without a version
    assert world.state(execution) is S.INSTALLING
    assert report(world, execution, 6, "succeeded", version=TARGET) > 0
    assert world.state(execution) is S.SUCCEEDED


def test_telemetry_versions_decide_the_device_active_execution(world: World) -> None:
    deployment = world.running()
    execution = world.notified(deployment, DEVICE)
    observe = ObserveVersion(device_id=DEVICE, version=OLD, at=world.clock.tick())
    unchanged = world.service.observe_version(observe, ORCHESTRATOR)
    assert unchanged is not None
    assert unchanged.position == 0
    assert world.state(execution) is S.NOTIFIED  # the old version before "done": nothing
    report(world, execution, 1, "succeeded")
    later = ObserveVersion(device_id=DEVICE, version=OTHER, at=world.clock.tick())
    saved = world.service.observe_version(later, ORCHESTRATOR)
    assert saved is not None
    assert saved.position > 0
    assert world.state(execution) is S.ROLLED_BACK  # "done", then another version
    second = world.notified(deployment, uuid.UUID(int=12))
    observe = ObserveVersion(device_id=uuid.UUID(int=12), version=TARGET, at=world.clock.tick())
    assert world.service.observe_version(observe, ORCHESTRATOR) is not None
    assert world.state(second) is S.SUCCEEDED
    nobody = ObserveVersion(device_id=uuid.UUID(int=13), version=TARGET, at=world.clock.tick())
    assert world.service.observe_version(nobody, ORCHESTRATOR) is None


def test_a_second_deployment_on_a_busy_device_stays_queued(world: World) -> None:
    first = world.notified(world.running(), DEVICE)
    second = world.queued(world.running(), DEVICE)
    before = world.stored()
    with pytest.raises(DeviceBusy) as busy:
        world.service.notify(second, "http", ORCHESTRATOR)
    assert busy.value.holder == str(first)
    assert world.stored() == before
    assert world.state(second) is S.QUEUED
    report(world, first, 1, "installing", version=TARGET)  # first ends: SUCCEEDED
    world.service.notify(second, "http", ORCHESTRATOR)
    assert world.state(second) is S.NOTIFIED
    claim = world.app.load(DeviceClaim, "acme", claim_id("acme", DEVICE))
    assert claim.holder == second


def test_notify_and_its_claim_commit_together_or_not_at_all(world: World) -> None:
    deployment = world.running()
    execution = world.queued(deployment, DEVICE)
    world.service.notify(world.queued(world.running(), uuid.UUID(int=12)), "mqtt", ORCHESTRATOR)
    stale_claim = DeviceClaim.open("acme", DEVICE)  # as if read before another notifier won
    world.app.commit(DeviceClaim.open("acme", DEVICE), ORCHESTRATOR)
    loaded = world.service.get_execution("acme", execution)
    stale_claim.claim(execution, deployment.id, world.clock(), holder_active=False)
    loaded.notify(world.clock(), "mqtt", deployment.plan.execution)
    with pytest.raises(ConcurrencyConflict):
        world.app.commit(loaded, ORCHESTRATOR, stale_claim)
    assert world.state(execution) is S.QUEUED  # the execution's event was not stored either


def test_only_a_running_deployment_notifies(world: World) -> None:
    deployment = world.running()
    execution = world.queued(deployment, DEVICE)
    world.service.pause(PauseDeployment(deployment_id=deployment.id), OPERATOR)
    with pytest.raises(InvalidTransition):
        world.service.notify(execution, "mqtt", ORCHESTRATOR)
    assert world.state(execution) is S.QUEUED


def test_cancel_stops_an_execution_before_the_install(world: World) -> None:
    deployment = world.running()
    execution = world.notified(deployment, DEVICE)
    world.service.cancel_execution(execution, "deployment_canceled", ORCHESTRATOR)
    assert world.state(execution) is S.CANCELED
    installing = world.notified(deployment, uuid.UUID(int=12))
    command = ReportUpdate(
        device_id=uuid.UUID(int=12),
        execution_id=installing,
        seq=1,
        status="installing",
        at=world.clock(),
    )  # type: ignore[arg-type]
    world.service.report_update(command, ORCHESTRATOR)
    with pytest.raises(InvalidTransition):
        world.service.cancel_execution(installing, "deployment_canceled", ORCHESTRATOR)


def test_a_failed_install_asks_for_a_revert_when_the_plan_says_so(world: World) -> None:
    deployment = world.running(onExecutionFailure="REVERT", retry={"maxRetries": {"install": 0}})
    execution = world.notified(deployment, DEVICE)
    report(world, execution, 1, "installing")
    report(world, execution, 2, "failed", reason="flash error")
    stored = world.app.events.get(execution)
    failed = list(stored)[-1]
    assert type(failed).__qualname__ == "DeploymentExecution.Failed"
    assert (failed.kind, failed.revert, failed.retry_at) == ("install", True, None)  # type: ignore[attr-defined]


def test_the_queue_is_idempotent_and_the_id_is_the_natural_key(world: World) -> None:
    deployment = world.running()
    first = world.queued(deployment, DEVICE)
    assert world.queued(deployment, DEVICE) == first
    aggregate = world.service.get_execution("acme", first)
    assert isinstance(aggregate, DeploymentExecution)
    assert (aggregate.execution.target_version, aggregate.execution.from_version) == (TARGET, OLD)


def test_report_update_validates_its_body() -> None:
    base = {
        "device_id": DEVICE,
        "execution_id": uuid.uuid4(),
        "seq": 1,
        "at": "2026-03-01T12:00:00Z",
    }
    with pytest.raises(InvalidInput) as stalled:
        ReportUpdate.model_validate(base | {"status": "failed", "kind": "stalled"})
    assert stalled.value.field == "kind"
    with pytest.raises(InvalidInput):
        ReportUpdate.model_validate(base | {"status": "downloading", "kind": "download"})
    for bad in ({"seq": 0}, {"percent": 101}, {"at": "2026-03-01T12:00:00"}, {"status": "done"}):
        with pytest.raises(ValidationError):
            ReportUpdate.model_validate(base | {"status": "downloading"} | bad)


def test_every_notification_moves_the_device_claim(world: World) -> None:
    """A retried execution notified again re-claims its device (a claim event), so a notifier
    that read it as ended cannot slip in beside it."""
    deployment = world.running(retry={"maxRetries": {"download": 1}})
    execution = world.notified(deployment, DEVICE)
    report(world, execution, 1, "failed")
    aggregate = world.service.get_execution("acme", execution)
    retry_at = aggregate.execution.retry_at
    assert retry_at is not None
    aggregate.retry(retry_at)
    world.app.commit(aggregate, ORCHESTRATOR)
    claim_stream = claim_id("acme", DEVICE)
    before = world.app.load(DeviceClaim, "acme", claim_stream).version
    world.service.notify(execution, "mqtt", ORCHESTRATOR)
    claim = world.app.load(DeviceClaim, "acme", claim_stream)
    assert (claim.version, claim.holder) == (before + 1, execution)
