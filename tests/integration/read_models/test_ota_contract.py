"""Contract of `FirmwareReader` and `DeploymentsReader` (docs/firmware.md 12.7), run on SQLite
and DynamoDB Local: rows read back equal field for field to what the views wrote; listings in
their documented order, paged by cursors with nothing lost or repeated; filters; a malformed
cursor or page size is `InvalidInput` naming `after` or `first`; another tenant's rows are
never answered."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, TypeVar

import pytest

from api.firmware_rows import deployment_cursor
from fleetwatch.settings import Settings
from fleetwatch.wiring import application_env, open_read_model
from read_side.deployments import (
    DeploymentFilter,
    DeploymentRow,
    DeploymentsChanges,
    DeploymentsReader,
    DeploymentStatus,
    DeviceComplianceRow,
    ExecutionRow,
    ExecutionState,
    TransitionRow,
    WaveRow,
)
from read_side.firmware import (
    FirmwareChanges,
    FirmwareFilter,
    FirmwareReader,
    FirmwareRow,
    FirmwareStatus,
    SigningKeyRow,
    SigningKeysRow,
)
from read_side.paging import Page
from tests.integration.read_models.conftest import Checkpoints
from write_side.application import FleetApplication
from write_side.errors import InvalidInput
from write_side.semver import parse_semver

TENANT, OTHER, TIES = "acme", "globex", "ties"
T0 = datetime(2026, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)
NOON = datetime(2026, 1, 1, 12, tzinfo=UTC)
# Times of the same second, microseconds 0 and not, one of them at another offset (the same
# instant as NOON): text forms of `isoformat()` disagree with time order on these.
TIED = [
    NOON, NOON, NOON, NOON + timedelta(microseconds=500000), NOON + timedelta(microseconds=1),
    datetime(2026, 1, 1, 13, tzinfo=timezone(timedelta(hours=1))),
    NOON - timedelta(microseconds=1), NOON + timedelta(seconds=1),
]  # fmt: skip
VERSIONS = ["1.0.0", "1.10.0", "1.2.0", "2.0.0-rc.1", "2.0.0", "1.0.0-alpha", "0.9.0"]
R = TypeVar("R")


def release(
    tenant: str, version: str, status: FirmwareStatus, types: tuple[str, ...]
) -> FirmwareRow:
    return FirmwareRow(
        tenant_id=tenant, firmware_id=uuid.uuid4(), firmware_version=version,
        sort_key=parse_semver(version).sort_key, device_types=types, hardware_revisions=None,
        filename=f"{version}.bin", size_bytes=10, sha256="c" * 64, object_key="k",
        signature=None, key_id=None, release_notes="Ünïcode ✓", status=status, uploaded_at=T0,
        expires_at=None, verified_at=T0, rejection_reason=None, withdrawn_at=None,
        withdrawn_by=None, withdraw_reason=None, version=2, updated_at=T0,
    )  # fmt: skip


def deployment(
    tenant: str, index: int, firmware: uuid.UUID, status: DeploymentStatus
) -> DeploymentRow:
    return DeploymentRow(
        tenant_id=tenant, deployment_id=uuid.uuid4(), name=f"d{index}", firmware_id=firmware,
        firmware_version="2.0.0", status=status, current_wave=0,
        target={"tags": ["north"], "dynamic": False}, targets=3,
        waves=(WaveRow(0, True, 2, {"QUEUED": 2}, approved_by="user:a"), WaveRow(1, False)),
        counts={"QUEUED": 2}, decisions=(), plan={"seed": 2**62, "waves": [{}, {}]},
        seed=2**62, created_by="user:o", created_at=T0 + timedelta(minutes=index % 3),
        started_at=T0, finished_at=None, notified=0, success_seconds={"3": 1}, version=3,
        position=index + 10, updated_at=T0,
    )  # fmt: skip


def execution(
    row: DeploymentRow, device: uuid.UUID, state: ExecutionState, minute: int
) -> ExecutionRow:
    return ExecutionRow(
        tenant_id=row.tenant_id, execution_id=uuid.uuid4(), deployment_id=row.deployment_id,
        device_id=device, purpose="install", wave=0, firmware_id=row.firmware_id,
        target_version="2.0.0", from_version=None, state=state, attempt=1, reason="new",
        failure_kind=None, not_before=None, reported_version=None, percent=40, seq=2,
        stall_deadline=T0, retry_at=None, queued_at=T0 + timedelta(minutes=minute),
        notified_at=T0, finished_at=None, version=3, position=100 + minute, updated_at=T0,
    )  # fmt: skip


@dataclass
class Model:
    firmware: FirmwareReader
    deployments: DeploymentsReader
    releases: list[FirmwareRow]
    rows: list[DeploymentRow]  # newest created first
    tied: list[DeploymentRow]  # of TIES, newest created first
    tied_executions: list[ExecutionRow]  # of TIES, all of `device`, newest queued first
    executions: list[ExecutionRow]  # of rows[0], by device id
    device: uuid.UUID  # in the deployments of `executions` and `elsewhere`
    history: list[TransitionRow]
    elsewhere: uuid.UUID  # the other deployment `device` is in


@pytest.fixture(scope="module")
def model(contract_settings: Settings) -> Iterator[Model]:
    app = FleetApplication(env=application_env(contract_settings))
    fw_view, fw_reader = open_read_model(app, contract_settings, "firmware")
    d_view, d_reader = open_read_model(app, contract_settings, "deployments")
    statuses = (
        [FirmwareStatus.AVAILABLE] * 4 + [FirmwareStatus.WITHDRAWN] + [FirmwareStatus.AVAILABLE] * 2
    )
    releases = [release(TENANT, v, s, ("pump",) if i % 2 else ("pump", "fan"))
                for i, (v, s) in enumerate(zip(VERSIONS, statuses, strict=True))]  # fmt: skip
    keys = SigningKeysRow(
        TENANT, True, (SigningKeyRow("ab" * 8, "AAA=", "ci", T0, T0, "x"),), 4, T0
    )
    checkpoints = Checkpoints("ota-contract")
    fw_view.commit(FirmwareChanges(releases, [keys]), checkpoints.next())
    fw_view.commit(
        FirmwareChanges([release(OTHER, "9.0.0", FirmwareStatus.AVAILABLE, ("pump",))]),
        checkpoints.next(),
    )
    firmware = releases[0].firmware_id
    rows = [
        deployment(
            TENANT, i, firmware, DeploymentStatus.RUNNING if i % 2 else DeploymentStatus.PAUSED
        )
        for i in range(7)
    ]
    device = uuid.uuid4()
    devices = sorted([device, *(uuid.uuid4() for _ in range(4))], key=lambda u: u.hex)
    states = [ExecutionState.QUEUED, ExecutionState.FAILED] * 3
    executions = [execution(rows[0], d, states[i], i) for i, d in enumerate(devices)]
    elsewhere = execution(rows[1], device, ExecutionState.SUCCEEDED, 30)
    history = [
        TransitionRow(
            TENANT, executions[0].execution_id, v, rows[0].deployment_id, devices[0],
            None if v == 1 else ExecutionState.QUEUED, ExecutionState.QUEUED, "queued",
            None, None, T0,
        )
        for v in (1, 2, 3)
    ]  # fmt: skip
    reported = ["2.0.0", "1.0.0", None, "x"]
    compliance = [
        DeviceComplianceRow(
            TENANT, d, "pump" if i < 4 else "fan", reported[i % 4], T0,
            executions[0].execution_id if i == 1 else None, None, 1, T0,
        )
        for i, d in enumerate(devices)
    ]  # fmt: skip
    first = DeploymentsChanges(rows[:4], executions[:3], history[:1], compliance[:2])
    rest = DeploymentsChanges(rows[4:], [*executions[3:], elsewhere], history[1:], compliance[2:])
    d_view.commit([first, rest], checkpoints.next())
    foreign = replace(
        deployment(OTHER, 0, firmware, DeploymentStatus.RUNNING),
        deployment_id=rows[0].deployment_id,
    )
    d_view.commit(
        [DeploymentsChanges([foreign], [replace(elsewhere, tenant_id=OTHER)])], checkpoints.next()
    )
    ordered = sorted(rows, key=lambda r: (r.created_at, r.deployment_id.hex), reverse=True)
    tied = [
        replace(deployment(TIES, i, firmware, DeploymentStatus.RUNNING), created_at=at)
        for i, at in enumerate(TIED)
    ]
    tied_executions = [
        replace(execution(row, device, ExecutionState.QUEUED, 0), queued_at=row.created_at)
        for row in tied
    ]
    d_view.commit([DeploymentsChanges(tied, tied_executions)], checkpoints.next())
    yield Model(
        fw_reader, d_reader, releases, ordered,
        sorted(tied, key=lambda r: (r.created_at, r.deployment_id.hex), reverse=True),
        sorted(tied_executions, key=lambda e: (e.queued_at, e.execution_id.hex), reverse=True),
        executions, device, history, rows[1].deployment_id,
    )  # fmt: skip
    app.close()


def pages(fetch: Any, first: int) -> list[Any]:
    found, after, seen = [], None, 0
    while True:
        page: Page[Any] = fetch(first, after)
        assert len(page.items) <= first
        found += page.items
        seen += 1
        if page.next_cursor is None:
            return found
        after = page.next_cursor
        assert seen < 50


def test_releases_read_back_and_list_by_precedence(model: Model) -> None:
    for row in model.releases:
        assert model.firmware.get(TENANT, row.firmware_id) == row
        assert model.firmware.get(OTHER, row.firmware_id) is None
    listed = pages(lambda n, a: model.firmware.releases(TENANT, FirmwareFilter(), n, a), 3)
    by_precedence = sorted(model.releases, key=lambda r: r.sort_key, reverse=True)
    assert listed == by_precedence
    fan = pages(lambda n, a: model.firmware.releases(TENANT, FirmwareFilter("fan"), n, a), 2)
    assert fan == [r for r in by_precedence if "fan" in r.device_types]
    gone = FirmwareFilter(status=FirmwareStatus.WITHDRAWN)
    assert [r.firmware_version for r in model.firmware.releases(TENANT, gone, 5, None).items] == [
        "2.0.0"
    ]
    latest = model.firmware.latest(TENANT, "pump")
    assert latest is not None
    assert latest.firmware_version == "2.0.0-rc.1"  # 2.0.0 is withdrawn
    assert model.firmware.latest(TENANT, "valve") is None
    assert [
        r.firmware_version for r in model.firmware.releases(OTHER, FirmwareFilter(), 5, None).items
    ] == ["9.0.0"]
    keys = model.firmware.signing_keys(TENANT)
    assert keys is not None
    assert keys.keys[0].revoke_reason == "x"
    assert model.firmware.signing_keys(OTHER) is None


def test_deployments_read_back_and_list_newest_first(model: Model) -> None:
    for row in model.rows:
        assert model.deployments.get(TENANT, row.deployment_id) == row
    listed = pages(lambda n, a: model.deployments.deployments(TENANT, DeploymentFilter(), n, a), 3)
    assert listed == model.rows
    paused = DeploymentFilter(status=DeploymentStatus.PAUSED)
    assert pages(lambda n, a: model.deployments.deployments(TENANT, paused, n, a), 2) == [
        r for r in model.rows if r.status is DeploymentStatus.PAUSED
    ]
    on_device = DeploymentFilter(device_id=model.device)
    found = model.deployments.deployments(TENANT, on_device, 10, None).items
    assert {r.deployment_id for r in found} == {model.executions[0].deployment_id, model.elsewhere}


def test_deployments_of_the_same_second_page_one_by_one_exactly_once(model: Model) -> None:
    """Newest created first, then by id, whatever a time's microseconds or offset: by the
    reader's cursors, by the API's edge cursors (`deployment_cursor`), and a device's
    executions (newest queued first) likewise."""
    everything = DeploymentFilter()
    listed = pages(lambda n, a: model.deployments.deployments(TIES, everything, n, a), 1)
    assert listed == model.tied
    by_edges, after = [], None
    for _ in model.tied:
        page = model.deployments.deployments(TIES, everything, 1, after)
        by_edges += page.items
        after = deployment_cursor(page.items[0])
    assert by_edges == model.tied
    assert model.deployments.deployments(TIES, everything, 1, after).items == []
    mine = pages(lambda n, a: model.deployments.device_executions(TIES, model.device, n, a), 1)
    assert mine == model.tied_executions


def test_executions_history_and_compliance(model: Model) -> None:
    deployment_id = model.executions[0].deployment_id
    listed = pages(lambda n, a: model.deployments.executions(TENANT, deployment_id, None, n, a), 2)
    assert listed == model.executions
    failed = pages(
        lambda n, a: model.deployments.executions(
            TENANT, deployment_id, ExecutionState.FAILED, n, a
        ),
        1,
    )
    assert failed == [e for e in model.executions if e.state is ExecutionState.FAILED]
    mine = model.deployments.device_executions(TENANT, model.device, 10, None).items
    assert [e.queued_at for e in mine] == sorted((e.queued_at for e in mine), reverse=True)
    assert len(mine) == 2
    assert model.deployments.history(TENANT, model.executions[0].execution_id) == model.history
    assert model.deployments.history(OTHER, model.executions[0].execution_id) == []
    fan, pump = model.deployments.compliance(TENANT, None)
    assert (pump.devices, pump.versions, pump.latest_version) == (
        4,
        {"2.0.0": 1, "1.0.0": 1, "": 1, "x": 1},
        "1.10.0",  # 2.0.0 is withdrawn, 2.0.0-rc.1 a pre-release
    )
    assert (pump.behind, pump.failed) == (3, 1)
    assert (fan.devices, fan.latest_version, fan.behind) == (1, "1.2.0", 0)  # reports 2.0.0
    assert model.deployments.compliance(TENANT, "fan") == [fan]
    assert model.deployments.compliance(OTHER, None) == []


def test_another_tenants_rows_are_never_answered(model: Model) -> None:
    shared = model.executions[0].deployment_id
    other = model.deployments.get(OTHER, shared)
    assert other is not None
    assert other.tenant_id == OTHER
    assert model.deployments.get(TENANT, shared) != other
    assert model.deployments.executions(OTHER, shared, None, 10, None).items == []
    assert [
        d.tenant_id
        for d in model.deployments.deployments(OTHER, DeploymentFilter(), 10, None).items
    ] == [OTHER]


@pytest.mark.parametrize("after", ["%%%", "Zm9vOmJhcg", ""])
def test_a_malformed_cursor_or_page_size_is_invalid_input(model: Model, after: str) -> None:
    calls = [
        lambda a, n: model.firmware.releases(TENANT, FirmwareFilter(), n, a),
        lambda a, n: model.deployments.deployments(TENANT, DeploymentFilter(), n, a),
        lambda a, n: model.deployments.executions(TENANT, model.rows[0].deployment_id, None, n, a),
        lambda a, n: model.deployments.device_executions(TENANT, model.device, n, a),
    ]
    for call in calls:
        with pytest.raises(InvalidInput) as bad:
            call(after, 5)
        assert bad.value.field == "after"
        with pytest.raises(InvalidInput) as big:
            call(None, 0)
        assert big.value.field == "first"
