"""Evaluation of one rule for one device: pure functions from (state, readings or now) to decisions.

Readings are sorted by time. A reading older than the state's watermark (the newest reading used
so far) is late: it updates `last_seen` but never raises, repeats or clears. Once active, only the
clear condition clears; once clear, only the raise condition raises (hysteresis).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

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


def evaluate(
    rule: RuleDefinition | RuleVersion, state: EvaluationState | None, readings: Sequence[Reading]
) -> tuple[EvaluationState, list[Decision]]:
    """Feed readings (any order, any metrics: only the rule's metric is used). A `RuleVersion`
    is faster than its `definition`: its comparisons are computed once."""
    old = state or EvaluationState()
    if isinstance(rule, RuleVersion):
        cond, raising, clearing = rule.definition.condition, rule.raising, rule.clearing
    else:
        cond, raising, clearing = rule.condition, rule.raise_comparison, rule.clear_comparison
    mine = sorted((r for r in readings if cond.metric in (None, r.metric)), key=lambda r: r.at)
    if not mine:
        return old, []
    newest = mine[-1]
    seen = newest.at if old.last_seen is None else max(old.last_seen, newest.at)
    if isinstance(cond, Absence):
        if old.active and old.since and (old.last_seen is None or newest.at > old.last_seen):
            cleared = replace(old, active=False, since=None, last_seen=seen)
            return cleared, [Clear(newest.value, max(newest.at, old.since))]
        return replace(old, last_seen=seen), []
    if raising is None or clearing is None:  # only absence has none, handled above
        return old, []
    s, watermark, decisions = old, old.watermark, []
    for reading in mine:
        if watermark is None or reading.at >= watermark:
            s, made = _step(cond, raising, clearing, s, reading)
            watermark = reading.at
            decisions += made
    return replace(s, last_seen=seen, watermark=watermark), decisions


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
            return replace(s, started=now), []
        due = seen + timedelta(seconds=cond.seconds)
        return (replace(s, active=True, since=due), [Raise(None, due)]) if now >= due else (s, [])
    if isinstance(cond, ForDuration) and s.pending_since and s.pending_value is not None:
        due = s.pending_since + timedelta(seconds=cond.seconds)
        if now >= due:
            raised = replace(
                _quiet(s), active=True, since=due, watermark=max(s.watermark or due, due)
            )
            return raised, [Raise(s.pending_value, due)]
    return s, []


def _step(
    cond: Condition, raising: Comparison, clearing: Comparison, s: EvaluationState, r: Reading
) -> tuple[EvaluationState, list[Decision]]:
    at, x = r.at, r.value
    if isinstance(cond, RateOfChange):
        s, rate = _rate(cond, s, r)
        if rate is None:
            return s, []
        x = rate
    if s.active:
        if clearing.holds(x):
            return replace(_quiet(s), active=False, since=None), [Clear(x, at)]
        return s, [Repeat(x, at)] if raising.holds(x) else []
    if not raising.holds(x):
        return _quiet(s), []
    if isinstance(cond, ForDuration):
        since = s.pending_since or at
        if (at - since).total_seconds() < cond.seconds:
            return replace(s, pending_since=since, pending_value=x), []
    return replace(_quiet(s), active=True, since=at), [Raise(x, at)]


def _quiet(s: EvaluationState) -> EvaluationState:
    if s.pending_since is None and s.pending_value is None:
        return s  # `replace` is slow: skip it on the hot path
    return replace(s, pending_since=None, pending_value=None)


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
    s = replace(s, recent=recent[-MAX_WINDOW_READINGS:])
    if not kept or kept[0][0] >= reading.at:
        return s, None
    then, before = kept[0]
    rate = (reading.value - before) / (reading.at - then).total_seconds()
    rate *= 60 if cond.per == "minute" else 1
    measured = {"rising": rate, "falling": -rate, "any": abs(rate)}[cond.direction]
    return s, measured if math.isfinite(measured) else None
