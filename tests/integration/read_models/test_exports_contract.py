"""Contract of `ExportsReader` (docs/analytics.md 20.5), run on SQLite and DynamoDB Local:
`get` answers the tenant's own row equal field for field to what the view wrote (optional
fields None or set), None for an unknown export or another tenant's; a row of a higher version
replaces the old one; a reset empties it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from fleetwatch.settings import Settings
from fleetwatch.wiring import application_env, open_read_model
from read_side.exports import ExportRow, ExportsReader
from tests.integration.read_models.conftest import Checkpoints
from write_side.application import FleetApplication

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
