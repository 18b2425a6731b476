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
- `projector_handler`: the read models' projectors, woken by DynamoDB Streams on the events
  table or by a schedule (the sweep). The wake-up's records are never read: a stream orders
  records per item only, and retries, bisection and its 24 h retention can repeat, reorder or
  drop them. Each projector reads the feed from its own checkpoint to the head and commits
  each batch with a conditional write of its checkpoint (`AlreadyTracked`: another invocation
  applied it first, and it is skipped), so a duplicate, late or missing wake-up changes
  nothing that the next one does not set right. A projector that fails on an event stops
  there (its checkpoint before it) and the invocation fails, naming it, after the others
  have caught up: the stream or the schedule tries again, and nothing is skipped.
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
from fleetwatch.wiring import READ_MODELS
from ingestion import iot_core
from ingestion.buffer import IngestService
from projections.batching import BatchingProjectionWorker

_api_lock = threading.Lock()
_adapter: Mangum | None = None
_ingest_lock = threading.Lock()
_ingest: IngestService | None = None
_projector_lock = threading.Lock()
_projectors: System | None = None
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


class ProjectorsFailed(RuntimeError):
    """Some projectors stopped on an event; the others caught up."""


def projector_handler(event: Mapping[str, Any], context: object = None) -> dict[str, Any]:
    """A wake-up (DynamoDB Streams records or a scheduled event, either way unread): the
    projectors of `FLEETWATCH_PROJECTIONS` (empty: every read model) caught up to the head;
    where each stands."""
    global _projectors  # noqa: PLW0603 - one system per warm execution environment
    with _projector_lock:
        if _projectors is None:
            load_secrets()
            _projectors = build_system(Settings())  # started nothing: no thread, no lease
            bind = getattr(_projectors.fanout, "bind", None)
            if bind is not None:  # the gateway's fan-out runs subscriptions on this system
                bind(_projectors)
        system = _projectors
        names = system.settings.projection_names or [m.name for m in READ_MODELS]
        log.info("woken by %d records", len(event.get("Records") or ()))
        return project(system, names)


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
            worker.resume()  # from its checkpoint: another invocation may have moved it
            worker.catch_up()
        except Exception as e:  # named below: the invocation fails
            log.exception("projector %s stopped at %d", name, worker.position)
            failed[name] = f"{type(e).__name__}: {e}"
    if failed:
        stopped = "; ".join(f"{name} ({why})" for name, why in failed.items())
        raise ProjectorsFailed(f"projectors stopped on an event: {stopped}")
    return {"positions": {name: system.workers[name].position for name in names}}
