"""Every subscription takes the one loop (`api.graphql.notices.tenant_notices`), and a client
that stops one (graphql-transport-ws `complete`) makes the server let go of its fan-out
subscription at once, the socket still open."""

from __future__ import annotations

from fleetwatch.bootstrap import System
from tests.e2e.conftest import Tokens, new_tenant
from tests.e2e.graphql_client import complete, fanout_of, run, subscribe, until, ws_session
from tests.e2e.test_alerts_api import register
from tests.e2e.test_subscription_expiry import SUBSCRIPTIONS


def test_a_stopped_subscription_releases_its_fanout_subscription(
    live_url: str, api_system: System, tokens: Tokens
) -> None:
    tenant = new_tenant()
    viewer = tokens(tenant, "viewer")
    fanout = fanout_of(api_system)
    pump = register(api_system, tenant)
    topics = {op: f"telemetry:{pump}" if op == "telemetry" else op for op in SUBSCRIPTIONS}

    async def scenario() -> None:
        async with ws_session(live_url, {"Authorization": viewer}) as ws:
            for op, query in SUBSCRIPTIONS.items():
                await subscribe(ws, op, query, {"id": str(pump)})
            for topic in topics.values():
                await until(lambda t=topic: fanout.subscriber_count(tenant, t) == 1)
            for op in SUBSCRIPTIONS:
                await complete(ws, op)
            for topic in topics.values():
                await until(lambda t=topic: fanout.subscriber_count(tenant, t) == 0)

    run(scenario)
