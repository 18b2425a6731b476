"""The declared composition (`fleetwatch.wiring`) is consistent: every read model and consumer
is kept in the worker order exactly once, and what can be rebuilt or grouped is a worker."""

from __future__ import annotations

from fleetwatch.wiring import (
    CONSUMERS,
    PROJECTIONS,
    READ_MODELS,
    UNAWAITED,
    WORKER_GROUPS,
    WORKERS,
)


def test_every_read_model_and_consumer_is_a_worker_once() -> None:
    declared = [model.name for model in READ_MODELS] + list(CONSUMERS)
    assert sorted(WORKERS) == sorted(declared)
    assert len(set(WORKERS)) == len(WORKERS)


def test_rebuildable_and_grouped_workers_are_declared_workers() -> None:
    assert set(PROJECTIONS) <= set(WORKERS)
    assert "notifier" not in PROJECTIONS  # a replay would queue every notification again
    grouped = [name for group in WORKER_GROUPS for name in group]
    assert set(grouped) <= set(WORKERS)
    assert len(set(grouped)) == len(grouped)  # a worker runs in one group at most
    assert set(UNAWAITED) <= set(WORKERS)
    assert "ledger" not in PROJECTIONS  # rebuilt from the store, it would take in any change
