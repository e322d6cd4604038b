"""Figures of the tasks as PNG files (matplotlib is an optional extra: ``pip install scratchrnn[plot]``).

The figures are drawn with :mod:`scratchrnn.figures` (matplotlib on an Agg canvas, never pyplot;
every file written atomically; without matplotlib every call raises :class:`PlotUnavailable`).
Every PNG is ``FIGSIZES[kind]`` inches at ``DPI`` pixels per inch, so its size in pixels is known
in advance.

A task says which figures it has: its ``TaskResult.figures`` lists kinds of ``FIGURES``, the
registry of figures drawn from a result, and :func:`save_task_plots` draws the loss curves plus
those, never choosing by the task's name.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from .checks import check_int, is_int
from .figures import (
    DPI,
    PlotUnavailable,
    draw_smoothed,
    marker_size,
    matplotlib_available,
    new_figure,
    png_path,
    require_matplotlib,
    save_figure,
    shown_on,
    use_log_scale,
)
from .seq2seq.plots import attention_figure
from .tasks.binary_to_decimal import loss_surface

__all__ = [
    "ADDITION_EXAMPLE",
    "DPI",
    "FIGSIZES",
    "FIGURES",
    "FigureKind",
    "PlotUnavailable",
    "matplotlib_available",
    "save_addition_hidden",
    "save_binary_surface",
    "save_loss_curves",
    "save_sine",
    "save_task_plots",
]

FIGSIZES = {  # (width, height) in inches; the PNG is (width * DPI) x (height * DPI) pixels
    "loss": (8.0, 4.5),
    "sine": (9.0, 6.5),
    "addition_hidden": (9.0, 7.0),
    "binary_surface": (7.5, 6.0),
    "attention": (10.0, 8.0),
}
SURFACE_GRID = 121  # grid points per weight axis of the binary-to-decimal surface
SURFACE_MARGIN = 0.15  # grid margin around the path and the optimum, as a fraction of their widest span
SURFACE_LEVELS = 40  # at most this many filled contour bands, evenly spaced in log10(MSE)
SURFACE_TICKS = 10  # at most about this many decades labelled on the colour bar
BINARY_OPTIMUM = (1.0, 2.0)  # (w_x, w_rec) that turns bits into their value exactly
ADDITION_EXAMPLE = (75, 46)  # operands of the addition figure: carries that switch on and off
MAX_LABELLED_TICKS = 40  # label every bit position / unit up to this many, else let matplotlib choose

# each part of the sine figure: (label, colour, artifact of the predictions, of the truth, of the
# positions t of the targets on the series)
SINE_PARTS = (
    ("training", "C0", "train_pred", "train_true", "train_t"),
    ("validation", "C1", "val_pred", "val_true", "val_t"),
    ("forecast (free-running)", "C3", "forecast", "forecast_true", "forecast_t"),
)
SINE_CURVE = ("curve_t", "curve")  # the truth sampled densely: positions (M,) and values (M,)


def _new_figure(kind: str):
    """An empty figure of size ``FIGSIZES[kind]`` on its own Agg canvas (never known to pyplot)."""
    return new_figure(FIGSIZES[kind])


# ---------------------------------------------------------------------------------------------
# reading a TaskResult
# ---------------------------------------------------------------------------------------------
def _result_name(result) -> str:
    name = getattr(result, "name", None)
    if not isinstance(name, str) or not name:
        raise ValueError(f"expected a TaskResult with a non-empty name, got {type(result).__name__}")
    return name


def _mapping(result, attr: str) -> dict:
    value = getattr(result, attr, None)
    if not isinstance(value, dict):
        raise ValueError(f"expected a TaskResult whose {attr} is a dict, got {type(value).__name__}")
    return value


def _curve(result, key: str, required: bool = False) -> np.ndarray:
    """``result.curves[key]`` as a 1-D float array; empty when absent and not required."""
    curves = _mapping(result, "curves")
    if key not in curves or curves[key] is None:
        if required:
            raise ValueError(f"{_result_name(result)} has no {key!r} curve; its curves are {sorted(curves)}")
        return np.empty(0)  # (0,)
    values = np.asarray(curves[key], dtype=np.float64)  # (n,)
    if values.ndim != 1:
        raise ValueError(f"curve {key!r} must be a flat list of numbers, got an array of shape "
                         f"{values.shape}")
    if required and values.size == 0:
        raise ValueError(f"{_result_name(result)} has an empty {key!r} curve; expected at least one value")
    return values


def _artifact_vector(result, key: str) -> np.ndarray:
    artifacts = _mapping(result, "artifacts")
    if key not in artifacts:
        raise ValueError(f"{_result_name(result)} has no {key!r} artifact; its artifacts are "
                         f"{sorted(artifacts)}")
    values = np.asarray(artifacts[key], dtype=np.float64).reshape(-1)  # (n,)
    return values


# ---------------------------------------------------------------------------------------------
# loss curves
# ---------------------------------------------------------------------------------------------
def _validation_steps(result, n_train: int, n_val: int) -> np.ndarray:
    """Training step of each validation value: ``curves["val_step"]`` when given, else the ends
    of ``n_val`` equal blocks of the ``n_train`` steps (validation after every epoch)."""
    steps = _curve(result, "val_step")
    if steps.size == 0:
        return np.arange(1, n_val + 1) * (n_train / n_val)  # (n_val,)
    if steps.size != n_val:
        raise ValueError(f"curve 'val_step' has {steps.size} entries, expected one per validation ({n_val})")
    return steps


def _loss_figure(result):
    name = _result_name(result)
    loss = _curve(result, "loss", required=True)  # (n,)
    val = _curve(result, "val_loss")  # (m,)
    val_steps = _validation_steps(result, loss.size, val.size) if val.size else val  # (m,)
    log = use_log_scale(np.concatenate([loss, val]))

    fig = _new_figure("loss")
    ax = fig.add_subplot()
    steps = np.arange(1, loss.size + 1)  # (n,)
    draw_smoothed(ax, steps, loss, "C0", f"training (last {loss[-1]:.4g})", log=log)
    if val.size:
        ax.plot(val_steps, shown_on(val, log), color="C1", ls="none", marker="o",
                ms=marker_size(val.size), zorder=3,
                label=f"validation (last {val[-1]:.4g})")
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel("loss (log scale)" if log else "loss")
    ax.set_title(f"{name}: loss during training")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper right")
    return fig


def save_loss_curves(result, path: str | os.PathLike) -> Path:
    """Write the training loss (``result.curves["loss"]``, one value per step, drawn faint under
    its running mean, ``figures.draw_smoothed``) and, when present, the validation loss
    (``curves["val_loss"]``, markers at ``curves["val_step"]`` or spread evenly over the steps) as
    a PNG; the y axis is logarithmic when the loss spans more than ``figures.LOG_SCALE_DECADES``
    decades. Returns ``path``."""
    path = png_path(path)
    return save_figure(_loss_figure(result), path)


# ---------------------------------------------------------------------------------------------
# sine: one-step predictions and the free-running forecast
# ---------------------------------------------------------------------------------------------
def _rmse(pred: np.ndarray, true: np.ndarray) -> float:
    return float(np.sqrt(np.mean((pred - true) ** 2)))


def _sine_figure(result):
    name = _result_name(result)
    parts = []
    for label, color, *keys in SINE_PARTS:
        pred, true, t = (_artifact_vector(result, key) for key in keys)  # (n,) each
        if not pred.size == true.size == t.size:
            raise ValueError(f"the {label} part has {pred.size} predictions, {true.size} true values and "
                             f"{t.size} positions; expected as many of each")
        parts.append((label, color, pred, true, t))
    if all(true.size == 0 for *_, true, _ in parts):
        raise ValueError(f"{name} has no predictions to plot (every sine artifact is empty)")
    curve_t, curve = (_artifact_vector(result, key) for key in SINE_CURVE)  # (M,), (M,)
    if curve_t.size != curve.size or curve.size < 2:
        raise ValueError(f"the dense truth needs as many positions as values, at least 2; got "
                         f"{curve_t.size} positions ({SINE_CURVE[0]}) and {curve.size} values "
                         f"({SINE_CURVE[1]})")

    fig = _new_figure("sine")
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3.0, 1.3])
    # the truth is drawn over the predictions (markers only), so that a miss shows as a dot off
    # the line even where the errors are too small to separate the two
    top.plot(curve_t, curve, color="black", lw=0.8, zorder=3, label="truth")
    previous_end = None
    for label, color, pred, true, t in parts:
        if true.size == 0:
            continue
        top.plot(t, pred, color=color, ls="none", marker="o", ms=3.5,
                 label=f"{label}, RMSE {_rmse(pred, true):.3g}")
        bottom.plot(t, pred - true, color=color, lw=0.6, marker="o", ms=2.0)
        if previous_end is not None:  # a dashed line half way between two parts
            for ax in (top, bottom):
                ax.axvline((previous_end + t[0]) / 2, color="0.3", ls="--", lw=0.8)
        previous_end = t[-1]
    bottom.axhline(0.0, color="0.55", lw=0.8)
    top.set_ylabel("value")
    fig.suptitle(f"{name}: one-step predictions and the free-running forecast")
    fig.legend(*top.get_legend_handles_labels(), loc="outside lower center", ncols=4, fontsize="small")
    top.grid(True, alpha=0.3)
    bottom.set_ylabel("prediction - truth")
    bottom.set_xlabel("t: position on the series (training targets, then validation targets, "
                      "then the forecast)")
    bottom.grid(True, alpha=0.3)
    return fig


def save_sine(result, path: str | os.PathLike) -> Path:
    """Write the sine task's predictions as a PNG: on the series' position axis t, the training
    windows' predictions, the validation windows' predictions and the free-running forecast as
    markers (artifacts ``train_pred``, ``val_pred``, ``forecast``, each (n,), at positions
    ``train_t``, ``val_t``, ``forecast_t``) against the truth drawn as a smooth curve from dense
    samples (``curve_t``, ``curve``, (M,)), with the errors pred - true (``train_true``,
    ``val_true``, ``forecast_true``) below. Returns ``path``."""
    path = png_path(path)
    return save_figure(_sine_figure(result), path)


# ---------------------------------------------------------------------------------------------
# binary addition: the hidden units against the carry
# ---------------------------------------------------------------------------------------------
def _addition_rows(a: int, b: int, bits: int) -> dict[str, np.ndarray]:
    """Bits of a, b and a + b least significant first, and the carry out of each position:
    s_t = a_t + b_t + c_t, sum bit s_t mod 2, carry c_{t+1} = s_t div 2 (c_0 = 0). Each (bits,)."""
    rows = {key: np.zeros(bits, np.int64) for key in ("a", "b", "carry out", "a + b")}  # (T,)
    carry = 0
    for t in range(bits):
        a_t, b_t = (a >> t) & 1, (b >> t) & 1
        total = a_t + b_t + carry
        carry = total >> 1
        rows["a"][t], rows["b"][t] = a_t, b_t
        rows["carry out"][t], rows["a + b"][t] = carry, total & 1
    return rows


def _addition_states(model, a: int, b: int, bits: int):
    """Run the addition model on one sum. Returns units (U, T), the top layer's hidden state after
    each step (every direction stacked), logits (T,), the output before the sigmoid, and the
    exact bit rows of ``_addition_rows``."""
    config = getattr(model, "config", None)
    rnn = getattr(model, "rnn", None)
    if config is None or rnn is None or not hasattr(rnn, "sequence_states"):
        raise ValueError(f"expected a SequenceModel with a recurrent core, got {type(model).__name__}")
    if config.input_size != 2 or config.vocab_size is not None:
        raise ValueError(f"the addition model must read 2 bits per step (input_size=2), got "
                         f"input_size={config.input_size}, vocab_size={config.vocab_size}")
    if config.head != "all" or model.output_size != 1:
        raise ValueError(f"the addition model must emit one logit per step (head='all', output_size=1), got "
                         f"head={config.head!r}, output_size={model.output_size}")
    rows = _addition_rows(a, b, bits)
    x = np.zeros((bits, 1, 2), model.dtype)  # (T, 1, 2) least significant bit first
    x[:, 0, 0] = rows["a"]
    x[:, 0, 1] = rows["b"]
    was_training = model.training
    model.train(False)
    try:
        y, _, cache = model.forward(x)  # (T, 1, 1)
    finally:
        model.train(was_training)
    h = rnn.sequence_states(cache.rnn)[0]  # (L*D, T, 1, H)
    D = rnn.num_directions
    top = h[-D:, :, 0, :]  # (D, T, H)
    units = np.transpose(top, (0, 2, 1)).reshape(-1, bits)  # (D*H, T)
    return units, y[:, 0, 0], rows


def _label_ticks(axis_setter, n: int) -> None:
    if n <= MAX_LABELLED_TICKS:
        axis_setter(np.arange(n))


def _addition_figure(model, a, b, bits):
    a, b = check_int("a", a, low=0), check_int("b", b, low=0)
    need = max(1, (a + b).bit_length())
    if bits is None:
        bits = need
    elif not is_int(bits) or bits < need:
        raise ValueError(f"bits must be an integer >= {need} to hold a + b = {a + b}, got {bits!r}")
    bits = int(bits)
    units, logits, rows = _addition_states(model, a, b, bits)
    predicted = (logits > 0).astype(np.int64)  # (T,)
    rows["model"] = predicted
    said = sum(int(bit) << t for t, bit in enumerate(predicted))
    table = np.stack(list(rows.values()))  # (5, T)

    fig = _new_figure("addition_hidden")
    heights = [len(rows), max(units.shape[0], len(rows))]
    grid = fig.add_gridspec(2, 2, width_ratios=[40, 1], height_ratios=heights)
    ax_bits = fig.add_subplot(grid[0, 0])
    ax_units = fig.add_subplot(grid[1, 0], sharex=ax_bits)
    ax_bar = fig.add_subplot(grid[1, 1])

    ax_bits.imshow(table, cmap="Greys", vmin=-0.4, vmax=1.6, aspect="auto", interpolation="nearest")
    wrong = predicted != rows["a + b"]  # (T,)
    for r in range(table.shape[0]):
        for t in range(bits):
            colour = "white" if table[r, t] else "black"
            if r == table.shape[0] - 1 and wrong[t]:
                colour = "tab:red"
            ax_bits.text(t, r, str(table[r, t]), ha="center", va="center", color=colour, fontsize="small")
    ax_bits.set_yticks(np.arange(len(rows)), list(rows))
    ax_bits.tick_params(labelbottom=False)
    verdict = "right" if said == a + b else "wrong, in red"
    ax_bits.set_title(f"binary addition {a} + {b} = {a + b}: the model says {said} ({verdict})")

    lo = -1.0 if units.min() < 0 else 0.0  # tanh units live in [-1, 1], sigmoid units in [0, 1]
    hi = max(1.0, float(units.max()))
    image = ax_units.imshow(units, cmap="viridis", vmin=lo, vmax=hi, aspect="auto", interpolation="nearest")
    fig.colorbar(image, cax=ax_bar, label="activation")
    ax_units.set_ylabel("hidden unit")
    ax_units.set_xlabel("bit position = time step (least significant bit first)")
    _label_ticks(ax_units.set_xticks, bits)
    _label_ticks(ax_units.set_yticks, units.shape[0])
    return fig


def _addition_example_figure(result):
    """The hidden-unit figure of the trained ``artifacts["model"]`` on the sum ``ADDITION_EXAMPLE``."""
    model = _mapping(result, "artifacts").get("model")
    if model is None:
        raise ValueError(f"{_result_name(result)} has no 'model' artifact; the hidden-unit figure needs the "
                         "trained model")
    a, b = ADDITION_EXAMPLE
    return _addition_figure(model, a, b, None)


def save_addition_hidden(model, a: int, b: int, path: str | os.PathLike, bits: int | None = None) -> Path:
    """Write the hidden units of the addition model while it sums ``a + b`` as a PNG heatmap
    (units x bit position), under the rows a, b, carry out (c_{t+1} = (a_t + b_t + c_t) div 2,
    computed exactly), a + b and the model's bits (logit > 0). The model is a SequenceModel with
    input (T, 1, 2) bits least significant first and one logit per step; it runs in evaluation
    mode for ``bits`` steps (default: the bits of a + b). Returns ``path``."""
    path = png_path(path)
    return save_figure(_addition_figure(model, a, b, bits), path)


# ---------------------------------------------------------------------------------------------
# binary to decimal: the loss surface and the Rprop path
# ---------------------------------------------------------------------------------------------
def _surface_axes(path: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Grids (n,) of w_x and w_rec covering the path (k, 2) and the optimum with a margin of
    ``SURFACE_MARGIN`` times the widest span (at least 1)."""
    points = np.vstack([path, BINARY_OPTIMUM])  # (k+1, 2)
    lo, hi = points.min(axis=0), points.max(axis=0)  # (2,)
    pad = SURFACE_MARGIN * max(float(np.max(hi - lo)), 1.0)
    return np.linspace(lo[0] - pad, hi[0] + pad, n), np.linspace(lo[1] - pad, hi[1] + pad, n)  # (n,), (n,)


