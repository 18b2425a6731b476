"""The alerting process manager and the alert read models against real stores (SQLite file and
DynamoDB Local): threshold crossings open exactly one alert per (rule, device) also with
redelivered messages and two managers running at once; clearing resolves; a recurrence is a new
alert; a restarted (or rewound) manager records nothing twice; the timeline keeps the order."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import Tracking

from event_store.envelope import EventMetadata
from fleetwatch.consumers import build_alerting
from fleetwatch.settings import Settings
from fleetwatch.wiring import application_env, open_read_model
from projections.alert_views import AlertsProjection
from projections.alerting_worker import AlertingWorker
from projections.batching import BatchingProjectionWorker
from read_side.alerts import AlertFilter, AlertReader, RuleFilter, TimelineFilter
from write_side.alert_commands import (
    AcknowledgeAlert,
    CreateAlertRule,
    DeleteAlertRule,
    ResolveAlert,
    ReviseAlertRule,
)
from write_side.alert_rules import parse_rule_definition
from write_side.alert_service import AlertService
from write_side.alerts import alert_id
from write_side.application import FleetApplication
from write_side.commands import RegisterDevice
from write_side.device_service import DeviceService
from write_side.telemetry import BatchEntry, Reading
from write_side.telemetry_log import Telemetry, telemetry_id

TENANT = "acme"
ADMIN = EventMetadata(TENANT, "user:admin")
OPERATOR = EventMetadata(TENANT, "user:olga")
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
HOT = {
    "name": "hot pump",
    "scope": {"device_type": "pump"},
    "severity": "warning",
    "condition": {"kind": "threshold", "metric": "temp", "op": ">", "value": 80},
    "clear_condition": {"op": "<", "value": 75},
}


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@dataclass
class Fleet:
    settings: Settings
    app: FleetApplication
    view: Any
    reader: AlertReader
    service: AlertService

    def manager(self, **kwargs: Any) -> AlertingWorker:
        return build_alerting(self.app, **kwargs)

    def projection(self) -> BatchingProjectionWorker:
        return BatchingProjectionWorker(
            AlertsProjection(self.view, self.reader),
            checkpoints=self.view,
            recorder=self.app.recorder,
            mapper=self.app.envelope_mapper,
            upstream_name=self.app.name,
        )

    def device(self, device_type: str = "pump", tenant: str = TENANT) -> UUID:
        command = RegisterDevice(
            name=f"{device_type}-{uuid.uuid4().hex[:4]}", device_type=device_type
        )
        saved = DeviceService(self.app).register(command, EventMetadata(tenant, "user:admin"))
        return saved.aggregate.id

    def rule(self, definition: dict[str, Any] | None = None, tenant: str = TENANT) -> UUID:
        command = CreateAlertRule(definition=parse_rule_definition(definition or HOT))
        return self.service.create_rule(command, EventMetadata(tenant, "user:admin")).aggregate.id

    def send(self, device: UUID, *readings: tuple[str, float, float], tenant: str = TENANT) -> None:
        """Messages (message id, seconds after T0, temp) of one device in one batch."""
        stream = self.app.load_telemetry(telemetry_id(tenant, device))
        stream = stream or Telemetry(tenant_id=tenant, device_id=device)
        entries = [BatchEntry(m, at(s), (Reading("temp", v, at(s)),)) for m, s, v in readings]
        if stream.record(entries, datetime.now(UTC), "http"):
            self.app.save_telemetry([stream], EventMetadata(tenant, f"device:{device}"))

    def stored_alert_events(self) -> int:
        head = self.app.recorder.max_notification_id() or 0
        notifications = self.app.recorder.select_notifications(start=1, limit=head + 1)
        return sum(1 for n in notifications if n.topic.startswith("write_side.alerts:"))


@pytest.fixture
def fleet(store_settings: Settings) -> Iterator[Fleet]:
    settings = store_settings
    app = FleetApplication(env=application_env(settings))
    view, reader = open_read_model(app, settings, "alerts")
    yield Fleet(settings, app, view, reader, AlertService(app))
    app.close()


def test_crossing_opens_one_alert_repeats_update_it_clearing_resolves_recurrence_is_new(
    fleet: Fleet,
) -> None:
    pump, rule = fleet.device(), fleet.rule()
    fleet.send(pump, ("m1", 1, 70), ("m2", 2, 85))
    fleet.send(pump, ("m2", 2, 85), ("m3", 3, 90))  # m2 redelivered
    fleet.send(pump, ("m4", 4, 78))  # in the hysteresis band: still open
    manager, projection = fleet.manager(), fleet.projection()
    manager.catch_up()
    projection.catch_up()
    first = alert_id(TENANT, rule, pump, 1)
    alert = fleet.reader.get_alert(TENANT, first)
    assert alert is not None
    assert (alert.state, alert.count, alert.trigger_value, alert.last_value, alert.peak_value) == (
        "open", 2, 85, 90, 90,
    )  # fmt: skip
    assert (alert.rule_name, alert.kind, alert.condition_text) == (
        "hot pump",
        "threshold",
        "temp > 80",
    )
    assert alert.device_name.startswith("pump-")

    fleet.send(pump, ("m5", 5, 70))  # clears
    fleet.send(pump, ("m6", 6, 95))  # recurs: the next episode
    manager.catch_up()
    projection.catch_up()
    alerts = fleet.reader.list_alerts(TENANT, AlertFilter(), 50, None).items
    assert [(a.alert_id, a.state, a.episode) for a in alerts] == [
        (alert_id(TENANT, rule, pump, 2), "open", 2),
        (first, "resolved", 1),
    ]
    resolved = fleet.reader.get_alert(TENANT, first)
    assert resolved is not None
    assert (resolved.resolution, resolved.resolved_by, resolved.last_value) == (
        "auto",
        "system:auto",
        70,
    )
    entries = fleet.reader.timeline(TENANT, TimelineFilter(newest_first=False), 50, None).items
    assert [(e.alert_id, e.transition, e.count) for e in entries] == [
        (first, "raised", 1),
        (first, "repeated", 1),
        (first, "resolved", 1),
        (alert_id(TENANT, rule, pump, 2), "raised", 1),
    ]
    assert [e.at for e in entries] == [at(2), at(3), at(5), at(6)]
    assert all(e.actor == "system:alerting" for e in entries if e.transition != "resolved")


def test_a_rewound_or_restarted_manager_records_nothing_twice(fleet: Fleet) -> None:
    pump, rule = fleet.device(), fleet.rule()
    fleet.send(pump, ("m1", 1, 85), ("m2", 2, 86))
    first = fleet.manager()
    first.catch_up()
    events = fleet.stored_alert_events()
    assert events == 2  # raised + one repeat

    again = fleet.manager()  # a restart: state rebuilt from the feed up to its checkpoint
    fleet.send(pump, ("m3", 3, 87))
    again.catch_up()
    assert fleet.stored_alert_events() == events + 1

    rewound = fleet.manager()  # the checkpoint lost: the whole feed decided again
    rewound.projection.reset(rewound.tracking_name)
    rewound.rewind()
    rewound.catch_up()
    assert fleet.stored_alert_events() == events + 1
    aggregate = fleet.service.get_alert(TENANT, alert_id(TENANT, rule, pump, 1))
    assert (aggregate.count, aggregate.version) == (3, 3)


def test_a_catch_up_keeps_what_the_last_one_left_pending(fleet: Fleet) -> None:
    """A for-duration run that spans two catch-ups of one manager raises: a catch-up rebuilds
    the state only when it is not where the manager left it (it used to rebuild on every call
    and forget the pending run, which readings alone carry)."""
    sustained = HOT | {"condition": HOT["condition"] | {"kind": "for_duration", "seconds": 30}}
    pump, rule = fleet.device(), fleet.rule(sustained)
    manager = fleet.manager()
    fleet.send(pump, ("m1", 1, 85))
    manager.catch_up()
    # The checkpoint past m1, as the live loop records quiet stretches (`record_interval`)
    manager.projection.record_position(Tracking(manager.tracking_name, manager.position))
    fleet.send(pump, ("m2", 40, 86))  # 39 s above 80 since m1
    manager.catch_up()
    alert = fleet.service.get_alert(TENANT, alert_id(TENANT, rule, pump, 1))
    assert alert.raised_at == at(40)  # raised by the reading that found the run 30 s long


def test_a_restart_from_a_snapshot_keeps_a_pending_for_duration_run(fleet: Fleet) -> None:
    """A manager stopped without warning (its object dropped, as a kill -9 drops a process)
    during a pending for-duration run: the one started next restores the snapshot taken
    with the checkpoint, replays what came after it, and raises when the duration is
    reached, by a reading or by a tick. Without a snapshot the run would restart empty."""
    sustained = HOT | {"condition": HOT["condition"] | {"kind": "for_duration", "seconds": 30}}
    pump, valve = fleet.device(), fleet.device()
    rule = fleet.rule(sustained)
    first = fleet.manager()
    fleet.send(pump, ("p1", 1, 85))
    fleet.send(valve, ("v1", 1, 85))
    first.catch_up()
    assert first.snapshot() > 0  # checkpoint and snapshot at the same position
    fleet.send(valve, ("v2", 5, 90))  # after the snapshot: replayed into the restored state
    first.catch_up()
    first.projection.record_position(Tracking(first.tracking_name, first.position))
    del first

    second = fleet.manager()
    fleet.send(pump, ("p2", 40, 86))
    second.catch_up()  # restores, replays v2, then decides p2
    raised = fleet.service.get_alert(TENANT, alert_id(TENANT, rule, pump, 1))
    assert raised.raised_at == at(40)
    second.housekeeping()  # a tick at the wall clock: the valve's run is 30 s long by now
    ticked = fleet.service.get_alert(TENANT, alert_id(TENANT, rule, valve, 1))
    assert ticked.raised_at == at(31)
    assert fleet.stored_alert_events() == 2

    third = fleet.manager()  # restarted again: nothing decided twice
    third.catch_up()
    third.housekeeping()
    assert fleet.stored_alert_events() == 2


def test_a_manager_behind_another_skips_what_the_other_recorded(fleet: Fleet) -> None:
    """Deciding from its cached (older) alert, its commit finds the alert stream moved on and
    the position recorded: the manager reports that as `AlreadyTracked`, which is all its
    worker skips; nothing is recorded twice."""
    pump, _ = fleet.device(), fleet.rule()
    fleet.send(pump, ("m1", 1, 85))
    behind = fleet.manager()
    behind.catch_up()  # raised; the alert is in its cache
    ahead = fleet.manager()
    start = fleet.app.recorder.max_notification_id() or 0
    fleet.send(pump, ("m2", 2, 86))
    ahead.catch_up()  # the repeat
    events = fleet.stored_alert_events()
    behind.apply_batch(fleet.app.recorder.select_notifications(start=start + 1, limit=1))
    assert behind.position == start + 1
    assert fleet.stored_alert_events() == events == 2


def test_two_managers_at_once_open_one_alert_and_count_each_reading_once(fleet: Fleet) -> None:
    pumps, rule = [fleet.device() for _ in range(3)], fleet.rule()
    managers = [fleet.manager(), fleet.manager()]
    for manager in managers:
        manager.start()
    try:
        senders = [
            threading.Thread(
                target=lambda p=pump: [fleet.send(p, (f"m{i}", i, 81 + i)) for i in range(6)]
            )
            for pump in pumps
        ]
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join()
        head = fleet.app.recorder.max_notification_id() or 0
        assert all(m.wait_for(head, 20) for m in managers)
        time.sleep(0.2)  # let the last commits of the slower one settle
    finally:
        for manager in managers:
            manager.stop()
    for pump in pumps:
        alert = fleet.service.get_alert(TENANT, alert_id(TENANT, rule, pump, 1))
        assert (alert.count, alert.last_value) == (6, 86)
        with pytest.raises(Exception, match="not found"):
            fleet.service.get_alert(TENANT, alert_id(TENANT, rule, pump, 2))
    assert fleet.stored_alert_events() == 3 * 6


def test_operator_actions_rule_changes_and_the_timeline(fleet: Fleet) -> None:
    pump, valve = fleet.device(), fleet.device("valve")
    rule = fleet.rule()
    fleet.send(pump, ("p1", 1, 85))
    manager, projection = fleet.manager(), fleet.projection()
    manager.catch_up()
    opened = alert_id(TENANT, rule, pump, 1)
    fleet.service.acknowledge(AcknowledgeAlert(alert_id=opened, note="on it"), OPERATOR)
    fleet.send(pump, ("p2", 2, 86), ("p3", 3, 87))  # repeats after the acknowledgement
    manager.catch_up()
    # Revised to another scope: the open alert is resolved as out of scope.
    wide = HOT | {"severity": "critical", "scope": {"tag": "x"}}
    revised = ReviseAlertRule(rule_id=rule, definition=parse_rule_definition(wide))
    fleet.service.revise_rule(revised, ADMIN)
    manager.catch_up()
    projection.catch_up()
    alert = fleet.reader.get_alert(TENANT, opened)
    assert alert is not None
    assert (alert.state, alert.resolution, alert.severity) == (
        "resolved",
        "rule_out_of_scope",
        "warning",
    )

    back = ReviseAlertRule(
        rule_id=rule, definition=parse_rule_definition(HOT | {"severity": "critical"})
    )
    fleet.service.revise_rule(back, ADMIN)
    fleet.send(pump, ("p4", 4, 99))
    fleet.send(valve, ("v1", 4, 99))  # not a pump: no alert
    manager.catch_up()
    second = alert_id(TENANT, rule, pump, 2)
    fleet.service.resolve(ResolveAlert(alert_id=second, note="fixed"), OPERATOR)
    fleet.service.delete_rule(DeleteAlertRule(rule_id=rule), ADMIN)
    manager.catch_up()
    projection.catch_up()

    rules = fleet.reader.list_rules(TENANT, RuleFilter(), 50, None)
    assert rules.items == []
    row = fleet.reader.get_rule(TENANT, rule)
    assert row is not None
    assert (row.deleted, row.revision, [r["revision"] for r in row.revisions]) == (
        True,
        3,
        [1, 2, 3],
    )
    second_row = fleet.reader.get_alert(TENANT, second)
    assert second_row is not None
    assert (second_row.rule_revision, second_row.severity, second_row.state) == (
        3,
        "critical",
        "resolved",
    )
    assert (second_row.resolution, second_row.resolve_note) == ("manual", "fixed")

    timeline = fleet.reader.timeline(
        TENANT, TimelineFilter(device_id=pump, newest_first=False), 50, None
    )
    assert [(e.transition, e.state_after, e.count) for e in timeline.items] == [
        ("raised", "open", 1),
        ("acknowledged", "acknowledged", 1),
        ("repeated", "acknowledged", 2),
        ("resolved", "resolved", 1),
        ("raised", "open", 1),
        ("resolved", "resolved", 1),
    ]
    assert timeline.items[1].actor == "user:olga"
    assert timeline.items[1].note == "on it"
    assert fleet.reader.timeline(TENANT, TimelineFilter(device_id=valve), 50, None).items == []
    # Filters and pages.
    newest = fleet.reader.timeline(TENANT, TimelineFilter(), 2, None)
    assert [e.transition for e in newest.items] == ["resolved", "raised"]
    assert newest.next_cursor is not None
    rest = fleet.reader.timeline(TENANT, TimelineFilter(), 50, newest.next_cursor)
    assert [e.transition for e in rest.items] == ["resolved", "repeated", "acknowledged", "raised"]
    raised = TimelineFilter(transitions=frozenset({"raised"}), severities=frozenset({"critical"}))
    assert [e.alert_id for e in fleet.reader.timeline(TENANT, raised, 50, None).items] == [second]
    third = timeline.items[2]
    window = TimelineFilter(start=third.recorded_at, end=third.recorded_at)
    assert fleet.reader.timeline(TENANT, window, 50, None).items == [third]
    by_alert = TimelineFilter(alert_id=second, states=frozenset({"resolved"}))
    assert [e.note for e in fleet.reader.timeline(TENANT, by_alert, 50, None).items] == ["fixed"]
    # Alerts filters.
    for criteria, expected in (
        (AlertFilter(device_id=pump), [second, opened]),
        (AlertFilter(rule_id=rule, severities=frozenset({"critical"})), [second]),
        (AlertFilter(states=frozenset({"open", "acknowledged"})), []),
        (AlertFilter(raised_from=at(3)), [second]),
        (AlertFilter(raised_to=at(3)), [opened]),
    ):
        assert [
            a.alert_id for a in fleet.reader.list_alerts(TENANT, criteria, 50, None).items
        ] == expected
    # Another tenant sees nothing.
    assert fleet.reader.get_alert("other", opened) is None
    assert fleet.reader.timeline("other", TimelineFilter(), 50, None).items == []


def test_absence_raises_at_a_tick_and_the_next_reading_clears_it_also_after_a_restart(
    fleet: Fleet,
) -> None:
    pump = fleet.device()
    silent = {
        "name": "silent", "scope": {"device_id": str(pump)}, "severity": "critical",
        "condition": {"kind": "absence", "metric": None, "seconds": 30},
    }  # fmt: skip
    rule = fleet.rule(silent)
    manager = fleet.manager()
    manager.catch_up()
    now = datetime.now(UTC)
    assert manager.projection.tick(now) == 0  # the timer starts
    assert manager.projection.tick(now + timedelta(seconds=31)) == 1
    restarted = fleet.manager()
    restarted.catch_up()
    fleet.send(pump, ("m1", 3600, 20))
    restarted.catch_up()
    aggregate = fleet.service.get_alert(TENANT, alert_id(TENANT, rule, pump, 1))
    assert (aggregate.status, aggregate.auto_resolved) == ("resolved", True)


def test_rebuilding_the_alert_read_models_from_zero_yields_the_same_rows(fleet: Fleet) -> None:
    pump, rule = fleet.device(), fleet.rule()
    fleet.send(pump, ("m1", 1, 85), ("m2", 2, 86), ("m3", 3, 70), ("m4", 4, 90))
    manager, projection = fleet.manager(), fleet.projection()
    manager.catch_up()
    fleet.service.acknowledge(AcknowledgeAlert(alert_id=alert_id(TENANT, rule, pump, 2)), OPERATOR)
    projection.catch_up()

    def everything() -> tuple[object, ...]:
        return (
            fleet.reader.list_rules(TENANT, RuleFilter(include_deleted=True), 500, None).items,
            fleet.reader.list_alerts(TENANT, AlertFilter(), 500, None).items,
            fleet.reader.timeline(TENANT, TimelineFilter(), 500, None).items,
        )

    before = everything()
    assert len(before[2]) == 5  # raised, repeated, resolved, raised, acknowledged
    fleet.view.reset(projection.tracking_name)
    assert everything() == ([], [], [])
    again = fleet.projection()
    again.catch_up()
    assert everything() == before


def test_an_unusable_stored_rule_is_skipped_and_alerting_goes_on(fleet: Fleet) -> None:
    """A rule stored before today's checks (its clear bound overflows) must not stop alerting
    for every tenant: the manager skips it and keeps evaluating the others."""
    from event_store.envelope import recording_as
    from write_side.alert_rules import AlertRule

    pump, good = fleet.device(), fleet.rule()
    bad = AlertRule(tenant_id=TENANT, definition=parse_rule_definition(HOT).model_dump(mode="json"))
    (created,) = bad.collect_events()  # stored as it was, before check_definition existed
    created.definition["condition"]["value"] = -1.7e308  # type: ignore[attr-defined]
    created.definition["hysteresis"] = 1.7e308  # type: ignore[attr-defined]
    created.definition["clear_condition"] = None  # type: ignore[attr-defined]  # derived: -inf
    with recording_as(EventMetadata(TENANT, "user:admin")):
        fleet.app.save(created)
    fleet.send(pump, ("m1", 1, 85))
    manager = fleet.manager()
    manager.catch_up()
    assert manager.last_error is None
    fleet.projection().catch_up()
    alert = fleet.reader.get_alert(TENANT, alert_id(TENANT, good, pump, 1))
    assert alert is not None
    assert alert.state == "open"


def test_the_checkpoint_follows_batches_that_decide_nothing_without_waiting_for_a_tick(
    fleet: Fleet,
) -> None:
    fleet.rule()
    device = fleet.device()
    manager = fleet.manager(tick_interval=3600, record_interval=0.05)  # no tick in this test
    manager.start()
    try:
        fleet.send(device, ("m1", 1, 20.0))  # below the threshold: nothing to record
        head = fleet.app.recorder.max_notification_id() or 0
        assert manager.wait_for(head, timeout=10)
        deadline = time.monotonic() + 5
        while manager.checkpoint() < head and time.monotonic() < deadline:
            time.sleep(0.02)
        assert manager.checkpoint() == head
        assert fleet.stored_alert_events() == 0
    finally:
        manager.stop()


def test_a_redelivery_older_than_the_window_is_not_a_second_repeat(fleet: Fleet) -> None:
    """Issue 10, defect 6: m2, the newest temp reading, comes back after 1,100 older (out of
    order) messages, so both the stream and the manager forgot its id; recorded again, marked
    late, it still counts once (the policy skips it; before, it decided a second repeat that
    only the alert's own `at <= last_at` guard dropped)."""
    pump, rule = fleet.device(), fleet.rule()
    fleet.send(pump, ("m1", 1990, 85), ("m2", 2000, 90))
    for start in range(0, 1100, 100):
        fleet.send(pump, *((f"o{i}", i, 85) for i in range(start, start + 100)))
    fleet.send(pump, ("m2", 2000, 90))
    *_, redelivery = fleet.app.events.get(telemetry_id(TENANT, pump))
    assert redelivery.entries[0].get("late") is True  # type: ignore[attr-defined]
    manager, projection = fleet.manager(), fleet.projection()
    manager.catch_up()
    projection.catch_up()
    alert = fleet.reader.get_alert(TENANT, alert_id(TENANT, rule, pump, 1))
    assert alert is not None
    assert (alert.state, alert.count, alert.last_value) == ("open", 2, 90)
