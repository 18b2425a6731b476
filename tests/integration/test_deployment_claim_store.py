"""One active execution per device on each store (SQLite, DynamoDB Local): `notify` saves the
execution's `Notified` and the device's claim in one `insert_events`, so a notifier that lost
the race for the claim stores neither (docs/firmware.md 12.2)."""

from __future__ import annotations

import uuid

import pytest

from tests.ota_clock import Clock
from tests.unit.deployment_fixtures import ORCHESTRATOR, Releases, World
from write_side.application import FleetApplication
from write_side.deployment_claims import DeviceClaim, claim_id
from write_side.deployment_errors import DeviceBusy
from write_side.deployment_service import DeploymentService
from write_side.deployment_states import ExecutionState
from write_side.errors import ConcurrencyConflict

DEVICE = uuid.UUID(int=21)


def test_notify_takes_the_claim_in_the_same_commit(app: FleetApplication) -> None:
    releases, clock = Releases(), Clock()
    world = World(app, releases, clock, DeploymentService(app, releases, clock, lambda: 7))
    first, second = world.running(), world.running()
    winner = world.queued(first, DEVICE)
    loser = world.queued(second, DEVICE)
    # The loser read the device's claim (none yet) before the winner notified.
    stale_claim = DeviceClaim.open("acme", DEVICE)
    world.service.notify(winner, "mqtt", ORCHESTRATOR)
    claim = app.load(DeviceClaim, "acme", claim_id("acme", DEVICE))
    assert claim.holder == winner
    execution = world.service.get_execution("acme", loser)
    execution.notify(clock(), "mqtt", second.plan.execution)
    stale_claim.claim(loser, second.id, clock(), holder_active=False)
    before = world.stored()
    with pytest.raises(ConcurrencyConflict):
        app.commit(execution, ORCHESTRATOR, stale_claim)
    assert world.stored() == before
    assert world.state(loser) is ExecutionState.QUEUED  # its Notified was not stored either
    with pytest.raises(DeviceBusy):  # decided afresh: the device is busy, it stays queued
        world.service.notify(loser, "mqtt", ORCHESTRATOR)
    assert world.stored() == before