def _binary_inputs(result) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    name = _result_name(result)
    artifacts = _mapping(result, "artifacts")
    missing = [key for key in ("path", "x", "values") if key not in artifacts]
    if missing:
        raise ValueError(f"{name} lacks the artifact(s) {missing}; expected path (n, 2), x (bits, N, 1), "
                         f"values (N,)")
    path = np.asarray(artifacts["path"], dtype=np.float64)  # (k, 2)
    x = np.asarray(artifacts["x"], dtype=np.float64)  # (bits, N, 1)
    values = np.asarray(artifacts["values"], dtype=np.float64)  # (N,)
    if path.ndim != 2 or path.shape[1] != 2 or path.shape[0] == 0 or not np.all(np.isfinite(path)):
        raise ValueError(f"artifact 'path' must hold finite (w_x, w_rec) pairs, shape (n, 2), got shape "
                         f"{path.shape}")
    if x.ndim != 3 or x.shape[2] != 1 or values.shape != (x.shape[1],):
        raise ValueError(f"artifacts 'x' (bits, N, 1) and 'values' (N,) disagree: got {x.shape} and "
                         f"{values.shape}")
    return path, x, values


def _decade_levels(lo: float, hi: float) -> np.ndarray:
    """Contour levels in log10 units from floor(lo) to ceil(hi), in the finest step of 0.1, 0.2,
    0.25, 0.5, 1, 2, 5, ... decades that gives at most ``SURFACE_LEVELS`` bands."""
    start, stop = float(np.floor(lo)), float(np.ceil(hi))
    stop = max(stop, start + 1.0)
    steps = [m * 10.0**e for e in range(-1, 4) for m in (1.0, 2.0, 2.5, 5.0)]
    step = next((s for s in steps if (stop - start) / s <= SURFACE_LEVELS), (stop - start) / SURFACE_LEVELS)
    return start + step * np.arange(int(round((stop - start) / step)) + 1)  # (levels,)


