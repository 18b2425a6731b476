"""`bench/report.py` runs end to end on a tiny fleet (a smoke test, a few seconds): both
reports completed over the whole feed, and it prints its JSON and its table."""

from __future__ import annotations

from tests.integration.benches import run_bench


def test_bench_report_runs_on_a_tiny_fleet() -> None:
    result, table = run_bench("report.py", "--devices", "30", "--batches", "5", "--alerts", "12")
    # registrations, rules, 5 batches + 1 outage + 1 return per device, 3 events per alert
    assert result["feed_events"] >= 30 + 5 + 30 * 7 + 12 * 3
    for format in ("csv", "html"):
        assert result[format]["rows"] > 30, result  # a few per device
        assert result[format]["feed_events_per_s"] > 0
    assert result["baseline_bare_scan_events_per_s"] > 0
    assert "report html" in table
