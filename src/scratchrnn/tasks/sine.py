"""Next value of a sine wave: many-to-one sigmoid RNN with truncated BPTT and value clipping.

Data: sin(x) for x = 0, 1, ..., 199; each window of 50 values predicts the 51st; the first 100
windows train and the last 50 validate (the tutorial's split). Model: 100 sigmoid hidden units
and a linear output read from the last step only, mean squared error, truncated BPTT of 5 steps
(the loss reaches the last step and the 5 before it) and gradients clipped to [-10, 10].

The tutorial's own loop plateaus at a training loss near 16.8 (half the summed squared error over
100 windows, an RMSE near 0.58) because its hand-written gradients are wrong; with exact
gradients of the same truncated objective the validation RMSE falls below 0.01.

The statistical baselines (``scratchrnn.forecast``: persistence, seasonal naive with the season
detected, AR(p) with p chosen on the training span's end), fitted on the series before the
validation targets, predict the same validation values one step ahead from the values before
each, and the same forecast: their RMSEs are in the metrics. sin(t) obeys the linear recurrence
s_t = 2 cos(1) s_{t-1} - s_{t-2}, so AR(2) and up forecast it to rounding: on this series the
recurrent network learns what a least-squares fit solves exactly.

The result places every prediction at its position t on the series (artifacts ``train_t``,
``val_t``, ``forecast_t``) and samples the truth sin(t) ``CURVE_SAMPLES_PER_UNIT`` times per unit
of t (``curve_t``, ``curve``), so the figure draws it as a smooth curve.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..checks import check_dtype, check_int, check_real, check_size, check_truncate
from ..data.sequences import SequenceData
from ..data.synthetic import sine_train_val
from ..forecast import default_baselines
from ..nn.model import ModelConfig, SequenceModel, check_cell
from ..optim import Adam
from ..train import TrainConfig, Trainer
from .base import TaskResult

__all__ = ["CURVE_SAMPLES_PER_UNIT", "Config", "build_model", "forecast", "model_config", "run"]

CURVE_SAMPLES_PER_UNIT = 20  # samples of the dense truth per unit of t (a period of sin t is 2 pi)


@dataclass
class Config:
    """The sine task's settings (the tutorial's, where it has them); ``quick()`` is the demo's.

    Attributes:
        n_points (int, default 200): the series is sin(x) for x = 0, 1, ..., n_points - 1.
        window (int, default 50): values per input window; each predicts the value after it.
        n_val (int, default 50): the last windows, held out for validation.
        target_rmse (float, default 0.01): the validation RMSE at or below which the task passes.
        hidden_size (int, default 100): sigmoid hidden units.
        cell (str, default "rnn"): the recurrent cell, "rnn", "lstm" or "gru".
        truncate (int, default 5): truncated BPTT: the loss at the last step reaches this many before it.
        clip_value (float, default 10.0): every gradient entry is clipped to [-clip_value, clip_value].
        epochs (int, default 300): passes over the training windows.
        batch_size (int, default 25): windows per Adam step.
        lr (float, default 0.005): Adam's learning rate.
        horizon (int, default 50): steps of the free-running forecast after the series.
        seed (int, default 0): seeds the initial weights and the batch order.
        dtype (str, default "float64"): "float32" or "float64".
    """

    n_points: int = 200  # the series is sin(x) for x = 0 .. n_points - 1 (tutorial)
    window: int = 50  # values per input window (tutorial)
    n_val: int = 50  # the last windows validate (tutorial)
    target_rmse: float = 0.01  # validation RMSE that counts as success
    hidden_size: int = 100  # sigmoid hidden units (tutorial)
    cell: str = "rnn"
    truncate: int = 5  # truncated BPTT steps (tutorial)
    clip_value: float = 10.0  # gradient clipping by value (tutorial)
    epochs: int = 300
    batch_size: int = 25
    lr: float = 0.005
    horizon: int = 50  # steps of free-running forecast
    seed: int = 0
    dtype: str = "float64"

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the first bad field (numpy scalars are stored as Python numbers,
        the dtype as its name), and refuse a model that could not fit in memory."""
        self.n_points = check_int("n_points", self.n_points, low=2)
        self.window = check_size("window", self.window)
        self.n_val = check_int("n_val", self.n_val, low=1)
        if self.n_val >= self.n_points - self.window:
            raise ValueError(f"n_val must leave some training windows: n_val={self.n_val}, there are "
                             f"{self.n_points - self.window} windows (n_points={self.n_points}, "
                             f"window={self.window})")
        self.target_rmse = check_real("target_rmse", self.target_rmse, low=0.0, low_open=True)
        self.hidden_size = check_size("hidden_size", self.hidden_size)
        self.cell = check_cell(self.cell)
        self.truncate = check_truncate(self.truncate)
        self.clip_value = check_real("clip_value", self.clip_value, low=0.0, low_open=True)
        self.epochs = check_int("epochs", self.epochs, low=1)
        self.batch_size = check_size("batch_size", self.batch_size)
        self.lr = check_real("lr", self.lr, low=0.0, low_open=True)
        self.horizon = check_int("horizon", self.horizon, low=0)
        self.seed = check_int("seed", self.seed, low=0)
        self.dtype = check_dtype(self.dtype).name
        model_config(self)

    @classmethod
    def quick(cls) -> Config:
        return cls(epochs=150)


def model_config(cfg: Config) -> ModelConfig:
    """The model's configuration: many-to-one, sigmoid units, one input and one output."""
    return ModelConfig(cell=cfg.cell, input_size=1, hidden_size=cfg.hidden_size, nonlinearity="sigmoid",
                       output_size=1, head="last", dtype=cfg.dtype)


