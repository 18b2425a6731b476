"""Hypothesis profiles, loaded by tests/conftest.py before any test module is imported.

- `ci` (chosen when Hypothesis detects a CI, e.g. `CI=true`): derandomized, so a red build
  replays the same examples on a rerun and anyone can reproduce it; no example database.
- `dev` (the default elsewhere): random examples on every run, so local runs keep exploring;
  failures are saved to the example database (`.hypothesis/`) and replayed first next time.
- `nightly` (`HYPOTHESIS_PROFILE=nightly`): random, with ten times the examples of every
  property and stateful test (see `examples`), for a scheduled run with time to spare.

`HYPOTHESIS_PROFILE` names the profile explicitly (any of the three); pytest's
`--hypothesis-profile` still overrides everything.
"""

from __future__ import annotations

from collections.abc import Mapping

from hypothesis import HealthCheck, settings
from hypothesis.errors import InvalidArgument

# Hypothesis loads its own `ci` profile on import when it detects a CI (its list of CI
# variables is the one followed here); read before this module registers or loads anything.
IN_CI = settings.get_current_profile_name() == "ci"
BASE_EXAMPLES = 100  # `max_examples` of ci and dev: the budgets written in the tests apply as is
PROFILES = ("ci", "dev", "nightly")

# Each profile from Hypothesis' `default`, never from whatever profile is loaded now (under a
# CI that is Hypothesis' own `ci`, whose settings would leak into ours).
DEFAULT = settings.get_profile("default")
settings.register_profile(
    "ci",
    DEFAULT,
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    max_examples=BASE_EXAMPLES,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "dev", DEFAULT, derandomize=False, max_examples=BASE_EXAMPLES, print_blob=True
)
settings.register_profile(
    "nightly",
    settings.get_profile("dev"),
    max_examples=10 * BASE_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def choose_profile(environ: Mapping[str, str], in_ci: bool) -> str:
    """`HYPOTHESIS_PROFILE` when set; otherwise `ci` on a CI machine and `dev` elsewhere."""
    explicit = environ.get("HYPOTHESIS_PROFILE", "").strip()
    if not explicit:
        return "ci" if in_ci else "dev"
    if explicit not in PROFILES:
        raise InvalidArgument(
            f"HYPOTHESIS_PROFILE={explicit!r} is not one of {', '.join(PROFILES)}"
        )
    return explicit


def load(environ: Mapping[str, str]) -> str:
    """Load the profile chosen for this environment; returns its name."""
    name = choose_profile(environ, IN_CI)
    settings.load_profile(name)
    return name


def examples(budget: int) -> int:
    """A test's own `max_examples`, scaled by the profile (x1 for ci and dev, x10 nightly):
    explicit `max_examples` in a test would otherwise ignore the profile's."""
    return max(1, budget * settings().max_examples // BASE_EXAMPLES)
