"""Resumable subscriptions (issue 14; docs/api.md 13.6): `deviceChanged(after: <position>)`
sends the current state of each device changed since, in the order of their last change, then
continues live, nothing missed and nothing twice; in one process, and across two API processes
over Redis when the one serving the subscriber is killed (-9) while changes keep coming."""

from __future__ import annotations

import asyncio
import signal
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from api.graphql import resume
from event_store.envelope import EventMetadata
from fleetwatch.bootstrap import System
from tests.e2e.conftest import Tokens, new_tenant
from tests.e2e.graphql_client import (
    WAIT,
    errors_of,
    fanout_of,
    graphql,
    next_message,
    receive,
    run,
    subscribe,
    until,
    ws_session,
)
from tests.e2e.test_alerts_api import register as register_device
from tests.e2e.test_alerts_api import send
from tests.e2e.test_exports_api import api_settings as api_settings  # noqa: PLC0414 - blobs
from tests.e2e.test_subscriptions import REGISTER, UPDATE, ApiProcess
from tests.e2e.test_subscriptions import api_pair as api_pair  # noqa: PLC0414 - a fixture
from tests.e2e.test_telemetry_api import save_alert
from write_side.alerts import Alert
from write_side.export_service import RequestExport
from write_side.exports import ExportFormat, ExportKind, ExportStatus

RESUMABLE = """subscription($deviceId: ID, $after: String) {
  deviceChanged(deviceId: $deviceId, after: $after) { eventType position device { id name } }
}"""


async def rename(base: str, token: str, device: dict[str, Any], name: str) -> None:
    change = {"id": device["id"], "name": name, "expectedVersion": device["version"]}
    done = await graphql(base, token, UPDATE, input=change)
    device["version"] = done["updateDevice"]["version"]


async def register(base: str, token: str, name: str) -> dict[str, Any]:
    done = await graphql(base, token, REGISTER, input={"name": name, "deviceType": "t"})
    created: dict[str, Any] = done["registerDevice"]
    return created


class Renaming:
    """Renames `device` through `base` every 20 ms, changes that keep coming, until `stop`."""

    def __init__(self, base: str, token: str, device: dict[str, Any]) -> None:
        self.base, self.token, self.device = base, token, device
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        names = iter(range(1, 10_000))
        while not self._stop.is_set():
            await rename(self.base, self.token, self.device, f"n{next(names)}")
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        """Stop after the rename under way; the device's `version` is then its last."""
        self._stop.set()
        await self._task


def test_a_subscriber_resumes_where_it_left_off(
    live_url: str, api_system: System, tokens: Tokens
) -> None:
    tenant = new_tenant()
    token = tokens(tenant, "operator")

    async def scenario() -> None:
        one = await register(live_url, token, "one")
        two = await register(live_url, token, "two")
        async with ws_session(live_url, {"Authorization": token}) as ws:
            await subscribe(ws, "1", RESUMABLE, {})
            await until(lambda: fanout_of(api_system).subscriber_count(tenant, "device") == 1)
            await rename(live_url, token, one, "one-b")
            seen = (await next_message(ws))["payload"]["data"]["deviceChanged"]
        cursor = seen["position"]
        # While away: one renamed twice, two once, a third registered.
        await rename(live_url, token, one, "one-c")
        await rename(live_url, token, two, "two-b")
        await rename(live_url, token, one, "one-d")
        three = await register(live_url, token, "three")
        async with (
            ws_session(live_url, {"Authorization": token}) as ws,
            ws_session(live_url, {"Authorization": token}) as twin,
        ):
            await subscribe(ws, "1", RESUMABLE, {"after": str(cursor)})
            got = [(await next_message(ws))["payload"]["data"]["deviceChanged"] for _ in range(3)]
            # The same cursor, the same tenant and role: its own backfill (never shared).
            await subscribe(twin, "1", RESUMABLE, {"after": str(cursor)})
            again = [
                (await next_message(twin))["payload"]["data"]["deviceChanged"] for _ in range(3)
            ]
            assert again == got
            assert [(c["device"]["id"], c["device"]["name"]) for c in got] == [
                (two["id"], "two-b"),
                (one["id"], "one-d"),
                (three["id"], "three"),
            ]  # fmt: skip  (in the order of their last change, each once)
            await rename(live_url, token, two, "two-c")  # then live
            live = (await next_message(ws))["payload"]["data"]["deviceChanged"]
            assert live["device"]["name"] == "two-c"
            positions = [cursor] + [c["position"] for c in got] + [live["position"]]
            assert positions == sorted(set(positions))  # nothing twice
            await subscribe(ws, "bad", RESUMABLE, {"after": "yesterday"})
            refused = await receive(ws)
            assert errors_of(refused)[0]["extensions"]["code"] == "BAD_USER_INPUT"

    run(scenario)