def build_model(cfg: Config) -> SequenceModel:
    return SequenceModel(model_config(cfg), rng=cfg.seed)


def predict(model: SequenceModel, x: np.ndarray) -> np.ndarray:
    """x (T, N, 1) -> next values (N,)."""
    was_training = model.training
    y, _, _ = model.train(False).forward(x)  # (N, 1)
    model.train(was_training)
    return y[:, 0]


def forecast(model: SequenceModel, window: np.ndarray, horizon: int) -> np.ndarray:
    """Free-running forecast: feed each prediction back as the newest input. window (T,) -> (horizon,)."""
    horizon = check_int("horizon", horizon, low=0)
    buf = np.asarray(window, model.dtype).copy()  # (T,)
    out = np.empty(horizon, model.dtype)
    for i in range(horizon):
        out[i] = predict(model, buf[:, None, None])[0]
        buf = np.roll(buf, -1)
        buf[-1] = out[i]
    return out


def run(cfg: Config | None = None, progress: bool = False) -> TaskResult:
    cfg = cfg or Config()
    t0 = time.perf_counter()
    (x_tr, y_tr), (x_va, y_va) = sine_train_val(cfg.n_points, cfg.window, cfg.n_val, dtype=cfg.dtype)
    model = build_model(cfg)
    dt = model.dtype
    train = SequenceData(x_tr.astype(dt), y_tr.astype(dt))
    val = SequenceData(x_va.astype(dt), y_va.astype(dt))
    tc = TrainConfig(epochs=cfg.epochs, batch_size=cfg.batch_size, loss="mse", truncate=cfg.truncate,
                     clip_value=cfg.clip_value, eval_every=None, seed=cfg.seed, progress=progress)
    hist = Trainer(model, Adam(model.params, lr=cfg.lr), tc).fit(train, val)
    p_tr, p_va = predict(model, train.x), predict(model, val.x)
    rmse_tr = float(np.sqrt(np.mean((p_tr - y_tr[:, 0]) ** 2)))
    rmse_va = float(np.sqrt(np.mean((p_va - y_va[:, 0]) ** 2)))
    # where each target sits on the series s_t = sin(t): window i predicts s[window + i], and the
    # forecast from the last validation window continues with s[n_points], ...
    t_tr = np.arange(cfg.window, cfg.n_points - cfg.n_val)  # (N_train,)
    t_va = np.arange(cfg.n_points - cfg.n_val, cfg.n_points)  # (n_val,)
    t_fc = np.arange(cfg.n_points, cfg.n_points + cfg.horizon)  # (horizon,)
    truth = np.sin(t_fc)  # (horizon,)
    fc = forecast(model, np.append(val.x[1:, -1, 0], y_va[-1, 0]), cfg.horizon)  # (horizon,)
    rmse_fc = float(np.sqrt(np.mean((fc - truth) ** 2)))
    last_t = cfg.n_points - 1 + cfg.horizon
    curve_t = np.linspace(cfg.window, last_t, (last_t - cfg.window) * CURVE_SAMPLES_PER_UNIT + 1)  # (M,)
    base = _baselines(cfg, t_va, t_fc)
    shown = ", ".join(f"{k} {v[0]:.2g}" for k, v in base.items())
    # the tutorial's loss unit: half the summed squared error over the 100 training windows
    half_sse = float(0.5 * np.sum((p_tr - y_tr[:, 0]) ** 2))
    return TaskResult(
        name="sine",
        tutorial="training loss plateaus near 16.8 (RMSE ~0.58); claims validation RMSE 0.127",
        ours=f"validation RMSE {rmse_va:.4f} (train {rmse_tr:.4f}, tutorial-unit loss {half_sse:.4f}); "
             f"{cfg.horizon}-step forecast RMSE {rmse_fc:.4f}; baselines' validation RMSE: {shown}",
        target=f"validation RMSE <= {cfg.target_rmse}",
        passed=rmse_va <= cfg.target_rmse,
        seconds=time.perf_counter() - t0,
        metrics={"val_rmse": rmse_va, "train_rmse": rmse_tr, "forecast_rmse": rmse_fc,
                 "tutorial_unit_train_loss": half_sse, "epochs": cfg.epochs,
                 **{f"baseline val_rmse: {k}": v[0] for k, v in base.items()},
                 **{f"baseline forecast_rmse: {k}": v[1] for k, v in base.items()}},
        curves={"loss": hist.losses, "val_loss": hist.val_losses},
        artifacts={"train_pred": p_tr, "train_true": y_tr[:, 0], "train_t": t_tr,
                   "val_pred": p_va, "val_true": y_va[:, 0], "val_t": t_va,
                   "forecast": fc, "forecast_true": truth, "forecast_t": t_fc,
                   "curve_t": curve_t, "curve": np.sin(curve_t)},
        figures=("sine",),
    )


def _baselines(cfg: Config, t_va: np.ndarray, t_fc: np.ndarray) -> dict[str, tuple[float, float]]:
    """Each baseline's (validation RMSE, forecast RMSE) on the series (module docstring)."""
    series = np.sin(np.arange(cfg.n_points, dtype=np.float64))  # (n_points,)
    out = {}
    for name, b in default_baselines(series[: t_va[0]]).items():
        val = np.array([b.predict(series[:t], 1)[0] for t in t_va])  # (n_val,)
        fc = b.predict(series, len(t_fc))  # (horizon,)
        out[name] = (float(np.sqrt(np.mean((val - series[t_va]) ** 2))),
                     float(np.sqrt(np.mean((fc - np.sin(t_fc)) ** 2))) if len(t_fc) else 0.0)
    return out
