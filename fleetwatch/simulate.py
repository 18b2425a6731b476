"""A device simulator: `fleetwatch simulate --devices N --rate R [--transport mqtt|http]`.

It registers N devices in the configured store (or reuses those it registered before: tokens are
shown once, so it keeps them in `.fleetwatch/simulator-<tenant>.json`), issues their credentials,
then sends R messages per second in total, each with 3 metrics (temperature, humidity,
battery), round-robin over the devices. A share of messages (`duplicate_ratio`) is sent twice
with the same message id (a redelivery), and `bad_ratio` carry an invalid reading.

MQTT: QoS 1 to `devices/{id}/telemetry`, the token in the payload. HTTP: batches to
`POST {url}/ingest`, one per tick, each message with its token (a gateway).

With `jobs` (`--jobs`), the same devices also take OTA jobs (`fleetwatch/simulate_jobs.py`):
they poll `{api_url}/devices/{id}/jobs/next` every `JOB_POLL_S` and, over MQTT, also listen on
`devices/{id}/jobs/notify`; each job's outcome is counted as `job_<outcome>`.
"""

from __future__ import annotations

import json
import math
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from event_store.envelope import EventMetadata
from fleetwatch.simulate_jobs import Faults, JobDevice, JobsMqtt
from write_side.commands import RegisterDevice
from write_side.credentials import IssueDeviceCredential
from write_side.device_service import DeviceService
from write_side.errors import DomainError

TICK_S = 0.05
JOB_POLL_S = 5.0


@dataclass(frozen=True)
class SimDevice:
    device_id: UUID
    token: str


def provision(service: DeviceService, tenant: str, count: int, state_file: Path) -> list[SimDevice]:
    """`count` devices with working tokens: those remembered in `state_file`, then new ones."""
    meta = EventMetadata(tenant, "system:simulator")
    known = json.loads(state_file.read_text()) if state_file.exists() else []
    devices: list[SimDevice] = []
    for item in known:
        if len(devices) == count:
            break
        try:  # still registered and active in this store?
            device = service.get(tenant, UUID(item["device_id"]))
        except DomainError:
            continue
        if not device.is_decommissioned and device.credential_id == item["token"].split(".")[2]:
            devices.append(SimDevice(device.id, item["token"]))
    while len(devices) < count:
        command = RegisterDevice(name=f"sim-{len(devices):05d}", device_type="simulated")
        device_id = service.register(command, meta).aggregate.id
        issued = service.issue_credential(IssueDeviceCredential(device_id=device_id), meta)
        devices.append(SimDevice(device_id, issued.token))
    state_file.parent.mkdir(parents=True, exist_ok=True)
    state_file.write_text(
        json.dumps([{"device_id": str(d.device_id), "token": d.token} for d in devices])
    )
    return devices


def messages(
    devices: list[SimDevice], duplicate_ratio: float, bad_ratio: float, seed: int = 7
) -> Iterator[tuple[SimDevice, dict[str, Any]]]:
    """An endless stream of (device, message), round-robin, with redeliveries and bad values."""
    rng = random.Random(seed)  # noqa: S311 - simulation, not security
    run = uuid.uuid4().hex[:8]
    sequence = 0
    while True:
        for device in devices:
            sequence += 1
            phase = sequence / 50
            metrics: dict[str, Any] = {
                "temperature": round(21 + 6 * math.sin(phase) + rng.uniform(-0.5, 0.5), 2),
                "humidity": round(45 + 10 * math.cos(phase / 3), 2),
                "battery": round(max(0.0, 100 - (sequence % 10_000) / 100), 2),
            }
            if rng.random() < bad_ratio:
                metrics["temperature"] = "hot"  # rejected per reading: NOT_A_NUMBER
            message = {
                "device_id": str(device.device_id),
                "message_id": f"{run}-{sequence}",
                "timestamp": datetime.now(UTC).isoformat(),
                "metrics": metrics,
                "token": device.token,
            }
            yield device, message
            if rng.random() < duplicate_ratio:
                yield device, message  # a redelivery: same device, same message id


class Pacer:
    """Yields how many messages to send at each tick to keep `rate` per second."""

    def __init__(self, rate: float, duration: float | None) -> None:
        self.rate, self.duration = rate, duration

    def __iter__(self) -> Iterator[int]:
        start = time.monotonic()
        sent = 0
        while self.duration is None or time.monotonic() - start < self.duration:
            due = int((time.monotonic() - start) * self.rate) - sent
            if due > 0:
                sent += due
                yield due
            time.sleep(TICK_S)


def publish_mqtt(
    url: str, stream: Iterator[tuple[SimDevice, dict[str, Any]]], pacer: Pacer, stats: Counter[str]
) -> None:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    host, _, port = url.removeprefix("mqtt://").partition(":")
    client_id = f"fleetwatch-sim-{uuid.uuid4().hex[:8]}"
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(100_000)
    client.on_publish = lambda *_: stats.update(["broker_acked"])
    client.connect(host or "127.0.0.1", int(port or 1883))
    client.loop_start()
    try:
        for count in pacer:
            for _ in range(count):
                device, message = next(stream)
                topic = f"devices/{device.device_id}/telemetry"
                client.publish(topic, json.dumps(message), qos=1)
                stats["sent"] += 1
    finally:
        time.sleep(1.0)  # let the last PUBACKs arrive
        client.disconnect()
        client.loop_stop()


