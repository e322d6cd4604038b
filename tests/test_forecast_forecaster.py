"""The recurrent forecaster (scratchrnn.forecast.forecaster): what fit learns from, what predict
gives back in the series' units, intervals, covariates, files and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from scratchrnn.forecast import Forecaster

TINY = dict(window=6, hidden_size=8, epochs=4, patience=None, random_state=0)


def _seasonal(n=80, seed=0):
    t = np.arange(n)
    return 10 + np.sin(2 * np.pi * t / 12) + 0.05 * np.random.default_rng(seed).standard_normal(n)  # (n,)


@pytest.mark.parametrize("strategy", ["direct", "recursive"])
@pytest.mark.parametrize("difference", [False, True])
def test_predict_gives_the_steps_after_the_history_in_the_series_units(strategy, difference):
    y = _seasonal()
    fc = Forecaster(horizon=3, strategy=strategy, difference=difference, **TINY).fit(y)
    assert fc.predict().shape == (3,)
    assert fc.predict(y[:50], steps=7).shape == (7,)  # past the horizon: from its own forecasts
    # the default history is the series fit saw, and only its end matters
    np.testing.assert_array_equal(fc.predict(), fc.predict(y[-(fc.window + 1):]))
    q = fc.predict(y, quantiles=(0.1, 0.5, 0.9))  # (3, 3)
    assert q.shape == (3, 3) and np.all(np.diff(q, axis=1) >= 0)
    np.testing.assert_array_equal(fc.predict(quantiles=(0.9,))[:, 0], q[:, 2])
    # in the series' units: near its level, not near the scaled 0
    assert np.all(np.abs(fc.predict() - 10) < 5)


def test_the_point_forecast_is_the_scaled_output_mapped_back():
    y = np.exp(np.linspace(0, 1, 60)) * (2 + np.sin(np.arange(60)))  # positive
    fc = Forecaster(horizon=2, transform="log", difference=True, **TINY).fit(y)
    z = np.diff(np.log(y))  # what the model reads
    window = ((z - fc.scaler_.mean_) / fc.scaler_.scale_)[-6:]
    out, _, _ = fc.model_.forward(window[:, None, None].astype(np.float32))
    change = out[0].astype(np.float64) * fc.scaler_.scale_[0] + np.arange(1, 3) * fc.scaler_.mean_[0]
    np.testing.assert_allclose(fc.predict(), y[-1] * np.exp(change), rtol=1e-12)


def test_the_same_seed_gives_the_same_forecaster_and_a_saved_one_predicts_the_same_bits(tmp_path):
    y = _seasonal()
    a = Forecaster(horizon=2, **TINY).fit(y)
    b = Forecaster(horizon=2, **TINY).fit(y)
    np.testing.assert_array_equal(a.predict(quantiles=(0.1, 0.9)), b.predict(quantiles=(0.1, 0.9)))
    a.save(tmp_path / "f.npz", meta={"column": "y"})
    c = Forecaster.load(tmp_path / "f.npz")
    for h in (None, y[:40]):
        np.testing.assert_array_equal(c.predict(h, steps=5), a.predict(h, steps=5))
        levels = (0.1, 0.5, 0.9)
        np.testing.assert_array_equal(c.predict(h, quantiles=levels), a.predict(h, quantiles=levels))
    assert c.meta_ == {"column": "y"} and c.get_params() == a.get_params()
    np.testing.assert_array_equal(c.calibration_, a.calibration_)


def test_covariates_are_read_and_standardised_and_the_target_can_be_any_column():
    y = _seasonal()
    x = np.roll(y, -1) * 100  # a covariate that knows the next value
    fc = Forecaster(horizon=1, **{**TINY, "epochs": 30}).fit(y, exog=x)
    assert fc.n_features_in_ == 2 and fc.covariate_scaler_ is not None
    with pytest.raises(ValueError, match="exog goes with a history"):
        fc.predict(exog=x)
    with pytest.raises(ValueError, match="history has 1 column"):
        fc.predict(y)
    assert fc.predict(y, exog=x).shape == (1,)
    with pytest.raises(ValueError, match="covariates cannot"):
        fc.predict(y, steps=2, exog=x)
    swapped = Forecaster(target=1, **TINY).fit(np.stack([x, y], axis=1))
    assert swapped.predict().shape == (1,)


def test_validation_is_the_end_of_the_series_and_the_best_epoch_comes_back():
    y = _seasonal(100)
    fc = Forecaster(horizon=2, window=6, hidden_size=8, epochs=40, patience=3, random_state=1, lr=0.03,
                    quantiles=None).fit(y)
    evals = fc.history_.evals
    best = min(evals, key=lambda r: r["val_loss"])
    restored = fc.history_.restored  # None when the last validation was the best: nothing to put back
    assert (restored["best_step"] if restored else evals[-1]["step"]) == best["step"]
    assert fc.quantile_model_ is None and fc.calibration_ is None
    with pytest.raises(ValueError, match="fitted with quantiles=None"):
        fc.predict(quantiles=(0.5,))


def test_calibration_puts_a_share_q_of_the_validation_values_below_each_level():
    y = _seasonal(160)
    fc = Forecaster(horizon=2, quantiles=(0.2, 0.8), validation_fraction=0.4, **TINY).fit(y)
    scaled = fc._scaled(fc.series_)
    x, t = fc._cut(scaled, 2)
    val, _ = fc._split(len(scaled), x.shape[1], 2, int(round(0.4 * len(scaled))))
    raw = fc._run(fc.quantile_model_, x[:, val], 2) + fc.calibration_  # (v, H, Q)
    below = (t[val][:, :, None] <= raw).mean(axis=0)  # (H, Q)
    np.testing.assert_allclose(below, [[0.2, 0.8]] * 2, atol=1.5 / val.sum())


@pytest.mark.parametrize("make, words", [
    (lambda: Forecaster(window=30, horizon=5).fit(np.arange(30.0)), "fewer than window + horizon = 35"),
    (lambda: Forecaster(window=5, horizon=5, difference=True).fit(np.arange(10.0)),
     "+ 1 (differencing) = 11"),
    (lambda: Forecaster(horizon=0).fit(np.arange(50.0)), "horizon"),
    (lambda: Forecaster(strategy="both").fit(np.arange(50.0)),
     "strategy must be one of 'direct', 'recursive'"),
    (lambda: Forecaster(strategy="recursive").fit(np.ones((50, 2))), "use strategy='direct'"),
    (lambda: Forecaster(quantiles=(0.9, 0.1)).fit(np.arange(50.0)), "increasing"),
    (lambda: Forecaster(target=2).fit(np.ones((50, 2))), "target"),
    (lambda: Forecaster().fit([1.0, np.nan] * 30), "NaN or infinite values (the first at step 1)"),
    (lambda: Forecaster().fit(np.array(["a"] * 50)), "must hold numbers"),
    (lambda: Forecaster().fit(np.arange(50.0), exog=np.arange(49.0)), "one row per step"),
    (lambda: Forecaster(window=6, validation_fraction=0.9).fit(np.arange(30.0)), "no training window"),
    (lambda: Forecaster().predict(), "not fitted yet"),
    (lambda: Forecaster(window=6, horizon=12, validation_fraction=0.1).fit(np.arange(60.0)),
     "holds no window's 12 target steps"),
])
def test_bad_input_is_named(make, words):
    with pytest.raises(ValueError) as info:
        make()
    assert words in str(info.value)


def test_bad_predict_arguments_are_named_and_a_failed_fit_forgets_the_last_one():
    fc = Forecaster(horizon=2, **TINY).fit(_seasonal())
    with pytest.raises(ValueError, match="quantile 0.25 was not fitted"):
        fc.predict(quantiles=(0.25,))
    with pytest.raises(ValueError, match="intervals reach as far as the horizon"):
        fc.predict(steps=3, quantiles=(0.5,))
    with pytest.raises(ValueError, match="needs at least 6"):
        fc.predict(np.arange(5.0))
    with pytest.raises(ValueError, match="steps"):
        fc.predict(steps=0)
    y = _seasonal()
    both = fc.forecast_from([y, y[:, None]], 2)  # a 1-D history and its one-column table, one batch
    np.testing.assert_allclose(both, [fc.predict(y, steps=2)] * 2, rtol=1e-6)  # float32 batches of 1 and 2
    with pytest.raises(ValueError, match="needs at least 6"):
        fc.forecast_from([y[:5]], 2)
    with pytest.raises(ValueError, match="history has 2 column"):
        fc.quantiles_from([np.ones((20, 2))], 2, (0.5,))
    with pytest.raises(ValueError):
        fc.fit(np.arange(5.0))
    assert not hasattr(fc, "model_")


def test_load_refuses_other_files(tmp_path):
    from scratchrnn.io.checkpoint import save_checkpoint

    save_checkpoint(tmp_path / "x.npz", params={"w": np.zeros(2)})
    with pytest.raises(ValueError, match="holds no Forecaster"):
        Forecaster.load(tmp_path / "x.npz")
