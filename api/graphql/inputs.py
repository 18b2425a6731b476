"""GraphQL input types of the device slice."""

from __future__ import annotations

import strawberry
from strawberry.scalars import JSON

from api.device_view import DeviceLifecycle
from read_side.device_status import DeviceFilter


@strawberry.input(name="DeviceFilter")
class DeviceFilterInput:
    lifecycle: DeviceLifecycle | None = None
    device_type: str | None = None
    tag: str | None = None
    name_contains: str | None = None

    def to_filter(self) -> DeviceFilter:
        return DeviceFilter(
            lifecycle=None if self.lifecycle is None else self.lifecycle.value,
            device_type=self.device_type,
            tag=self.tag,
            name_contains=self.name_contains,
        )


@strawberry.input
class RegisterDeviceInput:
    name: str
    device_type: str
    tags: list[str] = strawberry.field(default_factory=list)
    # Not `JSON! = {}`: introspection and SDL printers turn a default into a GraphQL literal,
    # and graphql-core cannot make one from a JSON object (issue 11: the standard introspection
    # query failed). Nullable, default null; the mutation reads null as `{}`, the old default.
    metadata: JSON | None = strawberry.field(
        default=None,
        description="Key/value pairs (string values); omitted or null means none (`{}`).",
    )


@strawberry.input
class UpdateDeviceInput:
    id: strawberry.ID
    expected_version: int
    name: str | None = None
    device_type: str | None = None
    tags: list[str] | None = None
    metadata: JSON | None = None


@strawberry.input
class DecommissionDeviceInput:
    id: strawberry.ID
    expected_version: int | None = None
    reason: str | None = None
