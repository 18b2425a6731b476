"""GET /metrics: Prometheus text exposition of this process's counters (no tenant data).

Feed head and per-projection position/lag, and the ingestion counters: messages by outcome,
rejected messages by code (unknown, decommissioned, unauthenticated devices, bad payloads,
overload), readings accepted and rejected by code, the buffer's pending messages, commits, and
the time commits waited for the consumers (pacing).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from api.rest.deps import SystemDep

router = APIRouter(tags=["health"])
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _family(
    name: str, kind: str, help_text: str, samples: Iterable[tuple[Mapping[str, str], float]]
) -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
    for labels, value in samples:
        rendered = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()))
        lines.append(f"{name}{{{rendered}}} {value:g}" if rendered else f"{name} {value:g}")
    return lines


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


@router.get(
    "/metrics", summary="Prometheus metrics of this process", response_class=PlainTextResponse
)
def metrics(system: SystemDep) -> PlainTextResponse:
    head = system.event_log.head()
    positions = system.positions()
    lines = _family("fleetwatch_feed_head", "gauge", "Last feed position.", [({}, head)])
    lines += _family(
        "fleetwatch_projection_lag",
        "gauge",
        "Feed positions not yet applied by the projection.",
        [({"projection": name}, head - position) for name, position in positions.items()],
    )
    if system.ingest is not None:
        counts = system.ingest.handler.counters.snapshot()
        lines += _family(
            "fleetwatch_ingest_messages_total",
            "counter",
            "Telemetry messages by outcome.",
            [({"status": k}, v) for k, v in counts["messages"].items()],
        )
        lines += _family(
            "fleetwatch_ingest_rejected_messages_total",
            "counter",
            "Rejected telemetry messages by code.",
            [({"code": k}, v) for k, v in counts["rejected_by_code"].items()],
        )
        lines += _family(
            "fleetwatch_ingest_readings_accepted_total",
            "counter",
            "Readings stored.",
            [({}, counts["readings_accepted"])],
        )
        lines += _family(
            "fleetwatch_ingest_readings_rejected_total",
            "counter",
            "Readings rejected by code (the rest of their message was kept).",
            [({"code": k}, v) for k, v in counts["readings_rejected_by_code"].items()],
        )
        service = system.ingest
        lines += _family(
            "fleetwatch_ingest_pending_messages",
            "gauge",
            "Messages held by the ingestion buffer (queued or being committed).",
            [({}, service.pending)],
        )
        lines += _family(
            "fleetwatch_ingest_commits_total",
            "counter",
            "Ingestion commits, and those that failed and were retried or narrowed down.",
            [({"outcome": "ok"}, service.commits), ({"outcome": "failed"}, service.failed_commits)],
        )
        lines += _family(
            "fleetwatch_ingest_paced_seconds_total",
            "counter",
            "Time ingestion held its commits for the read models and alerting to catch up.",
            [({}, service.paced_s)],
        )
    return PlainTextResponse("\n".join(lines) + "\n", media_type=CONTENT_TYPE)
