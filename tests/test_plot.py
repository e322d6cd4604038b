"""scratchrnn.plot: every figure is a PNG of the promised size, written atomically, with no figure
left open; the numbers behind the figures (smoothed loss, sine positions, carries, hidden states,
surface grid) are checked against independent computations; without matplotlib every call raises
PlotUnavailable."""

from __future__ import annotations

import builtins
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")  # the tests' own pyplot (for get_fignums) must not look for a screen

from matplotlib import pyplot as plt  # noqa: E402
from matplotlib.image import imread  # noqa: E402

from scratchrnn import figures, plot  # noqa: E402
from scratchrnn.data.synthetic import binary_numbers  # noqa: E402
from scratchrnn.nn.model import ModelConfig, SequenceModel  # noqa: E402
from scratchrnn.tasks.base import TaskResult  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# -- helpers -----------------------------------------------------------------------------------
def make_result(name: str, curves: dict | None = None, artifacts: dict | None = None,
                figures: tuple[str, ...] = ()) -> TaskResult:
    return TaskResult(name=name, tutorial="t", ours="o", target="g", passed=True, seconds=0.0,
                      curves=curves or {}, artifacts=artifacts or {}, figures=figures)


def decaying_curves(n: int = 200, decades: float = 6.0, val_every: int = 20) -> dict:
    loss = np.logspace(0.0, -decades, n)  # (n,) spans `decades` decades
    return {"loss": loss.tolist(), "val_loss": (1.1 * loss[val_every - 1::val_every]).tolist()}


