"""AWS Lambda entry points, built by the composition root on the first invocation and reused
while the execution environment is warm. They live here, not in `api` or `ingestion`, because
they build the system: those packages only take a built one (no import cycle, issue 11).

Each builds its system on its first invocation from the environment, after `load_secrets`
(`fleetwatch.secrets`: the settings in the secret `FLEETWATCH_SECRETS` names, such as the audit
signing key).

- `api_handler`: the HTTP API (API Gateway REST or HTTP API, or a function URL), Mangum over
  `create_app`. Configured from the function's environment (`FLEETWATCH_STORE=dynamodb`,
  `FLEETWATCH_RUN_PROJECTIONS=false`: projections run as their own long-lived worker or
  stream-triggered function). GraphQL queries and mutations work over HTTP; subscriptions need
  a websocket server (`fleetwatch serve` on ECS/Fargate), not Lambda.
- `iot_core_handler`: AWS IoT Core topic-rule events (Lambda or Kinesis action), handled by
  `ingestion.iot_core.handle` with the system's ingestion service; only that service is
  started (no workers, as before the split).
- `projector_handler`: the projectors of the workers `FLEETWATCH_PROJECTIONS` names (default:
  the read models, then the notifier; the processes function names the other consumers:
  `fleetwatch.wiring.LAMBDA_PROCESSES`), woken by DynamoDB Streams on the events table or by a
  schedule (the sweep). The wake-up's records are never read: a stream orders
  records per item only, and retries, bisection and its 24 h retention can repeat, reorder or
  drop them. Each projector reads the feed from its own checkpoint to the head and commits
  each batch with a conditional write of its checkpoint (`AlreadyTracked`: another invocation
  applied it first, and it is skipped), so a duplicate, late or missing wake-up changes
  nothing that the next one does not set right. A projector that fails on an event stops
  there (its checkpoint before it) and the invocation fails, naming it, after the others
  have caught up: the stream or the schedule tries again, and nothing is skipped. After its
  catch-up each does its periodic work (`housekeeping`: the alerting process's tick, so
  time-based rules are judged at least at every sweep). A process manager keeps its state
  while the environment is warm and the stored checkpoint is not past it (`refresh`). Where
  the OTA orchestrator ran and caught up, its due timers are fired next (`TimerLoop.drain`:
  waves, timeouts, unconfirmed uploads), on the state it has just brought to the head, then
  the job notices it queued are sent (`JobDispatcher.drain`: through IoT Core where
  `FLEETWATCH_OTA_IOT_ENDPOINT` is set, else marked for polling).
- `iot_jobs_handler`: the devices' job updates through IoT Core (the rule
  `ingestion.iot_jobs.JOBS_RULE_SQL`, one update per invocation), decided by the system's
  `DeviceJobService` and answered on the update's topic through IoT Core's data plane.
- `scheduled_handler`: the work that waits on the clock, not on the feed (EventBridge
  Scheduler, every minute): the notifications due in the outbox sent (`Dispatcher.drain`),
  and offline detection over the devices the device-status model shows online
  (`ConnectivityWatch.sweep`). Each task runs whatever another did; the invocation fails
  naming those that raised.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from mangum import Mangum

from api.app import create_app
from fleetwatch.secrets import load_secrets
from fleetwatch.settings import Settings
from fleetwatch.system import System, build_system
from fleetwatch.wiring import LAMBDA_PROCESSES, LAMBDA_PROJECTOR
from ingestion import iot_core, iot_jobs
from ingestion.buffer import IngestService
from ota.iot_jobs import IotCoreDeviceJobs
from projections.batching import BatchingProjectionWorker

_api_lock = threading.Lock()
_adapter: Mangum | None = None
_ingest_lock = threading.Lock()
_ingest: IngestService | None = None
# The systems of the feed's and the clock's functions, by function, one per warm execution
# environment: built at the first invocation, with nothing started (no thread, no lease).
_warm_lock = threading.Lock()
_warm: dict[str, System] = {}
_runs = {name: threading.Lock() for name in ("projector", "processes", "scheduled", "jobs")}
log = logging.getLogger(__name__)


def api_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global _adapter  # noqa: PLW0603 - one application per warm execution environment
    with _api_lock:
        if _adapter is None:
            load_secrets()
            system = build_system(Settings())
            system.start()
            _adapter = Mangum(create_app(system), lifespan="off")
    return dict(_adapter(event, context))


def iot_core_handler(event: Mapping[str, Any], context: object = None) -> dict[str, Any]:
    return iot_core.handle(_ingest_service(), event)


def _ingest_service() -> IngestService:
    global _ingest  # noqa: PLW0603 - the per-container cache Lambda handlers rely on
    with _ingest_lock:
        if _ingest is None:
            load_secrets()
            system = build_system()  # from FLEETWATCH_* environment variables
            assert system.ingest is not None
            system.ingest.start()
            _ingest = system.ingest
        return _ingest


def iot_jobs_handler(event: Mapping[str, Any], context: object = None) -> dict[str, Any]:
    """One job update from the IoT rule: decided, stored once, answered on its topic through
    the data plane client the system's job publisher holds (`FLEETWATCH_OTA_IOT_ENDPOINT`)."""
    system = warm_system("jobs")
    with _runs["jobs"]:
        assert system.device_jobs is not None
        if system.settings.ota_iot_endpoint is None:
            raise RuntimeError("the jobs function needs FLEETWATCH_OTA_IOT_ENDPOINT (IoT Core)")
        publisher = system.ota_publisher
        assert isinstance(publisher, IotCoreDeviceJobs)  # `job_publisher` of that setting
        return iot_jobs.handle(system.device_jobs, publisher.data.publish, event)


