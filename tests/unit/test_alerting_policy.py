"""The alerting policy: readings and ticks in, alert commands out; plus a hypothesis state machine
over random reading sequences (out of order, redelivered) checking its invariants."""

from __future__ import annotations

import itertools
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from tests.hypothesis_profiles import examples
from write_side.alert_rules import AlertRule, RuleVersion, parse_rule_definition
from write_side.alerting_policy import (
    AlertCommand,
    AlertingPolicy,
    AutoResolve,
    DeviceFacts,
    OpenAlert,
    RecordRepeat,
)
from write_side.alerts import alert_id
from write_side.rule_evaluation import is_quiet
from write_side.telemetry import BatchEntry, Reading, TelemetryBatch

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
PUMP = DeviceFacts(uuid.uuid4(), "acme", "pump", frozenset({"north"}))
VALVE = DeviceFacts(uuid.uuid4(), "acme", "valve", frozenset())


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def make_rule(condition: dict[str, Any], tenant: str = "acme", **extra: Any) -> RuleVersion:
    data = {"name": "r", "scope": {"device_type": "pump"}, "severity": "warning"}
    definition = parse_rule_definition(data | {"condition": condition} | extra)
    return AlertRule.create(tenant, definition).current()


HOT = make_rule(
    {"kind": "threshold", "metric": "temp", "op": ">", "value": 80},
    clear_condition={"op": "<", "value": 75},
)


def batch(device: DeviceFacts, *messages: tuple[str, float, dict[str, float]]) -> TelemetryBatch:
    entries = tuple(
        BatchEntry(mid, at(t), tuple(Reading(m, v, at(t)) for m, v in metrics.items()))
        for mid, t, metrics in messages
    )
    return TelemetryBatch(device.device_id, entries)


def temps(*points: tuple[float, float], start: int = 0) -> TelemetryBatch:
    return batch(PUMP, *((f"m{start + i}", t, {"temp": v}) for i, (t, v) in enumerate(points)))


def test_opens_once_repeats_then_auto_resolves_and_reopens_as_the_next_episode() -> None:
    policy = AlertingPolicy()
    commands = policy.handle_readings([HOT], PUMP, temps((0, 85), (1, 90), (2, 79), (3, 70)))
    first = alert_id("acme", HOT.rule_id, PUMP.device_id, 1)
    assert commands == [
        OpenAlert(
            first, "acme", HOT.rule_id, 1, PUMP.device_id, 1, "warning", 85, at(0), "highest"
        ),
        RecordRepeat(first, 90, at(1)),
        AutoResolve(first, 70, at(3)),
    ]
    commands = policy.handle_readings([HOT], PUMP, temps((4, 81), start=10))
    (reopened,) = commands
    assert isinstance(reopened, OpenAlert)
    assert (reopened.episode, reopened.alert_id) == (
        2,
        alert_id("acme", HOT.rule_id, PUMP.device_id, 2),
    )


def test_redelivered_messages_are_not_counted_twice() -> None:
    policy = AlertingPolicy()
    delivery = temps((0, 85), (1, 90))
    assert len(policy.handle_readings([HOT], PUMP, delivery)) == 2
    assert policy.handle_readings([HOT], PUMP, delivery) == []
    duplicate_inside = batch(PUMP, ("m9", 5, {"temp": 91}), ("m9", 5, {"temp": 91}))
    assert len(policy.handle_readings([HOT], PUMP, duplicate_inside)) == 1


def test_rules_out_of_scope_disabled_or_of_another_tenant_are_skipped() -> None:
    policy = AlertingPolicy()
    disabled = make_rule(HOT.definition.model_dump()["condition"], enabled=False)
    foreign = make_rule(HOT.definition.model_dump()["condition"], tenant="globex")
    assert policy.handle_readings([disabled, foreign], PUMP, temps((0, 99))) == []
    assert policy.handle_readings([HOT], VALVE, batch(VALVE, ("v1", 0, {"temp": 99}))) == []


def test_a_revised_rule_keeps_the_open_alert_and_new_episodes_use_the_new_revision() -> None:
    policy = AlertingPolicy()
    policy.handle_readings([HOT], PUMP, temps((0, 85)))
    critical = RuleVersion(
        HOT.rule_id, "acme", 2, HOT.definition.model_copy(update={"severity": "critical"})
    )
    assert policy.handle_rule_revised(critical, at(1)) == []
    commands = policy.handle_readings([critical], PUMP, temps((2, 86), (3, 70), (4, 90), start=5))
    assert [type(c) for c in commands] == [RecordRepeat, AutoResolve, OpenAlert]
    reopened = commands[-1]
    assert isinstance(reopened, OpenAlert)
    assert (reopened.rule_revision, reopened.severity, reopened.episode) == (2, "critical", 2)


