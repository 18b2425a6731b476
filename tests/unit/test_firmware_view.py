"""The firmware and deployment resources are declared once (`api.firmware_view`,
`api.deployment_view`, issue 11): a read-model row becomes exactly the definition's fields, the
REST answer spells them as the SDL of docs/firmware.md 12.8 does, and the state enums are the
write side's, member for member."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from enum import Enum
from uuid import uuid4

import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from api.deployment_view import (
    DeploymentPublic,
    ExecutionPublic,
    ExecutionTransitionPublic,
)
from api.firmware_view import (
    CompliancePublic,
    DeploymentStatus,
    ExecutionState,
    FirmwarePublic,
    FirmwareStatus,
    SigningKeyPublic,
)
from read_side.deployments.eta import bucket_of
from read_side.deployments.row import (
    ComplianceRow,
    DecisionRow,
    DeploymentRow,
    ExecutionRow,
    TransitionRow,
    WaveRow,
)
from read_side.firmware.row import FirmwareRow, SigningKeyRow
from tests.unit.views import graphql_fields, openapi_properties, wire_names
from write_side import deployment_states, firmware_states
from write_side.deployment_commands import parse_create_deployment

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)


def a_release() -> FirmwareRow:
    return FirmwareRow(
        tenant_id="t1",
        firmware_id=uuid4(),
        firmware_version="1.2.3+b7",
        sort_key="k",
        device_types=("pump.v2", "valve"),
        hardware_revisions=("r1",),
        filename="fw.bin",
        size_bytes=5_000_000_000,  # beyond GraphQL's Int
        sha256="ab" * 32,
        object_key="t1/fw",
        signature="c2ln",
        key_id="0123456789abcdef",
        release_notes="fixes",
        status=firmware_states.FirmwareStatus.WITHDRAWN,
        uploaded_at=NOW,
        expires_at=None,
        verified_at=NOW,
        rejection_reason=None,
        withdrawn_at=LATER,
        withdrawn_by="admin",
        withdraw_reason="bricks",
        version=3,
        updated_at=LATER,
    )


def a_deployment() -> DeploymentRow:
    return DeploymentRow(
        tenant_id="t1",
        deployment_id=uuid4(),
        name="spring",
        firmware_id=uuid4(),
        firmware_version="1.2.3",
        status=deployment_states.DeploymentStatus.AWAITING_APPROVAL,
        current_wave=0,
        target={"device_ids": [], "tags": ["north"], "device_types": [], "dynamic": False},
        targets=10,
        waves=(
            WaveRow(index=0, approval=False, members=2, counts={"SUCCEEDED": 2}, started_at=NOW),
            WaveRow(index=1, approval=True),
        ),
        counts={"SUCCEEDED": 2, "QUEUED": 8, "FAILED": 0},
        decisions=(
            DecisionRow(kind="started", by="op", at=NOW),
            DecisionRow(
                kind="health_checked", by="orchestrator", at=LATER, wave=0, evidence={"ok": True}
            ),
        ),
        plan={"waves": [{"percent": 20}, {"percent": 100}]},
        seed=42,
        created_by="op",
        created_at=NOW,
        started_at=NOW,
        finished_at=None,
        notified=2,
        success_seconds={},
        version=5,
        position=99,
        updated_at=LATER,
    )


def test_the_enums_are_the_write_sides_member_for_member() -> None:
    pairs = [
        (FirmwareStatus, firmware_states.FirmwareStatus),
        (DeploymentStatus, deployment_states.DeploymentStatus),
        (ExecutionState, deployment_states.ExecutionState),
    ]
    for shown, domain in pairs:
        assert [(m.name, m.value) for m in shown] == [(m.name, m.value) for m in domain]
        assert shown is not domain  # GraphQL marks the API's class, never the domain's
        assert not issubclass(shown, str)  # plain Enums, as the device's
        assert issubclass(shown, Enum)


def test_a_release_row_shows_as_the_sdl_spells_it() -> None:
    row = a_release()
    shown = FirmwarePublic.from_row(row).model_dump(mode="json", by_alias=True)
    assert list(shown) == wire_names(FirmwarePublic)
    assert set(shown) == {
        "id",
        "firmwareVersion",
        "deviceTypes",
        "hardwareRevisions",
        "filename",
        "sizeBytes",
        "sha256",
        "keyId",
        "status",
        "releaseNotes",
        "uploadedAt",
        "withdrawnAt",
        "rejectionReason",
        "version",
    }
    assert shown["id"] == str(row.firmware_id)
    assert shown["deviceTypes"] == ["pump.v2", "valve"]
    assert (shown["status"], shown["sizeBytes"], shown["version"]) == ("WITHDRAWN", 5e9, 3)


def test_a_signing_key_shows_without_its_key_material() -> None:
    key = SigningKeyRow(key_id="k1", public_key="cHVi", label="ci", registered_at=NOW)
    shown = SigningKeyPublic.from_row(key).model_dump(mode="json", by_alias=True)
    assert shown == {
        "keyId": "k1",
        "label": "ci",
        "registeredAt": "2026-01-02T03:04:05Z",
        "revokedAt": None,
    }


def test_a_deployment_row_shows_its_waves_counts_and_decisions() -> None:
    row = a_deployment()
    shown = DeploymentPublic.from_row(row, now=NOW).model_dump(mode="json", by_alias=True)
    assert list(shown) == wire_names(DeploymentPublic)
    assert shown["status"] == "AWAITING_APPROVAL"
    # In the states' order, zeros left out.
    assert shown["counts"] == [{"state": "QUEUED", "count": 8}, {"state": "SUCCEEDED", "count": 2}]
    assert [w["members"] for w in shown["waves"]] == [2, 0]  # 0 until the wave starts
    assert shown["waves"][1]["approval"] is True
    assert shown["decisions"][0]["evidence"] == {}
    assert shown["decisions"][1] == {
        "kind": "health_checked",
        "wave": 0,
        "by": "orchestrator",
        "reason": None,
        "evidence": {"ok": True},
        "at": "2026-01-02T04:04:05Z",
    }
    # No execution has succeeded yet in the row: no time to go by, no ETA.
    assert (shown["seed"], shown["eta"], shown["version"]) == ("42", None, 5)


def test_a_running_deployment_shows_its_eta_from_the_row() -> None:
    """Members not yet notified at the plan's rate (none: no wait), plus the median time to
    SUCCEEDED so far: ten executions took 100 s."""
    row = replace(
        a_deployment(),
        status=deployment_states.DeploymentStatus.RUNNING,
        success_seconds={bucket_of(100): 10},
        plan=parse_create_deployment(
            {"name": "n", "firmwareId": str(uuid4()), "target": {"tags": ["north"]}}
        )
        .to_plan(42)
        .to_payload(),
    )
    eta = DeploymentPublic.from_row(row, now=NOW).eta
    assert eta is not None
    assert 95 <= (eta - NOW).total_seconds() <= 105


def test_an_execution_and_its_history_show_as_the_sdl_spells_them() -> None:
    execution = ExecutionRow(
        tenant_id="t1",
        execution_id=uuid4(),
        deployment_id=uuid4(),
        device_id=uuid4(),
        purpose="install",
        wave=1,
        firmware_id=uuid4(),
        target_version="1.2.3",
        from_version="1.0.0",
        state=deployment_states.ExecutionState.DOWNLOADING,
        attempt=1,
        reason=None,
        failure_kind=None,
        not_before=None,
        reported_version=None,
        percent=40,
        seq=3,
        stall_deadline=LATER,
        retry_at=None,
        queued_at=NOW,
        notified_at=NOW,
        finished_at=None,
        version=4,
        position=7,
        updated_at=LATER,
    )
    shown = ExecutionPublic.from_row(execution).model_dump(mode="json", by_alias=True)
    assert list(shown) == wire_names(ExecutionPublic)
    assert (shown["id"], shown["state"], shown["percent"]) == (
        str(execution.execution_id),
        "DOWNLOADING",
        40,
    )

    first = TransitionRow(
        tenant_id="t1",
        execution_id=execution.execution_id,
        version=1,
        deployment_id=execution.deployment_id,
        device_id=execution.device_id,
        from_state=None,
        to_state=deployment_states.ExecutionState.QUEUED,
        event="queued",
        reason=None,
        seq=None,
        at=NOW,
    )
    step = ExecutionTransitionPublic.from_row(first).model_dump(mode="json", by_alias=True)
    assert list(step) == ["from", "to", "event", "reason", "seq", "at"]
    assert (step["from"], step["to"], step["reason"]) == (None, "QUEUED", "queued")


def test_compliance_shows_its_latest_release_and_versions() -> None:
    latest = a_release()
    row = ComplianceRow(
        device_type="pump.v2",
        devices=3,
        versions={"1.0.0": 2, "": 1},
        latest_firmware_id=latest.firmware_id,
        latest_version="1.2.3",
        behind=3,
        failed=1,
    )
    shown = CompliancePublic.from_row(row, latest).model_dump(mode="json", by_alias=True)
    assert shown["latest"]["id"] == str(latest.firmware_id)
    assert shown["versions"] == [
        {"firmwareVersion": "", "devices": 1},
        {"firmwareVersion": "1.0.0", "devices": 2},
    ]
    assert CompliancePublic.from_row(row, None).latest is None


def wire(model: type[BaseModel]) -> list[str]:
    """The names REST spells the fields with (a name of the model's own, `from`, kept)."""
    return [info.alias or name for name, info in model.model_fields.items()]


@pytest.mark.parametrize(
    "model",
    [
        FirmwarePublic,
        SigningKeyPublic,
        CompliancePublic,
        DeploymentPublic,
        ExecutionPublic,
        ExecutionTransitionPublic,
    ],
)
def test_the_openapi_component_has_exactly_the_definitions_fields_and_descriptions(
    model: type[BaseModel],
) -> None:
    app = FastAPI()
    app.get("/d", response_model=model)(lambda: None)

    properties = openapi_properties(app, model.__name__)
    assert list(properties) == wire(model)
    for name, info in zip(wire(model), model.model_fields.values(), strict=True):
        assert properties[name].get("description") == info.description, name


@pytest.mark.parametrize(
    ("model", "graphql_name", "added"),
    [
        (FirmwarePublic, "Firmware", []),
        (SigningKeyPublic, "SigningKey", []),
        (CompliancePublic, "Compliance", []),
        (DeploymentPublic, "Deployment", ["firmware", "executions"]),  # resolvers
        (ExecutionPublic, "Execution", ["device", "history"]),
        (ExecutionTransitionPublic, "ExecutionTransition", []),
    ],
)
def test_the_graphql_type_has_exactly_the_definitions_fields(
    model: type[BaseModel], graphql_name: str, added: list[str]
) -> None:
    shown = graphql_fields(graphql_name)
    assert list(shown) == wire(model) + added
    for name, info in zip(wire(model), model.model_fields.values(), strict=True):
        assert shown[name].description == info.description, name
