"""`bench/feed_latency.py`, `bench/write_cost.py` and `bench/kinesis_batch.py` run end to end on
a few commits (smoke tests, seconds each, each on a DynamoDB Local of its own): their JSON and
their tables."""

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


def test_bench_kinesis_batch_puts_a_devices_messages_in_one_event() -> None:
    result, table = run_bench(
        "kinesis_batch.py", "--devices", "12", "--per-device", "1,5", "--latency", "0"
    )
    one, five = result["rows"]
    assert (one["records"], five["records"]) == (12, 60)
    assert one["messages_per_event"] == 1.0
    assert five["messages_per_event"] == 5.0  # each device's five messages: one event
    assert five["commits"] == one["commits"] >= 1  # the same devices: the same commits
    assert five["cpu_us_per_message"] > 0
    assert "| 0 | 5 | 60 |" in table
