"""The state snapshots store on both stores (`event_store.state_snapshots`): one snapshot per
name, replaced whole; on DynamoDB a snapshot larger than an item is kept in parts, and a
replaced snapshot's parts are gone."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from event_store.dynamodb.state_snapshots import DynamoDBStateSnapshots
from fleetwatch.consumers import build_state_snapshots
from fleetwatch.settings import Settings
from fleetwatch.wiring import application_env
from write_side.application import FleetApplication


@pytest.fixture
def app(store_settings: Settings) -> Iterator[FleetApplication]:
    app = FleetApplication(env=application_env(store_settings))
    yield app
    app.close()


def test_a_snapshot_is_kept_per_name_and_replaced_whole(app: FleetApplication) -> None:
    store = build_state_snapshots(app)
    assert store.latest("alerting") is None
    big = os.urandom(1_000_000)  # more than two DynamoDB items
    store.save("alerting", 7, big)
    store.save("other", 3, b"x")
    found = store.latest("alerting")
    assert found is not None
    assert (found.position, found.data) == (7, big)
    store.save("alerting", 9, b"small")
    found = store.latest("alerting")
    assert found is not None
    assert (found.position, found.data) == (9, b"small")
    other = store.latest("other")
    assert other is not None
    assert (other.position, other.data) == (3, b"x")
    if isinstance(store, DynamoDBStateSnapshots):
        assert len(store._parts("alerting", "")) == 1  # the big one's parts are deleted
    again = build_state_snapshots(app)  # another process sees the same
    assert again.latest("alerting") == found
