"""The statistical baselines a forecaster must beat, with one API: ``fit(series)``, then
``predict(history, steps)`` gives the ``steps`` values after ``history`` (a 1-D series that ends
where the forecast starts; by default the series ``fit`` saw).

* :class:`Persistence`: every future value is the last one seen, ``f_{t+h} = y_t``.
* :class:`SeasonalNaive`: the value one season before, ``f_{t+h} = y_{t+h-m*k}`` with k the
  smallest whole number of seasons that reaches into the history; the season m is given, or
  :func:`detect_season` picks the lag of the highest autocorrelation.
* :class:`AutoRegression`: ``y_t = c + a_1 y_{t-1} + ... + a_p y_{t-p}``, fitted by least squares
  (``numpy.linalg.lstsq`` on the lagged design matrix), forecast recursively (each forecast fed
  back as the newest lag); with ``p=None``, ``fit`` chooses p in 1..``max_p`` by the one-step error
  on the last ``validation`` values of the series, each p fitted on the values before them, and
  then refits the chosen p on the whole series.
"""

from __future__ import annotations

import numpy as np

from ..checks import check_int, check_real, check_size

__all__ = ["AutoRegression", "Persistence", "SeasonalNaive", "detect_season"]


def _series(y, name: str = "series", at_least: int = 1) -> np.ndarray:
    """y as a 1-D float64 series of at least ``at_least`` finite values, else a ValueError."""
    a = np.asarray(y)
    if a.dtype.kind not in "iuf":
        raise ValueError(f"{name} must be a 1-D series of numbers, got dtype {a.dtype}")
    if a.ndim != 1:
        raise ValueError(f"{name} must be a 1-D series, got shape {a.shape}")
    if len(a) < at_least:
        raise ValueError(f"{name} has {len(a)} values; this needs at least {at_least}")
    bad = np.flatnonzero(~np.isfinite(a))
    if bad.size:
        raise ValueError(f"{name} holds NaN or infinite values (the first at index {int(bad[0])})")
    return a.astype(np.float64)


class _Baseline:
    """``fit`` keeps the series; ``predict`` checks its arguments and calls ``_forecast``."""

    min_history = 1

    def fit(self, series):
        self.series_ = _series(series, at_least=self._needs())
        return self

    def _needs(self) -> int:
        return self.min_history

    def predict(self, history=None, steps: int = 1) -> np.ndarray:
        """The ``steps`` values after ``history`` (default: the series of ``fit``), (steps,)."""
        if not hasattr(self, "series_"):
            raise ValueError(f"this {type(self).__name__} is not fitted yet: call fit(series) first")
        steps = check_size("steps", steps)
        h = self.series_ if history is None else _series(history, "history", at_least=self._needs())
        return self._forecast(h, steps)

    def _forecast(self, history: np.ndarray, steps: int) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError


class Persistence(_Baseline):
    """``f_{t+h} = y_t``: the last value, for every step ahead."""

    def _forecast(self, history, steps):
        return np.full(steps, history[-1])


def detect_season(series, max_season: int | None = None) -> int:
    """The season length of ``series``: among the lags in 2..``max_season`` (default: a third of
    the series) past the first one whose autocorrelation is negative, the local maximum of the
    autocorrelation that is highest, on the first differences (a trend, which makes every short lag
    look alike, drops out; a cycle stays). The lags before the first dip only say that neighbours
    are alike, so a slow cycle is not taken for a season of 2. 1 when no such peak is positive."""
    y = np.diff(_series(series, at_least=7))
    hi = len(y) // 3 if max_season is None else check_int("max_season", max_season, low=2, high=len(y) - 2)
    z = y - y.mean()
    denom = float(np.dot(z, z))
    if denom == 0 or hi < 2:
        return 1
    acf = np.array([np.dot(z[lag:], z[:-lag]) / denom for lag in range(1, hi + 2)])  # (hi+1,) lags 1..hi+1
    dips = np.flatnonzero(acf < 0)
    if not dips.size:
        return 1
    peaks = [lag for lag in range(max(2, int(dips[0]) + 2), hi + 1)  # acf[lag - 1] is lag's value
             if acf[lag - 1] > 0 and acf[lag - 1] >= acf[lag - 2] and acf[lag - 1] >= acf[lag]]
    return max(peaks, key=lambda lag: acf[lag - 1]) if peaks else 1


