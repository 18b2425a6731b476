"""Telemetry ingestion end to end: accepted -> read models updated, beside a plain baseline.

    .venv/bin/python bench/ingest.py [--devices 200] [--rate 10000] [--duration 60]
        [--dynamodb-rate 0] [--dynamodb-duration 30] [--baseline-duration 20] [--rules 100]
        [--stores sqlite,sqlite-2proc,sqlite-3proc,dynamodb] [--json-only]

Workload: `--devices` registered devices with credentials, `--rules` alert rules active (scoped
to the devices' type), messages of 3 metrics (temperature, humidity, battery) with the device
token in the payload, as MQTT delivers them (JSON bytes), submitted to the ingestion service in
bursts of 50 at `--rate` messages/s (0 = as fast as the service takes them), each message told
its result by a callback as the MQTT transport is (`submit_each`, no future). Each burst's
latency runs from its submission until EVERY projection / process manager wired in the
composition root has applied its messages (so it includes validation, authentication,
buffering, the commit and the read models). Each store runs in its own process (peak RSS is
per run); RSS is sampled every 10 s. DynamoDB Local is started here (scripts/dynamodb_local.py).

Baseline, same run: the same messages written the plain way with the `eventsourcing` library
(one aggregate per device, one load and one save per message, library defaults: SQLite
persistence module, no snapshots, no cache); it parses and validates like the service but
writes no read model and checks no credential, so it is flattered, not handicapped.

Prints one JSON document, then a table.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from array import array
from collections import deque
from concurrent.futures import Future
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]

BURST = 50


def rss_mb(pid: int | None = None, field: str = "VmRSS") -> float:
    """Resident memory of a process (this one by default; `VmHWM`: its peak)."""
    for line in Path(f"/proc/{pid or 'self'}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return 0.0


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Histogram:
    """Weighted latencies in 1 ms bins, allocated once: the instrument must not grow while it
    runs, since whether the service's memory stays flat is one of the things it measures."""

    def __init__(self, limit_s: float = 300.0) -> None:
        self.counts = array("q", bytes(8 * (int(limit_s * 1000) + 1)))  # the last bin: beyond
        self.total = 0
        self.max = 0.0

    def add(self, seconds: float, weight: int) -> None:
        self.counts[min(int(seconds * 1000), len(self.counts) - 1)] += weight
        self.total += weight
        self.max = max(self.max, seconds)

    def percentile_ms(self, q: float) -> float:
        """The upper edge of the bin holding the q-th weighted quantile (NaN when empty)."""
        seen = 0
        for k, count in enumerate(self.counts):
            seen += count
            if count and seen >= q * self.total:
                return float(k + 1)
        return float("nan")


class PerSecond:
    """Messages applied in each second since `origin` (allocated once, like `Histogram`)."""

    def __init__(self, origin: float, seconds: int) -> None:
        self.origin = origin
        self.counts = array("q", bytes(8 * seconds))

    def add(self, at: float, count: int) -> None:
        self.counts[min(int(at - self.origin), len(self.counts) - 1)] += count

    def sustained(self, start: float, end: float) -> float | None:
        """Messages applied per second between `start` and `end` (None when too short)."""
        if end - start < 5:
            return None
        first, last = int(start - self.origin), int(end - self.origin)
        return round(sum(self.counts[first:last]) / (last - first), 1)


def payload(device: tuple[str, str], sequence: int) -> bytes:
    device_id, token = device
    now = datetime.now(UTC).isoformat()
    t = 20 + (sequence % 50) / 10
    return (
        f'{{"device_id":"{device_id}","message_id":"b{sequence}","timestamp":"{now}",'
        f'"metrics":{{"temperature":{t},"humidity":45.5,"battery":{100 - sequence % 100}}},'
        f'"token":"{token}"}}'
    ).encode()


# --- the service ---------------------------------------------------------------------------


