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

from collections.abc import AsyncGenerator, Mapping
from contextlib import aclosing
from typing import Any
from uuid import UUID

import strawberry
from anyio import to_thread

from api.auth import Permission
from api.firmware_rows import deployments_reader
from api.graphql.context import Info
from api.graphql.firmware_types import Deployment, Execution
from api.graphql.notices import tenant_notices
from api.graphql.scalars import Long
from api.operations import parse_id
from read_side.deployments.port import DEPLOYMENT_TOPIC, DeploymentsReader
from read_side.notifications import ChangeNotice
from write_side.errors import InvalidInput

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
        """Every change of one deployment and its executions from now on; `after`: a
        `cursor` received before, so a notice already seen is not shown again."""
        caller = info.context.authorize(Permission.READ_FIRMWARE)
        key = str(parse_deployment_id(deployment_id, "deploymentId"))
        seen = _position(after)

        def keep(notice: ChangeNotice) -> bool:
            return notice.key == key and notice.position > seen

        notices = tenant_notices(
            info.context.system, caller, DEPLOYMENT_TOPIC, Permission.READ_FIRMWARE, keep
        )
        reader = deployments_reader(info.context.system)
        async with aclosing(notices):
            async for notice in notices:
                progress = await to_thread.run_sync(DeploymentProgress.read, reader, notice)
                if progress is not None:
                    yield progress


def _position(after: str | None) -> int:
    if after is None:
        return 0
    if not after.isdigit():
        raise InvalidInput("not a cursor of deploymentProgress", "after")
    return int(after)
