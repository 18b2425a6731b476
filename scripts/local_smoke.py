"""The local deployment's smoke run (scripts/local_deploy; issue 15 item 7), against the stack
deployed to the emulator, through its public edges only:

1. a user invited into the stage's Cognito pool (tenant `smoke`, group `admin`) signs in;
2. a device is registered and given a credential through the HTTP API (JWT authorizer);
3. a WebSocket client subscribes to the tenant's device status (graphql-transport-ws);
4. the device's telemetry is published on its MQTT topic through IoT Core's data plane, which
   the topic rule hands to the ingestion function;
5. the stream wakes the projector: the device's status shows the reading (HTTP API), and the
   subscriber is sent the change;
6. bad input on each path changes nothing and is told: a malformed device over the HTTP API is
   a 422 with its code, a subscription to a field that does not exist is an `error` of that
   operation only (the connection and the other subscription go on), and telemetry that is
   not JSON or carries a wrong token, published before the good message, leaves the device's
   status with the good reading only;
7. with an alert rule and the user's email, a reading over the threshold: the processes
   function raises the alert (HTTP API), the projector's notifier queues the email, and the
   scheduled function sends it (EventBridge Scheduler, every minute: the outbox row marked
   sent within 90 s; the stage's sender writes a log line);
8. an OTA job through IoT Core (scripts/local_smoke_ota.py): a release uploaded and deployed
   to the device; the device, an MQTT client of the emulator's broker, is sent the job
   document (processes function), its update through the jobs rule is accepted and applied,
   another client's with a wrong token rejected.

Each step prints one line; the first failure exits 1 naming it. Usage:
    .venv/bin/python scripts/local_smoke.py --endpoint http://127.0.0.1:4599 \
        --mqtt-port 4600 --outputs build/local-outputs.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import boto3
import httpx
from local_smoke_ota import ota_job
from websockets.asyncio.client import connect

STACK = "Fleetwatch-dev"
TENANT = "smoke"
STATUS = """subscription { deviceStatusChanged { eventType device { id online lastValues {
  metric value } } } }"""
TIMEOUT_S = 90.0


class SmokeFailed(Exception):
    pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", required=True, help="the emulator, http://host:port")
    parser.add_argument("--outputs", required=True, help="cdk deploy --outputs-file")
    parser.add_argument("--mqtt-port", type=int, default=8883, help="the emulator's IoT broker")
    args = parser.parse_args()
    outputs = json.loads(Path(args.outputs).read_text())[STACK]
    try:
        asyncio.run(smoke(args.endpoint.rstrip("/"), outputs, args.mqtt_port))
    except SmokeFailed as e:
        print(f"smoke: FAILED: {e}", file=sys.stderr)
        return 1
    print("smoke: passed")
    return 0


def api_id(url: str) -> str:
    """The API's id from its AWS URL (`https://{id}.execute-api.{region}.amazonaws.com/...`)."""
    return (urlparse(url).hostname or "").split(".", 1)[0]


