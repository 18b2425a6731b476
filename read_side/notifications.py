"""Change notifications: sent by projection workers after a read model commits, received by the
API's subscriptions. Channels are per tenant and topic, so a tenant never receives another's."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class ChangeNotice:
    tenant_id: str
    topic: str  # e.g. "device"
    key: str  # e.g. the device id
    position: int  # feed position of the event that caused the change
    event_type: str  # e.g. "Device.Updated"
    data: dict[str, Any]  # JSON-ready snapshot of the changed read-model row

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, raw: bytes | str) -> ChangeNotice:
        return cls(**json.loads(raw))


def channel_name(tenant_id: str, topic: str) -> str:
    return f"fleetwatch:{tenant_id}:{topic}"


class ChangePublisher(ABC):
    """Port used by projection workers (synchronous; called from a worker thread)."""

    @abstractmethod
    def publish(self, notice: ChangeNotice) -> None: ...


class ChangeSubscriber(ABC):
    """Port used by API subscriptions (asyncio)."""

    @abstractmethod
    def subscribe(self, tenant_id: str, topic: str) -> AsyncIterator[ChangeNotice]:
        """Notices published on (tenant, topic) from now on, until the iterator is closed."""


class Fanout(ChangePublisher, ChangeSubscriber, ABC):
    def close(self) -> None:
        """Release connections and threads."""
