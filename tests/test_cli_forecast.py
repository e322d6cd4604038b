"""``scratchrnn forecast train|predict|backtest`` (scratchrnn.cli_forecast): a CSV series in, a model,
its forecasts and its backtest out, matching the library's numbers; and the one-line errors that
leave nothing behind."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from cli_helpers import one_line_error, our_traceback, run_cli
from scratchrnn.forecast import Forecaster, backtest

PERIOD = 12  # the synthetic series' season
ROWS, HELD_OUT, WINDOW, HORIZON = 72, 20, 6, 2
TINY = ["--window", str(WINDOW), "--hidden-size", "8", "--epochs", "3", "--no-progress"]
NAME_WIDTH = 22  # the width of the forecaster's name in Backtest.table()


def write_series(path, rows=ROWS, seed=0, edit=None):
    """A CSV ``time,y,x``: y a sine of period 12 plus noise, x the matching cosine (a covariate);
    ``edit`` maps a 0-based data row to the text that replaces it."""
    rng = np.random.default_rng(seed)
    t = np.arange(rows)
    y = 10 + np.sin(2 * np.pi * t / PERIOD) + 0.1 * rng.standard_normal(rows)  # (rows,)
    x = np.cos(2 * np.pi * t / PERIOD)  # (rows,)
    lines = [f"{i},{y[i]:.6f},{x[i]:.6f}" for i in range(rows)]
    for i, text in (edit or {}).items():
        lines[i] = text
    path.write_text("time,y,x\n" + "\n".join(lines) + "\n")
    return path


def read_table(path):
    """The (N, 2) table y, x of a file ``write_series`` wrote, parsed independently of the package."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return np.array([[float(r["y"]), float(r["x"])] for r in rows])


