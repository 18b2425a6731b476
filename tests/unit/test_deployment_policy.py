"""The rollout policy's pure decisions (docs/firmware.md section 12.2): wave membership from a
recorded seed, what a wave's tally decides, the rate ramp and its sliding minute, and the
health gate."""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.hypothesis_profiles import examples
from write_side.deployment_health import Cohort, HealthGate, judge_health
from write_side.deployment_rate import RampCriterion, RateLimit, free_slots, next_slot
from write_side.deployment_waves import (
    FailureAction,
    Verdict,
    WaveSpec,
    WaveTally,
    assign_waves,
    check_waves,
    judge_wave,
    place_late,
)
from write_side.errors import InvalidInput

DEVICES = [f"device-{n:03d}" for n in range(200)]
CANARY = [WaveSpec(percent=5), WaveSpec(percent=20), WaveSpec()]
T0 = datetime(2026, 3, 1, tzinfo=UTC)


def test_the_same_seed_gives_the_same_plan_and_another_seed_another() -> None:
    one = assign_waves(7, dict.fromkeys(DEVICES), CANARY)
    assert one == assign_waves(7, dict.fromkeys(reversed(DEVICES)), CANARY)
    assert one != assign_waves(8, dict.fromkeys(DEVICES), CANARY)
    assert Counter(one.values()) == {0: 10, 1: 40, 2: 150}


def test_count_waves_take_counts_and_the_last_the_rest() -> None:
    plan = assign_waves(
        1, dict.fromkeys(DEVICES[:12]), [WaveSpec(count=2), WaveSpec(count=5), WaveSpec()]
    )
    assert Counter(plan.values()) == {0: 2, 1: 5, 2: 5}
    few = assign_waves(
        1, dict.fromkeys(DEVICES[:3]), [WaveSpec(count=2), WaveSpec(count=5), WaveSpec()]
    )
    assert Counter(few.values()) == {0: 2, 1: 1}  # the later waves are empty


def test_a_spread_plan_takes_every_sites_share_in_every_wave() -> None:
    sites = {d: ("north" if n < 40 else "south") for n, d in enumerate(DEVICES)}
    plan = assign_waves(3, sites, [WaveSpec(percent=10), WaveSpec(percent=40), WaveSpec()])
    per_site = Counter((sites[d], wave) for d, wave in plan.items())
    assert [per_site["north", w] for w in range(3)] == [4, 16, 20]
    assert [per_site["south", w] for w in range(3)] == [16, 64, 80]


@settings(max_examples=examples(100))
@given(
    seed=st.integers(0, 2**63 - 1),
    n=st.integers(0, 60),
    percents=st.lists(st.integers(1, 30), min_size=0, max_size=3),
)
def test_wave_sizes_follow_the_cumulative_percentages(
    seed: int, n: int, percents: list[int]
) -> None:
    waves = [*(WaveSpec(percent=p) for p in percents), WaveSpec()]
    check_waves(waves)
    sizes = Counter(assign_waves(seed, dict.fromkeys(DEVICES[:n]), waves).values())
    cumulative = 0
    for index, percent in enumerate(percents):
        cumulative += percent
        assert sum(sizes[w] for w in range(index + 1)) == round(n * cumulative / 100)
    assert sum(sizes.values()) == n


@given(seed=st.integers(0, 2**63 - 1), current=st.integers(0, 2), device=st.text(min_size=1))
def test_a_late_joiner_never_goes_into_a_finished_wave(
    seed: int, current: int, device: str
) -> None:
    wave = place_late(seed, device, CANARY, current)
    assert current <= wave <= len(CANARY) - 1
    assert place_late(seed, device, [WaveSpec(count=3), WaveSpec()], current) == current


@pytest.mark.parametrize(
    ("waves", "spread", "field"),
    [
        ([], False, "waves"),
        ([WaveSpec(percent=50)], False, "waves[0].size"),
        ([WaveSpec(), WaveSpec()], False, "waves[0].size"),
        ([WaveSpec(percent=60), WaveSpec(percent=50), WaveSpec()], False, "waves"),
        ([WaveSpec(percent=5), WaveSpec(count=5), WaveSpec()], False, "waves"),
        ([WaveSpec(count=5), WaveSpec()], True, "spreadBy"),
        ([WaveSpec(success_percent=0)], False, "waves[0].successPercent"),
        ([WaveSpec(success_percent=101)], False, "waves[0].successPercent"),
        ([WaveSpec(failure_percent=0)], False, "waves[0].failurePercent"),
        ([WaveSpec(failure_count=0)], False, "waves[0].failureCount"),
        ([WaveSpec(failure_count=1, failure_percent=5)], False, "waves[0].failure"),
        ([WaveSpec(soak=timedelta(days=8))], False, "waves[0].soakSeconds"),
    ],
)
def test_a_bad_plan_names_its_field(waves: list[WaveSpec], spread: bool, field: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        check_waves(waves, spread=spread)
    assert raised.value.field == field


def test_the_failure_threshold_comes_before_promotion() -> None:
    wave = WaveSpec(success_percent=90, failure_count=5, on_failure=FailureAction.ABORT)
    judged = judge_wave(WaveTally(members=100, succeeded=92, failed=5), wave)
    assert (judged.verdict, judged.reason) == (Verdict.ABORT, "failure_threshold")
    assert judged.evidence["failed"] == 5


def test_a_wave_promotes_waits_or_pauses() -> None:
    wave = WaveSpec(success_percent=95, failure_percent=10)
    assert judge_wave(WaveTally(100, succeeded=95, failed=2), wave).verdict is Verdict.PROMOTE
    assert judge_wave(WaveTally(100, succeeded=50, failed=4), wave).verdict is Verdict.WAIT
    over = judge_wave(WaveTally(100, succeeded=50, failed=10), wave)
    assert (over.verdict, over.reason) == (Verdict.PAUSE, "failure_threshold")
    stuck = judge_wave(WaveTally(100, succeeded=90, failed=1, canceled=8), wave)
    assert (stuck.verdict, stuck.reason) == (Verdict.PAUSE, "success_unreachable")
    assert judge_wave(WaveTally(0), wave).verdict is Verdict.PROMOTE  # an empty wave


def test_an_inconsistent_tally_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="inconsistent"):
        WaveTally(members=3, succeeded=2, failed=2)


