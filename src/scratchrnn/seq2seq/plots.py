"""The attention of one decoded target as a heatmap (the plot extra): target steps down, source
steps across, each cell the weight the decoder put on that source step; written atomically as a
PNG (``scratchrnn.figures``)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..figures import new_figure, png_path, save_figure

__all__ = ["attention_figure", "save_attention"]

MAX_LABELLED = 60  # steps beyond which the axes show numbers instead of symbols


def attention_figure(weights, source: Sequence[str] | None = None, target: Sequence[str] | None = None,
                     title: str = "attention", figsize: tuple[float, float] | None = None):
    """The heatmap of ``weights`` (T, S) as a figure on its own canvas (see :func:`save_attention`);
    ``figsize`` (width, height) in inches, None: about a quarter inch per step."""
    w = np.asarray(weights, np.float64)
    if w.ndim != 2 or 0 in w.shape or not np.all(np.isfinite(w)):
        raise ValueError(f"attention weights must be a finite (T, S) array with T, S >= 1, "
                         f"got shape {w.shape}")
    T, S = w.shape
    for what, labels, n in (("source", source, S), ("target", target, T)):
        if labels is not None and len(labels) != n:
            raise ValueError(f"{what} has {len(labels)} labels for the {n} {what} steps of the weights")
    fig = new_figure(figsize or (max(4.0, 0.28 * S + 2.0), max(3.0, 0.28 * T + 1.5)))
    ax = fig.add_subplot()
    image = ax.imshow(w, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto", interpolation="nearest")
    fig.colorbar(image, ax=ax, label="weight")
    if source is not None and S <= MAX_LABELLED:
        ax.set_xticks(range(S), [repr(s)[1:-1] for s in source])
    if target is not None and T <= MAX_LABELLED:
        ax.set_yticks(range(T), [repr(s)[1:-1] for s in target])
    ax.set_xlabel("source step")
    ax.set_ylabel("target step")
    ax.set_title(title)
    return fig


def save_attention(path: str | os.PathLike, weights, source: Sequence[str] | None = None,
                   target: Sequence[str] | None = None, title: str = "attention") -> Path:
    """``weights`` (T, S) (a ``Hypothesis.attention``) as a heatmap; ``source`` and ``target``
    label the columns and rows (S and T symbols; a finished target's last row is its EOS)."""
    path = png_path(path)
    return save_figure(attention_figure(weights, source, target, title), path)
