"""Job-taking devices for the OTA rollout e2e test, on the plain protocol of docs/firmware.md
12.5: one MQTT connection subscribed to each device's `devices/{id}/jobs/notify` (QoS 1); a
job is taken by its device on a worker thread: the image in two HTTP `Range` requests (its
SHA-256 checked), then `downloading`, `downloaded`, `installing` and `succeeded` with the
version, each an HTTP update with the device's token. `faulty` devices report `failed` (kind
`install`) while the fleet is `broken`; `silent` devices never answer. Every notify message is
counted by (device, execution, attempt, operation): devices deduplicate by that key, and the
test counts the repeats."""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

NoticeKey = tuple[UUID, str, int, str]  # device, execution, attempt, operation


class Fleet:
    def __init__(
        self,
        broker: tuple[str, int],
        base_url: str,
        tokens: dict[UUID, str],
        *,
        wave_of: dict[UUID, int],
        silent: set[UUID],
        faulty_wave: int = 1,
        faulty_count: int = 3,
        workers: int = 8,
    ) -> None:
        self.tokens, self.wave_of, self.silent = tokens, wave_of, silent
        self.faulty_wave, self.faulty_count = faulty_wave, faulty_count
        self.faulty: set[UUID] = set()
        self.broken = True
        self.notices: Counter[NoticeKey] = Counter()
        self.errors: list[str] = []
        self.lock = threading.Lock()
        self.http = httpx.Client(base_url=f"http://{base_url}", timeout=30)
        self.pool = ThreadPoolExecutor(workers, thread_name_prefix="fleet")
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"fleet-{uuid.uuid4().hex[:8]}"
        )
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *_: subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect(*broker)
        self.client.loop_start()
        topics = [(f"devices/{device}/jobs/notify", 1) for device in tokens]
        self.client.subscribe(topics)
        if not subscribed.wait(10):
            raise RuntimeError("the fleet's subscription was not acknowledged")

    @property
    def received(self) -> int:
        with self.lock:
            return sum(self.notices.values())

    def _on_message(self, _: mqtt.Client, __: Any, message: mqtt.MQTTMessage) -> None:
        device = UUID(message.topic.split("/")[1])
        document = json.loads(message.payload)
        key = (device, document["executionId"], document["attempt"], document["operation"])
        with self.lock:
            self.notices[key] += 1
            first = self.notices[key] == 1
            if (
                first
                and self.broken
                and self.wave_of[device] == self.faulty_wave
                and len(self.faulty) < self.faulty_count
            ):
                self.faulty.add(device)
        if first and device not in self.silent and document["operation"] != "cancel":
            self.pool.submit(self._take, device, document)

    def _take(self, device: UUID, document: dict[str, Any]) -> None:
        try:
            self._install(device, document)
        except Exception as e:
            with self.lock:
                self.errors.append(f"{device}: {e!r}")

    def _install(self, device: UUID, document: dict[str, Any]) -> None:
        auth = {"Authorization": f"Device {self.tokens[device]}"}
        firmware, seq = document["firmware"], document["lastSeq"]
        path = f"/devices/{device}/jobs/{document['executionId']}/updates"

        def report(status: str, **more: object) -> None:
            nonlocal seq
            seq += 1
            at = datetime.now(UTC).isoformat()
            body = {"seq": seq, "status": status, "at": at} | more
            response = self._send("POST", path, json=body, headers=auth)
            if response.status_code != 200:
                raise RuntimeError(f"{status}: {response.status_code} {response.text}")

        report("downloading", percent=0)
        image = f"/firmware/{firmware['firmwareId']}/image"
        half = firmware["sizeBytes"] // 2
        parts = [
            self._send("GET", image, headers=auth | {"Range": f"bytes={span}"})
            for span in (f"0-{half - 1}", f"{half}-")
        ]
        if [p.status_code for p in parts] != [206, 206]:
            raise RuntimeError(f"download: {[p.status_code for p in parts]}")
        if hashlib.sha256(parts[0].content + parts[1].content).hexdigest() != firmware["sha256"]:
            raise RuntimeError("download: the image's SHA-256 differs")
        report("downloaded")
        report("installing")
        if self.broken and device in self.faulty:
            report("failed", kind="install", reason="boot loop")
        else:
            report("succeeded", version=firmware["version"])

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request, sent again once when the server closed a kept-alive connection just as
        it was reused: seen as the server's disconnect, or as a reset of the connection
        (`ReadError`, ECONNRESET; fresh-clone CI, stop 33). A device retries; updates are
        idempotent by their sequence number, and a range of the image is read again."""
        try:
            return self.http.request(method, path, **kwargs)
        except (httpx.RemoteProtocolError, httpx.ReadError):
            return self.http.request(method, path, **kwargs)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.http.close()
