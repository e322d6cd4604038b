"""The forecaster's scaling (scratchrnn.forecast.scaling): each step against its formula, and the
inverse giving the series back."""

from __future__ import annotations

import numpy as np
import pytest

from scratchrnn.forecast.scaling import Scaler


@pytest.mark.parametrize("transform", [None, "log", "sqrt"])
@pytest.mark.parametrize("difference", [False, True])
def test_transform_is_the_formulas_and_inverse_gives_the_series_back(transform, difference):
    rng = np.random.default_rng(0)
    y = np.exp(np.cumsum(0.05 * rng.standard_normal((60, 2)), axis=0)) * [10.0, 3.0]  # (60, 2), positive
    fit_part, rest = y[:40], y[40:]
    sc = Scaler(transform=transform, difference=difference).fit(fit_part)
    z = {None: fit_part, "log": np.log(fit_part), "sqrt": np.sqrt(fit_part)}[transform]
    d = np.diff(z, axis=0) if difference else z
    np.testing.assert_allclose(sc.mean_, d.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(sc.scale_, d.std(axis=0), rtol=1e-12)
    np.testing.assert_allclose(sc.transform(fit_part), (d - d.mean(axis=0)) / d.std(axis=0), rtol=1e-12)
    # the scaled future, as a forecaster would produce it, and back
    future = np.concatenate([fit_part[-1:], rest]) if difference else rest
    scaled = sc.transform(future)  # with differences, future[0] is the anchor and drops out
    np.testing.assert_allclose(sc.inverse(scaled, fit_part), rest, rtol=1e-12)


def test_the_square_root_inverts_to_zero_below_zero_so_the_order_of_quantiles_holds():
    sc = Scaler(transform="sqrt").fit(np.array([0.0, 1.0, 4.0, 9.0, 16.0]))
    back = sc.inverse(np.array([-3.0, -2.0, -1.5, -1.0, 0.0]), None)
    assert np.all(np.diff(back) >= 0) and back[0] == 0.0


def test_one_column_series_stay_one_dimensional():
    sc = Scaler(difference=True).fit(np.arange(10.0) ** 2)
    s = sc.transform(np.arange(10.0) ** 2)
    assert s.shape == (9,)
    np.testing.assert_allclose(sc.inverse(s[-3:], np.arange(7.0) ** 2), (np.arange(7, 10.0)) ** 2, rtol=1e-12)
    assert Scaler().fit(np.full(5, 3.0)).scale_[0] == 1.0  # a constant column keeps scale 1


@pytest.mark.parametrize("make, words", [
    (lambda: Scaler(transform="log").fit([1.0, 0.0]), "values <= 0, which transform='log' cannot take"),
    (lambda: Scaler(transform="sqrt").fit([1.0, -1.0]), "negative values, which transform='sqrt'"),
    (lambda: Scaler(transform="sqrt", difference=True).fit([1.0, 2.0]).inverse([0.5], [-4.0]),
     "history has negative values"),
    (lambda: Scaler(difference=True).fit([1.0]), "needs two or more steps"),
    (lambda: Scaler().fit([1.0, np.nan]), "NaN or infinite values"),
    (lambda: Scaler().transform([1.0]), "not fitted yet"),
    (lambda: Scaler(transform="box-cox"), "transform must be None or one of 'log', 'sqrt', got 'box-cox'"),
])
def test_bad_input_is_named(make, words):
    with pytest.raises(ValueError) as info:
        make()
    assert words in str(info.value)
