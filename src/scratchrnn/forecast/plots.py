"""Figures of a forecast (the plot extra): the end of the history with the forecast and its
interval (:func:`save_forecast`), and a backtest's errors by origin against the baselines'
(:func:`save_backtest`). Both are written atomically as PNG files (``scratchrnn.figures``)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..figures import new_figure, png_path, save_figure

__all__ = ["HISTORY_SHOWN", "save_backtest", "save_forecast"]

HISTORY_SHOWN = 120  # steps of history drawn before a forecast


def save_forecast(path: str | os.PathLike, history, forecast, bounds=None, levels=None,
                  name: str = "series") -> Path:
    """The last ``HISTORY_SHOWN`` values of ``history`` (N,), then ``forecast`` (steps,) and, with
    ``bounds`` (steps, Q) at ``levels``, the band between the outermost levels."""
    path = png_path(path)
    h = np.asarray(history, np.float64)[-HISTORY_SHOWN:]  # (n,)
    n, steps = len(h), len(forecast)
    fig = new_figure((8.0, 4.0))
    ax = fig.add_subplot()
    ax.plot(np.arange(-n + 1, 1), h, color="C0", label=f"{name} (history)")
    future = np.arange(0, steps + 1)  # the forecast drawn from the last value seen
    ax.plot(future, np.concatenate([[h[-1]], forecast]), color="C1", marker="o", ms=3, label="forecast")
    if bounds is not None:
        lo, hi = bounds[:, 0], bounds[:, -1]
        ax.fill_between(future[1:], lo, hi, color="C1", alpha=0.25,
                        label=f"interval {levels[0]:g} to {levels[-1]:g}")
    ax.axvline(0.5, color="0.6", lw=0.8, ls="--")
    ax.set_xlabel("steps from the last value of the history")
    ax.set_ylabel(name)
    ax.set_title(f"{name}: forecast of {steps} step{'s' if steps != 1 else ''}")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best")
    return save_figure(fig, path)


def save_backtest(path: str | os.PathLike, bt, name: str = "series") -> Path:
    """Top: the actual values of the backtest span with the model's one-step forecasts and
    interval; bottom: each forecaster's mean absolute error over the steps, by origin."""
    path = png_path(path)
    fig = new_figure((8.0, 6.0))
    top, bottom = fig.subplots(2, 1, sharex=True)
    o = bt.origins
    top.plot(o, bt.actual[:, 0], color="k", lw=1.2, label="actual")
    top.plot(o, bt.forecasts["model"][:, 0], color="C1", label="model, 1 step ahead")
    if bt.interval is not None:
        top.fill_between(o, bt.interval[:, 0, 0], bt.interval[:, 0, 1], color="C1", alpha=0.25,
                         label=f"interval {bt.levels[0]:g} to {bt.levels[1]:g}")
    top.set_ylabel(name)
    top.set_title(f"{name}: backtest from {len(o)} origins, {bt.actual.shape[1]} step(s) ahead")
    top.legend(loc="best")
    top.grid(True, alpha=0.3)
    for i, (who, f) in enumerate(bt.forecasts.items()):
        err = np.abs(f - bt.actual).mean(axis=1)  # (n,)
        mine = who == "model"
        bottom.plot(o, err, color="C1" if mine else f"C{(i + 1) % 10}", lw=2 if mine else 1,
                    label=f"{who} (MAE {bt.all_steps[who]['MAE']:.3g})")
    bottom.set_xlabel("origin (row of the series)")
    bottom.set_ylabel("mean absolute error")
    bottom.legend(loc="best", fontsize="small")
    bottom.grid(True, alpha=0.3)
    return save_figure(fig, path)
