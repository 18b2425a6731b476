"""Contract of `DeviceStatusReader` (docs/projections.md 8.1), run on SQLite and DynamoDB Local.

Every adapter promises: `get` and `get_many` answer a tenant's own rows only (None / left out
otherwise); `list` answers the tenant's rows matching the filter in device-id order, at most
`first` (1..500) per page, with a cursor exactly when more rows match, a cursor that resumes
right after the last row returned; a malformed or foreign cursor is `InvalidInput` on `after`;
`nameContains` folds case as `DeviceFilter.matches` does (`str.casefold`). A row the view wrote
reads back equal, field for field.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from event_store.envelope import EventMetadata
from fleetwatch.bootstrap import _device_status_store, application_env
from fleetwatch.settings import Settings
from projections.device_status import DeviceStatusProjection
from projections.runner import ProjectionWorker
from read_side.device_status import (
    MAX_PAGE_SIZE,
    DeviceFilter,
    DeviceStatus,
    DeviceStatusReader,
    encode_cursor,
)
from read_side.telemetry import encode_bucket_cursor
from tests.hypothesis_profiles import examples
from tests.integration.read_models.conftest import Checkpoints
from write_side.application import FleetApplication
from write_side.commands import RegisterDevice, UpdateDevice
from write_side.device_service import DeviceService
from write_side.errors import InvalidInput

TENANT, OTHER = "acme", "globex"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
NAMES = ("Pump North", "pump south", "Ölpumpe Nord", "VALVE 7", "Straße 3", "boiler", "PUMP-9")
TYPES = ("pump", "valve")


@dataclass
class Model:
    app: FleetApplication
    view: Any
    reader: DeviceStatusReader
    rows: list[DeviceStatus]  # the tenant's rows, in device-id order
    shared: DeviceStatus  # the other tenant's row under the id of one of the tenant's devices


def status(tenant: str, index: int, **changes: Any) -> DeviceStatus:
    row = DeviceStatus(
        device_id=uuid.uuid4(),
        tenant_id=tenant,
        name=NAMES[index % len(NAMES)] + f" #{index}",
        device_type=TYPES[index % 2],
        tags=tuple(f"t{k}" for k in range(3) if index % (k + 2) == 0),
        metadata={"site": f"s{index % 3}"} if index % 2 else {},
        lifecycle="decommissioned" if index % 5 == 4 else "active",
        version=index + 1,
        registered_at=T0 + timedelta(minutes=index),
        updated_at=T0 + timedelta(minutes=index, seconds=30),
        position=index + 1,
    )
    return replace(row, **changes)


@pytest.fixture(scope="module")
def model(contract_settings: Settings) -> Iterator[Model]:
    app = FleetApplication(env=application_env(contract_settings))
    view, reader = _device_status_store(app, contract_settings)
    rows = sorted((status(TENANT, i) for i in range(14)), key=lambda r: r.device_id)
    shared = status(OTHER, 99, device_id=rows[3].device_id, name="not acme's")
    others = [status(OTHER, i) for i in range(3)] + [shared]
    checkpoints = Checkpoints("device-status-contract")
    view.save_many(rows, checkpoints.next())
    view.save_many(others, checkpoints.next())
    yield Model(app, view, reader, rows, shared)
    app.close()


def scratch_tenant() -> str:
    """A tenant of its own for a test that writes rows (the module's rows stay as written)."""
    return f"scratch-{uuid.uuid4().hex[:8]}"


def walk(reader: DeviceStatusReader, device_filter: DeviceFilter, first: int) -> list[DeviceStatus]:
    """Every page of a listing, checking each page's promises on the way."""
    found: list[DeviceStatus] = []
    after = None
    for _ in range(100):
        page = reader.list(TENANT, device_filter, first, after)
        assert len(page.items) <= first
        found += page.items
        if page.next_cursor is None:
            return found
        assert len(page.items) == first  # only a full page says there is more
        assert page.next_cursor == encode_cursor(page.items[-1].device_id)
        after = page.next_cursor
    raise AssertionError("more than 100 pages")


# Rows read back ----------------------------------------------------------------------------


def test_a_row_the_view_wrote_reads_back_equal_by_get_get_many_and_list(model: Model) -> None:
    tenant = scratch_tenant()
    full = status(
        tenant,
        50,
        name="Ünïcode ✓ device",
        tags=("b", "a", "ü"),
        metadata={"k": "v", "big": str(2**70), "empty": ""},
        lifecycle="decommissioned",
        registered_at=datetime(2026, 2, 1, 12, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2))),
        decommissioned_at=T0 + timedelta(days=3),
        decommission_reason="end of life",
        credential_id="cred-1",
        last_seen_at=T0 + timedelta(days=2, milliseconds=5),
        online=False,
        last_values={"temp": 21.5, "hum": -0.1, "volt": 1e-7},
        last_values_at={"temp": T0, "hum": T0 + timedelta(seconds=1)},
        firmware_version="1.2.3",
        battery=99.5,
        rssi=-71.25,
        telemetry_version=12,
        open_alerts={uuid.uuid4().hex: "critical", uuid.uuid4().hex: "info"},
    )
    model.view.save_many([full], Checkpoints("device-status-contract-full").next())
    assert model.reader.get(tenant, full.device_id) == full
    assert model.reader.get_many(tenant, [full.device_id]) == {full.device_id: full}
    assert model.reader.list(tenant, DeviceFilter(tag="ü"), 10, None).items == [full]
    assert model.reader.get(TENANT, full.device_id) is None


