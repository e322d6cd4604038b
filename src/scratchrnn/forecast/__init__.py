"""Forecasting series: the recurrent :class:`Forecaster`, the statistical baselines every
forecaster is judged against, rolling-origin backtests, the error measures of a forecast, the
training windows cut from a series and the scaling a forecaster learns (``forecaster``,
``baselines``, ``rolling``, ``metrics``, ``windows``, ``scaling``, ``tables``)."""

from .baselines import AutoRegression, Persistence, SeasonalNaive, detect_season
from .forecaster import STRATEGIES, Forecaster
from .metrics import forecast_errors, mae, mape, mase, rmse
from .rolling import Backtest, backtest, default_baselines
from .scaling import TRANSFORMS, Scaler
from .tables import as_table
from .windows import count_windows, cut_windows

__all__ = ["STRATEGIES", "TRANSFORMS", "AutoRegression", "Backtest", "Forecaster", "Persistence", "Scaler",
           "SeasonalNaive", "as_table", "backtest",
           "count_windows", "cut_windows", "default_baselines", "detect_season", "forecast_errors", "mae",
           "mape", "mase", "rmse"]
