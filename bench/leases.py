"""What worker leases cost (docs/projections.md 7.3): the fence on each checkpoint commit, and
the lease calls each process makes per turn, on SQLite and on DynamoDB Local.

    .venv/bin/python bench/leases.py [--commits 2000] [--events 20] [--endpoint URL]
        [--stores sqlite,dynamodb] [--json-only]

Per store, in the same run and on the same recorder (the process recorder a process manager
commits through):

- ``unfenced``: `--commits` commits of `--events` events with a checkpoint, no lease held (the
  baseline: leases off, or a rebuild);
- ``fenced``: the same commits while this process holds the consumer's lease with its token
  registered (SQLite: one read of the lease row inside the write transaction; DynamoDB: one
  more clause in the tracking update's condition);
- the lease calls a turn makes: ``renew`` (per held worker), ``read`` (per worker held
  elsewhere, before any taking), ``acquire``.

Prints one JSON document and a table: microseconds per call (median and p99) and the fence's
cost per commit against the baseline. DynamoDB Local is started here unless ``--endpoint``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]

from dynamodb_local import dynamodb_local  # noqa: E402
from eventsourcing.persistence import ProcessRecorder, StoredEvent, Tracking  # noqa: E402

from event_store.leases import LeaseStore, fences  # noqa: E402
from fleetwatch.settings import Settings  # noqa: E402
from fleetwatch.wiring import application_env  # noqa: E402
from write_side.application import FleetApplication  # noqa: E402

os.environ.setdefault("AWS_ACCESS_KEY_ID", "fleetwatchbench")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "fleetwatchbench")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")


def timed(call: Callable[[], object], times: int) -> list[float]:
    """Microseconds of each of `times` calls."""
    samples = []
    for _ in range(times):
        began = time.perf_counter()
        call()
        samples.append((time.perf_counter() - began) * 1e6)
    return samples


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "median_us": round(statistics.median(ordered), 1),
        "p99_us": round(ordered[int(len(ordered) * 0.99) - 1], 1),
        "calls": len(ordered),
    }


def measure(settings: Settings, commits: int, per_commit: int) -> dict[str, Any]:
    app = FleetApplication(env=application_env(settings))
    try:
        recorder: ProcessRecorder = app.factory.process_recorder()
        leases = cast("LeaseStore", recorder)
        datastore = cast("Any", recorder).datastore
        position = 0

        def commit(name: str) -> Callable[[], object]:
            def one() -> object:
                nonlocal position
                position += 1
                events = [
                    StoredEvent(uuid.uuid4(), 1, "bench.leases:Event", b'{"v": 1}')
                    for _ in range(per_commit)
                ]
                return recorder.insert_events(events, tracking=Tracking(name, position))

            return one

        timed(commit("warm"), 50)
        lease = leases.acquire_lease("bench>fenced", "bench", ttl=600, now=time.time())
        assert lease is not None
        fences(datastore).hold("bench>fenced", lease.token)
        unfenced: list[float] = []
        fenced: list[float] = []
        for _ in range(commits):  # alternated, so drift (the store growing) hits both alike
            unfenced += timed(commit("bench>unfenced"), 1)
            fenced += timed(commit("bench>fenced"), 1)
        turns = max(200, commits // 10)
        renew = timed(lambda: leases.renew_lease(lease, 600, time.time()), turns)
        read = timed(lambda: leases.read_lease("bench>fenced"), turns)
        names = iter(f"bench>acquire-{i}" for i in range(turns))
        acquire = timed(lambda: leases.acquire_lease(next(names), "b", 600, time.time()), turns)
    finally:
        app.close()
    base, with_fence = summary(unfenced), summary(fenced)
    return {
        "store": settings.store,
        "events_per_commit": per_commit,
        "unfenced_commit": base,
        "fenced_commit": with_fence,
        "fence_cost_us": round(with_fence["median_us"] - base["median_us"], 1),
        "fence_cost_ratio": round(with_fence["median_us"] / base["median_us"], 3),
        "renew": summary(renew),
        "read": summary(read),
        "acquire": summary(acquire),
    }


def table(results: list[dict[str, Any]]) -> str:
    rows = [
        f"{'store':<9} {'call':<16} {'median us':>10} {'p99 us':>10}",
    ]
    for result in results:
        for call in ("unfenced_commit", "fenced_commit", "renew", "read", "acquire"):
            stats = result[call]
            rows.append(
                f"{result['store']:<9} {call:<16} {stats['median_us']:>10} {stats['p99_us']:>10}"
            )
        rows.append(
            f"{result['store']:<9} fence cost: {result['fence_cost_us']} us per commit "
            f"({result['fence_cost_ratio']}x the unfenced baseline)"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commits", type=int, default=2000)
    parser.add_argument("--events", type=int, default=20, help="events per commit")
    parser.add_argument("--stores", default="sqlite,dynamodb")
    parser.add_argument("--endpoint", default=None, help="a running DynamoDB Local")
    parser.add_argument("--json-only", action="store_true")
    args = parser.parse_args()
    stores = [s for s in args.stores.split(",") if s]
    results = []
    with contextlib.ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        for store in stores:
            if store == "sqlite":
                settings = Settings(store="sqlite", sqlite_path=Path(tmp) / "bench.sqlite3")
            else:
                endpoint = args.endpoint or stack.enter_context(dynamodb_local())
                prefix = f"bench{uuid.uuid4().hex[:8]}_"
                settings = Settings(
                    store="dynamodb", dynamodb_endpoint_url=endpoint, dynamodb_table_prefix=prefix
                )
            results.append(measure(settings, args.commits, args.events))
    print(json.dumps({"bench": "leases", "results": results}, indent=2))
    if not args.json_only:
        print()
        print(table(results))


if __name__ == "__main__":
    main()
