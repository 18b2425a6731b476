"""A device's quiet rules, held without a watch each and moved through an event together: the
alerting policy's shortcut for quiet states, giving exactly what `evaluate_series` would give
(`AlertingPolicy(shortcuts=False)` evaluates every rule in full; a hypothesis test compares).

A `LanePlan` groups the quiet threshold and for-duration rules of a rules list (a device's
`RuleIndex` answer) per metric and side, with the extreme value that would raise any of them.
It depends on the rules only, so devices given the same list share one plan. Per device,
`QuietPairs` holds one evaluation state per lane: the state of every rule of the lane that has
no watch of its own (an *implicit* pair: no open alert, the plan's rule, the device's facts,
that state, and its episode count: 0 or kept in `QuietPairs.episodes`). 100 fleet-wide rules
over 100,000 devices are ten million pairs, and most of them never see a reading that could
raise (issue 14): a watch each took 176 bytes, 1.6 GiB. `write_side.alerting_table.WatchTable`
makes a pair's watch when something needs one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar
from uuid import UUID

from write_side.alert_rules import RuleVersion
from write_side.rule_compiled import EvaluationState, Prepared, Series, prepare
from write_side.rule_evaluation import evaluate_series, is_quiet
from write_side.telemetry import Reading

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from write_side.alerting_watch import DeviceFacts, Watch

_PLANS_KEPT = 1024  # plans remembered for sharing (a device keeps its own in any case)
# Per lane: whether it has implicit pairs; the indexes of its other rules (a watch each, or
# excluded), evaluated one by one.
_Sorted = tuple[bool, list[int]]
_ALL_IMPLICIT: _Sorted = (True, [])  # shared (never changed): most lanes of most devices


class _Lane:
    """The quiet threshold / for-duration rules of a plan on one metric and one side (1: raised
    by high values, -1: by low ones), with the value a series' extreme must reach to raise any
    of them."""

    __slots__ = ("indexes", "limit_exclusive", "limit_inclusive", "metric", "rules", "side")

    def __init__(self, metric: str | None, side: int) -> None:
        self.metric, self.side = metric, side
        self.indexes: list[int] = []  # of each rule in the plan's rules list
        self.rules: list[RuleVersion] = []
        # side 1: no rule raises iff extreme <= limit_exclusive ('>') and < limit_inclusive
        # ('>='); side -1: iff extreme >= limit_exclusive ('<') and > limit_inclusive ('<=').
        infinity = float("inf") * side
        self.limit_exclusive, self.limit_inclusive = infinity, infinity

    def add(self, index: int, rule: RuleVersion, prepared: Prepared) -> None:
        self.indexes.append(index)
        self.rules.append(rule)
        pick = min if self.side > 0 else max
        assert prepared.raising is not None
        if prepared.raising.op in (">", "<"):
            self.limit_exclusive = pick(self.limit_exclusive, prepared.raise_value)
        else:
            self.limit_inclusive = pick(self.limit_inclusive, prepared.raise_value)

    def quiet_through(self, series: Series) -> bool:
        """Whether the series raises none of the lane's rules."""
        if self.side > 0:
            high = series.high
            return high is not None and high <= self.limit_exclusive and high < self.limit_inclusive
        low = series.low
        return low is not None and low >= self.limit_exclusive and low > self.limit_inclusive


class LanePlan:
    """The lanes of one rules list (`key`, in order), shared by the devices given that list."""

    __slots__ = ("key", "lane_of", "lanes", "others")

    _shared: ClassVar[dict[tuple[int, ...], LanePlan]] = {}  # by the ids of the key's rules

    def __init__(self, key: tuple[RuleVersion, ...]) -> None:
        self.key = key
        lanes: dict[tuple[str | None, int], _Lane] = {}
        self.others: list[int] = []  # indexes of the rules no lane takes
        self.lane_of: dict[UUID, tuple[int, RuleVersion]] = {}  # rule id -> lane number, rule
        ids = [r.rule_id for r in key]  # a rule id given twice is evaluated one by one
        twice = {i for i in ids if ids.count(i) > 1} if len(set(ids)) < len(ids) else set()
        for index, rule in enumerate(key):
            prepared = prepare(rule)
            if not prepared.quiet or rule.rule_id in twice:
                self.others.append(index)
                continue
            lane = lanes.get((prepared.metric, prepared.quiet))
            if lane is None:
                lane = lanes[prepared.metric, prepared.quiet] = _Lane(
                    prepared.metric, prepared.quiet
                )
            lane.add(index, rule, prepared)
        self.lanes = list(lanes.values())
        for number, lane in enumerate(self.lanes):
            for rule in lane.rules:
                self.lane_of[rule.rule_id] = number, rule

    @classmethod
    def of(cls, key: tuple[RuleVersion, ...]) -> LanePlan:
        """The plan of `key`, shared with the devices given the same rules (the plan holds its
        rules, so their ids stay theirs while it is remembered)."""
        ids = tuple(map(id, key))
        plan = cls._shared.get(ids)
        if plan is None:
            if len(cls._shared) >= _PLANS_KEPT:
                cls._shared.clear()
            plan = cls._shared[ids] = cls(key)
        return plan


