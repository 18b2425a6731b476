"""The window of a `Telemetry` stream (`write_side.telemetry_log`): which message ids it
keeps, which it forgets, and the watermark of what it forgot.

The window is bounded by count (`DEDUP_WINDOW`) and by device time (`DEDUP_WINDOW_SECONDS`
behind the newest recorded). `IdWindow` holds the ids as 16-byte digests (BLAKE2b) in one
buffer, oldest first, and per batch still in it how many of its ids it holds and its newest
device time; a batch's time becomes the watermark (`covered_after`) when its ids leave.
Snapshots of streams from before it (a dict of id strings) are upcast (`upcast_window`).
Pure functions and values; no I/O.
"""

from __future__ import annotations

import base64
import functools
import math
from array import array
from datetime import UTC, datetime
from hashlib import blake2b
from typing import Any

from eventsourcing.persistence import Transcoding

from write_side.telemetry import TelemetryLimits

__all__ = [
    "DEDUP_WINDOW",
    "DEDUP_WINDOW_SECONDS",
    "IdWindow",
    "IdWindowAsDict",
    "cutoff_of",
    "digest",
    "legacy_bound",
    "seconds_of",
    "upcast_window",
    "watermark_of",
]

DEDUP_WINDOW = 1024  # ids at most
DEDUP_WINDOW_SECONDS = 300  # and none of a batch older than this behind the newest device time
# Validation refuses device times further ahead of their receipt than this: the bound of the
# device times of a state restored from a snapshot taken before `covered_after` existed.
MAX_SKEW = TelemetryLimits().max_future_skew
SIZE = 16  # bytes of an id's digest: two ids of a window share one with odds of 2**-118
_NONE = math.nan  # a batch's time when it had no entries, or is not known (legacy)
BLOOM_FROM = 512  # ids: a smaller window is scanned at once (about 1 us at 301 ids)
_BLOOM_BITS = 1 << 15  # 4 KB: 0.3-3 % false positives at 1,024-4,096 ids, 3 probes


@functools.lru_cache(maxsize=4096)  # `record` and the event's `apply` ask for the same ids
def digest(message_id: str) -> bytes:
    """An id's digest in the window: deterministic (snapshots keep it), unlike `hash`."""
    return blake2b(message_id.encode(), digest_size=SIZE).digest()


def seconds_of(iso: str) -> float:
    """A device time as `to_payload` writes it (UTC ISO), in the window's unit."""
    return datetime.fromisoformat(iso).timestamp()


