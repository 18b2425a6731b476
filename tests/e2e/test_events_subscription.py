"""The auditors' live trail (docs/api.md 13.6): GraphQL `events` as a subscription over
graphql-transport-ws. Every event of the tenant in feed order from the cursor on, exactly what
the `events` query lists; a subscriber that comes back with its last cursor gets everything it
missed, then live events; another tenant's never arrive; the subscription is recorded as a read
of the trail under the auditor's name; bad input and missing permission are typed errors. And
across two API processes over one SQLite file: the process serving the subscriber is killed
(-9) while changes keep coming through the other; resumed there with the last cursor, nothing
is missed and nothing repeated."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

from tests.e2e.conftest import Tokens, new_tenant
from tests.e2e.graphql_client import (
    WAIT,
    errors_of,
    graphql,
    next_message,
    receive,
    run,
    subscribe,
    ws_session,
)
from tests.e2e.test_resumed_subscriptions import Renaming, register, rename
from tests.e2e.test_subscriptions import ApiProcess
from tests.e2e.test_subscriptions import api_pair as api_pair  # noqa: PLC0414 - a fixture

FOLLOW = """subscription($after: String, $streamId: ID) {
  events(after: $after, streamId: $streamId) { cursor position type streamId actor }
}"""
FOLLOWED = "events.subscribe"  # the operation a subscription is recorded as
HISTORY = """query($after: String) {
  events(after: $after, first: 1000) { edges { node { cursor type streamId } } headPosition }
}"""
READS = """query {
  events(types: ["TrailRead.Recorded"], first: 100) { edges { node { actor payload } } }
}"""


async def history(base: str, token: str, after: str) -> list[tuple[str, str, str]]:
    page = (await graphql(base, token, HISTORY, after=after))["events"]
    return [(e["node"]["cursor"], e["node"]["type"], e["node"]["streamId"]) for e in page["edges"]]


async def head(base: str, token: str) -> str:
    return str((await graphql(base, token, HISTORY, after="0"))["events"]["headPosition"])


def shown(event: dict[str, Any]) -> tuple[str, str, str]:
    return event["cursor"], event["type"], event["streamId"]


def test_an_auditor_follows_the_trail_and_resumes_where_it_left_off(
    live_url: str, tokens: Tokens
) -> None:
    tenant = new_tenant()
    operator, auditor = tokens(tenant, "operator"), tokens(tenant, "auditor")
    stranger = tokens(new_tenant(), "operator")

    async def scenario() -> None:
        one = await register(live_url, operator, "one")  # before the cursor: not shown
        start = await head(live_url, auditor)
        async with ws_session(live_url, {"Authorization": auditor}) as ws:
            await subscribe(ws, "1", FOLLOW, {"after": start})
            await rename(live_url, operator, one, "one-b")
            await register(live_url, stranger, "theirs")  # another tenant's: never shown
            two = await register(live_url, operator, "two")
            got = [(await next_message(ws))["payload"]["data"]["events"] for _ in range(2)]
        assert [shown(e) for e in got] == await history(live_url, auditor, start)
        assert [e["type"] for e in got] == ["Device.Updated", "Device.Registered"]
        assert [e["streamId"] for e in got] == [one["id"], two["id"]]
        assert {e["actor"] for e in got} == {got[0]["actor"]} != {""}
        assert [int(e["cursor"]) for e in got] == [e["position"] for e in got]
        cursor = got[-1]["cursor"]
        # While away: three changes. Back with the last cursor: exactly those, then live.
        await rename(live_url, operator, two, "two-b")
        await rename(live_url, operator, one, "one-c")
        three = await register(live_url, operator, "three")
        async with ws_session(live_url, {"Authorization": auditor}) as ws:
            await subscribe(ws, "1", FOLLOW, {"after": cursor})
            missed = [(await next_message(ws))["payload"]["data"]["events"] for _ in range(3)]
            await rename(live_url, operator, three, "three-b")
            live = (await next_message(ws))["payload"]["data"]["events"]
            # One stream's events only, from the same cursor.
            await subscribe(ws, "2", FOLLOW, {"after": cursor, "streamId": one["id"]})
            only = (await next_message(ws))["payload"]["data"]["events"]
        assert [shown(e) for e in [*missed, live]] == await history(live_url, auditor, cursor)
        assert [e["streamId"] for e in missed] == [two["id"], one["id"], three["id"]]
        assert (live["type"], live["streamId"]) == ("Device.Updated", three["id"])
        positions = [int(cursor)] + [e["position"] for e in [*missed, live]]
        assert positions == sorted(set(positions))  # in feed order, nothing twice
        assert (only["streamId"], only["cursor"]) == (one["id"], missed[1]["cursor"])
        reads = (await graphql(live_url, auditor, READS))["events"]["edges"]
        follows = [r["node"] for r in reads if r["node"]["payload"]["operation"] == FOLLOWED]
        assert len(follows) == 3  # each subscription, under the auditor's own name
        readers = {f["actor"] for f in follows}
        assert len(readers) == 1
        assert readers.pop().startswith("user:")
        assert follows[0]["actor"] != got[0]["actor"]  # the auditor's, not the operator's
        assert [f["payload"]["criteria"].get("after") for f in follows] == [start, cursor, cursor]

    run(scenario, within=60)


def test_bad_input_and_a_caller_without_the_permission_are_refused(
    live_url: str, tokens: Tokens
) -> None:
    tenant = new_tenant()

    async def scenario() -> None:
        async with ws_session(live_url, {"Authorization": tokens(tenant, "operator")}) as ws:
            await subscribe(ws, "1", FOLLOW, {})
            assert errors_of(await receive(ws))[0]["extensions"]["code"] == "FORBIDDEN"
        async with ws_session(live_url, {"Authorization": tokens(tenant, "auditor")}) as ws:
            for op_id, variables, field in (
                ("2", {"after": "yesterday"}, "after"),
                ("3", {"streamId": "not-a-uuid"}, "streamId"),
            ):
                await subscribe(ws, op_id, FOLLOW, variables)
                errors = errors_of(await receive(ws))
                assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT", errors
                assert errors[0]["extensions"]["field"] == field, errors
                assert await receive(ws) == {"id": op_id, "type": "complete"}

    run(scenario)


def test_killed_api_process_resumed_on_the_other(
    api_pair: tuple[ApiProcess, ApiProcess], tokens: Tokens
) -> None:
    (writer, _), (server, killed) = api_pair  # the subscriber's (without projections) is killed
    tenant = new_tenant()
    operator, auditor = tokens(tenant, "operator"), tokens(tenant, "auditor")

    async def scenario() -> None:
        device = await register(writer, operator, "n0")
        start = await head(writer, auditor)
        received: list[dict[str, Any]] = []
        changes = Renaming(writer, operator, device)  # through the other process
        try:
            async with ws_session(server, {"Authorization": auditor}) as ws:
                await subscribe(ws, "1", FOLLOW, {"after": start})
                while len(received) < 5:
                    received.append((await next_message(ws))["payload"]["data"]["events"])
                killed.send_signal(signal.SIGKILL)
                killed.wait(10)
        except Exception:  # the connection ends with the process
            pass
        await asyncio.sleep(0.5)  # changes made while nobody listened
        async with ws_session(writer, {"Authorization": auditor}) as ws:
            cursor = received[-1]["cursor"]
            await subscribe(ws, "1", FOLLOW, {"after": cursor})
            resumed = [(await next_message(ws))["payload"]["data"]["events"]]
            await changes.stop()
            last = device["version"]  # the device's last version: its event must arrive
            while len(received) + len(resumed) < last - 1:
                resumed.append((await next_message(ws, WAIT))["payload"]["data"]["events"])
        everything = await history(writer, auditor, start)
        assert [shown(e) for e in received + resumed] == everything  # none missed, none twice
        assert len(everything) == last - 1  # every rename since the cursor

    run(scenario, within=60)