def test_a_rule_moving_out_of_scope_or_deleted_resolves_its_open_alerts() -> None:
    policy = AlertingPolicy()
    policy.handle_readings([HOT], PUMP, temps((0, 85)))
    elsewhere = HOT.definition.model_copy(
        update={"scope": HOT.definition.scope.model_copy(update={"device_type": "valve"})}
    )
    commands = policy.handle_rule_revised(RuleVersion(HOT.rule_id, "acme", 2, elsewhere), at(5))
    assert commands == [
        AutoResolve(
            alert_id("acme", HOT.rule_id, PUMP.device_id, 1),
            None,
            at(5),
            "the rule no longer applies",
        )
    ]
    policy.handle_readings([HOT], PUMP, temps((6, 85), start=10))
    (resolved,) = policy.handle_rule_deleted(HOT.rule_id, at(7))
    assert resolved == AutoResolve(
        alert_id("acme", HOT.rule_id, PUMP.device_id, 2), None, at(7), "the rule was deleted"
    )
    assert policy.handle_tick(at(999)) == []


def test_a_removed_device_has_its_alerts_resolved_and_is_forgotten() -> None:
    silent = make_rule({"kind": "absence", "metric": None, "seconds": 60})
    policy = AlertingPolicy()
    policy.handle_readings([HOT, silent], PUMP, temps((0, 85)))
    (resolved,) = policy.handle_device_removed(PUMP.device_id, at(10))
    assert resolved == AutoResolve(
        alert_id("acme", HOT.rule_id, PUMP.device_id, 1), None, at(10), "the device was removed"
    )
    assert policy.watches == {}
    assert policy.handle_tick(at(999)) == []  # no absence alert for a device that is gone


def test_after_a_manual_resolve_a_still_met_condition_opens_the_next_episode() -> None:
    policy = AlertingPolicy()
    policy.handle_readings([HOT], PUMP, temps((0, 85)))
    policy.note_resolved(alert_id("acme", HOT.rule_id, PUMP.device_id, 1))
    (command,) = policy.handle_readings([HOT], PUMP, temps((1, 86), start=5))
    assert isinstance(command, OpenAlert)
    assert command.episode == 2


def test_a_restarted_policy_continues_the_episodes() -> None:
    policy = AlertingPolicy()
    open_alert = alert_id("acme", HOT.rule_id, PUMP.device_id, 4)
    policy.note_opened(HOT.rule_id, PUMP, 4, open_alert)
    commands = policy.handle_readings([HOT], PUMP, temps((0, 90), (1, 70), (2, 95)))
    assert [type(c) for c in commands] == [RecordRepeat, AutoResolve, OpenAlert]
    assert commands[1] == AutoResolve(open_alert, 70, at(1))
    assert isinstance(commands[2], OpenAlert)
    assert commands[2].episode == 5


def test_a_policy_rebuilt_from_alert_events_continues_after_resolved_episodes() -> None:
    policy = AlertingPolicy()
    old = alert_id("acme", HOT.rule_id, PUMP.device_id, 3)
    policy.note_opened(HOT.rule_id, PUMP, 3, old)
    policy.note_resolved(old, cleared=True)  # Alert.Resolved with auto=True
    assert policy.handle_readings([HOT], PUMP, temps((0, 70))) == []  # cleared: nothing to do
    (opened,) = policy.handle_readings([HOT], PUMP, temps((1, 90), start=1))
    assert isinstance(opened, OpenAlert)
    assert opened.episode == 4
    policy.note_opened(HOT.rule_id, PUMP, 4, opened.alert_id)  # the echo of our own alert
    (resolved,) = policy.handle_readings([HOT], PUMP, temps((2, 70), start=2))
    policy.note_opened(HOT.rule_id, PUMP, 4, opened.alert_id)  # a late echo changes nothing
    policy.note_resolved(opened.alert_id, cleared=True)
    assert resolved == AutoResolve(opened.alert_id, 70, at(2))
    assert policy.watches[HOT.rule_id, PUMP.device_id].open_alert is None


