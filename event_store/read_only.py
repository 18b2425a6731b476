"""A store that records only some events: `fleetwatch serve --as-of` (docs/audit.md 19.2)
serves read models kept as of a past position, and must change nothing, but an auditor's read
of the trail is still recorded (19.3), so its `TrailRead` events are let through.

Every command of every aggregate ends in one call, the application recorder's `insert_events`:
that one method is guarded on the recorder instance (its class, and what other objects hold
of it, stay as they are), and refuses a call holding any other event, before it writes
anything, with the error it is given (`write_side.errors.ReadOnly`: the API's `READ_ONLY`)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any

from eventsourcing.persistence import Recorder, StoredEvent


def record_only(
    recorder: Recorder, topics: Collection[str], refuse: Callable[[str], Exception]
) -> None:
    """Make `recorder.insert_events` refuse events of any topic but `topics`, raising
    `refuse(the refused events' names)`."""
    insert: Callable[..., Any] = recorder.insert_events  # type: ignore[attr-defined]
    allowed = frozenset(topics)

    def insert_events(stored_events: Sequence[StoredEvent], **kwargs: Any) -> Any:
        refused = sorted({e.topic for e in stored_events} - allowed)
        if refused:
            raise refuse(", ".join(topic.rsplit(":", 1)[-1] for topic in refused))
        return insert(stored_events, **kwargs)

    recorder.insert_events = insert_events  # type: ignore[attr-defined]
