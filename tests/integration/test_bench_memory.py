"""`bench/memory.py` runs end to end on a few devices (a smoke test, seconds): windows full,
its JSON and its table; a stream holds at least its window's digests and less than a plain set
of the same ids, and the window is bounded by count for a device that sends often and by device
time for one that sends rarely; a (rule, device) pair, quiet or fired once, takes less than a
watch each took."""

from __future__ import annotations

from tests.integration.benches import run_bench
from write_side.telemetry_window import SIZE


def test_bench_memory_runs_on_a_few_devices() -> None:
    args = ("--devices", "5", "--messages", "1100", "--rules", "30")
    result, table = run_bench("memory.py", *args, "--interval", "0.1")
    assert result["window_ids"] == 1024  # by count: 1,100 messages in 110 s
    baseline = result["baseline_plain_set_of_ids_bytes_per_device"]
    assert 1024 * SIZE <= result["telemetry_stream_bytes_per_device"] < baseline
    rare, _ = run_bench("memory.py", *args, "--interval", "10")
    assert rare["window_ids"] == 31  # by device time: the last 300 s
    assert rare["telemetry_stream_bytes_per_device"] < 1024 * SIZE  # less than 1,024 digests
    # A watch each took 176 bytes. (With a few devices, the shared plan and the compiled rules
    # weigh on the quiet pair's figure.)
    assert 0 <= result["alerting_bytes_per_rule_device_pair"] < 176
    assert 0 <= result["alerting_bytes_per_fired_pair"] < 176
    assert "projected" in table
