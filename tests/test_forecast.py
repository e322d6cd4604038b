"""The forecast package's names (scratchrnn.forecast): what it exports is what its modules define."""

from __future__ import annotations

import scratchrnn
from scratchrnn import forecast
from scratchrnn.forecast import baselines, metrics


def test_the_package_exports_its_modules_names():
    assert set(forecast.__all__) == set(baselines.__all__) | set(metrics.__all__)
    for name in forecast.__all__:
        assert getattr(forecast, name) is getattr(baselines if name in baselines.__all__ else metrics, name)
    assert scratchrnn.forecast is forecast