@pytest.mark.parametrize(("battery", "rssi"), [(1e-200, -1e-200), (5e-324, -150.0), (100.0, -0.0)])
def test_any_status_a_device_may_report_reads_back(
    model: Model, battery: float, rssi: float
) -> None:
    """Ingestion accepts any finite battery in 0..100 and RSSI in -150..0 (`write_side.telemetry`),
    so the view must store and return each exactly (DynamoDB numbers stop at 1e-130)."""
    row = status(scratch_tenant(), 60, battery=battery, rssi=rssi, online=True)
    model.view.save_many([row], Checkpoints(f"device-status-contract-{battery}").next())
    assert model.reader.get(row.tenant_id, row.device_id) == row


def test_a_row_written_through_the_projection_from_recorded_events_reads_back(
    model: Model,
) -> None:
    tenant = scratch_tenant()
    meta = EventMetadata(tenant, "user:alice")
    saved = DeviceService(model.app).register(
        RegisterDevice(
            name="Kühlraum 1", device_type="fridge", tags=["cold"], metadata={"room": "1"}
        ),
        meta,
    )
    device_id = saved.aggregate.id
    DeviceService(model.app).update(UpdateDevice(device_id=device_id, name="Kühlraum Eins"), meta)
    worker = ProjectionWorker(
        DeviceStatusProjection(model.view, model.reader),
        checkpoints=model.view,
        recorder=model.app.recorder,
        mapper=model.app.envelope_mapper,
        upstream_name=model.app.name,
    )
    assert worker.catch_up() == 2
    device = DeviceService(model.app).get(tenant, device_id)
    row = model.reader.get(tenant, device_id)
    assert row is not None
    assert (row.name, row.device_type, row.tags, row.metadata, row.version, row.lifecycle) == (
        "Kühlraum Eins",
        "fridge",
        ("cold",),
        {"room": "1"},
        device.version,
        "active",
    )
    assert model.reader.list(tenant, DeviceFilter(), 10, None).items == [row]


def test_a_row_written_again_replaces_the_old_one_in_every_filter(model: Model) -> None:
    tenant = scratch_tenant()
    before = status(tenant, 0, name="Alpha", tags=("north",), lifecycle="active", position=1)
    after = replace(
        before, name="Beta", tags=("south",), lifecycle="decommissioned", version=2, position=2
    )
    checkpoints = Checkpoints("device-status-contract-rewrite")
    model.view.save_many([before], checkpoints.next())
    model.view.save_many([after], checkpoints.next())
    assert model.reader.get(tenant, before.device_id) == after
    for gone in (DeviceFilter(tag="north"), DeviceFilter(name_contains="alpha")):
        assert model.reader.list(tenant, gone, 5, None).items == []
    now = DeviceFilter(tag="south", name_contains="beta", lifecycle="decommissioned")
    assert model.reader.list(tenant, now, 5, None).items == [after]


# Not found and tenant isolation ------------------------------------------------------------


def test_get_answers_none_for_an_unknown_device_and_another_tenants_row(model: Model) -> None:
    assert model.reader.get(TENANT, uuid.uuid4()) is None
    assert {r.tenant_id for r in walk(model.reader, DeviceFilter(), 50)} == {TENANT}
    shared_id = model.shared.device_id
    assert model.reader.get(OTHER, shared_id) == model.shared
    acme_row = model.reader.get(TENANT, shared_id)
    assert acme_row is not None
    assert acme_row.name != model.shared.name
    assert model.reader.get("nobody", shared_id) is None