async def smoke(endpoint: str, outputs: dict[str, str], mqtt_port: int) -> None:
    clients = {  # the emulator's: any key will do
        "endpoint_url": endpoint,
        "region_name": "us-east-1",
        "aws_access_key_id": "test",
        "aws_secret_access_key": "test",
    }
    token, email = sign_in(boto3.client("cognito-idp", **clients), outputs)
    print("smoke: signed in through Cognito (tenant smoke, group admin)")
    http = httpx.AsyncClient(
        base_url=f"{endpoint}/_aws/execute-api/{api_id(outputs['HttpApiUrl'])}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    async with http:
        bad = await http.post("/devices", json={"name": "", "deviceType": "pump"})
        code = bad.json()["error"].get("code") if bad.status_code == 422 else None
        if code is None:
            raise SmokeFailed(f"a device without a name: {bad.status_code} {bad.text[:200]}")
        print(f"smoke: a device without a name refused over the HTTP API: 422 {code}")
        registered = await call(http, "POST", "/devices", {"name": "pump-1", "deviceType": "pump"})
        device_id = registered["id"]
        credential = await call(http, "POST", f"/devices/{device_id}/credentials", None)
        print(f"smoke: device {device_id} registered, credential issued (HTTP API)")
        ws_url = f"{endpoint.replace('http', 'ws', 1)}/_aws/execute-api/"
        ws_url += f"{api_id(outputs['WebSocketUrl'])}/dev"
        # a cold $connect builds the function's system: tens of seconds on a busy machine
        protocols: Any = ["graphql-transport-ws"]
        async with connect(ws_url, subprotocols=protocols, open_timeout=120) as ws:
            await ws.send(json.dumps({"type": "connection_init", "payload": {"token": token}}))
            ack = json.loads(await asyncio.wait_for(ws.recv(), 30))
            if ack.get("type") != "connection_ack":
                raise SmokeFailed(f"the WebSocket API answered {ack}")
            await ws.send(
                json.dumps({"id": "1", "type": "subscribe", "payload": {"query": STATUS}})
            )
            nope = {"query": "subscription { noSuchField }"}
            await ws.send(json.dumps({"id": "2", "type": "subscribe", "payload": nope}))
            refused = await frame_of(ws, "2")  # the status changes of "1" may come first
            if refused.get("type") != "error":
                raise SmokeFailed(f"a subscription to no field was answered {refused}")
            await asyncio.sleep(2)  # the subscribe is stored by its own invocation
            print("smoke: subscribed to device status over the WebSocket API (a bad one refused)")
            iot = boto3.client("iot-data", **clients)
            topic = f"devices/{device_id}/telemetry"
            iot.publish(topic=topic, qos=1, payload=b"{not json")
            publish(iot, device_id, "not-the-devices-token", value=99.0, message_id="x")
            publish(iot, device_id, credential["token"])
            print(f"smoke: telemetry published on devices/{device_id}/telemetry (IoT rule)")
            change = await next_change(ws, device_id)
            print(f"smoke: the subscriber was sent {change['eventType']} for the device")
        status = await wait_for_reading(http, device_id)
        print(f"smoke: the device's status shows the reading: {status}")
        await alert_to_email(http, clients, device_id, credential["token"], email)
        try:
            await ota_job(http, call, mqtt_port, TENANT, device_id, credential["token"])
        except RuntimeError as e:
            raise SmokeFailed(str(e)) from e


async def alert_to_email(
    http: httpx.AsyncClient, clients: dict[str, str], device_id: str, token: str, email: str
) -> None:
    """Step 7: a rule, the user's email, a reading over the threshold; then the device's
    history holds the good messages only (the bad ones of step 6 stored nothing)."""
    await call(http, "PUT", "/users/me", {"email": email})
    rule = {
        "name": "Too hot",
        "scope": {"deviceId": device_id},
        "severity": "critical",
        "condition": {"kind": "threshold", "metric": "temperature", "op": ">", "value": 80},
    }
    await call(http, "POST", "/alert-rules", rule)
    publish(
        boto3.client("iot-data", **clients),
        device_id,
        token,
        value=91.0,
        message_id="m2",
    )
    alert_id = await wait_for_alert(http, device_id)
    print(f"smoke: a reading of 91 raised alert {alert_id} (processes function)")
    sent = wait_for_sent(boto3.client("dynamodb", **clients), alert_id, email)
    print(f"smoke: its email to {email} was queued and sent (scheduled function): {sent}")
    now = datetime.now(UTC)
    span = {"from": f"{now - timedelta(days=1):%Y-%m-%dT%H:%M:%SZ}",
            "to": f"{now + timedelta(hours=1):%Y-%m-%dT%H:%M:%SZ}"}  # fmt: skip
    query = "&".join(f"{k}={v}" for k, v in {"metric": "temperature", **span}.items())
    history = await call(http, "GET", f"/devices/{device_id}/history?{query}", None)
    stored = sorted((r["messageId"], r["value"]) for r in history["readings"])
    if stored != [("m1", 21.5), ("m2", 91.0)]:
        raise SmokeFailed(f"the device's history holds {stored}")
    print(f"smoke: its history holds the good messages only: {stored}")


def sign_in(cognito: Any, outputs: dict[str, str]) -> tuple[str, str]:
    """An invited admin of tenant `smoke`, signed in: its ID token and email."""
    pool, client = outputs["UserPoolId"], outputs["UserPoolClientId"]
    email, password = f"smoke-{uuid.uuid4().hex[:8]}@example.com", "Smoke-passw0rd-local!"
    cognito.admin_create_user(
        UserPoolId=pool,
        Username=email,
        UserAttributes=[
            {"Name": "email", "Value": email},
            {"Name": "email_verified", "Value": "true"},
            {"Name": "custom:tenant_id", "Value": TENANT},
        ],
        MessageAction="SUPPRESS",
    )
    cognito.admin_set_user_password(
        UserPoolId=pool, Username=email, Password=password, Permanent=True
    )
    cognito.admin_add_user_to_group(UserPoolId=pool, Username=email, GroupName="admin")
    answer = cognito.admin_initiate_auth(
        UserPoolId=pool,
        ClientId=client,
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": email, "PASSWORD": password},
    )
    token: str = answer["AuthenticationResult"]["IdToken"]
    return token, email


async def call(http: httpx.AsyncClient, method: str, path: str, body: Any) -> Any:
    response = await http.request(method, path, json=body)
    if response.status_code >= 300:
        raise SmokeFailed(f"{method} {path}: {response.status_code} {response.text[:300]}")
    return response.json()


def publish(
    iot: Any,
    device_id: str,
    token: str,
    *,
    value: float = 21.5,
    message_id: str = "m1",
) -> None:
    message = {
        "device_id": device_id,
        "message_id": message_id,
        "timestamp": datetime.now(UTC).isoformat(),
        "metrics": {"temperature": value},
        "token": token,
    }
    iot.publish(topic=f"devices/{device_id}/telemetry", qos=1, payload=json.dumps(message))


async def frame_of(ws: Any, operation_id: str) -> dict[str, Any]:
    """The next frame of the operation (others' frames passed over)."""
    deadline = time.monotonic() + TIMEOUT_S
    while (left := deadline - time.monotonic()) > 0:
        frame: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), left))
        if frame.get("id") == operation_id:
            return frame
    raise SmokeFailed(f"nothing came for operation {operation_id} in {TIMEOUT_S:.0f} s")


