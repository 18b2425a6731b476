"""The Export aggregate: one export of a tenant's telemetry or events (docs/analytics.md 20.5).

An export is an asynchronous job: people record `Requested`; the exports worker
(`projections/exports.py`) streams the rows into the blob store and records `Progressed`
now and then, then `Completed` (with the blob's key) or `Failed`. States: REQUESTED ->
RUNNING (the first progress) -> COMPLETED | FAILED. Progress never goes back, and nothing is
recorded after a final state. Invariants in the public methods, state only in the `@event`
methods (`write_side/devices.py`'s style); times in events are ISO 8601 strings.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from write_side.deployment_errors import InvalidTransition
from write_side.errors import DomainError, InvalidInput
from write_side.event_names import event_name

MAX_RANGE = timedelta(days=92)  # the budget `max_range`: one export covers at most this
MAX_DEVICES = 1000  # at most this many device ids named
MAX_REASON = 500


class ExportKind(StrEnum):
    TELEMETRY = "telemetry"
    EVENTS = "events"
    REPORT = "report"  # the fleet report of the range (docs/analytics.md 20.4)


class ExportFormat(StrEnum):
    CSV = "csv"
    PARQUET = "parquet"
    HTML = "html"  # a report only: a self-contained page with its charts


MAX_TAG = 64


class ExportStatus(StrEnum):
    REQUESTED = "REQUESTED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


FINAL = frozenset({ExportStatus.COMPLETED, ExportStatus.FAILED})


class ExportFinished(DomainError):
    """A change to an export that completed or failed."""

    code = "EXPORT_FINISHED"


def check_range(start: datetime, end: datetime, max_range: timedelta = MAX_RANGE) -> None:
    """`InvalidInput` naming the field (and the budget) when `[start, end)` is not a range
    an export may cover."""
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidInput("times need a time zone (UTC: ...Z)", "from")
    if start >= end:
        raise InvalidInput("`from` must be before `to`", "to")
    if end - start > max_range:
        raise InvalidInput(f"the range exceeds the budget max_range ({max_range.days} days)", "to")


def month_range(month: str) -> tuple[datetime, datetime]:
    """`YYYY-MM` as `[first instant, first instant of the next month)` in UTC; ValueError when
    it is no such month."""
    start = datetime.strptime(month, "%Y-%m").replace(tzinfo=UTC)
    end = (start + timedelta(days=32)).replace(day=1)
    return start, end


class Export(Aggregate):
    """Create with `Export.request(...)`; the worker calls `progress`, `complete`, `fail`."""

    @classmethod
    def request(
        cls,
        *,
        tenant_id: str,
        kind: ExportKind,
        format: ExportFormat,
        start: datetime,
        end: datetime,
        device_ids: list[UUID],
        requested_by: str,
        at: datetime,
        runner: str = "worker",
        max_range: timedelta = MAX_RANGE,
        tag: str | None = None,
    ) -> Export:
        check_range(start, end, max_range)
        if len(device_ids) > MAX_DEVICES:
            raise InvalidInput(f"at most {MAX_DEVICES} device ids", "deviceIds")
        if format is ExportFormat.HTML and kind is not ExportKind.REPORT:
            raise InvalidInput("html is a report's format only (csv or parquet)", "format")
        if tag is not None and not 0 < len(tag) <= MAX_TAG:
            raise InvalidInput(f"a tag has 1 to {MAX_TAG} characters", "tag")
        if tag is not None and kind is not ExportKind.REPORT:
            raise InvalidInput("only a report is scoped by a tag", "tag")
        return cls(
            tenant_id=tenant_id,
            kind=kind.value,
            format=format.value,
            start=start.isoformat(),
            end=end.isoformat(),
            device_ids=sorted({str(d) for d in device_ids}),
            requested_by=requested_by,
            requested_at=at.isoformat(),
            runner=runner,
            tag=tag,  # absent from the events before reports: None
        )

    @event("Requested")
    def __init__(
        self,
        *,
        tenant_id: str,
        kind: str,
        format: str,
        start: str,
        end: str,
        device_ids: list[str],
        requested_by: str,
        requested_at: str,
        runner: str,
        tag: str | None = None,
    ) -> None:
        self.tenant_id, self.requested_by, self.tag = tenant_id, requested_by, tag
        self.runner = runner  # "worker": the exports worker runs it; "caller": the CLI does
        self.kind, self.format = ExportKind(kind), ExportFormat(format)
        self.start, self.end = datetime.fromisoformat(start), datetime.fromisoformat(end)
        self.device_ids = [UUID(d) for d in device_ids]
        self.requested_at = datetime.fromisoformat(requested_at)
        self.status = ExportStatus.REQUESTED
        self.rows = 0
        self.bytes = 0
        self.object_key: str | None = None
        self.reason: str | None = None

    def progress(self, rows: int, size: int, at: datetime) -> None:
        """Rows and bytes written so far; never fewer than recorded already."""
        self._refuse_if_final()
        if rows < self.rows or size < self.bytes:
            raise InvalidTransition(f"export {self.id} progress cannot go back")
        self._progressed(rows=rows, bytes=size, at=at.isoformat())

    def complete(self, rows: int, size: int, object_key: str, sha256: str, at: datetime) -> None:
        self._refuse_if_final()
        if rows < self.rows:
            raise InvalidTransition(f"export {self.id} completed with fewer rows than reported")
        self._completed(
            rows=rows, bytes=size, object_key=object_key, sha256=sha256, at=at.isoformat()
        )

    def fail(self, reason: str, at: datetime) -> None:
        self._refuse_if_final()
        self._failed(reason=reason[:MAX_REASON], at=at.isoformat())

    @property
    def final(self) -> bool:
        return self.status in FINAL

    def _refuse_if_final(self) -> None:
        if self.final:
            raise ExportFinished(f"export {self.id} is {self.status.lower()}")

    @event("Progressed")
    def _progressed(self, *, rows: int, bytes: int, at: str) -> None:
        self.status = ExportStatus.RUNNING
        self.rows, self.bytes = rows, bytes

    @event("Completed")
    def _completed(self, *, rows: int, bytes: int, object_key: str, sha256: str, at: str) -> None:
        self.status = ExportStatus.COMPLETED
        self.rows, self.bytes, self.object_key = rows, bytes, object_key
        self.sha256 = sha256

    @event("Failed")
    def _failed(self, *, reason: str, at: str) -> None:
        self.status = ExportStatus.FAILED
        self.reason = reason


# Its events, named in code (`write_side.event_names`): consumers refer to these.
EXPORT_REQUESTED = event_name(Export, "Requested")
EXPORT_PROGRESSED = event_name(Export, "Progressed")
EXPORT_COMPLETED = event_name(Export, "Completed")
EXPORT_FAILED = event_name(Export, "Failed")
EXPORT_EVENTS = (EXPORT_REQUESTED, EXPORT_PROGRESSED, EXPORT_COMPLETED, EXPORT_FAILED)
