"""Evaluation of one rule for one device: pure functions from (state, readings or now) to decisions.

Readings are sorted by time. A reading older than the state's watermark (the newest reading used
so far) is late: it updates `last_seen` but never raises, repeats or clears. Once active, only the
clear condition clears; once clear, only the raise condition raises (hysteresis).

Hot path (every rule of a device meets each of its telemetry batches): a rule is compiled once
per `RuleVersion` (`prepare`: its kind, metric and comparison callables), a batch's readings are
sorted once per metric (`Series`, shared by the rules watching that metric), and a quiet
threshold / for-duration state that no reading of the batch can raise (checked against the
series' max or min) only moves its watermark, without stepping through the readings. States are
copied without `dataclasses.replace` (same fields, same values, a fraction of the cost).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
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

MAX_WINDOW_READINGS = 512  # a rate-of-change window keeps at most this many recent readings


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


@dataclass(frozen=True)
class EvaluationState:
    active: bool = False
    since: datetime | None = None  # when the active episode was raised
    watermark: datetime | None = None  # newest reading time used for transitions
    last_seen: datetime | None = None  # newest reading time of the watched metric(s), late included
    pending_since: datetime | None = None  # for_duration: the raise condition holds since
    pending_value: float | None = None  # for_duration: the last value of that run
    recent: tuple[tuple[datetime, float], ...] = ()  # rate_of_change: readings in the window
    started: datetime | None = None  # absence: the first tick, while nothing was seen


_new = object.__new__
_set = object.__setattr__


def _copy(s: EvaluationState, **changes: Any) -> EvaluationState:
    """`dataclasses.replace(s, **changes)` without running `__init__` (same fields, faster)."""
    fields = s.__dict__.copy()
    fields.update(changes)
    new: EvaluationState = _new(EvaluationState)
    _set(new, "__dict__", fields)
    return new


def _advanced(s: EvaluationState, seen: datetime, watermark: datetime | None) -> EvaluationState:
    """`replace(s, last_seen=seen, watermark=watermark)`, on the hot path."""
    fields = s.__dict__.copy()
    fields["last_seen"] = seen
    fields["watermark"] = watermark
    new: EvaluationState = _new(EvaluationState)
    _set(new, "__dict__", fields)
    return new


_INITIAL = EvaluationState()  # frozen: shared
_NOTHING: list[Decision] = []  # `evaluate_series` decided nothing (shared: never mutate it)
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


def evaluate(
    rule: RuleDefinition | RuleVersion, state: EvaluationState | None, readings: Sequence[Reading]
) -> tuple[EvaluationState, list[Decision]]:
    """Feed readings (any order, any metrics: only the rule's metric is used). A `RuleVersion`
    is faster than its `definition`: it is compiled once."""
    prepared = prepare(rule)
    new, decisions = evaluate_series(prepared, state, Series(readings, prepared.metric))
    return new, decisions if decisions is not _NOTHING else []


def is_quiet(state: EvaluationState | None) -> bool:
    """A state `evaluate_series` only advances when the series does not raise (None: initial)."""
    return state is None or (
        not state.active and state.pending_since is None and state.pending_value is None
    )


def evaluate_series(
    rule: Prepared, state: EvaluationState | None, series: Series
) -> tuple[EvaluationState, list[Decision]]:
    """`evaluate` with the rule compiled and the readings of its metric sorted (`Series`).
    The decisions list may be shared when empty: read it, never mutate it."""
    old = state or _INITIAL
    mine = series.readings
    if not mine:
        return old, []
    quiet = rule.quiet
    if quiet and not old.active and old.pending_since is None and old.pending_value is None:
        # (the condition of `is_quiet`, inline: this runs per rule per event)
        # Quiet (a threshold or for-duration, clear and not pending): a reading that does not
        # raise leaves the state as it is. When the series' extreme value does not raise, none
        # does: only `last_seen` and the watermark move.
        extreme = series.high if quiet > 0 else series.low
        if extreme is not None and not rule.raise_op(extreme, rule.raise_value):
            done = series.advanced.get(id(old))
            if done is not None and done[0] is old:
                return done[1]  # (no allocation: the shared result, with `_NOTHING`)
            newest_at, last_seen, watermark = mine[-1].at, old.last_seen, old.watermark
            seen = newest_at if last_seen is None else max(last_seen, newest_at)
            if watermark is None or newest_at >= watermark:
                watermark = newest_at
            result = _advanced(old, seen, watermark), _NOTHING
            series.advanced[id(old)] = (old, result)
            return result
    newest = mine[-1]
    newest_at = newest.at
    last_seen = old.last_seen
    seen = newest_at if last_seen is None else max(last_seen, newest_at)
    if rule.kind == ABSENCE:
        if old.active and old.since and (last_seen is None or newest_at > last_seen):
            cleared = _copy(old, active=False, since=None, last_seen=seen)
            return cleared, [Clear(newest.value, max(newest_at, old.since))]
        return _copy(old, last_seen=seen), []
    if rule.raising is None or rule.clearing is None:  # only absence has none, handled above
        return old, []
    watermark = old.watermark
    s, decisions = old, []
    for reading in mine:
        if watermark is None or reading.at >= watermark:
            s, made = _step(rule, s, reading)
            watermark = reading.at
            if made:
                decisions += made
    return _advanced(s, seen, watermark), decisions


def tick(
    rule: RuleDefinition | RuleVersion, state: EvaluationState | None, now: datetime
) -> tuple[EvaluationState, list[Decision]]:
    """Let time pass: raises an absence, or a for_duration whose run has lasted long enough."""
    s = state or EvaluationState()
    cond = rule.definition.condition if isinstance(rule, RuleVersion) else rule.condition
    if s.active:
        return s, []
    if isinstance(cond, Absence):
        seen = s.last_seen or s.started
        if seen is None:
            return _copy(s, started=now), []
        due = seen + timedelta(seconds=cond.seconds)
        return (_copy(s, active=True, since=due), [Raise(None, due)]) if now >= due else (s, [])
    if isinstance(cond, ForDuration) and s.pending_since and s.pending_value is not None:
        due = s.pending_since + timedelta(seconds=cond.seconds)
        if now >= due:
            raised = _copy(
                _quiet(s), active=True, since=due, watermark=max(s.watermark or due, due)
            )
            return raised, [Raise(s.pending_value, due)]
    return s, []


def _step(rule: Prepared, s: EvaluationState, r: Reading) -> tuple[EvaluationState, list[Decision]]:
    at, x = r.at, r.value
    kind = rule.kind
    if kind == RATE_OF_CHANGE:
        assert isinstance(rule.condition, RateOfChange)
        s, rate = _rate(rule.condition, s, r)
        if rate is None:
            return s, []
        x = rate
    if s.active:
        if rule.clear_op(x, rule.clear_value):
            return _copy(_quiet(s), active=False, since=None), [Clear(x, at)]
        return s, [Repeat(x, at)] if rule.raise_op(x, rule.raise_value) else []
    if not rule.raise_op(x, rule.raise_value):
        return _quiet(s), []
    if kind == FOR_DURATION:
        assert isinstance(rule.condition, ForDuration)
        since = s.pending_since or at
        if (at - since).total_seconds() < rule.condition.seconds:
            return _copy(s, pending_since=since, pending_value=x), []
    return _copy(_quiet(s), active=True, since=at), [Raise(x, at)]


def _quiet(s: EvaluationState) -> EvaluationState:
    if s.pending_since is None and s.pending_value is None:
        return s
    return _copy(s, pending_since=None, pending_value=None)


def _rate(
    cond: RateOfChange, s: EvaluationState, reading: Reading
) -> tuple[EvaluationState, float | None]:
    """The change per `cond.per` against the previous reading, or the oldest in the window."""
    window = cond.window_seconds
    if window is None:
        kept = s.recent[-1:]
    else:
        kept = tuple(p for p in s.recent if (reading.at - p[0]).total_seconds() <= window)
    recent = (*kept, (reading.at, reading.value)) if window else ((reading.at, reading.value),)
    s = _copy(s, recent=recent[-MAX_WINDOW_READINGS:])
    if not kept or kept[0][0] >= reading.at:
        return s, None
    then, before = kept[0]
    rate = (reading.value - before) / (reading.at - then).total_seconds()
    rate *= 60 if cond.per == "minute" else 1
    measured = {"rising": rate, "falling": -rate, "any": abs(rate)}[cond.direction]
    return s, measured if math.isfinite(measured) else None
