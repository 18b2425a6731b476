"""`fleetwatch export` and `fleetwatch report`: an export of a tenant's telemetry or events
(docs/analytics.md 20.5), or a month's fleet report (20.4, an export of kind `report`), run
in this process: the same command as `POST /analytics/export` (recorded as run by its caller, so
a serving process's exporter leaves it alone) and the same exporter, a progress bar on stderr,
the file copied to `--out` when asked."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated
from uuid import UUID

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from event_store.envelope import EventMetadata
from fleetwatch.bootstrap import build_system
from fleetwatch.cli.common import err, fail
from fleetwatch.settings import Settings
from write_side.errors import DomainError, InvalidInput
from write_side.export_service import RequestExport
from write_side.exports import Export, ExportFormat, ExportKind, ExportStatus, month_range


def _time(text: str, name: str) -> datetime:
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"not an ISO 8601 time: {text!r}", name) from None
    if at.tzinfo is None:
        raise InvalidInput("times need a time zone (UTC: ...Z or +00:00)", name)
    return at


def export(  # noqa: PLR0917 - typer options
    tenant: Annotated[str, typer.Option(help="The tenant whose data is exported.")],
    kind: Annotated[ExportKind, typer.Option(help="telemetry or events.")],
    start: Annotated[str, typer.Option("--from", help="Inclusive, ISO 8601 with a zone.")],
    end: Annotated[str, typer.Option("--to", help="Exclusive, ISO 8601 with a zone.")],
    format: Annotated[ExportFormat, typer.Option(help="csv or parquet.")] = ExportFormat.CSV,
    device: Annotated[list[str] | None, typer.Option(help="A device id (repeat).")] = None,
    out: Annotated[Path | None, typer.Option(help="Write the file here too.")] = None,
) -> None:
    """Export a tenant's telemetry or events of a range; prints the export's id, status, rows,
    bytes and blob key. Exit code 1 when the export failed (its reason on stderr)."""

    def command() -> RequestExport:
        devices = _devices(device)
        return RequestExport(
            kind, format, _time(start, "from"), _time(end, "to"), devices, in_process=True
        )

    _run(tenant, command, out)


def report(  # noqa: PLR0917 - typer options
    tenant: Annotated[str, typer.Option(help="The tenant whose fleet is reported.")],
    month: Annotated[str, typer.Option(help="YYYY-MM (UTC); the current one: up to now.")],
    tag: Annotated[str | None, typer.Option(help="Only the devices of this tag.")] = None,
    format: Annotated[ExportFormat, typer.Option(help="html, csv or parquet.")] = ExportFormat.HTML,
    device: Annotated[list[str] | None, typer.Option(help="A device id (repeat).")] = None,
    out: Annotated[Path | None, typer.Option(help="Write the file here too.")] = None,
) -> None:
    """A month's fleet report (docs/analytics.md 20.4): uptime per device, alerts by rule and
    severity, MTTA and MTTR, firmware compliance; an HTML page with charts, or its rows. Prints
    what `export` prints; exit code 1 when it failed."""

    def command() -> RequestExport:
        try:
            start, end = month_range(month)
        except ValueError:
            raise InvalidInput(f"not a month (YYYY-MM): {month!r}", "month") from None
        devices = _devices(device)
        return RequestExport(
            ExportKind.REPORT, format, start, end, devices, in_process=True, tag=tag
        )

    _run(tenant, command, out)


def _devices(given: list[str] | None) -> tuple[UUID, ...]:
    try:
        return tuple(UUID(d) for d in given or ())
    except ValueError as e:
        raise InvalidInput(str(e), "device") from None


def _run(tenant: str, command: Callable[[], RequestExport], out: Path | None) -> None:
    """Request the export (`command` builds it; bad input exits with code 2), run it here with
    a progress bar, print its end, copy its file to `out`."""
    system = build_system(Settings())
    try:
        if system.exports is None:
            raise fail("exports are not configured")
        try:
            requested = system.exports.service.request(
                command(), EventMetadata(tenant, "system:cli")
            )
        except DomainError as e:
            field = getattr(e, "field", None)
            raise fail(f"{field}: {e.message}" if field else e.message) from None
        export_id = requested.aggregate.id
        with Progress(
            SpinnerColumn(), TextColumn("exporting {task.description}"),
            TextColumn("{task.fields[rows]:,} rows, {task.fields[size]:,} bytes"),
            TimeElapsedColumn(), console=err,
        ) as bar:  # fmt: skip
            task = bar.add_task(str(export_id), total=None, rows=0, size=0)

            def progress(current: Export) -> None:
                bar.update(task, rows=current.rows, size=current.bytes)

            done = system.exports.exporter.run(tenant, export_id, progress)
        print(f"{done.id} {done.status} rows={done.rows} bytes={done.bytes} key={done.object_key}")
        if done.status is not ExportStatus.COMPLETED or done.object_key is None:
            err.print(f"export failed: {done.reason}", markup=False)
            raise typer.Exit(code=1)
        if out is not None:
            with out.open("wb") as file:
                for chunk in system.blobs.read_range(done.object_key):
                    file.write(chunk)
    finally:
        system.close()
