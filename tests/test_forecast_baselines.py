"""The forecasting baselines (scratchrnn.forecast.baselines) against plain loops written out here."""

from __future__ import annotations

import numpy as np
import pytest

from scratchrnn.forecast import AutoRegression, Persistence, SeasonalNaive, detect_season


def test_persistence_repeats_the_last_value():
    np.testing.assert_array_equal(Persistence().fit([1.0, 4.0, 2.5]).predict(steps=3), [2.5, 2.5, 2.5])
    np.testing.assert_array_equal(Persistence().fit([1, 2]).predict([7, 9], steps=2), [9.0, 9.0])


@pytest.mark.parametrize("season, steps", [(1, 3), (3, 7), (4, 4), (5, 12)])
def test_seasonal_naive_is_the_value_whole_seasons_back(season, steps):
    y = np.arange(20.0) ** 1.5
    got = SeasonalNaive(season).fit(y).predict(steps=steps)
    n = len(y)
    for h in range(1, steps + 1):
        t = n - 1 + h
        while t >= n:  # step back a season at a time until the history holds it
            t -= season
        assert got[h - 1] == y[t]


def test_a_slow_cycle_is_its_own_season_not_two():
    t = np.arange(200)
    assert detect_season(np.sin(2 * np.pi * t / 30)) == 30  # neighbours alike at lag 2, the cycle at 30
    assert detect_season(np.sin(2 * np.pi * t / 30) + 0.01 * t) == 30
    assert detect_season(np.sin(2 * np.pi * np.arange(60) / 19)) == 19


def test_detect_season_finds_the_period_of_a_seasonal_series():
    t = np.arange(120)
    rng = np.random.default_rng(0)
    assert detect_season(np.sin(2 * np.pi * t / 12) + 0.1 * rng.standard_normal(120)) == 12
    assert detect_season(np.sin(2 * np.pi * t / 7) + 0.01 * t) == 7
    assert SeasonalNaive().fit(np.sin(2 * np.pi * t / 12)).season_ == 12


def test_autoregression_is_least_squares_on_the_lags_and_forecasts_recursively():
    rng = np.random.default_rng(1)
    n = 3000
    y = np.zeros(n)
    for t in range(2, n):  # an AR(2) process
        y[t] = 0.5 + 0.6 * y[t - 1] - 0.3 * y[t - 2] + rng.standard_normal()
    ar = AutoRegression(p=2).fit(y)
    rows = [[1.0, y[t - 1], y[t - 2]] for t in range(2, n)]
    coef, *_ = np.linalg.lstsq(np.array(rows), y[2:], rcond=None)
    np.testing.assert_allclose(ar.coef_, coef, rtol=1e-12)
    np.testing.assert_allclose(ar.coef_, [0.5, 0.6, -0.3], atol=0.05)
    lags, expect = [y[-1], y[-2]], []
    for _ in range(4):
        nxt = coef[0] + coef[1] * lags[0] + coef[2] * lags[1]
        expect.append(nxt)
        lags = [nxt, lags[0]]
    np.testing.assert_allclose(ar.predict(steps=4), expect, rtol=1e-12)


def test_autoregression_chooses_p_on_the_end_of_the_series():
    rng = np.random.default_rng(2)
    y = np.zeros(400)
    for t in range(3, 400):
        y[t] = 0.4 * y[t - 1] + 0.3 * y[t - 3] + 0.1 * rng.standard_normal()
    ar = AutoRegression(max_p=6, validation=0.25).fit(y)
    assert set(ar.validation_errors_) == set(range(1, 7))
    assert ar.p_ == min(ar.validation_errors_, key=ar.validation_errors_.get) and ar.p_ >= 3
    # each p's validation error: fitted on the first 300 values, one step at a time over the last 100
    p = 1
    coef, *_ = np.linalg.lstsq(np.c_[np.ones(299), y[:299]], y[1:300], rcond=None)
    pred = [coef[0] + coef[1] * y[t - 1] for t in range(300, 400)]
    assert ar.validation_errors_[p] == pytest.approx(float(np.mean((y[300:] - pred) ** 2)), rel=1e-10)


@pytest.mark.parametrize("make, words", [
    (lambda: Persistence().predict(), "not fitted yet"),
    (lambda: Persistence().fit([]), "has 0 values"),
    (lambda: Persistence().fit([[1.0, 2.0]]), "must be a 1-D series"),
    (lambda: Persistence().fit([1.0, np.nan]), "NaN or infinite values (the first at index 1)"),
    (lambda: Persistence().fit(["a"]), "must be a 1-D series of numbers"),
    (lambda: Persistence().fit([1.0]).predict(steps=0), "steps must be a positive integer"),
    (lambda: SeasonalNaive(12).fit(np.arange(10.0)), "has 10 values; this needs at least 12"),
    (lambda: AutoRegression(p=5).fit(np.arange(8.0)), "AR(5) needs a series of at least 11 values"),
])
def test_bad_input_is_named(make, words):
    with pytest.raises(ValueError) as info:
        make()
    assert words in str(info.value)
