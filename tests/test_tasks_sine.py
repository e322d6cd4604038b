"""The sine task: the validation RMSE reaches 0.01 and the reported RMSEs are recomputed here with
plain Python against sin(x) itself.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from scratchrnn.tasks import TaskResult, sine


def rmse(pred, truth: list[float]) -> float:
    return math.sqrt(sum((float(p) - t) ** 2 for p, t in zip(pred, truth, strict=True)) / len(truth))


def check_sine(result: TaskResult) -> None:
    m, art = result.metrics, result.artifacts
    truth_val = [math.sin(150 + i) for i in range(50)]  # windows 100..149 predict sin(150..199)
    np.testing.assert_allclose(art["val_true"], truth_val, rtol=0.0, atol=1e-15)
    rmse_val = rmse(art["val_pred"], truth_val)
    assert m["val_rmse"] == pytest.approx(rmse_val, rel=1e-9)
    assert m["val_rmse"] <= 0.01
    assert result.passed
    assert result.figures == ("sine",)  # the predictions and the forecast against the truth
    # the baselines on the same validation values: persistence far off, AR(p) exact (a sine is AR(2))
    persistence = np.sqrt(np.mean((np.sin(np.arange(149, 199)) - truth_val) ** 2))
    assert m["baseline val_rmse: persistence"] == pytest.approx(persistence, rel=1e-12)
    assert m["baseline val_rmse: AR(p)"] < 1e-9 and m["baseline forecast_rmse: AR(p)"] < 1e-6
    horizon = len(art["forecast"])
    truth_fc = [math.sin(200 + i) for i in range(horizon)]
    np.testing.assert_allclose(art["forecast_true"], truth_fc, rtol=0.0, atol=1e-15)
    rmse_fc = rmse(art["forecast"], truth_fc)
    # each prediction at its position t on the series, and the truth sampled densely for the figure
    assert art["train_t"].tolist() == list(range(50, 150)) and art["val_t"].tolist() == list(range(150, 200))
    assert art["forecast_t"].tolist() == list(range(200, 200 + horizon))
    step = 1 / sine.CURVE_SAMPLES_PER_UNIT
    assert art["curve_t"][0] == 50 and art["curve_t"][-1] == 199 + horizon
    np.testing.assert_allclose(np.diff(art["curve_t"]), step, rtol=1e-9)
    np.testing.assert_allclose(art["curve"], [math.sin(t) for t in art["curve_t"]], rtol=0, atol=1e-15)
    assert math.isfinite(m["forecast_rmse"])
    assert m["forecast_rmse"] == pytest.approx(rmse_fc, rel=1e-9)


def test_sine_shortened_run_reaches_the_target():
    """100 epochs (the default is 300, quick() 150) already reach the target: RMSE 0.0072 with seed 0."""
    check_sine(sine.run(sine.Config(epochs=100)))


@pytest.mark.slow
def test_sine_quick_config_reaches_the_target():
    """The demo's configuration. Marked slow because its 600 training steps each make a
    (100, 1250) @ (1250, 100) weight-gradient product, which OpenBLAS runs on threads that may have
    to share busy cores."""
    check_sine(sine.run(sine.Config.quick()))



def test_config_is_checked_when_made_and_keeps_python_values():
    cfg = sine.Config(hidden_size=np.int64(8), lr=np.float32(0.01), truncate=np.int8(3), dtype=np.float32)
    assert type(cfg.hidden_size) is int and type(cfg.lr) is float
    assert cfg.truncate == 3 and cfg.dtype == "float32"
    with pytest.raises(ValueError, match=r"n_val must leave some training windows: n_val=50, there are 50"):
        sine.Config(n_points=100)
    with pytest.raises(ValueError, match="a model of 1 rnn layer with input_size 1 and hidden_size 1,000,000 "
                                         "needs about 8 TB"):
        sine.Config(hidden_size=1_000_000)  # what `scratchrnn task sine --hidden-size 1000000` asks for
