"""AWS Lambda entry point for the HTTP API (API Gateway REST or HTTP API, or a function URL).

The same composition root as `fleetwatch serve`, configured from the function's environment
(`FLEETWATCH_STORE=dynamodb`, `FLEETWATCH_RUN_PROJECTIONS=false`: projections run as their own
long-lived worker or stream-triggered function). Built on the first invocation and reused while
the execution environment is warm. GraphQL queries and mutations work over HTTP; subscriptions
need a websocket server (`fleetwatch serve` on ECS/Fargate), not Lambda.
"""

from __future__ import annotations

import threading
from typing import Any

from mangum import Mangum

from api.app import create_app
from fleetwatch.bootstrap import build_system
from fleetwatch.settings import Settings

_lock = threading.Lock()
_adapter: Mangum | None = None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global _adapter  # noqa: PLW0603 - one application per warm execution environment
    with _lock:
        if _adapter is None:
            system = build_system(Settings())
            system.start()
            _adapter = Mangum(create_app(system), lifespan="off")
    return dict(_adapter(event, context))
