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
    if result["ours"]["processes"] > 1:  # split between processes: their memory is given too
        assert result["ours"]["children_peak_rss_mib"] > 0
    alone, _ = run_bench("replay.py", "--events", "1500", "--devices", "20", "--processes", "1")
    assert (alone["ours"]["processes"], alone["ours"]["models"]) == (1, len(READ_MODELS))
    assert "children_peak_rss_mib" not in alone["ours"]