def _surface_figure(result, grid: int = SURFACE_GRID):
    name = _result_name(result)
    path, x, values = _binary_inputs(result)
    wx, wrec = _surface_axes(path, grid)
    with np.errstate(over="ignore", invalid="ignore"):  # far from the path w_rec**bits may overflow
        mse = loss_surface(x, values, wx, wrec)  # (grid, grid)
    finite = mse[np.isfinite(mse)]  # (m,)
    positive = finite[finite > 0]  # (p,)
    floor = positive.min() if positive.size else 1.0
    ceiling = finite.max() if finite.size else floor
    # the optimum has loss 0: floor the surface at its smallest positive value before the log
    mse = np.nan_to_num(mse, nan=ceiling, posinf=ceiling)  # (grid, grid)
    z = np.log10(np.clip(mse, floor, max(ceiling, floor)))  # (grid, grid)
    levels = _decade_levels(float(z.min()), float(z.max()))  # (levels,)
    decades = levels[np.isclose(levels, np.round(levels))]  # (d,)
    ticks = decades[:: max(1, int(np.ceil(decades.size / SURFACE_TICKS)))]  # (k,)

    fig = _new_figure("binary_surface")
    ax = fig.add_subplot()
    filled = ax.contourf(wx, wrec, z, levels=levels, cmap="viridis")
    ax.contour(wx, wrec, z, levels=decades, colors="white", linewidths=0.4, alpha=0.6)
    bar = fig.colorbar(filled, ax=ax, label="mean squared error (log scale)")
    bar.set_ticks(ticks, labels=[f"$10^{{{int(round(k))}}}$" for k in ticks])
    ax.plot(path[:, 0], path[:, 1], color="tab:orange", lw=1.2,
            label=f"Rprop path ({path.shape[0] - 1} steps)")
    ax.plot(path[0, 0], path[0, 1], "o", color="tab:orange", mec="black", label="start")
    ax.plot(path[-1, 0], path[-1, 1], "s", color="tab:orange", mec="black",
            label=f"end ({path[-1, 0]:.4g}, {path[-1, 1]:.4g})")
    ax.plot(*BINARY_OPTIMUM, "*", color="tab:red", mec="white", ms=14, label="optimum (1, 2)")
    ax.set_xlabel("input weight $w_x$")
    ax.set_ylabel("recurrent weight $w_{rec}$")
    ax.set_title(f"{name}: loss surface and Rprop path")
    # the path climbs from (1, 1) to (1, 2) along the left, so the lower right is usually free
    ax.legend(loc="lower right", fontsize="small", framealpha=0.9)
    return fig


