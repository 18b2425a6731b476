"""Exports (docs/analytics.md 20.5): `POST /analytics/export` (202, GraphQL `requestExport`),
`GET /analytics/exports/{exportId}` (GraphQL `export`) and the tenant's exports newest first,
`GET /analytics/exports` (GraphQL `exports`), declared once for both wires; a
month's fleet report (20.4), `POST /analytics/reports` (GraphQL `requestReport`), is an export
of kind `report`, followed and fetched the same way.

The request goes through the one command path (`ExportService.request`: budgets and the
caller's own devices checked, another tenant's device `NOT_FOUND`, nothing stored); the answer
is the read model's row. A completed export shows a `link`: a presigned GET of its blob made
when asked (S3: a presigned URL; the local store: the signed `/firmware/blobs/...` route), valid
`LINK_SECONDS`. `exportProgress` is `api.graphql.exports`'."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

import strawberry
from fastapi import Path
from pydantic import ConfigDict, Field

from api.auth import Permission
from api.command_path import run_command
from api.device_view import View
from api.firmware_rows import ReadModelUnavailable
from api.graphql.scalars import Long
from api.inputs import Input
from api.operations import (
    MUTATION,
    PAGE_ARGS,
    QUERY,
    Arg,
    Call,
    GraphQL,
    Operation,
    Paged,
    Rest,
    parse_id,
)
from api.ports import ExportsSlice, FleetSystem
from api.rest.errors import not_found
from api.rest.models import ItemsPage
from ota.port import BlobStore
from read_side.alerts.port import encode_cursor
from read_side.exports import EXPORTS_CURSOR, ExportFilter, ExportRow, listing_key
from read_side.paging import Page
from write_side.application import Saved
from write_side.errors import InvalidInput
from write_side.export_service import RequestExport
from write_side.exports import Export, ExportFormat, ExportKind, ExportStatus, month_range

LINK_SECONDS = 24 * 3600
EXPORT_ID = Arg(
    "id",
    Annotated[UUID, Path(alias="exportId", description="The export's id (a UUID).")],
    strawberry.ID,
    parse=parse_id("an export id"),
)


class ExportRequestBody(Input):
    """Telemetry or events of the caller's tenant over `[from, to)` (at most 92 days: budget
    `max_range`), as CSV or Parquet; devices: all of the tenant's, or these (its own)."""

    kind: ExportKind
    format: ExportFormat = ExportFormat.CSV
    start: datetime = Field(alias="from", description="Inclusive (ISO 8601, with a zone).")
    end: datetime = Field(alias="to", description="Exclusive (ISO 8601, with a zone).")
    device_ids: list[UUID] = Field(default_factory=list, description="At most 1,000.")
    tag: str | None = Field(default=None, description="A report's scope: the devices of a tag.")

    def command(self) -> RequestExport:
        ids = tuple(self.device_ids)
        return RequestExport(self.kind, self.format, self.start, self.end, ids, tag=self.tag)


