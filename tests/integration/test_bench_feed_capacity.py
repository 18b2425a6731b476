"""`bench/feed_latency.py` and `bench/write_cost.py` run end to end on a few commits (smoke
tests, seconds each, each on a DynamoDB Local of its own): their JSON and their tables."""

from __future__ import annotations

import pytest

from tests.integration.benches import run_bench

pytestmark = pytest.mark.dynamodb


def test_bench_feed_latency_runs_and_the_round_trip_slows_the_chain() -> None:
    result, table = run_bench(
        "feed_latency.py", "--latency", "0,30", "--writers", "1", "--streams", "5",
        "--seconds", "1.5",
    )  # fmt: skip
    fast, slow = result["rows"]
    assert fast["commits"] > 0
    assert slow["commits"] > 0
    assert 1.0 <= slow["requests_per_commit"] < 1.5  # a commit is one transaction
    assert slow["p50_ms"] >= 30  # the injected round trip is in every commit
    assert slow["chain_ceiling_commits_per_s"] < 34
    assert "| 30 | 1 |" in table


def test_bench_write_cost_counts_the_commits_and_the_projectors() -> None:
    one, _ = run_bench("write_cost.py", "--devices", "5", "--rounds", "2")
    ten, table = run_bench("write_cost.py", "--devices", "5", "--rounds", "2", "--per-event", "10")
    assert one["messages"] == 10
    assert ten["messages"] == 100
    for result in (one, ten):
        rows = result["rows"]
        assert rows["commits"]["wru"] > 0
        assert rows["projectors"]["wru"] > 0
        assert "TransactWriteItems" in result["calls"]["commits"]
    # a message costs less when ten of a device share an event
    assert ten["rows"]["total"]["wru"] < one["rows"]["total"]["wru"] / 3
    assert "| total |" in table
