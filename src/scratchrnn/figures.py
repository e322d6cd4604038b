"""What every figure shares: matplotlib on an Agg canvas, PNG files written atomically, and curves
of noisy per-step values drawn raw (faint) under their running mean.

matplotlib is an optional extra (``pip install scratchrnn[plot]``). This is the only module that
imports it, inside the functions, so the rest of the package never needs it; asking for a figure
without it raises :class:`PlotUnavailable`.

Figures are built with matplotlib's object API on an Agg canvas: pyplot is never imported, so no
global backend is switched (a user's interactive session is left alone), no window opens and no
figure is registered in pyplot's list of open figures; each figure is cleared once written.
Every file is written atomically through :func:`scratchrnn.io.atomic_path`: a reader sees the
previous PNG or the new one, never half of one, and a failed save leaves no temporary file.
A PNG is its figure's size in inches at ``DPI`` pixels per inch (no tight bounding box), so its
size in pixels is known in advance.

Smoothing. A per-step loss or gradient norm is noisy; :func:`smooth` is the centred running mean

    s_i = mean(v_j for |j - i| <= k_i),   k_i = min(k, i, n - 1 - i),

over a window of ``2k + 1`` steps (``smoothing_window``: about ``SMOOTH_FRACTION`` of the run,
odd), narrowed symmetrically at the ends so that no end is pulled towards the middle of the run;
non-finite values are left out of every mean. On a log axis the mean is taken of log10(v), a
geometric mean, so one large early value does not dominate its neighbours.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .io import atomic_path

__all__ = [
    "DPI",
    "LOG_SCALE_DECADES",
    "SMOOTH_FRACTION",
    "PlotUnavailable",
    "draw_smoothed",
    "marker_size",
    "matplotlib_available",
    "new_figure",
    "png_path",
    "require_matplotlib",
    "save_figure",
    "shown_on",
    "smooth",
    "smoothing_window",
    "use_log_scale",
]

UNAVAILABLE_MESSAGE = "matplotlib is not installed; install scratchrnn[plot] for figures"

DPI = 100  # pixels per inch of every PNG
LOG_SCALE_DECADES = 2.0  # values whose positive part spans more than this many decades get a log y axis
SMOOTH_FRACTION = 0.02  # the running mean spans about this share of the steps
MIN_SMOOTH_WINDOW = 5  # fewer steps in the window than this: the raw curve is drawn alone
RAW_ALPHA = 0.3  # opacity of the raw curve under its running mean
MARKER_SIZES = (4.0, 2.5)  # points of a marker among few / among many markers
MANY_MARKERS = 60  # more markers than this on one axis: the smaller size, so the curve shows between them


class PlotUnavailable(RuntimeError):
    """A figure was asked for but matplotlib is not installed."""


def _matplotlib():
    """The (Figure, FigureCanvasAgg) classes, or PlotUnavailable when matplotlib cannot be imported."""
    try:
        # the package itself first, so that a blocked top-level import fails here even when
        # some of its submodules are already loaded
        import matplotlib  # noqa: F401
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise PlotUnavailable(UNAVAILABLE_MESSAGE) from exc
    return Figure, FigureCanvasAgg


def matplotlib_available() -> bool:
    """True when matplotlib can be imported, i.e. when figures can be drawn."""
    try:
        require_matplotlib()
    except PlotUnavailable:
        return False
    return True


def require_matplotlib() -> None:
    """Raise PlotUnavailable unless matplotlib can be imported (before any work a figure needs)."""
    _matplotlib()


def new_figure(figsize: tuple[float, float]):
    """An empty figure of ``figsize`` (width, height) inches on its own Agg canvas, never known to
    pyplot; PlotUnavailable without matplotlib."""
    Figure, FigureCanvasAgg = _matplotlib()
    fig = Figure(figsize=figsize, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def png_path(path: str | os.PathLike) -> Path:
    """``path`` as a Path, or ValueError when it does not end in ``.png``."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"figure path must end in .png, got {str(path)!r}")
    return path


def save_figure(fig, path: Path) -> Path:
    """Write ``fig`` to ``path`` as a PNG atomically, then clear it (also when writing fails)."""
    try:
        with atomic_path(path) as temp:
            # the temporary name ends in .tmp, so the format is given explicitly
            fig.savefig(temp, format="png", dpi=DPI)
    finally:
        fig.clear()
    return path