class QuietPairs:
    """A device's implicit pairs: per lane of its plan, the state of the lane's rules that have
    no watch (in the device's `known`) and are not `excluded` (rules of the plan the device has
    no pair with: not applying when the plan was taken, or deleted since)."""

    __slots__ = ("by_lane", "device", "episodes", "excluded", "plan", "states")

    def __init__(self, plan: LanePlan, device: DeviceFacts) -> None:
        self.plan, self.device = plan, device
        self.states: list[EvaluationState | None] = [None] * len(plan.lanes)
        self.excluded: frozenset[UUID] = frozenset()
        # The episode counts of the implicit pairs that fired before (None: none has): such a
        # pair needs no watch once quiet again, 155 bytes each where an entry here takes ~40.
        self.episodes: dict[UUID, int] | None = None
        # Per lane, its rules sorted by what `run` does with them (`_sort`): made again after
        # the device's watches or exclusions changed (the table sets None), so a batch looks
        # up no rule id (a UUID's hash is a Python method: 100 of them per batch showed).
        self.by_lane: list[_Sorted] | None = None

    def implicit(
        self, rule_id: UUID, known: Mapping[UUID, Watch]
    ) -> tuple[int, RuleVersion] | None:
        """The lane number and rule of the pair with `rule_id` when it is implicit."""
        found = self.plan.lane_of.get(rule_id)
        if found is None or rule_id in known or rule_id in self.excluded:
            return None
        return found

    def pairs(self, known: Mapping[UUID, Watch]) -> Iterator[tuple[RuleVersion, int]]:
        """The implicit pairs' rules, with their lane numbers."""
        excluded = self.excluded
        for number, lane in enumerate(self.plan.lanes):
            for rule in lane.rules:
                if rule.rule_id not in known and rule.rule_id not in excluded:
                    yield rule, number

    def watched(self, rule_id: UUID) -> None:
        """A watch holds the pair from now on (it counts its episodes)."""
        self.by_lane = None
        if rule_id in self.excluded:
            self.excluded = self.excluded - {rule_id}
        if self.episodes:
            self.episodes.pop(rule_id, None)

    def run(
        self,
        known: Mapping[UUID, Watch],
        readings: list[Reading],
        series: dict[str | None, Series],
    ) -> list[int]:
        """Move the implicit pairs of the lanes a series is quiet through; the indexes (in the
        plan's key) of the rules left to evaluate one by one, in order."""
        plan, states = self.plan, self.states
        remaining = list(plan.others)
        lanes = self.by_lane
        if lanes is None:
            lanes = self.by_lane = self._sort(known)
        for number, lane in enumerate(plan.lanes):
            mine = series.get(lane.metric)
            if mine is None:
                mine = series[lane.metric] = Series(readings, lane.metric)
            shared = states[number]
            # (no readings of the metric: evaluation leaves every state as it is)
            if mine.readings and not (lane.quiet_through(mine) and is_quiet(shared)):
                remaining += lane.indexes
                continue
            implicit, others = lanes[number]
            remaining += others
            if implicit:
                advanced, decisions = evaluate_series(prepare(lane.rules[0]), shared, mine)
                assert not decisions  # quiet through the series: nothing to decide
                states[number] = advanced
        remaining.sort()
        return remaining

    def _sort(self, known: Mapping[UUID, Watch]) -> list[_Sorted]:
        """Per lane: whether it has implicit pairs, and the indexes (in the key) of the rest."""
        sorted_: list[_Sorted] = []
        for lane in self.plan.lanes:
            implicit = False
            others: list[int] = []
            for index, rule in zip(lane.indexes, lane.rules, strict=True):
                if rule.rule_id in known or rule.rule_id in self.excluded:
                    others.append(index)
                else:
                    implicit = True
            sorted_.append(_ALL_IMPLICIT if implicit and not others else (implicit, others))
        return sorted_


def advanced_already(
    prepared: Prepared, old: EvaluationState | None, series: Series
) -> EvaluationState | None:
    """What `evaluate_series` would return at once (a device has many rules, and this runs per
    rule per event): `old` was already advanced through `series` for another rule (so it is a
    quiet state) and the series' extreme does not raise this rule. None: evaluate."""
    if old is None or not prepared.quiet:
        return None
    done = series.advanced.get(id(old))
    if done is None or done[0] is not old:
        return None
    extreme = series.high if prepared.quiet > 0 else series.low
    if extreme is None or prepared.raise_op(extreme, prepared.raise_value):
        return None
    return done[1][0]
