"""A device's quiet pairs held without a watch each (`alerting_lanes.QuietPairs`, issue 14):
the policy with its shortcuts decides exactly what it decides evaluating every rule in full,
through everything that touches a pair (rule revisions and deletions, removed devices, changed
device facts, manual closes, late entries, rules lists that vary per batch, snapshot restores),
and it holds its quiet pairs without a watch each."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from projections.alerting_index import RuleIndex
from projections.alerting_snapshot import capture, restore
from tests.hypothesis_profiles import examples
from tests.unit.test_alerting_policy import RULES, at, make_rule, values
from write_side.alert_rules import RuleVersion
from write_side.alerting_policy import AlertCommand, AlertingPolicy, DeviceFacts, OpenAlert
from write_side.alerts import alert_id
from write_side.telemetry import BatchEntry, Reading, TelemetryBatch

LADDER = [
    make_rule({"kind": "threshold", "metric": "temp", "op": op, "value": v}, hysteresis=2.0)
    for op, v in ((">", 60), (">=", 80), (">", 100), ("<", 0), ("<=", 10))
]
ladder_messages = st.lists(  # (message number, seconds before the clock, value)
    st.tuples(
        st.integers(0, 40),
        st.integers(0, 120),
        st.one_of(values, st.sampled_from([0, 60, 100, 9.5, 10.5, 59.5, 60.5])),
    ),
    min_size=1,
    max_size=8,
)
HUMID = [
    make_rule({"kind": "threshold", "metric": "hum", "op": ">", "value": 70}, hysteresis=3.0),
    make_rule({"kind": "threshold", "metric": "hum", "op": "<", "value": 20}),
    make_rule({"kind": "for_duration", "metric": "hum", "op": ">=", "value": 60, "seconds": 20}),
    make_rule({"kind": "threshold", "metric": "hum", "op": ">", "value": 70}, scope={"tag": "x"}),
]
POOL = LADDER + RULES + HUMID
PUMP = DeviceFacts(uuid.uuid4(), "acme", "pump", frozenset({"north"}))
DEVICES = [
    PUMP,
    replace(PUMP, tags=frozenset({"x"})),  # the same device, retagged: new facts
    DeviceFacts(uuid.uuid4(), "acme", "pump", frozenset()),
    DeviceFacts(uuid.uuid4(), "acme", "valve", frozenset()),  # no pump rule applies
]

reading = st.tuples(
    st.integers(0, 30),  # over 24: one of a small pool of ids (redeliveries); else a new one
    st.integers(0, 100),  # seconds before the clock
    st.sampled_from(["temp", "hum"]),
    st.one_of(st.floats(-20, 120, allow_nan=False), st.sampled_from([0, 10, 20, 60, 70, 80])),
)
send = st.tuples(
    st.just("send"),
    st.integers(0, len(DEVICES) - 1),
    st.lists(reading, min_size=1, max_size=6),
    # which of the rules the batch meets (as `RuleIndex` varies it; over 2**11: all)
    st.one_of(st.just(2**12), st.integers(0, 2**12)),
    st.booleans(),  # entries older than 50 s marked late
)
step = st.one_of(
    send,
    send,  # (a pair's story takes several batches)
    send,
    st.tuples(st.just("tick"), st.integers(1, 60)),
    st.tuples(st.just("revise"), st.integers(0, 4), st.integers(0, len(POOL) - 1)),
    st.tuples(st.just("delete"), st.integers(0, 4)),
    st.tuples(st.just("remove"), st.integers(0, len(DEVICES) - 1)),
    st.tuples(st.just("close"), st.integers(0, 5)),
    # an `Alert.Raised` read from the feed (a rebuild, or another process's)
    st.tuples(st.just("raised"), st.integers(0, 4), st.integers(0, len(DEVICES) - 1)),
    st.tuples(st.just("restore")),
)


def normalised(commands: list[AlertCommand], owners: dict[uuid.UUID, Any]) -> list[AlertCommand]:
    """A step's commands by pair (stable): the order among pairs is the order of a dict."""
    for c in commands:
        if isinstance(c, OpenAlert):
            owners[c.alert_id] = (str(c.rule_id), str(c.device_id))
    return sorted(commands, key=lambda c: owners.get(c.alert_id, ("", "")))


