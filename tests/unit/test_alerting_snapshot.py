"""The alerting state as a snapshot and back (`projections.alerting_snapshot`): a policy restored
at any point of a random run decides from then on what the policy that never stopped decides
(pending for-duration runs, rate-of-change windows, absence timers, episodes and open alerts
kept); and a snapshot reads back to the same snapshot."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from projections.alerting_index import RuleIndex
from projections.alerting_snapshot import capture, restore
from tests.hypothesis_profiles import examples
from tests.unit.test_alerting_policy import DEVICES, RULES, at, make_rule
from tests.unit.test_alerting_quiet_pairs import LADDER, ladder_messages, normalised
from write_side.alert_rules import RuleVersion
from write_side.alerting_policy import AlertCommand, AlertingPolicy
from write_side.telemetry import BatchEntry, Reading, TelemetryBatch

RISING = make_rule(
    {"kind": "rate_of_change", "metric": "temp", "rate": 1.0, "per": "second", "window_seconds": 60}
)
ALL_RULES = [*RULES, *LADDER, RISING]

Step = tuple[str, Any, list[tuple[int, int, float]]]
steps = st.lists(
    st.one_of(
        st.tuples(st.just("send"), st.sampled_from(DEVICES), ladder_messages),
        st.tuples(st.just("tick"), st.integers(1, 120), st.just([])),
        st.tuples(st.just("resolve"), st.integers(0, 10), st.just([])),
    ),
    max_size=30,
)


def index_of(rules: list[RuleVersion]) -> RuleIndex:
    index = RuleIndex()
    for rule in rules:
        index.put_rule(rule)
    for device in DEVICES:
        index.put_device(device)
    return index


class Run:
    """A policy fed the steps, with fresh message ids (a redelivery is its stream's business)."""

    def __init__(self, rules: list[RuleVersion]) -> None:
        self.rules, self.index = rules, index_of(rules)
        self.policy, self.clock, self.sent = AlertingPolicy(), 200.0, 0

    def step(self, kind: str, arg: Any, messages: list[tuple[int, int, float]]) -> list[Any]:
        if kind == "tick":
            self.clock += arg
            return self.policy.handle_tick(at(self.clock))
        if kind == "resolve":  # an operator resolves the n-th open alert
            open_alerts = sorted(
                str(w.open_alert) for w in self.policy.watches.values() if w.open_alert
            )
            if open_alerts:
                chosen = open_alerts[arg % len(open_alerts)]
                alert = next(
                    w.open_alert
                    for w in self.policy.watches.values()
                    if str(w.open_alert) == chosen
                )
                assert alert is not None
                self.policy.note_resolved(alert)
            return []
        entries = []
        for _, before, value in messages:
            self.sent += 1
            t = at(self.clock - before)
            entries.append(BatchEntry(f"m{self.sent}", t, (Reading("temp", value, t),)))
        device = self.index.devices[arg.device_id]
        batch = TelemetryBatch(device.device_id, tuple(entries))
        rules = self.index.rules_for(device, {"temp"})
        return self.policy.handle_readings(rules, device, batch)


@settings(max_examples=examples(200), deadline=None)
@given(
    st.lists(st.sampled_from(ALL_RULES), min_size=1, max_size=8, unique=True),
    steps,
    st.integers(0, 30),
)
def test_a_policy_restored_from_a_snapshot_decides_what_the_one_that_never_stopped_does(
    rules: list[RuleVersion], run_steps: list[Step], split: int
) -> None:
    before, after = run_steps[:split], run_steps[split:]
    kept, owners = Run(rules), dict[Any, Any]()  # (a step's order among pairs: a dict's)
    for step in before:
        normalised(kept.step(*step), owners)
    data = capture(kept.policy, kept.index, 42)
    position, index, policy = restore(data)
    assert position == 42
    assert capture(policy, index, 42) == data  # the same snapshot back
    restarted = Run(rules)
    restarted.index, restarted.policy = index, policy
    restarted.clock, restarted.sent = kept.clock, kept.sent
    expected: list[list[AlertCommand]] = []
    got: list[list[AlertCommand]] = []
    for step in after:
        expected.append(normalised(kept.step(*step), owners))
        got.append(normalised(restarted.step(*step), owners))
    assert got == expected


def test_a_snapshot_keeps_a_pending_for_duration_run() -> None:
    sustained = make_rule(
        {"kind": "for_duration", "metric": "temp", "op": ">", "value": 50, "seconds": 30}
    )
    run = Run([sustained])
    run.step("send", DEVICES[0], [(0, 0, 60.0)])
    _, _, policy = restore(capture(run.policy, run.index, 1))
    assert policy.handle_tick(at(run.clock + 10)) == []
    (opened,) = policy.handle_tick(at(run.clock + 31))
    assert opened.at == at(run.clock + 30)  # type: ignore[union-attr]


def test_what_is_not_a_snapshot_of_this_format_is_refused() -> None:
    with pytest.raises(ValueError, match="not an alerting snapshot"):
        restore(b"not zlib")


def test_a_snapshot_is_written_and_read_a_chunk_and_a_piece_at_a_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("projections.alerting_snapshot.CHUNK", 3)  # watches per line
    monkeypatch.setattr("projections.alerting_snapshot._PIECE", 7)  # bytes decompressed at once
    run = Run(ALL_RULES)
    for device in DEVICES:
        run.step("send", device, [(0, 5, 85.0), (1, 0, 86.0)])
    data = capture(run.policy, run.index, 5)
    position, index, policy = restore(data)
    assert (position, len(policy.watches)) == (5, len(run.policy.watches))
    assert len(policy.watches) > 3 * 2  # several lines
    assert capture(policy, index, 5) == data
