"""`bench/alerting_fleet.py` runs end to end on a small fleet (a smoke test, seconds): every pair
counted, each pair of the devices that fired opened and resolved once, its JSON and table."""

from __future__ import annotations

from tests.integration.benches import run_bench


def test_bench_alerting_fleet_runs_on_a_small_fleet() -> None:
    args = ("--devices", "200", "--rules", "20", "--messages", "3", "--fired", "0.5")
    result, table = run_bench("alerting_fleet.py", *args)
    assert result["pairs"] == 200 * 20
    assert result["commands"] == 100 * 20 * 2  # an open and its auto-resolve per fired pair
    assert result["rss_after_mib"] >= result["rss_baseline_mib"]
    assert "per (rule, device) pair" in table