# ---------------------------------------------------------------------------------------------
# axes and smoothing
# ---------------------------------------------------------------------------------------------
def use_log_scale(values: np.ndarray) -> bool:
    """Log y axis when the finite values are all >= 0 and the positive ones span more than
    ``LOG_SCALE_DECADES`` decades: log10(max / min) > LOG_SCALE_DECADES."""
    values = np.asarray(values, dtype=np.float64)  # (n,)
    finite = values[np.isfinite(values)]  # (m,)
    if finite.size == 0 or np.any(finite < 0):
        return False
    positive = finite[finite > 0]  # (p,)
    if positive.size < 2:
        return False
    return bool(np.log10(positive.max()) - np.log10(positive.min()) > LOG_SCALE_DECADES)


def shown_on(values: np.ndarray, log: bool) -> np.ndarray:
    """The values as drawn: on a log axis the ones <= 0 become gaps (NaN) rather than points that
    matplotlib would clip to a tiny value."""
    values = np.asarray(values, dtype=np.float64)  # (n,)
    if not log:
        return values
    with np.errstate(invalid="ignore"):
        return np.where(values > 0, values, np.nan)  # (n,)


def marker_size(n: int) -> float:
    """The size of each of ``n`` markers: ``MARKER_SIZES[0]``, or ``MARKER_SIZES[1]`` when there
    are more than ``MANY_MARKERS`` of them (a validation every epoch of a long run)."""
    return MARKER_SIZES[0] if n <= MANY_MARKERS else MARKER_SIZES[1]


def smoothing_window(n: int) -> int:
    """The odd number of steps the running mean of ``n`` steps spans: about SMOOTH_FRACTION * n."""
    half = int(round(SMOOTH_FRACTION * n / 2))
    return 2 * half + 1


def smooth(values: np.ndarray, window: int, log: bool = False) -> np.ndarray:
    """The centred running mean (n,) of ``values`` (n,) over ``window`` steps (odd; see the module
    docstring), narrowed symmetrically at both ends, non-finite values left out (a mean of none
    is NaN). ``log``: the mean of log10 of the positive values, mapped back (a geometric mean)."""
    if isinstance(window, bool) or not isinstance(window, int) or window < 1 or window % 2 == 0:
        raise ValueError(f"window must be an odd positive integer, got {window!r}")
    v = np.asarray(values, dtype=np.float64).reshape(-1)  # (n,)
    if log:
        with np.errstate(divide="ignore", invalid="ignore"):
            v = np.where(v > 0, np.log10(np.where(v > 0, v, 1.0)), np.nan)  # (n,)
    n = v.size
    ok = np.isfinite(v)  # (n,)
    sums = np.concatenate([[0.0], np.cumsum(np.where(ok, v, 0.0))])  # (n + 1,)
    counts = np.concatenate([[0], np.cumsum(ok)])  # (n + 1,)
    i = np.arange(n)  # (n,)
    k = np.minimum(np.minimum(window // 2, i), n - 1 - i)  # (n,) half-width at each step
    total = sums[i + k + 1] - sums[i - k]  # (n,)
    count = counts[i + k + 1] - counts[i - k]  # (n,)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)  # (n,)
    return 10.0**mean if log else mean  # (n,)


def draw_smoothed(ax, steps: np.ndarray, values: np.ndarray, color: str, label: str,
                  log: bool = False) -> int:
    """Draw ``values`` (n,) against ``steps`` (n,) on ``ax``: faint and thin as recorded, with their
    running mean (``smooth``) on top labelled ``label`` plus its window; with fewer than
    ``MIN_SMOOTH_WINDOW`` steps in the window only the raw curve is drawn, labelled ``label``.
    Returns the window used (1: no smoothing)."""
    values = shown_on(values, log)  # (n,)
    window = smoothing_window(values.size)
    if window < MIN_SMOOTH_WINDOW:
        ax.plot(steps, values, color=color, lw=1.2, marker="o" if values.size == 1 else None, label=label)
        return 1
    ax.plot(steps, values, color=color, lw=0.6, alpha=RAW_ALPHA, label="_raw")
    ax.plot(steps, smooth(values, window, log=log), color=color, lw=1.6,
            label=f"{label}, mean over {window} steps")
    return window
