"""The telemetry Parquet files on the local disk (docs/analytics.md 20.2): their layout, the
writing of one flush and the sweep of a crashed flush's files.

    <root>/tenant_id=<tenant>/day=YYYY-MM-DD/part-<first>-<last>_<i>.parquet

`<first>`/`<last>`: the feed positions the flush covers (12 digits), so a file is known by the
events it holds. DuckDB writes each flush into `<root>/.staging/` (`COPY ... PARTITION_BY`);
each file is then renamed into its partition (atomic on one file system). Nothing here builds
SQL from data: the rows go in as list parameters; the only text put in a statement is the
staging path and the two positions, which this module makes itself.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Protocol
from urllib.parse import quote

from read_side.telemetry.batch import DeviceBatch
from read_side.telemetry.row import epoch_ms, from_epoch_ms

__all__ = ["FILE_NAME", "Mirror", "ParquetFiles", "TelemetryRows", "partition_dir"]

FILE_NAME = re.compile(r"^part-(\d{12})-(\d{12})_\d+\.parquet$")
STAGING = ".staging"


@dataclass
class TelemetryRows:
    """The readings of a flush, column by column (what DuckDB takes as list parameters)."""

    tenant_id: list[str] = field(default_factory=list)
    device_id: list[str] = field(default_factory=list)
    device_type: list[str] = field(default_factory=list)
    metric: list[str] = field(default_factory=list)
    ts_ms: list[int] = field(default_factory=list)
    value: list[float] = field(default_factory=list)
    message_id: list[str] = field(default_factory=list)
    received_ms: list[int] = field(default_factory=list)
    position: list[int] = field(default_factory=list)
    late: list[bool] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.value)

    def add(self, batch: DeviceBatch, device_type: str) -> None:
        """Every reading of the batch (its entries' metrics), in entry order."""
        tenant, device, position = batch.tenant_id, str(batch.device_id), batch.position
        received = epoch_ms(batch.received_at)
        late = set(batch.late)
        for index, entry in enumerate(batch.entries):
            is_late = index in late
            for metric, value in entry.metrics.items():
                self.tenant_id.append(tenant)
                self.device_id.append(device)
                self.device_type.append(device_type)
                self.metric.append(metric)
                self.ts_ms.append(entry.at_ms)
                self.value.append(value)
                self.message_id.append(entry.message_id)
                self.received_ms.append(received)
                self.position.append(position)
                self.late.append(is_late)


# The columns as the files hold them, in order (the partition columns are the directories).
_STAGE = """
CREATE OR REPLACE TEMP TABLE staged AS
SELECT unnest($tenant_id) AS tenant_id, unnest($device_id) AS device_id,
       unnest($device_type) AS device_type, unnest($metric) AS metric,
       epoch_ms(unnest($ts_ms)) AS ts, unnest($value)::DOUBLE AS value,
       unnest($message_id) AS message_id, epoch_ms(unnest($received_ms)) AS received_at,
       unnest($position)::BIGINT AS position, unnest($late) AS late
"""
_SELECT = """
SELECT device_id, device_type, metric, ts, value, message_id, received_at, position, late,
       tenant_id, strftime(ts, '%Y-%m-%d') AS day
FROM staged ORDER BY tenant_id, day, device_id, metric, ts
"""


def partition_dir(root: Path, tenant_id: str, day: date) -> Path:
    """The directory of one tenant's day, escaped as DuckDB and Hive escape a value."""
    return root / f"tenant_id={quote(tenant_id, safe='')}" / f"day={day.isoformat()}"


class Mirror(Protocol):
    """Where the files are copied as they are put in place (`s3_mirror.S3Mirror`)."""

    def put(self, root: Path, placed: list[Path]) -> list[str]: ...

    def sweep_after(self, checkpoint: int) -> list[str]: ...


class ParquetFiles:
    """The tree of telemetry files under `root` (created on first write); with a `mirror`, each
    file put in place is copied there too, and swept there too."""

    def __init__(self, root: Path, mirror: Mirror | None = None) -> None:
        self.root = root
        self.mirror = mirror

    def write(self, rows: TelemetryRows, first: int, last: int) -> list[Path]:
        """Write the rows as the files of positions `[first, last]`, replacing files of the
        same names; returns the files in place."""
        staging = self.root / STAGING / f"{first:012d}-{last:012d}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.parent.mkdir(parents=True, exist_ok=True)
        pattern = f"part-{first:012d}-{last:012d}_{{i}}"
        target_dir = str(staging).replace("'", "''")
        import duckdb  # here, not at import: most processes never query (0.3 s)

        with duckdb.connect() as con:
            con.execute(_STAGE, {name: getattr(rows, name) for name in _COLUMNS})
            con.execute(
                f"COPY ({_SELECT}) TO '{target_dir}' (FORMAT PARQUET, "
                f"PARTITION_BY (tenant_id, day), FILENAME_PATTERN '{pattern}')"
            )
        placed = []
        for staged in sorted(staging.rglob("*.parquet")):
            target = self.root / staged.relative_to(staging)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged, target)
            placed.append(target)
        shutil.rmtree(staging, ignore_errors=True)
        if self.mirror is not None:
            self.mirror.put(self.root, placed)
        return placed

    def all_files(self) -> Iterator[tuple[Path, int, int]]:
        """Every file in place with the positions its name gives."""
        if not self.root.is_dir():
            return
        for path in self.root.glob("tenant_id=*/day=*/part-*.parquet"):
            positions = _positions(path.name)
            if positions is not None:
                yield path, *positions

    def sweep_after(self, checkpoint: int) -> list[str]:
        """Delete the files of flushes whose checkpoint never committed (first position above
        `checkpoint`) and the staging directory, here and in the mirror; returns what was
        deleted (paths, then the mirror's keys)."""
        shutil.rmtree(self.root / STAGING, ignore_errors=True)
        gone = [path for path, first, _last in self.all_files() if first > checkpoint]
        for path in gone:
            path.unlink(missing_ok=True)
        mirrored = [] if self.mirror is None else self.mirror.sweep_after(checkpoint)
        return [str(path) for path in gone] + mirrored

    def written(
        self, tenant_id: str, device_id: str, keys: set[tuple[int, str]], committed: int
    ) -> set[tuple[int, str]]:
        """Which of `keys` ((device time in epoch ms, message id) of the device) a reading in a
        committed file holds: a file whose first position is at most `committed` (one above
        is a flush whose checkpoint never committed, swept before the next flush). Only the
        partitions of the keys' days are read; for late entries, which are rare."""
        days = sorted({from_epoch_ms(ms).date() for ms, _ in keys})
        paths = [
            path
            for day in days
            for path in self.tenant_files(tenant_id, day, day)
            if (positions := _positions(Path(path).name)) and positions[0] <= committed
        ]
        if not paths:
            return set()
        import duckdb  # here, not at import: most processes never query (0.3 s)

        with duckdb.connect() as con:
            rows = con.execute(
                "SELECT DISTINCT epoch_ms(ts), message_id FROM read_parquet($files) "
                "WHERE device_id = $device AND list_contains($ids, message_id)",
                {"files": paths, "device": device_id, "ids": sorted({m for _, m in keys})},
            ).fetchall()
        return {(int(ms), str(message)) for ms, message in rows} & keys

    def tenant_files(self, tenant_id: str, first_day: date, last_day: date) -> list[str]:
        """The files of one tenant for the days `[first_day, last_day]`, only its own
        partition directory looked at (the tenant is never a pattern)."""
        found: list[str] = []
        day = first_day
        while day <= last_day:
            directory = partition_dir(self.root, tenant_id, day)
            if directory.is_dir():
                found.extend(str(p) for p in sorted(directory.iterdir()) if FILE_NAME.match(p.name))
            day += timedelta(days=1)
        return found


_COLUMNS = tuple(TelemetryRows.__dataclass_fields__)


def _positions(name: str) -> tuple[int, int] | None:
    """The first and last feed positions a file's name gives (None: not one of the files)."""
    match = FILE_NAME.match(name)
    return None if match is None else (int(match[1]), int(match[2]))
