"""`fleetwatch serve --as-of WHERE` (docs/audit.md 19.2): the API over the read models that
`fleetwatch replay --keep` kept, as of a past position, read only (`Settings.as_of_read_models`).

The composition root opens each read model's reader on the kept store instead of the live one:
on SQLite the kept file of the model, `WHERE/<model>.sqlite3`; on DynamoDB the model's tables
under the kept prefix `WHERE`. Every model must have been kept (a replay without `--models`):
one missing is refused at start, naming it, rather than served empty. Nothing moves the kept
models on: no worker runs, nothing is ingested, and the store refuses every event but the
record of a read of the trail (`event_store.read_only`), so every command answers `READ_ONLY`
and changes nothing, while an auditor's reads are still recorded (19.3). History and
entity-as-of queries read the live store, the whole feed.
"""

from __future__ import annotations

import dataclasses
import weakref
from pathlib import Path
from typing import Any

from event_store.read_only import record_only
from event_store.sqlite_files import ReadModelsDatastore
from write_side.application import FleetApplication
from write_side.audit_reads import TRAIL_READ_EVENTS
from write_side.errors import ReadOnly


class KeptModelMissing(ValueError):
    """A read model the kept store does not hold."""


_kept: weakref.WeakKeyDictionary[FleetApplication, list[ReadModelsDatastore]] = (
    weakref.WeakKeyDictionary()
)


def kept_where(printed: str) -> str:
    """The kept store as `fleetwatch replay --keep` printed it, or plainly: SQLite's directory
    (`…/as-of-P-run/<model>.sqlite3` or `…/as-of-P-run`), DynamoDB's prefix (`DynamoDB tables
    <prefix>*` or `<prefix>`)."""
    where = printed.strip().removeprefix("DynamoDB tables ").removesuffix("*")
    return where.removesuffix("/<model>.sqlite3")


def read_only(app: FleetApplication, where: str | None) -> None:
    """With `where` (the kept read models served), `app` records nothing but reads of the
    trail from now on; without, nothing changes."""
    if where is None:
        return
    why = f"this server shows the read models kept in {where}, read only"

    def refuse(names: str) -> ReadOnly:
        return ReadOnly(f"{why}: nothing is recorded here ({names} refused)")

    record_only(app.recorder, [name.topic for name in TRAIL_READ_EVENTS], refuse)


def kept_file(app: FleetApplication, where: str, name: str) -> ReadModelsDatastore:
    """The kept SQLite file of the model `name` (closed with `close_kept(app)`)."""
    path = Path(where) / f"{name}.sqlite3"
    if not path.is_file():
        raise KeptModelMissing(f"{path} is missing: {_keep_all(where, name)}")
    datastore = ReadModelsDatastore(str(path))
    _kept.setdefault(app, []).append(datastore)
    return datastore


def kept_tables(view: Any, where: str, name: str) -> Any:
    """The live DynamoDB `view`'s datastore on the kept prefix `where`, its tables there."""
    datastore = dataclasses.replace(view.datastore, table_prefix=where)
    kept = type(view)(datastore=datastore)
    wanted = {str(spec["TableName"]) for spec in kept.construct_extra_tables()}
    pages = view.client.get_paginator("list_tables").paginate()
    found = {table for page in pages for table in page.get("TableNames", [])}
    if not wanted <= found:
        missing = ", ".join(sorted(wanted - found))
        raise KeptModelMissing(f"no table {missing}: {_keep_all(where, name)}")
    return datastore


def _keep_all(where: str, name: str) -> str:
    return (
        f"the read models kept in {where} lack {name!r}; keep them all "
        "(`fleetwatch replay --to POSITION --keep`, without --models)"
    )


def close_kept(app: FleetApplication) -> None:
    for datastore in _kept.pop(app, []):
        datastore.close()
