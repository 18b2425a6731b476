"""A read model's rows in key order with its checkpoint, from a SQLite read-models file, in one
read transaction (docs/audit.md section 19.6): the rows are those the checkpoint says.

Generic over the models: a table's key is its primary key (`PRAGMA table_info`), or all its
columns when it has none, and rows come `ORDER BY` that key; tables in name order. Which tables
a model owns is for the caller to say (`model_tables` lists those of a file holding one model).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

Scalar = str | int | float | bytes | None
Row = tuple[tuple[Scalar, ...], dict[str, Scalar]]
TRACKING = "tracking"  # the `eventsourcing` tracking table every view keeps its checkpoint in
LEASES = "worker_leases"  # who runs which worker (event_store.sqlite_leases): not the model's


@dataclass(frozen=True)
class Snapshot:
    """The checkpoint (0: none) and the rows, streamed within the read transaction."""

    checkpoint: int
    rows: Iterator[Row]


def model_tables(path: Path) -> list[str]:
    """The tables of a file, but the tracking and lease tables and SQLite's own, in name
    order."""
    with _connect(path) as connection:
        names = connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        ).fetchall()
    return sorted(name for (name,) in names if name not in (TRACKING, LEASES))


@contextmanager
def snapshot(path: Path, tables: Sequence[str], tracking_name: str) -> Iterator[Snapshot]:
    """Within one read transaction: the checkpoint of `tracking_name` and the rows of `tables`
    (read lazily; consume them inside the `with`)."""
    connection = _connect(path)
    try:
        connection.execute("BEGIN")  # the snapshot is taken at the first read, the next one
        found = connection.execute(
            f"SELECT notification_id FROM {TRACKING} WHERE application_name = ?",  # noqa: S608
            (tracking_name,),
        ).fetchone()
        yield Snapshot(0 if found is None else int(found[0]), _rows(connection, sorted(tables)))
        connection.execute("COMMIT")
    finally:
        connection.close()


def _connect(path: Path) -> sqlite3.Connection:
    if not path.exists():
        raise FileNotFoundError(f"no read-models file at {path}")
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)


def _rows(connection: sqlite3.Connection, tables: Sequence[str]) -> Iterator[Row]:
    for table in tables:
        info = connection.execute(f"PRAGMA table_info({_quoted(table)})").fetchall()
        columns = [str(column[1]) for column in info]
        primary = [str(column[1]) for column in sorted(info, key=lambda c: c[5]) if column[5]]
        key = primary or columns
        key_at = [columns.index(name) for name in key]
        select = (
            f"SELECT {', '.join(map(_quoted, columns))} FROM {_quoted(table)} "  # noqa: S608
            f"ORDER BY {', '.join(map(_quoted, key))}"
        )
        for values in connection.execute(select):
            yield (table, *(values[i] for i in key_at)), dict(zip(columns, values, strict=True))


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
