"""`bench/replay.py` runs end to end on a tiny feed (a smoke test, a few seconds): both sides
rebuilt the whole feed, and it prints its JSON and its table."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from fleetwatch.wiring import READ_MODELS

ROOT = Path(__file__).resolve().parents[2]


def test_bench_replay_runs_on_a_tiny_feed() -> None:
    done = subprocess.run(
        [sys.executable, "bench/replay.py", "--events", "1500", "--devices", "20"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    document, table = done.stdout.split("\n\n", 1)
    result = json.loads(document)
    assert result["events"] >= 1500
    assert result["ours"]["models"] == len(READ_MODELS)  # every read model rebuilt
    assert result["ours"]["events_per_s"] > 0
    assert result["library"]["events_per_s"] > 0
    assert "library ProjectionRunner" in table
