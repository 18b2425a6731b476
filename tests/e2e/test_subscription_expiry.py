"""A subscription outlives no token (docs/api.md section 13.1): every subscription re-checks
the caller on each event, so the first event after the token expired ends it with
UNAUTHENTICATED and the server lets go of its fan-out subscription."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import suppress
from typing import Any

import jwt

from api.auth import LEEWAY_SECONDS
from event_store.envelope import EventMetadata
from fleetwatch.bootstrap import System
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
from tests.e2e.test_alerts_api import CREATE_RULE, HOT, register, send
from write_side.commands import UpdateDevice

# One subscription of each kind, all on the same device.
SUBSCRIPTIONS = {
    "device": "subscription($id: ID) { deviceChanged(deviceId: $id) { eventType } }",
    "device_status": "subscription($id: ID) { deviceStatusChanged(deviceId: $id) { eventType } }",
    "telemetry": "subscription($id: ID!) { telemetry(deviceId: $id) { position } }",
    "alert": "subscription($id: ID) { alertChanged(deviceId: $id) { transition } }",
}
VALID_FOR_S = 10  # from issuing the token until the server refuses it: the first round fits
# (5 s was passed by 0.3 s once, in a CI run with four test workers on two cores)


def refused_after(token: str) -> float:
    """When the server starts refusing `token`: its `exp` plus the clock-skew leeway."""
    claims = jwt.decode(token.removeprefix("Bearer "), options={"verify_signature": False})
    return float(claims["exp"]) + LEEWAY_SECONDS


def test_every_subscription_ends_unauthenticated_once_its_token_expires(
    live_url: str, api_system: System, tokens: Tokens
) -> None:
    tenant = new_tenant()
    admin = tokens(tenant, "admin")
    meta = EventMetadata(tenant, "user:admin")
    fanout = fanout_of(api_system)
    pump = register(api_system, tenant)
    topics = {op: f"telemetry:{pump}" if op == "telemetry" else op for op in SUBSCRIPTIONS}

    def change(name: str, temp: float) -> None:
        """One event for each subscription: a registry change, and a reading that raises or
        clears the alert (with the status change both cause)."""
        device = api_system.device_service.get(tenant, pump)
        api_system.device_service.update(
            UpdateDevice(device_id=pump, expected_version=device.version, name=name), meta
        )
        send(api_system, tenant, pump, temp)

    async def scenario() -> None:
        await graphql(live_url, admin, CREATE_RULE, input={"definition": HOT})
        viewer = tokens(tenant, "viewer", ttl=VALID_FOR_S - LEEWAY_SECONDS)
        deadline = refused_after(viewer)
        received: dict[str, list[dict[str, Any]]] = {op: [] for op in SUBSCRIPTIONS}

        async def until_each(done: Callable[[list[dict[str, Any]]], bool]) -> None:
            while not all(done(messages) for messages in received.values()):
                message = await receive(ws)
                received[message["id"]].append(message)

        async with ws_session(live_url, {"Authorization": viewer}) as ws:
            for op, query in SUBSCRIPTIONS.items():
                await subscribe(ws, op, query, {"id": str(pump)})
            for topic in topics.values():
                await until(lambda t=topic: fanout.subscriber_count(tenant, t) == 1)

            change("before", 85.0)  # raises the alert
            await until_each(lambda messages: len(messages) > 0)
            assert time.time() < deadline, "the first round came after the token expired"
            for op, messages in received.items():
                assert messages[0]["type"] == "next", (op, messages[0])
                assert "errors" not in messages[0]["payload"], (op, messages[0])

            await until(lambda: time.time() > deadline, within=VALID_FOR_S + 2)
            change("after", 70.0)  # clears the alert
            with suppress(TimeoutError):  # a subscription that did not end: reported below
                await until_each(lambda messages: messages[-1]["type"] != "next")
            ends = {op: _ending(messages) for op, messages in received.items()}
            assert ends == {op: ["UNAUTHENTICATED"] for op in SUBSCRIPTIONS}, received
            for topic in topics.values():  # released by the server, the socket still open
                await until(lambda t=topic: fanout.subscriber_count(tenant, t) == 0)

    run(scenario)


def _ending(messages: list[dict[str, Any]]) -> list[str] | str:
    """The error codes a subscription ended with (graphql-transport-ws: a `next` with errors,
    then `complete`; or one `error`); a description when it did not end that way."""
    if messages[-1]["type"] == "error":
        return [e["extensions"]["code"] for e in errors_of(messages[-1])]
    if messages[-1]["type"] != "complete" or len(messages) < 2:
        return f"did not end: {messages[-1]['type']}"
    errors = messages[-2]["payload"].get("errors") or []
    return [e["extensions"]["code"] for e in errors]
