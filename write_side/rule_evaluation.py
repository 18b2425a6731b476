"""Evaluation of one rule for one device: pure functions from (state, readings or now) to decisions.

Readings are sorted by time. A reading older than the state's watermark (the newest reading used
so far) is late: it updates `last_seen` but never raises, repeats or clears. Once active, only the
clear condition clears; once clear, only the raise condition raises (hysteresis).

Hot path (every rule of a device meets each of its telemetry batches): a rule is compiled once
per `RuleVersion` (`prepare`: its kind, metric and comparison callables), a batch's readings are
sorted once per metric (`Series`, shared by the rules watching that metric), and a quiet
threshold / for-duration state that no reading of the batch can raise (checked against the
series' max or min) only moves its watermark, without stepping through the readings. States are
copied without `dataclasses.replace` (same fields, same values, a fraction of the cost). The
state, the decisions, compiled rules and series are `write_side.rule_compiled`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta

from write_side.alert_rules import (
    Absence,
    ForDuration,
    RateOfChange,
    RuleDefinition,
    RuleVersion,
)
from write_side.rule_compiled import (
    ABSENCE,
    FOR_DURATION,
    INITIAL,
    NOTHING,
    RATE_OF_CHANGE,
    Clear,
    Decision,
    EvaluationState,
    Prepared,
    Raise,
    Repeat,
    Series,
    advanced,
    copied,
    prepare,
)
from write_side.telemetry import Reading

MAX_WINDOW_READINGS = 512  # a rate-of-change window keeps at most this many recent readings


def evaluate(
    rule: RuleDefinition | RuleVersion, state: EvaluationState | None, readings: Sequence[Reading]
) -> tuple[EvaluationState, list[Decision]]:
    """Feed readings (any order, any metrics: only the rule's metric is used). A `RuleVersion`
    is faster than its `definition`: it is compiled once."""
    prepared = prepare(rule)
    new, decisions = evaluate_series(prepared, state, Series(readings, prepared.metric))
    return new, decisions if decisions is not NOTHING else []


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
    old = state or INITIAL
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
                return done[1]  # (no allocation: the shared result, with `NOTHING`)
            newest_at, last_seen, watermark = mine[-1].at, old.last_seen, old.watermark
            seen = newest_at if last_seen is None else max(last_seen, newest_at)
            if watermark is None or newest_at >= watermark:
                watermark = newest_at
            result = advanced(old, seen, watermark), NOTHING
            series.advanced[id(old)] = (old, result)
            return result
    newest = mine[-1]
    newest_at = newest.at
    last_seen = old.last_seen
    seen = newest_at if last_seen is None else max(last_seen, newest_at)
    if rule.kind == ABSENCE:
        if old.active and old.since and (last_seen is None or newest_at > last_seen):
            cleared = copied(old, active=False, since=None, last_seen=seen)
            return cleared, [Clear(newest.value, max(newest_at, old.since))]
        return copied(old, last_seen=seen), []
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
    return advanced(s, seen, watermark), decisions


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
            return copied(s, started=now), []
        due = seen + timedelta(seconds=cond.seconds)
        return (copied(s, active=True, since=due), [Raise(None, due)]) if now >= due else (s, [])
    if isinstance(cond, ForDuration) and s.pending_since and s.pending_value is not None:
        due = s.pending_since + timedelta(seconds=cond.seconds)
        if now >= due:
            raised = copied(
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
            return copied(_quiet(s), active=False, since=None), [Clear(x, at)]
        return s, [Repeat(x, at)] if rule.raise_op(x, rule.raise_value) else []
    if not rule.raise_op(x, rule.raise_value):
        return _quiet(s), []
    if kind == FOR_DURATION:
        assert isinstance(rule.condition, ForDuration)
        since = s.pending_since or at
        if (at - since).total_seconds() < rule.condition.seconds:
            return copied(s, pending_since=since, pending_value=x), []
    return copied(_quiet(s), active=True, since=at), [Raise(x, at)]


def _quiet(s: EvaluationState) -> EvaluationState:
    if s.pending_since is None and s.pending_value is None:
        return s
    return copied(s, pending_since=None, pending_value=None)


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
    s = copied(s, recent=recent[-MAX_WINDOW_READINGS:])
    if not kept or kept[0][0] >= reading.at:
        return s, None
    then, before = kept[0]
    rate = (reading.value - before) / (reading.at - then).total_seconds()
    rate *= 60 if cond.per == "minute" else 1
    measured = {"rising": rate, "falling": -rate, "any": abs(rate)}[cond.direction]
    return s, measured if math.isfinite(measured) else None