async def next_change(ws: Any, device_id: str) -> dict[str, Any]:
    """The first change of the device that shows a reading, as the subscriber is sent it."""
    deadline = time.monotonic() + TIMEOUT_S
    while (left := deadline - time.monotonic()) > 0:
        try:
            frame = json.loads(await asyncio.wait_for(ws.recv(), left))
        except TimeoutError:
            break
        if frame.get("type") == "ping":
            await ws.send(json.dumps({"type": "pong"}))
            continue
        if frame.get("type") != "next" or frame.get("id") != "1":
            raise SmokeFailed(f"the subscriber was sent {frame}")  # after "2"'s error: nothing
        change: dict[str, Any] = frame["payload"]["data"]["deviceStatusChanged"]
        if change["device"]["id"] == device_id and change["device"]["lastValues"]:
            return change
    raise SmokeFailed(f"no change with a reading reached the subscriber in {TIMEOUT_S:.0f} s")


async def wait_for_reading(http: httpx.AsyncClient, device_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        device = await call(http, "GET", f"/devices/{device_id}", None)
        if device.get("lastValues"):
            values = [v["value"] for v in device["lastValues"]]
            if values != [21.5]:  # the one with a wrong token must not count
                raise SmokeFailed(f"the device's status shows {device['lastValues']}")
            return {"online": device.get("online"), "lastValues": device["lastValues"]}
        await asyncio.sleep(1)
    raise SmokeFailed(f"the device's status showed no reading in {TIMEOUT_S:.0f} s")


async def wait_for_alert(http: httpx.AsyncClient, device_id: str) -> str:
    """The id of the device's alert, once the alerts model shows it."""
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        page = await call(http, "GET", "/alerts", None)
        found = [a for a in page["items"] if a["deviceId"] == device_id]
        if found:
            return str(found[0]["id"])
        await asyncio.sleep(1)
    raise SmokeFailed(f"no alert was raised in {TIMEOUT_S:.0f} s")


def wait_for_sent(dynamodb: Any, alert_id: str, address: str) -> str:
    """The alert's email row of the outbox (stage dev's table), once sent: its status and when
    it was sent (the schedule runs every minute)."""
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        items = dynamodb.scan(TableName="fleetwatch_dev_notification_outbox")["Items"]
        for item in items:
            mine = item.get("alert_id", {}).get("S") == alert_id
            if mine and item["address"]["S"] == address and item["status"]["S"] == "sent":
                return f"sent at {item['sent_at']['S']}"
        time.sleep(2)
    raise SmokeFailed(f"no notification was sent in {TIMEOUT_S:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