def provision(system: Any, devices: int, rules: int) -> tuple[list[tuple[str, str]], int]:
    from event_store.envelope import EventMetadata
    from write_side.commands import RegisterDevice
    from write_side.credentials import IssueDeviceCredential

    meta = EventMetadata("bench", "user:bench")
    fleet = []
    for i in range(devices):
        saved = system.device_service.register(
            RegisterDevice(name=f"bench-{i}", device_type="bench", tags=["bench"]), meta
        )
        token = system.device_service.issue_credential(
            IssueDeviceCredential(device_id=saved.aggregate.id), meta
        ).token
        fleet.append((str(saved.aggregate.id), token))
    created = 0
    try:
        from write_side.alert_commands import CreateAlertRule
        from write_side.alert_rules import parse_rule_definition
        from write_side.alert_service import AlertService
    except ImportError:
        return fleet, created
    service = AlertService(system.app)
    for i in range(rules):
        metric = ("temperature", "humidity", "battery")[i % 3]
        op, value = (">", 1000.0 + i) if metric != "battery" else ("<", -1.0 - i)
        definition = parse_rule_definition({
            "name": f"bench rule {i}", "scope": {"device_type": "bench"},
            "severity": ("info", "warning", "critical")[i % 3],
            "condition": {"kind": "threshold", "metric": metric, "op": op, "value": value},
            "hysteresis": 1.0,
        })  # fmt: skip
        service.create_rule(CreateAlertRule(definition=definition), meta)
        created += 1
    return fleet, created


class Burst:
    """One burst's messages, told their results by the ingestion flusher (`submit_each`, the
    way the MQTT transport acknowledges: a callback per message, no future)."""

    __slots__ = ("committed_at", "count", "position", "remaining", "t0")

    def __init__(self, t0: float, count: int) -> None:
        self.t0, self.count, self.remaining = t0, count, count
        self.position = 0
        self.committed_at: float | None = None

    def told(self, result: Any) -> None:  # called by the flusher only
        if result is not None:
            self.position = max(self.position, result.position)
        self.remaining -= 1
        if self.remaining == 0:
            self.committed_at = time.monotonic()


class LatencyTracker(threading.Thread):
    """Bursts (submitted at t0) become samples when every worker has applied their positions.

    In this process a worker's position is in memory; workers of another process are read from
    their checkpoints (`remote`: only those that handle telemetry batches, since a checkpoint
    moves only on the events its worker handles, and every burst ends in a batch event)."""

    def __init__(self, workers: list[Any], seconds: int, remote: bool = False) -> None:
        super().__init__(daemon=True)
        self.workers = workers
        self.remote = remote
        self.inflight: deque[Burst] = deque()
        self.committed: deque[tuple[int, float, int]] = deque()
        self.latency = Histogram()  # submitted -> applied by every worker
        self.commit_latency = Histogram()  # submitted -> committed
        self.applied_at = PerSecond(time.monotonic(), seconds)
        self.applied = 0
        self.last_applied_at = 0.0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set() or self.inflight or self.committed:
            # Bursts commit in queue order (one tenant).
            while self.inflight and self.inflight[0].committed_at is not None:
                burst = self.inflight.popleft()
                assert burst.committed_at is not None
                self.committed.append((burst.position, burst.t0, burst.count))
                self.commit_latency.add(burst.committed_at - burst.t0, burst.count)
            if self.remote and not self.committed:
                applied = 0
            elif self.remote:
                applied = min((w.checkpoint() for w in self.workers), default=1 << 62)
            else:
                applied = min((w.position for w in self.workers), default=1 << 62)
            now = time.monotonic()
            while self.committed and self.committed[0][0] <= applied:
                _, t0, count = self.committed.popleft()
                self.latency.add(now - t0, count)
                self.applied_at.add(now, count)
                self.applied += count
                self.last_applied_at = now
            # Another process's checkpoints are queries: every 20 ms (the instrument shares the
            # GIL with the ingestion threads it measures), and only while bursts are waiting.
            time.sleep(0.02 if self.remote else 0.002)


# The consumer processes of each split layout (`FLEETWATCH_PROJECTIONS` of each; "" = all).
CONSUMER_PROCESSES = {
    "sqlite-2proc": [""],
    "sqlite-3proc": ["telemetry", "device_status,alerts,alerting,users,notifier"],
}


