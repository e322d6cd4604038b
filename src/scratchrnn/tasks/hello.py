"""The "hello" character RNN: learn to continue h -> e -> l -> l -> o.

Alphabet h, e, l, o (in that order, as the worked example writes its one-hot vectors); one-hot
input with biases; 3 sigmoid hidden units; a linear output layer and softmax cross-entropy on the
next character of "hello". ``scratchrnn trace`` prints every number of one step of this model.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..checks import check_int, check_real, check_size
from ..data.sequences import SequenceData
from ..optim import Adam
from ..trace import build_char_model, char_model_config
from ..train import TrainConfig, Trainer
from .base import TaskResult

__all__ = ["ALPHABET", "Config", "encode", "run"]

ALPHABET = "helo"  # the example's own order
WORD = "hello"


@dataclass
class Config:
    """The "hello" task's settings.

    Attributes:
        hidden_size (int, default 3): sigmoid hidden units (the worked example's).
        steps (int, default 300): Adam steps on the one sequence "hell" -> "ello".
        lr (float, default 0.1): Adam's learning rate.
        seed (int, default 0): seeds the initial weights.
    """

    hidden_size: int = 3  # sigmoid hidden units (tutorial)
    steps: int = 300
    lr: float = 0.1
    seed: int = 0

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the first bad field (numpy scalars are stored as Python numbers)."""
        self.hidden_size = check_size("hidden_size", self.hidden_size)
        self.steps = check_int("steps", self.steps, low=1)
        self.lr = check_real("lr", self.lr, low=0.0, low_open=True)
        self.seed = check_int("seed", self.seed, low=0)
        char_model_config(len(ALPHABET), self.hidden_size)  # refused here if it could not fit

    @classmethod
    def quick(cls) -> Config:
        return cls()


def encode(text: str) -> np.ndarray:
    """Characters of the alphabet -> integer ids."""
    if not isinstance(text, str):
        raise ValueError(f"text must be a str of the characters {ALPHABET!r}, got {type(text).__name__}")
    bad = sorted(set(text) - set(ALPHABET))
    if bad:
        raise ValueError(f"characters {bad} are not in the alphabet {list(ALPHABET)}")
    return np.array([ALPHABET.index(c) for c in text], dtype=np.int64)


def run(cfg: Config | None = None, progress: bool = False) -> TaskResult:
    cfg = cfg or Config()
    t0 = time.perf_counter()
    ids = encode(WORD)
    x, y = ids[:-1, None], ids[1:, None]  # (4, 1) "hell" -> "ello"
    model = build_char_model(len(ALPHABET), cfg.hidden_size, "sigmoid", rng=cfg.seed)
    tc = TrainConfig(steps=cfg.steps, batch_size=1, seed=cfg.seed, progress=progress)
    hist = Trainer(model, Adam(model.params, lr=cfg.lr), tc).fit(SequenceData(x, y))
    logits, _, _ = model.forward(x)
    pred = logits.argmax(-1)[:, 0]
    acc = float(np.mean(pred == y[:, 0]))
    text = "h" + "".join(ALPHABET[i] for i in pred)
    return TaskResult(
        name="hello",
        tutorial="one worked step by hand (forward, backward, update); no trained result",
        ours=f"next-character accuracy {acc:.0%}: predicts {text!r}; loss {hist.losses[-1]:.4f}",
        target="100% next-character accuracy",
        passed=acc == 1.0,
        seconds=time.perf_counter() - t0,
        metrics={"accuracy": acc, "final_loss": hist.losses[-1], "prediction": text},
        curves={"loss": hist.losses},
        artifacts={"model": model},
    )
