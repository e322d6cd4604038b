"""Training windows (scratchrnn.forecast.windows) against a plain loop, on hypothesis-drawn sizes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scratchrnn.forecast.windows import count_windows, cut_windows


@settings(max_examples=60, deadline=None)
@given(N=st.integers(2, 40), F=st.integers(1, 3), window=st.integers(1, 10), horizon=st.integers(1, 6),
       stride=st.integers(1, 5), data=st.data())
def test_windows_are_the_plain_loop(N, F, window, horizon, stride, data):
    target = data.draw(st.integers(0, F - 1))
    series = np.arange(N * F, dtype=np.float64).reshape(N, F) ** 1.3  # every entry distinct
    xs, ys, s = [], [], 0
    while s + window + horizon <= N:
        xs.append(series[s : s + window])
        ys.append(series[s + window : s + window + horizon, target])
        s += stride
    assert count_windows(N, window, horizon, stride) == len(xs)
    if not xs:
        with pytest.raises(ValueError, match="no window fits"):
            cut_windows(series, window, horizon, stride, target)
        return
    x, y = cut_windows(series, window, horizon, stride, target, dtype=np.float64)
    np.testing.assert_array_equal(x, np.stack(xs, axis=1))  # (window, n, F)
    np.testing.assert_array_equal(y, np.stack(ys))  # (n, horizon)


def test_a_1d_series_is_one_column_and_bad_input_is_named():
    x, y = cut_windows(np.arange(6.0), window=2, horizon=1)
    assert x.shape == (2, 4, 1) and x.dtype == np.float32 and list(y[:, 0]) == [2, 3, 4, 5]
    with pytest.raises(ValueError, match=r"NaN or infinite values \(the first at step 1\); fill its gaps"):
        cut_windows([1.0, np.nan, 3.0], 1, 1)
    with pytest.raises(ValueError, match=r"must be \(N,\) or \(N, F\)"):
        cut_windows(np.zeros((2, 2, 2)), 1, 1)
    with pytest.raises(ValueError, match="horizon must be a positive integer, got 0"):
        cut_windows(np.arange(5.0), 2, 0)
    with pytest.raises(ValueError, match=r"target must be an integer in \[0, 0\], got 1"):
        cut_windows(np.arange(5.0), 2, 1, target=1)
