"""Simulated devices that take OTA jobs (docs/firmware.md 12.5), for `fleetwatch simulate --jobs`
and the tests. Only the wire protocol: they see what a real device sees.

`JobDevice(device_id, token, version, http, ...)`: `step()` takes the next job (a notified
document from `JobsMqtt`, else `GET /devices/{id}/jobs/next` with `If-None-Match`) and returns
its `Outcome`, or None when nothing is new. A job is taken once per (executionId, attempt,
operation). Taking it: `downloading`, the image in `Range` requests (at least two; from
`firmware.url`, else `GET /firmware/{id}/image`), SHA-256 and size checked, `downloaded`,
`installing`, `succeeded` with the version; then a telemetry message with `firmware_version`.
`seq` continues from the document's `lastSeq`. Updates go over MQTT when the device has a link
(`.../update`, waiting for `/accepted` or `/rejected`), else `POST .../updates`.

`Faults` gives per-job probabilities, drawn in this order from `random.Random` seeded with
`seed` and the device id (deterministic): reject (`rejected` at once), fail (`failed` with a
kind, at its stage), stall (stops reporting for that attempt), rollback (`succeeded` without
a version, then telemetry with the old version).

Threads: one `JobDevice` is used from one thread; `JobsMqtt` routes messages from paho's thread
to each device's queues.
"""

from __future__ import annotations

import hashlib
import json
import queue
import random
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from ota.job_document import JobDocument

ANSWER_WAIT_S = 10.0
RANGE_BYTES = 1 << 20


