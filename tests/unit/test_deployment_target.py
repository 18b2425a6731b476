"""A deployment's target (docs/firmware.md 12.2): ids OR tags OR types OR a filter whose fields
are ANDed; the filter's criteria match as the `devices` query's do; bad filters are refused
naming the field as the API spells it, and nothing is stored; `Deployment.Created` events
recorded before filters still load."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from read_side.device_status import DeviceFilter, DeviceStatus
from tests.hypothesis_profiles import examples
from tests.unit.deployment_fixtures import World
from write_side.deployment_commands import parse_create_deployment
from write_side.deployment_target import Target, TargetFilter
from write_side.errors import InvalidInput

WORDS = st.sampled_from(["north", "South", "pump", "PUMP-7", "valve", "ä"])
VERSIONS = st.sampled_from(["1.2.0", "1.2.1", "2.0.0"])


@dataclass(frozen=True)
class Device:
    name: str
    device_type: str
    tags: frozenset[str]
    decommissioned: bool = False
    version: str | None = None


devices = st.builds(
    Device,
    name=st.text(alphabet="aAbBäÄ -7", max_size=8),
    device_type=WORDS,
    tags=st.frozensets(WORDS, max_size=3),
    decommissioned=st.booleans(),
    version=st.none() | VERSIONS,
)
filters = (
    st.fixed_dictionaries(
        {
            "lifecycle": st.none() | st.just("active"),
            "device_type": st.none() | WORDS,
            "tag": st.none() | WORDS,
            "name_contains": st.none() | st.text(alphabet="aAbBäÄ -7", min_size=1, max_size=3),
            "firmware_versions": st.lists(VERSIONS, max_size=2, unique=True).map(tuple),
        }
    )
    .filter(lambda given: any(given.values()))  # an empty filter is no target
    .map(lambda given: TargetFilter(**given))
)


def status(device: Device) -> DeviceStatus:
    """The device as the device-status read model would show it."""
    at = datetime(2026, 1, 1, tzinfo=UTC)
    return DeviceStatus(
        uuid.uuid4(), "acme", device.name, device.device_type, tuple(sorted(device.tags)), {},
        "decommissioned" if device.decommissioned else "active", 1, at, at,
        firmware_version=device.version,
    )  # fmt: skip


@settings(max_examples=examples(200))
@given(filters, devices)
def test_a_filter_matches_as_the_devices_query_and_the_reported_versions(
    target_filter: TargetFilter, device: Device
) -> None:
    query = DeviceFilter(
        target_filter.lifecycle,  # type: ignore[arg-type]  # "active" or None here
        target_filter.device_type,
        target_filter.tag,
        target_filter.name_contains,
    )
    versions = target_filter.firmware_versions
    expected = query.matches(status(device)) and (not versions or device.version in versions)
    assert target_filter.matches(device) is expected


@settings(max_examples=examples(200))
@given(
    st.lists(st.sampled_from(["d1", "d2"]), max_size=2).map(tuple),
    st.lists(WORDS, max_size=2).map(tuple),
    st.lists(WORDS, max_size=2).map(tuple),
    st.none() | filters,
    st.sampled_from(["d1", "d3"]),
    devices,
)
def test_a_device_is_targeted_by_id_or_tag_or_type_or_filter(
    ids: tuple[str, ...],
    tags: tuple[str, ...],
    types: tuple[str, ...],
    target_filter: TargetFilter | None,
    device_id: str,
    device: Device,
) -> None:
    if not (ids or tags or types or target_filter):
        return
    target = Target(ids, tags, types, filter=target_filter)
    expected = (
        device_id in ids
        or bool(device.tags & set(tags))
        or device.device_type in types
        or (target_filter is not None and target_filter.matches(device))
    )
    assert target.selects(device_id, device) is expected
    assert Target.from_payload(target.to_payload()) == target


def test_a_filter_ands_its_fields() -> None:
    old_pump = Device("North pump 7", "pump", frozenset({"north"}), version="1.2.0")
    on_12x = TargetFilter(tag="north", name_contains="PUMP", firmware_versions=("1.2.0", "1.2.1"))
    assert on_12x.matches(old_pump)
    assert not on_12x.matches(replace(old_pump, version="1.3.0"))
    assert not on_12x.matches(replace(old_pump, version=None))  # never reported: not on 1.2.x
    assert not on_12x.matches(replace(old_pump, name="valve"))
    assert not TargetFilter(lifecycle="active").matches(replace(old_pump, decommissioned=True))


def test_created_events_recorded_before_filters_still_load() -> None:
    recorded = {"device_ids": [], "tags": ["north"], "device_types": [], "dynamic": True}
    target = Target.from_payload(recorded)
    assert (target.tags, target.dynamic, target.filter) == (("north",), True, None)
    assert target.to_payload() == recorded | {"filter": None}


BAD_FILTERS: list[tuple[dict[str, Any], str]] = [
    ({}, "target.filter"),
    ({"firmwareVersions": []}, "target.filter"),
    ({"lifecycle": "retired"}, "target.filter.lifecycle"),
    ({"lifecycle": "decommissioned"}, "target.filter.lifecycle"),  # never targeted
    ({"nameContains": ""}, "target.filter.nameContains"),
    ({"nameContains": "x" * 121}, "target.filter.nameContains"),
    ({"tag": ""}, "target.filter.tag"),
    ({"deviceType": "t" * 121}, "target.filter.deviceType"),
    ({"firmwareVersions": [""]}, "target.filter.firmwareVersions"),
    ({"firmwareVersions": [f"1.{i}.0" for i in range(33)]}, "target.filter.firmwareVersions"),
    ({"nameContains": 7}, "target.filter.nameContains"),
    ({"colour": "red"}, "target.filter.colour"),
]


@pytest.mark.parametrize(("sent", "field"), BAD_FILTERS)
def test_a_bad_filter_names_its_field_and_nothing_is_stored(
    sent: dict[str, Any], field: str
) -> None:
    world = World.build()
    before = world.stored()
    with pytest.raises(InvalidInput) as raised:
        world.create(target={"filter": sent})
    assert raised.value.field == field
    assert world.stored() == before


def test_a_filter_alone_is_a_target_and_is_recorded() -> None:
    world = World.build()
    deployment = world.create(
        target={"filter": {"lifecycle": "active", "firmwareVersions": ["1.2.0"]}, "dynamic": True}
    )
    loaded = world.service.get("acme", deployment.id)
    assert loaded.target == Target(
        dynamic=True, filter=TargetFilter(lifecycle="active", firmware_versions=("1.2.0",))
    )
    command = parse_create_deployment(
        {"name": "n", "firmwareId": str(uuid.uuid4()), "target": {"filter": {"tag": "north"}}}
    )
    assert command.to_target().filter == TargetFilter(tag="north")
