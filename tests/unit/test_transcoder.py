"""`FastJSONTranscoder` reads back exactly what the library's transcoder reads back."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.persistence import DatetimeAsISO, DecimalAsStr, JSONTranscoder, UUIDAsHex
from hypothesis import given, settings
from hypothesis import strategies as st

from event_store.transcoder import FastJSONTranscoder
from tests.hypothesis_profiles import examples


def _both() -> tuple[JSONTranscoder, FastJSONTranscoder]:
    library, fast = JSONTranscoder(), FastJSONTranscoder()
    for transcoder in (library, fast):
        for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
            transcoder.register(transcoding)
    return library, fast


LIBRARY, FAST = _both()

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),  # beyond 64 bits: orjson refuses
    st.floats(allow_nan=True, allow_infinity=True),  # NaN/inf: not strict JSON
    st.text(max_size=20),
    st.uuids(),
    st.datetimes(timezones=st.just(UTC)),
    st.decimals(allow_nan=False, allow_infinity=False, places=3),
)
keys = st.one_of(st.text(max_size=8), st.sampled_from(["_type_", "_data_", "_meta"]))
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)),
    max_leaves=25,
)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


@settings(max_examples=examples(300), deadline=None)
@given(st.dictionaries(keys, values, max_size=6))
def test_decodes_what_the_library_decodes(state: dict[str, Any]) -> None:
    try:
        data = LIBRARY.encode(state)
    except TypeError:  # a dict with {"_type_", "_data_"} of an unregistered name, say
        return
    try:
        expected = LIBRARY.decode(data)
    except TypeError:  # such a dict cannot be read back by the library either
        return
    assert _same(FAST.decode(data), expected)


def test_custom_types_nested_in_lists_and_dicts_are_restored() -> None:
    device = UUID(int=7)
    at = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    state = {"device_id": device, "entries": [{"at": at, "v": Decimal("1.5")}], "n": [[device]]}
    decoded = FAST.decode(LIBRARY.encode(state))
    assert decoded == state
    assert type(decoded["entries"][0]["at"]) is datetime


def test_strict_json_is_parsed_without_the_library_and_the_rest_with_it() -> None:
    assert FAST.decode(b'{"a":[1,2.5,"x"]}') == {"a": [1, 2.5, "x"]}
    odd = FAST.decode(b'{"a":NaN,"b":Infinity,"c":123456789012345678901234567890}')
    assert math.isnan(odd["a"])
    assert odd["b"] == math.inf
    assert odd["c"] == 123456789012345678901234567890
