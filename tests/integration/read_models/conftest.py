"""Fixtures of the read-model contract suites: each suite runs once per store (a fresh SQLite
file, fresh DynamoDB Local tables), and its rows are written once per module and store.

The suites state what every adapter of a reader port promises, so they go through the ports and
the composition root (`fleetwatch.bootstrap` builds each model's view and reader per store),
never through an adapter's tables: a test here must hold for any adapter a store may get.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from eventsourcing.persistence import Tracking

from fleetwatch.settings import Settings


@pytest.fixture(scope="module", params=["sqlite", "dynamodb"])
def contract_settings(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    """Settings of one store for a whole module: the rows a module writes are read by all its
    tests (DynamoDB Local is slow to create tables and write, and the suites only read)."""
    if request.param == "sqlite":
        path: Path = tmp_path_factory.mktemp("contract") / "fleet.sqlite3"
        return Settings(store="sqlite", sqlite_path=path)
    return Settings(
        store="dynamodb",
        dynamodb_endpoint_url=request.getfixturevalue("dynamodb_endpoint"),
        dynamodb_table_prefix=f"c{uuid.uuid4().hex[:10]}_",
    )


class Checkpoints:
    """Tracking records for writes straight into a view: each write needs a new position."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.positions: Iterator[int] = itertools.count(1)

    def next(self) -> Tracking:
        return Tracking(self.name, next(self.positions))
