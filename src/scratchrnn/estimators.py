"""Estimators for labelled sequences with scikit-learn's conventions: ``SequenceClassifier`` and
``SequenceRegressor``.

``X`` is a list of sequences of different lengths: (T_i, F) float arrays, or (T_i,) integer token
ids (a 3-D array (N, T, F), or a 2-D integer array (N, T) of ids, is taken as N sequences of one
length). ``fit(X, y)`` learns, in this order:

1. for float input, each feature's mean and standard deviation over every frame of the training
   sequences (``standardize``; a constant feature keeps scale 1), applied to every X after;
2. a validation split, ``validation_fraction`` of the sequences drawn from ``random_state``
   (per class for the classifier, so every class is in both parts when it can be);
3. a :class:`~scratchrnn.nn.model.SequenceModel` (``cell``, ``hidden_size``, ``num_layers``,
   ``bidirectional``, ``head``, ``dropout``; for ids an embedding of ``embedding_dim``) trained by
   the :class:`~scratchrnn.train.Trainer` with Adam on minibatches of sequences of about the same
   length (:class:`~scratchrnn.data.sequences.BucketedData`), for at most ``epochs`` epochs,
   stopping after ``patience`` epochs without a lower validation loss and putting the best
   epoch's weights back.

The classifier predicts ``classes_`` (the sorted distinct labels, of any type ``numpy.unique``
sorts), its loss cross-entropy with ``class_weight`` (None, "balanced" or a dict label ->
weight); the regressor predicts floats (N,) or (N, k) with the targets standardised for training
and mean squared error. Fitted attributes end in ``_``: ``model_``, ``history_``, ``classes_``,
``n_features_in_``, ``vocab_size_``. Constructor arguments are stored as given and checked by
``fit``; ``get_params`` / ``set_params`` make ``sklearn.base.clone``, ``cross_val_score`` and
grid searches work (scikit-learn is not needed to use the estimators). ``save(path)`` writes the
checkpoint format (``scratchrnn.io.checkpoint``), ``load(path)`` reads it back.
"""

from __future__ import annotations

import inspect
import math
import os

import numpy as np

from .checks import check_dtype, check_flag, check_random_state, check_real, check_size
from .data.sequences import BucketedData, as_sequences, pad_sequences
from .functional import softmax
from .io.checkpoint import load_checkpoint, save_checkpoint
from .nn.model import HEADS, ModelConfig, SequenceModel
from .optim import Adam
from .train import History, Trainer
from .trainconfig import TrainConfig
from .validation import restore_best

__all__ = ["SequenceClassifier", "SequenceRegressor", "r2_score"]

PREDICT_BATCH = 256  # sequences per forward pass at predict time
FORMAT_KIND = "scratchrnn-estimator"


