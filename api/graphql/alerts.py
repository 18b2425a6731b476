"""GraphQL subscription `alertChanged` (the alerts slice's queries and mutations are operations
of its table, `api.alerts`).

`alertChanged` is fed by the alerts projection's change notices, published after its rows
commit; notices are at most once, so on any end, re-read and subscribe again."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing

import strawberry

from api.auth import Permission
from api.device_view import Severity
from api.graphql.alert_types import AlertChange
from api.graphql.context import Info
from api.graphql.resume import Resume, changes, current_rows, one_by_one, stream_key
from api.operations import parse_id
from read_side.alerts import ALERT_TOPIC, to_record
from read_side.notifications import ChangeNotice
from write_side.alert_rules import SEVERITY_RANK
from write_side.alerts import ALERT_EVENTS

parse_any_id = parse_id("an id")
ALERT_TYPES = tuple(name.type for name in ALERT_EVENTS)


@strawberry.type
class AlertSubscription:
    @strawberry.subscription
    async def alert_changed(
        self,
        info: Info,
        severity: Severity | None = None,
        device_id: strawberry.ID | None = None,
        after: str | None = None,
    ) -> AsyncGenerator[AlertChange, None]:
        """Every change to the tenant's alerts from now on; `severity`: this severity or
        higher; `deviceId`: one device's alerts only; `after` (the `position` of the last
        change received): first the current state of each alert changed since, once, in the
        order of their last change, then live (RESUME_TOO_OLD past 50,000 events)."""
        caller = info.context.authorize(Permission.READ_ALERTS)
        device = None if device_id is None else str(parse_any_id(device_id, "deviceId"))
        lowest = 0 if severity is None else SEVERITY_RANK[severity.value]

        def keep(notice: ChangeNotice) -> bool:
            data = notice.data
            return device in (None, data.get("device_id")) and (
                SEVERITY_RANK.get(str(data.get("severity")), 0) >= lowest
            )

        system = info.context.system

        def resume() -> Resume:
            rows = current_rows(ALERT_TOPIC, one_by_one(system.alerts.get_alert), to_record)
            return Resume("alerts", ALERT_TYPES, stream_key, rows)

        notices = changes(system, caller, ALERT_TOPIC, Permission.READ_ALERTS, keep, after, resume)
        async with aclosing(notices):
            async for notice in notices:
                yield AlertChange.from_notice(notice)
