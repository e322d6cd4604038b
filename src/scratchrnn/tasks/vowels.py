"""Who is speaking: the Japanese Vowels set, classified by a bidirectional recurrent network.

Data: the shipped UCI set (``scratchrnn.data.load_japanese_vowels``; its source in
``data/SOURCES.md``): nine speakers uttering /ae/, each utterance 7 to 29 frames of 12 LPC
cepstrum coefficients, the original split of 270 training and 370 test utterances. Model: a
:class:`~scratchrnn.estimators.SequenceClassifier` (a bidirectional GRU, head "final", on
standardised frames with their lengths), early-stopped on a tenth of the training set. Baselines
computed here on the same split, from each utterance's mean frame (standardised with the training
set's statistics): the nearest training utterance (1-NN, Euclidean), the nearest speaker mean, and
the most frequent training speaker.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..checks import check_dtype, check_int, check_real, check_size
from ..data.labelled import load_japanese_vowels
from ..estimators import SequenceClassifier
from ..nn.model import check_cell
from .base import TaskResult

__all__ = ["Config", "baselines", "run"]


@dataclass
class Config:
    """The vowels task's settings; ``quick()`` is the demo's (the same: it trains in seconds).

    Attributes:
        cell (str, default "gru"): the recurrent cell.
        hidden_size (int, default 64): hidden units per direction.
        epochs (int, default 100): at most this many passes over the training utterances.
        patience (int, default 20): epochs without a lower validation loss before stopping.
        lr (float, default 0.005): Adam's learning rate.
        target_accuracy (float, default 0.97): the test accuracy that passes.
        seed (int, default 0): the classifier's random_state.
        dtype (str, default "float32"): "float32" or "float64".
    """

    cell: str = "gru"
    hidden_size: int = 64
    epochs: int = 100
    patience: int = 20
    lr: float = 0.005
    target_accuracy: float = 0.97
    seed: int = 0
    dtype: str = "float32"

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the first bad field."""
        self.cell = check_cell(self.cell)
        self.hidden_size = check_size("hidden_size", self.hidden_size)
        self.epochs = check_int("epochs", self.epochs, low=1)
        self.patience = check_int("patience", self.patience, low=1)
        self.lr = check_real("lr", self.lr, low=0.0, low_open=True)
        self.target_accuracy = check_real("target_accuracy", self.target_accuracy, low=0.0, high=1.0)
        self.seed = check_int("seed", self.seed, low=0)
        self.dtype = check_dtype(self.dtype).name

    @classmethod
    def quick(cls) -> Config:
        return cls()


def baselines(X, y, X_test, y_test) -> dict[str, float]:
    """Test accuracies of the mean-frame baselines (module docstring)."""
    m, mt = np.stack([x.mean(axis=0) for x in X]), np.stack([x.mean(axis=0) for x in X_test])  # (N, F)
    mu, sd = m.mean(axis=0), m.std(axis=0)
    m, mt = (m - mu) / sd, (mt - mu) / sd
    d = ((mt[:, None, :] - m[None, :, :]) ** 2).sum(axis=2)  # (N_test, N) squared distances
    speakers = np.unique(y)
    centroids = np.stack([m[y == s].mean(axis=0) for s in speakers])  # (S, F)
    dc = ((mt[:, None, :] - centroids[None]) ** 2).sum(axis=2)  # (N_test, S)
    majority = speakers[np.argmax([np.count_nonzero(y == s) for s in speakers])]
    return {
        "1-NN on the mean frame": float(np.mean(y[d.argmin(axis=1)] == y_test)),
        "nearest speaker mean": float(np.mean(speakers[dc.argmin(axis=1)] == y_test)),
        "most frequent speaker": float(np.mean(y_test == majority)),
    }


def run(cfg: Config | None = None, progress: bool = False) -> TaskResult:
    cfg = cfg or Config()
    t0 = time.perf_counter()
    X, y = load_japanese_vowels("train")
    X_test, y_test = load_japanese_vowels("test")
    clf = SequenceClassifier(cell=cfg.cell, hidden_size=cfg.hidden_size, epochs=cfg.epochs,
                             patience=cfg.patience, lr=cfg.lr, random_state=cfg.seed, dtype=cfg.dtype,
                             verbose=progress).fit(X, y)
    train_seconds = time.perf_counter() - t0
    accuracy = clf.score(X_test, y_test)
    base = baselines(X, y, X_test, y_test)
    best = clf.history_.restored["best_step"] if clf.history_.restored else clf.history_.steps[-1]["step"]
    shown = ", ".join(f"{k} {v:.3f}" for k, v in base.items())
    return TaskResult(
        name="vowels",
        tutorial="none; the set's paper (Kudo, Toyama and Shimbo 1999) introduced this split",
        ours=f"test accuracy {accuracy:.4f} on 370 utterances ({train_seconds:.1f} s of training); "
             f"baselines: {shown}",
        target=f"test accuracy >= {cfg.target_accuracy}",
        passed=accuracy >= cfg.target_accuracy,
        seconds=time.perf_counter() - t0,
        metrics={"test_accuracy": accuracy, "train_seconds": train_seconds, "best_step": best,
                 "epochs_run": clf.history_.steps[-1]["epoch"] + 1,  # epochs count from 0
                 **{f"baseline: {k}": v for k, v in base.items()}},
        curves={"loss": clf.history_.losses, "val_loss": clf.history_.val_losses},
    )