def test_get_many_answers_the_tenants_found_rows_only(model: Model) -> None:
    wanted = [model.rows[0].device_id, uuid.uuid4(), model.rows[5].device_id]
    found = model.reader.get_many(TENANT, [*wanted, model.rows[0].device_id])
    assert found == {r.device_id: r for r in (model.rows[0], model.rows[5])}
    assert model.reader.get_many(OTHER, wanted) == {}
    both = [model.shared.device_id, model.rows[0].device_id]
    assert model.reader.get_many(OTHER, both) == {model.shared.device_id: model.shared}
    assert model.reader.get_many(TENANT, []) == {}


def test_a_tenant_without_rows_lists_one_empty_last_page(model: Model) -> None:
    page = model.reader.list("nobody", DeviceFilter(), 10, None)
    assert (page.items, page.next_cursor) == ([], None)


# Filters, order, pages ---------------------------------------------------------------------

FILTERS = [
    DeviceFilter(),
    DeviceFilter(lifecycle="active"),
    DeviceFilter(lifecycle="decommissioned"),
    DeviceFilter(device_type="valve"),
    DeviceFilter(device_type="nope"),
    DeviceFilter(tag="t0"),
    DeviceFilter(tag="t1", lifecycle="active"),
    DeviceFilter(name_contains="pump"),
    DeviceFilter(name_contains="PUMP", device_type="pump"),
    DeviceFilter(name_contains="#1"),
    DeviceFilter(name_contains=""),
    DeviceFilter(lifecycle="active", device_type="pump", tag="t0", name_contains="p"),
]


@pytest.mark.parametrize("device_filter", FILTERS, ids=repr)
def test_list_answers_the_matching_rows_in_device_id_order(
    model: Model, device_filter: DeviceFilter
) -> None:
    expected = [r for r in model.rows if device_filter.matches(r)]
    assert walk(model.reader, device_filter, MAX_PAGE_SIZE) == expected


@pytest.mark.parametrize(
    "needle", ["ölpumpe", "ÖLPUMPE", "STRASSE", "strasse", "straße"], ids=ascii
)
def test_name_contains_folds_case_beyond_ascii(model: Model, needle: str) -> None:
    """`nameContains` is case-insensitive as `DeviceFilter.matches` says: by `str.casefold`,
    for every script (device names are any text), not only A-Z."""
    device_filter = DeviceFilter(name_contains=needle)
    expected = [r for r in model.rows if device_filter.matches(r)]
    assert expected  # the data holds a match for every needle
    assert walk(model.reader, device_filter, MAX_PAGE_SIZE) == expected


@settings(max_examples=examples(25), deadline=None)
@given(first=st.integers(1, 16), device_filter=st.sampled_from(FILTERS))
def test_any_page_size_walks_every_matching_row_once_in_order(
    model: Model, first: int, device_filter: DeviceFilter
) -> None:
    expected = [r for r in model.rows if device_filter.matches(r)]
    assert walk(model.reader, device_filter, first) == expected


def test_a_cursor_resumes_after_its_row_whether_or_not_that_row_still_matches(
    model: Model,
) -> None:
    """Cursors are positions (a device id), not rows: any device id works as one."""
    middle = model.rows[6]
    page = model.reader.list(TENANT, DeviceFilter(), 3, encode_cursor(middle.device_id))
    assert page.items == model.rows[7:10]
    last = model.reader.list(TENANT, DeviceFilter(), 5, encode_cursor(model.rows[-1].device_id))
    assert (last.items, last.next_cursor) == ([], None)
    beyond = model.reader.list(TENANT, DeviceFilter(), 5, encode_cursor(uuid.UUID(int=0)))
    assert beyond.items == model.rows[:5]


# Limits and their errors -------------------------------------------------------------------


@pytest.mark.parametrize("first", [0, -1, MAX_PAGE_SIZE + 1])
def test_a_page_size_out_of_bounds_is_invalid_input_on_first(model: Model, first: int) -> None:
    with pytest.raises(InvalidInput) as raised:
        model.reader.list(TENANT, DeviceFilter(), first, None)
    assert raised.value.field == "first"


@pytest.mark.parametrize(
    "cursor",
    ["", "not a cursor", "ZDo", encode_bucket_cursor(0), "YTp4", "!!!!", "ZDo" + "A" * 40],
)
def test_a_malformed_or_foreign_cursor_is_invalid_input_on_after(model: Model, cursor: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        model.reader.list(TENANT, DeviceFilter(), 10, cursor)
    assert raised.value.field == "after"
