"""The deployment operations (`api.operations`): deployments (read, list, create, approve a
wave, pause, resume, cancel, finish) and their executions, each declared once for REST and GraphQL
(docs/firmware.md 12.8). Commands go through the one command path (`api.firmware_rows`); a new
deployment's input is `api.deployment_inputs`', checked by the domain. GraphQL reads a
deployment's release and executions and an execution's device and history with resolvers
(`api.graphql.firmware_types`); `deploymentProgress` is `api.graphql.firmware`'s."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar
from uuid import UUID

import strawberry
from fastapi import Path

from api.auth import Permission
from api.command_path import build_command
from api.deployment_inputs import DeploymentCreate
from api.deployment_view import DeploymentPublic, ExecutionPublic
from api.firmware_inputs import DeploymentAction, DeploymentQuery, ExecutionQuery, WaveApproval
from api.firmware_rows import (
    deployment_cursor,
    deployments_reader,
    execution_cursor,
    run_deployment_command,
)
from api.operations import (
    MUTATION,
    PAGE_ARGS,
    QUERY,
    Arg,
    Call,
    GraphQL,
    Operation,
    Paged,
    Rest,
    parse_id,
)
from api.rest.errors import conflict, not_found
from api.rest.firmware_models import (
    DEPLOYMENT_EXAMPLE,
    DeploymentDetail,
    DeploymentsPage,
    ExecutionsPage,
)
from event_store.envelope import EventMetadata
from read_side.deployments.row import DeploymentRow, ExecutionRow
from read_side.paging import Page
from write_side.application import Saved
from write_side.deployment_commands import (
    ApproveWave,
    CancelDeployment,
    FinishDeployment,
    PauseDeployment,
    ResumeDeployment,
)
from write_side.deployments import Deployment

C = TypeVar("C")
FIRST_EXECUTIONS = 50  # REST's single deployment shows this many executions

DEPLOYMENT_ID = Arg(
    "id",
    Annotated[UUID, Path(alias="deploymentId", description="The deployment's id (a UUID).")],
    strawberry.ID,
    parse=parse_id("a deployment id"),
)
EXECUTION_ID = Arg("id", None, strawberry.ID, parse=parse_id("an execution id"))


async def get_deployment(call: Call) -> DeploymentPublic | None:
    row = await call.read(deployments_reader(call.system).get, call["id"])
    return None if row is None else DeploymentPublic.from_row(row)


def with_executions(call: Call, deployment: DeploymentPublic) -> DeploymentDetail:
    """REST's single deployment, with the first page of its executions (GraphQL reads them as
    `Deployment.executions`)."""
    reader = deployments_reader(call.system)
    page = reader.executions(call.caller.tenant_id, deployment.id, None, FIRST_EXECUTIONS, None)
    executions = ExecutionsPage.of(page, ExecutionPublic.from_row)
    return DeploymentDetail.model_validate(deployment.model_dump() | {"executions": executions})


async def list_deployments(call: Call) -> Page[DeploymentRow]:
    return await call.page(deployments_reader(call.system).deployments, call.shape.criteria())


async def get_execution(call: Call) -> ExecutionPublic | None:
    row = await call.read(deployments_reader(call.system).execution, call["id"])
    return None if row is None else ExecutionPublic.from_row(row)


async def list_executions(call: Call) -> Page[ExecutionRow]:
    reader = deployments_reader(call.system).executions
    state = call.shape.domain_state()
    return await call.read(reader, call["id"], state, call["first"], call["after"])


async def create_deployment(call: Call) -> DeploymentPublic:
    command = call.shape.command()
    return await _command(call, call.system.deployment_service.create, command)


async def approve_wave(call: Call) -> DeploymentPublic:
    command = build_command(ApproveWave, call.shape.model_dump() | {"deployment_id": call["id"]})
    return await _command(call, call.system.deployment_service.approve, command)


async def pause_deployment(call: Call) -> DeploymentPublic:
    command = build_command(PauseDeployment, _action(call))
    return await _command(call, call.system.deployment_service.pause, command)


async def resume_deployment(call: Call) -> DeploymentPublic:
    command = build_command(ResumeDeployment, _action(call))
    return await _command(call, call.system.deployment_service.resume, command)


async def cancel_deployment(call: Call) -> DeploymentPublic:
    command = build_command(CancelDeployment, _action(call))
    return await _command(call, call.system.deployment_service.cancel, command)


async def finish_deployment(call: Call) -> DeploymentPublic:
    command = build_command(FinishDeployment, _action(call))
    return await _command(call, call.system.deployment_service.finish, command)


def _action(call: Call) -> dict[str, object]:
    fields: dict[str, object] = call.shape.model_dump()
    return fields | {"deployment_id": call["id"]}


async def _command(
    call: Call, handle: Callable[[C, EventMetadata], Saved[Deployment]], command: C
) -> DeploymentPublic:
    row = await run_deployment_command(call.system, call.caller, handle, command)
    return DeploymentPublic.from_row(row)


READ, WRITE = Permission.READ_FIRMWARE, Permission.WRITE_DEPLOYMENTS
APPROVE = Permission.APPROVE_DEPLOYMENTS
NO_DEPLOYMENT = not_found("deployment")
CHANGED = NO_DEPLOYMENT | conflict("deployment", ", or it is finished (DEPLOYMENT_FINISHED)")
BASE = "/firmware/deployments"
OPERATIONS = (
    Operation(
        "list_deployments", READ, list_deployments, DeploymentPublic, shape=DeploymentQuery,
        args=PAGE_ARGS,
        paged=Paged(DeploymentPublic.from_row, deployment_cursor, DeploymentsPage),
        rest=Rest("GET", BASE, "List deployments (newest first)", shape_in="query"),
        graphql=GraphQL("deployments", QUERY, input="DeploymentFilter"),
    ),
    Operation(
        "get_deployment", READ, get_deployment, DeploymentPublic, args=(DEPLOYMENT_ID,),
        nullable=True, missing="deployment {id} not found",
        rest=Rest(
            "GET", BASE + "/{deploymentId}",
            "Show a deployment: progress, waves, decisions, the first page of executions",
            responses=NO_DEPLOYMENT, model=DeploymentDetail, answer=with_executions,
        ),
        graphql=GraphQL("deployment", QUERY),
    ),
    Operation(
        "list_executions", READ, list_executions, ExecutionPublic, shape=ExecutionQuery,
        args=(DEPLOYMENT_ID, *PAGE_ARGS),
        paged=Paged(ExecutionPublic.from_row, execution_cursor, ExecutionsPage),
        rest=Rest("GET", BASE + "/{deploymentId}/executions",
                  "A deployment's executions (by device)", shape_in="query"),
    ),
    Operation(
        "get_execution", READ, get_execution, ExecutionPublic, args=(EXECUTION_ID,),
        nullable=True, missing="execution {id} not found",
        graphql=GraphQL("execution", QUERY),
    ),
    Operation(
        "create_deployment", WRITE, create_deployment, DeploymentPublic, shape=DeploymentCreate,
        rest=Rest(
            "POST", BASE, "Create a deployment of a release", status=201,
            examples=[DEPLOYMENT_EXAMPLE], location=lambda d: f"{BASE}/{d.id}",
        ),
        graphql=GraphQL("create_deployment", MUTATION, "CreateDeploymentInput"),
    ),
    Operation(
        "approve_wave", APPROVE, approve_wave, DeploymentPublic, shape=WaveApproval,
        args=(DEPLOYMENT_ID,),
        rest=Rest("POST", BASE + "/{deploymentId}/approve", "Approve the wave awaiting approval",
                  if_match="a deployment", responses=CHANGED),
        graphql=GraphQL("approve_wave", MUTATION, "ApproveWaveInput"),
    ),
    Operation(
        "pause_deployment", WRITE, pause_deployment, DeploymentPublic, shape=DeploymentAction,
        args=(DEPLOYMENT_ID,),
        rest=Rest("POST", BASE + "/{deploymentId}/pause", "Pause a deployment (nobody notified)",
                  shape_in="optional body", if_match="a deployment", responses=CHANGED),
        graphql=GraphQL("pause_deployment", MUTATION, "DeploymentCommandInput"),
    ),
    Operation(
        "resume_deployment", WRITE, resume_deployment, DeploymentPublic, shape=DeploymentAction,
        args=(DEPLOYMENT_ID,),
        rest=Rest("POST", BASE + "/{deploymentId}/resume", "Resume a paused deployment",
                  shape_in="optional body", if_match="a deployment", responses=CHANGED),
        graphql=GraphQL("resume_deployment", MUTATION, "DeploymentCommandInput"),
    ),
    Operation(
        "cancel_deployment", WRITE, cancel_deployment, DeploymentPublic, shape=DeploymentAction,
        args=(DEPLOYMENT_ID,),
        rest=Rest("POST", BASE + "/{deploymentId}/cancel", "Cancel a deployment",
                  shape_in="optional body", if_match="a deployment", responses=CHANGED),
        graphql=GraphQL("cancel_deployment", MUTATION, "DeploymentCommandInput"),
    ),
    Operation(
        "finish_deployment", WRITE, finish_deployment, DeploymentPublic, shape=DeploymentAction,
        args=(DEPLOYMENT_ID,),
        rest=Rest("POST", BASE + "/{deploymentId}/finish",
                  "Finish a dynamic deployment: no new device, completed once no install runs",
                  shape_in="optional body", if_match="a deployment", responses=CHANGED),
        graphql=GraphQL("finish_deployment", MUTATION, "DeploymentCommandInput"),
    ),
)  # fmt: skip