def run(rules: list[RuleVersion], steps: list[tuple[Any, ...]], shortcuts: bool) -> list[Any]:
    policy, clock, seen = AlertingPolicy(shortcuts=shortcuts), 500.0, list[Any]()
    rules, owners, opened = list(rules), dict[uuid.UUID, Any](), list[uuid.UUID]()
    for kind, *args in steps:
        commands: list[AlertCommand] = []
        if kind == "send":
            device, sent, mask, late = DEVICES[args[0]], args[1], args[2], args[3]
            ids = [f"m{n}" if n > 24 else f"new{len(seen)}.{k}" for k, (n, *_) in enumerate(sent)]
            entries = tuple(
                BatchEntry(i, at(clock - b), (Reading(metric, v, at(clock - b)),))
                for i, (_, b, metric, v) in zip(ids, sent, strict=True)
            )
            chosen = [r for i, r in enumerate(rules) if mask >> i & 1 or mask > 2**11]
            old = frozenset(i for i, (_, b, _, _) in zip(ids, sent, strict=True) if late and b > 50)
            batch = TelemetryBatch(device.device_id, entries)
            commands = policy.handle_readings(chosen, device, batch, old)
        elif kind == "tick":
            clock += args[0]
            commands = policy.handle_tick(at(clock))
        elif kind == "revise" and args[0] < len(rules):
            was, definition = rules[args[0]], POOL[args[1]].definition
            rules[args[0]] = RuleVersion(was.rule_id, "acme", was.revision + 1, definition)
            commands = policy.handle_rule_revised(rules[args[0]], at(clock))
        elif kind == "delete" and args[0] < len(rules):
            commands = policy.handle_rule_deleted(rules.pop(args[0]).rule_id, at(clock))
        elif kind == "remove":
            commands = policy.handle_device_removed(DEVICES[args[0]].device_id, at(clock))
        elif kind == "close" and args[0] < len(opened):
            policy.note_resolved(opened[args[0]])
        elif kind == "raised" and args[0] < len(rules):
            rule_id, device = rules[args[0]].rule_id, DEVICES[args[1]]
            watch = policy.watches.get((rule_id, device.device_id))
            episode = (watch.episode if watch else 0) + 1
            alert = alert_id("acme", rule_id, device.device_id, episode)
            policy.note_opened(rule_id, device, episode, alert)
            opened.append(alert)
        elif kind == "restore":
            index = RuleIndex()
            for rule in rules:
                index.put_rule(rule)
            for device in DEVICES[1:]:  # the retagged pump stands for the pump
                index.put_device(device)
            _, _, restored = restore(capture(policy, index, 0))
            policy, restored.shortcuts = restored, shortcuts
        opened += [c.alert_id for c in commands if isinstance(c, OpenAlert)]
        seen.append(normalised(commands, owners))
        seen.append(
            sorted((str(k), w.state, w.episode, w.open_alert) for k, w in policy.watches.items())
        )
    return seen


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example(  # an alert raised elsewhere on an implicit pair: its watch is evaluated from then on
    [LADDER[0]],
    [("send", 0, [(1, 0, "temp", 20.0)], 2**12, False)] * 2
    + [("raised", 0, 0), ("send", 0, [(2, 0, "temp", 20.0)], 2**12, False)],
)
@given(
    st.lists(st.sampled_from(POOL), min_size=1, max_size=12, unique=True),
    st.lists(step, min_size=8, max_size=40),
)
def test_the_quiet_pairs_change_no_decision(
    rules: list[RuleVersion], steps: list[tuple[Any, ...]]
) -> None:
    assert run(rules, steps, shortcuts=True) == run(rules, steps, shortcuts=False)


def test_quiet_pairs_are_held_without_a_watch_each() -> None:
    rules = [
        make_rule({"kind": "threshold", "metric": "temp", "op": ">", "value": 50 + i})
        for i in range(20)
    ]
    policy = AlertingPolicy()
    devices = [DeviceFacts(uuid.uuid4(), "acme", "pump") for _ in range(3)]
    for n, device in enumerate(devices):
        entry = BatchEntry(f"m{n}", at(n), (Reading("temp", 20.0, at(n)),))
        policy.handle_readings(rules, device, TelemetryBatch(device.device_id, (entry,)))
    assert len(policy.watches) == 60
    assert all(policy.watches.of_device(d.device_id) == {} for d in devices)
    assert all(policy.watches.is_implicit(key) for key in policy.watches)
    plans = {id(policy.watches.quiet_of(d.device_id).plan) for d in devices}  # type: ignore[union-attr]
    assert len(plans) == 1  # the devices given the same rules share one plan

    hot = BatchEntry("m9", at(9), (Reading("temp", 55.5, at(9)),))
    opened = policy.handle_readings(rules, devices[0], TelemetryBatch(devices[0].device_id, (hot,)))
    assert len(opened) == 6  # the rules up to 55
    explicit = policy.watches.of_device(devices[0].device_id)
    assert {w.rule_id for w in explicit.values()} == {c.rule_id for c in opened}  # type: ignore[union-attr]
    assert len(policy.watches) == 60
