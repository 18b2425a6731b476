"""The device resource as both API adapters show and take it: declared once, here (issue 11,
item 1).

`DevicePublic` is the one list of a device's output fields, with their types and descriptions:
it is the REST response model as it stands (its OpenAPI component keeps the name it always had)
and the GraphQL `Device` type is derived from it (`api.graphql.derive`), so a field added here
shows up in REST, in the OpenAPI document and in the GraphQL schema from this one edit. The
enums are declared here too, as plain `Enum`s: pydantic validates and serializes them by value
(the strings the wire always carried) and the GraphQL schema registers the same classes as its
enums.

The input shapes (`DeviceCreate`, `DeviceUpdate`, `DeviceDecommission`, `DeviceQuery`) are
the REST bodies and queries, and the GraphQL inputs are derived from them
(`api.graphql.derive.derived_input`); both adapters hand the validated shape to `api.devices`.

Field names are snake_case; REST camelCases them with the alias generator below, strawberry
with its own name converter, so both wires spell them the same way."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from api.inputs import Input
from read_side.device_status import DeviceFilter, DeviceStatus
from write_side.commands import DeviceType, Metadata, Name, Tags


class DeviceLifecycle(Enum):
    ACTIVE = "active"
    DECOMMISSIONED = "decommissioned"


class Connectivity(Enum):
    UNKNOWN = "unknown"
    ONLINE = "online"
    OFFLINE = "offline"


_CONNECTIVITY = {None: Connectivity.UNKNOWN, True: Connectivity.ONLINE, False: Connectivity.OFFLINE}


class Severity(Enum):  # the values of `write_side.severity.SEVERITIES`, in its order (tested)
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class View(BaseModel):
    """Base of the output shapes: camelCase on the REST wire, strict about unknown fields."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class MetricValuePublic(View):
    metric: str
    value: float
    at: datetime = Field(description="Device time of the reading.")


class DevicePublic(View):
    id: UUID
    name: str
    device_type: str
    tags: list[str]
    metadata: dict[str, str]
    lifecycle: DeviceLifecycle
    version: int
    registered_at: datetime
    updated_at: datetime
    decommissioned_at: datetime | None
    decommission_reason: str | None
    # Status fields (issue 4): telemetry, connectivity, open alerts.
    connectivity: Connectivity
    online: bool | None = Field(
        description="Whether the device is online; null until it first reports."
    )
    last_seen_at: datetime | None = Field(
        description="Server time of the last telemetry received from the device."
    )
    firmware_version: str | None
    battery: float | None
    rssi: float | None
    credential_id: str | None = Field(
        description="Public id of the device's active credential (never the secret)."
    )
    open_alert_count: int
    highest_open_severity: Severity | None
    last_values: list[MetricValuePublic] = Field(
        description="The newest value of each metric (by device time)."
    )

    @classmethod
    def from_status(cls, status: DeviceStatus) -> DevicePublic:
        """The device as shown, from a read-model row (or a status built from the aggregate a
        command saved, or from a change notice): the one place a row becomes output. A field
        the row has by the same name is taken as it is, so a field added to both needs no edit
        here; only the fields shown differently from the row are built."""
        same = {name: getattr(status, name) for name in cls.model_fields if hasattr(status, name)}
        times = status.last_values_at
        shown = {
            "id": status.device_id,
            "connectivity": _CONNECTIVITY[status.online],
            "last_values": [
                MetricValuePublic(metric=m, value=v, at=times[m])
                for m, v in sorted(status.last_values.items())
                if m in times
            ],
            # An unknown severity (none is written today) shows as none rather than failing.
            "highest_open_severity": _severity(status.highest_open_severity),
        }
        return cls.model_validate(same | shown)


class DeviceCreate(Input):
    name: Name
    device_type: DeviceType
    tags: Tags = Field(default_factory=list)
    metadata: Metadata = Field(default_factory=dict, description="Key/value pairs (string values).")


class DeviceUpdate(Input):
    """Only the fields sent change. The version may also come as an `If-Match` header."""

    expected_version: int | None = Field(default=None, ge=1)
    name: Name | None = None
    device_type: DeviceType | None = None
    tags: Tags | None = None
    metadata: Metadata | None = None


class DeviceDecommission(Input):
    """REST takes it as the query of `DELETE /devices/{deviceId}` (other parameters ignored)."""

    model_config = ConfigDict(extra="ignore")

    expected_version: int | None = Field(default=None, ge=1)
    reason: str | None = Field(default=None, max_length=500)


class DeviceQuery(Input):
    """Which devices a listing shows: REST's query, GraphQL's `DeviceFilter`."""

    model_config = ConfigDict(extra="ignore")

    lifecycle: DeviceLifecycle | None = None
    device_type: str | None = None
    tag: str | None = None
    name_contains: str | None = None

    def criteria(self) -> DeviceFilter:
        return DeviceFilter(**self.model_dump(mode="json"))


def _severity(value: str | None) -> Severity | None:
    try:
        return None if value is None else Severity(value)
    except ValueError:
        return None
