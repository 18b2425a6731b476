"""One OTA rollout to N devices, in process, next to the plain library way measured in the same run.

    .venv/bin/python bench/ota.py [--devices 10000] [--store sqlite|dynamodb] [--quick]

Ours: the whole `System` built by `build_system` on a fresh store (its threads not started);
N devices registered with credentials (timed apart), one release, one deployment to all of them
(one wave, no rate limit). Then, until the deployment is COMPLETED, one thread in turns: the
schedule writer and the orchestrator (`ota_schedule`, `ota` workers) follow the feed; the real
`JobDispatcher` handles each pending notice: on the embedded default's `http` channel it marks
it and the device polls (`DeviceJobService.next_job`, what `GET /devices/{id}/jobs/next`
answers); an `mqtt` notice is rendered (`JobDocuments.render_notice`) into an in-process
`DeviceJobs` (what MQTT would carry). Each notified device authenticates with its token and
sends `downloading`, `downloaded`, `installing`, `succeeded` with the version through
`DeviceJobService` (`parse_update` and `report`, as the HTTP route and MQTT do), seq from the
document's `lastSeq`. Measured: the rollout (create to COMPLETED), updates per second end to end
(4N / rollout) and within the device calls only, RSS before and after, and the orchestrator's
state: a fresh orchestrator replaying the whole feed under tracemalloc (its allocations still
held after the replay, and the replay's time).

Baseline: `eventsourcing`'s `Application` with a plain `Aggregate` per execution (created, then
4 updates, each `repository.get` + an `@event` method + `save`), SQLite with library defaults,
same N. Prints one JSON document, then a table.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]

from dynamodb_local import dynamodb_local  # noqa: E402
from eventsourcing.application import Application  # noqa: E402
from eventsourcing.domain import Aggregate, event  # noqa: E402

from event_store.envelope import EventMetadata  # noqa: E402
from fleetwatch.bootstrap import System, build_system  # noqa: E402
from fleetwatch.settings import Settings  # noqa: E402
from ingestion.device_jobs import parse_update  # noqa: E402
from ota.schedule import JobNotice, JobOutbox, Timer  # noqa: E402
from ota.schedule_loops import JobDispatcher  # noqa: E402
from projections.ota import OtaProcess  # noqa: E402
from projections.ota_worker import OtaWorker  # noqa: E402
from write_side.commands import RegisterDevice  # noqa: E402
from write_side.credentials import IssueDeviceCredential  # noqa: E402
from write_side.deployment_commands import parse_create_deployment  # noqa: E402
from write_side.deployment_states import DeploymentStatus  # noqa: E402
from write_side.firmware_commands import PublishFirmware  # noqa: E402

ADMIN = EventMetadata("bench", "user:bench")
TARGET = "2.0.0"
STEPS = ("downloading", "downloaded", "installing", "succeeded")


class Delivered:
    """`DeviceJobs` in process: the documents the dispatcher publishes, for the devices."""

    def __init__(self) -> None:
        self.documents: list[tuple[uuid.UUID, Mapping[str, object]]] = []

    def publish(self, tenant_id: str, device_id: uuid.UUID, document: Mapping[str, object]) -> None:
        self.documents.append((device_id, document))


class Watched:
    """The outbox the dispatcher reads, remembering the `http` notices it marks: those devices
    poll for their job (as soon as told: the bench measures the server, not a poll interval)."""

    def __init__(self, outbox: JobOutbox) -> None:
        self.outbox, self.polled = outbox, list[JobNotice]()

    def add(self, notices: Sequence[JobNotice]) -> None:
        self.outbox.add(notices)

    def pending(self, limit: int) -> list[JobNotice]:
        return self.outbox.pending(limit)

    def mark_sent(self, notices: Sequence[JobNotice]) -> None:
        self.outbox.mark_sent(notices)
        self.polled.extend(n for n in notices if n.channel == "http")


class NoTimers:
    def schedule(self, timers: Sequence[Timer]) -> None:
        pass

    def due(self, now: datetime, limit: int) -> list[Timer]:
        return []

    def done(self, timers: Sequence[Timer]) -> None:
        pass


def rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def settings_for(store: str, work: Path, stack: ExitStack) -> Settings:
    if store == "sqlite":
        return Settings(store="sqlite", sqlite_path=work / "fleet.sqlite3", blob_dir=work / "b")
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")  # DynamoDB Local takes any
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    endpoint = os.environ.get("FLEETWATCH_DYNAMODB_ENDPOINT_URL")
    endpoint = endpoint or stack.enter_context(dynamodb_local())
    return Settings(
        store="dynamodb", dynamodb_endpoint_url=endpoint, blob_dir=work / "b",
        dynamodb_table_prefix=f"bench{uuid.uuid4().hex[:6]}_",
    )  # fmt: skip


def provision(system: System, count: int) -> tuple[dict[uuid.UUID, str], uuid.UUID]:
    tokens = {}
    for i in range(count):
        command = RegisterDevice(name=f"b{i}", device_type="pump", tags=["bench"])
        device_id = system.device_service.register(command, ADMIN).aggregate.id
        issue = IssueDeviceCredential(device_id=device_id)
        tokens[device_id] = system.device_service.issue_credential(issue, ADMIN).token
    assert system.blobs is not None
    with system.blobs.open_writer(ADMIN.tenant_id) as writer:
        writer.write(b"image")
        blob = writer.commit()
    publish = PublishFirmware(
        version=TARGET, device_types=["pump"], filename="f.bin", size_bytes=5, sha256=blob.sha256
    )
    return tokens, system.firmware_service.publish(publish, ADMIN).aggregate.id


def pump(system: System) -> None:
    for _ in range(100):
        head = system.app.recorder.max_notification_id() or 0
        for name in ("ota_schedule", "ota"):
            system.workers[name].catch_up()
        if (system.app.recorder.max_notification_id() or 0) == head:
            return
    raise RuntimeError("the orchestrator does not settle")


def rollout(system: System, tokens: dict[uuid.UUID, str], firmware_id: uuid.UUID) -> dict[str, Any]:
    assert system.ota_schedule is not None
    assert system.device_jobs is not None
    jobs, delivered, outbox = system.device_jobs, Delivered(), Watched(system.ota_schedule)
    assert system.job_documents is not None
    render = system.job_documents.render_notice
    dispatcher = JobDispatcher(outbox, delivered, render, batch_size=500)
    body = {"name": "all", "firmwareId": str(firmware_id), "target": {"tags": ["bench"]}}
    rss_before, started = rss_mib(), time.perf_counter()
    created = system.deployment_service.create(parse_create_deployment(body), ADMIN).aggregate
    in_devices, updates, rounds = 0.0, 0, 0
    while (
        system.deployment_service.get("bench", created.id).status is not DeploymentStatus.COMPLETED
    ):
        rounds += 1
        if rounds > 10_000:
            raise RuntimeError("the rollout does not complete")
        pump(system)
        dispatcher.drain(max_batches=10_000)
        batch, delivered.documents = delivered.documents, []
        polled, outbox.polled = outbox.polled, []
        device_started = time.perf_counter()
        for notice in polled:  # `http`: the device asks for its job
            access = jobs.authenticate(notice.device_id, tokens[notice.device_id])
            job = jobs.next_job(access)
            if job is not None:
                batch.append((notice.device_id, job.document.to_json()))
        for device_id, document in batch:
            access = jobs.authenticate(device_id, tokens[device_id])
            seq = int(str(document["lastSeq"]))
            for status in STEPS:
                seq += 1
                update: dict[str, Any] = {"seq": seq, "status": status}
                update["at"] = datetime.now(UTC).isoformat()
                if status == "succeeded":
                    update["version"] = TARGET
                jobs.report(access, parse_update(device_id, str(document["executionId"]), update))
                updates += 1
        in_devices += time.perf_counter() - device_started
    elapsed = time.perf_counter() - started
    return {
        "rollout_s": round(elapsed, 2),
        "updates": updates,
        "updates_per_s_end_to_end": round(updates / elapsed, 1),
        "updates_per_s_device_calls": round(updates / in_devices, 1),
        "rounds": rounds,
        "events": system.app.recorder.max_notification_id(),
        "rss_before_mib": round(rss_before, 1),
        "rss_after_mib": round(rss_mib(), 1),
    }


def replay(system: System) -> dict[str, Any]:
    """A fresh orchestrator (no checkpoint) replays the feed; what it still holds after."""
    gc.collect()
    tracemalloc.start()
    started = time.perf_counter()
    process = OtaProcess(
        system.deployment_service, system.app.factory.process_recorder(), NoTimers()
    )
    worker = OtaWorker(
        process, recorder=system.app.recorder, mapper=system.app.envelope_mapper,
        upstream_name=f"bench-replay-{uuid.uuid4().hex[:6]}",
    )  # fmt: skip
    worker.resume()
    worker.catch_up()
    elapsed = time.perf_counter() - started
    gc.collect()
    held, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del worker, process
    return {
        "orchestrator_replay_s": round(elapsed, 2),
        "orchestrator_held_mib": round(held / 2**20, 1),
        "orchestrator_peak_mib": round(peak / 2**20, 1),
    }


class Execution(Aggregate):
    @event("Created")
    def __init__(self, device_id: str, target: str) -> None:
        self.device_id, self.target = device_id, target
        self.state, self.seq = "NOTIFIED", 0

    @event("Updated")
    def update(self, seq: int, status: str, version: str | None) -> None:
        self.seq, self.state = seq, status


class Executions(Application[uuid.UUID]):
    def create(self, device_id: str) -> uuid.UUID:
        execution = Execution(device_id, TARGET)
        self.save(execution)
        return execution.id

    def report(self, execution_id: uuid.UUID, seq: int, status: str, version: str | None) -> None:
        execution: Execution = self.repository.get(execution_id)
        if seq > execution.seq:
            execution.update(seq, status, version)
            self.save(execution)


def baseline(count: int, work: Path) -> dict[str, Any]:
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(work / "lib.db")}
    app = Executions(env=env)
    started = time.perf_counter()
    ids = [app.create(str(uuid.uuid4())) for _ in range(count)]
    created = time.perf_counter()
    for execution_id in ids:
        for seq, status in enumerate(STEPS, 1):
            app.report(execution_id, seq, status, TARGET if status == "succeeded" else None)
    done = time.perf_counter()
    return {
        "baseline_total_s": round(done - started, 2),
        "baseline_updates_per_s": round(count * len(STEPS) / (done - created), 1),
    }


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--store", choices=["sqlite", "dynamodb"], default="sqlite")
    parser.add_argument("--quick", action="store_true", help="50 devices: a smoke test")
    args = parser.parse_args(argv)
    count = 50 if args.quick else args.devices
    result: dict[str, Any] = {"benchmark": "ota", "store": args.store, "devices": count}
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        work = Path(tmp)
        system = build_system(settings_for(args.store, work, stack))
        try:
            started = time.perf_counter()
            tokens, firmware_id = provision(system, count)
            result["provision_s"] = round(time.perf_counter() - started, 2)
            result |= rollout(system, tokens, firmware_id)
            result |= replay(system)
        finally:
            system.close()
        result |= baseline(count, work)
    result["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    ratio = result["updates_per_s_end_to_end"] / result["baseline_updates_per_s"]
    result["end_to_end/baseline"] = round(ratio, 3)
    print(json.dumps(result, indent=2))
    print()
    print(table(result))
    return result


def table(result: Mapping[str, Any]) -> str:
    base = result["baseline_updates_per_s"]
    rows = [
        ("execution updates/s, end to end", result["updates_per_s_end_to_end"], base),
        ("execution updates/s, device calls only", result["updates_per_s_device_calls"], base),
        ("baseline: library Aggregate updates/s", base, None),
    ]
    lines = [f"{result['store']} N={result['devices']:<8}{'measure':<40}{'value':>10}  vs baseline"]
    for name, value, against in rows:
        ratio = f"{value / against:.2f}x" if against else ""
        lines.append(f"{'':<18}{name:<40}{value:>10,.0f}  {ratio}")
    keys = ("rollout_s", "provision_s", "orchestrator_replay_s", "orchestrator_held_mib",
            "rss_before_mib", "rss_after_mib", "peak_rss_mib", "events")  # fmt: skip
    lines.extend(f"{'':<18}{key:<40}{result[key]:>10,}" for key in keys)
    return "\n".join(lines)


if __name__ == "__main__":
    main()
