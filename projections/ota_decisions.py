"""The OTA orchestrator's pure decisions over what it knows (`projections.ota_state`): who a
deployment targets, the waves' membership and tallies, which queued executions may be notified
now (device free, window open, rate slot free), and the health gate's cohorts. No I/O; the
process (`projections.ota`) records what these say through the write side's commands.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from projections.ota_devices import DeviceFacts
from projections.ota_state import DeploymentFacts, ExecutionFacts, OtaState
from write_side.deployment_health import Cohort
from write_side.deployment_rate import free_slots, next_slot
from write_side.deployment_states import ACTIVE, FINISHED, ExecutionState
from write_side.deployment_waves import WaveTally, assign_waves, place_late
from write_side.deployment_windows import device_zone, is_open, next_opening, zone_named
from write_side.firmware import installs_on

S = ExecutionState


def targets(state: OtaState, deployment: DeploymentFacts) -> dict[UUID, DeviceFacts]:
    """The tenant's devices the target selects (by id, tag, type or filter: `Target.selects`,
    a filter on the name, type, tags and reported version this state holds), in service, that
    the release installs on: of a type it is made for and, when it names hardware revisions, of
    one of them (`installs_on`; the release's types and revisions as `Firmware.UploadRequested`
    recorded them). The others are left out, never executed."""
    target, types = deployment.target, state.firmware_types.get(deployment.firmware_id)
    revisions = state.firmware_revisions.get(deployment.firmware_id)
    found = {}
    for device_id, device in state.devices.items():
        if device.tenant_id != deployment.tenant_id or device.decommissioned:
            continue
        if target.selects(str(device_id), device) and (
            types is None or installs_on(types, revisions, device.device_type, device.metadata)
        ):
            found[device_id] = device
    return found


def joined_by_version(state: OtaState, device_id: UUID) -> list[UUID]:
    """The dynamic deployments running in the device's tenant whose filter names firmware
    versions and that now select the device, which has no execution in them yet: a reported
    version is how it joins them (other telemetry touches none)."""
    device = state.devices.get(device_id)
    if device is None or device.decommissioned:
        return []
    has = {e.deployment_id for e in state.by_device(device_id)}
    return [
        d.id
        for d in state.deployments.values()
        if d.target.dynamic
        and d.target.filter is not None
        and d.target.filter.firmware_versions
        and d.tenant_id == device.tenant_id
        and d.status not in FINISHED
        and d.id not in has
        and d.target.selects(str(device_id), device)
    ]


def waves_of(
    deployment: DeploymentFacts, devices: dict[UUID, DeviceFacts], current: int | None
) -> dict[UUID, int]:
    """Each device's wave: the seeded membership at the start (`current` None), else each
    joins by its own hash point, never before the wave running."""
    plan = deployment.plan
    if current is None:
        groups: dict[str, Hashable] = {
            str(device_id): (device.metadata.get(plan.spread_by) if plan.spread_by else None)
            for device_id, device in devices.items()
        }
        return {UUID(d): w for d, w in assign_waves(plan.seed, groups, plan.waves).items()}
    return {d: place_late(plan.seed, str(d), plan.waves, current) for d in devices}


def tally(executions: Iterable[ExecutionFacts], wave: int | None = None) -> WaveTally:
    """The install executions of `wave` (None: all) by outcome."""
    chosen = [e for e in executions if e.purpose == "install" and wave in (None, e.wave)]
    return WaveTally(
        members=len(chosen),
        succeeded=sum(e.state is S.SUCCEEDED for e in chosen),
        failed=sum(e.final_failure for e in chosen),
        canceled=sum(e.state is S.CANCELED for e in chosen),
    )


@dataclass(frozen=True)
class Notifiable:
    """The queued executions to notify now, and when to look again (None: nothing waits)."""

    executions: list[ExecutionFacts]
    wake_at: datetime | None


def notifiable(
    state: OtaState, deployment: DeploymentFacts, wave: int | None, now: datetime
) -> Notifiable:
    """QUEUED executions of the waves started (and reverts), oldest first, whose device has no
    other active execution, whose `not_before` passed and whose maintenance window is open,
    as many as the rate limit's free slots."""
    plan, wakes = deployment.plan, []
    default = zone_named(plan.default_time_zone, "defaultTimeZone")
    waiting = sorted(
        (
            e
            for e in deployment.executions.values()
            if e.state is S.QUEUED
            and (e.purpose == "revert" or (wave is not None and e.wave <= wave))
        ),
        key=lambda e: (e.queued_at, str(e.id)),
    )
    chosen: list[ExecutionFacts] = []
    for execution in waiting:
        if state.active_on(execution.device_id) is not None:
            continue  # `DeviceBusy`: looked at again when the device's execution ends
        if execution.not_before is not None and execution.not_before > now:
            wakes.append(execution.not_before)
            continue
        device = state.devices.get(execution.device_id)
        zone = device_zone({} if device is None else device.metadata, default)
        if not is_open(plan.windows, now, zone):
            wakes.append(next_opening(plan.windows, now, zone))
            continue
        chosen.append(execution)
    if plan.rate is not None and chosen:
        installs = deployment.installs()
        done = sum(e.state is S.SUCCEEDED for e in installs)
        rate = plan.rate.per_minute(len(deployment.notified), done)
        slots = free_slots(rate, now, deployment.notified)
        if slots < len(chosen):
            chosen = chosen[:slots]
            wakes.append(next_slot(rate, now, deployment.notified))
    return Notifiable(chosen, min((w for w in wakes if w > now), default=None))


