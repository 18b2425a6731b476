"""The Hypothesis profiles: CI replays the same examples (reproducible), other runs explore
(random, failures kept), nightly runs explore ten times as far."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis.errors import InvalidArgument

from tests.hypothesis_profiles import IN_CI, choose_profile, examples, load

ROOT = Path(__file__).resolve().parents[2]
# The variables by which Hypothesis recognises a CI (hypothesis._settings), removed to run as a
# developer would.
CI_VARIABLES = (
    "CI",
    "TF_BUILD",
    "bamboo.buildKey",
    "BUILDKITE",
    "CIRCLECI",
    "CIRRUS_CI",
    "CODEBUILD_BUILD_ID",
    "GITHUB_ACTIONS",
    "GITLAB_CI",
    "HEROKU_TEST_RUN_ID",
    "TEAMCITY_VERSION",
    "__TOX_ENVIRONMENT_VARIABLE_ORIGINAL_CI",
)
PROBE = """
import json, os
from hypothesis import settings
from tests.hypothesis_profiles import examples, load
name = load(os.environ)
now = settings()
print(json.dumps([name, now.derandomize, now.database is None, examples(300)]))
"""


def loaded_in(**environ: str) -> list[object]:
    """[profile, derandomize, no database, examples(300)] as a fresh interpreter loads them
    under the developer's environment plus `environ`."""
    env = {k: v for k, v in os.environ.items() if k not in CI_VARIABLES}
    env.pop("HYPOTHESIS_PROFILE", None)
    env |= environ | {"PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, check=True
    )
    result: list[object] = json.loads(done.stdout)
    return result


def test_ci_replays_while_other_runs_explore() -> None:
    assert loaded_in(CI="true") == ["ci", True, True, 300]
    assert loaded_in() == ["dev", False, False, 300]
    assert loaded_in(HYPOTHESIS_PROFILE="nightly") == ["nightly", False, False, 3000]
    assert loaded_in(CI="true", HYPOTHESIS_PROFILE="nightly") == ["nightly", False, False, 3000]
    assert loaded_in(CI="true", HYPOTHESIS_PROFILE="dev") == ["dev", False, False, 300]


def test_the_choice() -> None:
    assert choose_profile({}, in_ci=True) == "ci"
    assert choose_profile({"HYPOTHESIS_PROFILE": " "}, in_ci=False) == "dev"
    assert choose_profile({"HYPOTHESIS_PROFILE": "ci"}, in_ci=False) == "ci"


def test_an_unknown_profile_is_refused_and_nothing_changes() -> None:
    before = settings.get_current_profile_name()
    with pytest.raises(InvalidArgument, match="HYPOTHESIS_PROFILE='fast' is not one of"):
        load({"HYPOTHESIS_PROFILE": "fast"})
    assert settings.get_current_profile_name() == before


def test_this_session_runs_the_chosen_profile(pytestconfig: pytest.Config) -> None:
    asked = pytestconfig.getoption("hypothesis_profile", None)  # pytest's own option wins
    assert settings.get_current_profile_name() == (asked or choose_profile(os.environ, IN_CI))
    assert examples(50) == 50 * settings().max_examples // 100
