"""`bench/replay_scan.py` runs end to end on a small table against the session's DynamoDB Local
(a smoke test): both ways walk every row, and it prints its JSON and its table."""

from __future__ import annotations

from tests.integration.benches import run_bench


def test_bench_replay_scan_runs_on_a_small_table(dynamodb_endpoint: str) -> None:
    result, table = run_bench("replay_scan.py", "--items", "300", "--endpoint", dynamodb_endpoint)
    assert result["list"]["rows"] == result["spilled"]["rows"] == 300
    assert result["spilled"]["peak_rss_mib"] > 0
    assert "spilled to SQLite" in table
