"""Forecasting series: the statistical baselines every forecaster is judged against, the error
measures of a forecast and the training windows cut from a series (``baselines``, ``metrics``,
``windows``)."""

from .baselines import AutoRegression, Persistence, SeasonalNaive, detect_season
from .metrics import forecast_errors, mae, mape, mase, rmse
from .windows import count_windows, cut_windows

__all__ = ["AutoRegression", "Persistence", "SeasonalNaive", "count_windows", "cut_windows", "detect_season",
           "forecast_errors", "mae", "mape", "mase", "rmse"]
