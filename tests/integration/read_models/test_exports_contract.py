"""Contract of `ExportsReader` (docs/analytics.md 20.5), run on SQLite and DynamoDB Local:
`get` answers the tenant's own row equal field for field to what the view wrote (optional
fields None or set), None for an unknown export or another tenant's; a row of a higher version
replaces the old one; a reset empties it; `exports` lists the tenant's newest first."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from fleetwatch.settings import Settings
from fleetwatch.wiring import application_env, open_read_model
from read_side.exports import ExportFilter, ExportRow, ExportsReader
from tests.integration.read_models.conftest import Checkpoints
from write_side.application import FleetApplication
from write_side.errors import InvalidInput

T0 = datetime(2026, 1, 1, tzinfo=UTC)
PLUS_TWO = timezone(timedelta(hours=2))


@dataclass
class Model:
    app: FleetApplication
    view: Any
    reader: ExportsReader
    checkpoints: Checkpoints


def row(tenant: str = "acme", **changes: Any) -> ExportRow:
    base = ExportRow(
        tenant_id=tenant, export_id=uuid.uuid4(), kind="telemetry", format="csv",
        status="REQUESTED", start=T0, end=T0 + timedelta(days=1),
        device_ids=(str(uuid.uuid4()),), requested_by="user:alice", requested_at=T0, rows=0,
        size_bytes=0, object_key=None, sha256=None, reason=None, finished_at=None, version=1,
        updated_at=T0,
    )  # fmt: skip
    return replace(base, **changes)


@pytest.fixture(scope="module")
def model(contract_settings: Settings) -> Iterator[Model]:
    app = FleetApplication(env=application_env(contract_settings))
    view, reader = open_read_model(app, contract_settings, "exports")
    yield Model(app, view, reader, Checkpoints("exports-contract"))
    app.close()


def test_rows_read_back_equal_and_only_for_their_tenant(model: Model) -> None:
    requested = row()
    done = row(
        status="COMPLETED", rows=3600, size_bytes=123_456, object_key="firmware/acme/" + "a" * 64,
        sha256="a" * 64, finished_at=datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=PLUS_TWO),
        device_ids=(), version=5,
    )  # fmt: skip
    model.view.save_many([requested, done], model.checkpoints.next())
    assert model.reader.get("acme", requested.export_id) == requested
    assert model.reader.get("acme", done.export_id) == done
    assert model.reader.get("globex", done.export_id) is None
    assert model.reader.get("acme", uuid.uuid4()) is None


def test_a_higher_version_replaces_the_row(model: Model) -> None:
    first = row()
    model.view.save_many([first], model.checkpoints.next())
    failed = replace(first, status="FAILED", reason="budget max_rows", version=2)
    model.view.save_many([failed], model.checkpoints.next())
    assert model.reader.get("acme", first.export_id) == failed


def test_a_reset_empties_the_model(contract_settings: Settings) -> None:
    app = FleetApplication(env=application_env(contract_settings))
    try:
        view, reader = open_read_model(app, contract_settings, "exports")
        kept = row(tenant=f"t{uuid.uuid4().hex[:6]}")
        view.save_many([kept], Checkpoints("exports-reset").next())
        view.reset("exports-reset")
        assert reader.get(kept.tenant_id, kept.export_id) is None
        assert view.max_tracking_id("exports-reset") is None
    finally:
        app.close()


def test_a_listing_is_the_tenants_own_newest_first_filtered_and_paged(model: Model) -> None:
    """`exports(tenant, criteria, first, after)`: newest first by request time (then id),
    only the tenant's, by kind and status, pages that join up; a bad cursor is INVALID_INPUT."""
    tenant = f"list-{uuid.uuid4().hex[:6]}"
    made = [
        row(tenant, requested_at=T0 + timedelta(minutes=i), kind=kind, status=status)
        for i, (kind, status) in enumerate(
            [("telemetry", "COMPLETED"), ("events", "FAILED"), ("report", "COMPLETED"),
             ("telemetry", "REQUESTED"), ("telemetry", "COMPLETED")]
        )
    ]  # fmt: skip
    same_time = row(tenant, requested_at=made[2].requested_at.astimezone(PLUS_TWO), kind="events")
    model.view.save_many([*made, same_time, row("other-tenant")], model.checkpoints.next())
    newest_first = sorted([*made, same_time], key=lambda r: r.requested_key, reverse=True)
    assert newest_first[0] == made[4]

    seen, after = [], None
    while True:
        page = model.reader.exports(tenant, ExportFilter(), 2, after)
        seen += page.items
        if (after := page.next_cursor) is None:
            break
        assert len(page.items) == 2
    assert seen == newest_first

    telemetry = model.reader.exports(tenant, ExportFilter(kind="telemetry"), 10, None).items
    assert telemetry == [made[4], made[3], made[0]]
    done = model.reader.exports(tenant, ExportFilter("telemetry", "COMPLETED"), 10, None)
    assert (done.items, done.next_cursor) == ([made[4], made[0]], None)
    assert model.reader.exports("nobody", ExportFilter(), 10, None).items == []
    with pytest.raises(InvalidInput) as bad:
        model.reader.exports(tenant, ExportFilter(), 10, "not-a-cursor")
    assert bad.value.field == "after"
