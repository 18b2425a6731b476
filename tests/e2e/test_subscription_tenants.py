"""`deviceStatusChanged` and `telemetry(deviceId)` never show one tenant another's devices.

Run twice: on the real in-process fan-out (channels per tenant), and on a fan-out that hands
every notice to every subscriber of its topic, whatever the tenant, so that the resolvers' own
tenant check is all that stands between tenants (the fan-out's channels are tested on their
own in tests/integration/test_fanout.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import suppress
from typing import Any
from uuid import UUID

import pytest

from fleetwatch import system as composition
from fleetwatch.bootstrap import System, build_system
from fleetwatch.settings import Settings
from read_side.fanout_memory import InProcessFanout
from read_side.notifications import ChangeNotice
from tests.e2e.conftest import Tokens, new_tenant
from tests.e2e.graphql_client import (
    errors_of,
    fanout_of,
    graphql,
    receive,
    run,
    subscribe,
    until,
    ws_session,
)
from tests.e2e.test_alerts_api import send
from tests.e2e.test_subscriptions import REGISTER, UPDATE

SUBSCRIPTIONS = {
    "status": "subscription { deviceStatusChanged { eventType device { id } } }",
    "mine": "subscription($id: ID!) { telemetry(deviceId: $id) { deviceId } }",
    "theirs": "subscription($id: ID!) { telemetry(deviceId: $id) { deviceId } }",
}


class CrossTalkFanout(InProcessFanout):
    """A broken fan-out: every notice reaches every local subscriber of its topic."""

    def publish(self, notice: ChangeNotice) -> None:
        for key in self._subscribers.channels():
            if key[1] == notice.topic:
                for stream in self._subscribers.streams(key):
                    stream.offer(notice)


@pytest.fixture(params=["in-process", "cross-talk"])
def api_system(
    request: pytest.FixtureRequest, api_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> Iterator[System]:
    if request.param == "cross-talk":
        monkeypatch.setattr(composition, "build_fanout", lambda _settings: CrossTalkFanout())
    system = build_system(api_settings)
    system.start()
    yield system
    system.close()


def test_another_tenants_device_status_and_telemetry_never_arrive(
    live_url: str, api_system: System, tokens: Tokens
) -> None:
    tenant_a, tenant_b = new_tenant(), new_tenant()
    token_a, token_b = tokens(tenant_a, "operator"), tokens(tenant_b, "operator")
    fanout = fanout_of(api_system)

    async def register(token: str, name: str) -> str:
        created = await graphql(live_url, token, REGISTER, input={"name": name, "deviceType": "t"})
        device_id: str = created["registerDevice"]["id"]
        return device_id

    async def scenario() -> None:
        theirs, mine = await register(token_a, "a1"), await register(token_b, "b1")
        variables = {"status": {}, "mine": {"id": mine}, "theirs": {"id": theirs}}
        got: dict[str, dict[str, Any]] = {}
        async with ws_session(live_url, {"Authorization": token_b}) as ws:
            for op, query in SUBSCRIPTIONS.items():
                await subscribe(ws, op, query, variables[op])
            await until(lambda: fanout.subscriber_count(tenant_b, "device_status") == 1)
            await until(lambda: fanout.subscriber_count(tenant_b, f"telemetry:{mine}") == 1)
            # A's changes come first in the feed, so a leak would be the first thing B hears.
            send(api_system, tenant_a, UUID(theirs), 20.0)
            await graphql(
                live_url, token_a, UPDATE, input={"id": theirs, "expectedVersion": 1, "name": "a2"}
            )
            send(api_system, tenant_b, UUID(mine), 21.0)
            with suppress(TimeoutError):  # one that hears nothing: reported below
                while len(got) < len(SUBSCRIPTIONS):
                    message = await receive(ws)
                    got.setdefault(message["id"], message)

        assert set(got) == set(SUBSCRIPTIONS), got
        assert got["status"]["type"] == "next", got["status"]
        assert got["status"]["payload"]["data"]["deviceStatusChanged"]["device"]["id"] == mine
        assert got["mine"]["payload"] == {"data": {"telemetry": {"deviceId": mine}}}
        assert [e["extensions"]["code"] for e in errors_of(got["theirs"])] == ["NOT_FOUND"]
        assert fanout.subscriber_count(tenant_b, f"telemetry:{theirs}") == 0

    run(scenario)
