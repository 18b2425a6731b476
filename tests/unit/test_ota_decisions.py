"""Each decision of the OTA orchestrator on the in-memory store (docs/firmware.md 12.2-12.4):
targets, scheduled start, already current devices, approval, thresholds (pause, abort with
reverts), a busy device, a dynamic target, a withdrawn release, the rate limit, maintenance
windows, stalls and retries, the health gate, and a version reported in telemetry."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from uuid import UUID

import pytest

from tests.ota_clock import T0
from tests.unit.deployment_fixtures import OLD, OPERATOR
from tests.unit.ota_fixtures import OtaWorld
from write_side.alerts import Alert
from write_side.commands import DecommissionDevice
from write_side.deployment_commands import ApproveWave, ResumeDeployment
from write_side.deployment_states import DeploymentStatus, ExecutionState

S, Status = ExecutionState, DeploymentStatus


@pytest.fixture
def world() -> Iterator[OtaWorld]:
    built = OtaWorld.build({"PERSISTENCE_MODULE": "eventsourcing.popo"})
    yield built
    built.app.close()


def fleet(
    world: OtaWorld, n: int, tags: tuple[str, ...] = ("north",), **metadata: str
) -> list[UUID]:
    devices = [world.register(tags=tags, **metadata) for _ in range(n)]
    for device in devices:
        world.report_version(device, OLD)
    return devices


def count(world: OtaWorld, deployment: UUID) -> Counter[ExecutionState]:
    return Counter(world.states(deployment).values())


def test_targets_are_tagged_typed_or_named_devices_in_service_of_a_compatible_type(
    world: OtaWorld,
) -> None:
    tagged = fleet(world, 2)
    fleet(world, 1, tags=("south",))
    valve = world.register(device_type="valve")  # tagged, but the release is for pumps
    gone = world.register()
    world.devices.decommission(DecommissionDevice(device_id=gone), OPERATOR)
    deployment = world.create()
    world.pump()
    assert set(world.states(deployment)) == set(tagged)
    assert valve not in world.states(deployment)
    assert world.deployment(deployment).status is Status.RUNNING


def test_a_release_naming_hardware_revisions_targets_only_devices_of_those(
    world: OtaWorld,
) -> None:
    """Metadata `fleetwatch.hardware_revision` must be one the release names (a device with
    none is left out too); a release naming none installs on every revision."""
    key = "fleetwatch.hardware_revision"
    r2 = fleet(world, 2, **{key: "r2"})
    r3 = fleet(world, 1, **{key: "r3"})
    fleet(world, 1, **{key: "r1"})
    bare = fleet(world, 1)
    deployment = world.create(firmware=world.release(revisions=["r2", "r3"]))
    world.pump()
    assert set(world.states(deployment)) == {*r2, *r3}
    anywhere = world.create(firmware=world.release(revisions=[]))
    world.pump()
    assert set(bare) <= set(world.states(anywhere))


def test_a_scheduled_start_waits_for_its_timer(world: OtaWorld) -> None:
    fleet(world, 2)
    deployment = world.create(startAt=(T0 + timedelta(hours=1)).isoformat())
    world.pump()
    assert world.deployment(deployment).status is Status.SCHEDULED
    assert [t.due_at for t in world.timers.rows.values()] == [T0 + timedelta(hours=1)]
    world.clock.tick(3600)
    world.fire_due()
    assert count(world, deployment) == {S.NOTIFIED: 2}


def test_a_device_already_on_the_target_version_succeeds_without_a_job(world: OtaWorld) -> None:
    devices = fleet(world, 2)
    firmware = world.release()
    deployment = world.create(firmware=firmware)
    world.report_version(devices[0], world.target_version(deployment))
    world.pump()
    assert world.states(deployment) == {devices[0]: S.SUCCEEDED, devices[1]: S.NOTIFIED}
    assert len(world.notified_events()) == 1


def test_a_wave_that_needs_approval_waits_for_it(world: OtaWorld) -> None:
    fleet(world, 3)
    deployment = world.create(waves=[{"count": 1}, {"approval": True}])
    world.pump()
    [first] = [
        e for e, x in world.executions(deployment).items() if x.execution.state is S.NOTIFIED
    ]
    world.update(first, "succeeded", version=world.target_version(deployment))
    world.pump()
    assert world.deployment(deployment).status is Status.AWAITING_APPROVAL
    assert count(world, deployment) == {S.SUCCEEDED: 1, S.QUEUED: 2}
    world.service.approve(ApproveWave(deployment_id=deployment, wave=1), OPERATOR)
    world.pump()
    assert count(world, deployment) == {S.SUCCEEDED: 1, S.NOTIFIED: 2}


def test_a_failure_threshold_pauses_once_and_a_resume_goes_on(world: OtaWorld) -> None:
    fleet(world, 4)
    deployment = world.create(waves=[{"count": 2, "failureCount": 1, "successPercent": 50}, {}])
    world.pump()
    first, second = [
        e for e, x in world.executions(deployment).items() if x.execution.state is S.NOTIFIED
    ]
    world.update(first, "rejected")
    world.pump()
    assert world.deployment(deployment).status is Status.PAUSED
    world.service.resume(ResumeDeployment(deployment_id=deployment), OPERATOR)
    world.pump()
    assert world.deployment(deployment).status is Status.RUNNING  # not paused again
    world.update(second, "succeeded", version=world.target_version(deployment))
    world.pump()
    assert world.deployment(deployment).wave == 1  # the failure accepted: 1 of 2 promotes


def test_an_abort_cancels_the_queued_and_reverts_the_succeeded(world: OtaWorld) -> None:
    fleet(world, 4)
    deployment = world.create(
        waves=[{"count": 2, "failureCount": 1, "onFailure": "ABORT"}, {}],
        revertSucceededOnAbort=True,
    )
    world.pump()
    first, second = [
        e for e, x in world.executions(deployment).items() if x.execution.state is S.NOTIFIED
    ]
    world.update(second, "succeeded", version=world.target_version(deployment))
    world.update(first, "rejected")
    world.pump()
    assert world.deployment(deployment).status is Status.ABORTED
    assert count(world, deployment) == {S.SUCCEEDED: 1, S.REJECTED: 1, S.CANCELED: 2}
    reverts = world.states(deployment, "revert")
    assert reverts == {world.execution(second).device_id: S.NOTIFIED}
    revert = next(e for e in world.executions(deployment).values() if e.purpose == "revert")
    assert revert.execution.target_version == OLD


def test_a_busy_device_waits_for_its_claim(world: OtaWorld) -> None:
    [device] = fleet(world, 1)
    first = world.create()
    world.pump()
    second = world.create()
    world.pump()
    assert world.states(second) == {device: S.QUEUED}
    [running] = world.executions(first)
    world.update(running, "succeeded", version=world.target_version(first))
    world.pump()
    assert world.states(second) == {device: S.NOTIFIED}


def test_a_dynamic_target_takes_a_device_that_joins_later(world: OtaWorld) -> None:
    fleet(world, 1)
    deployment = world.create(target={"tags": ["north"], "dynamic": True})
    world.pump()
    late = world.register(tags=("south",))
    world.pump()
    assert late not in world.states(deployment)
    world.retag(late, ["north"])
    world.pump()
    assert world.states(deployment)[late] is S.NOTIFIED


def test_a_withdrawn_release_cancels_its_deployments(world: OtaWorld) -> None:
    fleet(world, 2)
    firmware = world.release()
    deployment = world.create(firmware=firmware)
    world.pump()
    world.withdraw(firmware)
    world.pump()
    assert world.deployment(deployment).status is Status.CANCELED
    assert count(world, deployment) == {S.CANCELED: 2}


def test_the_rate_limit_spreads_notifications_over_minutes(world: OtaWorld) -> None:
    fleet(world, 5)
    deployment = world.create(rate={"basePerMinute": 2})
    world.pump()
    assert count(world, deployment) == {S.NOTIFIED: 2, S.QUEUED: 3}
    world.clock.tick(30)
    world.fire_due()
    assert count(world, deployment)[S.NOTIFIED] == 2
    world.clock.tick(31)
    world.fire_due()
    assert count(world, deployment) == {S.NOTIFIED: 4, S.QUEUED: 1}


def test_a_closed_window_waits_for_its_opening_in_the_device_zone(world: OtaWorld) -> None:
    # 12:00 UTC is 21:00 in Tokyo; the window opens at 22:00 local.
    fleet(world, 1, **{"fleetwatch.time_zone": "Asia/Tokyo"})
    deployment = world.create(windows=[{"start": "22:00", "end": "23:00"}])
    world.pump()
    assert count(world, deployment) == {S.QUEUED: 1}
    assert min(t.due_at for t in world.timers.rows.values()) == T0 + timedelta(hours=1)
    world.clock.tick(3600)
    world.fire_due()
    assert count(world, deployment) == {S.NOTIFIED: 1}


def test_a_stall_is_retried_then_times_out(world: OtaWorld) -> None:
    fleet(world, 1)
    deployment = world.create(retry={"maxRetries": {"stalled": 1}, "baseSeconds": 60})
    world.pump()
    [execution] = world.executions(deployment)
    world.clock.tick(25 * 3600)  # past the NOTIFIED stall timeout (24 h)
    world.fire_due()
    assert world.execution(execution).execution.state is S.FAILED
    world.clock.tick(3600)  # past the retry's backoff
    world.fire_due()
    assert world.execution(execution).execution.state is S.NOTIFIED
    assert world.execution(execution).execution.attempt == 2
    world.clock.tick(25 * 3600)
    world.fire_due()
    assert world.execution(execution).execution.state is S.TIMED_OUT
    assert world.deployment(deployment).status is Status.PAUSED  # the wave cannot succeed


def test_revert_follows_the_policy_for_failed_timed_out_and_rolled_back(
    world: OtaWorld,
) -> None:
    """Under `onExecutionFailure: REVERT`: an install that failed or stalled while installing
    gets a revert job, as does a device that said done on a third version; one that rolled
    itself back to the version it came from needs none, nor does one that stalled earlier."""
    fleet(world, 6)
    deployment = world.create(
        onExecutionFailure="REVERT",
        waves=[{"successPercent": 10, "failurePercent": 100}],
        retry={"maxRetries": {"install": 0, "stalled": 0}},  # these failures are final
    )
    world.pump()
    failed, stalled, rolled, third, early, _ = world.executions(deployment)
    for execution in (failed, stalled):
        world.update(execution, "installing")
    world.update(failed, "failed")
    world.update(rolled, "succeeded", version=OLD)  # done, on the version it came from
    world.update(third, "succeeded", version="1.5.0")
    world.update(early, "downloading")
    world.clock.tick(7200)  # past the INSTALLING and DOWNLOADING stall timeouts
    world.fire_due()
    device = {e: world.execution(e).device_id for e in (failed, stalled, rolled, third, early)}
    states = world.states(deployment)
    assert [states[device[e]] for e in (failed, stalled, rolled, third, early)] == [
        S.FAILED, S.TIMED_OUT, S.ROLLED_BACK, S.ROLLED_BACK, S.TIMED_OUT,
    ]  # fmt: skip
    assert world.deployment(deployment).status is Status.RUNNING
    reverts = world.states(deployment, "revert")
    assert set(reverts) == {device[failed], device[stalled], device[third]}


def test_the_health_gate_compares_the_wave_with_the_devices_not_yet_updated(
    world: OtaWorld,
) -> None:
    fleet(world, 4)
    deployment = world.create(
        waves=[{"count": 2, "soakSeconds": 600}, {}],
        healthGate={"metric": "temperature", "minDevices": 1},
    )
    world.pump()
    for execution, x in world.executions(deployment).items():
        if x.execution.state is S.NOTIFIED:
            world.update(execution, "succeeded", version=world.target_version(deployment))
    world.pump()
    assert world.deployment(deployment).soaking == 0
    world.clock.tick(601)
    world.fire_due()
    d = world.deployment(deployment)
    assert d.healthy == {0}
    assert d.wave == 1


def test_a_version_in_telemetry_ends_the_active_execution(world: OtaWorld) -> None:
    [device] = fleet(world, 1)
    deployment = world.create()
    world.pump()
    world.report_version(device, world.target_version(deployment))
    world.pump()
    assert world.states(deployment) == {device: S.SUCCEEDED}
    assert world.deployment(deployment).status is Status.COMPLETED


def test_alerts_on_the_updated_devices_fail_the_health_gate(world: OtaWorld) -> None:
    fleet(world, 4)
    deployment = world.create(
        waves=[{"count": 2, "soakSeconds": 600}, {}],
        healthGate={"metric": "temperature", "minDevices": 1},
    )
    world.pump()
    for execution, x in world.executions(deployment).items():
        if x.execution.state is S.NOTIFIED:
            world.update(execution, "succeeded", version=world.target_version(deployment))
    world.pump()
    updated = [x.device_id for x in world.executions(deployment).values() if x.wave == 0]
    world.clock.tick(60)
    for episode, device in enumerate(updated):
        alert = Alert.open(
            tenant_id="acme", rule_id=uuid.uuid4(), rule_revision=1, device_id=device,
            episode=episode + 1, severity="critical", value=99.0, at=world.clock(),
        )  # fmt: skip
        world.app.commit(alert, OPERATOR)
    world.clock.tick(541)
    world.fire_due()
    d = world.deployment(deployment)
    assert d.status is Status.PAUSED
    assert d.wave == 0
    assert d.healthy == set()


def test_a_deployment_completes_only_once_every_install_has_ended(world: OtaWorld) -> None:
    fleet(world, 3)
    deployment = world.create(waves=[{"count": 2, "successPercent": 50}, {}])
    world.pump()
    first, second = [
        e for e, x in world.executions(deployment).items() if x.execution.state is S.NOTIFIED
    ]
    world.update(first, "succeeded", version=world.target_version(deployment))
    world.pump()  # wave 0 promoted at 50 %; its second device still works
    for execution, x in world.executions(deployment).items():
        if x.wave == 1:
            world.update(execution, "succeeded", version=world.target_version(deployment))
    world.pump()
    assert world.deployment(deployment).status is Status.RUNNING
    world.update(second, "succeeded", version=world.target_version(deployment))
    world.pump()
    assert world.deployment(deployment).status is Status.COMPLETED


def test_a_snapshot_that_matches_no_device_is_canceled(world: OtaWorld) -> None:
    fleet(world, 1, tags=("south",))
    deployment = world.create()
    world.pump()
    assert world.deployment(deployment).status is Status.CANCELED
