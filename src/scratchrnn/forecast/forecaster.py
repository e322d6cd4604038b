"""A recurrent forecaster of a series: :class:`Forecaster`.

``Forecaster(window, horizon, ...).fit(series, exog=None)`` learns, in this order:

1. the scaling (:class:`~scratchrnn.forecast.scaling.Scaler`) of the target column: the optional
   ``transform`` ("log" or "sqrt"), the optional first ``difference`` and standardisation; the
   covariates (the other columns, and ``exog``) are standardised only;
2. the training windows (:func:`~scratchrnn.forecast.windows.cut_windows`, every ``stride`` steps):
   ``window`` scaled steps of every column in, the target's next values out. With ``difference``
   the outputs are the changes since the window's last step, the cumulative sums of the
   standardised differences, ``(z_{t+h} - z_t - h * mean) / scale`` for h = 1..H, so every output
   maps to a level by one increasing function and a quantile of it is a quantile of the level;
3. the split: windows whose targets start in the last ``validation_fraction`` of the series
   validate, windows whose targets end before it train; the point model stops after ``patience``
   epochs without a lower validation loss and the best epoch's weights go back;
4. the point model, a :class:`~scratchrnn.nn.model.SequenceModel` (``cell``, ``hidden_size``,
   ``num_layers``, head "last") trained with mean squared error and Adam: with
   ``strategy="direct"`` it gives the H values after a window at once; with "recursive" it gives
   the next one, and forecasting feeds each forecast back as the newest input;
5. with ``quantiles``, a second model of the same shape with Q outputs for each of the H steps
   (always direct), trained with the pinball loss (:func:`~scratchrnn.losses.pinball`): the
   prediction intervals. A network's quantiles are too narrow on data it did not fit, so each
   level q at each step h is then calibrated on the validation windows (conformalised quantile
   regression, one level at a time): it moves by ``c[h, q]``, the q-quantile of the validation
   residuals ``y - pred_q`` (``calibration_``, (H, Q)), so that on the validation span a share q
   of the values falls below it. At predict time each step's quantiles are sorted, so they never
   cross.

``predict(history, steps)`` gives the ``steps`` values after ``history`` (default: the series fit
saw); beyond the horizon a direct model continues from its own forecasts. ``predict(...,
quantiles=(0.1, 0.9))`` gives the levels asked for, each one of the fitted ``quantiles``, over at
most the horizon. ``save`` / ``load`` keep everything in the checkpoint format, the scaling
included, and a reloaded forecaster predicts the same bits.
"""

from __future__ import annotations

import os

import numpy as np

from ..checks import check_dtype, check_flag, check_int, check_random_state, check_real, check_size
from ..data.sequences import SequenceData
from ..io.checkpoint import load_checkpoint, save_checkpoint
from ..losses import check_quantiles
from ..nn.model import ModelConfig, SequenceModel, check_cell
from ..optim import Adam
from ..train import History, Trainer
from ..trainconfig import TrainConfig
from ..validation import restore_best
from .scaling import Scaler
from .tables import as_table
from .windows import cut_windows

__all__ = ["STRATEGIES", "Forecaster"]

STRATEGIES = ("direct", "recursive")
FORMAT_KIND = "scratchrnn-forecaster"
LEVEL_TOLERANCE = 1e-9  # a quantile asked for matches a fitted level this close


