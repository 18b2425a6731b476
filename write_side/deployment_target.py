"""Who a deployment targets (docs/firmware.md section 12.2), as `Deployment.Created` records it:
explicit devices, tags (any of), device types, or a filter, `dynamic` or a snapshot.

Apart from `write_side.deployment_plan` (how it rolls out) because it is the other half of the
input, and the orchestrator asks it one question: does this device belong (`Target.selects`)?
A device belongs when it is named by id, OR has one of the tags, OR is of one of the types,
OR matches the filter, whose fields are ANDed: the `devices` query's criteria (lifecycle,
device type, tag, name contains) plus `firmware_versions`, the exact versions the device last
reported (any of). Bad input raises InvalidInput naming the field as the API spells it
(`target.filter.nameContains`); nothing is recorded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from write_side.errors import InvalidInput

MAX_DEVICE_IDS = 10_000
MAX_SELECTORS = 32
MAX_TEXT = 120  # a name's length, so a name filter never needs more
LIFECYCLES = ("active", "decommissioned")  # the devices query's; only "active" is targeted


class TargetedDevice(Protocol):
    """What a target asks of a device (the orchestrator's `DeviceFacts`)."""

    @property
    def name(self) -> str: ...
    @property
    def device_type(self) -> str: ...
    @property
    def tags(self) -> frozenset[str]: ...
    @property
    def decommissioned(self) -> bool: ...
    @property
    def version(self) -> str | None: ...  # the firmware version last reported


@dataclass(frozen=True, slots=True)
class TargetFilter:
    """The `devices` query's criteria and the versions reported, all of the set ones."""

    lifecycle: str | None = None
    device_type: str | None = None
    tag: str | None = None
    name_contains: str | None = None
    firmware_versions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        where = "target.filter"
        given = (self.lifecycle, self.device_type, self.tag, self.name_contains)
        if all(v is None for v in given) and not self.firmware_versions:
            raise InvalidInput("a filter sets at least one criterion", where)
        if self.lifecycle is not None and self.lifecycle not in LIFECYCLES:
            raise InvalidInput(f"unknown lifecycle {self.lifecycle!r}", f"{where}.lifecycle")
        if self.lifecycle == "decommissioned":
            raise InvalidInput("decommissioned devices are never targeted", f"{where}.lifecycle")
        for name, camel, value in (
            ("device type", "deviceType", self.device_type),
            ("tag", "tag", self.tag),
            ("name part", "nameContains", self.name_contains),
        ):
            if value is not None and not 1 <= len(value) <= MAX_TEXT:
                raise InvalidInput(f"a {name} has 1..{MAX_TEXT} characters", f"{where}.{camel}")
        versions = self.firmware_versions
        if len(versions) > MAX_SELECTORS or not all(1 <= len(v) <= 64 for v in versions):
            raise InvalidInput(
                f"at most {MAX_SELECTORS} versions of 1..64 characters", f"{where}.firmwareVersions"
            )

    def matches(self, device: TargetedDevice) -> bool:
        return (
            (self.lifecycle is None or self.lifecycle == _lifecycle(device))
            and (self.device_type is None or device.device_type == self.device_type)
            and (self.tag is None or self.tag in device.tags)
            and (
                self.name_contains is None
                or self.name_contains.casefold() in device.name.casefold()
            )
            and (not self.firmware_versions or device.version in self.firmware_versions)
        )

    def to_payload(self) -> dict[str, Any]:
        return {
            "lifecycle": self.lifecycle,
            "device_type": self.device_type,
            "tag": self.tag,
            "name_contains": self.name_contains,
            "firmware_versions": list(self.firmware_versions),
        }

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> TargetFilter:
        return cls(**{**payload, "firmware_versions": tuple(payload["firmware_versions"])})


def _lifecycle(device: TargetedDevice) -> str:
    return "decommissioned" if device.decommissioned else "active"


@dataclass(frozen=True, slots=True)
class Target:
    """Explicit devices, tags (any of), device types or a filter (any of the four);
    `dynamic` also takes devices that come to belong later."""

    device_ids: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    device_types: tuple[str, ...] = ()
    dynamic: bool = False
    filter: TargetFilter | None = None
    _ids: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_ids", frozenset(self.device_ids))
        if not (self.device_ids or self.tags or self.device_types or self.filter):
            raise InvalidInput(
                "a deployment targets devices, tags, device types or a filter", "target"
            )
        if len(self.device_ids) > MAX_DEVICE_IDS:
            raise InvalidInput(f"at most {MAX_DEVICE_IDS} devices", "target.deviceIds")
        for name in ("tags", "device_types"):
            if len(getattr(self, name)) > MAX_SELECTORS:
                camel = "tags" if name == "tags" else "deviceTypes"
                raise InvalidInput(f"at most {MAX_SELECTORS}", f"target.{camel}")

    def selects(self, device_id: str, device: TargetedDevice) -> bool:
        """Whether the target names the device (in service or not: the caller leaves out
        decommissioned devices and those the release does not install on)."""
        return (
            device_id in self._ids
            or not device.tags.isdisjoint(self.tags)
            or device.device_type in self.device_types
            or (self.filter is not None and self.filter.matches(device))
        )

    def to_payload(self) -> dict[str, Any]:
        return {
            "device_ids": list(self.device_ids),
            "tags": list(self.tags),
            "device_types": list(self.device_types),
            "dynamic": self.dynamic,
            "filter": None if self.filter is None else self.filter.to_payload(),
        }

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Target:
        """Also the events recorded before filters: no `filter` key is none."""
        given = payload.get("filter")
        return cls(
            tuple(payload["device_ids"]),
            tuple(payload["tags"]),
            tuple(payload["device_types"]),
            bool(payload["dynamic"]),
            None if given is None else TargetFilter.from_payload(given),
        )
