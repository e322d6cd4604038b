"""The series check of the forecasting functions (scratchrnn.forecast.tables)."""

from __future__ import annotations

import numpy as np
import pytest

from scratchrnn.forecast.tables import as_table


def test_as_table_puts_exog_beside_the_series_as_float64():
    t = as_table(np.arange(3), exog=np.ones((3, 2)))
    assert t.shape == (3, 3) and t.dtype == np.float64
    np.testing.assert_array_equal(t, [[0, 1, 1], [1, 1, 1], [2, 1, 1]])
    assert as_table(np.ones((4, 2), np.float32)).shape == (4, 2)


@pytest.mark.parametrize("args, words", [
    ((np.array(["a", "b"]),), "series must hold numbers, got dtype <U1"),
    ((np.ones((2, 2, 2)),), "series must be (N,) or (N, F), got shape (2, 2, 2)"),
    ((np.arange(3.0), np.arange(2.0)), "exog must be (3,) or (3, K), one row per step of series"),
    ((np.arange(3.0), np.array(["x"] * 3)), "exog must hold numbers"),
    ((np.array([1.0, 2.0, np.inf]),), "series holds NaN or infinite values (the first at step 2); fill"),
])
def test_bad_series_are_named(args, words):
    with pytest.raises(ValueError) as info:
        as_table(*args)
    assert words in str(info.value)
