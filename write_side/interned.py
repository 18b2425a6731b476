"""One shared object per distinct value for what many devices hold alike: a tenant, a device
type (`sys.intern`), a set of tags (`tag_set`). State kept per registered device (the alerting
manager's index, the OTA orchestrator's facts) would otherwise hold a copy per device: a
one-tag frozenset is 216 bytes. Pure; thread-safe (a lost race makes one more copy, no harm).
"""

from __future__ import annotations

from collections.abc import Iterable

DISTINCT_TAG_SETS = 4096
"""Tag sets shared at most; past that, each device keeps its own (the memory it always had)."""

_tag_sets: dict[frozenset[str], frozenset[str]] = {}


def tag_set(tags: Iterable[str]) -> frozenset[str]:
    """`frozenset(tags)`, the same object for equal sets (up to `DISTINCT_TAG_SETS` of them)."""
    tags = frozenset(tags)
    shared = _tag_sets.get(tags)
    if shared is not None:
        return shared
    if len(_tag_sets) < DISTINCT_TAG_SETS:
        _tag_sets[tags] = tags
    return tags
