"""The one check every forecasting function makes of the series it is given: numbers, (N,) or
(N, F), covariates beside it, and no gap (``as_table``)."""

from __future__ import annotations

import numpy as np

__all__ = ["as_table"]


def as_table(series, exog=None, name: str = "series") -> np.ndarray:
    """``series`` (N,) or (N, F) with ``exog`` (N, K) beside it, as a finite float64 (N, F + K)."""
    a = np.asarray(series)
    if a.dtype.kind not in "iuf":
        raise ValueError(f"{name} must hold numbers, got dtype {a.dtype}")
    a = a[:, None] if a.ndim == 1 else a
    if a.ndim != 2 or a.shape[1] == 0:
        raise ValueError(f"{name} must be (N,) or (N, F), got shape {np.shape(series)}")
    if exog is not None:
        e = np.asarray(exog)
        if e.dtype.kind not in "iuf":
            raise ValueError(f"exog must hold numbers, got dtype {e.dtype}")
        e = e[:, None] if e.ndim == 1 else e
        if e.ndim != 2 or len(e) != len(a):
            raise ValueError(f"exog must be ({len(a)},) or ({len(a)}, K), one row per step of {name}, got "
                             f"shape {np.shape(exog)}")
        a = np.concatenate([a, e], axis=1)
    bad = np.argwhere(~np.isfinite(a))
    if bad.size:
        raise ValueError(f"{name} holds NaN or infinite values (the first at step {int(bad[0, 0])}); fill "
                         "its gaps first")
    return a.astype(np.float64)
