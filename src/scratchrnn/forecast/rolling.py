"""Rolling-origin backtests: a fitted forecaster and the baselines, side by side, on a span the
forecaster never saw.

``backtest(forecaster, series, start, steps=1)``: the forecaster was fitted on ``series[:start]``
(at most: a forecaster fitted past ``start``, or on steps that are not the series' first ones,
is refused, so the held-out span stays held out). The baselines (persistence,
seasonal naive with the season detected, AR(p) with p chosen on the end of the fitting span,
:mod:`~scratchrnn.forecast.baselines`) are fitted on the same ``series[:start]``. Then at every
origin t = start, start+1, ..., N - steps each of them forecasts ``steps`` values from the history
``series[:t]``, and the forecasts are scored against ``series[t : t+steps]``: MAE, RMSE, MAPE and
MASE (:mod:`~scratchrnn.forecast.metrics`, MASE scaled by the in-sample naive error of
``series[:start]``) at the first step and over all ``steps``. With quantiles, the share of actual
values inside the forecaster's ``interval`` (default 0.1 to 0.9, nominal 80%) is the coverage.
The model is not refitted at the origins: each forecast reads the history up to its origin.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..checks import check_int, check_size
from ..losses import check_quantiles
from .baselines import AutoRegression, Persistence, SeasonalNaive
from .forecaster import Forecaster
from .metrics import forecast_errors
from .tables import as_table

__all__ = ["Backtest", "backtest", "default_baselines"]

MODEL = "model"  # the forecaster's name in a backtest's tables
AR_SEASONS = 2  # the AR baseline may reach back two seasons (or 12 steps, whichever is more)


@dataclass
class Backtest:
    """The outcome of :func:`backtest`.

    Attributes:
        origins (ndarray (n,)): the step each forecast starts at.
        actual (ndarray (n, steps)): what happened after each origin.
        forecasts (dict name -> ndarray (n, steps)): the model's ("model") and each baseline's.
        one_step (dict name -> metrics): MAE, RMSE, MAPE, MASE of the first step's forecasts.
        all_steps (dict name -> metrics): the same over every step of every forecast.
        interval (ndarray (n, steps, 2) or None, default None): the model's interval, where it has
            quantiles.
        coverage (float or None, default None): the share of actual values inside it.
        levels (tuple, default (0.1, 0.9)): the interval's two quantile levels.
        settings (dict, default {}): the baselines' fitted season and p.
    """

    origins: np.ndarray
    actual: np.ndarray
    forecasts: dict[str, np.ndarray]
    one_step: dict[str, dict[str, float]]
    all_steps: dict[str, dict[str, float]]
    interval: np.ndarray | None = None
    coverage: float | None = None
    levels: tuple = (0.1, 0.9)
    settings: dict = field(default_factory=dict)

    def beats_baselines(self, metrics=("MAE", "RMSE")) -> bool:
        """Whether the model's errors are below every baseline's, at the first step and over all."""
        return all(table[MODEL][m] < table[name][m] for table in (self.one_step, self.all_steps)
                   for name in table if name != MODEL for m in metrics)

    def table(self) -> str:
        """The metric table as aligned text, one row per forecaster."""
        steps = self.actual.shape[1]
        cols = ["MAE", "RMSE", "MAPE", "MASE"]
        head = f"{'':22s}" + "".join(f"{'1-step ' + c:>13s}" for c in cols)
        if steps > 1:
            head += "".join(f"{f'{steps}-step ' + c:>14s}" for c in cols)
        lines = [head]
        for name in self.forecasts:
            row = f"{name:22s}" + "".join(f"{self.one_step[name][c]:13.4g}" for c in cols)
            if steps > 1:
                row += "".join(f"{self.all_steps[name][c]:14.4g}" for c in cols)
            lines.append(row)
        if self.coverage is not None:
            lo, hi = self.levels
            lines.append(f"coverage of the model's {hi - lo:.0%} interval ({lo:g} to {hi:g}): "
                         f"{self.coverage:.3f} over {self.actual.size} values")
        return "\n".join(lines)


def default_baselines(train: np.ndarray) -> dict[str, object]:
    """Persistence, seasonal naive and AR(p), fitted on the 1-D ``train`` (module docstring)."""
    naive = SeasonalNaive().fit(train)
    max_p = max(12, AR_SEASONS * naive.season_)
    max_p = min(max_p, max(1, (len(train) - 1) // 4))  # room to choose p on the series' end
    return {"persistence": Persistence().fit(train), f"seasonal naive (m={naive.season_})": naive,
            "AR(p)": AutoRegression(max_p=max_p).fit(train)}


def backtest(forecaster: Forecaster, series, start: int, steps: int = 1, exog=None,
             interval=(0.1, 0.9)) -> Backtest:
    """Rolling-origin forecasts from ``start`` on, scored for the model and the baselines (module
    docstring)."""
    if not hasattr(forecaster, "model_"):
        raise ValueError("the forecaster is not fitted yet: fit it on the series before start first")
    interval = check_quantiles(interval, "interval")
    if len(interval) != 2:
        raise ValueError(f"interval must be two quantile levels (low, high), got {interval}")
    table = as_table(series, exog)
    N = len(table)
    steps = check_size("steps", steps)
    start = check_int("start", start, low=1, high=N - steps)
    fitted = len(forecaster.series_)
    if fitted > start:
        raise ValueError(f"the forecaster was fitted on {fitted} steps, past start={start}: the backtest "
                         "would score it on values it was fitted on")
    seen = forecaster.series_  # (fitted, F)
    same_start = table.shape[1] == seen.shape[1] and np.array_equal(table[:fitted], seen)
    if not same_start:
        raise ValueError(f"the series does not begin with the {fitted} steps the forecaster was fitted on: "
                         "a backtest scores a forecaster on the steps after its own")
    target = table[:, forecaster.target]  # (N,)
    train = target[:start]
    base = default_baselines(train)
    origins = np.arange(start, N - steps + 1)  # (n,)
    actual = np.stack([target[t : t + steps] for t in origins])  # (n, steps)
    histories = [table[:t] for t in origins]  # n tables (t, F)
    forecasts = {MODEL: forecaster.forecast_from(histories, steps)}  # name -> (n, steps)
    for name, b in base.items():
        forecasts[name] = np.stack([b.predict(target[:t], steps) for t in origins])
    one = {k: forecast_errors(actual[:, 0], f[:, 0], train) for k, f in forecasts.items()}
    every = {k: forecast_errors(actual, f, train) for k, f in forecasts.items()}
    bounds = coverage = None
    if forecaster.quantile_model_ is not None and steps <= forecaster.horizon:
        bounds = forecaster.quantiles_from(histories, steps, interval)  # (n, steps, 2)
        coverage = float(np.mean((actual >= bounds[..., 0]) & (actual <= bounds[..., -1])))
    settings = {"season": base[next(k for k in base if k.startswith("seasonal"))].season_,
                "ar_p": base["AR(p)"].p_}
    return Backtest(origins, actual, forecasts, one, every, bounds, coverage, interval, settings)
