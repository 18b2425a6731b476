"""What rule evaluation works on: decisions, the evaluation state, compiled rules, series.

Apart from `write_side.rule_evaluation` (the functions that step a state through readings or
time) because these are the data and their hot-path plumbing, shared with the alerting policy
and its lanes: a rule compiled once per `RuleVersion` (`prepare`: its kind, metric and
comparison callables), a batch's readings sorted once per metric (`Series`, shared by the rules
watching that metric), and states copied without `dataclasses.replace` (same fields, same
values, a fraction of the cost). Pure: no I/O.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from write_side.alert_rules import (
    Absence,
    Comparison,
    Condition,
    ForDuration,
    RateOfChange,
    RuleDefinition,
    RuleVersion,
)
from write_side.telemetry import Reading


@dataclass(frozen=True)
class Raise:
    value: float | None  # the reading, or the rate for rate of change; None for absence
    at: datetime


@dataclass(frozen=True)
class Repeat:
    value: float
    at: datetime


@dataclass(frozen=True)
class Clear:
    value: float | None
    at: datetime


Decision = Raise | Repeat | Clear


@dataclass(slots=True, unsafe_hash=True)
class EvaluationState:
    """One (rule, device)'s evaluation state: a value, never changed once built (`copied` and
    `advanced` make new ones; `INITIAL` is shared). Slotted, not frozen: a million of them are
    held (issue 14: 96 bytes each instead of 344 with a `__dict__`), and a frozen slotted
    class copies twice as slowly as this one does."""

    active: bool = False
    since: datetime | None = None  # when the active episode was raised
    watermark: datetime | None = None  # newest reading time used for transitions
    last_seen: datetime | None = None  # newest reading time of the watched metric(s), late included
    pending_since: datetime | None = None  # for_duration: the raise condition holds since
    pending_value: float | None = None  # for_duration: the last value of that run
    recent: tuple[tuple[datetime, float], ...] = ()  # rate_of_change: readings in the window
    started: datetime | None = None  # absence: the first tick, while nothing was seen


_new = object.__new__


def copied(s: EvaluationState, **changes: Any) -> EvaluationState:
    """`dataclasses.replace(s, **changes)` without running `__init__` (same fields, faster)."""
    get = changes.get
    new: EvaluationState = _new(EvaluationState)
    new.active = get("active", s.active)
    new.since = get("since", s.since)
    new.watermark = get("watermark", s.watermark)
    new.last_seen = get("last_seen", s.last_seen)
    new.pending_since = get("pending_since", s.pending_since)
    new.pending_value = get("pending_value", s.pending_value)
    new.recent = get("recent", s.recent)
    new.started = get("started", s.started)
    return new


def advanced(s: EvaluationState, seen: datetime, watermark: datetime | None) -> EvaluationState:
    """`replace(s, last_seen=seen, watermark=watermark)`, on the hot path."""
    new: EvaluationState = _new(EvaluationState)
    new.active = s.active
    new.since = s.since
    new.watermark = watermark
    new.last_seen = seen
    new.pending_since = s.pending_since
    new.pending_value = s.pending_value
    new.recent = s.recent
    new.started = s.started
    return new


INITIAL = EvaluationState()  # shared: never changed
NOTHING: list[Decision] = []  # `evaluate_series` decided nothing (shared: never mutate it)
Evaluation = tuple[EvaluationState, list[Decision]]


# Compiled rules ---------------------------------------------------------------------------------

THRESHOLD, FOR_DURATION, ABSENCE, RATE_OF_CHANGE = range(4)
_OPS: Mapping[str, Callable[[Any, Any], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt,
    "<=": operator.le, "==": operator.eq, "!=": operator.ne,
}  # fmt: skip
_BOUND = {">": 1, ">=": 1, "<": -1, "<=": -1}  # raising can hold iff it holds for the max / min
_COMPILED = "_evaluation_plan"  # where a RuleVersion keeps its `Prepared` (not a field)


def _never(x: Any, y: Any) -> bool:
    return False


class Prepared:
    """A rule as evaluation uses it: computed once per `RuleVersion` (see `prepare`)."""

    __slots__ = (
        "clear_op",
        "clear_value",
        "clearing",
        "condition",
        "kind",
        "metric",
        "quiet",
        "raise_op",
        "raise_value",
        "raising",
    )

    def __init__(
        self, condition: Condition, raising: Comparison | None, clearing: Comparison | None
    ) -> None:
        self.condition = condition
        self.metric = condition.metric
        self.kind = (
            ABSENCE if isinstance(condition, Absence)
            else RATE_OF_CHANGE if isinstance(condition, RateOfChange)
            else FOR_DURATION if isinstance(condition, ForDuration)
            else THRESHOLD
        )  # fmt: skip
        self.raising, self.clearing = raising, clearing
        self.raise_op = _never if raising is None else _OPS[raising.op]
        self.raise_value = 0.0 if raising is None else raising.value
        self.clear_op = _never if clearing is None else _OPS[clearing.op]
        self.clear_value = 0.0 if clearing is None else clearing.value
        bound = 0 if raising is None or clearing is None else _BOUND.get(raising.op, 0)
        # 1 / -1: the state of a clear threshold or for-duration stays quiet through a series
        # whose max / min does not raise (see `evaluate_series`); 0: step through the readings.
        self.quiet = bound if self.kind in (THRESHOLD, FOR_DURATION) else 0


def prepare(rule: RuleDefinition | RuleVersion) -> Prepared:
    """The compiled rule; a `RuleVersion` (frozen) keeps it, so it is computed once."""
    if isinstance(rule, RuleVersion):
        cached = rule.__dict__.get(_COMPILED)
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        prepared = Prepared(rule.definition.condition, rule.raising, rule.clearing)
        rule.__dict__[_COMPILED] = prepared
        return prepared
    return Prepared(rule.condition, rule.raise_comparison, rule.clear_comparison)


def _at(reading: Reading) -> datetime:
    return reading.at


class Series:
    """The readings of one metric (or of all: `metric` None) of a batch, sorted by time (stable),
    with the lowest and highest value (None when a NaN makes them unusable)."""

    __slots__ = ("advanced", "high", "low", "readings")

    def __init__(self, readings: Sequence[Reading], metric: str | None) -> None:
        mine = list(readings) if metric is None else [r for r in readings if r.metric == metric]
        if len(mine) > 1:
            mine.sort(key=_at)
        self.readings = mine
        # Quiet states advanced by this series: id(old) -> (old, new). Rules of a device that
        # saw the same readings hold equal quiet states; they then share one (frozen) object,
        # so the next series advances it once for all of them. Keeping `old` keeps its id.
        self.advanced: dict[int, tuple[EvaluationState, Evaluation]] = {}
        self.low: float | None = None
        self.high: float | None = None
        if mine:
            values = [r.value for r in mine]
            low, high = min(values), max(values)
            if low == low and high == high:  # noqa: PLR0124 - NaN check (a NaN first hides others)
                self.low, self.high = low, high
