"""The firmware and deployment inputs as both API adapters take them, but a new deployment's
(`api.deployment_inputs`): declared once, here (issue 11, item 1), as `api.alert_inputs`
declares the alerts'. Each is a REST body or query and the one definition its GraphQL input is
derived from (`api.graphql.firmware_inputs`); the commands they become
(`write_side.firmware_commands`, `write_side.deployment_commands`) check the values, naming the
field as both wires spell it. The filters' fields are the read models' filters' by name
(`criteria`)."""

from __future__ import annotations

from uuid import UUID

from pydantic import ConfigDict, Field

from api.firmware_view import DeploymentStatus, ExecutionState, FirmwareStatus
from api.inputs import Input
from read_side.deployments.port import DeploymentFilter
from read_side.firmware.port import FirmwareFilter
from write_side import deployment_states, firmware_states

EXPECTED = "The version the change expects (optimistic concurrency)."


class FirmwareQuery(Input):
    """Which releases a listing shows: REST's query, GraphQL's `FirmwareFilter`."""

    model_config = ConfigDict(extra="ignore")

    device_type: str | None = Field(default=None, description="Releases for this device type.")
    status: FirmwareStatus | None = None

    def criteria(self) -> FirmwareFilter:
        status = None if self.status is None else firmware_states.FirmwareStatus(self.status.value)
        return FirmwareFilter(device_type=self.device_type, status=status)


class FirmwareWithdrawal(Input):
    """No new deployment may use the release; running executions go on."""

    expected_version: int | None = Field(default=None, ge=1, description=EXPECTED)
    reason: str | None = None


class SigningKeyRegistration(Input):
    public_key: str = Field(description="An ed25519 public key: base64 of its 32 bytes, or PEM.")
    label: str


class SigningKeyRevocation(Input):
    reason: str | None = None


class SignatureRequirement(Input):
    required: bool = Field(description="Whether every new release must be signed.")


class DeploymentQuery(Input):
    """Which deployments a listing shows: REST's query, GraphQL's `DeploymentFilter`."""

    model_config = ConfigDict(extra="ignore")

    status: DeploymentStatus | None = None
    firmware_id: UUID | None = None
    device_id: UUID | None = Field(
        default=None, description="Deployments with an execution for this device."
    )

    def criteria(self) -> DeploymentFilter:
        status = (
            None if self.status is None else deployment_states.DeploymentStatus(self.status.value)
        )
        return DeploymentFilter(status, self.firmware_id, self.device_id)


class ExecutionQuery(Input):
    """A deployment's executions: REST's query (GraphQL: `Deployment.executions(state:)`)."""

    model_config = ConfigDict(extra="ignore")

    state: ExecutionState | None = None

    def domain_state(self) -> deployment_states.ExecutionState | None:
        return None if self.state is None else deployment_states.ExecutionState(self.state.value)


class DeploymentAction(Input):
    """Pause, resume or cancel a deployment."""

    expected_version: int | None = Field(default=None, ge=1, description=EXPECTED)
    reason: str | None = None


class WaveApproval(Input):
    """Approve a wave that waits for a person's approval."""

    wave: int = Field(description="The wave's index (the first is 0).")
    expected_version: int | None = Field(default=None, ge=1, description=EXPECTED)
