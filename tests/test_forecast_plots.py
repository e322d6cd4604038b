"""The forecast figures (scratchrnn.forecast.plots): PNG files of the size DPI promises, written
atomically, and a wrong suffix refused before anything is drawn."""

from __future__ import annotations

import numpy as np
import pytest

from scratchrnn.figures import DPI
from scratchrnn.forecast import Forecaster, backtest
from scratchrnn.forecast.plots import save_backtest, save_forecast

pytest.importorskip("matplotlib")


def _png_size(path):
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def test_forecast_and_backtest_figures_are_written(tmp_path):
    y = 3 + np.sin(np.arange(80) / 2)
    fc = Forecaster(window=6, horizon=2, hidden_size=4, epochs=2, patience=None, random_state=0).fit(y[:60])
    point, bounds = fc.predict(y, steps=2), fc.predict(y, steps=2, quantiles=(0.1, 0.9))
    p = save_forecast(tmp_path / "f.png", y, point, bounds, (0.1, 0.9), "y")
    assert _png_size(p) == (8 * DPI, 4 * DPI)
    p = save_backtest(tmp_path / "b.png", backtest(fc, y, 60, steps=2), "y")
    assert _png_size(p) == (8 * DPI, 6 * DPI)
    assert sorted(f.name for f in tmp_path.iterdir()) == ["b.png", "f.png"]  # no temporary file left
    with pytest.raises(ValueError, match="must end in .png"):
        save_forecast(tmp_path / "f.pdf", y, point)
