"""Rule evaluation per kind: pure functions of (state, readings) and (state, now)."""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from write_side.alert_rules import RuleDefinition, RuleVersion, parse_rule_definition
from write_side.rule_compiled import Clear, Decision, EvaluationState, Raise, Repeat
from write_side.rule_evaluation import evaluate, tick
from write_side.telemetry import Reading

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def rule(condition: dict[str, Any], **extra: Any) -> RuleDefinition:
    data = {"name": "r", "scope": {"tag": "t"}, "severity": "warning", "condition": condition}
    return parse_rule_definition(data | extra)


def threshold(op: str = ">", value: float = 80, **extra: Any) -> RuleDefinition:
    return rule({"kind": "threshold", "metric": "temp", "op": op, "value": value}, **extra)


def readings(*points: tuple[float, float], metric: str = "temp") -> list[Reading]:
    return [Reading(metric, value, at(seconds)) for seconds, value in points]


def run(
    definition: RuleDefinition, *batches: Sequence[Reading], state: EvaluationState | None = None
) -> tuple[EvaluationState, list[Decision]]:
    decisions: list[Decision] = []
    for batch in batches:
        state, made = evaluate(definition, state, batch)
        decisions += made
    assert state is not None
    return state, decisions


@pytest.mark.parametrize(
    ("op", "value", "raises"),
    [
        (">", 81, True), (">", 80, False),
        (">=", 80, True), (">=", 79.9, False),
        ("<", 79, True), ("<", 80, False),
        ("<=", 80, True), ("<=", 80.1, False),
        ("==", 80, True), ("==", 80.5, False),
        ("!=", 81, True), ("!=", 80, False),
    ],
)  # fmt: skip
def test_threshold_each_operator(op: str, value: float, raises: bool) -> None:
    state, decisions = run(threshold(op), readings((0, value)))
    assert decisions == ([Raise(value, at(0))] if raises else [])
    assert state.active is raises


def test_threshold_repeats_while_met_then_clears() -> None:
    state, decisions = run(threshold(), readings((0, 85), (1, 90), (2, 80), (3, 70), (4, 60)))
    assert decisions == [Raise(85, at(0)), Repeat(90, at(1)), Clear(80, at(2))]
    assert not state.active


def test_other_metrics_are_ignored() -> None:
    _, decisions = run(threshold(), readings((0, 99), metric="rpm"))
    assert decisions == []


def test_hysteresis_a_value_hovering_at_the_threshold_raises_once_and_never_flaps() -> None:
    definition = threshold(clear_condition={"op": "<", "value": 75})
    hovering = [(i, 79 + (i % 3)) for i in range(60)]  # 79, 80, 81, 79, ...
    state, decisions = run(definition, readings(*hovering))
    assert [type(d) for d in decisions if not isinstance(d, Repeat)] == [Raise]
    assert state.active
    state, decisions = run(
        definition, readings((60, 74.9), (61, 79), (62, 80), (63, 81)), state=state
    )
    assert decisions == [Clear(74.9, at(60)), Raise(81, at(63))]


def test_hysteresis_derived_from_the_rule() -> None:
    definition = threshold(hysteresis=5)
    _, decisions = run(definition, readings((0, 81), (1, 76), (2, 79), (3, 75), (4, 81)))
    assert decisions == [Raise(81, at(0)), Clear(75, at(3)), Raise(81, at(4))]


def for_duration(seconds: float = 30) -> RuleDefinition:
    condition = {"kind": "for_duration", "metric": "temp", "op": ">", "value": 80}
    return rule(condition | {"seconds": seconds})


def test_for_duration_raises_once_the_condition_has_held_long_enough() -> None:
    state, decisions = run(
        for_duration(), readings((0, 85), (10, 86), (29, 90), (30, 87), (31, 88))
    )
    assert decisions == [Raise(87, at(30)), Repeat(88, at(31))]
    assert state.since == at(30)


def test_for_duration_interrupted_starts_over() -> None:
    state, decisions = run(for_duration(), readings((0, 85), (20, 70), (25, 85), (50, 85)))
    assert decisions == []
    assert state.pending_since == at(25)
    _, decisions = run(for_duration(), readings((55, 90)), state=state)
    assert decisions == [Raise(90, at(55))]


def test_for_duration_is_raised_by_a_tick_at_the_deadline() -> None:
    state, _ = run(for_duration(), readings((0, 85)))
    state, decisions = tick(for_duration(), state, at(29))
    assert decisions == []
    state, decisions = tick(for_duration(), state, at(45))
    assert decisions == [Raise(85, at(30))]  # raised at the deadline, with the last value
    state, decisions = tick(for_duration(), state, at(90))
    assert decisions == []  # once
    _, decisions = run(for_duration(), readings((20, 99), (46, 60)), state=state)
    assert decisions == [Clear(60, at(46))]  # the reading at 20 s is older than the raise


