"""The firmware and deployment inputs are declared once (`api.firmware_inputs`,
`api.deployment_inputs`): the GraphQL inputs take exactly the shapes' fields, a new
deployment's defaults are the command's, and the domain names a bad field as both wires spell
it."""

from __future__ import annotations

from uuid import uuid4

import pytest

from api.deployment_inputs import DeploymentCreate, WaveBody
from api.firmware_inputs import (
    DeploymentAction,
    DeploymentQuery,
    FirmwareQuery,
    FirmwareWithdrawal,
    SignatureRequirement,
    SigningKeyRegistration,
    SigningKeyRevocation,
    WaveApproval,
)
from api.inputs import Input
from tests.unit.views import graphql_input_fields, wire_names
from write_side.deployment_commands import CreateDeployment, WaveInput
from write_side.errors import InvalidInput


@pytest.mark.parametrize(
    ("model", "graphql_name", "own"),
    [
        (FirmwareQuery, "FirmwareFilter", []),
        (FirmwareWithdrawal, "WithdrawFirmwareInput", ["id"]),  # REST: the path's firmwareId
        (SigningKeyRegistration, "RegisterSigningKeyInput", []),
        (SigningKeyRevocation, "RevokeSigningKeyInput", ["keyId"]),
        (SignatureRequirement, "RequireSignedFirmwareInput", []),
        (DeploymentQuery, "DeploymentFilter", []),
        (DeploymentCreate, "CreateDeploymentInput", []),
        (WaveBody, "WaveInput", []),
        (DeploymentAction, "DeploymentCommandInput", ["id"]),
        (WaveApproval, "ApproveWaveInput", ["id"]),
    ],
)
def test_the_graphql_inputs_take_exactly_the_shapes_fields(
    model: type[Input], graphql_name: str, own: list[str]
) -> None:
    assert list(graphql_input_fields(graphql_name)) == own + wire_names(model)


def test_a_new_deployments_defaults_are_the_commands() -> None:
    """The shape repeats no default: left out, the command's own applies."""
    shape = DeploymentCreate.model_validate(
        {"name": "n", "firmwareId": str(uuid4()), "target": {"tags": ["a"]}, "waves": [{}]}
    )
    command = shape.command()
    assert command == CreateDeployment.model_validate(
        {"name": "n", "firmwareId": shape.firmware_id, "target": {"tags": ["a"]}}
    )
    wave = WaveBody()
    assert (wave.success_percent, wave.on_failure.name, wave.soak_seconds) == (
        WaveInput().success_percent, WaveInput().on_failure.name, WaveInput().soak_seconds,
    )  # fmt: skip


def test_a_bad_threshold_is_named_as_both_wires_spell_it() -> None:
    shape = DeploymentCreate.model_validate(
        {
            "name": "n",
            "firmwareId": str(uuid4()),
            "target": {"deviceTypes": ["pump"]},
            "waves": [{"percent": 10}, {"successPercent": 101}],
        }
    )
    with pytest.raises(InvalidInput) as raised:
        shape.command()
    assert raised.value.field == "waves[1].successPercent"
