"""`bench/replay.py` runs end to end on a tiny feed (a smoke test, a few seconds): both sides
rebuilt the whole feed, and it prints its JSON and its table."""

from __future__ import annotations

from fleetwatch.wiring import READ_MODELS
from tests.integration.benches import run_bench


def test_bench_replay_runs_on_a_tiny_feed() -> None:
    result, table = run_bench("replay.py", "--events", "1500", "--devices", "20")
    assert result["events"] >= 1500
    assert result["ours"]["models"] == len(READ_MODELS)  # every read model rebuilt
    assert result["ours"]["events_per_s"] > 0
    assert result["library"]["events_per_s"] > 0
    assert "library ProjectionRunner" in table
