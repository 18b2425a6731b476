"""The dashboard projection (docs/analytics.md 20.1) over an in-memory view with the same
commit rules as the stores' (rows, deltas and the checkpoint's compare-and-set together):
the figures of a small fleet by hand; counters kept by deltas equal the same counters
recomputed from the remembered facts, and top-N lists the brute-force ranking, for random
histories; a batch committed in many small commits ends where one commit does; a replayed or
overlapping batch changes nothing."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import timedelta
from uuid import UUID

import pytest
from eventsourcing.persistence import Tracking
from hypothesis import given
from hypothesis import strategies as st

from event_store.tracking import AlreadyTracked
from projections.dashboard import DashboardProjection
from projections.dashboard_evolve import alert_keys, bump, device_keys
from read_side.dashboard import (
    AlertFacts,
    CheckpointMoved,
    DashboardCommit,
    DashboardReader,
    DashboardView,
    DeviceFacts,
    Top,
)
from read_side.dashboard.keys import KeyRange
from tests.unit.dashboard_feed import Feed

NAME = "fleet>dashboard"


class MemoryDashboard(DashboardView, DashboardReader):
    def __init__(self, max_writes: int | None = None) -> None:
        self.max_writes = max_writes
        self.device_rows: dict[tuple[str, UUID], DeviceFacts] = {}
        self.alert_rows: dict[tuple[str, UUID], AlertFacts] = {}
        self.figures: dict[tuple[str, str], float] = {}
        self.top_lists: dict[tuple[str, str], Top] = {}
        self.checkpoints: dict[str, int] = {}
        self.commits = 0

    def commit(self, commit: DashboardCommit) -> None:
        name, found = commit.tracking.application_name, self.checkpoints.get(NAME)
        if found is not None and found >= commit.tracking.notification_id:
            raise AlreadyTracked(name)
        if found != commit.after:
            raise CheckpointMoved(name)
        assert self.max_writes is None or commit.writes <= self.max_writes
        self.device_rows.update(((r.tenant_id, r.device_id), r) for r in commit.devices)
        self.alert_rows.update(((r.tenant_id, r.alert_id), r) for r in commit.alerts)
        for key, delta in commit.deltas.items():
            self.figures[key] = self.figures.get(key, 0.0) + delta
        self.top_lists.update(commit.tops)
        self.checkpoints[name] = commit.tracking.notification_id
        self.commits += 1

    def max_tracking_id(self, application_name: str) -> int | None:
        return self.checkpoints.get(application_name)

    def reset(self, application_name: str) -> None:
        self.__init__(self.max_writes)  # type: ignore[misc]

    def devices(self, tenant_id: str, device_ids: Sequence[UUID]) -> dict[UUID, DeviceFacts]:
        rows = self.device_rows
        return {d: rows[tenant_id, d] for d in device_ids if (tenant_id, d) in rows}

    def alerts(self, tenant_id: str, alert_ids: Sequence[UUID]) -> dict[UUID, AlertFacts]:
        rows = self.alert_rows
        return {a: rows[tenant_id, a] for a in alert_ids if (tenant_id, a) in rows}

    def counts(self, tenant_id: str, keys: Sequence[str]) -> dict[str, float]:
        return {k: self.figures[tenant_id, k] for k in keys if (tenant_id, k) in self.figures}

    def tops(self, tenant_id: str, keys: Sequence[str]) -> dict[str, Top]:
        return {k: self.top_lists[tenant_id, k] for k in keys if (tenant_id, k) in self.top_lists}

    def ranges(
        self, tenant_id: str, ranges: Sequence[KeyRange]
    ) -> tuple[dict[str, float], dict[str, Top]]:
        def within(tenant: str, key: str) -> bool:
            return tenant == tenant_id and any(lo <= key <= hi for lo, hi in ranges)

        figures = {k: v for (t, k), v in self.figures.items() if within(t, k)}
        return figures, {k: v for (t, k), v in self.top_lists.items() if within(t, k)}


def run(model: MemoryDashboard, feed: Feed, batch: int = 1000) -> None:
    projection = DashboardProjection(model, model)
    events = feed.events
    for start in range(0, len(events), batch):
        part = events[start : start + batch]
        projection.process_batch(part, Tracking(NAME, part[-1].position or 0))


def small_fleet() -> tuple[Feed, dict[str, UUID]]:
    feed = Feed()
    ids = {name: uuid.uuid4() for name in ("d1", "d2", "d3", "r1", "r2")}
    d1, d2, d3, r1, r2 = (ids[n] for n in ("d1", "d2", "d3", "r1", "r2"))
    feed.register(d1)
    feed.register(d2)
    feed.register(d3, "gateway")
    feed.online(d1)
    feed.batch(d1, readings=3, firmware="1.0")
    feed.online(d2)
    feed.batch(d2, readings=2, firmware="1.0")
    feed.tick(30).batch(d1, readings=3, firmware="1.1", entries=2)
    feed.offline(d2)
    feed.decommission(d3)
    a1 = feed.raise_alert(d1, r1)
    feed.tick(60).acknowledge(a1)
    feed.tick(120).resolve(a1)
    feed.raise_alert(d1, r1, "critical")
    a3 = feed.raise_alert(d2, r2)
    feed.escalate(a3, "critical")
    return feed, ids


def test_the_figures_of_a_small_fleet() -> None:
    feed, ids = small_fleet()
    model = MemoryDashboard()
    run(model, feed)
    board = model.dashboard("acme", feed.now)
    assert {c.value: c.count for c in board.devices_by_status} == {
        "online": 1,
        "offline": 1,
        "decommissioned": 1,
    }
    assert {c.value: c.count for c in board.devices_by_type} == {"sensor": 2}
    assert {c.value: c.count for c in board.devices_by_firmware} == {"1.1": 1, "1.0": 1}
    assert board.online_ratio == 0.5
    assert {c.value: c.count for c in board.open_alerts_by_severity} == {"critical": 2}
    [rule_week] = board.time_to_resolution
    assert (rule_week.rule_id, rule_week.week) == (str(ids["r1"]), "2026-W49")
    assert (rule_week.acknowledged, rule_week.mean_seconds_to_acknowledge) == (1, 60.0)
    assert (rule_week.resolved, rule_week.mean_seconds_to_resolve) == (1, 180.0)
    this_week = board.noisiest[0]
    assert this_week.week == "2026-W49"
    assert [(c.value, c.count) for c in this_week.devices] == [
        (str(ids["d1"]), 2),
        (str(ids["d2"]), 1),
    ]
    assert [(c.value, c.count) for c in this_week.rules] == [
        (str(ids["r1"]), 2),
        (str(ids["r2"]), 1),
    ]
    assert (board.messages_last_hour, board.readings_last_hour) == (4, 11)
    later = model.dashboard("acme", feed.now + timedelta(hours=2))
    assert later.ingest == ()  # the hour has passed
    assert later.readings_last_hour == 0
    assert model.dashboard("globex", feed.now).devices_by_status == ()


def random_fleet(seed: int, tenants: int = 2) -> Feed:
    rng = random.Random(seed)
    feed = Feed()
    devices: dict[str, list[UUID]] = {}
    alerts: dict[str, list[UUID]] = {}
    rules = [uuid.uuid4() for _ in range(4)]
    for _ in range(400):
        feed.tenant = f"t{rng.randrange(tenants)}"
        mine, open_alerts = devices.setdefault(feed.tenant, []), alerts.setdefault(feed.tenant, [])
        feed.tick(rng.choice((1, 30, 600, 86_400)))
        roll = rng.random()
        if roll < 0.15 or not mine:
            mine.append(uuid.uuid4())
            feed.register(mine[-1], rng.choice(("sensor", "gateway")))
        elif roll < 0.2:
            feed.retype(rng.choice(mine), rng.choice(("sensor", "gateway", "meter")))
        elif roll < 0.23:
            feed.decommission(rng.choice(mine))
        elif roll < 0.35:
            rng.choice((feed.online, feed.offline))(rng.choice(mine))
        elif roll < 0.6:
            version = rng.choice((None, "1.0", "1.1", "2.0"))
            feed.batch(rng.choice(mine), rng.randrange(1, 4), version, rng.randrange(1, 3))
        elif roll < 0.8:
            severity = rng.choice(("info", "warning", "critical"))
            open_alerts.append(feed.raise_alert(rng.choice(mine), rng.choice(rules), severity))
        elif open_alerts:
            step = rng.choice((feed.acknowledge, feed.resolve, feed.resolve))
            step(rng.choice(open_alerts))
    return feed


@pytest.mark.parametrize("seed", range(3))
def test_counters_kept_by_deltas_equal_the_counters_recomputed_from_the_facts(seed: int) -> None:
    feed = random_fleet(seed)
    model = MemoryDashboard()
    run(model, feed, batch=37)
    recomputed: Counter[tuple[str, str]] = Counter()
    for (tenant, _), device in model.device_rows.items():
        recomputed.update((tenant, key) for key in device_keys(device))
    for (tenant, _), alert in model.alert_rows.items():
        recomputed.update((tenant, key) for key in alert_keys(alert))
    kept = {k: round(v) for k, v in model.figures.items() if k[1].startswith("fleet#") and v}
    assert kept == dict(recomputed)
    noisy = {k: round(v) for k, v in model.figures.items() if k[1].startswith("noisy#")}
    for (tenant, key), top in model.top_lists.items():
        _, week, kind = key.split("#")
        counts = {
            k.split("#")[3]: v
            for (t, k), v in noisy.items()
            if t == tenant and k.startswith(f"noisy#{week}#{kind}#")
        }
        assert [c for _, c in top] == sorted(counts.values(), reverse=True)[: len(top)]
        assert len(top) == min(10, len(counts))
        assert all(counts[entity] == count for entity, count in top)


@pytest.mark.parametrize("seed", range(3))
def test_a_batch_in_many_small_commits_ends_where_one_commit_does(seed: int) -> None:
    feed = random_fleet(seed)
    whole, parts = MemoryDashboard(), MemoryDashboard(max_writes=20)
    run(whole, feed, batch=400)
    run(parts, feed, batch=400)
    assert parts.commits > whole.commits
    assert parts.figures == whole.figures
    assert parts.top_lists == whole.top_lists
    assert (parts.device_rows, parts.alert_rows) == (whole.device_rows, whole.alert_rows)
    assert parts.checkpoints == whole.checkpoints == {NAME: feed.position}


@pytest.mark.parametrize("batch", [2, 3, 7])
def test_the_figures_do_not_depend_on_how_the_feed_was_batched(batch: int) -> None:
    """A replay batches events differently from the live worker: every figure, the mean times
    to acknowledge and resolve included, must come out the same (found by `fleetwatch replay`,
    docs/audit.md 19.6: sums of float seconds differed in their last digits)."""
    rng = random.Random(batch)
    feed, rule, device = Feed(), uuid.uuid4(), uuid.uuid4()
    feed.register(device, "sensor")
    for _ in range(40):  # one rule, one week: many durations summed under the same figure
        alert = feed.raise_alert(device, rule, "warning")
        feed.tick(rng.uniform(0.001, 90.0))
        feed.acknowledge(alert)
        feed.tick(rng.uniform(0.001, 90.0))
        feed.resolve(alert)
    one_by_one, batched = MemoryDashboard(), MemoryDashboard()
    run(one_by_one, feed, batch=1)
    run(batched, feed, batch=batch)
    mtt = {k: v for k, v in batched.figures.items() if k[1].startswith("mtt#")}
    assert len(mtt) == 4  # ack and resolve: count and sum
    assert one_by_one.figures == batched.figures


def test_a_replayed_or_overlapping_batch_changes_nothing() -> None:
    feed, _ = small_fleet()
    model = MemoryDashboard()
    run(model, feed, batch=5)
    before = dict(model.figures)
    projection = DashboardProjection(model, model)
    with pytest.raises(AlreadyTracked):
        projection.process_batch(feed.events[-5:], Tracking(NAME, feed.position))
    feed.tick(1).register(uuid.uuid4())
    with pytest.raises(CheckpointMoved):  # a lagging worker's batch reaching past the head
        projection.process_batch(feed.events[-3:], Tracking(NAME, feed.position))
    assert model.figures == before
    assert model.checkpoints == {NAME: feed.position - 1}


@given(st.lists(st.integers(0, 30), max_size=300), st.integers(1, 6))
def test_bump_keeps_the_exact_top_n_of_growing_counts(increments: list[int], size: int) -> None:
    counts: Counter[str] = Counter()
    top: Top = ()
    for entity in map(str, increments):
        counts[entity] += 1
        top = bump(top, entity, counts[entity], size)
        expected = sorted(counts.values(), reverse=True)[:size]
        assert [count for _, count in top] == expected
        assert all(counts[e] == c for e, c in top)


def test_an_older_firmware_report_does_not_take_the_version_back() -> None:
    feed, device = Feed(), uuid.uuid4()
    feed.register(device)
    feed.tick(600).batch(device, firmware="2.0")
    feed.tick(1).batch(device, firmware="1.0", entries=1)
    late = feed.events[-1]
    late.payload["entries"][0]["at"] = (feed.now - timedelta(hours=1)).isoformat()
    model = MemoryDashboard()
    run(model, feed)
    board = model.dashboard("acme", feed.now)
    assert {c.value: c.count for c in board.devices_by_firmware} == {"2.0": 1}