class SeasonalNaive(_Baseline):
    """``f_{t+h}`` = the value a whole number of seasons before ``t+h`` in the history (module
    docstring); ``season=None`` detects it in ``fit`` (:func:`detect_season`)."""

    def __init__(self, season: int | None = None):
        self.season = season

    def fit(self, series):
        y = _series(series, at_least=2)
        self.season_ = detect_season(y) if self.season is None else check_size("season", self.season)
        return super().fit(y)

    def _needs(self) -> int:
        return getattr(self, "season_", 1)

    def _forecast(self, history, steps):
        m = self.season_
        h = np.arange(1, steps + 1)  # (steps,)
        k = (h - 1) // m + 1  # seasons back that land in the history
        return history[len(history) - 1 + h - m * k]


def _lags(y: np.ndarray, p: int) -> tuple[np.ndarray, np.ndarray]:
    """The least-squares problem of AR(p) on y: rows [1, y_{t-1}, ..., y_{t-p}] for t = p..n-1, and y_t."""
    n = len(y)
    design = np.ones((n - p, p + 1))  # (n-p, p+1)
    for j in range(1, p + 1):
        design[:, j] = y[p - j : n - j]
    return design, y[p:]


def _fit_ar(y: np.ndarray, p: int) -> np.ndarray:
    design, target = _lags(y, p)
    coef, *_ = np.linalg.lstsq(design, target, rcond=None)
    return coef  # (p+1,): c, a_1, ..., a_p


def _ar_forecast(coef: np.ndarray, history: np.ndarray, steps: int) -> np.ndarray:
    p = len(coef) - 1
    buf = list(history[-p:]) if p else []
    out = np.empty(steps)
    for i in range(steps):
        out[i] = coef[0] + sum(coef[j] * buf[-j] for j in range(1, p + 1))
        buf.append(out[i])
    return out


class AutoRegression(_Baseline):
    """AR(p) by least squares (module docstring). ``p=None`` chooses p in 1..``max_p`` on the last
    ``validation`` values (a share of the series when below 1)."""

    def __init__(self, p: int | None = None, max_p: int = 12, validation: float = 0.2):
        self.p, self.max_p, self.validation = p, max_p, validation

    def fit(self, series):
        y = _series(series, at_least=3)
        self.validation_errors_ = None  # p -> one-step validation MSE, when p was chosen
        if self.p is not None:
            p = check_int("p", self.p, low=1)
        else:
            max_p = check_size("max_p", self.max_p)
            v = check_real("validation", self.validation, low=0.0, low_open=True)
            n_val = int(round(v * len(y))) if v < 1 else int(v)
            p = self._choose(y, max_p, n_val)
        if len(y) < 2 * p + 1:
            raise ValueError(f"AR({p}) needs a series of at least {2 * p + 1} values, got {len(y)}")
        self.p_, self.coef_ = p, _fit_ar(y, p)
        return super().fit(y)

    def _choose(self, y: np.ndarray, max_p: int, n_val: int) -> int:
        """The p of the lowest one-step mean squared error on the last n_val values."""
        errors = {}
        for p in range(1, max_p + 1):
            start = len(y) - n_val
            if n_val < 1 or start < 2 * p + 1:
                break
            coef = _fit_ar(y[:start], p)
            pred = [_ar_forecast(coef, y[:t], 1)[0] for t in range(start, len(y))]
            errors[p] = float(np.mean((y[start:] - np.array(pred)) ** 2))
        if not errors:
            raise ValueError(f"the series ({len(y)} values) is too short to choose p on its last {n_val}")
        self.validation_errors_ = errors
        return min(errors, key=errors.get)

    def _needs(self) -> int:
        return getattr(self, "p_", 1)

    def _forecast(self, history, steps):
        return _ar_forecast(self.coef_, history, steps)
