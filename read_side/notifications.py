"""Change notifications: sent by projection workers after a read model commits, received by the
API's subscriptions. Channels are per tenant and topic, so a tenant never receives another's."""

from __future__ import annotations

import functools
import json
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable
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


class LazyChangeNotice(ChangeNotice):
    """A `ChangeNotice` whose `data` is built on first use, once (`build`). A projection makes
    one per changed row, and with the in-process fan-out a notice of a topic nobody in this
    process subscribed to is offered to no stream and never read: its body (a row as JSON, a
    batch's messages) is then never built. Equal to the notice of the same data built eagerly;
    `build` must be pure (it may run on another thread, when a subscriber first reads it)."""

    def __init__(  # noqa: PLR0917 - the notice's five fields, then how to build its data
        self,
        tenant_id: str,
        topic: str,
        key: str,
        position: int,
        event_type: str,
        build: Callable[[], dict[str, Any]],
    ) -> None:
        fields = (tenant_id, topic, key, position, event_type)
        for name, value in zip(_HEAD_FIELDS, fields, strict=True):
            object.__setattr__(self, name, value)
        object.__setattr__(self, "_build", build)

    def __eq__(self, other: object) -> bool:  # the eager notice's, whichever class builds it
        if not isinstance(other, ChangeNotice):
            return NotImplemented
        return all(getattr(self, f) == getattr(other, f) for f in (*_HEAD_FIELDS, "data"))

    __hash__ = None  # type: ignore[assignment] # as the eager notice's (its data is a dict)

    @functools.cached_property
    def data(self) -> dict[str, Any]:
        build: Callable[[], dict[str, Any]] = self.__dict__["_build"]
        return build()


_HEAD_FIELDS = ("tenant_id", "topic", "key", "position", "event_type")


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