def test_killed_api_process_resumed_on_the_other(
    api_pair: tuple[ApiProcess, ApiProcess], tokens: Tokens
) -> None:
    (writer, _), (server, killed) = api_pair  # the subscriber's (without projections) is killed
    token = tokens(new_tenant(), "operator")

    async def scenario() -> None:
        device = await register(writer, token, "n0")
        received: list[dict[str, Any]] = []
        changes = Renaming(writer, token, device)  # through the other process
        try:
            async with ws_session(server, {"Authorization": token}) as ws:
                await subscribe(ws, "1", RESUMABLE, {"deviceId": device["id"]})
                while len(received) < 5:
                    received.append((await next_message(ws))["payload"]["data"]["deviceChanged"])
                killed.send_signal(signal.SIGKILL)
                killed.wait(10)
        except Exception:
            pass
        await asyncio.sleep(0.5)  # changes made while nobody listened
        async with ws_session(writer, {"Authorization": token}) as ws:
            cursor = received[-1]["position"]
            await subscribe(ws, "1", RESUMABLE, {"deviceId": device["id"], "after": str(cursor)})
            resumed = [(await next_message(ws))["payload"]["data"]["deviceChanged"]]
            await changes.stop()
            final = f"n{device['version'] - 1}"
            while resumed[-1]["device"]["name"] != final:
                resumed.append((await next_message(ws, WAIT))["payload"]["data"]["deviceChanged"])
        positions = [c["position"] for c in received + resumed]
        assert positions == sorted(set(positions)), positions  # nothing twice, in order
        assert resumed[0]["position"] > cursor
        assert resumed[-1]["device"]["name"] == final  # nothing missed: the last state arrived

    run(scenario, within=60)


ALERTS = """subscription($after: String) {
  alertChanged(after: $after) { transition position alert { id state } }
}"""


def test_an_alert_subscriber_resumes_too(live_url: str, api_system: System, tokens: Tokens) -> None:
    tenant = new_tenant()
    token = tokens(tenant, "viewer")
    device = register_device(api_system, tenant)

    def alert(episode: int) -> Alert:
        return Alert.open(
            tenant_id=tenant, rule_id=uuid.uuid4(), rule_revision=1, device_id=device,
            episode=episode, severity="warning", value=1.0, at=datetime.now(UTC),
        )  # fmt: skip

    async def scenario() -> None:
        first = alert(1)
        async with ws_session(live_url, {"Authorization": token}) as ws:
            await subscribe(ws, "1", ALERTS, {})
            await until(lambda: fanout_of(api_system).subscriber_count(tenant, "alert") == 1)
            await asyncio.to_thread(save_alert, api_system, tenant, first)
            cursor = (await next_message(ws))["payload"]["data"]["alertChanged"]["position"]
        first.acknowledge("user:op", datetime.now(UTC))
        await asyncio.to_thread(save_alert, api_system, tenant, first)
        second = alert(2)
        await asyncio.to_thread(save_alert, api_system, tenant, second)
        first.resolve("user:op", datetime.now(UTC))
        await asyncio.to_thread(save_alert, api_system, tenant, first)
        async with ws_session(live_url, {"Authorization": token}) as ws:
            await subscribe(ws, "1", ALERTS, {"after": str(cursor)})
            got = [(await next_message(ws))["payload"]["data"]["alertChanged"] for _ in range(2)]
            assert [(c["alert"]["id"], c["alert"]["state"]) for c in got] == [
                (str(second.id), "OPEN"),
                (str(first.id), "RESOLVED"),
            ]  # fmt: skip  (each once, in the order of their last change)
            second.acknowledge("user:op", datetime.now(UTC))
            await asyncio.to_thread(save_alert, api_system, tenant, second)
            live = (await next_message(ws))["payload"]["data"]["alertChanged"]
            assert (live["alert"]["id"], live["alert"]["state"]) == (str(second.id), "ACKNOWLEDGED")
            positions = [cursor] + [c["position"] for c in [*got, live]]
            assert positions == sorted(set(positions))

    run(scenario)


PROGRESS = """subscription($id: ID!, $after: String) {
  exportProgress(exportId: $id, after: $after) { status rows position } }"""


def test_an_export_followed_after_it_ended_shows_its_end(
    live_url: str, api_system: System, tokens: Tokens
) -> None:
    assert api_system.exports is not None
    api_system.workers["exporter"].stop()  # the job runs here, before anyone subscribes
    tenant = new_tenant()
    token = tokens(tenant, "operator")
    start = datetime.now(UTC) - timedelta(hours=1)
    command = RequestExport(ExportKind.EVENTS, ExportFormat.CSV, start, start + timedelta(hours=2))
    export = api_system.exports.service.request(command, EventMetadata(tenant, "user:op"))
    done = api_system.exports.exporter.run(tenant, export.aggregate.id)
    assert done.status is ExportStatus.COMPLETED
    assert api_system.wait_for(api_system.app.recorder.max_notification_id() or 0, 10)

    async def scenario() -> None:
        async with ws_session(live_url, {"Authorization": token}) as ws:
            await subscribe(ws, "1", PROGRESS, {"id": str(done.id), "after": "0"})
            shown = (await next_message(ws))["payload"]["data"]["exportProgress"]
            assert (shown["status"], shown["rows"]) == ("COMPLETED", done.rows)
            with pytest.raises(TimeoutError):  # once: its last state, nothing more
                await receive(ws, within=0.5)

    run(scenario)