class ReportRequestBody(Input):
    """The fleet report of a calendar month (UTC) of the caller's tenant: uptime per device,
    alerts by rule and severity, MTTA and MTTR, firmware compliance; over all its devices,
    those of a tag, or the named ones (its own); a self-contained HTML page with its charts
    (the default), or its rows as CSV or Parquet. The month may be the current one (up to now)."""

    month: str = Field(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$", description="YYYY-MM (UTC).")
    format: ExportFormat = ExportFormat.HTML
    tag: str | None = Field(default=None, description="Only the devices of this tag.")
    device_ids: list[UUID] = Field(default_factory=list, description="At most 1,000.")

    def command(self) -> RequestExport:
        start, end = month_range(self.month)
        if start > datetime.now(UTC):
            raise InvalidInput(f"{self.month} has not begun", "month")
        ids, kind = tuple(self.device_ids), ExportKind.REPORT
        return RequestExport(kind, self.format, start, end, ids, tag=self.tag)


class ExportsQuery(Input):
    """Which of the tenant's exports a listing shows (all by default), newest first: REST's
    query, GraphQL's `ExportsFilter`."""

    model_config = ConfigDict(extra="ignore")

    kind: ExportKind | None = None
    status: ExportStatus | None = None

    def criteria(self) -> ExportFilter:
        kind = None if self.kind is None else self.kind.value
        return ExportFilter(kind, None if self.status is None else self.status.value)


class ExportLinkPublic(View):
    url: str = Field(description="GET it without a token until `expiresAt`.")
    expires_at: datetime


class ExportPublic(View):
    id: UUID
    kind: ExportKind
    format: ExportFormat
    status: ExportStatus
    start: datetime = Field(description="The range's start (inclusive).")
    end: datetime = Field(description="The range's end (exclusive).")
    device_ids: list[UUID]
    tag: str | None = Field(description="A report's scope: the devices of this tag.")
    rows: Long = Field(description="Rows written so far (all of them once completed).")
    bytes: Long = Field(description="Bytes written so far (Parquet: known at the end).")
    reason: str | None = Field(description="Why it failed (a budget is named).")
    requested_at: datetime
    finished_at: datetime | None
    link: ExportLinkPublic | None = Field(description="The file, once completed.")

    @classmethod
    def of(cls, row: ExportRow, blobs: BlobStore) -> ExportPublic:
        link = None
        if row.object_key is not None and row.status == ExportStatus.COMPLETED:
            signed = blobs.presign_get(row.object_key, LINK_SECONDS)
            link = ExportLinkPublic(url=signed.url, expires_at=signed.expires_at)
        return cls(
            id=row.export_id, kind=ExportKind(row.kind), format=ExportFormat(row.format),
            status=ExportStatus(row.status), start=row.start, end=row.end,
            device_ids=[UUID(d) for d in row.device_ids], tag=row.tag, rows=Long(row.rows),
            bytes=Long(row.size_bytes),
            reason=row.reason, requested_at=row.requested_at, finished_at=row.finished_at,
            link=link,
        )  # fmt: skip


def exports_of(system: FleetSystem) -> ExportsSlice:
    if system.exports is None:
        raise ReadModelUnavailable("exports are not configured in this process")
    return system.exports


def row_of(export: Export) -> ExportRow:
    """The export as saved, for an answer the read model has not caught up with yet."""
    return ExportRow(
        tenant_id=export.tenant_id, export_id=export.id, kind=export.kind.value,
        format=export.format.value, status=export.status.value, start=export.start,
        end=export.end, device_ids=tuple(str(d) for d in export.device_ids),
        requested_by=export.requested_by, requested_at=export.requested_at, rows=export.rows,
        size_bytes=export.bytes, object_key=export.object_key, sha256=None,
        reason=export.reason, finished_at=None, version=export.version,
        updated_at=datetime.now(UTC), tag=export.tag,
    )  # fmt: skip


async def request_export(call: Call) -> ExportPublic:
    exports = exports_of(call.system)

    def fallback(saved: Saved[Export], _row: ExportRow | None) -> ExportRow:
        return row_of(saved.aggregate)

    command = call.shape.command()
    row = await run_command(
        call.system, call.caller, exports.service.request, command,
        read=exports.reader.get, fallback=fallback,
    )  # fmt: skip
    return ExportPublic.of(row, call.system.blobs)


class ExportsPage(ItemsPage[ExportPublic]):
    pass


async def list_exports(call: Call) -> Page[ExportPublic]:
    """A page of the tenant's exports, each with its link once completed."""
    page = await call.page(exports_of(call.system).reader.exports, call.shape.criteria())
    blobs = call.system.blobs
    return Page([ExportPublic.of(row, blobs) for row in page.items], page.next_cursor)


def listed_cursor(export: ExportPublic) -> str:
    """The cursor after an export of a listing (`export_key`, from the fields shown)."""
    return encode_cursor(EXPORTS_CURSOR, listing_key(export.requested_at, export.id))


async def get_export(call: Call) -> ExportPublic | None:
    row = await call.read(exports_of(call.system).reader.get, call["id"])
    return None if row is None else ExportPublic.of(row, call.system.blobs)


EXPORT = Permission.EXPORT_DATA
OPERATIONS = (
    Operation(
        "request_export", EXPORT, request_export, ExportPublic, shape=ExportRequestBody,
        rest=Rest(
            "POST", "/analytics/export",
            "Export telemetry or events of a range as CSV or Parquet (asynchronous: 202)",
            status=202, etag=False, location=lambda e: f"/analytics/exports/{e.id}",
            responses=not_found("device"),
        ),
        graphql=GraphQL("request_export", MUTATION, input="RequestExportInput"),
    ),
    Operation(
        "request_report", EXPORT, request_export, ExportPublic, shape=ReportRequestBody,
        rest=Rest(
            "POST", "/analytics/reports",
            "A month's fleet report as an HTML page with charts, CSV or Parquet (asynchronous: "
            "202; follow it at its Location, or with the subscription exportProgress)",
            status=202, etag=False, location=lambda e: f"/analytics/exports/{e.id}",
            responses=not_found("device"),
        ),
        graphql=GraphQL("request_report", MUTATION, input="RequestReportInput"),
    ),
    Operation(
        "list_exports", EXPORT, list_exports, ExportPublic, shape=ExportsQuery, args=PAGE_ARGS,
        paged=Paged(lambda shown: shown, listed_cursor, ExportsPage),
        rest=Rest("GET", "/analytics/exports",
                  "The tenant's exports and reports, newest first (each with its link once "
                  "completed)", shape_in="query", etag=False),
        graphql=GraphQL("exports", QUERY, input="ExportsFilter"),
    ),
    Operation(
        "get_export", EXPORT, get_export, ExportPublic, args=(EXPORT_ID,),
        nullable=True, missing="export {id} not found",
        rest=Rest(
            "GET", "/analytics/exports/{exportId}",
            "An export: its status, rows, bytes and, once completed, a link to its file",
            etag=False, responses=not_found("export"),
        ),
        graphql=GraphQL("export", QUERY),
    ),
)  # fmt: skip
