"""The read models' checksums and the first differing key (docs/audit.md section 19.6). Pure.

A read model is compared as a stream of rows in key order: each row a key (a tuple of JSON
scalars; the first is the table's name) and its fields (column to JSON scalar). Its checksum is
SHA-256 over the rows in that order, each row as one line of canonical JSON, `[key, fields]`
with sorted keys, no whitespace, ASCII only, then a newline. `compare` walks two such streams
together (a merge walk, one pass, memory bounded by one row a side) and returns both checksums
and the first key where they differ, with the row each side holds there (None: no such row).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

Scalar = str | int | float | bytes | None
Key = tuple[Scalar, ...]
Fields = Mapping[str, Scalar]
Row = tuple[Key, Fields]


def _jsonable(value: Scalar) -> str | int | float | None:
    return "hex:" + value.hex() if isinstance(value, bytes) else value


def canonical_row(key: Key, fields: Fields) -> bytes:
    """The row's line: canonical JSON of `[key, fields]` and a newline (bytes as `hex:…`)."""
    document = [
        [_jsonable(part) for part in key],
        {name: _jsonable(value) for name, value in fields.items()},
    ]
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return text.encode("ascii") + b"\n"


def order(key: Key) -> tuple[tuple[int, Scalar], ...]:
    """A total order over keys that is SQLite's (NULL < numbers < text < blobs; text by code
    point, which is UTF-8's byte order), so Python walks rows in the order SQLite gave them."""
    ranks: list[tuple[int, Scalar]] = []
    for part in key:
        if part is None:
            ranks.append((0, 0))
        elif isinstance(part, int | float):
            ranks.append((1, part))
        elif isinstance(part, str):
            ranks.append((2, part))
        else:
            ranks.append((3, part))
    return tuple(ranks)


def checksum(rows: Iterable[Row]) -> str:
    """The hex SHA-256 of the rows, in the order given (key order)."""
    digest = hashlib.sha256()
    for key, fields in rows:
        digest.update(canonical_row(key, fields))
    return digest.hexdigest()


@dataclass(frozen=True)
class Comparison:
    """Both sides' checksums and row counts, and the first differing key (None: equal)."""

    left: str
    right: str
    left_rows: int
    right_rows: int
    first_key: Key | None = None
    left_row: Fields | None = None
    right_row: Fields | None = None

    @property
    def equal(self) -> bool:
        return self.first_key is None


def compare(left: Iterable[Row], right: Iterable[Row]) -> Comparison:
    """Walk two key-ordered row streams together; both are read to their ends (the checksums
    cover every row). Raises ValueError if a stream is not in increasing key order."""
    hashes = (hashlib.sha256(), hashlib.sha256())
    counts = [0, 0]
    first: tuple[Key, Fields | None, Fields | None] | None = None
    streams = (_checked(iter(left)), _checked(iter(right)))
    heads = [next(streams[0], None), next(streams[1], None)]
    while heads[0] is not None or heads[1] is not None:
        a, b = heads
        if a is not None and (b is None or order(a[0]) < order(b[0])):
            taken: list[Row | None] = [a, None]  # a row only the left side has
        elif b is not None and (a is None or order(b[0]) < order(a[0])):
            taken = [None, b]  # a row only the right side has
        else:
            taken = [a, b]  # the same key on both sides
        lines = [None if row is None else canonical_row(*row) for row in taken]
        if first is None and (lines[0] is None or lines[0] != lines[1]):
            key = next(row[0] for row in taken if row is not None)
            left_row, right_row = (None if row is None else row[1] for row in taken)
            first = (key, left_row, right_row)
        for side, line in enumerate(lines):
            if line is not None:
                hashes[side].update(line)
                counts[side] += 1
                heads[side] = next(streams[side], None)
    left_sum, right_sum = (digest.hexdigest() for digest in hashes)
    if first is None:
        return Comparison(left_sum, right_sum, counts[0], counts[1])
    return Comparison(left_sum, right_sum, counts[0], counts[1], *first)


def _checked(rows: Iterator[Row]) -> Iterator[Row]:
    previous: tuple[tuple[int, Scalar], ...] | None = None
    for row in rows:
        current = order(row[0])
        if previous is not None and current <= previous:
            raise ValueError(f"rows not in increasing key order at {row[0]!r}")
        previous = current
        yield row


def format_key(key: Key) -> str:
    """The key for a report line: its parts joined by `/`."""
    return "/".join("" if part is None else str(_jsonable(part)) for part in key)