class Outcome(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REJECTED = "rejected"
    STALLED = "stalled"
    ROLLED_BACK = "rolled_back"
    CANCELED = "canceled"
    REFUSED = "refused"  # the server refused an update (its code in `JobDevice.refusals`)


@dataclass(frozen=True)
class Faults:
    """Probabilities per job, each in [0, 1]."""

    reject: float = 0.0
    fail: float = 0.0
    stall: float = 0.0
    rollback: float = 0.0


class UpdateRefused(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass
class _Inbox:
    notices: queue.Queue[JobDocument] = field(default_factory=queue.Queue)
    answers: queue.Queue[tuple[str, dict[str, Any]]] = field(default_factory=queue.Queue)


class JobsMqtt:
    """One MQTT connection for many simulated devices: each `attach`ed device's notifications
    (`{root}/{id}/jobs/notify`, QoS 1) and answers (`{root}/{id}/jobs/+/update/+`)."""

    def __init__(self, url: str = "mqtt://127.0.0.1:1883", topic_root: str = "devices") -> None:
        host, _, port = url.removeprefix("mqtt://").partition(":")
        self.root = topic_root
        self.inboxes: dict[str, _Inbox] = {}
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"fleetwatch-sim-jobs-{uuid.uuid4().hex[:8]}"
        )
        self.client.on_message = self._on_message
        self.subscribed = threading.Semaphore(0)
        self.client.on_subscribe = lambda *_: self.subscribed.release()
        self.client.connect(host or "127.0.0.1", int(port or 1883))
        self.client.loop_start()

    def attach(self, device_id: UUID) -> _Inbox:
        inbox = self.inboxes.setdefault(str(device_id), _Inbox())
        topics = [
            f"{self.root}/{device_id}/jobs/notify",
            f"{self.root}/{device_id}/jobs/+/update/+",
        ]
        self.client.subscribe([(t, 1) for t in topics])
        if not self.subscribed.acquire(timeout=ANSWER_WAIT_S):
            raise ConnectionError("the broker did not acknowledge the subscription")
        return inbox

    def publish(self, topic: str, body: dict[str, Any]) -> None:
        self.client.publish(f"{self.root}/{topic}", json.dumps(body), qos=1)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_message(self, _c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        parts = message.topic.split("/")
        inbox = self.inboxes.get(parts[-3] if parts[-1] == "notify" else parts[-5])
        if inbox is None:
            return
        if parts[-1] == "notify":
            inbox.notices.put(JobDocument.model_validate_json(message.payload))
        else:
            inbox.answers.put((parts[-1], json.loads(message.payload)))


class JobDevice:
    """A device running `version` that takes jobs (see the module docstring)."""

    def __init__(  # noqa: PLR0917 - a device's whole configuration
        self,
        device_id: UUID,
        token: str,
        version: str,
        http: httpx.Client,
        faults: Faults = Faults(),
        seed: int = 0,
        mqtt_link: JobsMqtt | None = None,
        range_bytes: int = RANGE_BYTES,
    ) -> None:
        self.device_id, self.token, self.version = device_id, token, version
        self.http, self.faults, self.range_bytes = http, faults, range_bytes
        self.rng = random.Random(f"{seed}:{device_id}")  # noqa: S311 - simulation
        self.inbox = mqtt_link.attach(device_id) if mqtt_link is not None else None
        self.mqtt = mqtt_link
        self.seq = 0
        self.etag: str | None = None
        self.taken: set[tuple[UUID, int, str]] = set()
        self.outcomes: list[tuple[UUID, Outcome]] = []
        self.refusals: list[str] = []
        self.ranges = 0  # Range requests made, for the tests

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Device {self.token}"}

    def step(self) -> Outcome | None:
        """Take the next new job (notified first, else polled); None when there is none."""
        documents: list[JobDocument] = []
        while self.inbox is not None and not self.inbox.notices.empty():
            documents.append(self.inbox.notices.get())
        polled = self.poll()
        documents += [polled] if polled is not None else []
        for document in documents:
            key = (document.execution_id, document.attempt, document.operation)
            if key not in self.taken:
                self.taken.add(key)
                outcome = self.take(document)
                self.outcomes.append((document.execution_id, outcome))
                return outcome
        return None

    def poll(self) -> JobDocument | None:
        headers = self.auth | ({"If-None-Match": self.etag} if self.etag else {})
        answer = self.http.get(f"/devices/{self.device_id}/jobs/next", headers=headers)
        if answer.status_code != httpx.codes.OK:
            return None  # 204 nothing pending, 304 unchanged
        self.etag = answer.headers.get("etag")
        return JobDocument.model_validate(answer.json())

    def take(self, job: JobDocument) -> Outcome:
        if job.operation == "cancel":
            return Outcome.CANCELED
        self.seq = max(self.seq, job.last_seq)
        rng, faults = self.rng, self.faults
        rejects, fails = rng.random() < faults.reject, rng.random() < faults.fail
        stalls, rolls_back = rng.random() < faults.stall, rng.random() < faults.rollback
        kind = rng.choice(["download", "verify", "install"])
        stall_at = rng.choice(["downloading", "downloaded", "installing"])
        try:
            if rejects:
                self.report(job.execution_id, "rejected", reason="simulated: not now")
                return Outcome.REJECTED
            for status in ("downloading", "downloaded", "installing"):
                if fails and kind == {"downloaded": "verify", "installing": "install"}.get(
                    status, "download"
                ):
                    self.report(job.execution_id, "failed", kind=kind, reason="simulated")
                    return Outcome.FAILED
                self.report(
                    job.execution_id, status, **({"percent": 0} if status == "downloading" else {})
                )
                if status == "downloading" and not self.download(job):
                    self.report(job.execution_id, "failed", kind="verify", reason="sha256/size")
                    return Outcome.FAILED
                if stalls and status == stall_at:
                    return Outcome.STALLED
            if rolls_back:
                self.report(job.execution_id, "succeeded")
                self.telemetry(self.version)  # still the old one
                return Outcome.ROLLED_BACK
            self.report(job.execution_id, "succeeded", version=job.firmware.version)
        except UpdateRefused as e:
            self.refusals.append(e.code)
            return Outcome.REFUSED
        self.version = job.firmware.version
        self.telemetry(self.version)
        return Outcome.SUCCEEDED

    def download(self, job: JobDocument) -> bool:
        """The image in `Range` requests (at least two); True when size and SHA-256 match."""
        size, digest, got = job.firmware.size_bytes, hashlib.sha256(), 0
        step = max(1, min(self.range_bytes, -(-size // 2)))
        sources = [
            (job.firmware.url, {}),
            (f"/firmware/{job.firmware.firmware_id}/image", self.auth),
        ]
        while got < size:
            for url, headers in sources:
                part = self.http.get(
                    url, headers=headers | {"Range": f"bytes={got}-{got + step - 1}"}
                )
                if part.status_code == httpx.codes.PARTIAL_CONTENT:
                    break
            else:
                return False
            self.ranges += 1
            digest.update(part.content)
            got += len(part.content)
            if not part.content:
                return False
        return got == size and digest.hexdigest() == job.firmware.sha256

    def report(self, execution_id: UUID, status: str, **more: object) -> None:
        """One update with the next `seq`; `UpdateRefused` with the server's code."""
        self.seq += 1
        body = {"seq": self.seq, "status": status, "at": datetime.now(UTC).isoformat()} | more
        if self.mqtt is None or self.inbox is None:
            path = f"/devices/{self.device_id}/jobs/{execution_id}/updates"
            answer = self.http.post(path, headers=self.auth, json=body)
            if answer.status_code != httpx.codes.OK:
                raise UpdateRefused(_code(answer))
            return
        topic = f"{self.device_id}/jobs/{execution_id}/update"
        for _ in range(3):  # no answer: the same seq again (applied once)
            self.mqtt.publish(topic, body | {"token": self.token})
            answered = _answer(self.inbox, self.seq)
            if answered is None:
                continue
            if answered[0] == "rejected":
                raise UpdateRefused(str(answered[1].get("code")))
            return
        raise UpdateRefused("NO_ANSWER")

    def telemetry(self, version: str) -> None:
        message = {
            "device_id": str(self.device_id),
            "message_id": uuid.uuid4().hex,
            "timestamp": datetime.now(UTC).isoformat(),
            "metrics": {},
            "firmware_version": version,
            "token": self.token,
        }
        if self.mqtt is not None:
            self.mqtt.publish(f"{self.device_id}/telemetry", message)
        else:
            self.http.post("/ingest", json={"messages": [message]})


def _answer(inbox: _Inbox, seq: int) -> tuple[str, dict[str, Any]] | None:
    """The broker's answer to `seq` (older answers skipped); None after `ANSWER_WAIT_S`."""
    try:
        while True:
            outcome, answer = inbox.answers.get(timeout=ANSWER_WAIT_S)
            if answer.get("seq") == seq:
                return outcome, answer
    except queue.Empty:
        return None


def _code(answer: httpx.Response) -> str:
    try:
        return str(answer.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return f"HTTP_{answer.status_code}"