def due_timeouts(
    deployment: DeploymentFacts, now: datetime
) -> tuple[list[ExecutionFacts], list[ExecutionFacts], datetime | None]:
    """Executions whose stall deadline passed, those whose retry is due, and the next such
    time still ahead."""
    stalled, retries, ahead = [], [], []
    for e in deployment.executions.values():
        if e.state in ACTIVE and e.stall_deadline is not None:
            if e.stall_deadline <= now:
                stalled.append(e)
            else:
                ahead.append(e.stall_deadline)
        if e.state is S.FAILED and e.retry_at is not None:
            if e.retry_at <= now:
                retries.append(e)
            else:
                ahead.append(e.retry_at)
    return stalled, retries, min(ahead, default=None)


def cohorts(
    state: OtaState, deployment: DeploymentFacts, wave: int, since: datetime, until: datetime
) -> tuple[Cohort, Cohort]:
    """The health gate's cohorts over the soak [since, until]: the wave's devices that
    succeeded, and the control, the targets of later waves not yet updated (else the tenant's
    other devices of the target's types). Alerts are the `Alert.Raised` of each device within
    the soak; the metric is the mean of the gate metric's samples in it; a regression is an
    updated device whose last reported version is not the target."""
    gate = deployment.plan.health_gate
    metric = "" if gate is None else gate.metric
    installs = deployment.installs()
    updated = [e.device_id for e in installs if e.wave == wave and e.state is S.SUCCEEDED]
    control = [e.device_id for e in installs if e.wave > wave and e.state is not S.SUCCEEDED]
    if not control:
        types = {state.devices[d].device_type for d in updated if d in state.devices}
        known = {e.device_id for e in installs}
        control = [
            d
            for d, device in state.devices.items()
            if device.tenant_id == deployment.tenant_id
            and device.device_type in types
            and d not in known
            and not device.decommissioned
        ]
    hours = max((until - since).total_seconds() / 3600, 0.0)

    def cohort(devices: list[UUID], regressions: int) -> Cohort:
        facts = [state.devices[d] for d in devices if d in state.devices]
        values = [
            v for f in facts for at, m, v in f.samples if m == metric and since <= at <= until
        ]
        alerts = sum(since <= at <= until for f in facts for at in f.alerts)
        return Cohort(len(facts), len(facts) * hours, alerts, sum(values), len(values), regressions)

    regressed = sum(
        1
        for d in updated
        if d in state.devices
        and state.devices[d].version not in (None, deployment.firmware_version)
    )
    return cohort(updated, regressed), cohort(control, 0)
