"""`SortedRows` (the DynamoDB replay's spill of scanned rows to a scratch SQLite file) gives the
rows back in exactly the order `audit.replay.order` defines, the order `compare` walks, for keys
of every type a DynamoDB key may hold, and leaves no file behind."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.replay import compare, order
from read_side.dynamodb_snapshot import Row, SortedRows
from tests.hypothesis_profiles import examples

parts = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=6),
    st.binary(max_size=6),
)
keys = st.tuples(st.sampled_from(["alerts", "device_status", "telemetry_raw"]), parts, parts)


def unique(rows: list[Row]) -> list[Row]:
    """One row per key as `order` sees it (1 and 1.0, or 0.0 and -0.0, are one key)."""
    seen: dict[Any, Row] = {}
    for row in rows:
        seen.setdefault(order(row[0]), row)
    return list(seen.values())


@settings(max_examples=examples(100), deadline=None)
@given(st.lists(st.tuples(keys, st.dictionaries(st.text(max_size=3), st.text(max_size=3)))))
def test_rows_come_back_in_the_order_compare_walks(pairs: list[Row]) -> None:
    rows = unique(pairs)
    with SortedRows() as spill:
        spill.add(rows)
        back = list(spill.rows())
    assert back == sorted(rows, key=lambda row: order(row[0]))
    assert compare(back, back).equal  # compare refuses rows out of increasing key order


def test_keys_of_one_two_or_three_parts_and_the_scratch_file_removed() -> None:
    rows: list[Row] = [
        (("users", "acme", "u2"), {"a": "1"}),
        (("keys", "acme"), {"k": "x"}),
        (("users", "acme", "u10"), {"a": "2"}),
        (("figures", "acme", 10), {"v": "3"}),
        (("figures", "acme", 9.5), {"v": "4"}),
    ]
    spill = SortedRows()
    with spill:
        spill.add(rows)
        assert [row[0] for row in spill.rows()] == [
            ("figures", "acme", 9.5),
            ("figures", "acme", 10),
            ("keys", "acme"),
            ("users", "acme", "u10"),
            ("users", "acme", "u2"),
        ]
        directory = Path(spill._files.name)
        assert directory.exists()
    assert not directory.exists()
    with SortedRows() as spill, pytest.raises(ValueError, match="4 parts"):
        spill.add([(("t", 1, 2, 3), {})])
