"""Event names as code: the topic and the envelope type of an event, derived from its class.

The store records each event under the topic of its class, `module:qualname`
(`eventsourcing.utils.get_topic`), and the envelope's `type` is that topic's part after the
colon (`"Device.Registered"`), which change notices and the API pass on as they are. Projections
and process managers select events by these strings; spelled out by hand, they silently stop
matching when an aggregate or one of its events moves or is renamed. So each aggregate module
names its events here (`DEVICE_REGISTERED = event_name(Device, "Registered")`) and consumers
refer to those names, never to string literals. An event the aggregate does not declare fails
at import, not by handling nothing.

`event_name` looks an event up by its name on the aggregate because `@event("Registered")`
methods generate their classes when the aggregate class is created (the type checker does not
see `Device.Registered`); an explicit event class is named with `name_of(Device.Decommissioned)`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from eventsourcing.domain import Aggregate
from eventsourcing.utils import get_topic


@dataclass(frozen=True, slots=True)
class EventName:
    """One event class and the strings it is stored and published under."""

    cls: type[Aggregate.Event]
    topic: str  # as the store records it: "write_side.devices:Device.Registered"
    type: str  # the envelope's type, public in change notices and the API: "Device.Registered"


def name_of(cls: type[Aggregate.Event]) -> EventName:
    topic = get_topic(cls)
    return EventName(cls, topic, type_of_topic(topic))


def event_name(aggregate: type[Aggregate], name: str) -> EventName:
    """The event `name` declared on `aggregate` (LookupError when it declares none)."""
    cls = vars(aggregate).get(name)
    if isinstance(cls, type) and issubclass(cls, Aggregate.Event):
        return name_of(cls)
    raise LookupError(f"{aggregate.__qualname__} declares no event {name!r}")


def type_of_topic(topic: str) -> str:
    """The envelope type of a stored event's topic: its part after the colon."""
    return topic.rsplit(":", 1)[-1]


def topic_prefix(aggregate: type[Aggregate]) -> str:
    """What the topics of all of `aggregate`'s events start with: "write_side.alerts:Alert."."""
    return f"{get_topic(aggregate)}."


def type_prefix(aggregate: type[Aggregate]) -> str:
    """What the envelope types of all of `aggregate`'s events start with: "Alert."."""
    return f"{type_of_topic(get_topic(aggregate))}."


def topics(names: Iterable[EventName]) -> frozenset[str]:
    return frozenset(n.topic for n in names)


def types(names: Iterable[EventName]) -> frozenset[str]:
    return frozenset(n.type for n in names)
