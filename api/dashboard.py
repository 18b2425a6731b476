"""The analytics dashboard operation (`GET /analytics/dashboard`, GraphQL `dashboard`,
docs/analytics.md 20.1), declared once for both wires: a bounded read of the figures the
dashboard projection keeps, for the caller's tenant, as of now. Any role that reads devices
may read it."""

from __future__ import annotations

from datetime import UTC, datetime

from api.auth import Permission
from api.dashboard_view import DashboardPublic
from api.firmware_rows import ReadModelUnavailable
from api.operations import QUERY, Call, GraphQL, Operation, Rest


async def dashboard(call: Call) -> DashboardPublic:
    reader = call.system.dashboard
    if reader is None:
        raise ReadModelUnavailable("the dashboard read model is not running here")
    board = await call.read(reader.dashboard, datetime.now(UTC))
    return DashboardPublic.from_row(board)


OPERATIONS = (
    Operation(
        "dashboard",
        Permission.READ_DEVICES,
        dashboard,
        DashboardPublic,
        rest=Rest(
            "GET",
            "/analytics/dashboard",
            "The tenant's fleet dashboard: devices, alerts, response times, ingest rates",
            etag=False,
        ),
        graphql=GraphQL("dashboard", QUERY),
    ),
)
