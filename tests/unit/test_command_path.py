"""The one command path (`api.command_path`): a write answers with the read model's row once it
holds the change (read-your-writes), with the row built from the saved aggregate when the read
model is still behind after the bounded wait, and bad input changes nothing. The application
is the real one on eventsourcing's in-memory store; only the read model's lag is staged."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace
from uuid import UUID

import anyio
import pytest

from api.auth import Principal
from api.command_path import build_command
from api.devices import run_device_command, status_of
from read_side.device_status import DeviceStatus
from write_side.application import FleetApplication
from write_side.commands import RegisterDevice, UpdateDevice
from write_side.device_service import DeviceService
from write_side.errors import InvalidInput

CALLER = Principal(subject="op", tenant_id="t1", roles=frozenset({"operator"}))


class StagedSystem:
    """What `run_command` uses of a `FleetSystem`: the devices service, a read model whose
    rows the test sets, and whether the wait for a position succeeds."""

    def __init__(self, app: FleetApplication, caught_up: bool) -> None:
        self.device_service = DeviceService(app)
        self.caught_up = caught_up
        self.rows: dict[UUID, DeviceStatus] = {}
        self.waited_for: list[int] = []
        self.devices = self

    def wait_for(self, position: int, timeout: float = 2.0) -> bool:
        self.waited_for.append(position)
        return self.caught_up

    def get(self, tenant_id: str, device_id: UUID) -> DeviceStatus | None:
        row = self.rows.get(device_id)
        return row if row is not None and row.tenant_id == tenant_id else None


@pytest.fixture
def app() -> Iterator[FleetApplication]:
    application = FleetApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    yield application
    application.close()


def register(system: StagedSystem) -> DeviceStatus:
    command = build_command(RegisterDevice, {"name": "pump", "device_type": "pump.v2"})
    return anyio.run(run_device_command, system, CALLER, system.device_service.register, command)


def test_a_write_answers_with_the_read_models_row_once_it_holds_the_change(
    app: FleetApplication,
) -> None:
    system = StagedSystem(app, caught_up=True)
    first = register(system)  # no row yet: the device as saved
    row = replace(first, online=True, battery=80.0)  # what only the read model knows
    command = build_command(UpdateDevice, {"device_id": first.device_id, "name": "pump 2"})
    system.rows[first.device_id] = replace(row, name="pump 2", version=2)
    update = system.device_service.update
    answer = anyio.run(run_device_command, system, CALLER, update, command)
    assert answer == system.rows[first.device_id]
    assert answer.battery == 80.0
    assert system.waited_for[-1] > 0


def test_a_write_the_read_model_has_not_applied_answers_with_the_saved_aggregate(
    app: FleetApplication, caplog: pytest.LogCaptureFixture
) -> None:
    system = StagedSystem(app, caught_up=False)
    first = register(system)
    system.rows[first.device_id] = first  # version 1: the update's row is not there yet
    command = build_command(UpdateDevice, {"device_id": first.device_id, "name": "pump 2"})
    with caplog.at_level(logging.WARNING, logger="api.command_path"):
        update = system.device_service.update
        answer = anyio.run(run_device_command, system, CALLER, update, command)
    device = app.repository.get(first.device_id)
    assert answer == status_of(device, system.waited_for[-1])
    assert (answer.name, answer.version) == ("pump 2", 2)
    assert "still behind" in caplog.text


def test_bad_input_is_a_typed_error_naming_the_field_and_runs_nothing(
    app: FleetApplication,
) -> None:
    system = StagedSystem(app, caught_up=True)
    with pytest.raises(InvalidInput) as error:
        build_command(RegisterDevice, {"name": "", "device_type": "pump.v2"})
    assert error.value.field == "name"
    assert system.waited_for == []
