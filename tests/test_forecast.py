"""The forecast package's names (scratchrnn.forecast): what it exports is what its modules define."""

from __future__ import annotations

import scratchrnn
from scratchrnn import forecast
from scratchrnn.forecast import baselines, forecaster, metrics, rolling, scaling, tables, windows


def test_the_package_exports_its_modules_names():
    modules = (baselines, forecaster, metrics, rolling, scaling, tables, windows)
    assert set(forecast.__all__) == {name for m in modules for name in m.__all__}
    for m in modules:
        for name in m.__all__:
            assert getattr(forecast, name) is getattr(m, name)
    assert scratchrnn.forecast is forecast
