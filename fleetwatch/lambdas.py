"""AWS Lambda entry points, built by the composition root on the first invocation and reused
while the execution environment is warm. They live here, not in `api` or `ingestion`, because
they build the system: those packages only take a built one (no import cycle, issue 11).

- `api_handler`: the HTTP API (API Gateway REST or HTTP API, or a function URL), Mangum over
  `create_app`. Configured from the function's environment (`FLEETWATCH_STORE=dynamodb`,
  `FLEETWATCH_RUN_PROJECTIONS=false`: projections run as their own long-lived worker or
  stream-triggered function). GraphQL queries and mutations work over HTTP; subscriptions need
  a websocket server (`fleetwatch serve` on ECS/Fargate), not Lambda.
- `iot_core_handler`: AWS IoT Core topic-rule events (Lambda or Kinesis action), handled by
  `ingestion.iot_core.handle` with the system's ingestion service; only that service is
  started (no workers, as before the split).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from mangum import Mangum

from api.app import create_app
from fleetwatch.settings import Settings
from fleetwatch.system import build_system
from ingestion import iot_core
from ingestion.buffer import IngestService

_api_lock = threading.Lock()
_adapter: Mangum | None = None
_ingest_lock = threading.Lock()
_ingest: IngestService | None = None


def api_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global _adapter  # noqa: PLW0603 - one application per warm execution environment
    with _api_lock:
        if _adapter is None:
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
            system = build_system()  # from FLEETWATCH_* environment variables
            assert system.ingest is not None
            system.ingest.start()
            _ingest = system.ingest
        return _ingest
