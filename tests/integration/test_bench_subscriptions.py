"""`bench/subscriptions.py` runs end to end with a few subscribers (a smoke test, seconds): a
real `fleetwatch serve` per mode (two over Redis in the third), every delivery received in each,
its JSON and its table."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_subscriptions_runs_with_a_few_subscribers(redis_url: str) -> None:
    done = subprocess.run(
        [sys.executable, "bench/subscriptions.py", "--subscribers", "12", "--changes", "3",
         "--interval", "0.05", "--modes", "unshared,shared,redis", "--redis", redis_url],
        cwd=ROOT, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    document, table = done.stdout.split("\n\n", 1)
    results = json.loads(document)
    assert [(r["mode"], r["processes"]) for r in results] == [
        ("unshared", 1), ("shared", 1), ("redis", 2)
    ]  # fmt: skip
    for r in results:
        assert r["deliveries_received"] == r["deliveries_expected"] == 36
        assert r["latency_ms"]["p99"] > 0
        assert r["server_cpu_us_per_delivery"] > 0
    assert "unshared" in table
