"""`bench/subscriptions.py` runs end to end with a few subscribers (a smoke test, seconds): a
real `fleetwatch serve` unshared, one shared with its frames through ASGI, one whose idle
readers poll the feed, then two shared over Redis; every delivery received in each, its JSON
and its table."""

from __future__ import annotations

from tests.integration.benches import run_bench


def test_bench_subscriptions_runs_with_a_few_subscribers(redis_url: str) -> None:
    results, table = run_bench(
        "subscriptions.py", "--subscribers", "12", "--changes", "3", "--interval", "0.05",
        "--modes", "unshared,shared-asgi,shared-polling,redis", "--redis", redis_url, timeout=180,
    )  # fmt: skip
    assert [(r["mode"], r["processes"], r["frames"], r["feed_watch"]) for r in results] == [
        ("unshared", 1, True, True), ("shared-asgi", 1, False, True),
        ("shared-polling", 1, True, False), ("redis", 2, True, True),
    ]  # fmt: skip
    for r in results:
        assert r["deliveries_received"] == r["deliveries_expected"] == 36
        assert r["latency_ms"]["p99"] > 0
        assert r["server_cpu_us_per_delivery"] > 0
    assert "unshared" in table