def save_binary_surface(result, path: str | os.PathLike, grid: int = SURFACE_GRID) -> Path:
    """Write the binary-to-decimal loss surface as a PNG: log10 of the MSE of s_n against the values
    over a ``grid`` x ``grid`` mesh of (w_x, w_rec) around the Rprop path (artifacts ``path`` (n, 2),
    ``x`` (bits, N, 1), ``values`` (N,); ``loss_surface``), with the path and the optimum (1, 2)
    drawn on it. Returns ``path``."""
    path = png_path(path)
    grid = check_int("grid", grid, low=2)
    return save_figure(_surface_figure(result, grid), path)


# ---------------------------------------------------------------------------------------------
# sequence to sequence: the attention of one decoded target
# ---------------------------------------------------------------------------------------------
ATTENTION_ARTIFACTS = ("attention", "attention_source", "attention_target")  # (T, S), S labels, T labels


def _attention_figure(result):
    artifacts = _mapping(result, "artifacts")
    missing = [k for k in ATTENTION_ARTIFACTS if k not in artifacts]
    if missing:
        raise ValueError(f"{_result_name(result)} has no {missing} artifact(s) for its attention figure; "
                         f"its artifacts are {sorted(artifacts)}")
    weights, source, target = (artifacts[k] for k in ATTENTION_ARTIFACTS)
    title = f"{_result_name(result)}: attention of one held-out sequence"
    return attention_figure(weights, list(source), list(target), title, FIGSIZES["attention"])


