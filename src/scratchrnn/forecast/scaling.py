"""The scaling a forecaster learns in ``fit`` and undoes on its forecasts.

``Scaler(transform=None, difference=False)`` on a series y (N,) or (N, F), column by column, in this
order:

1. ``transform``: "log", z = log(y) (every value positive), for series that grow by a factor; or
   "sqrt", z = sqrt(y) (every value >= 0), the variance-stabilising power of counts such as
   sunspot numbers (Box-Cox with lambda 1/2); None: z = y;
2. ``difference``: d_t = z_t - z_{t-1} (one step shorter; the last value before a forecast is the
   anchor that ``inverse`` adds the forecast differences back onto);
3. standardisation: s = (d - mean) / scale, with the mean and standard deviation of ``fit``'s data
   (a constant column keeps scale 1).

``transform`` applies the three, ``inverse`` undoes them on a forecast that continues a history:
``inverse(s_future, history)`` gives the forecast values in the series' own units. The state
(``mean_``, ``scale_``) is a pair of arrays, what a checkpoint stores.
"""

from __future__ import annotations

import numpy as np

from ..checks import check_flag
from .tables import as_table

__all__ = ["TRANSFORMS", "Scaler"]

TRANSFORMS = {"log": (np.log, np.exp, "values <= 0"), "sqrt": (np.sqrt, np.square, "negative values")}


def _table(y, name: str) -> tuple[np.ndarray, bool]:
    """``as_table`` of a non-empty series, and whether it was 1-D (the inverse keeps its shape)."""
    a = as_table(y, name=name)  # (N, F)
    if len(a) == 0:
        raise ValueError(f"{name} must be a non-empty (N,) or (N, F) series, got shape {np.shape(y)}")
    return a, np.ndim(y) == 1


class Scaler:
    """Log or square root, difference and standardise a series, and undo it (module docstring)."""

    def __init__(self, transform: str | None = None, difference: bool = False):
        if transform is not None and (not isinstance(transform, str) or transform not in TRANSFORMS):
            raise ValueError(f"transform must be None or one of {', '.join(map(repr, TRANSFORMS))}, got "
                             f"{transform!r}")
        self.transform_name, self.difference = transform, check_flag("difference", difference)

    def _forward(self, a: np.ndarray, name: str) -> np.ndarray:
        if self.transform_name is None:
            return a
        fn, _, refused = TRANSFORMS[self.transform_name]
        if np.any(a <= 0) if self.transform_name == "log" else np.any(a < 0):
            raise ValueError(f"{name} has {refused}, which transform={self.transform_name!r} cannot take")
        return fn(a)

    def _pre(self, a: np.ndarray, name: str) -> np.ndarray:
        """Steps 1 and 2 on a (N, F)."""
        a = self._forward(a, name)
        if self.difference:
            if len(a) < 2:
                raise ValueError(f"{name} needs two or more steps to be differenced, got {len(a)}")
            a = np.diff(a, axis=0)
        return a

    def fit(self, series):
        a, _ = _table(series, "series")
        d = self._pre(a, "series")
        sd = d.std(axis=0)
        self.mean_ = d.mean(axis=0)
        self.scale_ = np.where(sd > 1e-12 * np.maximum(1.0, np.abs(d).max(axis=0)), sd, 1.0)
        return self

    def _fitted(self) -> None:
        if not hasattr(self, "mean_"):
            raise ValueError("this Scaler is not fitted yet: call fit(series) first")

    def transform(self, series) -> np.ndarray:
        """The scaled series: (N, F) or (N,) as given, one step shorter with ``difference``."""
        self._fitted()
        a, one_d = _table(series, "series")
        s = (self._pre(a, "series") - self.mean_) / self.scale_
        return s[:, 0] if one_d else s

    def inverse(self, scaled, history) -> np.ndarray:
        """Scaled values of the steps after ``history`` (the series, in its own units, that they
        continue) back in the series' units, shaped like ``scaled``."""
        self._fitted()
        s, one_d = _table(scaled, "scaled")
        d = s * self.scale_ + self.mean_
        if self.difference:
            h, _ = _table(history, "history")
            anchor = self._forward(h[-1:], "history")  # (1, F) the level the differences start from
            d = anchor + np.cumsum(d, axis=0)
        if self.transform_name == "sqrt":  # a square root is >= 0: below it, the square would turn back up
            d = np.maximum(d, 0.0)
        out = d if self.transform_name is None else TRANSFORMS[self.transform_name][1](d)
        return out[:, 0] if one_d else out
