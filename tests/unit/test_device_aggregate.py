"""The Device aggregate: invariants, events, and a hypothesis state machine of its lifecycle."""

from __future__ import annotations

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from write_side.devices import Device
from write_side.errors import AlreadyDecommissioned


def new_device() -> Device:
    return Device(
        tenant_id="acme", name="pump 1", device_type="pump", tags=["north"], metadata={"a": "1"}
    )


def event_names(device: Device) -> list[str]:
    return [type(e).__qualname__ for e in device.collect_events()]


def test_register_records_one_event_with_the_given_state() -> None:
    device = new_device()
    assert device.version == 1
    assert (device.tenant_id, device.name, device.device_type) == ("acme", "pump 1", "pump")
    assert device.tags == ["north"]
    assert not device.is_decommissioned
    assert event_names(device) == ["Device.Registered"]


def test_update_records_only_changed_fields() -> None:
    device = new_device()
    device.collect_events()
    assert device.update(name="pump 2", tags=["north"]) is True
    (updated,) = device.collect_events()
    assert updated.name == "pump 2"  # type: ignore[attr-defined]
    assert updated.tags is None  # type: ignore[attr-defined]  # unchanged -> not recorded
    assert device.version == 2


def test_update_without_changes_records_nothing() -> None:
    device = new_device()
    device.collect_events()
    assert device.update(name="pump 1", metadata={"a": "1"}) is False
    assert device.collect_events() == []
    assert device.version == 1


def test_decommissioned_device_refuses_updates_and_a_second_decommission() -> None:
    device = new_device()
    device.decommission("replaced")
    assert device.is_decommissioned
    assert device.decommission_reason == "replaced"
    with pytest.raises(AlreadyDecommissioned):
        device.update(name="x")
    with pytest.raises(AlreadyDecommissioned):
        device.decommission(None)
    assert event_names(device) == ["Device.Registered", "Device.Decommissioned"]


def test_replaying_the_events_rebuilds_the_same_state() -> None:
    device = new_device()
    device.update(device_type="valve", metadata={"b": "2"})
    device.decommission("eol")
    events = device.collect_events()
    replayed: Device | None = None
    for e in events:
        replayed = e.mutate(replayed)  # type: ignore[attr-defined]
    assert replayed is not None
    assert vars(replayed) == vars(device)


names = st.text(min_size=1, max_size=10)


class DeviceLifecycle(RuleBasedStateMachine):
    """Any sequence of commands: versions count events, and a decommissioned device stays so."""

    def __init__(self) -> None:
        super().__init__()
        self.device = new_device()
        self.expected_version = 1
        self.decommissioned = False
        self.name = "pump 1"

    @rule(name=names)
    def update(self, name: str) -> None:
        if self.decommissioned:
            with pytest.raises(AlreadyDecommissioned):
                self.device.update(name=name)
            return
        changed = self.device.update(name=name)
        assert changed == (name != self.name)
        if changed:
            self.expected_version += 1
            self.name = name

    @precondition(lambda self: not self.decommissioned)
    @rule()
    def decommission(self) -> None:
        self.device.decommission("done")
        self.decommissioned = True
        self.expected_version += 1

    @invariant()
    def version_counts_events(self) -> None:
        assert self.device.version == self.expected_version
        assert self.device.name == self.name
        assert self.device.is_decommissioned == self.decommissioned


TestDeviceLifecycle = DeviceLifecycle.TestCase


def test_decommissioned_at_is_the_time_of_the_decommissioned_event() -> None:
    device = new_device()
    device.update(name="later")
    device.decommission("eol")
    *_, decommissioned = device.collect_events()
    assert type(decommissioned).__qualname__ == "Device.Decommissioned"
    assert device.decommissioned_at == decommissioned.timestamp
    assert device.modified_on == decommissioned.timestamp
