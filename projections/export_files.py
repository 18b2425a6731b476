"""An export's file, written chunk by chunk into a `BlobWriter` (docs/analytics.md 20.5), so
that memory holds one chunk of rows, never the export.

- CSV: a header, then each chunk encoded (`csv.writer`, UTF-8) and written at once.
- HTML (a report, 20.4): the rows are kept (a report has a few per device and rule) and the
  page is rendered at the end (`projections.report_html`), then written at once.
- Parquet: each chunk is appended to a table in a DuckDB database file in a temporary
  directory (columns as list parameters, `unnest`: no SQL from data; DuckDB keeps it on disk,
  within `memory_limit`); at the end DuckDB writes the Parquet file (`COPY`), which is then
  streamed into the blob 1 MiB at a time. So the bytes written are known only at the end.
  Rows DuckDB itself can select (telemetry, from the Parquet files) skip Python altogether:
  `ParquetFile.copy` has DuckDB write them into the file in one `COPY`.
"""

from __future__ import annotations

import csv
import io
import shutil
import tempfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from ota.port import CHUNK_SIZE, BlobWriter
from projections.report import ReportRow
from projections.report_html import render
from write_side.exports import ExportFormat

Columns = Sequence[tuple[str, str]]  # (name, DuckDB type)
MEMORY_LIMIT = "256MB"  # DuckDB's, for the staging table of a Parquet export


class ChunkedFile(Protocol):
    size: int  # bytes written to the blob so far

    def add(self, rows: Sequence[tuple[Any, ...]]) -> None: ...

    def finish(self) -> None: ...

    def close(self) -> None: ...


def _text(value: Any) -> Any:
    return f"{value.isoformat()}Z" if isinstance(value, datetime) else value


class CsvFile:
    def __init__(self, blob: BlobWriter, columns: Columns) -> None:
        self.blob, self.size = blob, 0
        self._write([tuple(name for name, _ in columns)])

    def add(self, rows: Sequence[tuple[Any, ...]]) -> None:
        self._write([tuple(_text(v) for v in row) for row in rows])

    def _write(self, rows: Sequence[tuple[Any, ...]]) -> None:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(rows)
        data = buffer.getvalue().encode()
        self.blob.write(data)
        self.size += len(data)

    def finish(self) -> None:
        return None

    def close(self) -> None:
        return None


class ParquetFile:
    def __init__(self, blob: BlobWriter, columns: Columns) -> None:
        self.blob, self.size = blob, 0
        self.columns = columns
        self.names = [name for name, _ in columns]
        self._copied = False
        self._dir = Path(tempfile.mkdtemp(prefix="fleetwatch-export-"))
        import duckdb  # here, not at import: most processes never query (0.3 s)

        self._con = duckdb.connect(str(self._dir / "stage.duckdb"))
        self._con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
        self._con.execute(f"SET temp_directory = '{self._dir / 'spill'}'")
        definition = ", ".join(f"{name} {kind}" for name, kind in columns)
        self._con.execute(f"CREATE TABLE rows ({definition})")
        selected = ", ".join(f"unnest(${name})::{kind}" for name, kind in columns)
        self._insert = f"INSERT INTO rows SELECT {selected}"

    def add(self, rows: Sequence[tuple[Any, ...]]) -> None:
        if rows:
            columns = [list(column) for column in zip(*rows, strict=True)]
            self._con.execute(self._insert, dict(zip(self.names, columns, strict=True)))

    def copy(self, sql: str, params: dict[str, Any], limit: int) -> int:
        """The rows of `sql` (a DuckDB query with `params`, e.g. over the telemetry files), at
        most `limit`, written by DuckDB straight into the file, cast to the columns' types (no
        row through Python: 15x faster than chunks through `add`); how many. Instead of `add`:
        `finish` then streams this file."""
        casts = ", ".join(f"CAST({name} AS {kind}) AS {name}" for name, kind in self.columns)
        query = f"SELECT {casts} FROM ({sql}) LIMIT {int(limit)}"  # noqa: S608 - no data
        found = self._con.execute(
            f"COPY ({query}) TO '{self._path}' (FORMAT PARQUET, COMPRESSION ZSTD)", params
        ).fetchone()
        self._copied = True
        return int(found[0]) if found else 0

    @property
    def _path(self) -> Path:
        return self._dir / "export.parquet"

    def finish(self) -> None:
        path = self._path
        if not self._copied:
            self._con.execute(f"COPY rows TO '{path}' (FORMAT PARQUET, COMPRESSION ZSTD)")
        with path.open("rb") as file:
            while data := file.read(CHUNK_SIZE):
                self.blob.write(data)
                self.size += len(data)

    def close(self) -> None:
        self._con.close()
        shutil.rmtree(self._dir, ignore_errors=True)


class HtmlFile:
    def __init__(self, blob: BlobWriter, heading: tuple[str, str]) -> None:
        self.blob, self.heading, self.size = blob, heading, 0
        self.rows: list[ReportRow] = []

    def add(self, rows: Sequence[tuple[Any, ...]]) -> None:
        self.rows += rows

    def finish(self) -> None:
        data = render(self.rows, *self.heading).encode()
        self.blob.write(data)
        self.size += len(data)

    def close(self) -> None:
        self.rows = []


def open_file(
    format: ExportFormat, blob: BlobWriter, columns: Columns, heading: tuple[str, str] = ("", "")
) -> ChunkedFile:
    """The file of `format`; `heading` (title, subtitle): an HTML page's."""
    if format is ExportFormat.PARQUET:
        return ParquetFile(blob, columns)
    if format is ExportFormat.HTML:
        return HtmlFile(blob, heading)
    return CsvFile(blob, columns)
