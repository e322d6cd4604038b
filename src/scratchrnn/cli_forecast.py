"""``scratchrnn forecast``: a CSV series in, a forecaster, its forecasts with intervals and its
backtest against the baselines out.

* ``train FILE.csv --column NAME [--time-column T] [--covariates A,B] [--fill previous|linear]
  --window W --horizon H ...``: fits a :class:`~scratchrnn.forecast.Forecaster` on the column (the
  covariates beside it), leaving out the last ``--held-out`` rows, and writes ``model.npz`` and
  ``history.json`` into a new run folder. The model remembers the column names.
* ``predict MODEL FILE.csv --steps N``: the N values after the file's last row, with the model's
  quantiles, as a CSV (``step,forecast,q0.1,...``) to stdout or ``--output``; ``--plot PNG`` draws
  the history's end and the forecast with its interval.
* ``backtest MODEL FILE.csv``: forecasts from every origin after the rows the model was fitted on
  (``--start`` to begin elsewhere, never inside them), prints the table of the model against
  persistence, seasonal naive and AR(p), and the interval's coverage; ``--plot PNG`` draws the
  errors by origin.

Errors are one line and exit status 2 (``scratchrnn.cli``); files are written atomically and a
failed ``train`` removes what it made.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from .cli_args import non_negative_float, non_negative_int, positive_float, positive_int, size
from .cli_io import output_file, print_or_write, writing
from .runs import run_folder

__all__ = ["add_commands", "read_columns"]


def read_columns(path: str, column: str, covariates: list[str], time_column: str | None, fill: str | None):
    """(times, table (N, 1 + K)): the column, then the covariates, of the CSV file."""
    from .data.series import read_series

    if column in covariates:
        raise ValueError(f"--covariates names the forecast column {column!r}; it is the target already")
    times, target = read_series(path, column, time_column, fill)
    cols = [target]
    for name in covariates:
        cols.append(read_series(path, name, time_column, fill)[1])
    return times, np.stack(cols, axis=1)


def _covariates(text: str | None) -> list[str]:
    names = [] if not text else [n.strip() for n in text.split(",")]
    if any(not n for n in names):
        raise ValueError(f"--covariates must be column names separated by commas, got {text!r}")
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"--covariates names {', '.join(map(repr, twice))} more than once")
    return names


def _cmd_train(args: argparse.Namespace) -> int:
    from .forecast import Forecaster

    covariates = _covariates(args.covariates)
    _, table = read_columns(args.file, args.column, covariates, args.time_column, args.fill)
    if args.held_out >= len(table):
        raise ValueError(f"--held-out {args.held_out} leaves nothing to fit: {args.file} has {len(table)} "
                         "rows")
    fit_rows = table[: len(table) - args.held_out]
    need = args.window + args.horizon + int(args.difference)
    if args.held_out and len(fit_rows) < need:
        extra = " + 1 (--difference)" if args.difference else ""
        raise ValueError(f"--held-out {args.held_out} leaves {len(fit_rows)} of the {len(table)} rows to "
                         f"fit, fewer than --window + --horizon{extra} = {need}")
    quantiles = None if args.no_intervals else (0.1, 0.5, 0.9)
    fc = Forecaster(window=args.window, horizon=args.horizon, strategy=args.strategy, cell=args.cell,
                    hidden_size=args.hidden_size, transform=args.transform, difference=args.difference,
                    quantiles=quantiles, stride=args.stride, epochs=args.epochs, lr=args.lr,
                    weight_decay=args.weight_decay, patience=args.patience, random_state=args.seed,
                    verbose=not args.no_progress)
    meta = {"column": args.column, "covariates": covariates, "time_column": args.time_column}
    with run_folder(args.out, "forecast") as folder:
        t0 = time.perf_counter()
        fc.fit(fit_rows)
        seconds = time.perf_counter() - t0
        model_path = folder.claim("model.npz")
        with writing(model_path):
            fc.save(model_path, meta=meta)
        hist = fc.history_
        with output_file(folder.claim("history.json")) as f:
            record = {"steps": hist.steps, "evals": hist.evals, "restored": hist.restored, "seconds": seconds}
            json.dump(record, f, indent=1)
    print(f"trained on {len(fit_rows)} rows of {args.file} ({args.held_out} held out) in {seconds:.1f} s, "
          f"{hist.steps[-1]['epoch'] + 1} epochs")
    print(f"wrote {model_path} and {folder.path / 'history.json'}")
    return 0


def _load(path: str):
    from pathlib import Path

    from .forecast import Forecaster

    if not Path(path).is_file():
        raise ValueError(f"no such model file: {path!r}" if not Path(path).exists() else
                         f"{path!r} is not a model file (a folder?)")
    fc = Forecaster.load(path)
    if "column" not in fc.meta_:
        raise ValueError(f"{path!r} is a Forecaster saved from Python without column names; the command "
                         "line reads models written by 'scratchrnn forecast train'")
    return fc


def _history(fc, args):
    meta = fc.meta_
    fill = getattr(args, "fill", None)
    return read_columns(args.file, meta["column"], meta["covariates"], meta["time_column"], fill)


def _cmd_predict(args: argparse.Namespace) -> int:
    fc = _load(args.model)
    times, table = _history(fc, args)
    steps = fc.horizon if args.steps is None else args.steps
    point = fc.predict(table, steps=steps)  # (steps,)
    levels = None if fc.quantile_model_ is None or steps > fc.horizon else fc.quantiles
    bounds = None if levels is None else fc.predict(table, steps=steps, quantiles=levels)  # (steps, Q)
    header = ["step", "forecast"] + ([] if levels is None else [f"q{q:g}" for q in levels])
    lines = [",".join(header)]
    for i in range(steps):
        row = [str(i + 1), f"{point[i]:.6g}"] + ([] if bounds is None else [f"{v:.6g}" for v in bounds[i]])
        lines.append(",".join(row))
    text = "\n".join(lines) + "\n"
    if fc.quantile_model_ is not None and levels is None:
        print(f"no intervals: they reach as far as the horizon ({fc.horizon} steps), --steps is {steps}",
              file=sys.stderr)
    if not args.plot:
        print_or_write(text, args.output)
        return 0
    from .forecast.plots import save_forecast

    plot = save_forecast(args.plot, table[:, 0], point, bounds, levels, fc.meta_["column"])
    try:
        print_or_write(text, args.output)
    except BaseException:  # the command failed: its figure goes too
        plot.unlink(missing_ok=True)
        raise
    return 0


def _cmd_backtest(args: argparse.Namespace) -> int:
    from .forecast import backtest

    fc = _load(args.model)
    _, table = _history(fc, args)
    start = len(fc.series_) if args.start is None else args.start
    steps = fc.horizon if args.steps is None else args.steps
    if start + steps > len(table):
        raise ValueError(f"{args.file} has {len(table)} rows; a backtest from row {start} of {steps} step(s) "
                         f"needs at least {start + steps}")
    bt = backtest(fc, table, start, steps=steps)
    if args.plot:
        from .forecast.plots import save_backtest

        save_backtest(args.plot, bt, fc.meta_["column"])
    print(f"backtest of {args.model} on {args.file}: {len(bt.origins)} origins from row {start}, "
          f"{steps} step(s) ahead; seasonal naive season {bt.settings['season']}, AR p {bt.settings['ar_p']}")
    print(bt.table())
    return 0


def add_commands(sub) -> None:
    """The forecast command (train, predict, backtest), added to ``sub``."""
    p = sub.add_parser(
        "forecast", help="train a forecaster on a CSV series, forecast with intervals, backtest it",
        description="Forecast a column of a CSV file (a header row, then one row per time step) with a "
        "recurrent network, and judge it against persistence, seasonal naive and AR(p) forecasts.",
        epilog="examples:\n  scratchrnn forecast train sales.csv --column sales --window 24 --horizon 6 "
               "--held-out 36 --out runs/f\n"
               "  scratchrnn forecast backtest runs/f/model.npz sales.csv\n"
               "  scratchrnn forecast predict runs/f/model.npz sales.csv --steps 6 -o next.csv",
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", help="train, predict or backtest")
    actions.required = True
    fills = ("previous", "linear")
    t = actions.add_parser("train", help="fit a forecaster; writes model.npz and history.json",
                           description="Fit a forecaster on a column of FILE (all rows but the last "
                           "--held-out) and write model.npz and history.json into a new run folder.")
    t.add_argument("file", metavar="FILE", help="a CSV file with a header row")
    t.add_argument("--column", required=True, metavar="NAME", help="the column to forecast")
    t.add_argument("--time-column", metavar="NAME", help="a column of times that must increase")
    t.add_argument("--covariates", metavar="A,B", help="other columns the model reads (not forecast)")
    t.add_argument("--fill", choices=fills, help="what an empty or NaN cell becomes (default: an error)")
    t.add_argument("--window", type=positive_int, default=24, metavar="W", help="input steps per forecast")
    t.add_argument("--horizon", type=positive_int, default=1, metavar="H", help="steps forecast at once")
    t.add_argument("--held-out", type=non_negative_int, default=0, metavar="N",
                   help="leave the last N rows out of the fit, for a backtest")
    t.add_argument("--strategy", choices=("direct", "recursive"), default="direct",
                   help="all H steps at once, or one step fed back H times")
    t.add_argument("--transform", choices=("log", "sqrt"), help="of the column, before differencing")
    t.add_argument("--difference", action="store_true", help="model the changes (a trending series)")
    t.add_argument("--no-intervals", action="store_true", help="no quantile model (faster; no intervals)")
    t.add_argument("--cell", choices=("rnn", "lstm", "gru"), default="gru", help="recurrent cell")
    t.add_argument("--hidden-size", type=size, default=64, metavar="N", help="hidden units")
    t.add_argument("--stride", type=positive_int, default=1, metavar="N", help="steps between windows")
    t.add_argument("--epochs", type=positive_int, default=200, metavar="N", help="at most this many epochs")
    t.add_argument("--lr", type=positive_float, default=0.003, help="Adam's learning rate")
    t.add_argument("--weight-decay", type=non_negative_float, default=0.0, help="Adam's L2 penalty")
    t.add_argument("--patience", type=positive_int, default=50, metavar="N",
                   help="epochs without a better validation loss before stopping")
    t.add_argument("--seed", type=non_negative_int, default=0, metavar="N", help="random seed")
    t.add_argument("--out", metavar="FOLDER", help="output folder (default: a new runs/forecast-TIME)")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    t.set_defaults(func=_cmd_train)
    q = actions.add_parser("predict", help="forecast the steps after a file's last row",
                           description="Write the forecasts of the STEPS values after the last row of FILE "
                           "(the columns the model was trained on) as CSV, with the quantiles when the model "
                           "has them.")
    q.add_argument("model", metavar="MODEL", help="a model.npz written by 'forecast train'")
    q.add_argument("file", metavar="FILE", help="a CSV file: the history the forecast continues")
    q.add_argument("--steps", type=positive_int, metavar="N", help="steps to forecast (default: the horizon)")
    q.add_argument("--fill", choices=fills, help="what an empty or NaN cell becomes (default: an error)")
    q.add_argument("-o", "--output", metavar="FILE", help="write there (atomically) instead of stdout")
    q.add_argument("--plot", metavar="PNG", help="also draw the history and the forecast (matplotlib)")
    q.set_defaults(func=_cmd_predict)
    b = actions.add_parser("backtest", help="score rolling-origin forecasts against the baselines",
                           description="Forecast from every origin after the rows the model was fitted on "
                           "and print MAE, RMSE, MAPE and MASE of the model and the baselines.")
    b.add_argument("model", metavar="MODEL", help="a model.npz written by 'forecast train'")
    b.add_argument("file", metavar="FILE",
                   help="the CSV file the model was trained on, held-out rows included")
    b.add_argument("--start", type=positive_int, metavar="ROW",
                   help="the first origin (default: the row after the fitted ones)")
    b.add_argument("--steps", type=positive_int, metavar="N", help="steps ahead (default: the horizon)")
    b.add_argument("--fill", choices=fills, help="what an empty or NaN cell becomes (default: an error)")
    b.add_argument("--plot", metavar="PNG", help="also draw the errors by origin (matplotlib)")
    b.set_defaults(func=_cmd_backtest)
