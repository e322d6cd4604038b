"""Rolling-origin backtests (scratchrnn.forecast.rolling) against a plain loop over the origins."""

from __future__ import annotations

import numpy as np
import pytest

from scratchrnn.forecast import (
    AutoRegression,
    Forecaster,
    Persistence,
    SeasonalNaive,
    backtest,
    forecast_errors,
)
from scratchrnn.forecast.rolling import default_baselines


def _series(n=90):
    t = np.arange(n)
    return 5 + np.sin(2 * np.pi * t / 12) + 0.1 * np.random.default_rng(3).standard_normal(n)


@pytest.fixture(scope="module")
def fitted():
    y = _series()
    return y, Forecaster(window=6, horizon=3, hidden_size=8, epochs=3, patience=None, random_state=0,
                           dtype="float64").fit(y[:70])


def test_every_origin_is_forecast_from_its_own_history_and_scored(fitted):
    y, fc = fitted
    bt = backtest(fc, y, 70, steps=3)
    np.testing.assert_array_equal(bt.origins, np.arange(70, 88))
    for i, t in enumerate(bt.origins):  # the plain loop
        np.testing.assert_array_equal(bt.actual[i], y[t : t + 3])
        np.testing.assert_allclose(bt.forecasts["model"][i], fc.predict(y[:t], steps=3), rtol=1e-10)
        band = fc.predict(y[:t], steps=3, quantiles=(0.1, 0.9))
        np.testing.assert_allclose(bt.interval[i], band, rtol=1e-10)
    base = {"persistence": Persistence().fit(y[:70]), "seasonal naive": SeasonalNaive().fit(y[:70]),
            "AR(p)": AutoRegression(max_p=max(12, 2 * SeasonalNaive().fit(y[:70]).season_)).fit(y[:70])}
    names = [k for k in bt.forecasts if k != "model"]
    assert names[0] == "persistence" and names[1].startswith("seasonal naive (m=") and names[2] == "AR(p)"
    for name, b in zip(names, base.values(), strict=True):
        want = np.stack([b.predict(y[:t], 3) for t in bt.origins])
        np.testing.assert_allclose(bt.forecasts[name], want, rtol=1e-12)
        assert bt.all_steps[name] == forecast_errors(bt.actual, want, y[:70])
        assert bt.one_step[name] == forecast_errors(bt.actual[:, 0], want[:, 0], y[:70])
    inside = (bt.actual >= bt.interval[..., 0]) & (bt.actual <= bt.interval[..., 1])
    assert bt.coverage == pytest.approx(inside.mean())
    assert bt.beats_baselines() == all(
        bt.one_step["model"][m] < bt.one_step[k][m] and bt.all_steps["model"][m] < bt.all_steps[k][m]
        for k in names for m in ("MAE", "RMSE"))
    text = bt.table()
    assert all(name in text for name in bt.forecasts) and "3-step MASE" in text and "coverage" in text


def test_the_held_out_span_must_be_after_the_fitted_one(fitted):
    y, fc = fitted
    with pytest.raises(ValueError, match="fitted on 70 steps, past start=60"):
        backtest(fc, y, 60)
    with pytest.raises(ValueError, match="start"):
        backtest(fc, y, 89, steps=3)
    with pytest.raises(ValueError, match="does not begin with the 70 steps the forecaster was fitted on"):
        backtest(fc, y[1:], 75)  # the same length fitted, but not the start of this series
    with pytest.raises(ValueError, match="two quantile levels"):
        backtest(fc, y, 70, interval=(0.1, 0.5, 0.9))


def test_the_default_baselines_reach_two_seasons_back():
    y = _series(200)
    base = default_baselines(y)
    naive = next(b for k, b in base.items() if k.startswith("seasonal"))
    assert naive.season_ == 12 and base["AR(p)"].max_p == 24
