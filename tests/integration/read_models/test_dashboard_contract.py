"""Contract of the dashboard model (docs/analytics.md 20.1), run on SQLite and DynamoDB Local.

The real projection feeds each store's view; every adapter promises: the dashboard read back
equals the one the in-memory reference model (`tests/unit/test_dashboard_projection.py`) gives
for the same events, also when a batch needs several commits (DynamoDB: 98 writes each);
a replayed batch is refused as already tracked and a commit that does not continue from the
checkpoint is refused, both writing nothing; another tenant sees nothing of it; a reset empties
it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from eventsourcing.persistence import Tracking

from event_store.tracking import AlreadyTracked
from fleetwatch.settings import Settings
from fleetwatch.wiring import application_env, open_read_model
from projections.dashboard import DashboardProjection
from read_side.dashboard import CheckpointMoved, DashboardCommit, DashboardReader
from tests.unit.dashboard_feed import Feed
from tests.unit.test_dashboard_projection import NAME, MemoryDashboard, run, small_fleet
from write_side.application import FleetApplication


@dataclass
class Model:
    view: Any
    reader: DashboardReader
    feed: Feed
    reference: MemoryDashboard


@pytest.fixture(scope="module")
def model(contract_settings: Settings) -> Iterator[Model]:
    app = FleetApplication(env=application_env(contract_settings))
    view, reader = open_read_model(app, contract_settings, "dashboard")
    feed, _ = small_fleet()
    batches = [feed.events[i : i + 5] for i in range(0, len(feed.events), 5)]
    for _ in range(120):  # one batch of more writes than one DynamoDB transaction takes
        feed.register(uuid.uuid4(), "meter")
    batches.append(feed.events[-120:])
    projection = DashboardProjection(view, reader)
    for part in batches:  # several batches: each commit continues from the one before
        projection.process_batch(part, Tracking(NAME, part[-1].position or 0))
    reference = MemoryDashboard()
    run(reference, feed, batch=200)
    yield Model(view, reader, feed, reference)
    app.close()


def test_the_dashboard_equals_the_reference_models(model: Model) -> None:
    board = model.reader.dashboard("acme", model.feed.now)
    assert board == model.reference.dashboard("acme", model.feed.now)
    assert {c.value: c.count for c in board.devices_by_type} == {"meter": 120, "sensor": 2}
    assert model.view.max_tracking_id(NAME) == model.feed.position


def test_a_replay_or_a_commit_not_continuing_the_checkpoint_writes_nothing(model: Model) -> None:
    before = model.reader.dashboard("acme", model.feed.now)
    projection = DashboardProjection(model.view, model.reader)
    with pytest.raises(AlreadyTracked):
        projection.process_batch(model.feed.events[-3:], Tracking(NAME, model.feed.position))
    stray = DashboardCommit(
        tracking=Tracking(NAME, model.feed.position + 5),
        after=model.feed.position - 1,
        deltas={("acme", "fleet#status#online"): 1.0},
    )
    with pytest.raises(CheckpointMoved):
        model.view.commit(stray)
    assert model.reader.dashboard("acme", model.feed.now) == before
    assert model.view.max_tracking_id(NAME) == model.feed.position


def test_another_tenant_sees_nothing(model: Model) -> None:
    board = model.reader.dashboard("globex", model.feed.now)
    assert board.devices_by_status == ()
    assert board.open_alerts_by_severity == ()
    assert all(week.devices == () for week in board.noisiest)


def test_a_reset_empties_the_model(model: Model) -> None:
    model.view.reset(NAME)
    assert model.view.max_tracking_id(NAME) is None
    assert model.reader.dashboard("acme", model.feed.now).devices_by_status == ()
