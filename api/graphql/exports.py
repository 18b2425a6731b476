"""GraphQL subscription `exportProgress(exportId)` (docs/analytics.md 20.5): every change of one
export from now on (`Progressed` with rows and bytes, then `Completed` or `Failed`), fed by the
exports projection's change notices on topic `export` through the one subscription loop
(`api.graphql.notices.tenant_notices`). Each payload is the notice's snapshot of the row;
ask `export(id)` for the link. Notices are at most once: on any end, read and subscribe again."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing

import strawberry

from api.auth import Permission
from api.graphql.context import Info
from api.graphql.notices import tenant_notices
from api.graphql.scalars import Long
from api.operations import parse_id
from read_side.exports import EXPORT_TOPIC
from read_side.notifications import ChangeNotice

parse_export_id = parse_id("an export id")


@strawberry.type
class ExportProgress:
    export_id: strawberry.ID
    event_type: str
    status: str
    rows: Long
    bytes: Long
    reason: str | None
    position: Long

    @classmethod
    def of(cls, notice: ChangeNotice) -> ExportProgress:
        data = notice.data
        return cls(
            export_id=strawberry.ID(notice.key), event_type=notice.event_type,
            status=str(data["status"]), rows=Long(int(data["rows"])),
            bytes=Long(int(data["size_bytes"])), reason=data.get("reason"),
            position=Long(notice.position),
        )  # fmt: skip


@strawberry.type
class ExportSubscription:
    @strawberry.subscription
    async def export_progress(
        self, info: Info, export_id: strawberry.ID
    ) -> AsyncGenerator[ExportProgress, None]:
        """Every change of one export from now on."""
        caller = info.context.authorize(Permission.EXPORT_DATA)
        key = str(parse_export_id(export_id, "exportId"))
        notices = tenant_notices(
            info.context.system, caller, EXPORT_TOPIC, Permission.EXPORT_DATA,
            lambda notice: notice.key == key,
        )  # fmt: skip
        async with aclosing(notices):
            async for notice in notices:
                yield ExportProgress.of(notice)
