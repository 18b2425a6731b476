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
from api.exports import exports_of
from api.graphql.context import Info
from api.graphql.resume import Resume, changes, current_rows, one_by_one
from api.graphql.scalars import Long
from api.operations import parse_id
from event_store.envelope import EventEnvelope
from read_side.exports import EXPORT_TOPIC, progress_data
from read_side.notifications import ChangeNotice
from write_side.exports import EXPORT_EVENTS

parse_export_id = parse_id("an export id")
EXPORT_TYPES = tuple(name.type for name in EXPORT_EVENTS)


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
        self, info: Info, export_id: strawberry.ID, after: str | None = None
    ) -> AsyncGenerator[ExportProgress, None]:
        """Every change of one export from now on; `after` (the `position` of the last change
        received): first its current state if it changed since, then live."""
        caller = info.context.authorize(Permission.EXPORT_DATA)
        key = str(parse_export_id(export_id, "exportId"))
        system = info.context.system

        def keep(notice: ChangeNotice) -> bool:
            return notice.key == key

        def mine(event: EventEnvelope) -> str | None:
            return event.stream_id if event.stream_id == key else None

        def resume() -> Resume:
            read = one_by_one(exports_of(system).reader.get)
            rows = current_rows(EXPORT_TOPIC, read, progress_data)
            return Resume("exports", EXPORT_TYPES, mine, rows)

        notices = changes(system, caller, EXPORT_TOPIC, Permission.EXPORT_DATA, keep, after, resume)
        async with aclosing(notices):
            async for notice in notices:
                yield ExportProgress.of(notice)
