"""Rebuilding every read model from the feed (`fleetwatch replay`, docs/audit.md 19.6), beside
the `eventsourcing` library's own projection runner on the same events, in the same run.

    .venv/bin/python bench/replay.py [--events 1000000] [--devices 500] [--processes N]

Feed, on the embedded default (SQLite), built through the write side (not timed): one user's
profile, one threshold rule (temperature > 80 on pumps), `--devices` pumps registered with
credentials, then rounds of one message per device (3 metrics; one device in 50 per round
reads 90 degrees, the next round 20 again) saved as the ingestion saves them
(`FleetApplication.save_telemetry`: `Telemetry` streams, `BatchRecorded` and `DeviceCameOnline`
events), until `--events` events are stored. Every 50 rounds the real alerting process manager
catches up, so `Alert.Raised` / `Alert.Resolved` events are interleaved in the feed.

Ours: every read model of `fleetwatch.wiring.READ_MODELS` (all eight) rebuilt into scratch
SQLite files from position zero to the head (`fleetwatch.replay_build.rebuild`, what `fleetwatch
replay` does before comparing; the comparison with the live rows is left out), with the garbage
collector tuned as `fleetwatch replay` tunes it (`fleetwatch.runtime.tune_gc`), the models split
between `--processes` processes (default 0: as many as the CPUs this process may use, as
`fleetwatch replay` does; 1: all in one). Baseline: the
library's `ProjectionRunner` (its `ApplicationSubscription` over the same store file, our
application class so the same mapper decodes the events) with a minimal projection, one row per
stream (last topic and version) and the tracking record in one transaction per event (the
library's `SQLiteTrackingRecorder`), timed until it has tracked the head, with the interpreter's
default collector, as the library runs. Measured: events/s (events in the feed / wall), wall,
peak RSS of each (each in its own process, so one's memory does not count in the other's; ours
also gives the largest peak of the processes it forked, `children_peak_rss_mib`).
Prints one JSON document, then a table.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]

from eventsourcing.domain import DomainEventProtocol  # noqa: E402
from eventsourcing.persistence import Tracking  # noqa: E402
from eventsourcing.projection import Projection, ProjectionRunner  # noqa: E402
from eventsourcing.sqlite import SQLiteTrackingRecorder  # noqa: E402

from event_store.envelope import EventMetadata  # noqa: E402
from fleetwatch.bootstrap import build_system  # noqa: E402
from fleetwatch.replay_build import cpus, rebuild, split  # noqa: E402
from fleetwatch.runtime import tune_gc  # noqa: E402
from fleetwatch.settings import Settings  # noqa: E402
from fleetwatch.wiring import READ_MODELS  # noqa: E402
from projections.batching import BatchingProjectionWorker  # noqa: E402
from write_side.alert_commands import CreateAlertRule  # noqa: E402
from write_side.alert_rules import parse_rule_definition  # noqa: E402
from write_side.application import FleetApplication  # noqa: E402
from write_side.commands import RegisterDevice  # noqa: E402
from write_side.credentials import IssueDeviceCredential  # noqa: E402
from write_side.telemetry import BatchEntry, Reading  # noqa: E402
from write_side.telemetry_log import Telemetry  # noqa: E402
from write_side.user_commands import UpdateMyProfile  # noqa: E402

META = EventMetadata("bench", "user:bench")
INGEST = EventMetadata("bench", "system:ingest")
RULE = {
    "name": "too hot",
    "scope": {"device_type": "pump"},
    "severity": "critical",
    "condition": {"kind": "threshold", "metric": "temperature", "op": ">", "value": 80},
}


def feed(settings: Settings, events: int, devices: int) -> int:
    """Store about `events` events (see the module's docstring); returns the feed's head."""
    system = build_system(settings)
    try:
        profile = UpdateMyProfile(display_name="Bench", email="bench@example.com")
        system.user_service.update_my_profile("user:bench", profile, META)
        rule = CreateAlertRule(definition=parse_rule_definition(RULE))
        system.alert_service.create_rule(rule, META)
        streams = []
        for i in range(devices):
            command = RegisterDevice(name=f"p{i}", device_type="pump")
            device = system.device_service.register(command, META).aggregate.id
            system.device_service.issue_credential(IssueDeviceCredential(device_id=device), META)
            streams.append(Telemetry(tenant_id=META.tenant_id, device_id=device))
        alerting = system.workers["alerting"]
        assert isinstance(alerting, BatchingProjectionWorker)
        alerting.resume()
        start = datetime.now(UTC) - timedelta(days=1)
        head, rounds = system.app.recorder.max_notification_id() or 0, 0
        while head < events:
            at = start + timedelta(seconds=rounds)
            for i, stream in enumerate(streams):
                hot = (rounds + i) % 50 == 0
                values = (("temperature", 90.0 if hot else 20.0 + i % 7), ("humidity", 40.0),
                          ("battery", 90.0))  # fmt: skip
                readings = tuple(Reading(metric, value, at) for metric, value in values)
                stream.record([BatchEntry(f"{i}-{rounds}", at, readings)], at, "http")
            for first in range(0, len(streams), 250):
                system.app.save_telemetry(streams[first : first + 250], INGEST)
            rounds += 1
            if rounds % 50 == 0:
                alerting.catch_up()
            head = system.app.recorder.max_notification_id() or 0
        alerting.catch_up()
        return system.app.recorder.max_notification_id() or 0
    finally:
        system.close()


def ours(settings: Settings, head: int, processes: int, out: dict[str, Any]) -> None:
    system = build_system(settings)
    tune_gc()  # as `fleetwatch replay` does
    names = [m.name for m in READ_MODELS]
    used = len(split(names, processes or cpus()))
    try:
        with tempfile.TemporaryDirectory(dir=settings.sqlite_path.parent) as scratch:
            started = time.perf_counter()
            positions = rebuild(
                system.app, settings, Path(scratch), names, head, processes=processes or None
            )
            wall = time.perf_counter() - started
    finally:
        system.close()
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    out |= _figures(head, wall) | {"models": len(positions), "processes": used}
    if used > 1:
        out["children_peak_rss_mib"] = round(children, 1)


class LastEventView(SQLiteTrackingRecorder):
    """One row per stream (last topic, version), written with the tracking record."""

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            "CREATE TABLE IF NOT EXISTS last_event "
            "(stream_id TEXT PRIMARY KEY, topic TEXT, version INTEGER)",
        ]

    def record(self, stream_id: str, topic: str, version: int, tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute(
                "INSERT INTO last_event VALUES (?, ?, ?) ON CONFLICT (stream_id) DO UPDATE "
                "SET topic = excluded.topic, version = excluded.version",
                (stream_id, topic, version),
            )
            self._insert_tracking(c, tracking)


class LastEvent(Projection[LastEventView]):
    name = "lastevent"

    def process_event(self, domain_event: DomainEventProtocol[Any], tracking: Tracking) -> None:
        topic = type(domain_event).__qualname__
        stream = str(domain_event.originator_id)
        self.view.record(stream, topic, domain_event.originator_version, tracking)


def library(settings: Settings, head: int, out: dict[str, Any]) -> None:
    view_db = settings.sqlite_path.parent / "library-view.sqlite3"
    env = {
        "PERSISTENCE_MODULE": "event_store.sqlite",  # the library's has no subscription
        "SQLITE_DBNAME": str(settings.sqlite_path),
        "LASTEVENT_SQLITE_DBNAME": str(view_db),
        "CREATE_TABLE": "y",
    }
    started = time.perf_counter()
    with ProjectionRunner(
        application_class=FleetApplication,
        projection_class=LastEvent,
        view_class=LastEventView,
        env=env,
    ) as runner:
        runner.wait(head, timeout=3600)
        wall = time.perf_counter() - started
        tracked = runner.view.max_tracking_id(runner.app_name)
    if tracked != head:
        raise SystemExit(f"the library's runner tracked {tracked}, not {head}")
    out |= _figures(head, wall)


def _figures(events: int, wall: float) -> dict[str, Any]:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "events_per_s": round(events / wall),
        "wall_s": round(wall, 2),
        "peak_rss_mib": round(rss, 1),
    }


def apart(target: Any, *args: Any) -> dict[str, Any]:
    """`target(*args, out)` in a process of its own (its own peak RSS); what it put in `out`."""
    with multiprocessing.Manager() as manager:
        out = manager.dict()
        process = multiprocessing.get_context("fork").Process(
            target=_into, args=(target, out, *args)
        )
        process.start()
        process.join()
        if process.exitcode != 0:
            raise SystemExit(f"{target.__name__} failed ({process.exitcode})")
        return dict(out)


def _into(target: Any, out: Any, *args: Any) -> None:
    figures: dict[str, Any] = {}
    target(*args, figures)
    out.update(figures)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--devices", type=int, default=500)
    parser.add_argument("--processes", type=int, default=0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(store="sqlite", sqlite_path=Path(tmp) / "fleet.sqlite3",
                            blob_dir=Path(tmp) / "b")  # fmt: skip
        started = time.perf_counter()
        head = feed(settings, args.events, args.devices)
        result: dict[str, Any] = {"benchmark": "replay", "store": "sqlite", "events": head,
                                  "devices": args.devices,
                                  "feed_s": round(time.perf_counter() - started, 1)}  # fmt: skip
        result["ours"] = apart(ours, settings, head, args.processes)
        result["library"] = apart(library, settings, head)
    result["ours/library"] = round(
        result["ours"]["events_per_s"] / result["library"]["events_per_s"], 2
    )
    print(json.dumps(result, indent=2))
    print()
    print(table(result))
    return result


def table(result: Mapping[str, Any]) -> str:
    lines = [f"sqlite events={result['events']:<10,}{'':<30}{'events/s':>10}{'wall s':>9}"
             f"{'peak RSS MiB':>14}  vs library"]  # fmt: skip
    base = result["library"]["events_per_s"]
    mine = result["ours"]
    for name, label in (("ours", f"ours: {mine['models']} models, {mine['processes']} process(es)"),
                        ("library", "library ProjectionRunner, 1 row/stream")):  # fmt: skip
        row = result[name]
        forked = row.get("children_peak_rss_mib")  # this process's peak / its children's
        rss = f"{row['peak_rss_mib']}" + ("" if forked is None else f"/{forked}")
        lines.append(f"{'':<18}{label:<40}{row['events_per_s']:>10,}{row['wall_s']:>9}"
                     f"{rss:>14}  {row['events_per_s'] / base:.2f}x")  # fmt: skip
    return "\n".join(lines)


if __name__ == "__main__":
    main()