def post_http(
    url: str, stream: Iterator[tuple[SimDevice, dict[str, Any]]], pacer: Pacer, stats: Counter[str]
) -> None:
    import httpx

    with httpx.Client(base_url=url, timeout=30.0) as client:
        for count in pacer:
            for start in range(0, count, 1000):
                batch = [next(stream)[1] for _ in range(min(1000, count - start))]
                stats["sent"] += len(batch)
                response = client.post("/ingest", json={"messages": batch})
                if response.status_code not in (200, 207, 401):
                    stats[f"http_{response.status_code}"] += len(batch)
                    continue
                stats.update(r["status"] for r in response.json()["results"])


def run(
    send: Callable[[Iterator[tuple[SimDevice, dict[str, Any]]], Pacer, Counter[str]], None],
    stream: Iterator[tuple[SimDevice, dict[str, Any]]],
    pacer: Pacer,
    report: Callable[[Counter[str], float], None],
    stats: Counter[str] | None = None,
) -> Counter[str]:
    """Send in a thread; call `report(stats, elapsed)` every second until done."""
    stats = stats if stats is not None else Counter()
    started = time.monotonic()
    sender = threading.Thread(target=send, args=(stream, pacer, stats), daemon=True)
    sender.start()
    while sender.is_alive():
        sender.join(1.0)
        report(stats, time.monotonic() - started)
    return stats


def simulate(
    *,
    devices: int,
    rate: float,
    transport: str,
    duration: float | None,
    url: str | None,
    tenant: str,
    duplicate_ratio: float,
    bad_ratio: float,
    ingest_here: bool,
    echo: Callable[[str], None],
    jobs: Faults | None = None,
    api_url: str | None = None,
    firmware_version: str = "1.0.0",
) -> Counter[str]:
    """The `fleetwatch simulate` command (see the module docstring). With `ingest_here` (MQTT
    only) this process also runs the MQTT ingestor and the projections, so its counts of
    accepted, duplicate and rejected messages are shown; otherwise only what was sent."""
    from fleetwatch.bootstrap import build_system
    from fleetwatch.settings import Settings
    from ingestion.settings import IngestSettings

    mqtt_url = url or "mqtt://127.0.0.1:1883"
    ingest = IngestSettings(
        mqtt_url=mqtt_url if transport == "mqtt" and ingest_here else None,
        mqtt_client_id=f"fleetwatch-simulate-{tenant}",
    )
    settings = Settings()
    system = build_system(settings, ingest)
    try:
        state = settings.sqlite_path.parent / f"simulator-{tenant}.json"
        fleet = provision(system.device_service, tenant, devices, state)
        echo(f"{len(fleet)} devices of tenant {tenant!r} ready; sending {rate:g} messages/s")
        if ingest.mqtt_url is not None:
            system.start()
        stream = messages(fleet, duplicate_ratio, bad_ratio)
        counters = system.ingest.handler.counters if system.ingest else None
        stats: Counter[str] = Counter()
        last: dict[str, float] = {}
        stop = threading.Event()
        if jobs is not None:
            api = api_url or (url if transport == "http" and url else "http://127.0.0.1:8000")
            link = mqtt_url if transport == "mqtt" else None
            args = (fleet, jobs, api, link, firmware_version, stop, stats)
            threading.Thread(target=take_jobs, args=args, daemon=True).start()

        def report(stats: Counter[str], elapsed: float) -> None:
            seen = Counter(stats)
            if counters is not None and ingest.mqtt_url is not None:
                seen.update(counters.snapshot()["messages"])
            rates = {k: v - last.get(k, 0) for k, v in seen.items()}
            last.update(seen)
            echo(
                f"{elapsed:5.1f}s sent {rates.get('sent', 0):.0f}/s "
                f"accepted {rates.get('accepted', 0):.0f}/s "
                f"duplicate {rates.get('duplicate', 0):.0f}/s "
                f"rejected {rates.get('rejected', 0):.0f}/s"
            )

        if transport == "mqtt":
            send = lambda s, p, c: publish_mqtt(mqtt_url, s, p, c)  # noqa: E731
        else:
            send = lambda s, p, c: post_http(url or "http://127.0.0.1:8000", s, p, c)  # noqa: E731
        stats = run(send, stream, Pacer(rate, duration), report, stats)
        stop.set()
        if counters is not None and ingest.mqtt_url is not None:
            _drain(counters.snapshot, stats)
            stats.update(counters.snapshot()["messages"])
        echo("total: " + ", ".join(f"{k} {v}" for k, v in sorted(stats.items())))
        return stats
    finally:
        system.close()


def _drain(
    snapshot: Callable[[], dict[str, Any]], stats: Counter[str], timeout: float = 10.0
) -> None:
    """Wait (bounded) until the in-process ingestor has answered for everything sent."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sum(snapshot()["messages"].values()) >= stats["sent"]:
            break
        time.sleep(0.2)


def take_jobs(  # noqa: PLR0917 - the thread's arguments
    fleet: list[SimDevice],
    faults: Faults,
    api_url: str,
    mqtt_url: str | None,
    version: str,
    stop: threading.Event,
    stats: Counter[str],
) -> None:
    """The devices take their jobs until `stop` (a thread; counts `job_<outcome>`)."""
    import httpx

    link = JobsMqtt(mqtt_url) if mqtt_url is not None else None
    with httpx.Client(base_url=api_url, timeout=30.0) as http:
        devices = [
            JobDevice(d.device_id, d.token, version, http, faults, seed=7, mqtt_link=link)
            for d in fleet
        ]
        while not stop.is_set():
            for device in devices:
                try:
                    outcome = device.step()
                except httpx.HTTPError as e:
                    stats[f"job_error_{type(e).__name__}"] += 1
                    continue
                if outcome is not None:
                    stats[f"job_{outcome}"] += 1
            stop.wait(JOB_POLL_S)
    if link is not None:
        link.close()
