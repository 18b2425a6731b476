"""GraphQL output types of the firmware and deployments slices (docs/firmware.md 12.8),
derived from the one definition of each in `api.firmware_view` and `api.deployment_view`
(`api.graphql.derive`): only what reads more is spelled out here, with resolvers reading the
caller's tenant only: `Deployment.firmware`, `Deployment.executions`, `Execution.device` and
`Execution.history`."""

from __future__ import annotations

import strawberry

from api.auth import Permission
from api.deployment_view import (
    DeploymentDecisionPublic,
    DeploymentPublic,
    DeploymentWavePublic,
    ExecutionPublic,
    ExecutionTransitionPublic,
    StateCountPublic,
)
from api.firmware_inputs import ExecutionQuery
from api.firmware_rows import deployments_reader, execution_cursor, firmware_reader
from api.firmware_view import (
    CompliancePublic,
    ExecutionState,
    FirmwarePublic,
    SignatureRequirementPublic,
    SigningKeyPublic,
    VersionCountPublic,
)
from api.graphql.context import Info
from api.graphql.derive import derived_type, part_type
from api.graphql.types import Connection, Device, connection
from api.operations import Call
from read_side.deployments.row import DeploymentRow, ExecutionRow
from read_side.paging import check_page_size

for _part, _name in (  # shown only as fields of the others, or as an operation's answer
    (StateCountPublic, "StateCount"),
    (DeploymentWavePublic, "DeploymentWave"),
    (DeploymentDecisionPublic, "DeploymentDecision"),
    (VersionCountPublic, "VersionCount"),
    (SigningKeyPublic, "SigningKey"),
    (SignatureRequirementPublic, "SignatureRequirement"),
):
    part_type(_part, _name)


@derived_type(FirmwarePublic, name="Firmware")
class Firmware:
    view: strawberry.Private[FirmwarePublic]


part_type(CompliancePublic, "Compliance")  # its `latest` is a `Firmware`


@derived_type(ExecutionTransitionPublic, name="ExecutionTransition")
class ExecutionTransition:
    view: strawberry.Private[ExecutionTransitionPublic]


def _call(info: Info) -> Call:
    """The caller, once they may read firmware, as an operation's call (the tenant's reads)."""
    caller = info.context.authorize(Permission.READ_FIRMWARE)
    return Call(info.context.system, caller)


@derived_type(ExecutionPublic, name="Execution")
class Execution:
    view: strawberry.Private[ExecutionPublic]

    @strawberry.field
    async def device(self, info: Info) -> Device | None:
        """The device as it is now (null once it is gone from the read model)."""
        call = _call(info)
        found = await call.read(call.system.devices.get, self.view.device_id)
        return None if found is None else Device.from_status(found)

    @strawberry.field
    async def history(self, info: Info) -> list[ExecutionTransition]:
        """Every transition of the execution, oldest first."""
        call = _call(info)
        rows = await call.read(deployments_reader(call.system).history, self.view.id)
        return [ExecutionTransition(view=ExecutionTransitionPublic.from_row(r)) for r in rows]

    @classmethod
    def from_row(cls, row: ExecutionRow) -> Execution:
        return cls(view=ExecutionPublic.from_row(row))


@derived_type(DeploymentPublic, name="Deployment")
class Deployment:
    view: strawberry.Private[DeploymentPublic]

    @strawberry.field
    async def firmware(self, info: Info) -> Firmware | None:
        """The release it installs (null only while the firmware model is behind)."""
        call = _call(info)
        found = await call.read(firmware_reader(call.system).get, self.view.firmware_id)
        return None if found is None else Firmware(view=FirmwarePublic.from_row(found))

    @strawberry.field
    async def executions(
        self,
        info: Info,
        state: ExecutionState | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> Connection[Execution]:
        """Its executions (in `state`, if given), by device."""
        call = _call(info)
        query = ExecutionQuery(state=state)
        reader = deployments_reader(call.system).executions
        page = await call.read(
            reader, self.view.id, query.domain_state(), check_page_size(first), after
        )
        return connection(page, Execution.from_row, execution_cursor)

    @classmethod
    def from_row(cls, row: DeploymentRow) -> Deployment:
        return cls(view=DeploymentPublic.from_row(row))
