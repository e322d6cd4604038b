"""Forecasting series: the statistical baselines every forecaster is judged against, the error
measures of a forecast, the training windows cut from a series and the scaling a forecaster
learns (``baselines``, ``metrics``, ``windows``, ``scaling``)."""

from .baselines import AutoRegression, Persistence, SeasonalNaive, detect_season
from .metrics import forecast_errors, mae, mape, mase, rmse
from .scaling import Scaler
from .windows import count_windows, cut_windows

__all__ = ["AutoRegression", "Persistence", "Scaler", "SeasonalNaive", "count_windows", "cut_windows",
           "detect_season", "forecast_errors", "mae", "mape", "mase", "rmse"]
