"""GraphQL subscription `deploymentProgress` (the firmware and deployments slices' queries and
mutations are operations of their tables, `api.firmware` and `api.deployments`).

It is fed by the deployments projection's change notices on topic `deployment`, one per
deployment event and per execution event that moved one, published after its rows commit,
through the one subscription loop (`api.graphql.notices.tenant_notices`). Each payload shows
the deployment (and, for an execution's event, the execution) as the read model holds it when
the notice arrives, read again through the reader (its rows commit before the notice is
published), so no row codec is shared with the projection. Notices are at most once, so on any
end, re-read and subscribe again."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Mapping
from contextlib import aclosing
from functools import partial
from typing import Any
from uuid import UUID

import strawberry
from anyio import to_thread

from api.auth import Permission
from api.firmware_rows import deployments_reader
from api.graphql.context import Info
from api.graphql.firmware_types import Deployment, Execution
from api.graphql.resume import Changed, Resume, changes
from api.graphql.scalars import Long
from api.operations import parse_id
from event_store.envelope import EventEnvelope
from read_side.deployments.port import DEPLOYMENT_TOPIC, DeploymentsReader
from read_side.notifications import ChangeNotice
from write_side.deployment_executions import EXECUTION_EVENTS
from write_side.deployments import DEPLOYMENT_EVENTS

parse_deployment_id = parse_id("a deployment id")


@strawberry.type
class DeploymentProgress:
    deployment: Deployment
    execution: Execution | None
    event_type: str
    position: Long
    cursor: str = strawberry.field(description="Pass as `after` when subscribing again.")

    @classmethod
    def read(cls, reader: DeploymentsReader, notice: ChangeNotice) -> DeploymentProgress | None:
        """The payload of a notice: the rows read now; None if the deployment is not there."""
        row = reader.get(notice.tenant_id, UUID(notice.key))
        if row is None:
            return None
        data: Mapping[str, Any] = notice.data
        shown = data.get("execution")
        execution_id = shown.get("execution_id") if isinstance(shown, Mapping) else None
        execution = (
            None
            if execution_id is None
            else reader.execution(notice.tenant_id, UUID(str(execution_id)))
        )
        return cls(
            deployment=Deployment.from_row(row),
            execution=None if execution is None else Execution.from_row(execution),
            event_type=notice.event_type,
            position=Long(notice.position),
            cursor=str(notice.position),
        )


@strawberry.type
class DeploymentSubscription:
    @strawberry.subscription
    async def deployment_progress(
        self, info: Info, deployment_id: strawberry.ID, after: str | None = None
    ) -> AsyncGenerator[DeploymentProgress, None]:
        """Every change of one deployment and its executions from now on. With `after` (a
        `cursor` received before): first the deployment and each of its executions that
        changed since, once each as they are now, in the order of their last change; then
        live (nothing missed, nothing twice)."""
        caller = info.context.authorize(Permission.READ_FIRMWARE)
        key = str(parse_deployment_id(deployment_id, "deploymentId"))
        system = info.context.system
        reader = deployments_reader(system)

        def keep(notice: ChangeNotice) -> bool:
            return notice.key == key

        def resume() -> Resume:
            return Resume("deployments", PROGRESS_TYPES, progress_key(reader, key),
                          partial(progress_rows, key))  # fmt: skip

        notices = changes(
            system, caller, DEPLOYMENT_TOPIC, Permission.READ_FIRMWARE, keep, after, resume
        )
        async with aclosing(notices):
            async for notice in notices:
                progress = await to_thread.run_sync(DeploymentProgress.read, reader, notice)
                if progress is not None:
                    yield progress


PROGRESS_TYPES = tuple(e.type for e in (*DEPLOYMENT_EVENTS, *EXECUTION_EVENTS))
_DEPLOYMENT_TYPES = frozenset(e.type for e in DEPLOYMENT_EVENTS)


def progress_key(
    reader: DeploymentsReader, deployment: str
) -> Callable[[EventEnvelope], str | None]:
    """The key a deployment or execution event changes for a resumed `deploymentProgress` of
    `deployment`: "" for the deployment itself, an execution's id for one of its executions
    (looked up once per execution), None for anything else."""
    owner: dict[str, str | None] = {}

    def key(envelope: EventEnvelope) -> str | None:
        if envelope.type in _DEPLOYMENT_TYPES:
            return "" if envelope.stream_id == deployment else None
        stream = envelope.stream_id
        if stream not in owner:
            row = reader.execution(envelope.tenant_id, UUID(stream))
            owner[stream] = None if row is None else str(row.deployment_id)
        return stream if owner[stream] == deployment else None

    return key


def progress_rows(deployment: str, tenant: str, changed: Changed) -> list[ChangeNotice]:
    """One notice per changed key, as the deployments model publishes them: the payload is
    read again when shown (`DeploymentProgress.read`), so a notice names only the execution."""
    return [
        ChangeNotice(
            tenant,
            DEPLOYMENT_TOPIC,
            deployment,
            position,
            kind,
            {"execution": {"execution_id": key} if key else None},
        )
        for key, position, kind in changed
    ]
