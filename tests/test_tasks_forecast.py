"""The forecast task (scratchrnn.tasks.forecast): its demo setting on the sunspots beats the
baselines on the held-out end with an interval of the nominal coverage."""

from __future__ import annotations

import numpy as np
import pytest

from scratchrnn.tasks import forecast


def test_the_quick_setting_beats_every_baseline_on_the_held_out_sunspots():
    result = forecast.run(forecast.Config.quick())
    m = result.metrics
    assert result.passed, result.ours
    for span in ("1-step", "5-step"):
        for metric in ("MAE", "RMSE"):
            model = m[f"sunspots {span} {metric}: model"]
            key = f"sunspots {span} {metric}: "
            others = [v for k, v in m.items() if k.startswith(key) and not k.endswith("model")]
            assert len(others) == 3 and model < min(others)
    assert forecast.COVERAGE[0] <= m["sunspots coverage"] <= forecast.COVERAGE[1]
    assert result.curves["loss"] and result.curves["val_loss"]


def test_the_co2_series_is_its_monthly_means_and_the_held_out_spans_are_the_ends():
    months, y = forecast.load("co2")
    assert len(y) == 526 and months[0] == "1958-03" and months[-1] == "2001-12"
    assert 310 < y.min() < y.max() < 380 and np.all(np.isfinite(y))
    assert set(forecast.HELD_OUT) == set(forecast.SETTINGS) == set(forecast.SERIES)


def test_config_is_checked():
    with pytest.raises(ValueError, match="series must be one of"):
        forecast.Config(series="gdp")
    with pytest.raises(ValueError, match="epochs"):
        forecast.Config(epochs=0)
