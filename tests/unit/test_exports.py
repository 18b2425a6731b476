"""The Export aggregate's state machine and ExportService (write_side/exports.py,
export_service.py; docs/analytics.md 20.5) over an in-memory FleetApplication: REQUESTED ->
RUNNING -> COMPLETED | FAILED, progress never back, nothing after a final state, budgets and
another tenant's devices refused with nothing stored."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from event_store.envelope import EventMetadata
from write_side.application import FleetApplication
from write_side.deployment_errors import InvalidTransition
from write_side.errors import InvalidInput, NotFound
from write_side.export_service import ExportFile, ExportService, RequestExport
from write_side.exports import (
    EXPORT_COMPLETED,
    EXPORT_PROGRESSED,
    EXPORT_REQUESTED,
    Export,
    ExportFinished,
    ExportFormat,
    ExportKind,
    ExportStatus,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ACME = EventMetadata(tenant_id="acme", actor="user:alice")
WORKER = EventMetadata(tenant_id="acme", actor="system:exports")
MINE, THEIRS = uuid4(), uuid4()
DAY = timedelta(days=1)


@pytest.fixture
def app() -> Iterator[FleetApplication]:
    application = FleetApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    yield application
    application.close()


@pytest.fixture
def service(app: FleetApplication) -> ExportService:
    def owned(tenant: str, ids: Sequence[UUID]) -> set[UUID]:
        return {i for i in ids if tenant == "acme" and i == MINE}

    return ExportService(app, owned, clock=lambda: T0)


def stored(app: FleetApplication) -> list[str]:
    return [n.topic for n in app.recorder.select_notifications(start=1, limit=1000)]


def request(devices: Sequence[UUID] = (), days: int = 1) -> RequestExport:
    return RequestExport(
        ExportKind.TELEMETRY, ExportFormat.CSV, T0 - timedelta(days=days), T0, tuple(devices)
    )


def test_requested_then_progress_then_completed(
    service: ExportService, app: FleetApplication
) -> None:
    export = service.request(request([MINE]), ACME).aggregate
    assert export.status is ExportStatus.REQUESTED
    assert export.device_ids == [MINE]
    service.progress(export.id, 100, 2000, WORKER)
    running = service.progress(export.id, 250, 5000, WORKER).aggregate
    assert (running.status, running.rows, running.bytes) == (ExportStatus.RUNNING, 250, 5000)
    done = service.complete(export.id, ExportFile("k", 300, 6000, "ab" * 32), WORKER).aggregate
    assert (done.status, done.rows, done.object_key) == (ExportStatus.COMPLETED, 300, "k")
    assert stored(app) == [
        EXPORT_REQUESTED.topic,
        *[EXPORT_PROGRESSED.topic] * 2,
        EXPORT_COMPLETED.topic,
    ]


def test_progress_never_goes_back(service: ExportService) -> None:
    export = service.request(request(), ACME).aggregate
    service.progress(export.id, 100, 2000, WORKER)
    with pytest.raises(InvalidTransition):
        service.progress(export.id, 50, 2000, WORKER)
    with pytest.raises(InvalidTransition):
        service.complete(export.id, ExportFile("k", 10, 2000, "ab" * 32), WORKER)


def test_nothing_after_a_final_state(service: ExportService, app: FleetApplication) -> None:
    export = service.request(request(), ACME).aggregate
    failed = service.fail(export.id, "budget max_rows exceeded", WORKER).aggregate
    assert failed.status is ExportStatus.FAILED
    assert failed.reason == "budget max_rows exceeded"
    before = stored(app)
    for change in (
        lambda: service.progress(export.id, 1, 1, WORKER),
        lambda: service.complete(export.id, ExportFile("k", 1, 1, "ab" * 32), WORKER),
        lambda: service.fail(export.id, "again", WORKER),
    ):
        with pytest.raises(ExportFinished):
            change()
    assert stored(app) == before


def test_another_tenants_device_is_not_found_and_nothing_is_stored(
    service: ExportService, app: FleetApplication
) -> None:
    with pytest.raises(NotFound, match=str(THEIRS)):
        service.request(request([MINE, THEIRS]), ACME)
    assert stored(app) == []


@pytest.mark.parametrize(
    ("command", "field", "words"),
    [
        (request(days=93), "to", "max_range"),
        (RequestExport(ExportKind.EVENTS, ExportFormat.CSV, T0, T0), "to", "before"),
        (request([uuid4() for _ in range(1001)]), "deviceIds", "1000"),
        (RequestExport(ExportKind.EVENTS, ExportFormat.HTML, T0 - DAY, T0), "format", "report"),
        (
            RequestExport(ExportKind.EVENTS, ExportFormat.CSV, T0 - DAY, T0, tag="a"),
            "tag",
            "report",
        ),
        (RequestExport(ExportKind.REPORT, ExportFormat.HTML, T0 - DAY, T0, tag=""), "tag", "1 to"),
    ],
)
def test_budgets_and_bad_ranges_name_the_field(
    service: ExportService, app: FleetApplication, command: RequestExport, field: str, words: str
) -> None:
    with pytest.raises(InvalidInput, match=words) as refused:
        service.request(command, ACME)
    assert refused.value.field == field
    assert stored(app) == []


def test_another_tenant_cannot_load_the_export(service: ExportService) -> None:
    export = service.request(request(), ACME).aggregate
    with pytest.raises(NotFound):
        service.get("other", export.id)


def test_a_report_is_an_export_scoped_by_a_tag(service: ExportService) -> None:
    command = RequestExport(ExportKind.REPORT, ExportFormat.HTML, T0 - DAY, T0, tag="north")
    export = service.request(command, ACME).aggregate
    assert (export.kind, export.format, export.tag) == (
        ExportKind.REPORT,
        ExportFormat.HTML,
        "north",
    )
    assert service.get("acme", export.id).tag == "north"


def test_a_request_recorded_before_reports_loads_without_a_tag(app: FleetApplication) -> None:
    """`Export.Requested` events stored before 20.4 have no `tag`: they load as `tag=None`."""
    export = Export.request(
        tenant_id="acme", kind=ExportKind.EVENTS, format=ExportFormat.CSV, start=T0 - DAY, end=T0,
        device_ids=[], requested_by="user:alice", at=T0,
    )  # fmt: skip
    (requested,) = export.collect_events()
    old = type(requested).__new__(type(requested))
    old.__dict__.update({k: v for k, v in requested.__dict__.items() if k != "tag"})
    loaded = old.mutate(None)
    assert isinstance(loaded, Export)
    assert (loaded.tag, loaded.kind) == (None, ExportKind.EVENTS)