class IdWindow:
    """A stream's remembered message ids and, per batch from `first` on, how many of its ids
    are still remembered and its newest device time (epoch seconds; NaN: none or unknown).

    About 28 bytes per remembered id where a dict of id strings to batch numbers and a list
    of ISO times took about 230 (69 KB per cached stream of a device sending every second;
    issue 14: 20,000 cached streams in the ingestion process). A lookup scans the buffer (in
    C: about 1 us at 301 ids, 3.5 at 1,024); from `BLOOM_FROM` ids on, a Bloom filter of the
    ids (not persisted: built when asked) answers most lookups of new ids without the scan."""

    __slots__ = ("bloom", "bloomed", "counts", "digests", "first", "times")

    def __init__(self, first: int = 1) -> None:
        self.digests = bytearray()  # SIZE bytes per id, oldest first
        self.counts = array("H")  # per batch from `first`: its ids still remembered
        self.times = array("d")  # per batch from `first`: its newest device time
        self.first = first  # the number of the batch `counts[0]` and `times[0]` are of
        self.bloom: bytearray | None = None  # the ids added since it was built, forgotten too
        self.bloomed = 0  # how many

    def __len__(self) -> int:
        return len(self.digests) // SIZE

    def __contains__(self, key: bytes) -> bool:
        bloom = self.bloom
        if bloom is None and len(self.digests) >= BLOOM_FROM * SIZE:
            bloom = self._build_bloom()
        if bloom is not None and not _in_bloom(bloom, key):
            return False
        found = self.digests.find(key)
        while found > 0 and found % SIZE:  # a match across two digests is not one
            found = self.digests.find(key, found + 1)
        return found >= 0

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IdWindow) and self.state() == other.state()

    __hash__ = None  # type: ignore[assignment]  # mutable

    def add(self, batch: int, keys: list[bytes], newest: float) -> None:
        """Batch `batch` (the next one) recorded these ids (none of them remembered)."""
        if batch != self.first + len(self.counts):
            raise ValueError(f"batch {batch} is not the next one ({self.first + len(self.counts)})")
        self.digests += b"".join(keys)
        self.counts.append(len(keys))
        self.times.append(newest)
        bloom = self.bloom
        if bloom is not None:
            self.bloomed += len(keys)
            if self.bloomed > 4 * DEDUP_WINDOW:  # too many forgotten ids in it: build anew
                self.bloom = None
            else:
                for key in keys:
                    _to_bloom(bloom, key)

    def _build_bloom(self) -> bytearray:
        bloom = self.bloom = bytearray(_BLOOM_BITS // 8)
        digests = self.digests
        for i in range(0, len(digests), SIZE):
            _to_bloom(bloom, digests[i : i + SIZE])
        self.bloomed = len(self)
        return bloom

    def front_older_than(self, cutoff: float) -> bool:
        """Whether the oldest remembered id's batch is older than `cutoff`."""
        for count, at in zip(self.counts, self.times, strict=True):
            if count:
                return at < cutoff  # False for NaN
        return False

    def evict(self, cutoff: float | None) -> list[tuple[int, float]]:
        """Forget the oldest ids past the window: beyond `DEDUP_WINDOW`, and whole batches whose
        newest device time is before `cutoff`. Returns the batches that lost ids, as (number,
        newest device time): their times move the watermark. The batches before the oldest
        id's are dropped."""
        left: list[tuple[int, float]] = []
        counts, times = self.counts, self.times
        while True:
            while counts and not counts[0]:  # batches with no ids left
                del counts[0], times[0]
                self.first += 1
            remembered = len(self)
            if remembered < BLOOM_FROM // 2:
                self.bloom = None  # a window that got small again is scanned
            if not remembered:
                return left
            count, at = counts[0], times[0]
            if remembered <= DEDUP_WINDOW:
                if cutoff is None or not at < cutoff:  # (NaN: not known to be old)
                    return left
                going = count  # the batch is older than the window: all of its ids go
            else:
                going = min(count, remembered - DEDUP_WINDOW)
            del self.digests[: going * SIZE]
            counts[0] = count - going
            left.append((self.first, at))

    def state(self) -> dict[str, Any]:
        """Plain values (a snapshot's), see `IdWindowAsDict`."""
        return {
            "ids": base64.b64encode(self.digests).decode(),
            "counts": list(self.counts),
            "times": [None if math.isnan(t) else t for t in self.times],
            "first": self.first,
        }

    @classmethod
    def of_state(cls, state: dict[str, Any]) -> IdWindow:
        window = cls(state["first"])
        window.digests += base64.b64decode(state["ids"])
        window.counts.extend(state["counts"])
        window.times.extend(_NONE if t is None else t for t in state["times"])
        if len(window.counts) != len(window.times) or sum(window.counts) != len(window):
            raise ValueError("an inconsistent window of message ids")
        return window


# A probe is a byte of the filter and a bit in it, from 16 bits of the digest (uniform).
_BYTE, _BIT = (_BLOOM_BITS - 1) >> 3, 7


def _to_bloom(bloom: bytearray, key: bytes | bytearray) -> None:
    bits = int.from_bytes(key[:6], "little")
    bloom[(bits >> 3) & _BYTE] |= 1 << (bits & _BIT)
    bloom[(bits >> 19) & _BYTE] |= 1 << ((bits >> 16) & _BIT)
    bloom[(bits >> 35) & _BYTE] |= 1 << ((bits >> 32) & _BIT)


def _in_bloom(bloom: bytearray, key: bytes) -> bool:
    bits = int.from_bytes(key[:6], "little")
    return bool(
        bloom[(bits >> 3) & _BYTE] & (1 << (bits & _BIT))
        and bloom[(bits >> 19) & _BYTE] & (1 << ((bits >> 16) & _BIT))
        and bloom[(bits >> 35) & _BYTE] & (1 << ((bits >> 32) & _BIT))
    )


class IdWindowAsDict(Transcoding):
    """How snapshots store an `IdWindow` (registered by `FleetApplication`)."""

    type = IdWindow
    name = "telemetry_id_window"

    def encode(self, obj: IdWindow) -> dict[str, Any]:
        return obj.state()

    def decode(self, data: dict[str, Any]) -> IdWindow:
        return IdWindow.of_state(data)


def legacy_bound(last_received_at: datetime | None) -> datetime | None:
    return None if last_received_at is None else last_received_at + MAX_SKEW


def upcast_window(state: dict[str, Any]) -> None:
    """A snapshot's state from before `IdWindow` (class version 1), taken on in place: the ids
    as a dict of id strings to batch numbers (`recent`), and the batches' newest device times as
    a list (`batch_times` from `batch_times_from`), or as a dict keyed by the batch number as a
    string (`batch_latest`), or from before the watermark, not at all (legacy: they are bounded
    by the last receipt plus the skew validation allows)."""
    recent: dict[str, int] = state.pop("recent")
    batches: int = state["batches"]
    times: dict[int, str | None]
    listed = state.pop("batch_times", None)
    latest = state.pop("batch_latest", None)
    first_listed = state.pop("batch_times_from", 1)
    if listed is not None:
        times = {first_listed + i: t for i, t in enumerate(listed)}
    elif latest is not None:
        times = {int(b): t for b, t in latest.items()}
    else:  # from before the watermark
        times = {}
        state["legacy_batches"] = batches
        bound = state["legacy_bound"] = legacy_bound(state["last_received_at"])
        if len(recent) >= DEDUP_WINDOW:  # it may have forgotten ids already
            state["covered_after"] = bound
    first = min(recent.values(), default=batches + 1)
    window = IdWindow(first)
    by_batch: dict[int, list[bytes]] = {}
    for message_id, batch in recent.items():
        by_batch.setdefault(batch, []).append(digest(message_id))
    for batch in range(first, batches + 1):
        at = times.get(batch)
        window.add(batch, by_batch.get(batch, []), _NONE if at is None else seconds_of(at))
    state["window"] = window


def watermark_of(at: float) -> datetime:
    """A batch's time as the watermark (`covered_after`) holds it."""
    return datetime.fromtimestamp(at, UTC)


def cutoff_of(newest: float) -> float:
    """The device time before which a batch leaves the window, `newest` being the newest
    recorded (both in seconds)."""
    return newest - DEDUP_WINDOW_SECONDS
