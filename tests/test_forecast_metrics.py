"""The forecast errors (scratchrnn.forecast.metrics) against their formulas written out here."""

from __future__ import annotations

import math

import numpy as np
import pytest

from scratchrnn.forecast import forecast_errors, mae, mape, mase, rmse


def test_errors_are_the_formulas():
    a, f = [1.0, 2.0, 4.0, 8.0], [2.0, 2.0, 3.0, 10.0]
    d = [abs(x - y) for x, y in zip(a, f, strict=True)]
    assert mae(a, f) == pytest.approx(sum(d) / 4)
    assert rmse(a, f) == pytest.approx(math.sqrt(sum(v * v for v in d) / 4))
    assert mape(a, f) == pytest.approx(100 * sum(v / abs(x) for v, x in zip(d, a, strict=True)) / 4)
    train = [1.0, 3.0, 2.0, 5.0, 4.0, 6.0]
    naive = sum(abs(train[t] - train[t - 2]) for t in range(2, 6)) / 4
    assert mase(a, f, train, season=2) == pytest.approx(mae(a, f) / naive)
    assert forecast_errors(a, f, train) == {"MAE": mae(a, f), "RMSE": rmse(a, f), "MAPE": mape(a, f),
                                            "MASE": mase(a, f, train)}
    assert math.isnan(mape([0.0, 1.0], [1.0, 1.0]))


@pytest.mark.parametrize("call, words", [
    (lambda: mae([1.0], [1.0, 2.0]), "must match"),
    (lambda: rmse([], []), "no forecasts"),
    (lambda: mae([np.nan], [1.0]), "must be finite"),
    (lambda: mase([1.0], [1.0], [2.0, 2.0, 2.0]), "MASE's scale, is 0"),
    (lambda: mase([1.0], [1.0], [1.0, 2.0], season=2), "longer than the season (2)"),
])
def test_bad_input_is_named(call, words):
    with pytest.raises(ValueError) as info:
        call()
    assert words in str(info.value)
