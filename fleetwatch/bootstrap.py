"""The composition root's former single module, kept so `from fleetwatch.bootstrap import ...`
goes on working: it was split by job (issue 11) into

- `fleetwatch.wiring`: the declared read models and consumers, the store-level wiring;
- `fleetwatch.consumers`: the builders of the feed's workers;
- `fleetwatch.supervisor`: runs, paces, waits for and rebuilds the workers;
- `fleetwatch.system`: `System`, the object the API is given, and `build_system`.

New code imports from those. To replace a builder in a test, patch it where it is used (e.g.
`fleetwatch.system.build_fanout`), not here.
"""

from typing import Any

from fleetwatch.consumers import RECIPIENTS_TIMEOUT, Notifying, build_alerting, build_notifications
from fleetwatch.settings import Settings
from fleetwatch.supervisor import ResettableView, Supervisor
from fleetwatch.system import System, build_system
from fleetwatch.system_ingestion import build_ingestion
from fleetwatch.wiring import (
    PROJECTIONS,
    application_env,
    build_fanout,
    close_read_models,
    open_read_model,
    read_models_datastore,
)
from write_side.application import FleetApplication

__all__ = [
    "PROJECTIONS",
    "RECIPIENTS_TIMEOUT",
    "Notifying",
    "ResettableView",
    "Supervisor",
    "System",
    "application_env",
    "build_alerting",
    "build_fanout",
    "build_ingestion",
    "build_notifications",
    "build_system",
    "close_read_models",
    "open_read_model",
    "read_models_datastore",
]


# The per-model openers tests used to import from here; new code calls `open_read_model`.
def _device_status_store(app: FleetApplication, settings: Settings) -> tuple[Any, Any]:
    return open_read_model(app, settings, "device_status")


def _telemetry_store(app: FleetApplication, settings: Settings) -> tuple[Any, Any]:
    return open_read_model(app, settings, "telemetry")


def _alerts_store(app: FleetApplication, settings: Settings) -> tuple[Any, Any]:
    return open_read_model(app, settings, "alerts")


def _users_store(app: FleetApplication, settings: Settings) -> tuple[Any, Any]:
    return open_read_model(app, settings, "users")
