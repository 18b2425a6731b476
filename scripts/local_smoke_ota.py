"""Step 8 of the local deployment's smoke run (scripts/local_smoke.py): an OTA job through IoT
Core, on the stack deployed to the emulator, through its public edges only.

A release is uploaded through the HTTP API (multipart, the image streamed to the stage's S3
bucket) and deployed to the smoke's device. The device is an MQTT client of the emulator's IoT
Core broker (TLS on `--mqtt-port`), connected as its thing (client id `{tenant}_{device}`)
and subscribed to its job topics: the processes function starts the deployment and publishes
the job document, which the device receives on `devices/{id}/jobs/notify`. The device's update,
published on `devices/{id}/jobs/{execution}/update`, reaches the jobs function through the rule
and is answered on `.../accepted`; an update with a wrong token from another client is answered
on `.../rejected` (`UNAUTHENTICATED`) and changes nothing; the execution shows `DOWNLOADING`
through the HTTP API.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import ssl
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

TIMEOUT_S = 120.0  # a deployment waits for the processes function's wake-ups
Call = Callable[[httpx.AsyncClient, str, str, Any], Awaitable[Any]]


class MqttDevice:
    """A client of the emulator's broker (TLS, its own certificate not checked): what it
    receives on the topics it subscribed to, in order."""

    def __init__(self, port: int, client_id: str, topics: list[str]) -> None:
        self.received: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
        self.client.tls_set(cert_reqs=ssl.CERT_NONE)
        self.client.tls_insecure_set(True)  # the emulator's own certificate
        self.client.on_message = lambda _c, _u, m: self.received.put(
            (m.topic, json.loads(m.payload))
        )
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *_: subscribed.set()
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        for topic in topics:
            subscribed.clear()
            self.client.subscribe(topic, qos=1)
            if not subscribed.wait(10):
                raise RuntimeError(f"the emulator's broker did not take the subscription {topic}")

    def publish(self, topic: str, body: dict[str, Any]) -> None:
        self.client.publish(topic, json.dumps(body), qos=1).wait_for_publish(10)

    def next(self, suffix: str) -> dict[str, Any]:
        """The next message on a topic ending with `suffix` (others passed over)."""
        deadline = time.monotonic() + TIMEOUT_S
        while (left := deadline - time.monotonic()) > 0:
            try:
                topic, body = self.received.get(timeout=left)
            except queue.Empty:
                break
            if topic.endswith(suffix):
                return body
        raise RuntimeError(f"nothing came on .../{suffix} in {TIMEOUT_S:.0f} s")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


async def ota_job(  # noqa: PLR0917 - the smoke's parts, each once
    http: httpx.AsyncClient, call: Call, mqtt_port: int, tenant: str, device_id: str, token: str
) -> None:
    version = f"2.0.{time.time_ns() % 10**9}"  # another run on a kept emulator: another one
    form = {"firmwareVersion": version, "deviceTypes": "pump"}
    image = {"file": ("pump.bin", os.urandom(4096), "application/octet-stream")}
    uploaded = await http.post("/firmware/upload", data=form, files=image)
    if uploaded.status_code != 201:
        raise RuntimeError(f"the upload: {uploaded.status_code} {uploaded.text[:300]}")
    firmware_id = uploaded.json()["id"]
    print(f"smoke: release {firmware_id} uploaded (HTTP API, the image to S3)")
    own = f"devices/{device_id}/jobs"
    device = MqttDevice(mqtt_port, f"{tenant}_{device_id}", [f"{own}/notify", f"{own}/+/update/+"])
    impostor = MqttDevice(mqtt_port, f"impostor-{time.time_ns()}", [f"{own}/+/update/+"])
    try:
        body = {"name": "smoke", "firmwareId": firmware_id, "target": {"deviceIds": [device_id]}}
        deployment = (await call(http, "POST", "/firmware/deployments", body))["id"]
        document = await asyncio.to_thread(device.next, "/jobs/notify")
        execution = document["executionId"]
        if document["firmware"]["firmwareId"] != firmware_id or not document["firmware"]["url"]:
            raise RuntimeError(f"the device was sent {document}")
        print(f"smoke: deployment {deployment} started; the device was sent job {execution} "
              "over MQTT (processes function, IoT Core)")  # fmt: skip
        topic = f"{own}/{execution}/update"
        wrong = {"token": "fwd1.not-the-devices", "seq": 2, "status": "failed", "at": _now()}
        impostor.publish(topic, wrong)
        refused = await asyncio.to_thread(impostor.next, "/update/rejected")
        if (refused["seq"], refused["code"]) != (2, "UNAUTHENTICATED"):
            raise RuntimeError(f"an update with a wrong token was answered {refused}")
        device.publish(topic, {"seq": 1, "status": "downloading", "percent": 10, "at": _now()})
        answer = await asyncio.to_thread(device.next, "/update/accepted")
        if answer != {"seq": 1, "duplicate": False}:
            raise RuntimeError(f"the device's update was answered {answer}")
    finally:
        device.close()
        impostor.close()
    shown = await wait_for_state(http, call, deployment, "DOWNLOADING")
    if shown["percent"] != 10:
        raise RuntimeError(f"the execution shows {shown}")
    print("smoke: the device's update (its thing's client id, no token) was accepted by the jobs "
          "function (IoT rule), one with a wrong token rejected UNAUTHENTICATED; the execution "
          f"shows {shown['state']}")  # fmt: skip


def _now() -> str:
    return datetime.now(UTC).isoformat()


async def wait_for_state(
    http: httpx.AsyncClient, call: Call, deployment: str, state: str
) -> dict[str, Any]:
    """The deployment's one execution, once it is in `state` (a state past it: failed)."""
    deadline = time.monotonic() + TIMEOUT_S
    seen: Any = None
    while time.monotonic() < deadline:
        page = await call(http, "GET", f"/firmware/deployments/{deployment}/executions", None)
        seen = page["items"]
        if seen and seen[0]["state"] == state:
            return dict(seen[0])
        if seen and seen[0]["state"] in ("FAILED", "TIMED_OUT", "CANCELED", "REJECTED"):
            break
        await asyncio.sleep(2)
    raise RuntimeError(f"no execution in state {state} in {TIMEOUT_S:.0f} s: {seen}")
