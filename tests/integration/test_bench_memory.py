"""`bench/memory.py` runs end to end on a few devices (a smoke test, seconds): windows full,
its JSON and its table; a stream holds at least its window of ids."""

from __future__ import annotations

from tests.integration.benches import run_bench


def test_bench_memory_runs_on_a_few_devices() -> None:
    result, table = run_bench("memory.py", "--devices", "5", "--messages", "1100", "--rules", "3")
    assert result["window_ids"] == 1024
    baseline = result["baseline_plain_set_of_ids_bytes_per_device"]
    assert result["telemetry_stream_bytes_per_device"] >= baseline > 0
    assert result["alerting_bytes_per_rule_device_pair"] > 0
    assert "projected" in table
