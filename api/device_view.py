"""The device resource as both API adapters show it: declared once, here (issue 11, item 1).

`DevicePublic` is the one list of a device's output fields, with their types and descriptions:
it is the REST response model as it stands (its OpenAPI component keeps the name it always had)
and the GraphQL `Device` type is derived from it (`api.graphql.derive`), so a field added here
shows up in REST, in the OpenAPI document and in the GraphQL schema from this one edit. The
enums are declared here too, as plain `Enum`s: pydantic validates and serializes them by value
(the strings the wire always carried) and the GraphQL schema registers the same classes as its
enums.

Field names are snake_case; REST camelCases them with the alias generator below, strawberry
with its own name converter, so both wires spell them the same way."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from read_side.device_status import DeviceStatus


class DeviceLifecycle(Enum):
    ACTIVE = "active"
    DECOMMISSIONED = "decommissioned"


class Connectivity(Enum):
    UNKNOWN = "unknown"
    ONLINE = "online"
    OFFLINE = "offline"


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
        of the row (or a property such as `open_alert_count`) is shown under its own name with
        no edit here; only what is shown differently is spelled out below."""
        times = status.last_values_at
        shown = {name: getattr(status, name) for name in cls.model_fields if hasattr(status, name)}
        shown |= {
            "id": status.device_id,
            "connectivity": (
                Connectivity.UNKNOWN
                if status.online is None
                else Connectivity.ONLINE
                if status.online
                else Connectivity.OFFLINE
            ),
            "last_values": [
                MetricValuePublic(metric=m, value=v, at=times[m])
                for m, v in sorted(status.last_values.items())
                if m in times
            ],
            # An unknown severity (none is written today) shows as none rather than failing.
            "highest_open_severity": _severity(status.highest_open_severity),
        }
        return cls(**shown)


def _severity(value: str | None) -> Severity | None:
    try:
        return None if value is None else Severity(value)
    except ValueError:
        return None
