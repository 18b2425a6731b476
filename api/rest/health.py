"""GET /health (no auth): store kind, fan-out kind, feed head and projection lag."""

from __future__ import annotations

import logging

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.rest.deps import SystemDep
from api.rest.models import Health, ProjectionHealth

log = logging.getLogger(__name__)

router = APIRouter(tags=["health"])


@router.get("/health", summary="Liveness and read-model lag", response_model=Health)
def health(system: SystemDep) -> Health | JSONResponse:
    settings = system.settings
    report = Health(
        status="ok",
        store=settings.store,
        fanout="redis" if settings.redis_url else "in-process",
    )
    try:
        head = system.event_log.head()
        report.feed_head = head
        for name, position in system.positions().items():
            report.projections[name] = ProjectionHealth(position=position, lag=head - position)
    except Exception:
        log.exception("health check could not read the event store")
        report.status = "unavailable"
        return JSONResponse(report.model_dump(mode="json", by_alias=True), status_code=503)
    return report
