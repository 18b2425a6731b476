"""GraphQL subscriptions over a real graphql-transport-ws connection: the app served by uvicorn
on a free 127.0.0.1 port (in-process fan-out), and two API processes sharing one SQLite file
and Redis (only one running projections)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from gql import Client, GraphQLRequest
from gql.transport.websockets import WebsocketsTransport
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from fleetwatch.bootstrap import System
from read_side.notifications import channel_name
from tests.e2e.conftest import TEST_SECRET, Tokens, free_port, new_tenant
from tests.e2e.graphql_client import (
    WAIT,
    complete,
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

CHANGES = """
subscription Changes($deviceId: ID) {
  deviceChanged(deviceId: $deviceId) {
    eventType position device { id name version lifecycle tags }
  }
}"""
REGISTER = """
mutation($input: RegisterDeviceInput!) { registerDevice(input: $input) { id version } }"""
UPDATE = """
mutation($input: UpdateDeviceInput!) { updateDevice(input: $input) { id version } }"""


async def subscribe_changes(ws: ClientConnection, op_id: str, device_id: str | None = None) -> None:
    await subscribe(ws, op_id, CHANGES, {"deviceId": device_id})


async def change(ws: ClientConnection) -> dict[str, Any]:
    result: dict[str, Any] = (await next_message(ws))["payload"]["data"]["deviceChanged"]
    return result


def test_a_subscriber_receives_its_tenants_changes(
    live_url: str, api_system: System, tokens: Tokens
) -> None:
    tenant = new_tenant()
    operator, viewer = tokens(tenant, "operator"), tokens(tenant, "viewer")
    fanout = fanout_of(api_system)

    async def scenario() -> None:
        async with ws_session(live_url, {"Authorization": viewer}) as ws:
            await subscribe_changes(ws, "all")
            await until(lambda: fanout.subscriber_count(tenant, "device") == 1)
            created = (
                await graphql(
                    live_url, operator, REGISTER, input={"name": "tank", "deviceType": "tank"}
                )
            )["registerDevice"]
            first = await change(ws)
            assert first["eventType"] == "Device.Registered"
            assert first["device"] == {
                "id": created["id"],
                "name": "tank",
                "version": 1,
                "lifecycle": "ACTIVE",
                "tags": [],
            }
            await graphql(
                live_url,
                operator,
                UPDATE,
                input={"id": created["id"], "expectedVersion": 1, "tags": ["north"]},
            )
            second = await change(ws)
            assert (second["eventType"], second["device"]["version"]) == ("Device.Updated", 2)
            assert second["device"]["tags"] == ["north"]
            assert second["position"] > first["position"]

    run(scenario)


def test_a_device_id_narrows_the_subscription(
    live_url: str, api_system: System, tokens: Tokens
) -> None:
    tenant = new_tenant()
    operator = tokens(tenant, "operator")
    fanout = fanout_of(api_system)

    async def scenario() -> None:
        ids = [
            (await graphql(live_url, operator, REGISTER, input={"name": n, "deviceType": "t"}))[
                "registerDevice"
            ]["id"]
            for n in ("one", "two")
        ]
        async with ws_session(live_url, {"token": operator.removeprefix("Bearer ")}) as ws:
            await subscribe_changes(ws, "only-two", device_id=ids[1])
            await until(lambda: fanout.subscriber_count(tenant, "device") == 1)
            for device_id in ids:
                await graphql(
                    live_url,
                    operator,
                    UPDATE,
                    input={"id": device_id, "expectedVersion": 1, "name": "renamed"},
                )
            got = await change(ws)
            assert got["device"]["id"] == ids[1]

    run(scenario)


def test_another_tenants_changes_never_arrive(
    live_url: str, api_system: System, tokens: Tokens
) -> None:
    tenant_a, tenant_b = new_tenant(), new_tenant()
    token_a, token_b = tokens(tenant_a, "admin"), tokens(tenant_b, "admin")
    fanout = fanout_of(api_system)

    async def scenario() -> None:
        async with ws_session(live_url, {"Authorization": token_b}) as ws:
            await subscribe_changes(ws, "b")
            await until(lambda: fanout.subscriber_count(tenant_b, "device") == 1)
            for name in ("a1", "a2"):
                await graphql(live_url, token_a, REGISTER, input={"name": name, "deviceType": "t"})
            await graphql(live_url, token_b, REGISTER, input={"name": "b1", "deviceType": "t"})
            got = await change(ws)  # the first thing B hears about is B's own device
            assert got["device"]["name"] == "b1"
            with pytest.raises(TimeoutError):
                await receive(ws, within=0.3)

    run(scenario)


def test_closing_a_subscription_or_the_socket_unsubscribes(
    live_url: str, api_system: System, tokens: Tokens
) -> None:
    tenant = new_tenant()
    token = tokens(tenant, "viewer")
    fanout = fanout_of(api_system)

    async def scenario() -> None:
        async with ws_session(live_url, {"Authorization": token}) as ws:
            await subscribe_changes(ws, "1")
            await subscribe_changes(ws, "2")  # the same: one execution for both (shared)
            await subscribe_changes(ws, "3", str(uuid.uuid4()))  # another: its own
            await until(lambda: fanout.subscriber_count(tenant, "device") == 2)
            await complete(ws, "3")
            await until(lambda: fanout.subscriber_count(tenant, "device") == 1)
            await complete(ws, "1")  # "2" is still there
            await asyncio.sleep(0.2)
            assert fanout.subscriber_count(tenant, "device") == 1
        await until(lambda: fanout.subscriber_count(tenant, "device") == 0)

    run(scenario)


@pytest.mark.parametrize(
    "init",
    [{}, {"Authorization": "Bearer nonsense"}, {"token": ""}, {"Authorization": "Basic eDp5"}],
)
def test_a_connection_without_a_valid_token_is_refused(live_url: str, init: dict[str, Any]) -> None:
    async def scenario() -> None:
        async with connect_ws(live_url) as ws:
            await ws.send(init_frame(init))
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), WAIT)
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 4403

    run(scenario)


def test_an_expired_token_is_refused(live_url: str, tokens: Tokens) -> None:
    async def scenario() -> None:
        async with connect_ws(live_url) as ws:
            init = {"Authorization": tokens(new_tenant(), "admin", ttl=-300)}
            await ws.send(init_frame(init))
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), WAIT)
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 4403

    run(scenario)


def test_the_legacy_graphql_ws_protocol_is_not_offered(live_url: str) -> None:
    async def scenario() -> None:
        async with connect_ws(live_url, "graphql-ws") as ws:
            assert ws.subprotocol is None
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), WAIT)
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 4406

    run(scenario)


def test_a_caller_without_the_read_permission_gets_forbidden(live_url: str, tokens: Tokens) -> None:
    async def scenario() -> None:
        async with ws_session(live_url, {"Authorization": tokens(new_tenant())}) as ws:
            await subscribe_changes(ws, "x")
            message = await receive(ws)
            assert message["type"] in {"next", "error"}
            assert errors_of(message)[0]["extensions"]["code"] == "FORBIDDEN"

    run(scenario)


def test_a_malformed_device_id_is_bad_user_input(live_url: str, tokens: Tokens) -> None:
    async def scenario() -> None:
        async with ws_session(live_url, {"Authorization": tokens(new_tenant(), "viewer")}) as ws:
            await subscribe_changes(ws, "x", device_id="device-7")
            message = await receive(ws)
            assert errors_of(message)[0]["extensions"] == {
                "code": "BAD_USER_INPUT",
                "field": "deviceId",
            }

    run(scenario)


# Two API processes, one SQLite file, one Redis.


def start_api(
    tmp_path: Path, name: str, port: int, redis_url: str, projections: bool
) -> subprocess.Popen[bytes]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("FLEETWATCH_")}
    env |= {
        "FLEETWATCH_STORE": "sqlite",
        "FLEETWATCH_SQLITE_PATH": str(tmp_path / "shared.sqlite3"),
        "FLEETWATCH_REDIS_URL": redis_url,
        "FLEETWATCH_JWT_SECRET": TEST_SECRET,
        "FLEETWATCH_RUN_PROJECTIONS": "true" if projections else "false",
    }
    env.pop("REDIS_URL", None)
    cli = Path(sys.executable).parent / "fleetwatch"
    log = (tmp_path / f"{name}.log").open("wb")
    return subprocess.Popen(
        [str(cli), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def wait_healthy(base: str, process: subprocess.Popen[bytes], timeout: float = 90) -> None:
    # Generous: a process starts in ~3 s on a quiet machine, but importing the app alone took
    # 10-19 s on a 2-core machine at load 10, and a slow start is not what this test is about.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"API process on {base} exited"
        try:
            if httpx.get(f"http://{base}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"API process on {base} did not become healthy")


ApiProcess = tuple[str, subprocess.Popen[bytes]]


@pytest.fixture
def api_pair(tmp_path: Path, redis_url: str) -> Iterator[tuple[ApiProcess, ApiProcess]]:
    """(with projections, without projections): two API processes, base URL and process."""
    ports = free_port(), free_port()
    processes = [
        start_api(tmp_path, "api-a", ports[0], redis_url, projections=True),
        start_api(tmp_path, "api-b", ports[1], redis_url, projections=False),
    ]
    try:
        bases = [f"127.0.0.1:{port}" for port in ports]
        for base, process in zip(bases, processes, strict=True):
            wait_healthy(base, process)
        yield (bases[0], processes[0]), (bases[1], processes[1])
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    for name in ("api-a", "api-b"):
        assert b"Traceback" not in (tmp_path / f"{name}.log").read_bytes(), name


@pytest.fixture
def two_apis(api_pair: tuple[ApiProcess, ApiProcess]) -> tuple[str, str]:
    """(with projections, without projections): base URLs of two API processes."""
    return api_pair[0][0], api_pair[1][0]


def test_a_change_made_through_one_api_process_reaches_subscribers_of_both(
    two_apis: tuple[str, str], redis_url: str, tokens: Tokens
) -> None:
    with_projections, without_projections = two_apis
    tenant = new_tenant()
    token = tokens(tenant, "operator")
    probe = redis.Redis.from_url(redis_url)
    channel = channel_name(tenant, "device")

    async def listen(base: str, received: asyncio.Queue[dict[str, Any]]) -> None:
        transport = WebsocketsTransport(
            url=f"ws://{base}/graphql",
            subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
            init_payload={"Authorization": token},
        )
        async with Client(transport=transport) as session:
            async for result in session.subscribe(GraphQLRequest(CHANGES)):
                await received.put(result["deviceChanged"])

    async def scenario() -> None:
        queues: list[asyncio.Queue[dict[str, Any]]] = [asyncio.Queue(), asyncio.Queue()]
        listeners = [
            asyncio.create_task(listen(base, queue))
            for base, queue in zip((with_projections, without_projections), queues, strict=True)
        ]
        try:
            # Both processes have subscribed to the tenant's channel on Redis.
            await until(lambda: int(probe.pubsub_numsub(channel)[0][1]) == 2, within=10)
            created = (
                await graphql(
                    with_projections, token, REGISTER, input={"name": "far", "deviceType": "t"}
                )
            )["registerDevice"]
            # Served by the process without projections: it waits for the other's projection.
            updated = (
                await graphql(
                    without_projections,
                    token,
                    UPDATE,
                    input={"id": created["id"], "expectedVersion": 1, "name": "farther"},
                )
            )["updateDevice"]
            assert updated["version"] == 2
            for queue in queues:
                first = await asyncio.wait_for(queue.get(), WAIT)
                second = await asyncio.wait_for(queue.get(), WAIT)
                assert (first["eventType"], first["device"]["id"]) == (
                    "Device.Registered",
                    created["id"],
                )
                assert (second["eventType"], second["device"]["name"]) == (
                    "Device.Updated",
                    "farther",
                )
        finally:
            for task in listeners:
                task.cancel()
            await asyncio.gather(*listeners, return_exceptions=True)

    try:
        run(scenario)
    finally:
        probe.close()
