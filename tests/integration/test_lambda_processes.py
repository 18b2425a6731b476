"""Every worker on Lambda, on each store (issue 15 item 1): the three functions as the stack
deploys them, each with a system of its own as a warm execution environment holds it:

- the projector function (`projector_handler`'s default: the read models, then the notifier),
- the processes function (`processes_handler`: `LAMBDA_PROCESSES`, alerting, the OTA schedule
  and orchestrator, the ledger, Parquet, the exporter; then the OTA timers),
- the scheduled function (`scheduled_handler`: the outbox's notifications sent, offline
  detection over the device-status model).

A reading over a threshold becomes an alert (processes), a queued email (projector) and a sent
one (scheduled); a device silent past its timeout is marked offline by the scheduled function
once, however often it runs; a process manager keeps its state while nothing moved its
checkpoint, and rebuilds it when another invocation did."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from event_store.envelope import EventMetadata
from fleetwatch import lambdas
from fleetwatch.bootstrap import System, build_system
from fleetwatch.lambdas import project, run_scheduled
from fleetwatch.settings import Settings
from fleetwatch.wiring import LAMBDA_PROCESSES, LAMBDA_PROJECTOR
from projections.alerting_worker import AlertingWorker
from read_side.alerts.port import AlertFilter
from read_side.alerts.rows import AlertRow
from write_side.alert_commands import CreateAlertRule
from write_side.alert_rules import RuleDefinition, Scope, Threshold
from write_side.commands import RegisterDevice
from write_side.credentials import HEARTBEAT_METADATA_KEY
from write_side.telemetry import BatchEntry, Reading
from write_side.telemetry_log import Telemetry, telemetry_id
from write_side.user_commands import UpdateMyProfile

META = EventMetadata("acme", "user:alice")
Functions = Callable[[str], System]


@pytest.fixture
def functions(store_settings: Settings) -> Iterator[Functions]:
    """A system per function, as its warm environment holds it (projections not started)."""
    built: dict[str, System] = {}

    def function(name: str) -> System:
        if name not in built:
            settings = store_settings.model_copy(update={"run_projections": False})
            built[name] = build_system(settings)
        return built[name]

    yield function
    for system in built.values():
        system.close()


def send(system: System, device: UUID, value: float, message: str) -> None:
    """One message of the device, recorded as ingestion records it."""
    stream = system.app.load_telemetry(telemetry_id("acme", device))
    stream = stream or Telemetry(tenant_id="acme", device_id=device)
    at = datetime.now(UTC)
    stream.record([BatchEntry(message, at, (Reading("temp", value, at),))], at, "http")
    system.app.save_telemetry([stream], META)


def projector(functions: Functions) -> dict[str, Any]:
    return project(functions("projector"), LAMBDA_PROJECTOR)


def processes(functions: Functions, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The processes function's handler on its own system (its OTA timers included)."""
    monkeypatch.setattr(lambdas, "_warm", {"processes": functions("processes")})
    return lambdas.processes_handler({"Records": []})


def alerts(system: System) -> list[AlertRow]:
    return system.alerts.list_alerts("acme", AlertFilter(), 10, None).items


def device_with_rule(system: System, **metadata: str) -> UUID:
    registered = system.device_service.register(
        RegisterDevice(name="pump-7", device_type="pump", metadata=metadata), META
    )
    device = registered.aggregate.id
    definition = RuleDefinition(
        name="Pump too hot",
        scope=Scope(device_id=device),
        severity="warning",
        condition=Threshold(metric="temp", op=">", value=80),
    )
    system.alert_service.create_rule(CreateAlertRule(definition=definition), META)
    return device