class Forecaster:
    """A recurrent forecaster (module docstring).

    Parameters (stored as given, checked by ``fit``):
        window (24, input steps), horizon (1, steps forecast at once), strategy ("direct" or
        "recursive"), cell ("gru"), hidden_size (64), num_layers (1), dropout (0.0, between layers),
        target (0, the column of the series that is forecast; the others are covariates),
        transform (None, "log" or "sqrt", of the target), difference (False, of the target),
        quantiles ((0.1, 0.5, 0.9); None: no intervals), stride (1, steps between windows),
        epochs (200, at most), batch_size (32 windows), lr (0.003, Adam), weight_decay (0.0),
        clip_norm (5.0; None: no clipping), validation_fraction (0.2 of the series' end),
        patience (50 epochs; None: no early stopping), random_state (None, an int seed or a
        Generator), dtype ("float32"), verbose (False: no progress bar).

    Fitted attributes: ``model_`` (the point model), ``quantile_model_`` and ``calibration_``
    (None without quantiles), ``history_`` and ``quantile_history_`` (None after ``load``: a file
    keeps the point model's history only), ``scaler_`` (target), ``covariate_scaler_`` (None
    without covariates), ``series_`` (the (N, F) table fit saw), ``n_features_in_``.
    """

    def __init__(self, window: int = 24, horizon: int = 1, strategy: str = "direct", cell: str = "gru",
                 hidden_size: int = 64, num_layers: int = 1, dropout: float = 0.0, target: int = 0,
                 transform: str | None = None, difference: bool = False, quantiles=(0.1, 0.5, 0.9),
                 stride: int = 1, epochs: int = 200, batch_size: int = 32, lr: float = 0.003,
                 weight_decay: float = 0.0, clip_norm: float | None = 5.0, validation_fraction: float = 0.2,
                 patience: int | None = 50, random_state=None, dtype: str = "float32", verbose: bool = False):
        self.window, self.horizon, self.strategy = window, horizon, strategy
        self.cell, self.hidden_size, self.num_layers, self.dropout = cell, hidden_size, num_layers, dropout
        self.target, self.transform, self.difference = target, transform, difference
        self.quantiles = quantiles
        self.stride, self.epochs, self.batch_size, self.lr = stride, epochs, batch_size, lr
        self.weight_decay, self.clip_norm = weight_decay, clip_norm
        self.validation_fraction, self.patience = validation_fraction, patience
        self.random_state, self.dtype, self.verbose = random_state, dtype, verbose

    _PARAMS = ("window", "horizon", "strategy", "cell", "hidden_size", "num_layers", "dropout", "target",
               "transform", "difference", "quantiles", "stride", "epochs", "batch_size", "lr", "weight_decay",
               "clip_norm", "validation_fraction", "patience", "random_state", "dtype", "verbose")

    def get_params(self, deep: bool = True) -> dict:
        """The constructor's arguments as they are now."""
        return {name: getattr(self, name) for name in self._PARAMS}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(window={self.window!r}, horizon={self.horizon!r}, " \
               f"strategy={self.strategy!r}, cell={self.cell!r})"

    # -- fitting ----------------------------------------------------------------------------------
    def fit(self, series, exog=None):
        """Fit on ``series`` (N,) or (N, F), with covariates ``exog`` (N, K) (module docstring);
        returns the forecaster. A fit that fails leaves an unfitted forecaster."""
        self._forget()
        try:
            return self._fit(as_table(series, exog))
        except BaseException:
            self._forget()
            raise

    def _forget(self) -> None:
        """Remove every fitted attribute (the names ending in ``_``)."""
        for name in [k for k in vars(self) if k.endswith("_") and not k.startswith("_")]:
            delattr(self, name)

    def _check_params(self, F: int) -> None:
        self._window, self._horizon = check_size("window", self.window), check_size("horizon", self.horizon)
        if not isinstance(self.strategy, str) or self.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {', '.join(map(repr, STRATEGIES))}, got "
                             f"{self.strategy!r}")
        check_cell(self.cell)
        self._target = check_int("target", self.target, low=0, high=F - 1)
        if self.strategy == "recursive" and F > 1:
            raise ValueError(f"strategy='recursive' feeds each forecast back as the next input, which needs "
                             f"the future of the {F - 1} covariate column(s) too; use strategy='direct'")
        self._levels = None if self.quantiles is None else check_quantiles(self.quantiles)
        check_size("stride", self.stride)
        check_real("validation_fraction", self.validation_fraction, low=0.0, high=1.0, high_open=True)
        check_real("lr", self.lr, low=0.0, low_open=True)
        check_real("weight_decay", self.weight_decay, low=0.0)
        check_flag("verbose", self.verbose)
        check_dtype(self.dtype)

    def _fit(self, table: np.ndarray):
        N, F = table.shape  # (N, F)
        self._check_params(F)
        W, H = self._window, self._horizon
        need = W + H + int(bool(self.difference))
        if N < need:
            extra = " + 1 (differencing)" if self.difference else ""
            raise ValueError(f"the series has {N} steps, fewer than window + horizon{extra} = {need}")
        gen = check_random_state(self.random_state)
        self.series_, self.n_features_in_ = table, F
        scaler = Scaler(self.transform, check_flag("difference", self.difference))
        self.scaler_ = scaler.fit(table[:, self._target])
        covariates = np.delete(table, self._target, axis=1)  # (N, F-1)
        self.covariate_scaler_ = Scaler().fit(covariates) if F > 1 else None
        scaled = self._scaled(table)  # (N', F) the target first
        n_val = int(round(float(self.validation_fraction) * len(scaled)))
        point_h = 1 if self.strategy == "recursive" else H
        self.model_, self.history_ = self._train(scaled, point_h, n_val, None, gen)
        self.quantile_model_ = self.quantile_history_ = self.calibration_ = None
        if self._levels is not None:
            self.quantile_model_, self.quantile_history_ = self._train(scaled, H, n_val, self._levels, gen)
            self.calibration_ = self._calibrate(scaled, n_val)
        return self

    def _split(self, N: int, n: int, H: int, n_val: int) -> tuple[np.ndarray, np.ndarray]:
        """Validation and training masks (n,) of the n windows of a scaled series of N steps."""
        first = np.arange(n) * self.stride + self.window  # (n,) the first target step of each window
        val = first >= N - n_val if n_val else np.zeros(n, bool)
        return val, first + H <= N - n_val

    def _cut(self, scaled: np.ndarray, H: int) -> tuple[np.ndarray, np.ndarray]:
        x, y = cut_windows(scaled, self.window, H, stride=self.stride, dtype=check_dtype(self.dtype))
        if self.difference:
            y = np.cumsum(y, axis=1, dtype=y.dtype)  # (n, H) change since the window's last step
        return x, y  # (W, n, F), (n, H)

    def _calibrate(self, scaled: np.ndarray, n_val: int) -> np.ndarray:
        """The shift (H, Q) of each level at each step (module docstring); zeros without validation."""
        H, Q = self.horizon, len(self._levels)
        x, y = self._cut(scaled, H)
        val, _ = self._split(len(scaled), x.shape[1], H, n_val)
        if not val.any():
            return np.zeros((H, Q))
        pred = self._run(self.quantile_model_, x[:, val], Q)  # (v, H, Q)
        resid = y[val].astype(np.float64)[:, :, None] - pred  # (v, H, Q)
        return np.stack([np.quantile(resid[:, :, j], q, axis=0) for j, q in enumerate(self._levels)], axis=1)

    def _scaled(self, table: np.ndarray) -> np.ndarray:
        """The model's inputs for ``table`` (N, F): (N', F), the scaled target in column 0."""
        target = self.scaler_.transform(table[:, self.target])[:, None]  # (N', 1)
        if self.covariate_scaler_ is None:
            return target
        cov = self.covariate_scaler_.transform(np.delete(table, self.target, axis=1))  # (N, F-1)
        return np.concatenate([target, cov[len(cov) - len(target):]], axis=1)

    def _train(self, scaled: np.ndarray, H: int, n_val: int, levels, gen):
        """A model of H outputs (times the quantiles) trained on the windows of ``scaled``."""
        W = self._window
        x, y = self._cut(scaled, H)
        val, train = self._split(len(scaled), x.shape[1], H, n_val)
        if n_val and not val.any():
            raise ValueError(f"the validation span (the last {n_val} steps, validation_fraction="
                             f"{self.validation_fraction}) holds no window's {H} target steps: raise "
                             "validation_fraction, or set it to 0 to train without validation")
        if not train.any():
            raise ValueError(f"no training window is left before the validation span (the last {n_val} "
                             f"steps): shorten the window ({W}), the horizon or validation_fraction")
        Q = 1 if levels is None else len(levels)
        mcfg = ModelConfig(cell=self.cell, input_size=scaled.shape[1], hidden_size=self.hidden_size,
                           num_layers=self.num_layers, dropout=self.dropout, head="last", output_size=H * Q,
                           dtype=self.dtype)
        model = SequenceModel(mcfg, rng=gen)
        config = TrainConfig(epochs=check_size("epochs", self.epochs),
                             batch_size=check_size("batch_size", self.batch_size),
                             loss="mse" if levels is None else "pinball", quantiles=levels,
                             clip_norm=self.clip_norm, patience=self.patience if val.any() else None,
                             progress=self.verbose, seed=int(gen.integers(2**31)))
        trainer = Trainer(model, Adam(model.params, lr=self.lr, weight_decay=self.weight_decay), config)
        val_data = SequenceData(x[:, val], y[val], per_step=False) if val.any() else None
        history = trainer.fit(SequenceData(x[:, train], y[train], per_step=False), val_data)
        if val_data is not None and history.restored is None:  # the best epoch's weights, even at the end
            history.restored = restore_best(trainer)
        return model.eval(), history

    # -- forecasting ------------------------------------------------------------------------------
    def _fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise ValueError(f"this {type(self).__name__} is not fitted yet: call fit(series) first")

    def _history(self, history, exog) -> np.ndarray:
        if history is None:
            if exog is not None:
                raise ValueError("exog goes with a history: give both, or neither for the series fit saw")
            return self.series_
        table = as_table(history, exog, "history")
        if table.shape[1] != self.n_features_in_:
            raise ValueError(f"history has {table.shape[1]} column(s), the forecaster was fitted on "
                             f"{self.n_features_in_}")
        need = self.window + int(bool(self.difference))
        if len(table) < need:
            raise ValueError(f"history has {len(table)} steps; forecasting needs at least {need} (the window"
                             f"{' and one more to difference' if self.difference else ''})")
        return table

    def predict(self, history=None, steps: int | None = None, quantiles=None, exog=None) -> np.ndarray:
        """The ``steps`` values (default: the horizon) after ``history`` (N,) or (N, F) with its
        covariates ``exog`` (default: the series fit saw): (steps,); with ``quantiles`` (levels fit
        learnt), (steps, len(quantiles)), each row increasing."""
        self._fitted()
        table = self._history(history, exog)
        steps = self.horizon if steps is None else check_size("steps", steps)
        if quantiles is not None:
            return self._quantiles([table], steps, quantiles)[0]
        return self._points([table], steps)[0]

    def forecast_from(self, histories: list[np.ndarray], steps: int) -> np.ndarray:
        """Point forecasts (n, steps) after each of n histories, (N_i, F) tables as ``predict``
        takes them, run as one batch (the backtest's rolling origins)."""
        self._fitted()
        tables = [self._history(h, None) for h in histories]  # n tables (N_i, F)
        return self._points(tables, check_size("steps", steps))

    def _points(self, tables: list[np.ndarray], steps: int) -> np.ndarray:
        """``forecast_from`` on checked tables."""
        H, F = self.horizon, self.n_features_in_
        if steps > H and (self.strategy == "direct" and F > 1):
            raise ValueError(f"steps={steps} goes past the horizon ({H}), which a direct forecaster with "
                             "covariates cannot: their future is unknown")
        tables = list(tables)  # the loop below extends them with its forecasts
        out = np.empty((len(tables), steps))  # (n, steps)
        done = 0
        while done < steps:  # a block of the horizon (direct) or one step (recursive) at a time
            x = self._windows(tables)  # (W, n, F)
            block = self._run(self.model_, x, 1)[:, :, 0]  # (n, H or 1)
            take = min(block.shape[1], steps - done)
            for i, t in enumerate(tables):
                out[i, done : done + take] = self._levels_of(block[i, :take], t[:, self.target])
                if done + take < steps:  # the forecasts become the history the next block reads
                    tables[i] = np.concatenate([t, out[i, done : done + take, None]], axis=0)
            done += take
        return out

    def _windows(self, tables: list[np.ndarray]) -> np.ndarray:
        W = self.window
        return np.stack([self._scaled(t[-(W + int(bool(self.difference))):])[-W:] for t in tables], axis=1)

    def _run(self, model: SequenceModel, x: np.ndarray, Q: int) -> np.ndarray:
        """The model's outputs for windows x (W, n, F) as (n, H, Q) float64."""
        out, _, _ = model.forward(x.astype(model.dtype))  # (n, H*Q)
        return out.astype(np.float64).reshape(x.shape[1], -1, Q)

    def _levels_of(self, outputs: np.ndarray, target: np.ndarray) -> np.ndarray:
        """Scaled outputs (k,) after the history of the target (N,), in the series' units."""
        if self.difference:  # cumulative changes back to the scaled differences Scaler inverts
            outputs = np.diff(np.concatenate([[0.0], outputs]))
        return self.scaler_.inverse(outputs, target)

    def _quantiles(self, tables: list[np.ndarray], steps: int, quantiles) -> np.ndarray:
        if self.quantile_model_ is None:
            raise ValueError("this forecaster was fitted with quantiles=None: it has no intervals")
        asked = check_quantiles(quantiles)
        fitted = np.asarray(self.quantiles, np.float64)
        cols = []
        for q in asked:
            hit = np.flatnonzero(np.abs(fitted - q) <= LEVEL_TOLERANCE)
            if not hit.size:
                raise ValueError(f"quantile {q} was not fitted; the forecaster has {tuple(fitted.tolist())}")
            cols.append(int(hit[0]))
        if steps > self.horizon:
            raise ValueError(f"intervals reach as far as the horizon ({self.horizon}), steps is {steps}")
        Q = len(fitted)
        raw = self._run(self.quantile_model_, self._windows(tables), Q) + self.calibration_  # (n, H, Q)
        raw = np.sort(raw, axis=2)
        out = np.empty((len(tables), steps, len(cols)))  # (n, steps, k)
        for i, t in enumerate(tables):
            for j, c in enumerate(cols):
                out[i, :, j] = self._levels_of(raw[i, :steps, c], t[:, self.target])
        return out

    def quantiles_from(self, histories: list[np.ndarray], steps: int, quantiles) -> np.ndarray:
        """Quantile forecasts (n, steps, len(quantiles)) after each of n histories (the backtest's)."""
        self._fitted()
        tables = [self._history(h, None) for h in histories]  # n tables (N_i, F)
        return self._quantiles(tables, check_size("steps", steps), quantiles)

    # -- files --------------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike, meta: dict | None = None):
        """Write the fitted forecaster to ``path`` in the checkpoint format (atomically); ``meta``, a
        JSON-able dict (the command line's column names), comes back as ``meta_`` from ``load``."""
        self._fitted()
        params = self.get_params()
        if not isinstance(params["random_state"], (int, type(None))):
            params["random_state"] = None
        params["dtype"] = check_dtype(params["dtype"]).name
        params["quantiles"] = None if self.quantiles is None else list(check_quantiles(self.quantiles))
        weights = {f"point.{k}": v for k, v in self.model_.params.items()}
        models = {"point": self.model_.config.to_dict()}
        if self.quantile_model_ is not None:
            weights.update({f"quantile.{k}": v for k, v in self.quantile_model_.params.items()})
            models["quantile"] = self.quantile_model_.config.to_dict()
        scalers = {"scaler": self.scaler_, "covariate_scaler": self.covariate_scaler_}
        extra = {"series": self.series_, "evals": self.history_.evals, "restored": self.history_.restored,
                 "calibration": self.calibration_}
        for name, sc in scalers.items():
            if sc is not None:
                extra[f"{name}.mean"], extra[f"{name}.scale"] = sc.mean_, sc.scale_
        save_checkpoint(path, params=weights, history=self.history_.steps,
                        config={"kind": FORMAT_KIND, "params": params, "models": models,
                                "covariates": self.covariate_scaler_ is not None, "meta": meta or {}},
                        extra=extra)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike):
        """A forecaster written by ``save``; a file that is not one is a ValueError naming it."""
        ckpt = load_checkpoint(path)
        cfg = ckpt.config or {}
        if cfg.get("kind") != FORMAT_KIND:
            raise ValueError(f"{str(path)!r} holds no Forecaster (a checkpoint of "
                             f"{cfg.get('kind') or 'a training run'})")
        try:
            params = dict(cfg["params"])
            if params["quantiles"] is not None:
                params["quantiles"] = tuple(params["quantiles"])
            fc, extra = cls(**params), ckpt.extra or {}
            fc.series_ = np.asarray(extra["series"], np.float64)
            fc.n_features_in_ = fc.series_.shape[1]
            fc.scaler_ = _scaler(Scaler(fc.transform, fc.difference), extra, "scaler")
            fc.covariate_scaler_ = _scaler(Scaler(), extra, "covariate_scaler") if cfg["covariates"] else None
            models = {}
            for name, mcfg in cfg["models"].items():
                model = SequenceModel(ModelConfig.from_dict(mcfg), rng=0)
                prefix = f"{name}."
                own = {k[len(prefix):]: v for k, v in ckpt.params.items() if k.startswith(prefix)}
                model.load_state_dict(own)
                models[name] = model.eval()
            fc.model_, fc.quantile_model_ = models["point"], models.get("quantile")
            fc.calibration_ = (None if fc.quantile_model_ is None
                               else np.asarray(extra["calibration"], np.float64))
            fc.history_ = History(steps=list(ckpt.history or []), evals=list(extra.get("evals") or []),
                                  restored=extra.get("restored"))
            fc.quantile_history_, fc.meta_ = None, dict(cfg.get("meta") or {})
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{str(path)!r} is not a readable Forecaster: {exc}") from None
        return fc


def _scaler(sc: Scaler, extra: dict, name: str) -> Scaler:
    sc.mean_, sc.scale_ = np.asarray(extra[f"{name}.mean"]), np.asarray(extra[f"{name}.scale"])
    return sc
