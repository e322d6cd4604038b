"""The figure of a training log: loss, validation loss, learning rate and gradient norm in one PNG.

A training log is the JSON-lines file the trainer writes (``TrainConfig.log_path``; ``scratchrnn
train`` writes ``log.jsonl`` in its run folder), one JSON object per line:

* a training step has ``step`` (an integer) and ``loss`` (a number), and usually ``grad_norm``
  and ``lr``;
* a validation has ``step`` and ``val_loss``;
* an event (a record with ``event``: a learning-rate change, a sample, the best weights restored,
  whose ``val_loss`` repeats an earlier validation) and any other kind of record is passed over,
  and so are blank lines.

:func:`read_training_log` reads it strictly: a line that is not a JSON object, a step or loss that
is not a number, or steps that go backwards (two runs in one file) are a ValueError naming the
file, the line and what was expected; so is a log without a single training step. Nothing but
the numbers is kept, so a log of millions of steps costs a few arrays.

:func:`save_log_plot` draws three panels over the training step (:mod:`scratchrnn.figures`):
the training loss raw and faint under its running mean with the validation losses as markers,
the learning rate, and the gradient norm raw under its running mean; the loss or the norm gets a
log axis when its values span more than ``figures.LOG_SCALE_DECADES`` decades, the rate never (a
schedule reads on a linear axis).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .figures import (
    draw_smoothed,
    marker_size,
    new_figure,
    png_path,
    require_matplotlib,
    save_figure,
    shown_on,
    use_log_scale,
)
from .io.errors import check_readable
from .io.limits import loads_json

__all__ = ["LOG_FIGSIZE", "MAX_LOG_LINE_BYTES", "TrainingLog", "read_training_log", "save_log_plot"]

LOG_FIGSIZE = (9.0, 8.0)  # inches; the PNG is 900 x 800 pixels
MAX_LOG_LINE_BYTES = 1 << 20  # the longest line read: a step record is ~150 bytes, a sample a few kB


@dataclass
class TrainingLog:
    """The numbers of a training log: per training step (n,) and per validation (m,). A field a
    step record lacks is NaN.

    Attributes:
        path (Path): the file the log was read from.
        step (np.ndarray): (n,) int64, the training steps, increasing.
        loss (np.ndarray): (n,) the training loss of each step.
        lr (np.ndarray): (n,) the learning rate of each step (NaN where not recorded).
        grad_norm (np.ndarray): (n,) the gradients' global norm before clipping (NaN where not recorded).
        val_step (np.ndarray): (m,) int64, the step of each validation, never decreasing.
        val_loss (np.ndarray): (m,) the validation losses.
    """

    path: Path
    step: np.ndarray  # (n,) int64, increasing
    loss: np.ndarray  # (n,)
    lr: np.ndarray  # (n,)
    grad_norm: np.ndarray  # (n,)
    val_step: np.ndarray  # (m,) int64, never decreasing
    val_loss: np.ndarray  # (m,)


def _number(record: dict, key: str, where: str, required: bool) -> float:
    value = record.get(key)
    if value is None and not required:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{where}: {key!r} must be a number, got {value!r}")
    return float(value)


def _step(record: dict, where: str, after: int | None, strictly: bool) -> int:
    value = record.get("step")
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{where}: 'step' must be an integer >= 0, got {value!r}")
    if after is not None and (value < after or (strictly and value == after)):
        raise ValueError(f"{where}: step {value} comes after step {after}; expected the log of one run, "
                         "its steps increasing")
    return value


def _lines(path: Path):
    """(line number, bytes) of each non-blank line, none longer than MAX_LOG_LINE_BYTES."""
    with open(path, "rb") as f:
        number = 0
        while True:
            line = f.readline(MAX_LOG_LINE_BYTES + 1)
            if not line:
                return
            number += 1
            if len(line) > MAX_LOG_LINE_BYTES:
                raise ValueError(f"{path} line {number} is longer than {MAX_LOG_LINE_BYTES} bytes "
                                 "(MAX_LOG_LINE_BYTES); expected a training log of short JSON lines")
            if line.strip():
                yield number, line


def read_training_log(path: str | os.PathLike) -> TrainingLog:
    """Read a JSON-lines training log (see the module docstring for what it holds and what is
    refused). Missing: FileNotFoundError; anything else wrong: ValueError naming ``path``."""
    path = Path(path)
    check_readable(path, "training log")
    steps, losses, lrs, norms, val_steps, val_losses = [], [], [], [], [], []
    for number, line in _lines(path):
        where = f"{path} line {number}"
        record = loads_json(line, where)
        if not isinstance(record, dict):
            raise ValueError(f"{where} is a JSON {type(record).__name__}, expected an object (a record)")
        if "event" in record:
            continue
        if "loss" in record:
            steps.append(_step(record, where, steps[-1] if steps else None, strictly=True))
            losses.append(_number(record, "loss", where, required=True))
            lrs.append(_number(record, "lr", where, required=False))
            norms.append(_number(record, "grad_norm", where, required=False))
        if "val_loss" in record:
            val_steps.append(_step(record, where, val_steps[-1] if val_steps else None, strictly=False))
            val_losses.append(_number(record, "val_loss", where, required=True))
    if not steps:
        raise ValueError(f"{path} holds no training step (a line with 'step' and 'loss'); expected the "
                         "JSON-lines log of a training run, such as the log.jsonl scratchrnn train writes")
    as_float = lambda values: np.asarray(values, dtype=np.float64)  # noqa: E731
    return TrainingLog(path, np.asarray(steps, np.int64), as_float(losses), as_float(lrs), as_float(norms),
                       np.asarray(val_steps, np.int64), as_float(val_losses))


def _finish_panel(ax, values: np.ndarray, ylabel: str, missing: str, log_ok: bool = True) -> None:
    """Axis scale (log when ``log_ok`` and ``use_log_scale``), label and grid of a panel; a note in
    place of a curve the log does not have."""
    if not np.any(np.isfinite(values)):
        ax.text(0.5, 0.5, missing, transform=ax.transAxes, ha="center", va="center", color="0.4")
    if log_ok and use_log_scale(values):
        ax.set_yscale("log")
        ylabel += " (log scale)"
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)


def _log_figure(log: TrainingLog):
    fig = new_figure(LOG_FIGSIZE)
    ax_loss, ax_lr, ax_norm = fig.subplots(3, 1, sharex=True, height_ratios=[2.2, 1.0, 1.3])
    step = log.step.astype(np.float64)  # (n,)

    both = np.concatenate([log.loss, log.val_loss])  # (n + m,)
    log_loss = use_log_scale(both)
    draw_smoothed(ax_loss, step, log.loss, "C0", f"training (last {log.loss[-1]:.4g})", log=log_loss)
    if log.val_loss.size:
        best = int(np.nanargmin(log.val_loss)) if np.any(np.isfinite(log.val_loss)) else -1
        label = f"validation (last {log.val_loss[-1]:.4g}"
        label += f", best {log.val_loss[best]:.4g} at step {log.val_step[best]})" if best >= 0 else ")"
        ax_loss.plot(log.val_step, shown_on(log.val_loss, log_loss), color="C1", ls="none", marker="o",
                     ms=marker_size(log.val_loss.size),
                     zorder=3, label=label)
    _finish_panel(ax_loss, both, "loss", "no finite loss in the log")
    ax_loss.legend(loc="upper right", fontsize="small")

    rates = np.unique(log.lr[np.isfinite(log.lr)])  # (k,)
    # the rate on a linear axis, as schedules are drawn: a cosine's tail towards 0 would take
    # most of a log axis and make its shape unreadable
    ax_lr.plot(step, log.lr, color="C2", lw=1.2,
               label=f"constant {rates[0]:.4g}" if rates.size == 1 else "_rate")
    if rates.size == 1:
        ax_lr.legend(loc="upper right", fontsize="small")
    _finish_panel(ax_lr, log.lr, "learning rate", "no learning rate in the log", log_ok=False)

    log_norm = use_log_scale(log.grad_norm)
    if np.any(np.isfinite(log.grad_norm)):
        draw_smoothed(ax_norm, step, log.grad_norm, "C4", "gradient norm", log=log_norm)
        ax_norm.legend(loc="upper right", fontsize="small")
    _finish_panel(ax_norm, log.grad_norm, "gradient norm", "no gradient norm in the log")
    ax_norm.set_xlabel("training step")

    evals = f", {log.val_loss.size:,} validations" if log.val_loss.size else ", no validation"
    fig.suptitle(f"{log.path}: {log.step.size:,} training steps{evals}", fontsize="medium")
    return fig


def save_log_plot(log: TrainingLog | str | os.PathLike, path: str | os.PathLike) -> Path:
    """Draw a training log (a :class:`TrainingLog` or the path of one, read with
    :func:`read_training_log`) as one PNG of ``LOG_FIGSIZE`` inches at ``figures.DPI`` and write it
    atomically to ``path`` (which must end in ``.png``). PlotUnavailable without matplotlib,
    before the log is read. Returns ``path``."""
    path = png_path(path)
    require_matplotlib()
    if not isinstance(log, TrainingLog):
        log = read_training_log(log)
    return save_figure(_log_figure(log), path)
