"""CPU per message of each ingestion stage, single-threaded, optionally under cProfile.

    .venv/bin/python bench/stages.py [--devices 200] [--rules 100] [--messages 40000]
        [--flush 2000] [--profile ingestion,telemetry,alerting,...] [--top 30]

The `bench/ingest.py` workload (same devices, rules and 3-metric MQTT payloads) on SQLite, one
stage at a time in this thread: `prepare` (parse, validate, authenticate) of every message,
`commit` of the handler's groups `--flush` messages at a time (as the flusher would), then each
wired projection / process manager catching up on the feed. Prints one JSON document (us per
message by stage); `--profile` prints the cProfile of the named stages to stderr.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from ingest import payload, provision  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--rules", type=int, default=100)
    parser.add_argument("--messages", type=int, default=40_000)
    parser.add_argument("--flush", type=int, default=2000, help="messages per commit")
    parser.add_argument("--profile", default="", help="stages to profile (comma separated)")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    profiled = set(filter(None, args.profile.split(",")))

    from fleetwatch.bootstrap import build_system
    from fleetwatch.settings import Settings
    from ingestion.settings import IngestSettings
    from write_side.ingestion import Pending, Submission

    costs: dict[str, float] = {}

    def stage(name: str, work: Callable[[], Any]) -> Any:
        profiler = cProfile.Profile() if name in profiled else None
        started = time.perf_counter()
        if profiler is not None:
            profiler.enable()
        result = work()
        if profiler is not None:
            profiler.disable()
        costs[name] = round((time.perf_counter() - started) / args.messages * 1e6, 1)
        if profiler is not None:
            print(f"--- {name} ---", file=sys.stderr)
            stats = pstats.Stats(profiler, stream=sys.stderr)
            stats.sort_stats("tottime").print_stats(args.top)
        return result

    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(sqlite_path=Path(folder) / "s.sqlite3", run_projections=False)
        system = build_system(settings, IngestSettings())
        try:
            fleet, _ = provision(system, args.devices, args.rules)
            for worker in system.workers.values():
                worker.catch_up()
            assert system.ingest is not None
            handler = system.ingest.handler
            submissions = [
                Submission(payload(fleet[i % len(fleet)], i), "mqtt") for i in range(args.messages)
            ]
            pendings = stage("prepare", lambda: [handler.prepare(s) for s in submissions])
            assert all(isinstance(p, Pending) for p in pendings)

            def commit() -> None:
                for start in range(0, len(pendings), args.flush):
                    for group in handler.plan(pendings[start : start + args.flush]):
                        handler.commit(group)

            stage("commit", commit)
            for name, worker in system.workers.items():
                stage(name, worker.catch_up)
        finally:
            system.close()
    print(json.dumps({"us_per_message_by_stage": costs}))


if __name__ == "__main__":
    main()
