"""How a replay's scratch build splits the read models between processes
(`fleetwatch.replay_build.split`): every model in exactly one group, no empty group, no more
groups than asked or than models, and the weights balanced greedily, heaviest first."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from fleetwatch.replay_build import WEIGHTS, split
from fleetwatch.wiring import READ_MODELS

NAMES = [m.name for m in READ_MODELS]


def test_on_two_cores_telemetry_goes_alone_and_the_others_together() -> None:
    assert split(NAMES, 2) == [
        ["telemetry"],
        ["device_status", "alerts", "dashboard", "deployments", "users", "firmware", "exports"],
    ]
    assert split(NAMES, 1) == [sorted(NAMES, key=lambda n: -WEIGHTS.get(n, 1.0))]


@given(st.lists(st.sampled_from(NAMES), unique=True), st.integers(1, 12))
def test_every_model_lands_in_exactly_one_group(names: list[str], groups: int) -> None:
    parts = split(names, groups)
    assert sorted(n for part in parts for n in part) == sorted(names)
    assert all(parts)
    assert len(parts) == min(groups, len(names))
    if len(parts) > 1:  # no group could give its last model to the lightest and be lighter
        loads = [sum(WEIGHTS.get(n, 1.0) for n in part) for part in parts]
        heaviest = max(range(len(parts)), key=loads.__getitem__)
        last = WEIGHTS.get(parts[heaviest][-1], 1.0)
        assert len(parts[heaviest]) == 1 or loads[heaviest] - last <= min(loads)
