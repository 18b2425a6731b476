"""`bench/report.py` runs end to end on a tiny fleet (a smoke test, a few seconds): both
reports completed over the whole feed, and it prints its JSON and its table."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_report_runs_on_a_tiny_fleet() -> None:
    done = subprocess.run(
        [sys.executable, "bench/report.py", "--devices", "30", "--batches", "5", "--alerts", "12"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    document, table = done.stdout.split("\n\n", 1)
    result = json.loads(document)
    # registrations, rules, 5 batches + 1 outage + 1 return per device, 3 events per alert
    assert result["feed_events"] >= 30 + 5 + 30 * 7 + 12 * 3
    for format in ("csv", "html"):
        assert result[format]["rows"] > 30, result  # a few per device
        assert result[format]["feed_events_per_s"] > 0
    assert result["baseline_bare_scan_events_per_s"] > 0
    assert "report html" in table