class ProjectorsFailed(RuntimeError):
    """Some projectors stopped on an event; the others caught up."""


def warm_system(function: str) -> System:
    """The system of `function` in this execution environment (built on first use)."""
    with _warm_lock:
        system = _warm.get(function)
        if system is None:
            load_secrets()
            system = _warm[function] = build_system(Settings())
            bind = getattr(system.fanout, "bind", None)
            if bind is not None:  # the gateway's fan-out runs subscriptions on this system
                bind(system)
        return system


def projector_handler(event: Mapping[str, Any], context: object = None) -> dict[str, Any]:
    """A wake-up (DynamoDB Streams records or a scheduled event, either way unread): the
    projectors of `FLEETWATCH_PROJECTIONS` (empty: `LAMBDA_PROJECTOR`, the read models and
    the notifier) caught up to the head; where each stands."""
    return _catch_up("projector", event, LAMBDA_PROJECTOR)


def processes_handler(event: Mapping[str, Any], context: object = None) -> dict[str, Any]:
    """`projector_handler` for the other consumers (empty `FLEETWATCH_PROJECTIONS`:
    `LAMBDA_PROCESSES`), then the OTA timers that are due."""
    return _catch_up("processes", event, LAMBDA_PROCESSES)


def _catch_up(function: str, event: Mapping[str, Any], default: Sequence[str]) -> dict[str, Any]:
    system = warm_system(function)
    with _runs[function]:  # one invocation at a time per environment, as Lambda runs them
        names = system.settings.projection_names or list(default)
        log.info("woken by %d records", len(event.get("Records") or ()))
        done = project(system, names)
        if "ota" in names:  # its state is at the head: the timers decide on it
            done |= run_scheduled(system, ["ota_timers", "ota_jobs"])
        return done


def project(system: System, names: Sequence[str]) -> dict[str, Any]:
    """Catch each of `names` up from its checkpoint to the feed's head; their positions.
    ProjectorsFailed (after the others have caught up) naming those that stopped on an event;
    ValueError for a name the system does not run."""
    known = {n: w for n, w in system.workers.items() if isinstance(w, BatchingProjectionWorker)}
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise ValueError(f"not projectors {unknown}; projectors: {', '.join(known)}")
    failed: dict[str, str] = {}
    for name in names:
        worker = known[name]
        try:
            worker.refresh()  # from its checkpoint: another invocation may have moved it
            worker.catch_up()
            worker.housekeeping()  # the alerting process's tick; a quiet stretch's position
        except Exception as e:  # named below: the invocation fails
            worker.distrust_state()
            log.exception("projector %s stopped at %d", name, worker.position)
            failed[name] = f"{type(e).__name__}: {e}"
    if failed:
        stopped = "; ".join(f"{name} ({why})" for name, why in failed.items())
        raise ProjectorsFailed(f"projectors stopped on an event: {stopped}")
    return {"positions": {name: system.workers[name].position for name in names}}


class ScheduledWorkFailed(RuntimeError):
    """Some scheduled tasks raised; the others ran."""


SCHEDULED_TASKS = ("notifications", "ota_timers", "ota_jobs", "offline")
SCHEDULED = ("notifications", "offline")  # the scheduled function's; the timers: above


def scheduled_handler(event: Mapping[str, Any], context: object = None) -> dict[str, Any]:
    """A scheduled event: the tasks its `tasks` lists (default: `SCHEDULED`) run once each;
    what each did."""
    system = warm_system("scheduled")
    with _runs["scheduled"]:
        return run_scheduled(system, event.get("tasks") or SCHEDULED)


def run_scheduled(system: System, tasks: Sequence[str]) -> dict[str, Any]:
    """Run each of `tasks` once; their counts. ScheduledWorkFailed (after the others ran)
    naming those that raised; ValueError for a task that does not exist."""
    unknown = sorted(set(tasks) - set(SCHEDULED_TASKS))
    if unknown:
        raise ValueError(f"not scheduled tasks {unknown}; tasks: {', '.join(SCHEDULED_TASKS)}")
    done: dict[str, Any] = {}
    failed: dict[str, str] = {}
    for task in tasks:
        try:
            done[task] = _run_task(system, task)
        except Exception as e:  # named below: the invocation fails
            log.exception("scheduled task %s failed", task)
            failed[task] = f"{type(e).__name__}: {e}"
    if failed:
        why = "; ".join(f"{task} ({reason})" for task, reason in failed.items())
        raise ScheduledWorkFailed(f"scheduled tasks failed: {why}")
    return done


def _run_task(system: System, task: str) -> Any:
    if task == "notifications":
        assert system.dispatcher is not None
        return vars(system.dispatcher.drain())
    if task == "ota_timers":
        assert system.ota_timers is not None
        return {"fired": system.ota_timers.drain()}
    if task == "ota_jobs":
        assert system.ota_jobs is not None
        return vars(system.ota_jobs.drain())
    assert system.connectivity is not None
    return {"offline": system.connectivity.sweep(system.devices.online())}