class _SequenceEstimator:
    """What the classifier and the regressor share (module docstring).

    Parameters (stored as given, checked by ``fit``):
        cell ("rnn", "lstm" or "gru", default "gru"), hidden_size (64, per direction), num_layers
        (1), bidirectional (True), head ("final"; or "last", "mean", "max": ``nn/heads.py``),
        dropout (0.0, between layers), embedding_dim (16; token ids only), epochs (100, at most),
        batch_size (32 sequences), lr (0.005, Adam), weight_decay (0.0), clip_norm (5.0, the
        gradients' global norm; None: no clipping), validation_fraction (0.1, in [0, 1)),
        patience (20 epochs; None: no early stopping), standardize (True), random_state (None, an
        int seed or a Generator, which fit consumes), dtype ("float32"), verbose (False: no
        progress bar); the classifier also class_weight (None, "balanced", counted on the
        training part, or a dict label -> weight).

    Fitted attributes: ``model_``, ``history_``, ``n_features_in_`` (None for token ids),
    ``vocab_size_`` (None for features), ``feature_mean_``, ``feature_scale_`` (None without
    standardisation or for ids); the classifier's ``classes_``; the regressor's ``n_outputs_``,
    ``y_mean_``, ``y_scale_`` and ``target_1d_``.
    """

    _estimator_type = ""
    _loss = ""

    def __init__(self, cell: str = "gru", hidden_size: int = 64, num_layers: int = 1,
                 bidirectional: bool = True, head: str = "final", dropout: float = 0.0,
                 embedding_dim: int | None = 16, epochs: int = 100, batch_size: int = 32,
                 lr: float = 0.005, weight_decay: float = 0.0, clip_norm: float | None = 5.0,
                 validation_fraction: float = 0.1, patience: int | None = 20, standardize: bool = True,
                 random_state=None, dtype: str = "float32", verbose: bool = False):
        self.cell = cell
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.head = head
        self.dropout = dropout
        self.embedding_dim = embedding_dim
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.clip_norm = clip_norm
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.standardize = standardize
        self.random_state = random_state
        self.dtype = dtype
        self.verbose = verbose

    # -- scikit-learn's protocol ----------------------------------------------------------------
    @classmethod
    def _param_names(cls) -> list[str]:
        return [p for p in inspect.signature(cls.__init__).parameters if p != "self"]

    def get_params(self, deep: bool = True) -> dict:
        """The constructor's arguments as they are now (``deep`` has nothing to reach into)."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params):
        """Set constructor arguments by name; returns the estimator."""
        known = self._param_names()
        for name, value in params.items():
            if name not in known:
                raise ValueError(f"{type(self).__name__} has no parameter {name!r}; it has "
                                 f"{', '.join(known)}")
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        defaults = {p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values()}
        changed = [f"{k}={v!r}" for k, v in self.get_params().items() if not _same(v, defaults.get(k))]
        return f"{type(self).__name__}({', '.join(changed)})"

    def __sklearn_tags__(self):
        """scikit-learn's tags (read only by scikit-learn, so imported only then)."""
        from sklearn.utils import ClassifierTags, InputTags, RegressorTags, Tags, TargetTags

        classifier = self._estimator_type == "classifier"
        return Tags(estimator_type=self._estimator_type, target_tags=TargetTags(required=True),
                    classifier_tags=ClassifierTags() if classifier else None,
                    regressor_tags=None if classifier else RegressorTags(),
                    input_tags=InputTags(two_d_array=False, three_d_array=True))

    # -- fitting ----------------------------------------------------------------------------------
    def fit(self, X, y):
        """Fit on sequences X and their targets y (module docstring); returns the estimator. What an
        earlier fit learnt is forgotten first, and a fit that fails leaves an unfitted estimator."""
        self._forget()
        try:
            return self._fit(X, y)
        except BaseException:
            self._forget()
            raise

    def _forget(self) -> None:
        """Remove every fitted attribute (the names ending in ``_``)."""
        for name in [k for k in vars(self) if k.endswith("_") and not k.startswith("_")]:
            delattr(self, name)

    def _fit(self, X, y):
        self._check_params()
        gen = _generator(self.random_state)
        seqs = as_sequences(X)
        targets = self._fit_targets(y, len(seqs))  # (N,) class indices or (N, k) scaled floats
        ids = seqs[0].ndim == 1
        self.n_features_in_ = None if ids else int(seqs[0].shape[1])
        self.vocab_size_ = int(max(int(s.max()) for s in seqs)) + 1 if ids else None
        if ids and min(int(s.min()) for s in seqs) < 0:
            raise ValueError("token ids must be >= 0, X holds negative ones")
        train_idx, val_idx = self._split(targets, gen)
        self._fit_scaling([seqs[i] for i in train_idx])  # the training part's statistics only
        model = SequenceModel(self._model_config(), rng=gen)
        weights = self._class_weights(targets[train_idx])
        config = TrainConfig(
            epochs=check_size("epochs", self.epochs), batch_size=1, loss=self._loss,
            clip_norm=self.clip_norm, patience=self.patience if len(val_idx) else None,
            progress=check_flag("verbose", self.verbose), seed=int(gen.integers(2**31)),
            class_weights=weights)
        trainer = Trainer(model, Adam(model.params, lr=self.lr, weight_decay=self.weight_decay), config)
        train = self._data([seqs[i] for i in train_idx], targets[train_idx], gen)
        val = self._data([seqs[i] for i in val_idx], targets[val_idx], gen) if len(val_idx) else None
        history = trainer.fit(train, val)
        if val is not None and history.restored is None:  # the best epoch's weights, even at the end
            history.restored = restore_best(trainer)
        model.eval()
        self.model_, self.history_ = model, history
        return self

    def _check_params(self) -> None:
        check_real("validation_fraction", self.validation_fraction, low=0.0, high=1.0, high_open=True)
        check_real("lr", self.lr, low=0.0, low_open=True)
        check_real("weight_decay", self.weight_decay, low=0.0)
        check_flag("standardize", self.standardize)
        if self.head not in HEADS or self.head == "all":
            raise ValueError(f"head must be one of {', '.join(map(repr, HEADS[1:]))} (one prediction per "
                             f"sequence), got {self.head!r}")

    def _model_config(self) -> ModelConfig:
        ids = self.vocab_size_ is not None
        return ModelConfig(cell=self.cell, input_size=None if ids else self.n_features_in_,
                           vocab_size=self.vocab_size_, embedding_dim=self.embedding_dim if ids else None,
                           hidden_size=self.hidden_size, num_layers=self.num_layers, dropout=self.dropout,
                           bidirectional=self.bidirectional, output_size=self._outputs(), head=self.head,
                           dtype=self.dtype)

    def _fit_scaling(self, seqs: list[np.ndarray]) -> None:
        if self.vocab_size_ is not None or not self.standardize:
            self.feature_mean_ = self.feature_scale_ = None
            return
        frames = np.concatenate(seqs)  # (sum T_i, F)
        self.feature_mean_, self.feature_scale_ = frames.mean(axis=0), _scale(frames)

    def _split(self, targets: np.ndarray, gen) -> tuple[np.ndarray, np.ndarray]:
        """Train and validation indices: ``validation_fraction`` of the sequences rounded (at least
        one when there are two or more), shared out over the classes in proportion to their sizes
        for the classifier (largest remainders first; a class keeps one for training)."""
        n, frac = len(targets), float(self.validation_fraction)
        total = 0 if frac == 0 or n < 2 else min(n - 1, max(1, math.floor(frac * n + 0.5)))
        groups = [np.arange(n)] if self._estimator_type != "classifier" else [
            np.flatnonzero(targets == c) for c in np.unique(targets)]
        sizes = np.array([len(g) for g in groups])
        quota = total * sizes / n  # (G,)
        take = np.minimum(np.floor(quota).astype(np.int64), sizes - 1)
        for i in np.argsort(-(quota - np.floor(quota)), kind="stable"):  # the rest by largest remainder
            if take.sum() >= total:
                break
            if take[i] < sizes[i] - 1:
                take[i] += 1
        val = [gen.permutation(g)[:k] for g, k in zip(groups, take, strict=True)]
        val_idx = np.sort(np.concatenate(val)).astype(np.int64)
        return np.setdiff1d(np.arange(n), val_idx), val_idx

    def _inputs(self, seqs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Padded (T, N, F) (scaled, the model's dtype) or (T, N) ids, and the lengths."""
        if (seqs[0].ndim == 1) != (self.vocab_size_ is not None):
            want = "token ids" if self.vocab_size_ is not None else f"(T, {self.n_features_in_}) features"
            raise ValueError(f"the estimator was fitted on {want}, X holds "
                             f"{'token ids' if seqs[0].ndim == 1 else 'features'}")
        if self.vocab_size_ is not None:
            hi = max(int(s.max()) for s in seqs)
            if hi >= self.vocab_size_ or min(int(s.min()) for s in seqs) < 0:
                raise ValueError(f"X holds token ids outside [0, {self.vocab_size_}), the ids seen in fit")
            return pad_sequences(seqs)
        if seqs[0].shape[1] != self.n_features_in_:
            raise ValueError(f"X has {seqs[0].shape[1]} features per step, the estimator was fitted with "
                             f"{self.n_features_in_}")
        if self.feature_mean_ is not None:
            seqs = [(s - self.feature_mean_) / self.feature_scale_ for s in seqs]
        return pad_sequences(seqs, dtype=self.dtype)

    def _data(self, seqs, targets, gen) -> BucketedData:
        x, lengths = self._inputs(seqs)
        size = check_size("batch_size", self.batch_size)
        return BucketedData(x, targets, lengths, size, per_step=False, seed=int(gen.integers(2**31)))

    def _outputs_of(self, X) -> np.ndarray:
        """The model's outputs (N, O) for X, in X's order."""
        if not hasattr(self, "model_"):
            raise ValueError(f"this {type(self).__name__} is not fitted yet: call fit(X, y) first")
        seqs = as_sequences(X)
        order = np.argsort([len(s) for s in seqs], kind="stable")  # similar lengths batch together
        out = np.empty((len(seqs), self.model_.output_size), self.model_.dtype)
        for lo in range(0, len(seqs), PREDICT_BATCH):
            idx = order[lo : lo + PREDICT_BATCH]
            x, lengths = self._inputs([seqs[i] for i in idx])
            y, _, _ = self.model_.forward(x, lengths=lengths)
            out[idx] = y
        return out

    # -- files --------------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike):
        """Write the fitted estimator to ``path`` in the checkpoint format (atomically): the weights,
        the constructor's arguments (a Generator ``random_state`` as None), what fit learnt and the
        whole history."""
        if not hasattr(self, "model_"):
            raise ValueError(f"this {type(self).__name__} is not fitted yet: there is nothing to save")
        params = self.get_params()
        if isinstance(params["random_state"], np.random.Generator):
            params["random_state"] = None
        params["dtype"] = check_dtype(params["dtype"]).name
        if isinstance(params.get("class_weight"), dict):  # JSON keys are strings: kept as pairs
            pairs = [[_plain(k), float(v)] for k, v in params["class_weight"].items()]
            params["class_weight"] = {"pairs": pairs}
        fitted = {"n_features_in": self.n_features_in_, "vocab_size": self.vocab_size_, **self._fitted()}
        arrays = {"feature_mean": self.feature_mean_, "feature_scale": self.feature_scale_}
        hist = self.history_
        save_checkpoint(path, params=self.model_.params, history=hist.steps,
                        config={"kind": FORMAT_KIND, "estimator": type(self).__name__,
                                "model": self.model_.config.to_dict(), "params": params, "fitted": fitted},
                        extra={**{k: v for k, v in arrays.items() if v is not None},
                               "evals": hist.evals, "restored": hist.restored})
        return path

    @classmethod
    def load(cls, path: str | os.PathLike):
        """An estimator written by ``save``; a file that is not one is a ValueError naming it."""
        ckpt = load_checkpoint(path)
        cfg = ckpt.config or {}
        if cfg.get("kind") != FORMAT_KIND or cfg.get("estimator") != cls.__name__:
            raise ValueError(f"{str(path)!r} holds no {cls.__name__} (a checkpoint of "
                             f"{cfg.get('estimator') or 'something else'})")
        try:
            params = dict(cfg["params"])
            if isinstance(params.get("class_weight"), dict) and "pairs" in params["class_weight"]:
                params["class_weight"] = {k: v for k, v in params["class_weight"]["pairs"]}
            est = cls(**params)
            fitted, extra = cfg["fitted"], ckpt.extra or {}
            est.n_features_in_, est.vocab_size_ = fitted["n_features_in"], fitted["vocab_size"]
            est.feature_mean_, est.feature_scale_ = extra.get("feature_mean"), extra.get("feature_scale")
            est._load_fitted(fitted)
            model = SequenceModel(ModelConfig.from_dict(cfg["model"]), rng=0)
            model.load_state_dict(ckpt.params)
            if model.output_size != est._outputs():
                raise ValueError(f"the model predicts {model.output_size} values, the estimator "
                                 f"{est._outputs()}")
            est.history_ = History(steps=list(ckpt.history or []), evals=list(extra.get("evals") or []),
                                   restored=extra.get("restored"))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{str(path)!r} is not a readable {cls.__name__}: {exc}") from None
        est.model_ = model.eval()
        return est


class SequenceClassifier(_SequenceEstimator):
    """A recurrent classifier of sequences (module docstring). ``class_weight``: None, "balanced"
    (n / (classes * count) per class) or a dict label -> weight."""

    _estimator_type = "classifier"
    _loss = "cross_entropy"

    def __init__(self, cell: str = "gru", hidden_size: int = 64, num_layers: int = 1,
                 bidirectional: bool = True, head: str = "final", dropout: float = 0.0,
                 embedding_dim: int | None = 16, epochs: int = 100, batch_size: int = 32,
                 lr: float = 0.005, weight_decay: float = 0.0, clip_norm: float | None = 5.0,
                 validation_fraction: float = 0.1, patience: int | None = 20, standardize: bool = True,
                 class_weight=None, random_state=None, dtype: str = "float32", verbose: bool = False):
        super().__init__(cell, hidden_size, num_layers, bidirectional, head, dropout, embedding_dim, epochs,
                         batch_size, lr, weight_decay, clip_norm, validation_fraction, patience, standardize,
                         random_state, dtype, verbose)
        self.class_weight = class_weight

    def _fit_targets(self, y, n: int) -> np.ndarray:
        labels = _labels(y, n)
        self.classes_ = np.unique(labels)
        if len(self.classes_) < 2:
            raise ValueError(f"y holds one class only ({self.classes_[0]!r}); a classifier needs two or more")
        return np.searchsorted(self.classes_, labels).astype(np.int64)  # (N,) class indices

    def _outputs(self) -> int:
        return len(self.classes_)

    def _class_weights(self, targets: np.ndarray):
        cw = self.class_weight
        if cw is None:
            return None
        counts = np.bincount(targets, minlength=len(self.classes_)).astype(np.float64)
        if isinstance(cw, str) and cw == "balanced":
            balanced = len(targets) / (len(counts) * np.maximum(counts, 1))  # (C,)
            return tuple(float(v) for v in np.where(counts > 0, balanced, 0.0))
        if isinstance(cw, dict):
            known = set(self.classes_.tolist())
            unknown = [k for k in cw if k not in known]
            if unknown:
                raise ValueError(f"class_weight names labels y does not hold: {unknown!r:.200}")
            return tuple(check_real(f"class_weight[{c!r}]", cw.get(c, 1.0), low=0.0)
                         for c in self.classes_.tolist())
        raise ValueError(f"class_weight must be None, 'balanced' or a dict label -> weight, got {cw!r}")

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities (N, classes), columns in the order of ``classes_``."""
        return softmax(self._outputs_of(X).astype(np.float64), axis=-1)

    def predict(self, X) -> np.ndarray:
        """The most probable class of each sequence, (N,) labels of ``classes_``."""
        best = np.argmax(self._outputs_of(X), axis=1)  # (N,)
        return self.classes_[best]

    def score(self, X, y) -> float:
        """Accuracy on X against the labels y; a label fit never saw is a ValueError."""
        predicted = self.predict(X)
        labels = _labels(y, len(predicted))
        unseen = labels[~np.isin(labels, self.classes_)]
        if unseen.size:
            seen = sorted(set(unseen.tolist()))
            raise ValueError(f"y holds labels the classifier never saw in fit: {seen!r:.200}; it knows "
                             f"{self.classes_.tolist()!r:.200}")
        return float(np.mean(predicted == labels))

    def _fitted(self) -> dict:
        return {"classes": self.classes_.tolist()}

    def _load_fitted(self, fitted: dict) -> None:
        self.classes_ = np.asarray(fitted["classes"])


class SequenceRegressor(_SequenceEstimator):
    """A recurrent regressor of sequences (module docstring): y (N,) or (N, k) floats."""

    _estimator_type = "regressor"
    _loss = "mse"

    def _fit_targets(self, y, n: int) -> np.ndarray:
        arr = np.asarray(y)
        if arr.dtype == object or arr.dtype.kind not in "iuf":
            raise ValueError(f"y must hold numbers, got dtype {arr.dtype}")
        if arr.ndim not in (1, 2) or arr.shape[0] != n:
            raise ValueError(f"y must be ({n},) or ({n}, k) targets, one per sequence of X, got shape "
                             f"{arr.shape}")
        if not np.all(np.isfinite(arr)):
            raise ValueError("y holds NaN or infinite values")
        self.n_outputs_ = 1 if arr.ndim == 1 else arr.shape[1]
        self.target_1d_ = arr.ndim == 1
        arr = arr.reshape(n, -1).astype(np.float64)
        self.y_mean_, self.y_scale_ = arr.mean(axis=0), _scale(arr)
        return ((arr - self.y_mean_) / self.y_scale_).astype(self.dtype)  # (N, k)

    def _outputs(self) -> int:
        return self.n_outputs_

    def _class_weights(self, targets):
        return None

    def predict(self, X) -> np.ndarray:
        """Predicted targets, (N,) or (N, k) as y was in fit."""
        out = self._outputs_of(X).astype(np.float64) * self.y_scale_ + self.y_mean_  # (N, k)
        return out[:, 0] if self.target_1d_ else out

    def score(self, X, y) -> float:
        """The coefficient of determination R^2 of the predictions (averaged over the outputs)."""
        pred = self.predict(X)
        arr = np.asarray(y, dtype=np.float64)
        if arr.shape != pred.shape:
            raise ValueError(f"y has shape {arr.shape}, the regressor predicts {pred.shape} (targets of "
                             f"width {self.n_outputs_})")
        return r2_score(arr, pred)

    def _fitted(self) -> dict:
        return {"n_outputs": self.n_outputs_, "target_1d": self.target_1d_, "y_mean": self.y_mean_.tolist(),
                "y_scale": self.y_scale_.tolist()}

    def _load_fitted(self, fitted: dict) -> None:
        self.n_outputs_, self.target_1d_ = int(fitted["n_outputs"]), bool(fitted["target_1d"])
        self.y_mean_, self.y_scale_ = np.asarray(fitted["y_mean"]), np.asarray(fitted["y_scale"])


def r2_score(y, pred) -> float:
    """The coefficient of determination of ``pred`` for targets ``y`` of one shape, (N,) or
    (N, k), averaged over the k outputs (a constant target: 1 if hit exactly, else 0)."""
    n = len(y)
    arr, pred = np.asarray(y, np.float64).reshape(n, -1), np.asarray(pred, np.float64).reshape(n, -1)
    ss_res = ((arr - pred) ** 2).sum(axis=0)
    ss_tot = ((arr - arr.mean(axis=0)) ** 2).sum(axis=0)
    perfect = np.where(ss_res == 0, 1.0, 0.0)
    r2 = np.where(ss_tot > 0, 1.0 - ss_res / np.where(ss_tot > 0, ss_tot, 1.0), perfect)
    return float(r2.mean())


def _labels(y, n: int) -> np.ndarray:
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise ValueError(f"y must be 1-D, one label per sequence, got shape {arr.shape}")
    if arr.shape[0] != n:
        raise ValueError(f"y has {arr.shape[0]} labels, X has {n} sequences")
    return arr


def _scale(a: np.ndarray) -> np.ndarray:
    """Each column's standard deviation, 1 for a column that is constant (to rounding)."""
    sd = a.std(axis=0)
    return np.where(sd > 1e-12 * np.maximum(1.0, np.abs(a).max(axis=0)), sd, 1.0)


def _generator(random_state) -> np.random.Generator:
    """``check_random_state``, its message naming random_state; a Generator is used (and consumed)
    as it is, so two fits with one Generator differ, as scikit-learn's RandomState does."""
    try:
        return check_random_state(random_state)
    except ValueError:
        raise ValueError(f"random_state must be None, an integer seed >= 0 or a numpy Generator, got "
                         f"{random_state!r}") from None


def _plain(v):
    """A label as JSON holds it (numpy scalars as Python numbers)."""
    return v.item() if isinstance(v, np.generic) else v


def _same(a, b) -> bool:
    try:
        return bool(a == b) and type(a) is type(b)
    except (TypeError, ValueError):
        return a is b
