"""`bench/alerting_restart.py` runs end to end on a small feed (a smoke test, seconds): the
restart from the snapshot keeps every watch with its state and reads only the tail, the one
from the feed reads the facts from the start and keeps no state."""

from __future__ import annotations

from tests.integration.benches import run_bench


def test_bench_alerting_restart_runs_on_a_small_feed() -> None:
    args = ("--events", "2000", "--devices", "20", "--rules", "5", "--tail", "100")
    result, table = run_bench("alerting_restart.py", *args, "--watch-devices", "50")
    (run,) = result["restarts"]
    assert run["watches"] == run["restart_from_snapshot_watches"] == 20 * 5
    assert run["restart_from_snapshot_events_read"] == 100  # the tail only
    assert run["restart_from_feed_events_read"] > 20  # devices and rules from the start
    assert run["restart_from_feed_watches_with_state"] == 0
    assert result["policy_snapshot"]["restored_watches"] == 50 * 5
    assert "from snapshot" in table