def table_rows(stdout):
    """The backtest table's rows as name -> the numbers printed, and its coverage line."""
    rows, coverage = {}, None
    for line in stdout.splitlines()[2:]:
        if line.startswith("coverage"):
            coverage = line
        else:
            rows[line[:NAME_WIDTH].strip()] = line[NAME_WIDTH:].split()
    return rows, coverage


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A model trained with a covariate on all but the last HELD_OUT rows: (folder, data file, stdout)."""
    folder = tmp_path_factory.mktemp("forecast")
    data = write_series(folder / "series.csv")
    res = run_cli("forecast", "train", data, "--column", "y", "--time-column", "time", "--covariates", "x",
                  "--horizon", HORIZON, "--held-out", HELD_OUT, "--out", folder / "run", *TINY, cwd=folder)
    assert res.returncode == 0, res.stderr
    return folder, data, res.stdout


def test_train_writes_the_model_and_its_history(trained):
    folder, data, stdout = trained
    assert f"trained on {ROWS - HELD_OUT} rows" in stdout and f"({HELD_OUT} held out)" in stdout
    assert "3 epochs" in stdout and "model.npz" in stdout
    history = json.loads((folder / "run" / "history.json").read_text())
    assert history["steps"] and history["evals"] and history["seconds"] >= 0
    fc = Forecaster.load(folder / "run" / "model.npz")
    assert fc.meta_ == {"column": "y", "covariates": ["x"], "time_column": "time"}
    assert fc.series_.shape == (ROWS - HELD_OUT, 2) and fc.horizon == HORIZON
    np.testing.assert_array_equal(fc.series_, read_table(data)[: ROWS - HELD_OUT])


def test_backtest_prints_the_libraries_numbers_against_the_baselines(trained):
    folder, data, _ = trained
    model = folder / "run" / "model.npz"
    res = run_cli("forecast", "backtest", model, data, cwd=folder)
    assert res.returncode == 0, res.stderr
    start = ROWS - HELD_OUT
    n = ROWS - HORIZON - start + 1
    assert f"{n} origins from row {start}" in res.stdout and f"season {PERIOD}" in res.stdout
    rows, coverage = table_rows(res.stdout)
    assert list(rows) == ["model", "persistence", f"seasonal naive (m={PERIOD})", "AR(p)"]
    assert all(len(v) == 8 for v in rows.values())  # MAE, RMSE, MAPE, MASE at 1 step and over 2
    assert coverage is not None and "80% interval" in coverage and f"over {n * HORIZON} values" in coverage
    # the same backtest in Python, on the reloaded model and the covariates read from the file
    bt = backtest(Forecaster.load(model), read_table(data), start, steps=HORIZON)
    assert float(rows["model"][0]) == float(f"{bt.one_step['model']['MAE']:.4g}")
    assert f"{bt.coverage:.3f}" in coverage
    assert res.stdout.splitlines()[1:] == bt.table().splitlines()  # every number, as printed


def test_predict_writes_the_forecast_and_quantiles_as_csv(trained):
    folder, data, _ = trained
    model = folder / "run" / "model.npz"
    res = run_cli("forecast", "predict", model, data, "--steps", HORIZON, cwd=folder)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == "step,forecast,q0.1,q0.5,q0.9" and len(lines) == 1 + HORIZON
    res_o = run_cli("forecast", "predict", model, data, "--steps", HORIZON, "-o", folder / "next.csv",
                    cwd=folder)
    assert res_o.returncode == 0 and res_o.stdout == "", res_o.stderr
    assert (folder / "next.csv").read_text() == res.stdout
    fc = Forecaster.load(model)
    table = read_table(data)  # the covariate read by the name the model stored
    point = fc.predict(table, steps=HORIZON)  # (steps,)
    bounds = fc.predict(table, steps=HORIZON, quantiles=(0.1, 0.5, 0.9))  # (steps, 3)
    for i, line in enumerate(lines[1:]):
        cells = line.split(",")
        assert cells[0] == str(i + 1) and cells[1] == f"{point[i]:.6g}"
        assert cells[2:] == [f"{v:.6g}" for v in bounds[i]]


def test_no_intervals_leaves_out_quantiles_and_coverage(tmp_path):
    data = write_series(tmp_path / "s.csv")
    res = run_cli("forecast", "train", data, "--column", "y", "--held-out", HELD_OUT, "--no-intervals",
                  "--out", tmp_path / "r", *TINY, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    res = run_cli("forecast", "predict", tmp_path / "r" / "model.npz", data, "--steps", 3, cwd=tmp_path)
    assert res.returncode == 0 and res.stdout.splitlines()[0] == "step,forecast", res.stderr
    assert len(res.stdout.splitlines()) == 4  # one step without covariates may run past the horizon
    res = run_cli("forecast", "backtest", tmp_path / "r" / "model.npz", data, cwd=tmp_path)
    assert res.returncode == 0 and "coverage" not in res.stdout, res.stderr


def test_plots_of_predict_and_backtest_are_pngs(trained, tmp_path):
    pytest.importorskip("matplotlib")
    folder, data, _ = trained
    model = folder / "run" / "model.npz"
    res = run_cli("forecast", "predict", model, data, "--plot", tmp_path / "f.png", cwd=tmp_path)
    assert res.returncode == 0 and res.stdout.startswith("step,forecast"), res.stderr
    res = run_cli("forecast", "backtest", model, data, "--plot", tmp_path / "b.png", cwd=tmp_path)
    assert res.returncode == 0 and "persistence" in res.stdout, res.stderr
    for name in ("f.png", "b.png"):
        assert (tmp_path / name).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.png", "f.png"]  # no temporary file left


@pytest.mark.parametrize("action", ["predict", "backtest"])
def test_a_plot_path_not_ending_in_png_is_an_error_that_writes_nothing(trained, tmp_path, action):
    folder, data, _ = trained
    extra = ["-o", tmp_path / "next.csv"] if action == "predict" else []
    res = run_cli("forecast", action, folder / "run" / "model.npz", data, "--plot", tmp_path / "fig.jpg",
                  *extra, cwd=tmp_path)
    line = one_line_error(res)
    assert ".png" in line and "fig.jpg" in line and not our_traceback(res.stderr)
    assert list(tmp_path.iterdir()) == []  # neither the figure nor the forecasts


def test_predict_that_cannot_write_its_output_leaves_no_plot(trained, tmp_path):
    pytest.importorskip("matplotlib")
    folder, data, _ = trained
    res = run_cli("forecast", "predict", folder / "run" / "model.npz", data, "--plot", tmp_path / "f.png",
                  "-o", tmp_path / "missing" / "next.csv", cwd=tmp_path)
    assert f"its folder {tmp_path / 'missing'} does not exist" in one_line_error(res)
    assert list(tmp_path.iterdir()) == []


def test_recursive_strategy_with_covariates_points_at_direct(tmp_path):
    data = write_series(tmp_path / "s.csv")
    before = set(tmp_path.iterdir())
    res = run_cli("forecast", "train", data, "--column", "y", "--covariates", "x", "--strategy", "recursive",
                  "--out", tmp_path / "out", *TINY, cwd=tmp_path)
    line = one_line_error(res)
    assert "recursive" in line and "covariate" in line and "--strategy direct" in line
    assert set(tmp_path.iterdir()) == before


def test_a_gap_is_an_error_until_fill_says_what_it_becomes(tmp_path):
    data = write_series(tmp_path / "gap.csv", edit={9: "9,,0.5"})
    res = run_cli("forecast", "train", data, "--column", "y", "--out", tmp_path / "out", *TINY, cwd=tmp_path)
    line = one_line_error(res)
    assert "row 11" in line and "empty" in line and "--fill" in line
    assert not (tmp_path / "out").exists()
    res = run_cli("forecast", "train", data, "--column", "y", "--time-column", "time", "--fill", "linear",
                  "--out", tmp_path / "out", *TINY, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "out" / "model.npz").is_file() and (tmp_path / "out" / "history.json").is_file()
    fc = Forecaster.load(tmp_path / "out" / "model.npz")
    row8, row10 = read_table(write_series(tmp_path / "full.csv"))[[8, 10], 0]
    assert fc.series_[9, 0] == pytest.approx((row8 + row10) / 2)  # interpolated between its neighbours
    res = run_cli("forecast", "predict", tmp_path / "out" / "model.npz", data, "--fill", "linear",
                  cwd=tmp_path)
    assert res.returncode == 0 and res.stdout.startswith("step,forecast"), res.stderr


TRAIN = ["forecast", "train"]


@pytest.mark.parametrize("args, words", [
    (TRAIN + ["missing.csv", "--column", "y"], ["no such file", "missing.csv"]),
    (TRAIN + ["s.csv", "--column", "sales"], ["no column 'sales'", "'y'"]),
    (TRAIN + ["text.csv", "--column", "y"], ["row 11", "'abc'", "not a number"]),
    (TRAIN + ["short.csv", "--column", "y", "--horizon", "2"], ["7 steps", "window + horizon", "8"]),
    (TRAIN + ["s.csv", "--column", "y", "--horizon", "0"], ["--horizon", "positive", "0"]),
    (TRAIN + ["time.csv", "--column", "y", "--time-column", "time"], ["row 11", "'time'", "increase"]),
    (TRAIN + ["s.csv", "--column", "y", "--held-out", str(ROWS)],
     ["--held-out", "nothing to fit", f"{ROWS} rows"]),
    (["forecast", "predict", "nomodel.npz", "s.csv"], ["no such model file", "nomodel.npz"]),
    (["forecast", "backtest", "nomodel.npz", "s.csv"], ["no such model file", "nomodel.npz"]),
])
def test_errors_are_one_line_with_status_2_and_leave_nothing(tmp_path, args, words):
    write_series(tmp_path / "s.csv")
    write_series(tmp_path / "text.csv", edit={9: "9,abc,0.5"})
    write_series(tmp_path / "time.csv", edit={9: "7,10.0,0.5"})
    write_series(tmp_path / "short.csv", rows=WINDOW + 1)
    before = set(tmp_path.iterdir())
    extra = ["--out", tmp_path / "out", *TINY] if args[1] == "train" else ["-o", tmp_path / "p.csv"]
    res = run_cli(*args, *extra, cwd=tmp_path) if args[1] != "backtest" else run_cli(*args, cwd=tmp_path)
    line = one_line_error(res)
    assert all(w in line for w in words), line
    assert not our_traceback(res.stderr)
    assert set(tmp_path.iterdir()) == before  # no run folder, no output file


def test_a_failed_train_without_out_leaves_no_run_folder(tmp_path):
    write_series(tmp_path / "short.csv", rows=WINDOW + 1)  # fails in fit, after the run folder is made
    res = run_cli("forecast", "train", "short.csv", "--column", "y", *TINY, cwd=tmp_path)
    assert "no training window" in one_line_error(res)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs", "short.csv"]
    assert list((tmp_path / "runs").iterdir()) == []  # the shared root stays (runs.py), the run does not


@pytest.mark.parametrize("start", [1, ROWS - HELD_OUT - 1])
def test_backtest_refuses_to_start_inside_the_fitted_rows(trained, tmp_path, start):
    folder, data, _ = trained
    res = run_cli("forecast", "backtest", folder / "run" / "model.npz", data, "--start", start, cwd=tmp_path)
    line = one_line_error(res)
    assert f"fitted on {ROWS - HELD_OUT} steps" in line and f"--start {start}" in line
    assert "values it was fitted on" in line and not our_traceback(res.stderr)
    assert list(tmp_path.iterdir()) == []


def test_backtest_needs_room_for_its_steps_and_the_models_columns(trained, tmp_path):
    folder, data, _ = trained
    model = folder / "run" / "model.npz"
    res = run_cli("forecast", "backtest", model, data, "--start", ROWS - 1, cwd=tmp_path)
    assert f"has {ROWS} rows" in one_line_error(res) and "needs at least" in res.stderr
    (tmp_path / "y_only.csv").write_text("time,y\n" + "".join(f"{i},{i % 5}\n" for i in range(ROWS)))
    res = run_cli("forecast", "predict", model, tmp_path / "y_only.csv", cwd=tmp_path)
    assert "no column 'x'" in one_line_error(res)  # the covariate named in the model


def test_predict_past_the_horizon_says_the_intervals_stop_there(tmp_path):
    data = write_series(tmp_path / "s.csv")
    res = run_cli("forecast", "train", data, "--column", "y", "--horizon", "2", "--out", tmp_path / "run",
                  *TINY, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    res = run_cli("forecast", "predict", tmp_path / "run" / "model.npz", data, "--steps", "5", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines()[0] == "step,forecast" and len(res.stdout.splitlines()) == 6
    assert "no intervals: they reach as far as the horizon (2 steps), --steps is 5" in res.stderr


def test_covariates_named_twice_and_a_held_out_span_that_leaves_too_little_are_named(tmp_path):
    data = write_series(tmp_path / "s.csv")
    before = set(tmp_path.iterdir())
    res = run_cli("forecast", "train", data, "--column", "y", "--covariates", "x,x", *TINY, cwd=tmp_path)
    assert "--covariates names 'x' more than once" in one_line_error(res)
    res = run_cli("forecast", "train", data, "--column", "y", "--held-out", str(ROWS - 5), *TINY,
                  cwd=tmp_path)
    assert "--held-out" in one_line_error(res) and "fewer than --window + --horizon" in res.stderr
    assert set(tmp_path.iterdir()) - before <= {tmp_path / "runs"}  # the shared runs folder at most