def start_consumers(
    sqlite_path: Path, projections: str, stack: contextlib.ExitStack
) -> subprocess.Popen[bytes]:
    """`fleetwatch projections run` on the same SQLite file, as an operator would start it."""
    env = {
        **os.environ, "FLEETWATCH_SQLITE_PATH": str(sqlite_path),
        "FLEETWATCH_PROJECTIONS": projections,
    }  # fmt: skip
    command = [str(Path(sys.executable).parent / "fleetwatch"), "projections", "run"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)

    def stop() -> None:
        process.terminate()
        process.wait(60)

    stack.callback(stop)
    return process


def cpu_seconds(pid: int | None = None) -> float:
    """User + system CPU time of a process so far (this one by default)."""
    fields = Path(f"/proc/{pid or 'self'}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_service(store: str, args: argparse.Namespace) -> dict[str, Any]:
    from fleetwatch.bootstrap import build_system
    from fleetwatch.runtime import tune_gc
    from fleetwatch.settings import Settings
    from ingestion.settings import IngestSettings
    from write_side.ingestion import Submission

    rate = args.rate if store != "dynamodb" else args.dynamodb_rate
    duration = args.duration if store != "dynamodb" else args.dynamodb_duration
    # Consumers in other processes (`projections run`): one, or two splitting the workers
    split = store in CONSUMER_PROCESSES
    consumers: list[subprocess.Popen[bytes]] = []
    with contextlib.ExitStack() as stack:
        if store != "dynamodb":
            folder = stack.enter_context(tempfile.TemporaryDirectory())
            settings = Settings(
                sqlite_path=Path(folder) / "bench.sqlite3", run_projections=not split
            )
        else:
            from dynamodb_local import dynamodb_local

            os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
            os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
            url = stack.enter_context(dynamodb_local())
            settings = Settings(
                store="dynamodb", dynamodb_endpoint_url=url,
                dynamodb_table_prefix=f"b{uuid.uuid4().hex[:8]}_",
            )  # fmt: skip
        system = build_system(settings, IngestSettings())
        stack.callback(system.close)
        if args.consumers != "all":
            keep = set(args.consumers.split(","))
            system.supervisor.workers = {k: w for k, w in system.workers.items() if k in keep}
        fleet, rules = provision(system, args.devices, args.rules)
        tune_gc()  # as the service entry points do once the system is built
        consumers += [
            start_consumers(settings.sqlite_path, projections, stack)
            for projections in CONSUMER_PROCESSES.get(store, [])
        ]
        system.start()
        assert system.wait_for(system.event_log.head(), timeout=120)
        assert system.ingest is not None
        service = system.ingest
        seconds = int(duration) + 600  # of per-second counts: the load, then its drain
        if split:
            batches = "write_side.telemetry_log:Telemetry.BatchRecorded"
            tracked = [w for w in system.workers.values() if w.projection.handles(batches)]
            tracker = LatencyTracker(tracked, seconds, remote=True)
        else:
            tracker = LatencyTracker(list(system.workers.values()), seconds)
        tracker.start()

        def rss_now() -> list[float]:  # of each process, the ingestion process first
            return [rss_mb(), *(rss_mb(c.pid) for c in consumers)]

        rss: list[list[float]] = [rss_now()]
        sequence = 0
        started = time.monotonic()
        cpu_at_start = [cpu_seconds(), *(cpu_seconds(c.pid) for c in consumers)]
        next_rss = started + 10
        while (now := time.monotonic()) - started < duration:
            due = len(fleet) if rate <= 0 else int((now - started) * rate) - sequence
            # At most ~50 ms of the schedule per round, so a service that cannot keep up (the
            # producer waits in `submit_each`) still ends the load on time, behind schedule.
            due = min(due, max(BURST, int(rate * 0.05)))
            if due <= 0:
                time.sleep(0.001)
                continue
            for _ in range(0, due, BURST):
                burst = [
                    Submission(payload(fleet[(sequence + k) % len(fleet)], sequence + k), "mqtt")
                    for k in range(BURST)
                ]
                sequence += BURST
                told = Burst(time.monotonic(), len(burst))
                refused = service.submit_each(burst, [told.told] * len(burst), block=True)
                assert not any(refused), refused
                tracker.inflight.append(told)
            if now >= next_rss:
                rss.append(rss_now())
                next_rss += 10
        submitted_for = time.monotonic() - started
        head = system.event_log.head()
        # Split: only the tracked workers (a checkpoint moves only on events its worker handles,
        # so the others' checkpoints say nothing about how far they read).
        lag = {
            name: head - (worker.checkpoint() if split else worker.position)
            for name, worker in system.workers.items()
            if not split or worker in tracker.workers
        }
        tracker.stop.set()
        tracker.join(300)
        rss.append(rss_now())
        consumer_peaks = [round(rss_mb(c.pid, "VmHWM")) for c in consumers]
        cpu = [
            cpu_seconds() - cpu_at_start[0],
            *(cpu_seconds(c.pid) - at for c, at in zip(consumers, cpu_at_start[1:], strict=True)),
        ]
        counts = service.handler.counters.snapshot()
        elapsed = tracker.last_applied_at - started
        count = max(tracker.applied, 1)
        return {
            "store": store,
            "devices": len(fleet),
            "alert_rules": rules,
            "alerting_policy_wired": any("alert" in name for name in system.workers),
            "gc_tuned": True,
            "read_models": sorted(system.workers),
            "target_rate": rate,
            "duration_s": round(submitted_for, 1),
            "messages": tracker.applied,
            "offered_messages_per_s": round(sequence / submitted_for, 1),  # what the load made
            "messages_per_s": round(tracker.applied / elapsed, 1),  # to the last one applied
            # Applied per second in the steady state: from 10 s after the start to the end of
            # the load (without the warm-up and the drain of the last second's messages)
            "sustained_messages_per_s": tracker.applied_at.sustained(
                started + 10, started + submitted_for
            ),
            # to the millisecond above (1 ms bins)
            "p50_latency_ms": tracker.latency.percentile_ms(0.50),
            "p99_latency_ms": tracker.latency.percentile_ms(0.99),
            "max_latency_ms": round(tracker.latency.max * 1000, 1),
            # the part of it up to the commit (window, flush, commit)
            "p50_commit_latency_ms": tracker.commit_latency.percentile_ms(0.50),
            "p99_commit_latency_ms": tracker.commit_latency.percentile_ms(0.99),
            "feed_lag_at_end_by_consumer": lag,  # notifications not yet applied
            "commits": service.commits,
            "messages_per_commit": round(tracker.applied / max(service.commits, 1), 1),
            "outcomes": counts["messages"],
            "processes": 1 + len(consumers),
            "consumer_processes_run": CONSUMER_PROCESSES.get(store, []),  # "" = all workers
            # CPU time per message applied, from the start of the load to its end (the bench's
            # own load generator and latency tracker included, in the ingestion process)
            "cpu_us_per_message": {
                "ingestion_process" if split else "process": round(cpu[0] / count * 1e6, 1),
                **{
                    f"consumer_process_{k + 1}": round(c / count * 1e6, 1)
                    for k, c in enumerate(cpu[1:])
                },
            },
            "rss_mb_every_10s": [round(sum(x)) for x in rss],  # all processes' when split
            "rss_mb_every_10s_by_process": [
                [round(x) for x in xs] for xs in zip(*rss, strict=True)
            ],
            # Growth over the second half of the load (all processes): ~0 when memory is flat
            "rss_growth_second_half_mb": round(sum(rss[-1]) - sum(rss[len(rss) // 2]), 1),
            "peak_rss_mb": round(peak_rss_mb()),  # of the ingestion process
            "consumer_processes_peak_rss_mb": consumer_peaks,
        }


def run_breakdown(args: argparse.Namespace) -> dict[str, Any]:
    """CPU cost per message of each stage, measured one at a time on SQLite: ingestion alone
    (validate, authenticate, commit), then each consumer catching up on what it stored. Twice:
    the first message of every device (cold: its stream, credentials and watches are loaded or
    built), then 40,000 more (warm: what a fleet costs once every device has been heard from;
    at 10,000 devices sending once a second, every message after the first minute)."""
    from fleetwatch.bootstrap import build_system
    from fleetwatch.settings import Settings
    from ingestion.settings import IngestSettings
    from write_side.ingestion import Submission

    phases = {"first": int(args.devices), "warm": 40_000}
    rates: dict[str, dict[str, float]] = {}
    costs: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(sqlite_path=Path(folder) / "b.sqlite3", run_projections=False)
        system = build_system(settings, IngestSettings())
        try:
            fleet, _ = provision(system, args.devices, args.rules)
            for worker in system.workers.values():
                worker.catch_up()
            assert system.ingest is not None
            system.ingest.start()
            sent = 0
            for phase, count in phases.items():
                rate = rates[phase] = {}
                cost = costs[phase] = {}
                started, cpu = time.perf_counter(), time.process_time()
                futures: list[Future[Any]] = []
                for i in range(sent, sent + count, BURST):
                    burst = [
                        Submission(payload(fleet[(i + k) % len(fleet)], i + k), "mqtt")
                        for k in range(min(BURST, sent + count - i))
                    ]
                    futures = system.ingest.submit(burst)
                futures[-1].result(120)
                sent += count
                # wall time -> rate; CPU time of the process (every thread) -> cost
                rate["ingestion"] = count / (time.perf_counter() - started)
                cost["ingestion"] = (time.process_time() - cpu) / count
                for name, worker in system.workers.items():
                    started, cpu = time.perf_counter(), time.process_time()
                    worker.catch_up()
                    rate[name] = count / (time.perf_counter() - started)
                    cost[name] = (time.process_time() - cpu) / count
        finally:
            system.close()

    def us(values: dict[str, float]) -> dict[str, float]:
        return {k: round(v * 1e6, 1) for k, v in values.items()}

    return {
        "store": "breakdown (SQLite, one stage at a time)",
        "messages_per_s_by_stage": {k: round(v) for k, v in rates["warm"].items()},
        # ingestion: the load generator's payloads included, as in the runs above
        "cpu_us_per_message_by_stage": us(costs["warm"]),
        "cpu_us_per_message_total": round(sum(costs["warm"].values()) * 1e6, 1),
        "cpu_us_per_first_message_by_stage": us(costs["first"]),
        "cpu_us_per_first_message_total": round(sum(costs["first"].values()) * 1e6, 1),
    }


# --- the plain baseline --------------------------------------------------------------------


def run_baseline(args: argparse.Namespace) -> dict[str, Any]:
    from eventsourcing.application import Application
    from eventsourcing.domain import Aggregate, event

    from write_side.telemetry import TelemetryLimits, validate_message

    class PlainDevice(Aggregate):
        @event("Registered")
        def __init__(self, name: str) -> None:
            self.name = name
            self.seen: list[str] = []

        @event("TelemetryRecorded")
        def record(self, message_id: str, at: str, metrics: dict[str, float]) -> None:
            self.seen.append(message_id)

    class PlainApp(Application[uuid.UUID]):
        pass

    with tempfile.TemporaryDirectory() as folder:
        env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": f"{folder}/p.db"}
        app = PlainApp(env=env)
        ids = []
        for i in range(args.devices):
            device = PlainDevice(name=f"bench-{i}")
            app.save(device)
            ids.append(device.id)
        fleet = [(str(i), "") for i in ids]
        limits = TelemetryLimits()
        count = 0
        started = time.monotonic()
        while time.monotonic() - started < args.baseline_duration:
            raw = payload(fleet[count % len(fleet)], count)
            message = validate_message(json.loads(raw), datetime.now(UTC), limits, size=len(raw))
            device = app.repository.get(message.device_id)
            if message.message_id not in device.seen:
                metrics = {r.metric: r.value for r in message.readings}
                device.record(message.message_id, str(message.at), metrics)
                app.save(device)
            count += 1
        elapsed = time.monotonic() - started
        app.close()
    return {
        "store": "baseline (eventsourcing defaults, SQLite)",
        "devices": args.devices,
        "duration_s": round(elapsed, 1),
        "messages": count,
        "messages_per_s": round(count / elapsed, 1),
        "peak_rss_mb": round(peak_rss_mb()),
    }


# --- driver ----------------------------------------------------------------------------------


def child(run: str, args: argparse.Namespace) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", run, *sys.argv[1:]]
    out = subprocess.run(command, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        return {"store": run, "error": out.stderr.strip().splitlines()[-1:] or ["failed"]}
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument(
        "--rate", type=float, default=10_000, help="SQLite; 0 = as fast as it takes"
    )
    parser.add_argument("--duration", type=float, default=60)
    parser.add_argument("--dynamodb-rate", type=float, default=0)
    parser.add_argument("--dynamodb-duration", type=float, default=30)
    parser.add_argument("--baseline-duration", type=float, default=20)
    parser.add_argument("--rules", type=int, default=100)
    parser.add_argument(
        "--stores",
        default="sqlite,sqlite-2proc,sqlite-3proc,dynamodb",
        help="sqlite: one process; sqlite-2proc: ingestion + `fleetwatch projections run`; "
        "sqlite-3proc: ingestion + telemetry + the other workers",
    )
    parser.add_argument(
        "--consumers", default="all", help="worker names to run (diagnosis), default all wired"
    )
    parser.add_argument("--json-only", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        runners = {"baseline": run_baseline, "breakdown": run_breakdown}
        result = (
            runners[args.child](args) if args.child in runners else run_service(args.child, args)
        )
        print(json.dumps(result))
        return
    names = [*args.stores.split(","), "baseline", "breakdown"]
    runs = {name: child(name, args) for name in names}
    baseline = runs["baseline"].get("messages_per_s") or float("nan")
    for name, result in runs.items():
        if name != "baseline" and "messages_per_s" in result:
            result["ratio_to_baseline"] = round(result["messages_per_s"] / baseline, 1)
            if result.get("sustained_messages_per_s"):
                ratio = result["sustained_messages_per_s"] / baseline
                result["sustained_ratio_to_baseline"] = round(ratio, 1)
    report = {"machine_cpus": os.cpu_count(), "runs": runs}
    print(json.dumps(report, indent=2))
    if not args.json_only:
        print_table(runs)


def print_table(runs: dict[str, dict[str, Any]]) -> None:
    header = (
        "run", "msg/s", "sustained", "x baseline", "p50 ms", "p99 ms", "peak RSS MB",
        "rules/alerting",
    )  # fmt: skip
    rows = [header]
    for name, r in runs.items():
        if name == "breakdown":
            continue
        alerting = (
            f"{r.get('alert_rules', '-')}/{'wired' if r.get('alerting_policy_wired') else 'NOT wired'}"  # noqa: E501
            if name != "baseline" else "-"
        )  # fmt: skip
        rate = str(r.get("messages_per_s", r.get("error")))
        rows.append((
            name, rate, str(r.get("sustained_messages_per_s", "-")),
            str(r.get("ratio_to_baseline", "-")), str(r.get("p50_latency_ms", "-")),
            str(r.get("p99_latency_ms", "-")), str(r.get("peak_rss_mb", "-")), alerting,
        ))  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    breakdown = runs.get("breakdown", {})
    for key, title in (
        ("cpu_us_per_message", "CPU per message by stage (us)"),
        ("cpu_us_per_first_message", "CPU per device's first message by stage (us)"),
    ):
        costs = breakdown.get(f"{key}_by_stage", {})
        if costs:
            listed = ", ".join(f"{k} {v}" for k, v in costs.items() if v >= 1)
            print(f"{title}: {listed}; all {breakdown.get(f'{key}_total')}")


if __name__ == "__main__":
    main()
