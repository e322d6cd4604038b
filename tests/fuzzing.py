"""How hard the fuzzing tests try: a quick default profile, a longer one for nightly runs.

Every fuzzing test takes its hypothesis settings from :func:`fuzz_settings`. By default the whole
fuzzing suite runs in well under a minute; ``SCRATCHRNN_FUZZ=nightly make test`` (or the same
variable with ``pytest tests/test_fuzz_*.py``) multiplies each test's number of cases by
``NIGHTLY_FACTOR``. Run with ``--hypothesis-show-statistics`` to see how many cases each tried.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

PROFILE_VARIABLE = "SCRATCHRNN_FUZZ"
NIGHTLY_FACTOR = 50


def nightly() -> bool:
    """Whether the longer profile was asked for; any other value than "nightly" is refused."""
    value = os.environ.get(PROFILE_VARIABLE, "")
    if value not in ("", "default", "nightly"):
        raise ValueError(f"{PROFILE_VARIABLE} must be 'default' or 'nightly', got {value!r}")
    return value == "nightly"


def fuzz_settings(examples: int) -> settings:
    """Hypothesis settings of one fuzzing test: ``examples`` cases by default, more at night."""
    if examples < 1:
        raise ValueError(f"examples must be a positive count, got {examples!r}")
    return settings(
        max_examples=examples * NIGHTLY_FACTOR if nightly() else examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        database=None,
    )
