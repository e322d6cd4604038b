"""Errors of a forecast against what happened: MAE, RMSE, MAPE and MASE.

For forecasts f_i of actual values a_i, i = 1..n:

    MAE  = mean |a_i - f_i|
    RMSE = sqrt(mean (a_i - f_i)^2)
    MAPE = 100 * mean |a_i - f_i| / |a_i|        (percent; undefined when some a_i is 0)
    MASE = MAE / mean_t |y_t - y_{t-m}|          (Hyndman and Koehler's scaled error: the MAE over
                                                  the in-sample MAE of the seasonal naive forecast
                                                  of season m, m = 1 for plain persistence, on the
                                                  training series y)

A MASE below 1 beats the in-sample naive forecast. Every function takes array-likes of one shape.
"""

from __future__ import annotations

import numpy as np

from ..checks import check_size

__all__ = ["forecast_errors", "mae", "mape", "mase", "rmse"]


def _pair(actual, forecast) -> tuple[np.ndarray, np.ndarray]:
    a, f = np.asarray(actual, dtype=np.float64), np.asarray(forecast, dtype=np.float64)
    if a.shape != f.shape:
        raise ValueError(f"actual values have shape {a.shape}, forecasts {f.shape}; they must match")
    if a.size == 0:
        raise ValueError("there are no forecasts to score")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(f))):
        raise ValueError("actual values and forecasts must be finite")
    return a, f


def mae(actual, forecast) -> float:
    """Mean absolute error."""
    a, f = _pair(actual, forecast)
    return float(np.mean(np.abs(a - f)))


def rmse(actual, forecast) -> float:
    """Root mean squared error."""
    a, f = _pair(actual, forecast)
    return float(np.sqrt(np.mean((a - f) ** 2)))


def mape(actual, forecast) -> float:
    """Mean absolute percentage error, in percent; NaN when an actual value is 0 (it is undefined)."""
    a, f = _pair(actual, forecast)
    if np.any(a == 0):
        return float("nan")
    return float(100.0 * np.mean(np.abs(a - f) / np.abs(a)))


def mase(actual, forecast, train, season: int = 1) -> float:
    """Mean absolute scaled error: the MAE over the in-sample MAE of the seasonal naive forecast of
    ``season`` on ``train`` (the series the forecaster was fitted on)."""
    season = check_size("season", season)
    y = np.asarray(train, dtype=np.float64)
    if y.ndim != 1 or len(y) <= season:
        raise ValueError(f"train must be a 1-D series longer than the season ({season}), got shape {y.shape}")
    scale = float(np.mean(np.abs(y[season:] - y[:-season])))
    if scale == 0:
        raise ValueError("train is constant over every season: the naive forecast's error, MASE's scale, "
                         "is 0")
    return mae(actual, forecast) / scale


def forecast_errors(actual, forecast, train, season: int = 1) -> dict[str, float]:
    """All four: {"MAE", "RMSE", "MAPE", "MASE"}."""
    return {"MAE": mae(actual, forecast), "RMSE": rmse(actual, forecast), "MAPE": mape(actual, forecast),
            "MASE": mase(actual, forecast, train, season)}
