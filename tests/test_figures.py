"""scratchrnn.figures: the running mean against a plain loop, the log-scale rule, raw and smoothed
curves, figures of the promised size saved atomically, and PlotUnavailable without matplotlib."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

from scratchrnn import figures


def plain_smooth(values, window, log=False):
    """The running mean of the module docstring, one step at a time in plain Python."""
    n, half, out = len(values), window // 2, []
    for i in range(n):
        k = min(half, i, n - 1 - i)
        near = [values[j] for j in range(i - k, i + k + 1)]
        if log:
            near = [math.log10(v) for v in near if math.isfinite(v) and v > 0]
        else:
            near = [v for v in near if math.isfinite(v)]
        mean = sum(near) / len(near) if near else math.nan
        out.append(10.0**mean if log and near else mean)
    return out


# -- smoothing ---------------------------------------------------------------------------------
@pytest.mark.parametrize("window", [1, 3, 7, 31, 201])
@pytest.mark.parametrize("log", [False, True])
def test_smooth_matches_a_plain_loop(window, log):
    rng = np.random.default_rng(window)
    values = np.exp(rng.standard_normal(120))  # (120,) positive, so the log mean is defined
    values[[5, 6, 60]] = [np.nan, np.inf, np.nan]
    if log:
        values[30] = 0.0  # no logarithm: left out like a non-finite value
    got = figures.smooth(values, window, log=log)
    np.testing.assert_allclose(got, plain_smooth(values.tolist(), window, log), rtol=1e-12, atol=0)


def test_smooth_keeps_a_straight_line_and_its_ends():
    # a window centred on every step (narrowed at both ends alike) reproduces a line exactly,
    # so a falling loss is not pulled up at the start nor down at the end
    line = 5.0 - 0.01 * np.arange(300)  # (300,)
    np.testing.assert_allclose(figures.smooth(line, 21), line, rtol=0, atol=1e-12)
    geometric = 10.0 ** (-np.arange(50) / 10.0)  # (50,) a straight line on a log axis
    np.testing.assert_allclose(figures.smooth(geometric, 9, log=True), geometric, rtol=1e-12)


def test_smooth_lowers_the_noise_and_a_gap_of_values_stays_a_gap():
    rng = np.random.default_rng(0)
    noisy = 1.0 + 0.2 * rng.standard_normal(2000)  # (2000,)
    smoothed = figures.smooth(noisy, 41)
    assert np.std(smoothed[20:-20] - 1.0) < np.std(noisy - 1.0) / 4
    values = np.ones(10)
    values[3:8] = np.nan
    assert np.isnan(figures.smooth(values, 3)[5])  # nothing finite within one step of step 5


@pytest.mark.parametrize("window", [0, 2, -1, 3.0, None, True])
def test_smooth_needs_an_odd_positive_window(window):
    with pytest.raises(ValueError, match="window must be an odd positive integer"):
        figures.smooth(np.ones(5), window)


def test_smoothing_window_is_odd_and_a_small_share_of_the_run():
    for n in (1, 10, 99, 250, 600, 1000, 12345, 10**6):
        w = figures.smoothing_window(n)
        assert w % 2 == 1 and w >= 1
        assert abs(w - figures.SMOOTH_FRACTION * n) <= 2
    assert figures.smoothing_window(10) == 1  # short runs are not smoothed


# -- axes --------------------------------------------------------------------------------------
def test_log_scale_rule():
    span = 10.0 ** (figures.LOG_SCALE_DECADES + 0.5)
    assert figures.use_log_scale(np.array([span, 1.0]))
    assert not figures.use_log_scale(np.array([10.0 ** (figures.LOG_SCALE_DECADES - 0.5), 1.0]))
    # zeros and non-finite values neither decide nor block the log axis
    assert figures.use_log_scale(np.array([span, 0.0, np.nan, np.inf, 1.0]))
    # a negative value cannot be drawn on a log axis
    assert not figures.use_log_scale(np.array([span, 1.0, -1.0]))
    assert not figures.use_log_scale(np.array([0.0, 0.0]))
    assert not figures.use_log_scale(np.array([5.0]))
    assert not figures.use_log_scale(np.array([]))


def test_shown_on_a_log_axis_leaves_gaps():
    values = np.array([1.0, 0.0, -2.0, np.nan, 3.0])
    np.testing.assert_array_equal(figures.shown_on(values, False), values)
    np.testing.assert_array_equal(figures.shown_on(values, True), [1.0, np.nan, np.nan, np.nan, 3.0])


def test_png_path_needs_the_suffix(tmp_path):
    assert figures.png_path(tmp_path / "a.PNG") == tmp_path / "a.PNG"
    with pytest.raises(ValueError, match=r"figure path must end in \.png, got '.*a\.svg'"):
        figures.png_path(tmp_path / "a.svg")


# -- drawing (with matplotlib) -----------------------------------------------------------------
def test_draw_smoothed_puts_the_mean_over_the_faint_raw_curve():
    pytest.importorskip("matplotlib")
    fig = figures.new_figure((4.0, 3.0))
    ax = fig.add_subplot()
    rng = np.random.default_rng(1)
    loss = 3.0 * np.exp(-np.arange(1000) / 300) + 0.3 * rng.random(1000)  # (1000,)
    window = figures.draw_smoothed(ax, np.arange(1, 1001), loss, "C0", "training")
    raw, mean = ax.get_lines()
    assert window == figures.smoothing_window(1000) == 21
    np.testing.assert_array_equal(raw.get_ydata(), loss)
    assert raw.get_alpha() == figures.RAW_ALPHA and raw.get_label().startswith("_")  # not in the legend
    np.testing.assert_allclose(mean.get_ydata(), figures.smooth(loss, 21))
    assert mean.get_label() == "training, mean over 21 steps" and mean.get_linewidth() > raw.get_linewidth()
    # a short run is drawn as it is, at full strength
    ax2 = fig.add_subplot()
    assert figures.draw_smoothed(ax2, np.arange(1, 51), loss[:50], "C0", "training") == 1
    (only,) = ax2.get_lines()
    assert only.get_label() == "training" and only.get_alpha() is None


def test_draw_smoothed_on_a_log_axis_averages_logarithms():
    pytest.importorskip("matplotlib")
    ax = figures.new_figure((4.0, 3.0)).add_subplot()
    norm = np.ones(600)
    norm[::50] = 1e4  # rare spikes: an arithmetic mean would lift the whole curve
    norm[7] = 0.0
    figures.draw_smoothed(ax, np.arange(600), norm, "C4", "gradient norm", log=True)
    raw, mean = ax.get_lines()
    assert np.isnan(raw.get_ydata()[7])  # 0 is a gap on a log axis
    assert np.nanmedian(mean.get_ydata()) < 10.0


def test_save_figure_writes_a_png_of_the_figure_size_and_clears_it(tmp_path):
    pytest.importorskip("matplotlib")
    from matplotlib.image import imread

    fig = figures.new_figure((3.0, 2.0))
    fig.add_subplot().plot([0, 1], [1, 0])
    path = figures.save_figure(fig, tmp_path / "a.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert imread(path).shape[:2] == (2 * figures.DPI, 3 * figures.DPI)
    assert fig.axes == []  # cleared once written
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]


# -- without matplotlib ------------------------------------------------------------------------
def test_without_matplotlib_every_figure_is_unavailable(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` raises ImportError
    assert not figures.matplotlib_available()
    for call in (figures.require_matplotlib, lambda: figures.new_figure((3.0, 2.0))):
        with pytest.raises(figures.PlotUnavailable, match="install scratchrnn\\[plot\\]"):
            call()
    # the numbers need no matplotlib
    np.testing.assert_allclose(figures.smooth(np.arange(5.0), 3), np.arange(5.0))


def test_importing_figures_does_not_import_matplotlib():
    code = "import sys, scratchrnn.figures; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_many_markers_are_drawn_smaller():
    few, many = figures.MARKER_SIZES
    assert many < few
    assert figures.marker_size(1) == figures.marker_size(figures.MANY_MARKERS) == few
    assert figures.marker_size(figures.MANY_MARKERS + 1) == figures.marker_size(10**6) == many
