"""How much of the per-stage CPU cost is the cyclic garbage collector's (diagnosis).

    .venv/bin/python bench/gc_tuning.py [--devices 200] [--rules 100]
        [--threshold 50000,20,100] [--freeze]

Runs `bench/ingest.py`'s breakdown (one stage at a time, SQLite) twice, each in its own process:
with the interpreter's default GC settings, then with `gc.set_threshold(*--threshold)` (and,
with `--freeze`, `gc.freeze()` after provisioning, as a composition root would after startup).
Prints one JSON document: us per message by stage, and the collections run per generation.
Nothing here changes the service: the settings apply to this bench's child processes only.
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]


def measure(args: argparse.Namespace, tuned: bool) -> dict[str, Any]:
    import ingest

    collections: list[int] = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "stop":
            collections.append(info["generation"])

    if tuned:
        gc.set_threshold(*(int(x) for x in args.threshold.split(",")))
        if args.freeze:
            provision = ingest.provision

            def provision_then_freeze(*a: Any) -> Any:
                result = provision(*a)
                gc.collect()
                gc.freeze()
                return result

            ingest.provision = provision_then_freeze  # type: ignore[assignment]
    gc.callbacks.append(count)
    result = ingest.run_breakdown(args)
    return {
        "gc": {"threshold": gc.get_threshold(), "frozen": gc.get_freeze_count() > 0},
        "cpu_us_per_message_by_stage": result["cpu_us_per_message_by_stage"],
        "collections_by_generation": {g: collections.count(g) for g in range(3)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--rules", type=int, default=100)
    parser.add_argument("--threshold", default="50000,20,100")
    parser.add_argument("--freeze", action="store_true")
    parser.add_argument("--child", choices=("default", "tuned"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args, args.child == "tuned")))
        return
    report = {}
    for run in ("default", "tuned"):
        command = [sys.executable, __file__, "--child", run, *sys.argv[1:]]
        out = subprocess.run(command, capture_output=True, text=True, check=True)
        report[run] = json.loads(out.stdout.strip().splitlines()[-1])
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
