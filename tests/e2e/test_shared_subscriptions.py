"""Shared subscriptions through the served app (issue 14; docs/api.md 13.6): twenty viewers of
one tenant on four connections and an admin subscribe to one device's changes; each change is
executed once per group (viewers; admin) and serialised once per group, and every subscriber
gets every change, the same bytes, in a frame its group wrote onto its connection; at most 100
operations per connection; the server pings, and a client that does not answer is closed with
4408."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from fastapi import FastAPI
from websockets.exceptions import ConnectionClosed

from api.graphql.shared import SharedSubscriptions
from api.graphql.transport import SERIALISED, FleetTransportWSHandler
from fleetwatch.bootstrap import System
from tests.e2e.conftest import Tokens, new_tenant
from tests.e2e.graphql_client import (
    WAIT,
    connect_ws,
    errors_of,
    fanout_of,
    graphql,
    init_frame,
    next_message,
    receive,
    run,
    subscribe,
    until,
    ws_session,
)
from tests.e2e.test_subscriptions import CHANGES, REGISTER, UPDATE


def shared_of(app: FastAPI) -> SharedSubscriptions:
    shared = app.state.shared_subscriptions
    assert isinstance(shared, SharedSubscriptions)
    return shared


def test_one_execution_and_one_serialisation_per_group_for_every_subscriber(
    live_url: str, api_app: FastAPI, api_system: System, tokens: Tokens
) -> None:
    tenant = new_tenant()
    admin = tokens(tenant, "admin")
    viewers = [tokens(tenant, "viewer") for _ in range(4)]  # four users
    shared, fanout = shared_of(api_app), fanout_of(api_system)

    async def scenario() -> None:
        device = await graphql(live_url, admin, REGISTER, input={"name": "d", "deviceType": "t"})
        device_id = device["registerDevice"]["id"]
        variables = {"deviceId": device_id}
        async with (
            ws_session(live_url, {"Authorization": viewers[0]}) as a,
            ws_session(live_url, {"Authorization": viewers[1]}) as b,
            ws_session(live_url, {"Authorization": viewers[2]}) as c,
            ws_session(live_url, {"Authorization": viewers[3]}) as d,
            ws_session(live_url, {"Authorization": admin}) as boss,
        ):
            sockets = [a, b, c, d]
            for ws in sockets:
                for op in range(5):
                    await subscribe(ws, str(op), CHANGES, variables)
            await subscribe(boss, "x", CHANGES, variables)
            await until(lambda: shared.subscribers() >= 21)
            await until(lambda: fanout.subscriber_count(tenant, "device") == 2)  # one per group
            executions, made, written = shared.executions, SERIALISED.made, shared.frames_written
            for version, name in enumerate(("n1", "n2", "n3"), start=1):
                change = {"id": device_id, "name": name, "expectedVersion": version}
                await graphql(live_url, admin, UPDATE, input=change)
            for ws in sockets:
                frames: dict[str, list[Any]] = {str(op): [] for op in range(5)}
                for _ in range(15):
                    message = await next_message(ws)
                    frames[message["id"]].append(message["payload"])
                names = {op: [p["data"]["deviceChanged"]["device"]["name"] for p in got]
                         for op, got in frames.items()}  # fmt: skip
                assert names == {str(op): ["n1", "n2", "n3"] for op in range(5)}
            mine = [(await next_message(boss))["payload"] for _ in range(3)]
            assert [p["data"]["deviceChanged"]["device"]["name"] for p in mine] == [
                "n1",
                "n2",
                "n3",
            ]
            assert shared.executions - executions == 2 * 3  # not 21 * 3
            assert SERIALISED.made - made == 2 * 3
            assert shared.frames_written - written == 21 * 3  # each written by its group
        await until(lambda: fanout.subscriber_count(tenant, "device") == 0)
        assert shared.subscribers() == 0

    run(scenario)


def test_at_most_100_operations_per_connection(live_url: str, tokens: Tokens) -> None:
    async def scenario() -> None:
        async with ws_session(live_url, {"Authorization": tokens(new_tenant(), "viewer")}) as ws:
            for op in range(100):
                await subscribe(ws, str(op), CHANGES, {"deviceId": None})
            await subscribe(ws, "101", CHANGES, {"deviceId": None})
            refused = await receive(ws)
            assert (refused["id"], refused["type"]) == ("101", "error")
            assert errors_of(refused)[0]["message"] == "Subscription limit reached"

    run(scenario)


def test_the_server_pings_and_closes_a_client_that_does_not_answer(
    live_url: str, tokens: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(FleetTransportWSHandler, "ping_seconds", 0.3)
    monkeypatch.setattr(FleetTransportWSHandler, "pong_seconds", 0.5)
    token = tokens(new_tenant(), "viewer")

    async def scenario() -> None:
        async with connect_ws(live_url) as silent:
            await silent.send(init_frame({"Authorization": token}))
            assert json.loads(await silent.recv())["type"] == "connection_ack"
            assert json.loads(await asyncio.wait_for(silent.recv(), WAIT)) == {"type": "ping"}
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(silent.recv(), WAIT)  # never answered
            assert closed.value.rcvd is not None
            assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4408, "pong timeout")
        async with ws_session(live_url, {"Authorization": token}) as polite:
            pings, deadline = 0, asyncio.get_running_loop().time() + 2.5
            while (left := deadline - asyncio.get_running_loop().time()) > 0:
                try:
                    frame = json.loads(await asyncio.wait_for(polite.recv(), left))
                except TimeoutError:
                    break
                assert frame == {"type": "ping"}, frame
                pings += 1
                await polite.send(json.dumps({"type": "pong"}))
            assert pings >= 2  # answered each time: still open
            await subscribe(polite, "1", CHANGES, {"deviceId": None})
            await polite.send(json.dumps({"type": "ping"}))
            assert (await receive(polite))["type"] == "pong"

    run(scenario)