def test_the_rate_ramps_exponentially_up_to_its_cap() -> None:
    limit = RateLimit(base_per_minute=10, max_per_minute=100, increase_factor=2, increase_every=50)
    assert [limit.per_minute(n, 0) for n in (0, 49, 50, 100, 150, 200, 10**9)] == [
        10,
        10,
        20,
        40,
        80,
        100,
        100,
    ]
    by_success = RateLimit(10, 100, 2, 50, RampCriterion.SUCCEEDED)
    assert (by_success.per_minute(500, 0), by_success.per_minute(500, 50)) == (10, 20)
    assert RateLimit(base_per_minute=5).per_minute(10**6, 10**6) == 5


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"base_per_minute": 0}, "rate.basePerMinute"),
        ({"base_per_minute": 10, "max_per_minute": 5}, "rate.maxPerMinute"),
        ({"base_per_minute": 10, "increase_factor": 0.5}, "rate.increaseFactor"),
        ({"base_per_minute": 10, "increase_every": 0}, "rate.increaseEvery"),
    ],
)
def test_a_bad_rate_names_its_field(kwargs: dict[str, float], field: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        RateLimit(**kwargs)  # type: ignore[arg-type]
    assert raised.value.field == field


def test_the_sliding_minute_counts_recorded_notifications() -> None:
    recent = [T0 + timedelta(seconds=s) for s in (0, 10, 20, 30)]
    now = T0 + timedelta(seconds=45)
    assert free_slots(5, now, recent) == 1
    assert next_slot(5, now, recent) == now
    assert free_slots(4, now, recent) == 0
    assert next_slot(4, now, recent) == T0 + timedelta(seconds=60)  # the first leaves
    assert next_slot(2, now, recent) == T0 + timedelta(seconds=80)  # three must leave


@settings(max_examples=examples(100))
@given(
    rate=st.integers(1, 6),
    offsets=st.lists(st.integers(0, 300), max_size=20),
    now=st.integers(0, 400),
)
def test_the_next_slot_is_the_first_moment_with_a_free_slot(
    rate: int, offsets: list[int], now: int
) -> None:
    recent = sorted(T0 + timedelta(seconds=s) for s in offsets if s <= now)
    at = T0 + timedelta(seconds=now)
    slot = next_slot(rate, at, recent)
    assert free_slots(rate, slot, recent) > 0
    if slot > at:
        assert free_slots(rate, slot - timedelta(microseconds=1), recent) == 0


def test_the_health_gate_compares_alert_rates_and_a_metric() -> None:
    gate = HealthGate(metric="temp", alert_margin_percent=10, metric_margin_percent=5)
    control = Cohort(devices=90, device_hours=900.0, alerts=9, metric_sum=18000, metric_samples=180)
    same = Cohort(devices=10, device_hours=100.0, alerts=1, metric_sum=1040, metric_samples=10)
    assert judge_health(gate, same, control).passed
    noisy = Cohort(devices=10, device_hours=100.0, alerts=2, metric_sum=1000, metric_samples=10)
    hot = Cohort(devices=10, device_hours=100.0, alerts=0, metric_sum=1060, metric_samples=10)
    assert judge_health(gate, noisy, control).reasons == ("alert_rate",)
    checked = judge_health(gate, hot, control)
    assert (checked.passed, checked.reasons) == (False, ("metric",))
    assert checked.evidence["updated"]["metric_mean"] == 106
    assert checked.evidence["control"]["alert_rate"] == pytest.approx(0.01)


def test_the_health_gate_direction_regressions_and_thin_evidence() -> None:
    control = Cohort(devices=50, device_hours=500.0, metric_sum=4000, metric_samples=50)
    lower = Cohort(devices=5, device_hours=50.0, metric_sum=300, metric_samples=5)
    assert not judge_health(HealthGate("battery", higher_is_better=True), lower, control).passed
    assert judge_health(HealthGate("temp"), lower, control).passed
    reverted = Cohort(devices=5, device_hours=50.0, regressions=1)
    assert judge_health(HealthGate("temp"), reverted, control).reasons == ("regressions",)
    thin = judge_health(HealthGate("temp", min_devices=10), lower, control)
    assert (thin.passed, thin.reasons) == (True, ("too_few_devices",))
    blind = judge_health(HealthGate("temp"), Cohort(5, 50.0), control)
    assert (blind.passed, blind.reasons) == (True, ("no_metric_samples",))


def test_a_bad_health_gate_names_its_field() -> None:
    for kwargs, field in (
        ({"metric": ""}, "healthGate.metric"),
        ({"metric": "t", "alert_margin_percent": -1}, "healthGate.alertMarginPercent"),
        ({"metric": "t", "min_devices": 0}, "healthGate.minDevices"),
    ):
        with pytest.raises(InvalidInput) as raised:
            HealthGate(**kwargs)  # type: ignore[arg-type]
        assert raised.value.field == field
    assert math.isclose(Cohort(0, 0.0).alert_rate, 0.0)