# ---------------------------------------------------------------------------------------------
# every figure of a task
# ---------------------------------------------------------------------------------------------
class FigureKind(NamedTuple):
    """A figure drawn from a task result: the file is ``<name>-<suffix>.png`` and ``draw(result)``
    builds it (raising ValueError when the result lacks what it needs)."""

    suffix: str
    draw: Callable[[Any], Any]


# kind (a key of FIGSIZES) -> the figure; a task lists the kinds it has in TaskResult.figures
FIGURES: dict[str, FigureKind] = {
    "binary_surface": FigureKind("surface", _surface_figure),
    "addition_hidden": FigureKind("hidden", _addition_example_figure),
    "sine": FigureKind("predictions", _sine_figure),
    "attention": FigureKind("attention", _attention_figure),
}


def _figure_kinds(result) -> tuple[str, ...]:
    kinds = getattr(result, "figures", None)
    if not isinstance(kinds, (list, tuple)):
        raise ValueError(f"expected a TaskResult whose figures is a list of figure kinds, got "
                         f"{type(kinds).__name__}")
    unknown = [k for k in kinds if k not in FIGURES]
    if unknown:
        raise ValueError(f"{_result_name(result)} lists unknown figure kind(s) {unknown}; expected kinds of "
                         f"FIGURES: {', '.join(FIGURES)}")
    return tuple(kinds)


def _file_stem(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)


def save_task_plots(result: Any, folder: str | os.PathLike) -> list[Path]:
    """Write every figure of a task result into ``folder`` (created if needed) and return the paths:
    ``<name>-loss.png`` always, then ``<name>-<suffix>.png`` for each kind ``result.figures`` lists
    (``FIGURES``: ``-surface.png``, ``-hidden.png``, ``-predictions.png``, ``-attention.png``).
    Every figure is built before any file is written, so a result that lacks what one of them needs
    leaves nothing behind."""
    require_matplotlib()  # fail before reading the result
    stem = _file_stem(_result_name(result))
    kinds = _figure_kinds(result)
    built = [(f"{stem}-loss.png", _loss_figure(result))]
    built += [(f"{stem}-{FIGURES[k].suffix}.png", FIGURES[k].draw(result)) for k in kinds]
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return [save_figure(fig, folder / name) for name, fig in built]