def test_ticks_raise_absence_and_for_duration_and_readings_clear_them() -> None:
    silent = make_rule({"kind": "absence", "metric": None, "seconds": 60})
    slow = make_rule(
        {"kind": "for_duration", "metric": "temp", "op": "<", "value": 10, "seconds": 30}
    )
    policy = AlertingPolicy()
    assert policy.handle_readings([silent, slow], PUMP, temps((0, 5))) == []
    assert policy.handle_tick(at(29)) == []
    commands = policy.handle_tick(at(61))
    assert {(type(c), c.at) for c in commands} == {(OpenAlert, at(30)), (OpenAlert, at(60))}
    by_rule = {c.rule_id: c for c in commands if isinstance(c, OpenAlert)}
    assert (by_rule[slow.rule_id].value, by_rule[slow.rule_id].peak_mode) == (5, "lowest")
    assert by_rule[silent.rule_id].value is None
    assert policy.handle_tick(at(200)) == []
    commands = policy.handle_readings([silent, slow], PUMP, temps((70, 12), start=3))
    assert [(type(c), c.at) for c in commands] == [(AutoResolve, at(70)), (AutoResolve, at(70))]


def test_a_tick_visits_only_the_watches_of_time_based_rules_as_they_are_now() -> None:
    silent = make_rule({"kind": "absence", "metric": None, "seconds": 60})
    policy = AlertingPolicy()
    policy.handle_readings([HOT, silent], PUMP, temps((0, 20)))
    assert list(policy._timed) == [(silent.rule_id, PUMP.device_id)]
    threshold = HOT.definition.model_copy(update={"name": "no longer absence"})
    revised = RuleVersion(silent.rule_id, "acme", 2, threshold)
    policy.handle_rule_revised(revised, at(5))
    assert policy._timed == {}
    assert policy.handle_tick(at(999)) == []  # a threshold rule now: no absence alert
    back = RuleVersion(silent.rule_id, "acme", 3, silent.definition)
    policy.handle_rule_revised(back, at(6))
    assert policy.handle_tick(at(999)) == []  # a changed condition: its timer starts now
    assert [c.rule_id for c in policy.handle_tick(at(1060)) if isinstance(c, OpenAlert)] == [
        silent.rule_id
    ]
    policy.handle_rule_deleted(silent.rule_id, at(1100))
    assert policy._timed == {}


# --- the state machine ------------------------------------------------------------------------

HOVER = make_rule(  # raise above 80, clear below 75
    {"kind": "threshold", "metric": "temp", "op": ">", "value": 80},
    clear_condition={"op": "<", "value": 75},
)
COLD = make_rule({"kind": "threshold", "metric": "temp", "op": "<", "value": 10}, hysteresis=5)
SUSTAINED = make_rule(
    {"kind": "for_duration", "metric": "temp", "op": ">", "value": 50, "seconds": 30}, hysteresis=2
)
SILENT = make_rule({"kind": "absence", "metric": "temp", "seconds": 90})
RULES = [HOVER, COLD, SUSTAINED, SILENT]
HYSTERESIS_RULES = [HOVER, COLD]
DEVICES = [PUMP, DeviceFacts(uuid.uuid4(), "acme", "pump", frozenset())]

values = st.one_of(st.floats(-20, 120, allow_nan=False), st.sampled_from([10, 15, 75, 80, 81, 50]))
messages = st.lists(
    st.tuples(st.integers(0, 40), st.integers(0, 120), values), min_size=1, max_size=8
)  # (message number: a small pool, so redeliveries happen; seconds before the clock; value)


class PolicyMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.policy = AlertingPolicy()
        self.clock = 200.0
        self.open: dict[tuple[uuid.UUID, uuid.UUID], uuid.UUID] = {}  # (rule, device) -> alert
        self.closed: set[uuid.UUID] = set()
        self.seen: dict[uuid.UUID, dict[str, list[float]]] = {d.device_id: {} for d in DEVICES}
        self.processed: dict[uuid.UUID, list[float]] = {d.device_id: [] for d in DEVICES}
        self.raises: dict[tuple[uuid.UUID, uuid.UUID], int] = {}
        self.manually_closed: set[tuple[uuid.UUID, uuid.UUID]] = set()
        self.owner: dict[uuid.UUID, tuple[RuleVersion, uuid.UUID]] = {}
        self.fresh: dict[uuid.UUID, Counter[tuple[datetime, float]]] = {
            d.device_id: Counter() for d in DEVICES
        }
        self.repeats: dict[tuple[uuid.UUID, uuid.UUID], Counter[tuple[datetime, float]]] = {}

    @rule(device=st.sampled_from(DEVICES), sent=messages)
    def send(self, device: DeviceFacts, sent: Sequence[tuple[int, int, float]]) -> None:
        entries = []
        for number, before, value in sent:
            t = at(self.clock - before)
            entries.append(BatchEntry(f"m{number}", t, (Reading("temp", value, t),)))
        seen = self.seen[device.device_id]
        fresh = []  # as the policy keeps them: first delivery of each message id
        for e in entries:
            if e.message_id not in seen:
                seen[e.message_id] = [r.value for r in e.readings]
                self.fresh[device.device_id].update((r.at, r.value) for r in e.readings)
                fresh.append(e)
        in_order = sorted(fresh, key=lambda e: e.at)  # stable, as the policy's evaluation
        self.processed[device.device_id] += [e.readings[0].value for e in in_order]
        batch_ = TelemetryBatch(device.device_id, tuple(entries))
        self.apply(self.policy.handle_readings(RULES, device, batch_))

    @rule(seconds=st.integers(1, 120))
    def tick(self, seconds: int) -> None:
        self.clock += seconds
        self.apply(self.policy.handle_tick(at(self.clock)))

    @precondition(lambda self: bool(self.open))
    @rule(data=st.data())
    def operator_resolves(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(sorted(self.open)))
        alert = self.open.pop(key)
        self.closed.add(alert)
        self.manually_closed.add(key)
        self.policy.note_resolved(alert)

    def apply(self, commands: list[AlertCommand]) -> None:
        for c in commands:
            if isinstance(c, OpenAlert):
                key = (c.rule_id, c.device_id)
                assert key not in self.open, "two open alerts for one rule and device"
                assert c.alert_id not in self.closed
                assert c.alert_id not in self.owner
                self.open[key] = c.alert_id
                self.owner[c.alert_id] = (
                    next(r for r in RULES if r.rule_id == c.rule_id),
                    c.device_id,
                )
                self.check_condition_was_met(c)
                if key not in self.manually_closed:
                    self.raises[key] = self.raises.get(key, 0) + 1
                self.manually_closed.discard(key)
            else:
                rule_, device_id = self.owner[c.alert_id]
                assert self.open.get((rule_.rule_id, device_id)) == c.alert_id, "not open"
                if isinstance(c, RecordRepeat):  # each backed by its own fresh reading
                    counted = self.repeats.setdefault((rule_.rule_id, device_id), Counter())
                    counted[c.at, c.value] += 1
                    assert counted[c.at, c.value] <= self.fresh[device_id][c.at, c.value]
                if isinstance(c, AutoResolve):
                    del self.open[rule_.rule_id, device_id]
                    self.closed.add(c.alert_id)

    def check_condition_was_met(self, c: OpenAlert) -> None:
        rule_ = next(r for r in RULES if r.rule_id == c.rule_id)
        raising = rule_.definition.raise_comparison
        if raising is None:  # absence: raised by the clock
            assert c.value is None
            return
        assert c.value is not None
        assert raising.holds(c.value)
        assert any(c.value in v for v in self.seen[c.device_id].values())

    @invariant()
    def policy_agrees_on_open_alerts(self) -> None:
        for (rule_id, device_id), watch in self.policy.watches.items():
            assert watch.open_alert == self.open.get((rule_id, device_id))

    @invariant()
    def ticks_visit_every_time_based_watch(self) -> None:
        timed = set()
        for key, watch in self.policy.watches.items():
            kind = watch.rule.definition.condition.kind if watch.rule else None
            if kind not in ("absence", "for_duration"):
                continue
            if self.policy.watches.is_implicit(key):  # quiet: a tick would leave it as it is
                assert kind == "for_duration"
                assert is_quiet(watch.state)
            else:
                timed.add(key)
        assert set(self.policy._timed) == timed

    @invariant()
    def hysteresis_prevents_flapping(self) -> None:
        for r in HYSTERESIS_RULES:
            clear = r.definition.clear_comparison
            assert clear is not None
            for device_id, sequence in self.processed.items():
                inside = [clear.holds(v) for v in sequence]
                crossings = sum(1 for a, b in itertools.pairwise(inside) if b and not a)
                assert self.raises.get((r.rule_id, device_id), 0) <= 1 + crossings


PolicyMachine.TestCase.settings = settings(
    max_examples=examples(150),
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestPolicyMachine = PolicyMachine.TestCase
