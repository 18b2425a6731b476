"""How many rules of one device get through an event quickly (see `Lanes`): the alerting
policy's shortcuts for quiet states, each giving exactly what `evaluate_series` would give
(`AlertingPolicy(shortcuts=False)` evaluates every rule in full; a hypothesis test compares)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from uuid import UUID

from write_side.alert_rules import RuleVersion
from write_side.rule_compiled import EvaluationState, Prepared, Series, prepare
from write_side.rule_evaluation import evaluate_series, is_quiet
from write_side.telemetry import Reading

if TYPE_CHECKING:
    from write_side.alerting_watch import DeviceFacts, Watch


class _Lane:
    """The quiet threshold / for-duration rules of one device on one metric and one side (1:
    raised by high values, -1: by low ones), with the value a series' extreme must reach to
    raise any of them."""

    __slots__ = (
        "indexes",
        "limit_exclusive",
        "limit_inclusive",
        "metric",
        "rules",
        "side",
        "watches",
    )

    def __init__(self, metric: str | None, side: int) -> None:
        self.metric, self.side = metric, side
        # Per rule of the lane, three lists rather than a tuple per rule (a (rule, device)
        # pair is 345 bytes with the policy's other savings, 451 before): its index in the
        # device's rules, the rule, its watch.
        self.indexes: list[int] = []
        self.rules: list[RuleVersion] = []
        self.watches: list[Watch] = []
        # side 1: no rule raises iff extreme <= limit_exclusive ('>') and < limit_inclusive
        # ('>='); side -1: iff extreme >= limit_exclusive ('<') and > limit_inclusive ('<=').
        infinity = float("inf") * side
        self.limit_exclusive, self.limit_inclusive = infinity, infinity

    def add(self, index: int, rule: RuleVersion, watch: Watch, prepared: Prepared) -> None:
        self.indexes.append(index)
        self.rules.append(rule)
        self.watches.append(watch)
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


@dataclass
class Lanes:
    """A device's many quiet rules, moved through an event together instead of one by one.

    Rules of a device that saw the same readings hold one (shared) quiet state object; when a
    series raises none of the rules of a lane, `evaluate_series` would advance that shared state
    the same way for each of them (only `last_seen` and the watermark move), so it is advanced
    once and given to every watch holding it. Everything else (another state, a rule or device
    changed since, an extreme that may raise) is evaluated rule by rule, in the rules' order."""

    key: tuple[RuleVersion, ...]  # the rules the lanes were built for, in order
    device: DeviceFacts
    lanes: list[_Lane]
    others: list[int]  # indexes of the rules no lane takes

    @classmethod
    def build(
        cls,
        key: tuple[RuleVersion, ...],
        device: DeviceFacts,
        rules: list[RuleVersion],
        known: dict[UUID, Watch],
    ) -> Lanes:
        lanes: dict[tuple[str | None, int], _Lane] = {}
        others = []
        for index, rule in enumerate(rules):
            watch = known.get(rule.rule_id)
            prepared = prepare(rule)
            if watch is None or watch.rule is not rule or not prepared.quiet:
                others.append(index)
                continue
            lane = lanes.get((prepared.metric, prepared.quiet))
            if lane is None:
                lane = lanes[prepared.metric, prepared.quiet] = _Lane(
                    prepared.metric, prepared.quiet
                )
            lane.add(index, rule, watch, prepared)
        return cls(key, device, list(lanes.values()), others)

    def run(
        self, device: DeviceFacts, readings: list[Reading], series: dict[str | None, Series]
    ) -> list[int]:
        """Move what the lanes can; the indexes of the rules left to evaluate, in order."""
        remaining = list(self.others)
        for lane in self.lanes:
            mine = series.get(lane.metric)
            if mine is None:
                mine = series[lane.metric] = Series(readings, lane.metric)
            shared = lane.watches[0].state
            if not (lane.quiet_through(mine) and is_quiet(shared)):
                remaining += lane.indexes
                continue
            advanced: EvaluationState | None = None
            for index, rule, watch in zip(lane.indexes, lane.rules, lane.watches, strict=True):
                if (
                    watch.state is not shared
                    or watch.rule is not rule
                    or watch.device is not device
                ):
                    remaining.append(index)
                    continue
                if advanced is None:
                    advanced, decisions = evaluate_series(prepare(rule), shared, mine)
                    assert not decisions  # quiet through the series: nothing to decide
                watch.state = advanced
        remaining.sort()
        return remaining


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
