"""`bench/leases.py` runs on both stores (a smoke test, seconds): fenced and unfenced commits,
and each lease call a turn makes, timed on the same recorder."""

from __future__ import annotations

from tests.integration.benches import run_bench


def test_bench_leases_times_the_fence_and_the_lease_calls(dynamodb_endpoint: str) -> None:
    args = ("--commits", "40", "--events", "5", "--endpoint", dynamodb_endpoint)
    result, table = run_bench("leases.py", *args)
    assert [r["store"] for r in result["results"]] == ["sqlite", "dynamodb"]
    for run in result["results"]:
        assert run["fenced_commit"]["calls"] == run["unfenced_commit"]["calls"] == 40
        for call in ("renew", "read", "acquire"):
            assert run[call]["calls"] == 200
            assert run[call]["median_us"] > 0
    assert "fence cost" in table
