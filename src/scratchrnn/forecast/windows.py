"""Training windows cut from a series: each ``window`` steps of input and the ``horizon`` values of
the target that follow them.

For a series of N steps with F columns (column ``target`` is forecast, every column is input), window
i starts at step ``s = i * stride`` and holds

    x[i] = series[s : s + window, :]                            (window, F)
    y[i] = series[s + window : s + window + horizon, target]    (horizon,)

for every i with ``s + window + horizon <= N``: the last window's targets end at or before the
series' end, and a tail shorter than a stride is left out. ``cut_windows`` gives them time-major, as the
recurrent layers read them: x (window, n, F) and y (n, horizon) (``cut_windows``).
"""

from __future__ import annotations

import numpy as np

from ..checks import check_int, check_size
from .tables import as_table

__all__ = ["count_windows", "cut_windows"]


def count_windows(length: int, window: int, horizon: int, stride: int = 1) -> int:
    """How many windows a series of ``length`` steps gives (module docstring)."""
    length = check_int("length", length, low=0)
    window, horizon = check_size("window", window), check_size("horizon", horizon)
    stride = check_size("stride", stride)
    span = window + horizon
    return 0 if length < span else (length - span) // stride + 1


def cut_windows(series, window: int, horizon: int, stride: int = 1, target: int = 0,
            dtype=np.float32) -> tuple[np.ndarray, np.ndarray]:
    """Every window of ``series`` (N,) or (N, F): x (window, n, F) and y (n, horizon), in ``dtype``."""
    a = as_table(series)  # (N, F)
    N, F = a.shape
    target = check_int("target", target, low=0, high=F - 1)
    n = count_windows(N, window, horizon, stride)
    if n == 0:
        raise ValueError(f"the series has {N} steps, fewer than window + horizon = {window + horizon}: "
                         "no window fits")
    starts = np.arange(n) * stride  # (n,)
    x = a[starts[None, :] + np.arange(window)[:, None]]  # (window, n, F)
    y = a[starts[:, None] + window + np.arange(horizon)[None, :], target]  # (n, horizon)
    return x.astype(dtype), y.astype(dtype)
