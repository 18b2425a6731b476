"""What a busy thread does to a thread that talks to SQLite (or reads os.urandom) in the same
process: the "convoy" that shaped the ingestion commit and the projection workers.

    .venv/bin/python bench/gil_convoy.py [--rows 1000] [--repeat 5] [--json-only]

CPython lets go of the GIL around every step of an SQLite statement (each row an `executemany`
inserts, each row a select returns) and around `os.urandom` (so around `uuid.uuid4()`). A thread
that lets go of it while another thread is computing gets it back only when that thread is made
to yield, after the switch interval (5 ms). Each operation is timed alone (the baseline, same
run) and beside one thread that computes without pause. Prints one JSON document, then a table.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from event_store.ids import new_uuid4


def timed(operation: Callable[[], object], repeat: int, busy: bool) -> float:
    """Mean wall time of `operation` in ms, alone or beside a thread that never waits."""
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            sum(range(1000))

    spinner = threading.Thread(target=spin) if busy else None
    if spinner is not None:
        spinner.start()
        time.sleep(0.05)
    try:
        started = time.perf_counter()
        for _ in range(repeat):
            operation()
        return (time.perf_counter() - started) / repeat * 1000
    finally:
        stop.set()
        if spinner is not None:
            spinner.join()


def operations(db: sqlite3.Connection, rows: int) -> dict[str, Callable[[], object]]:
    values = [("x" * 20, float(i), b"y" * 200) for i in range(rows)]

    def executemany() -> None:
        db.execute("BEGIN")
        db.executemany("INSERT INTO t (a, b, c) VALUES (?, ?, ?)", values)
        db.execute("COMMIT")

    def multirow() -> None:
        db.execute("BEGIN")
        for start in range(0, rows, 300):
            chunk = values[start : start + 300]
            marks = ",".join(["(?, ?, ?)"] * len(chunk))
            db.execute(f"INSERT INTO t (a, b, c) VALUES {marks}", [v for r in chunk for v in r])
        db.execute("COMMIT")

    def select_rows() -> None:
        db.execute("SELECT id, a, b, c FROM t ORDER BY id DESC LIMIT ?", (rows,)).fetchall()

    def select_one_json_row() -> None:
        (text,) = db.execute(
            "SELECT json_group_array(json_array(id, a, b, hex(c))) "
            "FROM (SELECT id, a, b, c FROM t ORDER BY id DESC LIMIT ?)",
            (rows,),
        ).fetchone()
        json.loads(text)

    return {
        f"executemany, {rows} rows": executemany,
        f"multi-row INSERT, {rows} rows (300 per statement)": multirow,
        f"select of {rows} rows": select_rows,
        f"select of {rows} rows as one JSON value": select_one_json_row,
        "uuid.uuid4() x 200": lambda: [uuid.uuid4() for _ in range(200)],
        "event_store.ids.new_uuid4() x 200": lambda: [new_uuid4() for _ in range(200)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json-only", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        db = sqlite3.connect(Path(folder) / "convoy.db", isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b REAL, c BLOB)")
        results: dict[str, Any] = {}
        for name, operation in operations(db, args.rows).items():
            alone = timed(operation, args.repeat, busy=False)
            beside = timed(operation, args.repeat, busy=True)
            results[name] = {
                "alone_ms": round(alone, 2),  # the baseline
                "beside_a_busy_thread_ms": round(beside, 2),
                "slowdown": round(beside / alone, 1),
            }
        db.close()
    report = {
        "python": sys.version.split()[0],
        "sqlite": sqlite3.sqlite_version,
        "switch_interval_s": sys.getswitchinterval(),
        "cpus": os.cpu_count(),
        "operations": results,
    }
    print(json.dumps(report, indent=2))
    if not args.json_only:
        width = max(len(name) for name in results)
        print(f"{'operation'.ljust(width)}  alone ms  beside busy ms  slowdown")
        for name, r in results.items():
            print(
                f"{name.ljust(width)}  {r['alone_ms']:>8}  {r['beside_a_busy_thread_ms']:>14}"
                f"  {r['slowdown']:>7}x"
            )


if __name__ == "__main__":
    main()
