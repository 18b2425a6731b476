"""Commands: immutable, validated requests to change the fleet. Built by the API and the CLI."""

from __future__ import annotations

import re
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
DeviceType = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Tags = Annotated[list[Tag], Field(max_length=32)]
Metadata = Annotated[dict[str, str], Field(max_length=64)]

_METADATA_KEY = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


def _check_metadata(value: dict[str, str] | None) -> dict[str, str] | None:
    if value is None:
        return None
    for key, item in value.items():
        if not _METADATA_KEY.match(key):
            raise ValueError(f"metadata key {key!r} must match {_METADATA_KEY.pattern}")
        if len(item) > 1024:
            raise ValueError(f"metadata value for {key!r} is longer than 1024 characters")
    return value


def _unique_tags(value: list[str] | None) -> list[str] | None:
    if value is None:
        return None
    return list(dict.fromkeys(value))


class Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RegisterDevice(Command):
    name: Name
    device_type: DeviceType
    tags: Tags = Field(default_factory=list)
    metadata: Metadata = Field(default_factory=dict)

    _tags = field_validator("tags")(_unique_tags)
    _metadata = field_validator("metadata")(_check_metadata)


class UpdateDevice(Command):
    device_id: UUID
    expected_version: int | None = Field(default=None, ge=1)
    name: Name | None = None
    device_type: DeviceType | None = None
    tags: Tags | None = None
    metadata: Metadata | None = None

    _tags = field_validator("tags")(_unique_tags)
    _metadata = field_validator("metadata")(_check_metadata)


class DecommissionDevice(Command):
    device_id: UUID
    expected_version: int | None = Field(default=None, ge=1)
    reason: Annotated[str, StringConstraints(max_length=500)] | None = None