def sine_artifacts(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    t = np.arange(50, 250)  # (200,)
    truth = np.sin(t)  # (200,)
    noisy = truth + 0.05 * rng.standard_normal(truth.shape)  # (200,)
    curve_t = np.linspace(50, 249, 199 * 20 + 1)  # (M,)
    return {"train_pred": noisy[:100], "train_true": truth[:100], "train_t": t[:100],
            "val_pred": noisy[100:150], "val_true": truth[100:150], "val_t": t[100:150],
            "forecast": noisy[150:], "forecast_true": truth[150:], "forecast_t": t[150:],
            "curve_t": curve_t, "curve": np.sin(curve_t)}


def binary_artifacts(seed: int = 0) -> dict:
    x, values = binary_numbers(6, 5, np.random.default_rng(seed))  # (5, 6, 1), (6,)
    steps = np.linspace(0.0, 1.0, 40)[:, None]  # (40, 1)
    path = np.array([1.0, 1.0]) + steps * np.array([0.3, 1.0])  # (40, 2)
    path[-1] = (1.0, 2.0)
    return {"x": x.astype(np.float64), "values": values.astype(np.float64), "path": path}


def tiny_addition_model(hidden: int = 3, nonlinearity: str = "sigmoid", seed: int = 0) -> SequenceModel:
    cfg = ModelConfig(cell="rnn", input_size=2, hidden_size=hidden, nonlinearity=nonlinearity,
                      output_size=1, dtype="float64")
    return SequenceModel(cfg, rng=seed)


def check_png(path: Path, kind: str) -> np.ndarray:
    """A real PNG of FIGSIZES[kind] inches at DPI, not blank; returns the pixels."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    image = imread(path)  # (rows, cols, channels)
    width, height = plot.FIGSIZES[kind]
    assert image.shape[:2] == (round(height * plot.DPI), round(width * plot.DPI))
    assert float(np.ptp(image[..., :3])) > 0.5  # something dark drawn on a light background
    return image


def assert_clean(folder: Path, expected: set[str]) -> None:
    """Exactly the expected files (no temporary leftovers) and no figure registered in pyplot."""
    assert {p.name for p in folder.iterdir()} == expected
    assert plt.get_fignums() == []


@pytest.fixture(autouse=True)
def _no_open_figures():
    plt.close("all")
    yield
    assert plt.get_fignums() == []


# -- each figure -------------------------------------------------------------------------------
def test_loss_curves_png(tmp_path):
    path = plot.save_loss_curves(make_result("sine", decaying_curves()), tmp_path / "loss.png")
    assert path == tmp_path / "loss.png"
    check_png(path, "loss")
    assert_clean(tmp_path, {"loss.png"})


def test_sine_png(tmp_path):
    path = plot.save_sine(make_result("sine", artifacts=sine_artifacts()), tmp_path / "sine.png")
    check_png(path, "sine")
    assert_clean(tmp_path, {"sine.png"})


def test_binary_surface_png(tmp_path):
    result = make_result("binary-to-decimal", artifacts=binary_artifacts())
    path = plot.save_binary_surface(result, tmp_path / "surface.png", grid=41)
    check_png(path, "binary_surface")
    assert_clean(tmp_path, {"surface.png"})


@pytest.mark.parametrize("nonlinearity", ["sigmoid", "tanh"])
def test_addition_hidden_png(tmp_path, nonlinearity):
    model = tiny_addition_model(nonlinearity=nonlinearity)
    path = plot.save_addition_hidden(model, 75, 46, tmp_path / "hidden.png")
    check_png(path, "addition_hidden")
    assert_clean(tmp_path, {"hidden.png"})


def test_overwrite_replaces_the_file(tmp_path):
    target = tmp_path / "loss.png"
    target.write_bytes(b"old")
    plot.save_loss_curves(make_result("hello", {"loss": [3.0, 2.0, 1.0]}), target)
    check_png(target, "loss")
    assert_clean(tmp_path, {"loss.png"})


# -- loss curves: what is drawn ----------------------------------------------------------------
def test_loss_figure_contents():
    curves = decaying_curves(n=200, decades=6.0, val_every=20)
    fig = plot._loss_figure(make_result("sine", curves))
    (ax,) = fig.axes
    assert ax.get_yscale() == "log"
    raw, smoothed, val = ax.get_lines()
    np.testing.assert_array_equal(raw.get_xdata(), np.arange(1, 201))
    np.testing.assert_array_equal(raw.get_ydata(), curves["loss"])
    assert raw.get_alpha() == figures.RAW_ALPHA  # faint, behind its running mean
    # on the log axis the mean is geometric, which keeps this straight line on it as it is
    window = figures.smoothing_window(200)
    np.testing.assert_allclose(smoothed.get_ydata(), figures.smooth(curves["loss"], window, log=True))
    np.testing.assert_allclose(smoothed.get_ydata(), curves["loss"], rtol=1e-9)
    # one validation per 20 steps, placed at the end of each block, drawn as markers
    np.testing.assert_allclose(val.get_xdata(), np.arange(20, 201, 20))
    assert val.get_linestyle() == "None" and val.get_marker() == "o"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0] == f"training (last {curves['loss'][-1]:.4g}), mean over {window} steps"
    assert labels[1].startswith("validation")
    assert "sine" in ax.get_title()
    assert plt.get_fignums() == []  # built without pyplot


def test_loss_figure_linear_and_explicit_validation_steps():
    curves = {"loss": [1.0, 0.9, 0.8, 0.7], "val_loss": [0.95, 0.75], "val_step": [1, 3]}
    (ax,) = plot._loss_figure(make_result("hello", curves)).axes
    assert ax.get_yscale() == "linear"
    train, val = ax.get_lines()  # four steps are drawn as they are, not smoothed
    assert train.get_alpha() is None
    np.testing.assert_array_equal(val.get_xdata(), [1, 3])
    with pytest.raises(ValueError, match="val_step"):
        plot._loss_figure(make_result("hello", {**curves, "val_step": [1, 2, 3]}))


def test_loss_curve_with_zero_and_nan_on_a_log_axis(tmp_path):
    loss = list(np.logspace(3, -20, 50)) + [float("nan"), 0.0]
    fig = plot._loss_figure(make_result("binary-to-decimal", {"loss": loss}))
    (ax,) = fig.axes
    assert ax.get_yscale() == "log"
    y = ax.get_lines()[0].get_ydata()
    assert np.isnan(y[-1]) and np.isnan(y[-2])  # the 0 becomes a gap instead of a clipped point
    plot.save_loss_curves(make_result("binary-to-decimal", {"loss": loss}), tmp_path / "l.png")
    check_png(tmp_path / "l.png", "loss")


def test_loss_curve_errors(tmp_path):
    with pytest.raises(ValueError, match="'loss'"):
        plot.save_loss_curves(make_result("sine", {"val_loss": [1.0]}), tmp_path / "a.png")
    with pytest.raises(ValueError, match="empty 'loss'"):
        plot.save_loss_curves(make_result("sine", {"loss": []}), tmp_path / "a.png")
    with pytest.raises(ValueError, match=r"\.png"):
        plot.save_loss_curves(make_result("sine", {"loss": [1.0]}), tmp_path / "a.svg")
    with pytest.raises(FileNotFoundError):
        plot.save_loss_curves(make_result("sine", {"loss": [1.0]}), tmp_path / "missing" / "a.png")
    assert_clean(tmp_path, set())


# -- sine: what is drawn -----------------------------------------------------------------------
def test_sine_figure_contents():
    art = sine_artifacts()
    fig = plot._sine_figure(make_result("sine", artifacts=art))
    top, bottom = fig.axes
    data = [line for line in top.get_lines() if not line.get_label().startswith("_")]  # not the separators
    truth, train, val, fc = data
    assert [line.get_label().split(",")[0] for line in data] == [
        "truth", "training", "validation", "forecast (free-running)"]
    # the truth is a smooth curve: 20 samples per unit of t, not a line through the integer points
    np.testing.assert_array_equal(truth.get_xdata(), art["curve_t"])
    np.testing.assert_allclose(truth.get_ydata(), np.sin(truth.get_xdata()), rtol=0, atol=1e-15)
    assert truth.get_linestyle() == "-" and len(truth.get_xdata()) > 10 * 200
    # the predictions are markers at their positions on the series
    for line, key in ((train, "train"), (val, "val"), (fc, "forecast")):
        assert line.get_linestyle() == "None" and line.get_marker() == "o"
        np.testing.assert_array_equal(line.get_xdata(), art[f"{key}_t"])
    np.testing.assert_array_equal(fc.get_ydata(), art["forecast"])
    residual = [line for line in bottom.get_lines() if line.get_xdata()[0] == 200][0]
    np.testing.assert_allclose(residual.get_ydata(), art["forecast"] - art["forecast_true"])
    rmse = np.sqrt(np.mean((art["val_pred"] - art["val_true"]) ** 2))
    assert f"{rmse:.3g}" in val.get_label()
    # the separators sit half way between the parts
    separators = sorted({line.get_xdata()[0] for line in top.get_lines() if line.get_label().startswith("_")})
    assert separators == [149.5, 199.5]


def test_sine_errors(tmp_path):
    art = sine_artifacts()
    del art["forecast_true"]
    with pytest.raises(ValueError, match="forecast_true"):
        plot.save_sine(make_result("sine", artifacts=art), tmp_path / "s.png")
    art = sine_artifacts()
    art["val_pred"] = art["val_pred"][:-1]
    with pytest.raises(ValueError, match="the validation part has 49 predictions, 50 true values and 50 "
                                         "positions"):
        plot.save_sine(make_result("sine", artifacts=art), tmp_path / "s.png")
    art = sine_artifacts()
    art["curve"] = art["curve"][:10]
    with pytest.raises(ValueError, match=r"dense truth needs as many positions as values"):
        plot.save_sine(make_result("sine", artifacts=art), tmp_path / "s.png")
    art = sine_artifacts()
    del art["val_t"]
    with pytest.raises(ValueError, match="'val_t'"):
        plot.save_sine(make_result("sine", artifacts=art), tmp_path / "s.png")
    assert_clean(tmp_path, set())


# -- binary addition: carries and hidden states ------------------------------------------------
def test_addition_rows_match_the_carry_formula():
    rng = np.random.default_rng(3)
    pairs = [(0, 0), (1, 1), (255, 1), (2**40 - 1, 2**40 - 1), (75, 46)]
    pairs += [tuple(int(v) for v in rng.integers(0, 2**20, size=2)) for _ in range(50)]
    for a, b in pairs:
        bits = (a + b).bit_length() + 2
        rows = plot._addition_rows(a, b, bits)
        for t in range(bits):
            low = (1 << (t + 1)) - 1
            # the carry out of position t is the overflow of the low t+1 bits of the sum
            assert rows["carry out"][t] == ((a & low) + (b & low)) >> (t + 1)
            assert rows["a + b"][t] == ((a + b) >> t) & 1
            assert rows["a"][t] == (a >> t) & 1 and rows["b"][t] == (b >> t) & 1


@pytest.mark.parametrize("nonlinearity", ["sigmoid", "tanh"])
def test_addition_states_match_a_plain_recurrence(nonlinearity):
    model = tiny_addition_model(hidden=4, nonlinearity=nonlinearity, seed=5)
    model.train(True)
    a, b, bits = 75, 46, 9
    units, logits, rows = plot._addition_states(model, a, b, bits)
    assert model.training  # the mode is restored
    p = model.params
    act = np.tanh if nonlinearity == "tanh" else (lambda z: 1.0 / (1.0 + np.exp(-z)))
    h = np.zeros(4)
    for t in range(bits):
        x_t = np.array([(a >> t) & 1, (b >> t) & 1], dtype=np.float64)
        h = act(p["rnn.weight_ih_l0"] @ x_t + p["rnn.bias_ih_l0"] + p["rnn.weight_hh_l0"] @ h
                + p["rnn.bias_hh_l0"])
        np.testing.assert_allclose(units[:, t], h, rtol=0, atol=1e-12)
        np.testing.assert_allclose(logits[t], p["head.weight"][0] @ h + p["head.bias"][0], rtol=0, atol=1e-12)
    assert units.shape == (4, bits)
    assert set(rows) == {"a", "b", "carry out", "a + b"}


def test_addition_figure_title_and_errors(tmp_path):
    model = tiny_addition_model()
    fig = plot._addition_figure(model, 75, 46, None)
    bits_ax, units_ax = fig.axes[:2]
    assert "75 + 46 = 121" in bits_ax.get_title()
    assert [t.get_text() for t in bits_ax.get_yticklabels()] == ["a", "b", "carry out", "a + b", "model"]
    assert units_ax.get_images()[0].get_array().shape == (3, 7)  # 121 needs 7 bits
    with pytest.raises(ValueError, match="bits"):
        plot.save_addition_hidden(model, 75, 46, tmp_path / "h.png", bits=6)
    with pytest.raises(ValueError, match="a must be"):
        plot.save_addition_hidden(model, -1, 46, tmp_path / "h.png")
    dense3 = SequenceModel(ModelConfig(input_size=3, hidden_size=2, output_size=1, dtype="float64"), rng=0)
    with pytest.raises(ValueError, match="input_size=3"):
        plot.save_addition_hidden(dense3, 1, 2, tmp_path / "h.png")
    last = SequenceModel(ModelConfig(input_size=2, hidden_size=2, output_size=1, head="last"), rng=0)
    with pytest.raises(ValueError, match="head"):
        plot.save_addition_hidden(last, 1, 2, tmp_path / "h.png")
    assert_clean(tmp_path, set())


# -- binary to decimal: the surface ------------------------------------------------------------
def test_surface_grid_covers_path_and_optimum():
    path = np.array([[1.0, 1.0], [0.4, 1.5], [3.0, 1.9], [1.0, 2.0]])  # (4, 2)
    wx, wrec = plot._surface_axes(path, 25)
    assert wx.shape == wrec.shape == (25,)
    for grid, column in ((wx, 0), (wrec, 1)):
        assert grid[0] < min(path[:, column].min(), plot.BINARY_OPTIMUM[column])
        assert grid[-1] > max(path[:, column].max(), plot.BINARY_OPTIMUM[column])
        assert np.all(np.diff(grid) > 0)


@pytest.mark.parametrize(("lo", "hi"), [(-1.35, 5.07), (-20.0, 300.0), (3.0, 3.0), (-0.2, 0.1)])
def test_decade_levels(lo, hi):
    levels = plot._decade_levels(lo, hi)
    assert levels[0] <= lo and levels[-1] >= hi
    assert len(levels) - 1 <= plot.SURFACE_LEVELS
    np.testing.assert_allclose(np.diff(levels), levels[1] - levels[0])
    assert np.any(np.isclose(levels, np.round(levels)))  # whole decades for the colour bar ticks


def test_surface_figure_draws_path_and_optimum():
    art = binary_artifacts()
    fig = plot._surface_figure(make_result("binary-to-decimal", artifacts=art), 31)
    ax = fig.axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    path_line = next(line for label, line in lines.items() if label.startswith("Rprop path"))
    np.testing.assert_array_equal(path_line.get_xdata(), art["path"][:, 0])
    np.testing.assert_array_equal(path_line.get_ydata(), art["path"][:, 1])
    optimum = lines["optimum (1, 2)"]
    assert (optimum.get_xdata()[0], optimum.get_ydata()[0]) == plot.BINARY_OPTIMUM


def test_surface_errors(tmp_path):
    art = binary_artifacts()
    del art["values"]
    with pytest.raises(ValueError, match="values"):
        plot.save_binary_surface(make_result("binary-to-decimal", artifacts=art), tmp_path / "s.png")
    art = binary_artifacts()
    art["path"] = art["path"][:, :1]
    with pytest.raises(ValueError, match="path"):
        plot.save_binary_surface(make_result("binary-to-decimal", artifacts=art), tmp_path / "s.png")
    with pytest.raises(ValueError, match="grid"):
        plot.save_binary_surface(make_result("binary-to-decimal", artifacts=binary_artifacts()),
                                 tmp_path / "s.png", grid=1)
    assert_clean(tmp_path, set())


# -- every figure of a task --------------------------------------------------------------------
# the figures each task's run lists (tests/test_tasks_*.py check that the tasks list these)
TASK_FIGURES = {"binary-to-decimal": ("binary_surface",), "binary-addition": ("addition_hidden",),
                "sine": ("sine",), "reverse-text": ("attention",)}


def attention_artifacts() -> dict:
    weights = np.full((4, 3), 0.1)
    weights[[0, 1, 2], [2, 1, 0]] = 0.8  # the anti-diagonal of a reversal, then EOS
    return {"attention": weights, "attention_source": list("abc"), "attention_target": [*"cba", "<eos>"]}


FIGURE_ARTIFACTS = {"binary_surface": binary_artifacts, "sine": sine_artifacts,
                    "addition_hidden": lambda: {"model": tiny_addition_model()},
                    "attention": attention_artifacts}


def task_result(name: str, figures: tuple[str, ...] | None = None) -> TaskResult:
    """A result named ``name`` listing ``figures`` (default: those of the task of that name), with
    the artifacts those figures need."""
    figures = TASK_FIGURES.get(name, ()) if figures is None else figures
    artifacts = {}
    for kind in figures:
        artifacts.update(FIGURE_ARTIFACTS[kind]())
    return make_result(name, decaying_curves(n=60, val_every=10), artifacts, figures)


def test_every_figure_kind_has_a_size_and_is_listed_by_its_task():
    assert set(plot.FIGURES) <= set(plot.FIGSIZES) and set(FIGURE_ARTIFACTS) == set(plot.FIGURES)
    assert {kind for kinds in TASK_FIGURES.values() for kind in kinds} == set(plot.FIGURES)


@pytest.mark.parametrize(("name", "extra"), [
    ("binary-to-decimal", {"surface": "binary_surface"}),
    ("binary-addition", {"hidden": "addition_hidden"}),
    ("sine", {"predictions": "sine"}),
    ("reverse-text", {"attention": "attention"}),
    ("hello", {}),
    ("word-lm", {}),
    ("some/new task", {}),
])
def test_save_task_plots(tmp_path, name, extra):
    folder = tmp_path / "figures" / "nested"  # created on demand
    paths = plot.save_task_plots(task_result(name), folder)
    stem = name.replace("/", "_").replace(" ", "_")
    kinds = {f"{stem}-loss.png": "loss", **{f"{stem}-{suffix}.png": kind for suffix, kind in extra.items()}}
    assert [p.name for p in paths] == list(kinds)
    for p in paths:
        assert p.parent == folder
        check_png(p, kinds[p.name])
    assert_clean(folder, set(kinds))


def test_the_figures_follow_the_result_not_its_name(tmp_path):
    # a task of any name gets the figures it lists, in the order it lists them
    result = task_result("my task", figures=("sine", "binary_surface"))
    paths = plot.save_task_plots(result, tmp_path)
    assert [p.name for p in paths] == ["my_task-loss.png", "my_task-predictions.png", "my_task-surface.png"]
    check_png(paths[1], "sine")
    check_png(paths[2], "binary_surface")
    # and a task named like one with figures gets none it does not list
    paths = plot.save_task_plots(task_result("sine", figures=()), tmp_path / "bare")
    assert [p.name for p in paths] == ["sine-loss.png"]


def test_unknown_figure_kinds_are_named(tmp_path):
    with pytest.raises(ValueError, match=r"unknown figure kind\(s\) \['heatmap'\]; expected kinds of "
                                         "FIGURES: binary_surface, addition_hidden, sine, attention"):
        plot.save_task_plots(make_result("x", decaying_curves(), figures=("sine", "heatmap")), tmp_path)
    not_a_list = make_result("x", decaying_curves())
    not_a_list.figures = None
    with pytest.raises(ValueError, match="figures is a list of figure kinds, got NoneType"):
        plot.save_task_plots(not_a_list, tmp_path)
    assert_clean(tmp_path, set())


def test_save_task_plots_needs_the_addition_model(tmp_path):
    result = make_result("binary-addition", decaying_curves(), figures=("addition_hidden",))
    with pytest.raises(ValueError, match="'model'"):
        plot.save_task_plots(result, tmp_path)
    assert_clean(tmp_path, set())  # nothing half done


def test_the_attention_figure_needs_its_labels_and_names_what_is_missing(tmp_path):
    art = attention_artifacts()
    del art["attention_target"]
    result = make_result("reverse-text", decaying_curves(), art, figures=("attention",))
    with pytest.raises(ValueError, match=r"^reverse-text has no \['attention_target'\] artifact\(s\) for its "
                                         "attention figure"):
        plot.save_task_plots(result, tmp_path)
    art = {**attention_artifacts(), "attention_target": ["c", "b"]}
    result = make_result("reverse-text", decaying_curves(), art, figures=("attention",))
    with pytest.raises(ValueError, match="^target has 2 labels for the 4 target steps of the weights$"):
        plot.save_task_plots(result, tmp_path)
    assert_clean(tmp_path, set())


def test_a_figure_that_cannot_be_drawn_leaves_no_file_and_no_folder(tmp_path):
    art = sine_artifacts()
    del art["forecast"]
    result = make_result("sine", decaying_curves(), art, figures=("sine",))
    with pytest.raises(ValueError, match="forecast"):
        plot.save_task_plots(result, tmp_path / "new")
    assert_clean(tmp_path, set())  # not even the loss curves, which could be drawn


# -- atomic writes -----------------------------------------------------------------------------
def test_failed_save_keeps_the_old_file_and_leaves_no_temp(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    target = tmp_path / "loss.png"
    target.write_bytes(b"previous figure")

    def broken_savefig(self, fname, **kwargs):
        Path(fname).write_bytes(b"half a png")
        raise OSError("disk full")

    monkeypatch.setattr(Figure, "savefig", broken_savefig)
    with pytest.raises(OSError, match="disk full"):
        plot.save_loss_curves(make_result("hello", {"loss": [1.0, 0.5]}), target)
    assert target.read_bytes() == b"previous figure"
    assert_clean(tmp_path, {"loss.png"})


# -- without matplotlib ------------------------------------------------------------------------
def block_with_import_hook(monkeypatch):
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)


def block_with_sys_modules(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` raises ImportError


@pytest.mark.parametrize("block", [block_with_import_hook, block_with_sys_modules])
def test_plot_unavailable(tmp_path, monkeypatch, block):
    assert plot.matplotlib_available()
    block(monkeypatch)
    assert not plot.matplotlib_available()
    calls = [
        lambda: plot.save_loss_curves(make_result("sine", decaying_curves()), tmp_path / "a.png"),
        lambda: plot.save_sine(make_result("sine", artifacts=sine_artifacts()), tmp_path / "b.png"),
        lambda: plot.save_binary_surface(make_result("binary-to-decimal", artifacts=binary_artifacts()),
                                         tmp_path / "c.png"),
        lambda: plot.save_addition_hidden(tiny_addition_model(), 3, 5, tmp_path / "d.png"),
        lambda: plot.save_task_plots(task_result("sine"), tmp_path / "new"),
    ]
    for call in calls:
        with pytest.raises(plot.PlotUnavailable) as info:
            call()
        assert str(info.value) == "matplotlib is not installed; install scratchrnn[plot] for figures"
        assert isinstance(info.value, RuntimeError)
    assert_clean(tmp_path, set())  # no file and no folder made


def test_importing_plot_does_not_import_matplotlib():
    code = "import sys, scratchrnn.plot, scratchrnn; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
