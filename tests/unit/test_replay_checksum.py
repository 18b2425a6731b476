"""The read models' checksum and the merge walk naming the first differing key (audit 19.6)."""

from __future__ import annotations

import hashlib

import pytest

from audit.replay import Row, canonical_row, checksum, compare, format_key

ROWS: list[Row] = [
    (("alerts", "acme", "a1"), {"state": "OPEN", "value": 1.5}),
    (("alerts", "acme", "a2"), {"state": "RESOLVED", "value": None}),
    (("device_status", "acme", 7), {"name": "pump", "blob": b"\x00\xff"}),
    (("device_status", "acme", "x"), {"name": "valve"}),
]


def test_canonical_row_is_sorted_compact_ascii_json() -> None:
    line = canonical_row(("t", 1, None), {"b": "é", "a": b"\x01"})
    assert line == b'[["t",1,null],{"a":"hex:01","b":"\\u00e9"}]\n'


def test_checksum_is_sha256_over_the_lines_in_order() -> None:
    expected = hashlib.sha256(b"".join(canonical_row(*row) for row in ROWS)).hexdigest()
    assert checksum(ROWS) == expected
    assert checksum(reversed(ROWS)) != expected


def test_equal_streams() -> None:
    result = compare(ROWS, list(ROWS))
    assert result.equal
    assert result.first_key is None
    assert result.left == result.right == checksum(ROWS)
    assert (result.left_rows, result.right_rows) == (4, 4)


def test_a_changed_row_names_its_key_and_both_rows() -> None:
    changed = list(ROWS)
    changed[2] = (ROWS[2][0], {"name": "PUMP", "blob": b"\x00\xff"})
    result = compare(ROWS, changed)
    assert not result.equal
    assert result.first_key == ("device_status", "acme", 7)
    assert result.left_row == ROWS[2][1]
    assert result.right_row == changed[2][1]
    assert result.left == checksum(ROWS)
    assert result.right == checksum(changed)
    assert format_key(ROWS[2][0]) == "device_status/acme/7"


def test_a_missing_row_on_the_right() -> None:
    result = compare(ROWS, ROWS[:1] + ROWS[2:])
    assert result.first_key == ("alerts", "acme", "a2")
    assert result.left_row == ROWS[1][1]
    assert result.right_row is None
    assert (result.left_rows, result.right_rows) == (4, 3)


def test_an_extra_row_on_the_right_first_difference_wins() -> None:
    extra: Row = (("alerts", "acme", "a0"), {"state": "OPEN"})
    changed_later = [extra, *ROWS[:3], (ROWS[3][0], {"name": "other"})]
    result = compare(ROWS, changed_later)
    assert result.first_key == ("alerts", "acme", "a0")
    assert result.left_row is None
    assert result.right_row == {"state": "OPEN"}


def test_an_extra_row_at_the_end() -> None:
    tail: Row = (("users", "acme", "u1"), {"email": "a@b"})
    result = compare(ROWS, [*ROWS, tail])
    assert result.first_key == ("users", "acme", "u1")
    assert result.left_row is None


def test_numbers_before_text_as_sqlite_orders_them() -> None:
    assert compare(ROWS, ROWS).equal  # 7 < "x" in one key column: no order error


def test_unordered_stream_is_refused() -> None:
    with pytest.raises(ValueError, match="increasing key order"):
        compare(list(reversed(ROWS)), ROWS)
