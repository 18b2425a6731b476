"""The firmware and deployments read models on each store (SQLite, DynamoDB Local), fed by the
real services (`FirmwareService`, `DeploymentService`, `DeviceService`): the rows match what
was recorded, a second tenant sees nothing of the first, a rebuild from zero equals the live
model, a replay of everything changes nothing, and a replay after a partial commit (the rows of
a batch's first events written, the checkpoint not) ends in the same model: counts included."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from eventsourcing.persistence import Tracking

from fleetwatch.settings import Settings
from fleetwatch.wiring import MODELS_BY_NAME, application_env, open_read_model
from projections import deployments as deployments_module
from projections.runner import ProjectionWorker
from read_side.deployments import DeploymentFilter, DeploymentsReader
from read_side.deployments.eta import eta
from read_side.firmware import FirmwareFilter, FirmwareReader, FirmwareStatus
from tests.ota_clock import T0
from tests.ota_world import ADMIN, OtaWorld
from write_side.application import FleetApplication
from write_side.deployment_commands import FinishDeployment, parse_create_deployment
from write_side.deployment_states import DeploymentStatus, ExecutionState

S = ExecutionState


@dataclass
class Models:
    world: OtaWorld
    views: dict[str, Any]
    readers: dict[str, Any]
    projections: dict[str, Any]

    @property
    def firmware(self) -> FirmwareReader:
        return self.readers["firmware"]  # type: ignore[no-any-return]

    @property
    def deployments(self) -> DeploymentsReader:
        return self.readers["deployments"]  # type: ignore[no-any-return]

    def worker(self, name: str) -> ProjectionWorker:
        app = self.world.app
        return ProjectionWorker(
            self.projections[name],
            checkpoints=self.views[name],
            recorder=app.recorder,
            mapper=app.envelope_mapper,
            upstream_name=app.name,
        )

    def catch_up(self) -> None:
        for name in self.views:
            self.worker(name).catch_up()

    def snapshot(self) -> dict[str, Any]:
        """Everything both readers answer for the tenant."""
        world, d = self.world, self.deployments
        assert world.deployment is not None
        return {
            "releases": self.firmware.releases("acme", FirmwareFilter(), 50, None),
            "deployment": d.get("acme", world.deployment),
            "executions": d.executions("acme", world.deployment, None, 50, None),
            "history": [d.history("acme", e) for e in world.executions],
            "devices": [d.device_compliance("acme", x) for x in world.devices],
            "compliance": d.compliance("acme", None),
        }


@pytest.fixture
def models(store_settings: Settings) -> Iterator[Models]:
    app = FleetApplication(env=application_env(store_settings))
    world = OtaWorld(app)
    world.record()
    views, readers, projections = {}, {}, {}
    for name in ("firmware", "deployments"):
        views[name], readers[name] = open_read_model(app, store_settings, name)
        projections[name] = MODELS_BY_NAME[name].projection(views[name], readers[name])
    built = Models(world, views, readers, projections)
    built.catch_up()
    yield built
    app.close()


def test_the_firmware_rows_match_the_releases(models: Models) -> None:
    releases = models.firmware.releases("acme", FirmwareFilter(), 50, None).items
    assert [r.firmware_version for r in releases] == ["2.0.0-rc.1", "1.2.0", "1.0.0"]
    withdrawn = releases[2]
    assert (withdrawn.status, withdrawn.withdrawn_by) == (FirmwareStatus.WITHDRAWN, "user:alice")
    assert withdrawn.version == 3  # UploadRequested, Published, Withdrawn
    valve = models.firmware.releases("acme", FirmwareFilter(device_type="valve"), 50, None)
    assert [r.firmware_version for r in valve.items] == ["2.0.0-rc.1"]
    available = FirmwareFilter(device_type="pump", status=FirmwareStatus.AVAILABLE)
    page = models.firmware.releases("acme", available, 1, None)
    assert [r.firmware_version for r in page.items] == ["2.0.0-rc.1"]
    rest = models.firmware.releases("acme", available, 1, page.next_cursor)
    assert ([r.firmware_version for r in rest.items], rest.next_cursor) == (["1.2.0"], None)
    latest = models.firmware.latest("acme", "pump")
    assert latest is not None
    assert latest.firmware_version == "2.0.0-rc.1"


def test_the_deployment_row_counts_executions_per_state_and_wave(models: Models) -> None:
    world = models.world
    assert world.deployment is not None
    row = models.deployments.get("acme", world.deployment)
    assert row is not None
    assert (row.status, row.current_wave, row.targets, row.seed) == (
        DeploymentStatus.RUNNING,
        0,
        3,
        42,
    )
    expected = {"SUCCEEDED": 1, "FAILED": 1, "QUEUED": 1}
    assert row.counts == expected
    assert row.waves[0].counts == expected
    assert (row.waves[0].members, row.waves[1].members) == (2, None)
    assert [d.kind for d in row.decisions] == ["started", "wave_started"]
    assert row.notified == 2
    assert sum(row.success_seconds.values()) == 1  # 16 min: notified, a minute, 3 reports
    assert row.version == 3  # Created, Started, WaveStarted
    estimate = eta(row, T0)
    assert estimate is not None
    assert abs((estimate - T0) / timedelta(minutes=16) - 1) < 0.05  # no rate: the median


def test_executions_their_history_and_the_devices(models: Models) -> None:
    world, reader = models.world, models.deployments
    assert world.deployment is not None
    first, second, third = (reader.execution("acme", e) for e in world.executions)
    assert first is not None
    assert second is not None
    assert third is not None
    assert (first.state, first.reported_version, first.attempt) == (S.SUCCEEDED, "1.2.0", 1)
    assert (second.state, second.failure_kind, second.retry_at is not None) == (
        S.FAILED,
        "verify",
        True,
    )
    assert third.state is S.QUEUED
    history = reader.history("acme", first.execution_id)
    assert [(h.from_state, h.to_state) for h in history] == [
        (None, S.QUEUED),
        (S.QUEUED, S.NOTIFIED),
        (S.NOTIFIED, S.DOWNLOADING),
        (S.DOWNLOADING, S.INSTALLING),
        (S.INSTALLING, S.SUCCEEDED),
    ]
    failed = reader.executions("acme", world.deployment, S.FAILED, 50, None).items
    assert [e.execution_id for e in failed] == [second.execution_id]
    page = reader.executions("acme", world.deployment, None, 2, None)
    rest = reader.executions("acme", world.deployment, None, 2, page.next_cursor)
    assert len(page.items) == 2
    assert len(rest.items) == 1
    assert rest.next_cursor is None
    ids = [e.device_id for e in page.items + rest.items]
    assert ids == sorted(ids, key=lambda u: u.hex)
    mine = reader.device_executions("acme", world.devices[0], 10, None).items
    assert [e.execution_id for e in mine] == [first.execution_id]
    on_device = reader.deployments("acme", DeploymentFilter(device_id=world.devices[2]), 10, None)
    assert [d.deployment_id for d in on_device.items] == [world.deployment]
    assert (
        reader.deployments("acme", DeploymentFilter(device_id=world.devices[3]), 10, None).items
        == []
    )
    device = reader.device_compliance("acme", world.devices[0])
    assert device is not None
    assert (device.device_type, device.reported_version) == ("pump", "1.2.0")
    pump, valve = reader.compliance("acme", None)
    assert (pump.device_type, pump.devices, pump.versions) == ("pump", 3, {"1.2.0": 1, "": 2})
    assert (pump.latest_version, pump.behind, pump.failed) == ("1.2.0", 2, 0)  # not the rc
    assert (valve.devices, valve.versions, valve.behind) == (1, {"2.0.0-rc.1": 1}, 0)  # telemetry
    assert valve.latest_version is None  # only a pre-release


def test_a_second_tenant_sees_nothing_of_the_first(models: Models) -> None:
    world = models.world
    assert world.deployment is not None
    other = models.firmware.releases("globex", FirmwareFilter(), 50, None).items
    assert [r.firmware_version for r in other] == ["9.9.9"]
    assert models.firmware.get("globex", world.releases["acme/1.2.0"]) is None
    assert models.deployments.get("globex", world.deployment) is None
    assert models.deployments.execution("globex", world.executions[0]) is None
    assert models.deployments.history("globex", world.executions[0]) == []
    assert models.deployments.device_compliance("globex", world.devices[0]) is None
    assert models.deployments.compliance("globex", None) == []
    listed = models.deployments.deployments("globex", DeploymentFilter(), 10, None).items
    assert [d.name for d in listed] == ["g"]
    assert models.deployments.deployments("acme", DeploymentFilter(), 10, None).items[0].name == (
        "pumps to 1.2.0"
    )


def test_rebuild_equals_the_live_model_and_a_replay_changes_nothing(models: Models) -> None:
    live = models.snapshot()
    for name, view in models.views.items():
        view.reset(models.worker(name).tracking_name)
    assert models.deployments.compliance("acme", None) == []
    models.catch_up()
    assert models.snapshot() == live
    everything = models.world.envelopes()
    last = everything[-1].position
    assert last is not None
    for name, projection in models.projections.items():
        mine = [e for e in everything if projection.handles(_topic(models, e))]
        assert projection.process_batch(mine, Tracking(f"{name}-replay", last + 1)) == []
    assert models.snapshot() == live


@pytest.mark.parametrize("cut", [19, 24, 28])
def test_a_replay_after_a_partial_commit_keeps_the_counts_exact(
    models: Models, cut: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rows of the events up to `cut` are written (as the first parts of a batch that
    crashed), the checkpoint is not: the whole batch again ends in the live model. Parts of
    two rows make every batch several transactions on DynamoDB."""
    monkeypatch.setattr(deployments_module, "PART_ROWS", 2)
    live = models.snapshot()
    projection, view = models.projections["deployments"], models.views["deployments"]
    view.reset(models.worker("deployments").tracking_name)
    mine = [e for e in models.world.envelopes() if projection.handles(_topic(models, e))]
    name = models.worker("deployments").tracking_name
    projection.process_batch([e for e in mine if (e.position or 0) <= cut], Tracking(name, cut))
    last = mine[-1].position
    assert last is not None
    notices = projection.process_batch(mine, Tracking(name, last))
    assert models.snapshot() == live
    assert all((n.position or 0) > cut for n in notices)  # the absorbed ones make no notice


def _topic(models: Models, envelope: Any) -> str:
    notifications = models.world.app.recorder.select_notifications(start=envelope.position, limit=1)
    return str(notifications[0].topic)


def test_a_finished_dynamic_deployment_shows_finishing_with_its_decision(models: Models) -> None:
    world = models.world
    data = {
        "name": "pumps, open",
        "firmwareId": str(world.releases["acme/1.2.0"]),
        "target": {"tags": ["north"], "dynamic": True},
    }
    created = world.service.create(parse_create_deployment(data), ADMIN).aggregate
    created.start(world.clock.tick(), 0)
    world.app.commit(created, ADMIN)
    models.catch_up()
    row = models.deployments.get("acme", created.id)
    assert row is not None
    assert (row.status, row.finishing) == (DeploymentStatus.RUNNING, False)

    world.service.finish(FinishDeployment(deployment_id=created.id), ADMIN)
    models.catch_up()
    row = models.deployments.get("acme", created.id)
    assert row is not None
    assert (row.status, row.finishing) == (DeploymentStatus.RUNNING, True)
    assert [(d.kind, d.by) for d in row.decisions] == [
        ("started", "user:alice"),
        ("finished", "user:alice"),
    ]
