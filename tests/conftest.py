"""Test configuration: Hypothesis profiles, the slow marker, mpmath precision hygiene.

Profiles (select with ``HYPOTHESIS_PROFILE=name``; ``CI=true`` selects ``ci``):

* ``ci``   — derandomised, no example database, no deadline (deterministic in CI);
* ``dev``  — default locally: random, 50 examples;
* ``full`` — 1000 examples; also enables tests marked ``slow``.
"""

from __future__ import annotations

import os

import mpmath
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("ci", derandomize=True, database=None, deadline=None,
                          max_examples=50, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", deadline=None, max_examples=50)
settings.register_profile("full", derandomize=True, database=None, deadline=None,
                          max_examples=1000, suppress_health_check=[HealthCheck.too_slow])
_PROFILE = os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
settings.load_profile(_PROFILE)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-slow", action="store_true", default=False,
                     help="run tests marked slow (exhaustive checks)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-slow") or _PROFILE == "full":
        return
    # Not a silent skip: slow tests are selected with --run-slow or HYPOTHESIS_PROFILE=full.
    marker = pytest.mark.skip(reason="slow: run with --run-slow or HYPOTHESIS_PROFILE=full")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(marker)


@pytest.fixture(autouse=True)
def _mpmath_precision():
    """Every test starts and ends at mpmath's default precision (precision is scoped)."""
    mpmath.mp.dps = 15
    yield
    mpmath.mp.dps = 15
