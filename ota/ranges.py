"""HTTP byte ranges (RFC 7233, now RFC 9110 section 14) for firmware downloads.

`parse_range(header, size)` reads a `Range` header against a blob of `size` bytes:

- `bytes=a-b` (b clipped to the last byte), `bytes=a-` (to the end), `bytes=-n` (the last n
  bytes, the whole blob when n >= size): one `ByteRange`, answered 206 with `Content-Range`
  (`content_range`);
- no header, another unit, or a header that does not parse: None, answered 200 with the whole
  blob (a server MUST ignore a unit it does not know and MAY ignore an invalid Range);
- **several ranges** (`bytes=0-9,20-29`): None, the whole blob with 200. RFC 9110 lets a
  server ignore Range, never makes it send multipart; a resuming download asks for one range,
  and answering only the first of several would hand the client less than it asked for
  without telling it. Decided here, the same for every store;
- a single range that no byte satisfies (`a >= size`, `bytes=-0`, anything on an empty
  blob): `RangeNotSatisfiable` with the size, answered 416 with `Content-Range: bytes */size`
  (`unsatisfied_content_range`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ota.errors import RangeNotSatisfiable

_SPEC = re.compile(r"^\s*(\d*)\s*-\s*(\d*)\s*$")
_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+)$")


@dataclass(frozen=True)
class ByteRange:
    """Bytes `start` to `end`, both included (as HTTP counts them)."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if not 0 <= self.start <= self.end:
            raise ValueError(f"not a byte range: {self.start}-{self.end}")

    @property
    def length(self) -> int:
        return self.end - self.start + 1


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The one range to serve of a blob of `size` bytes; None to serve it whole (200)."""
    if header is None:
        return None
    unit, sep, specs = header.strip().partition("=")
    if not sep or unit.strip().lower() != "bytes":
        return None
    parts = specs.split(",")
    if len(parts) != 1:
        return None  # several ranges: the whole blob (module docstring)
    match = _SPEC.match(parts[0])
    if match is None or match.group(1) == match.group(2) == "":
        return None
    first, last = match.group(1), match.group(2)
    if first == "":  # a suffix: the last n bytes
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable(size, header)
        return ByteRange(max(0, size - suffix), size - 1)
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        return None  # invalid (RFC: ignore it)
    if start >= size:
        raise RangeNotSatisfiable(size, header)
    return ByteRange(start, min(end, size - 1))


def range_header(byte_range: ByteRange) -> str:
    """The `Range` header asking for `byte_range` (a client's, e.g. resuming a download)."""
    return f"bytes={byte_range.start}-{byte_range.end}"


def content_range(byte_range: ByteRange, size: int) -> str:
    """`Content-Range` of a 206 answer: `bytes start-end/size`."""
    if byte_range.end >= size:
        raise ValueError(f"range {byte_range} is past the {size} bytes")
    return f"bytes {byte_range.start}-{byte_range.end}/{size}"


def unsatisfied_content_range(size: int) -> str:
    """`Content-Range` of a 416 answer: `bytes */size`."""
    return f"bytes */{size}"


def parse_content_range(header: str) -> tuple[ByteRange, int]:
    """(range, size) of a 206 answer's `Content-Range`; ValueError when it is not one."""
    match = _CONTENT_RANGE.match(header.strip())
    if match is None:
        raise ValueError(f"not a Content-Range of a byte range: {header!r}")
    byte_range = ByteRange(int(match.group(1)), int(match.group(2)))
    size = int(match.group(3))
    if byte_range.end >= size:
        raise ValueError(f"Content-Range past the size: {header!r}")
    return byte_range, size