def test_a_reading_becomes_an_alert_a_queued_email_and_a_sent_one(
    functions: Functions, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = functions("api")
    profile = UpdateMyProfile(email="alice@example.com", display_name="Alice")
    writer.user_service.update_my_profile("alice", profile, META)
    device = device_with_rule(writer)
    send(writer, device, 91.0, "m1")

    done = processes(functions, monkeypatch)
    assert set(done["positions"]) == set(LAMBDA_PROCESSES)
    assert done["ota_timers"] == {"fired": 0}  # after the orchestrator caught up
    assert alerts(writer) == []  # no read model moved yet
    projector(functions)
    assert [(a.device_id, a.state) for a in alerts(writer)] == [(device, "open")]

    sent = run_scheduled(functions("scheduled"), ["notifications"])
    assert sent["notifications"]["sent"] == 1
    again = run_scheduled(functions("scheduled"), ["notifications"])
    assert again["notifications"]["claimed"] == 0  # sent once


def test_a_silent_device_is_marked_offline_once_by_the_schedule(
    functions: Functions, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = functions("api")
    silent = device_with_rule(writer, **{HEARTBEAT_METADATA_KEY: "60"})
    chatty = device_with_rule(writer)  # the default timeout: 300 s
    send(writer, silent, 20.0, "s1")
    send(writer, chatty, 20.0, "c1")
    projector(functions)
    assert writer.devices.get("acme", silent).online is True  # type: ignore[union-attr]
    assert run_scheduled(functions("scheduled"), ["offline"]) == {"offline": {"offline": 0}}

    later = datetime.now(UTC) + timedelta(seconds=61)  # past the silent device's own timeout
    watch = functions("scheduled").connectivity
    assert watch is not None
    monkeypatch.setattr(watch, "clock", lambda: later)
    assert run_scheduled(functions("scheduled"), ["offline"]) == {"offline": {"offline": 1}}
    projector(functions)
    assert writer.devices.get("acme", silent).online is False  # type: ignore[union-attr]
    assert writer.devices.get("acme", chatty).online is True  # type: ignore[union-attr]
    # Every later run finds it offline already (the model, or else its stream, says so).
    assert run_scheduled(functions("scheduled"), ["offline"]) == {"offline": {"offline": 0}}
    stream = writer.app.load_telemetry(telemetry_id("acme", silent))
    assert stream is not None
    assert stream.online is False


def test_the_alerting_process_keeps_its_state_until_another_invocation_moves_it(
    functions: Functions, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = functions("api")
    device = device_with_rule(writer)
    send(writer, device, 20.0, "m1")
    first, second = functions("processes"), build_system(functions("processes").settings)
    try:
        alerting = first.workers["alerting"]
        assert isinstance(alerting, AlertingWorker)
        rebuilds = []
        original = alerting.rebuild_state
        monkeypatch.setattr(alerting, "rebuild_state", lambda: rebuilds.append(1) or original())
        ticks = []
        tick = alerting.projection.tick
        monkeypatch.setattr(alerting.projection, "tick", lambda at: ticks.append(at) or tick(at))

        project(first, ["alerting"])
        project(first, ["alerting"])  # warm, nothing new: the same state
        assert (len(rebuilds), len(ticks)) == (1, 2)  # a tick at every invocation

        send(writer, device, 21.0, "m2")
        project(first, ["alerting"])  # warm, new events: applied on the state it has
        assert len(rebuilds) == 1
        send(writer, device, 95.0, "m3")
        project(second, ["alerting"])  # another environment raised the alert
        project(first, ["alerting"])  # the stored checkpoint is past its state: rebuilt
        assert len(rebuilds) == 2
        send(writer, device, 96.0, "m4")  # still over: no second alert from either
        project(first, ["alerting"])
        project(second, ["alerting"])
        projector(functions)
        assert len(alerts(writer)) == 1
    finally:
        second.close()


def test_an_unknown_scheduled_task_is_refused(functions: Functions) -> None:
    with pytest.raises(ValueError, match=r"not scheduled tasks \['nope'\]"):
        run_scheduled(functions("scheduled"), ["offline", "nope"])
