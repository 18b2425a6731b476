"""Running a benchmark script as its smoke test does: `bench/<name>.py` with its arguments, in
a process of its own; its JSON document and its table."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def run_bench(script: str, *args: str, timeout: float = 120) -> tuple[Any, str]:
    """The bench's JSON (what it printed first) and its table (what followed a blank line).
    A DynamoDB Local it starts runs the JVM of a short run (scripts/dynamodb_local.py)."""
    env = os.environ | {"FLEETWATCH_DYNAMODB_LOCAL_QUICK": "1"}
    done = subprocess.run(
        [sys.executable, f"bench/{script}", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    document, table = done.stdout.split("\n\n", 1)
    return json.loads(document), table
