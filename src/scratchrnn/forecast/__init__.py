"""Forecasting univariate series: the statistical baselines every forecaster is judged against,
and the error measures of a forecast (``baselines``, ``metrics``)."""

from .baselines import AutoRegression, Persistence, SeasonalNaive, detect_season
from .metrics import forecast_errors, mae, mape, mase, rmse

__all__ = ["AutoRegression", "Persistence", "SeasonalNaive", "detect_season", "forecast_errors", "mae",
           "mape", "mase", "rmse"]
