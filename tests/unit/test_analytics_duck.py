"""DuckDB's side of the analytics query (docs/analytics.md 20.3): a statement outliving its
time budget is interrupted and answered with the typed error naming `max_seconds`."""

from __future__ import annotations

import time

import pytest

from read_side.analytics.duck import QueryBudgetExceeded, run_budgeted


def test_a_statement_over_its_time_budget_is_stopped_and_named() -> None:
    started = time.monotonic()
    with pytest.raises(QueryBudgetExceeded, match=r"budget max_seconds: .* longer than 0\.2 s"):
        run_budgeted("SELECT sum(i * i % 7) FROM range($n) t(i)", {"n": 10**12}, 0.2)
    assert time.monotonic() - started < 5  # interrupted, not run to the end (hours)
    assert run_budgeted("SELECT sum(i) FROM range($n) t(i)", {"n": 10}, 5.0) == [(45,)]
