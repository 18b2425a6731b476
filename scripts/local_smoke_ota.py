"""Step 8 of the local deployment's smoke run (scripts/local_smoke.py): an OTA job through IoT
Core, on the stack deployed to the emulator, through its public edges only.

A release is uploaded through the HTTP API (multipart, the image streamed to the stage's S3
bucket) and deployed to the smoke's device; the processes function starts the deployment and
publishes the job document through IoT Core's data plane (the execution shows `notified`). The
device's update, published on `devices/{id}/jobs/{execution}/update`, reaches the jobs
function through the rule: the execution shows `downloading`; an update with a wrong token is
refused and changes nothing.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import boto3
import httpx

TIMEOUT_S = 120.0  # a deployment waits for the processes function's wake-ups
Call = Callable[[httpx.AsyncClient, str, str, Any], Awaitable[Any]]


async def ota_job(
    http: httpx.AsyncClient, call: Call, clients: dict[str, str], device_id: str, token: str
) -> None:
    form = {"firmwareVersion": "2.0.0", "deviceTypes": "pump"}
    image = {"file": ("pump.bin", os.urandom(4096), "application/octet-stream")}
    uploaded = await http.post("/firmware/upload", data=form, files=image)
    if uploaded.status_code != 201:
        raise RuntimeError(f"the upload: {uploaded.status_code} {uploaded.text[:300]}")
    firmware_id = uploaded.json()["id"]
    print(f"smoke: release {firmware_id} uploaded (HTTP API, the image to S3)")
    body = {"name": "smoke", "firmwareId": firmware_id, "target": {"deviceIds": [device_id]}}
    deployment = (await call(http, "POST", "/deployments", body))["id"]
    execution = await wait_for_state(http, call, deployment, "notified")
    print(f"smoke: deployment {deployment} started, job {execution['id']} published (processes)")
    iot = boto3.client("iot-data", **clients)
    topic = f"devices/{device_id}/jobs/{execution['id']}/update"
    wrong = {"token": "fwd1.not-the-devices", "seq": 1, "status": "failed", "at": _now()}
    iot.publish(topic=topic, qos=1, payload=json.dumps(wrong))
    update = {"token": token, "seq": 1, "status": "downloading", "percent": 10, "at": _now()}
    iot.publish(topic=topic, qos=1, payload=json.dumps(update))
    shown = await wait_for_state(http, call, deployment, "downloading")
    if shown["percent"] != 10:
        raise RuntimeError(f"the execution shows {shown}")
    print(f"smoke: the device's update reached the jobs function (IoT rule): {shown['state']}")


def _now() -> str:
    return datetime.now(UTC).isoformat()


async def wait_for_state(
    http: httpx.AsyncClient, call: Call, deployment: str, state: str
) -> dict[str, Any]:
    """The deployment's one execution, once it is in `state` (a state past it: failed)."""
    deadline = time.monotonic() + TIMEOUT_S
    seen: Any = None
    while time.monotonic() < deadline:
        page = await call(http, "GET", f"/deployments/{deployment}/executions", None)
        seen = page["items"]
        if seen and seen[0]["state"] == state:
            return dict(seen[0])
        if seen and seen[0]["state"] in ("failed", "canceled", "rejected"):
            break
        await asyncio.sleep(2)
    raise RuntimeError(f"no execution in state {state} in {TIMEOUT_S:.0f} s: {seen}")
