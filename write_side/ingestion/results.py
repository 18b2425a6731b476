"""What the telemetry handler takes and answers: submissions, pending entries, per-message
results, the counters of outcomes (accepted, duplicate, rejected by code), and the read-only
port to raw history it asks about the messages its stream's window cannot vouch for."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, NamedTuple, Protocol
from uuid import UUID

from write_side.telemetry import BatchEntry, Rejection, ValidatedMessage

Transport = Literal["mqtt", "http", "iot-core"]
MessageStatus = Literal["accepted", "duplicate", "rejected"]


@dataclass(frozen=True)
class MessageResult:
    """What happened to one message. `position` is the feed position of the event holding it
    (0 when nothing was stored), for callers that wait for read models."""

    status: MessageStatus
    message_id: str | None = None
    device_id: UUID | None = None
    code: str | None = None  # why a message was rejected
    detail: str | None = None
    rejections: tuple[Rejection, ...] = ()  # readings (or status fields) not kept
    position: int = 0

    @classmethod
    def rejected(
        cls,
        code: str,
        detail: str,
        message_id: str | None = None,
        device_id: UUID | None = None,
        rejections: tuple[Rejection, ...] = (),
    ) -> MessageResult:
        return cls("rejected", message_id, device_id, str(code), detail, rejections)

    @classmethod
    def accepted(cls, message: ValidatedMessage, position: int) -> MessageResult:
        return cls(
            "accepted", message.message_id, message.device_id, rejections=message.rejections,
            position=position,
        )  # fmt: skip

    @classmethod
    def duplicate(cls, message: ValidatedMessage) -> MessageResult:
        return cls("duplicate", message.message_id, message.device_id)

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "messageId": self.message_id,
            "deviceId": str(self.device_id) if self.device_id else None,
            "status": self.status,
            "rejections": [
                {"metric": r.metric, "code": str(r.code), "detail": r.detail}
                for r in self.rejections
            ],
        }
        if self.code is not None:
            body["code"], body["detail"] = self.code, self.detail
        return body


class IngestCounters:
    """Thread-safe counts of messages by outcome and rejection code, and of readings."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.messages: Counter[str] = Counter()  # accepted, duplicate, rejected
        self.rejected: Counter[str] = Counter()  # messages by code
        self.readings_accepted = 0
        self.readings_rejected: Counter[str] = Counter()  # by code

    def count(self, result: MessageResult) -> None:
        self.count_all((result,))

    def count_all(self, results: Iterable[MessageResult]) -> None:
        with self._lock:
            for result in results:
                self.messages[result.status] += 1
                if result.code is not None:
                    self.rejected[result.code] += 1
                if result.rejections and result.status == "accepted":
                    self.readings_rejected.update(str(r.code) for r in result.rejections)

    def count_readings(self, accepted: int) -> None:
        with self._lock:
            self.readings_accepted += accepted

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "messages": dict(self.messages),
                "rejected_by_code": dict(self.rejected),
                "readings_accepted": self.readings_accepted,
                "readings_rejected_by_code": dict(self.readings_rejected),
            }


# Submission and Pending are named tuples (immutable, and built for every message at a
# fraction of a frozen dataclass's cost).


class Submission(NamedTuple):
    """One message as a transport received it."""

    payload: bytes | str | Mapping[str, Any]
    transport: Transport
    token: str | None = None  # from the transport (HTTP header); else the payload's "token"
    channel_device_id: str | None = None  # the device the channel names (MQTT/IoT Core topic)
    trusted_tenant: str | None = None  # set only when the transport authenticated the device
    # Set only when the broker proved that the channel's device sent it (an MQTT listener that
    # requires a device certificate and lets a device publish on its own topic only).
    channel_proven: bool = False


class Pending(NamedTuple):
    """A valid, authenticated message waiting for its commit."""

    tenant_id: str
    stream_id: UUID
    message: ValidatedMessage
    entry: BatchEntry
    received_at: datetime
    transport: Transport
    heartbeat_timeout_s: int


class RawHistory(Protocol):
    """Read-only port to the telemetry read model's raw history (both stores' readers)."""

    def stored_messages(
        self, tenant_id: str, device_id: UUID, messages: Sequence[tuple[datetime, str, str]]
    ) -> set[str]:
        """The ids of `messages` (device time, message id, one of its metrics) that raw history
        holds: each is one keyed read (SQLite) or a Query of its (device, hour) partition."""
        ...
