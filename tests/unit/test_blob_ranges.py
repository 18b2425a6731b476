"""HTTP byte ranges (`ota.ranges`, RFC 7233) and the blob keys (`ota.port`): properties over
sizes, ranges and tenants drawn by hypothesis, and the cases the RFC names."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ota.errors import BlobTooLarge, RangeNotSatisfiable
from ota.port import Digest, parse_object_key
from ota.ranges import (
    ByteRange,
    content_range,
    parse_content_range,
    parse_range,
    range_header,
    unsatisfied_content_range,
)
from write_side.errors import InvalidInput
from write_side.firmware_objects import check_sha256, object_key, tenant_segment

sizes = st.integers(min_value=1, max_value=2**40)


@st.composite
def ranges_in(draw: st.DrawFn) -> tuple[ByteRange, int]:
    size = draw(sizes)
    start = draw(st.integers(0, size - 1))
    end = draw(st.integers(start, size - 1))
    return ByteRange(start, end), size


@given(ranges_in())
def test_a_range_header_parses_back_to_its_range(case: tuple[ByteRange, int]) -> None:
    byte_range, size = case
    assert parse_range(range_header(byte_range), size) == byte_range


@given(ranges_in())
def test_content_range_formats_and_parses_back(case: tuple[ByteRange, int]) -> None:
    byte_range, size = case
    header = content_range(byte_range, size)
    assert header == f"bytes {byte_range.start}-{byte_range.end}/{size}"
    assert parse_content_range(header) == (byte_range, size)


@given(sizes, st.integers(0, 2**41), st.integers(0, 2**41))
def test_a_first_last_range_is_clipped_and_satisfiable_iff_it_starts_inside(
    size: int, first: int, last: int
) -> None:
    header = f"bytes={first}-{last}"
    if last < first:
        assert parse_range(header, size) is None  # invalid: ignored, the whole blob
    elif first >= size:
        with pytest.raises(RangeNotSatisfiable) as caught:
            parse_range(header, size)
        assert caught.value.size == size
    else:
        assert parse_range(header, size) == ByteRange(first, min(last, size - 1))


@given(sizes, st.integers(0, 2**41))
def test_an_open_range_runs_to_the_end(size: int, first: int) -> None:
    if first >= size:
        with pytest.raises(RangeNotSatisfiable):
            parse_range(f"bytes={first}-", size)
    else:
        assert parse_range(f"bytes={first}-", size) == ByteRange(first, size - 1)


@given(sizes, st.integers(1, 2**41))
def test_a_suffix_is_the_last_n_bytes_or_the_whole(size: int, suffix: int) -> None:
    byte_range = parse_range(f"bytes=-{suffix}", size)
    assert byte_range is not None
    assert byte_range.end == size - 1
    assert byte_range.length == min(suffix, size)


@given(st.integers(0, 2**41))
def test_nothing_satisfies_a_zero_suffix(size: int) -> None:
    with pytest.raises(RangeNotSatisfiable):
        parse_range("bytes=-0", size)


@pytest.mark.parametrize("header", ["bytes=0-", "bytes=0-0", "bytes=-1"])
def test_nothing_satisfies_a_range_of_an_empty_blob(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable) as caught:
        parse_range(header, 0)
    assert unsatisfied_content_range(caught.value.size) == "bytes */0"


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "items=0-1",  # an unknown unit: ignored
        "bytes",
        "bytes=",
        "bytes=-",
        "bytes=a-b",
        "bytes=1-2-3",
        "bytes=0-9,20-29",  # several ranges: the whole blob (ota/ranges.py)
        "bytes=0-9, 500-",
    ],
)
def test_headers_served_whole(header: str | None) -> None:
    assert parse_range(header, 100) is None


def test_spaces_and_case_are_tolerated() -> None:
    assert parse_range(" Bytes = 5 - 9 ", 100) == ByteRange(5, 9)


@pytest.mark.parametrize("header", ["bytes 5-4/10", "bytes 0-10/10", "bytes */10", "bits 0-1/2"])
def test_malformed_content_ranges(header: str) -> None:
    with pytest.raises(ValueError):
        parse_content_range(header)


@given(st.text(min_size=1).filter(str.strip), st.binary(max_size=8))
def test_object_keys_round_trip_and_stay_one_segment_per_tenant(tenant: str, data: bytes) -> None:
    sha = hashlib.sha256(data).hexdigest()
    key = object_key(tenant, sha)
    segment = key.split("/")[1]
    assert len(key.split("/")) == 3
    assert segment not in {".", ".."}
    assert "." not in segment
    assert segment == tenant_segment(tenant)
    assert parse_object_key(key) == (tenant, sha)


@given(st.text(min_size=1).filter(str.strip), st.text(min_size=1).filter(str.strip))
def test_tenant_segments_are_injective(a: str, b: str) -> None:
    assert (tenant_segment(a) == tenant_segment(b)) == (a == b)


@pytest.mark.parametrize("value", ["", "abc", "g" * 64, "0" * 63, "0" * 65])
def test_a_sha256_is_64_hex_digits(value: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_sha256(value)
    assert caught.value.field == "sha256"


def test_a_blank_tenant_has_no_key() -> None:
    with pytest.raises(InvalidInput) as caught:
        object_key(" ", "0" * 64)
    assert caught.value.field == "tenant_id"


@given(st.lists(st.binary(max_size=64), max_size=20), st.integers(0, 600))
def test_the_digest_counts_hashes_and_stops_at_the_limit(chunks: list[bytes], limit: int) -> None:
    digest, taken = Digest(limit), b""
    for chunk in chunks:
        if len(taken) + len(chunk) > limit:
            with pytest.raises(BlobTooLarge):
                digest.update(chunk)
            break
        digest.update(chunk)
        taken += chunk
    assert digest.size == len(taken)
    assert digest.verify(hashlib.sha256(taken).hexdigest()) == hashlib.sha256(taken).hexdigest()
    with pytest.raises(InvalidInput):
        digest.verify(hashlib.sha256(taken + b"x").hexdigest())
