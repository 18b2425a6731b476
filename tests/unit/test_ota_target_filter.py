"""The OTA orchestrator on a target filter (docs/firmware.md 12.2), on the in-memory store: a
snapshot takes the devices matching at its start (OR the ids, tags and types named beside
the filter); a dynamic one also takes a device that comes to match later, by a rename, a new
tag, or a version it reports, all learned from the feed."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from uuid import UUID

import pytest

from tests.unit.deployment_fixtures import OLD, OPERATOR
from tests.unit.ota_fixtures import OtaWorld
from write_side.commands import DecommissionDevice, RegisterDevice, UpdateDevice
from write_side.deployment_states import ExecutionState

S = ExecutionState
OLD_ONES = {"firmwareVersions": [OLD, "1.0.1"]}


@pytest.fixture
def world() -> Iterator[OtaWorld]:
    built = OtaWorld.build({"PERSISTENCE_MODULE": "eventsourcing.popo"})
    yield built
    built.app.close()


def device(
    world: OtaWorld, name: str, tags: Sequence[str] = ("north",), version: str | None = OLD
) -> UUID:
    command = RegisterDevice(name=name, device_type="pump", tags=list(tags))
    device_id = world.devices.register(command, OPERATOR).aggregate.id
    if version is not None:
        world.report_version(device_id, version)
    return device_id


def rename(world: OtaWorld, device_id: UUID, name: str) -> None:
    world.devices.update(UpdateDevice(device_id=device_id, name=name), OPERATOR)


def test_a_filter_targets_the_devices_matching_all_its_fields_or_named_beside_it(
    world: OtaWorld,
) -> None:
    chosen = device(world, "North Pump 1")
    device(world, "north pump 2", version="1.9.0")  # not on an old version
    device(world, "north pump 3", version=None)  # never reported one
    device(world, "north pump 4", tags=("south",))  # not tagged
    device(world, "north valve")  # not a pump by name
    gone = device(world, "north pump 5")
    world.devices.decommission(DecommissionDevice(device_id=gone), OPERATOR)
    named = device(world, "south", tags=("south",), version="1.9.0")
    target = {
        "deviceIds": [str(named)],
        "filter": {"lifecycle": "active", "tag": "north", "nameContains": "PUMP"} | OLD_ONES,
    }
    deployment = world.create(target=target)
    world.pump()
    assert world.states(deployment) == {chosen: S.NOTIFIED, named: S.NOTIFIED}


def test_a_snapshot_filter_takes_no_device_that_matches_later(world: OtaWorld) -> None:
    device(world, "pump 1")
    deployment = world.create(target={"filter": {"nameContains": "pump"}})
    world.pump()
    late = device(world, "pump 2")
    world.pump()
    assert late not in world.states(deployment)


def test_a_dynamic_filter_takes_a_device_renamed_retagged_or_reporting_a_version_later(
    world: OtaWorld,
) -> None:
    first = device(world, "pump a", tags=("east",))  # in all three: they start RUNNING
    by_name = world.create(target={"filter": {"nameContains": "pump"}, "dynamic": True})
    by_tag = world.create(target={"filter": {"tag": "east"}, "dynamic": True})
    by_version = world.create(target={"filter": OLD_ONES, "dynamic": True})
    world.pump()
    assert all(set(world.states(d)) == {first} for d in (by_name, by_tag, by_version))

    valve = device(world, "valve", tags=("west",), version=None)
    world.pump()
    assert all(valve not in world.states(d) for d in (by_name, by_tag, by_version))
    rename(world, valve, "Pump b")
    world.pump()
    assert world.states(by_name)[valve] is S.NOTIFIED

    world.retag(valve, ["east"])
    world.pump()
    assert valve in world.states(by_tag)  # QUEUED: the device is busy with by_name's

    newcomer = device(world, "other", tags=(), version="0.9.0")
    world.pump()
    assert newcomer not in world.states(by_version)
    world.report_version(newcomer, "1.0.1")  # telemetry only: no device event
    world.pump()
    assert world.states(by_version)[newcomer] is S.NOTIFIED
