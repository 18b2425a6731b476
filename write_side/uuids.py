"""A memo of parsed UUID strings for the ingestion hot path: every message names its device (in
the payload and in its token), and a fleet repeats the same few thousand ids."""

from __future__ import annotations

import functools
from uuid import UUID


@functools.lru_cache(maxsize=65_536)
def parse_uuid(text: str) -> UUID:
    """`UUID(text)`, memoized (a malformed string raises ValueError and is not remembered)."""
    return UUID(text)
