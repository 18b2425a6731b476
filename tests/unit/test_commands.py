"""Command validation: bad input is refused with the offending field named."""

from __future__ import annotations

import uuid

import pytest
from pydantic import ValidationError

from write_side.commands import DecommissionDevice, RegisterDevice, UpdateDevice


def field_of(error: ValidationError) -> str:
    return ".".join(str(p) for p in error.errors()[0]["loc"])


def test_register_normalises_tags_and_strips_names() -> None:
    command = RegisterDevice(name="  pump  ", device_type="pump-v2", tags=["a", "b", "a"])
    assert command.name == "pump"
    assert command.tags == ["a", "b"]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"name": "", "device_type": "pump"}, "name"),
        ({"name": "x" * 121, "device_type": "pump"}, "name"),
        ({"name": "p", "device_type": "bad type!"}, "device_type"),
        ({"name": "p", "device_type": "pump", "tags": ["t"] * 33}, "tags"),
        ({"name": "p", "device_type": "pump", "metadata": {"bad key": "v"}}, "metadata"),
        ({"name": "p", "device_type": "pump", "metadata": {"k": "v" * 1025}}, "metadata"),
        ({"name": "p", "device_type": "pump", "colour": "red"}, "colour"),
    ],
)
def test_register_rejects_bad_input_naming_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        RegisterDevice(**kwargs)  # type: ignore[arg-type]
    assert field_of(info.value) == field


def test_update_and_decommission_validate_ids_and_versions() -> None:
    with pytest.raises(ValidationError) as info:
        UpdateDevice(device_id="not-a-uuid", name="x")  # type: ignore[arg-type]
    assert field_of(info.value) == "device_id"
    with pytest.raises(ValidationError) as info:
        DecommissionDevice(device_id=uuid.uuid4(), expected_version=0)
    assert field_of(info.value) == "expected_version"


def test_commands_are_immutable() -> None:
    command = RegisterDevice(name="p", device_type="pump")
    with pytest.raises(ValidationError):
        command.name = "q"  # type: ignore[misc]
