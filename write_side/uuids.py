"""The project's UUID namespace for name-based stream ids, and a memo of parsed UUID strings for
the ingestion hot path (every message names its device, in the payload and in its token, and a
fleet repeats the same few thousand ids)."""

from __future__ import annotations

import functools
from uuid import NAMESPACE_URL, UUID, uuid5

# Never change: every name-based stream id (users, telemetry logs, firmware markers, executions)
# is uuid5(FLEETWATCH_NS, "{tenant}/...").
FLEETWATCH_NS = uuid5(NAMESPACE_URL, "urn:fleetwatch")


@functools.lru_cache(maxsize=65_536)
def parse_uuid(text: str) -> UUID:
    """`UUID(text)`, memoized (a malformed string raises ValueError and is not remembered)."""
    return UUID(text)
