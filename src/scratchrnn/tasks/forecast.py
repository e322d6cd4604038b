"""Forecasting two real series on a held-out end, against the statistical baselines.

Data (``scratchrnn.data.load_series``; sources in ``data/SOURCES.md``): the Mauna Loa CO2 record,
its weekly means averaged to 526 monthly means (1958-03 to 2001-12), a trend with a yearly
cycle; and the yearly sunspot number (309 years, 1700-2008), noisy cycles of about eleven years.
The last ``HELD_OUT`` values of each (48 months, 40 years) are never used in fitting or in choosing
anything: a :class:`~scratchrnn.forecast.Forecaster` is fitted on the rest (its validation span
and early stopping inside it), then :func:`~scratchrnn.forecast.backtest` forecasts the held-out
span from every origin in it, against persistence, seasonal naive (season detected) and AR(p)
(p chosen on the end of the fitting span), one step ahead and over the horizon.

The settings of ``SETTINGS`` were chosen on the span just before the held-out one (the fitting
span's own last 48 and 40 values, with 3 seeds), by the sum of the one-step and the horizon's MAE,
from recursive and direct forecasters, weight decay 0 to 0.01, 32 or 64 hidden units, with and
without the square root; the held-out span did not take part. The task passes when, on every series
run, the model's MAE and RMSE beat every baseline's at one step and over the horizon, and the
80% interval's coverage lies in [0.7, 0.9].
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..checks import check_dtype, check_int, check_size
from ..data.series import load_series, monthly_means
from ..forecast import Forecaster, backtest
from ..nn.model import check_cell
from .base import TaskResult

__all__ = ["COVERAGE", "HELD_OUT", "SERIES", "SETTINGS", "Config", "load", "run"]

SERIES = ("co2", "sunspots")
HELD_OUT = {"co2": 48, "sunspots": 40}  # values at each series' end, for the backtest only
SETTINGS = {  # Forecaster arguments per series (module docstring)
    "co2": {"window": 48, "horizon": 12, "strategy": "recursive", "difference": True, "patience": 100,
            "epochs": 400},
    "sunspots": {"window": 24, "horizon": 5, "strategy": "recursive", "transform": "sqrt",
                 "weight_decay": 0.003, "patience": 50, "epochs": 200},
}
COVERAGE = (0.7, 0.9)  # where the nominal 80% interval's coverage must land


@dataclass
class Config:
    """The forecast task's settings; ``quick()`` (the demo's) runs the sunspots only.

    Attributes:
        series (str, default "both"): "co2", "sunspots" or "both".
        cell (str, default "gru"): the recurrent cell.
        hidden_size (int, default 64): hidden units.
        epochs (int or None, default None): at most this many epochs; None: the series' own (SETTINGS).
        seed (int, default 0): the forecaster's random_state.
        dtype (str, default "float32"): "float32" or "float64".
    """

    series: str = "both"
    cell: str = "gru"
    hidden_size: int = 64
    epochs: int | None = None
    seed: int = 0
    dtype: str = "float32"

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the first bad field."""
        if self.series not in (*SERIES, "both"):
            raise ValueError(f"series must be one of {', '.join(map(repr, (*SERIES, 'both')))}, got "
                             f"{self.series!r}")
        self.cell = check_cell(self.cell)
        self.hidden_size = check_size("hidden_size", self.hidden_size)
        self.epochs = None if self.epochs is None else check_size("epochs", self.epochs)
        self.seed = check_int("seed", self.seed, low=0)
        self.dtype = check_dtype(self.dtype).name

    @classmethod
    def quick(cls) -> Config:
        return cls(series="sunspots")


def load(name: str) -> tuple[np.ndarray, np.ndarray]:
    """The task's form of a shipped series as (times, values): CO2 as monthly means."""
    times, values = load_series(name)
    return monthly_means(times, values) if name == "co2" else (times, values)


def run(cfg: Config | None = None, progress: bool = False) -> TaskResult:
    cfg = cfg or Config()
    t0 = time.perf_counter()
    names = SERIES if cfg.series == "both" else (cfg.series,)
    metrics, curves, words, passed = {}, {}, [], True
    for name in names:
        _, y = load(name)
        start = len(y) - HELD_OUT[name]
        settings = dict(SETTINGS[name])
        if cfg.epochs is not None:
            settings["epochs"] = cfg.epochs
        t1 = time.perf_counter()
        fc = Forecaster(cell=cfg.cell, hidden_size=cfg.hidden_size, random_state=cfg.seed, dtype=cfg.dtype,
                        verbose=progress, **settings).fit(y[:start])
        fit_seconds = time.perf_counter() - t1
        bt = backtest(fc, y, start, steps=fc.horizon)
        ok = bt.beats_baselines() and COVERAGE[0] <= bt.coverage <= COVERAGE[1]
        passed &= ok
        for span, table in (("1-step", bt.one_step), (f"{fc.horizon}-step", bt.all_steps)):
            for who, errs in table.items():
                for m in ("MAE", "RMSE"):
                    metrics[f"{name} {span} {m}: {who}"] = errs[m]
        metrics[f"{name} coverage"] = bt.coverage
        metrics[f"{name} fit_seconds"] = fit_seconds
        # the curves of the last series' point model
        curves = {"loss": fc.history_.losses, "val_loss": fc.history_.val_losses}
        best = min((v for k, v in bt.all_steps.items() if k != "model"), key=lambda e: e["MAE"])
        words.append(f"{name}: {fc.horizon}-step MAE {bt.all_steps['model']['MAE']:.3g} against the best "
                     f"baseline's {best['MAE']:.3g}, 1-step {bt.one_step['model']['MAE']:.3g}, 80% "
                     f"coverage {bt.coverage:.2f} ({fit_seconds:.0f} s)")
    return TaskResult(
        name="forecast",
        tutorial="the sine-wave tutorial forecasts a synthetic sine and compares with no baseline",
        ours="; ".join(words),
        target="MAE and RMSE below persistence, seasonal naive and AR(p) at 1 step and over the horizon; "
               f"80% coverage in [{COVERAGE[0]}, {COVERAGE[1]}]",
        passed=bool(passed),
        seconds=time.perf_counter() - t0,
        metrics=metrics,
        curves=curves,
    )
