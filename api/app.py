"""The ASGI application: GraphQL at /graphql, REST devices, /health. Built by `create_app` from
an already built system (the `api.ports.FleetSystem` port; `fleetwatch.system` builds one);
nothing happens at import time.

    system = build_system(Settings()); system.start()
    app = create_app(system)   # serve with uvicorn; system.close() afterwards
"""

from __future__ import annotations

from fastapi import FastAPI

from api import (
    alerts,
    analytics,
    as_of,
    audit,
    dashboard,
    deployments,
    devices,
    exports,
    firmware,
    firmware_upload,
    telemetry,
    users,
)
from api.graphql.router import FleetGraphQLRouter
from api.ports import FleetSystem
from api.rest import firmware_upload as firmware_upload_route
from api.rest import health, metrics
from api.rest.errors import install_error_handlers
from api.rest.routes import router_of
from ingestion.http import router_for as ingest_router_for
from ingestion.jobs_http import jobs_router_for


def create_app(system: FleetSystem) -> FastAPI:
    app = FastAPI(
        title="Fleetwatch",
        version="0.1.0",
        summary="IoT fleet monitoring: devices over REST and GraphQL (/graphql).",
    )
    app.state.system = system
    install_error_handlers(app)
    # GraphQL first: a request is matched against the routes in order, and /graphql carries
    # most requests (matched after the 67 REST routes, each of its requests paid ~0.25 ms).
    graphql = FleetGraphQLRouter(system)
    app.state.shared_subscriptions = graphql.shared  # their groups (None: not shared)
    app.include_router(graphql)
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(router_of(devices.OPERATIONS, "devices"))
    app.include_router(router_of(telemetry.OPERATIONS, "telemetry"))
    app.include_router(router_of(analytics.OPERATIONS, "analytics"))
    app.include_router(router_of(audit.OPERATIONS, "audit"))
    app.include_router(router_of(as_of.OPERATIONS, "audit"))
    app.include_router(router_of(alerts.OPERATIONS, "alerts"))
    app.include_router(router_of(users.OPERATIONS, "users"))
    # Deployments first: `/firmware/deployments` before `/firmware/{firmwareId}`.
    app.include_router(router_of(deployments.OPERATIONS, "deployments"))
    app.include_router(firmware_upload_route.router)
    app.include_router(router_of(firmware_upload.OPERATIONS, "firmware"))
    app.include_router(router_of(firmware.OPERATIONS, "firmware"))
    app.include_router(router_of(dashboard.OPERATIONS, "analytics"))
    app.include_router(router_of(exports.OPERATIONS, "analytics"))
    app.include_router(ingest_router_for(system))
    app.include_router(jobs_router_for(system))
    return app