STATUS = """subscription($id: ID, $after: String) {
  deviceStatusChanged(deviceId: $id, after: $after) {
    eventType position device { id openAlertCount } } }"""


def test_a_status_subscriber_resumes_across_telemetry_and_alerts(
    live_url: str, api_system: System, tokens: Tokens
) -> None:
    tenant = new_tenant()
    token = tokens(tenant, "viewer")
    device = register_device(api_system, tenant)
    other = register_device(api_system, tenant)

    async def scenario() -> None:
        async with ws_session(live_url, {"Authorization": token}) as ws:
            await subscribe(ws, "1", STATUS, {})
            await until(
                lambda: fanout_of(api_system).subscriber_count(tenant, "device_status") == 1
            )
            await asyncio.to_thread(send, api_system, tenant, device, 20.0)
            cursor = (await next_message(ws))["payload"]["data"]["deviceStatusChanged"]["position"]
        # While away: the other device reports, then an alert on the first is raised and
        # acknowledged (an event that names no device: its alert's device is looked up).
        await asyncio.to_thread(send, api_system, tenant, other, 21.0)
        alert = Alert.open(
            tenant_id=tenant, rule_id=uuid.uuid4(), rule_revision=1, device_id=device,
            episode=1, severity="warning", value=1.0, at=datetime.now(UTC),
        )  # fmt: skip
        await asyncio.to_thread(save_alert, api_system, tenant, alert)
        alert.acknowledge("user:op", datetime.now(UTC))
        await asyncio.to_thread(save_alert, api_system, tenant, alert)
        async with ws_session(live_url, {"Authorization": token}) as ws:
            await subscribe(ws, "1", STATUS, {"after": str(cursor)})
            got = [(await next_message(ws))["payload"]["data"]["deviceStatusChanged"]
                   for _ in range(2)]  # fmt: skip
            assert [(c["device"]["id"], c["eventType"]) for c in got] == [
                (str(other), "Telemetry.BatchRecorded"), (str(device), "Alert.Acknowledged"),
            ]  # fmt: skip
            assert got[1]["device"]["openAlertCount"] == 1
            with pytest.raises(TimeoutError):
                await receive(ws, within=0.5)  # each once

    run(scenario)


def test_a_cursor_too_old_is_refused_with_resume_too_old(
    live_url: str, tokens: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(resume, "RESUME_BUDGET", 2)
    token = tokens(new_tenant(), "operator")

    async def scenario() -> None:
        for name in ("a", "b", "c"):
            await register(live_url, token, name)
        async with ws_session(live_url, {"Authorization": token}) as ws:
            await subscribe(ws, "1", RESUMABLE, {"after": "0"})
            refused = await receive(ws)
            assert [e["extensions"]["code"] for e in errors_of(refused)] == ["RESUME_TOO_OLD"]

    run(scenario)


RESUMABLE_TELEMETRY = """subscription($deviceId: ID!, $after: String) {
  telemetry(deviceId: $deviceId, after: $after) { position version messages { metrics { value } } }
}"""


def test_a_telemetry_subscriber_resumes_with_every_batch_in_order(
    live_url: str, api_system: System, tokens: Tokens
) -> None:
    """The exact subscription: every batch stored while away, in order, then live."""
    tenant = new_tenant()
    token = tokens(tenant, "operator")
    device = register_device(api_system, tenant)
    topic = f"telemetry:{device}"

    def values(update: dict[str, Any]) -> list[float]:
        return [m["metrics"][0]["value"] for m in update["messages"]]

    async def scenario() -> None:
        variables = {"deviceId": str(device)}
        async with ws_session(live_url, {"Authorization": token}) as ws:
            await subscribe(ws, "1", RESUMABLE_TELEMETRY, variables)
            await until(lambda: fanout_of(api_system).subscriber_count(tenant, topic) == 1)
            send(api_system, tenant, device, 1.0)
            first = (await next_message(ws))["payload"]["data"]["telemetry"]
        assert values(first) == [1.0]
        for batch in ((2.0, 3.0), (4.0,), (5.0, 6.0)):  # three batches while away
            send(api_system, tenant, device, *batch)
        async with ws_session(live_url, {"Authorization": token}) as ws:
            await subscribe(
                ws, "1", RESUMABLE_TELEMETRY, variables | {"after": str(first["position"])}
            )
            got = [(await next_message(ws))["payload"]["data"]["telemetry"] for _ in range(3)]
            assert [values(u) for u in got] == [[2.0, 3.0], [4.0], [5.0, 6.0]]
            send(api_system, tenant, device, 7.0)  # then live
            live = (await next_message(ws))["payload"]["data"]["telemetry"]
            assert values(live) == [7.0]
        updates = [first, *got, live]
        positions = [u["position"] for u in updates]
        assert positions == sorted(set(positions))  # in order, nothing twice
        assert [u["version"] for u in updates] == sorted({u["version"] for u in updates})

    run(scenario)