def absence(metric: str | None = "temp", seconds: float = 60) -> RuleDefinition:
    return rule({"kind": "absence", "metric": metric, "seconds": seconds})


def test_absence_raises_on_tick_after_the_last_reading_and_clears_on_the_next() -> None:
    definition = absence()
    state, _ = run(definition, readings((0, 1)))
    state, decisions = tick(definition, state, at(59))
    assert decisions == []
    state, decisions = tick(definition, state, at(75))
    assert decisions == [Raise(None, at(60))]
    state, decisions = tick(definition, state, at(200))
    assert decisions == []
    state, decisions = run(definition, readings((0, 1)), state=state)
    assert decisions == []  # a redelivered old reading is not a sign of life
    state, decisions = run(definition, readings((90, 5), (80, 4)), state=state)
    assert decisions == [Clear(5, at(90))]
    assert state.last_seen == at(90)


def test_absence_of_a_device_never_heard_from_counts_from_the_first_tick() -> None:
    definition = absence(metric=None)
    state, decisions = tick(definition, None, at(0))
    assert decisions == []
    _, decisions = tick(definition, state, at(61))
    assert decisions == [Raise(None, at(60))]


def test_absence_of_one_metric_ignores_the_others() -> None:
    definition = absence(metric="temp")
    state, _ = run(definition, readings((0, 1)))
    state, _ = run(definition, readings((50, 1), metric="rpm"), state=state)
    _, decisions = tick(definition, state, at(61))
    assert decisions == [Raise(None, at(60))]
    any_metric = absence(metric=None)
    state, _ = run(any_metric, readings((0, 1)), readings((50, 1), metric="rpm"))
    _, decisions = tick(any_metric, state, at(61))
    assert decisions == []


def rate(**condition: Any) -> RuleDefinition:
    return rule({"kind": "rate_of_change", "metric": "temp", "rate": 2} | condition)


def test_rate_of_change_between_consecutive_readings() -> None:
    points = readings((0, 10), (1, 11), (2, 14), (4, 20), (6, 21))
    _, decisions = run(rate(), points)
    assert decisions == [Raise(3, at(2)), Repeat(3, at(4)), Clear(0.5, at(6))]


@pytest.mark.parametrize(
    ("direction", "values", "raises"),
    [
        ("rising", (10, 15), True),
        ("rising", (15, 10), False),
        ("falling", (15, 10), True),
        ("falling", (10, 15), False),
        ("any", (15, 10), True),
        ("any", (10, 15), True),
    ],
)
def test_rate_of_change_direction(
    direction: str, values: tuple[float, float], raises: bool
) -> None:
    _, decisions = run(rate(direction=direction), readings((0, values[0]), (1, values[1])))
    assert bool(decisions) is raises


def test_rate_of_change_per_minute_and_over_a_window() -> None:
    per_minute = rate(per="minute", rate=30)
    _, decisions = run(per_minute, readings((0, 10), (60, 50)))
    assert decisions == [Raise(40, at(60))]
    windowed = rate(window_seconds=10)
    _, decisions = run(windowed, readings((0, 0), (5, 1), (10, 25)))  # 25 over 10 s from 0 s
    assert decisions == [Raise(2.5, at(10))]
    _, decisions = run(windowed, readings((0, 0), (5, 1), (16, 22)))  # window starts at 6 s
    assert decisions == []


def test_out_of_order_readings_in_a_batch_are_evaluated_in_time_order() -> None:
    points = readings((0, 70), (1, 85), (2, 90), (3, 70), (4, 95), (5, 60))
    expected = run(threshold(), points)
    shuffled = list(points)
    for seed in range(5):
        random.Random(seed).shuffle(shuffled)
        assert run(threshold(), shuffled) == expected


def test_late_readings_count_as_seen_but_never_change_the_alert() -> None:
    state, decisions = run(threshold(), readings((10, 85)))
    assert decisions == [Raise(85, at(10))]
    state, decisions = run(threshold(), readings((5, 10), (9, 99)), state=state)
    assert decisions == []
    assert state.active
    assert state.watermark == at(10)
    state, decisions = run(absence(), readings((10, 1)))
    state, _ = run(absence(), readings((5, 1)), state=state)
    assert state.last_seen == at(10)


def test_a_rule_version_evaluates_like_its_definition() -> None:
    definition = threshold(hysteresis=5)
    version = RuleVersion(uuid.uuid4(), "acme", 1, definition)
    points = readings((0, 81), (1, 76), (2, 79), (3, 75), (4, 81))
    assert evaluate(version, None, points) == evaluate(definition, None, points)
    assert tick(version, None, at(0)) == tick(definition, None, at(0))
