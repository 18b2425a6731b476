"""The contract of the orchestrator's timer store and job outbox (ota.schedule), on SQLite and
on DynamoDB Local (never a mock): idempotent by key, due rows earliest first within a limit,
done removes, pending oldest first, mark_sent, tenants kept apart, and a hypothesis test of
the timer store against a plain model."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import Tracking
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ota.schedule import JobNotice, Timer
from ota.schedule_rows import ScheduleStore, iso
from ota.schedule_wiring import build_schedule_store
from write_side.application import FleetApplication
from write_side.errors import InvalidInput

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(app: FleetApplication) -> ScheduleStore:
    return build_schedule_store(app)


def timer(
    seconds: float, tenant: str = "acme", stream: UUID | None = None, version: int = 1
) -> Timer:
    return Timer(T0 + timedelta(seconds=seconds), tenant, stream or uuid4(), version, "stall")


def notice(tenant: str = "acme", attempt: int = 1, operation: str = "install") -> JobNotice:
    return JobNotice(tenant, uuid4(), uuid4(), attempt, operation, "mqtt")  # type: ignore[arg-type]


def test_schedule_is_idempotent_by_key(store: ScheduleStore) -> None:
    t = timer(0)
    store.schedule([t, t])
    store.schedule([t])
    assert store.due(T0, 10) == [t]


def test_due_is_earliest_first_within_the_limit_and_not_before_its_time(
    store: ScheduleStore,
) -> None:
    timers = [timer(s) for s in (30, 10, 20, 40)]
    store.schedule(timers)
    assert store.due(T0 + timedelta(seconds=5), 10) == []
    assert store.due(T0 + timedelta(seconds=30), 2) == [timers[1], timers[2]]
    assert store.due(T0 + timedelta(seconds=30), 10) == [timers[1], timers[2], timers[0]]
    assert store.due(T0 + timedelta(seconds=40), 10)[-1] == timers[3]  # `<= now`


def test_done_removes_fired_rows_and_tolerates_absent_ones(store: ScheduleStore) -> None:
    a, b = timer(1), timer(2)
    store.schedule([a, b])
    store.done([a, timer(3)])
    store.done([a])
    assert store.due(T0 + timedelta(hours=1), 10) == [b]


def test_a_naive_due_time_is_refused_naming_the_field_and_nothing_is_stored(
    store: ScheduleStore,
) -> None:
    naive = Timer(datetime(2026, 5, 1, 12, 0), "acme", uuid4(), 1, "wake")
    with pytest.raises(InvalidInput) as refused:
        store.schedule([timer(0), naive])
    assert refused.value.field == "due_at"
    assert store.due(T0 + timedelta(days=1), 10) == []


def test_timers_of_tenants_do_not_mix(store: ScheduleStore) -> None:
    stream = uuid4()  # the same stream and time under two tenants: two rows
    acme, globex = timer(1, "acme", stream), timer(1, "globex", stream)
    store.schedule([acme, globex])
    store.done([acme])
    assert store.due(T0 + timedelta(seconds=1), 10) == [globex]


def test_outbox_add_is_idempotent_and_pending_is_oldest_first(store: ScheduleStore) -> None:
    first, second, third = notice(attempt=1), notice(attempt=2), notice(operation="cancel")
    store.add([first])
    store.add([second, first])
    store.add([third])
    assert store.pending(10) == [first, second, third]
    assert store.pending(2) == [first, second]


def test_mark_sent_leaves_pending_and_a_sent_notice_added_again_stays_sent(
    store: ScheduleStore,
) -> None:
    a, b = notice(), notice()
    store.add([a, b])
    store.mark_sent([a])
    assert store.pending(10) == [b]
    store.add([a])  # a replayed writer batch: the notice was sent, it stays sent
    store.mark_sent([notice()])  # never added: nothing happens
    assert store.pending(10) == [b]


def test_notices_of_tenants_do_not_mix(store: ScheduleStore) -> None:
    acme = notice("acme")
    globex = JobNotice("globex", acme.device_id, acme.execution_id, 1, "install", "mqtt")
    store.add([acme, globex])
    store.mark_sent([acme])
    assert store.pending(10) == [globex]


def test_record_commits_rows_and_checkpoint(store: ScheduleStore) -> None:
    t, n = timer(1), notice()
    store.record([t], [n], Tracking("Fleetwatch", 7))
    store.record([t], [n], Tracking("Fleetwatch", 8))  # a replay of the rows: no duplicates
    assert store.max_tracking_id("Fleetwatch") == 8
    assert store.due(T0 + timedelta(seconds=1), 10) == [t]
    assert store.pending(10) == [n]


STREAMS = [UUID(int=i) for i in range(1, 4)]
timers = st.builds(
    Timer,
    due_at=st.integers(0, 5).map(lambda s: T0 + timedelta(seconds=s)),
    tenant_id=st.sampled_from(["acme", "globex"]),
    stream_id=st.sampled_from(STREAMS),
    stream_version=st.integers(1, 3),
    kind=st.sampled_from(["stall", "retry", "wake"]),
)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("schedule"), st.lists(timers, max_size=4)),
        st.tuples(st.just("done"), st.lists(timers, max_size=3)),
        st.tuples(st.just("due"), st.tuples(st.integers(0, 6), st.integers(1, 5))),
        st.tuples(st.just("fire"), st.tuples(st.integers(0, 6), st.integers(1, 5))),
    ),
    max_size=10,
)


def _order(t: Timer) -> tuple[str, str, str]:
    return (iso(t.due_at), t.tenant_id, t.key)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=operations)
def test_timer_store_behaves_as_a_set_ordered_by_due_time(
    store: ScheduleStore, ops: list[tuple[str, object]]
) -> None:
    store.done(store.due(T0 + timedelta(days=1), 1000))  # every example starts empty
    model: set[Timer] = set()
    for name, arg in ops:
        if name == "schedule":
            store.schedule(arg)  # type: ignore[arg-type]
            model |= set(arg)  # type: ignore[arg-type]
        elif name == "done":
            store.done(arg)  # type: ignore[arg-type]
            model -= set(arg)  # type: ignore[arg-type]
        else:
            seconds, limit = arg  # type: ignore[misc]
            now = T0 + timedelta(seconds=seconds)
            expected = sorted((t for t in model if t.due_at <= now), key=_order)[:limit]
            got = store.due(now, limit)
            assert got == expected
            if name == "fire":
                store.done(got)
                model -= set(got)
    assert store.due(T0 + timedelta(days=1), 1000) == sorted(model, key=_order)
