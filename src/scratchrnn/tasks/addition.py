"""Binary addition, bit by bit: a sigmoid RNN that learns to carry.

Two operands are fed least significant bit first, one bit of each per step (2 inputs); the
network emits one bit of the sum per step through a sigmoid output. The tutorial trains 16 sigmoid
hidden units with 10,000 single-sample SGD steps on numbers below 128. Here the same model is
trained on vectorized minibatches with the sigmoid folded into a binary cross-entropy on the
output logit (the exact gradient of the log-likelihood), then tested on every pair of operands
below 128 and on random 32-bit operands, which need 33 steps: the carry rule generalises.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..checks import check_dtype, check_int, check_real, check_size
from ..data.sequences import SequenceData
from ..data.synthetic import MAX_ENUMERATED_BITS, addition_pairs, all_addition_pairs, bits_to_int
from ..nn.model import ModelConfig, SequenceModel, check_cell
from ..optim import Adam
from ..train import TrainConfig, Trainer
from .base import TaskResult

__all__ = ["Config", "add", "build_model", "model_config", "run"]

MAX_ADD_BITS = 63  # ``add`` decodes sums into uint64, and operands below 2**63 cannot overflow it
# every pair of training operands is tested, at most 2**MAX_ENUMERATED_BITS of them
MAX_TRAIN_BITS = MAX_ENUMERATED_BITS // 2 + 1


@dataclass
class Config:
    """The binary-addition task's settings (the tutorial's model, trained in minibatches).

    Attributes:
        hidden_size (int, default 16): sigmoid hidden units.
        cell (str, default "rnn"): the recurrent cell, "rnn", "lstm" or "gru".
        bits (int, default 8): steps per training sum; operands below 2**(bits - 1), so the sum fits.
        train_pairs (int, default 4096): random training pairs of operands.
        batch_size (int, default 64): pairs per Adam step.
        steps (int, default 3000): Adam steps.
        lr (float, default 0.03): Adam's learning rate.
        seed (int, default 0): seeds the data, the weights and the batch order; test pairs use seed + 1.
        test_bits (int, default 32): width of the random operands that test generalisation.
        test_pairs (int, default 10000): how many of them (every training-width pair is tested too).
        dtype (str, default "float32"): "float32" or "float64".
    """

    hidden_size: int = 16  # sigmoid hidden units (tutorial)
    cell: str = "rnn"
    bits: int = 8  # training operands are below 2**(bits-1) so the sum fits in `bits` bits
    train_pairs: int = 4096  # random training pairs
    batch_size: int = 64
    steps: int = 3000
    lr: float = 0.03
    seed: int = 0
    test_bits: int = 32  # width of the random generalisation operands
    test_pairs: int = 10_000
    dtype: str = "float32"

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the first bad field (numpy scalars are stored as Python numbers,
        the dtype as its name), and refuse a model that could not fit in memory."""
        self.hidden_size = check_size("hidden_size", self.hidden_size)
        self.cell = check_cell(self.cell)
        self.bits = check_int("bits", self.bits, low=1, high=MAX_TRAIN_BITS)
        self.train_pairs = check_int("train_pairs", self.train_pairs, low=1)
        self.batch_size = check_size("batch_size", self.batch_size)
        self.steps = check_int("steps", self.steps, low=1)
        self.lr = check_real("lr", self.lr, low=0.0, low_open=True)
        self.seed = check_int("seed", self.seed, low=0)
        # the sums of test_bits-bit operands take test_bits + 1 steps
        self.test_bits = check_int("test_bits", self.test_bits, low=1, high=MAX_ADD_BITS - 1)
        self.test_pairs = check_int("test_pairs", self.test_pairs, low=1)
        self.dtype = check_dtype(self.dtype).name
        model_config(self)

    @classmethod
    def quick(cls) -> Config:
        return cls()


def model_config(cfg: Config) -> ModelConfig:
    """The model's configuration: two input bits, sigmoid units, one output logit per step."""
    return ModelConfig(cell=cfg.cell, input_size=2, hidden_size=cfg.hidden_size, nonlinearity="sigmoid",
                       output_size=1, dtype=cfg.dtype)


def build_model(cfg: Config) -> SequenceModel:
    return SequenceModel(model_config(cfg), rng=cfg.seed)


def add(model: SequenceModel, a: np.ndarray, b: np.ndarray, bits: int) -> np.ndarray:
    """Sum non-negative integer arrays a, b (N,) with the model over ``bits`` steps -> (N,) uint64.

    The operands are fed least significant bit first, zero-padded to ``bits`` bits, and sum bit t
    is read as ``logit_t > 0``; every true sum a + b must be below 2**bits (the carry needs a step).
    """
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim != 1 or a.shape != b.shape or a.dtype.kind not in "iu" or b.dtype.kind not in "iu":
        raise ValueError(f"a and b must be 1-D integer arrays of equal length, got {a.dtype} {a.shape} "
                         f"and {b.dtype} {b.shape}")
    bits = check_int("bits", bits, low=1, high=MAX_ADD_BITS)
    if a.size and (a.min() < 0 or b.min() < 0 or max(int(a.max()), int(b.max())) >= 2**bits):
        raise ValueError(f"operands must lie in [0, 2**{bits}), got a in [{a.min()}, {a.max()}] and "
                         f"b in [{b.min()}, {b.max()}]")
    a, b = a.astype(np.uint64), b.astype(np.uint64)  # (N,), (N,); each below 2**63, so a + b fits
    if a.size and int(((a + b) >> np.uint64(bits)).max()):
        raise ValueError(f"some sums a + b reach 2**{bits}: they need more than bits={bits} steps")
    shifts = np.arange(bits, dtype=np.uint64)[:, None]  # (T, 1)
    x = np.empty((bits, len(a), 2), model.dtype)  # (T, N, 2) least significant bit first
    x[..., 0] = (a[None] >> shifts) & np.uint64(1)
    x[..., 1] = (b[None] >> shifts) & np.uint64(1)
    was_training = model.training
    logits, _, _ = model.train(False).forward(x)  # (T, N, 1)
    model.train(was_training)
    return bits_to_int((logits[..., 0] > 0).astype(np.int64))


def run(cfg: Config | None = None, progress: bool = False) -> TaskResult:
    cfg = cfg or Config()
    t0 = time.perf_counter()
    rng = np.random.default_rng(cfg.seed)
    x, y = addition_pairs(cfg.train_pairs, cfg.bits, rng)  # operands below 2**(bits-1)
    model = build_model(cfg)
    data = SequenceData(x.astype(model.dtype), y.astype(model.dtype))
    tc = TrainConfig(steps=cfg.steps, batch_size=cfg.batch_size, loss="bce_with_logits", seed=cfg.seed,
                     progress=progress)
    hist = Trainer(model, Adam(model.params, lr=cfg.lr), tc).fit(data)
    train_seconds = time.perf_counter() - t0
    # every pair of operands below 2**(bits-1)
    xa, ya = all_addition_pairs(cfg.bits)
    logits, _, _ = model.train(False).forward(xa.astype(model.dtype))
    pred = (logits[..., 0] > 0).astype(np.int64)  # (T, N)
    exact_all = int(np.sum(np.all(pred == ya[..., 0].astype(np.int64), axis=0)))
    # random operands of test_bits bits, summed over test_bits + 1 steps
    trng = np.random.default_rng(cfg.seed + 1)
    a = trng.integers(0, 2**cfg.test_bits, size=cfg.test_pairs, dtype=np.uint64)
    b = trng.integers(0, 2**cfg.test_bits, size=cfg.test_pairs, dtype=np.uint64)
    got = add(model, a, b, cfg.test_bits + 1)
    exact_big = int(np.sum(np.asarray(got, np.uint64) == a + b))  # a + b < 2**33 fits in uint64
    n_all = ya.shape[1]
    passed = exact_all == n_all and exact_big == cfg.test_pairs
    return TaskResult(
        name="binary-addition",
        tutorial="10,000 single-sample SGD steps (lr 0.1) on 8-bit sums; no systematic test",
        ours=f"{exact_all}/{n_all} 8-bit pairs and {exact_big}/{cfg.test_pairs} {cfg.test_bits}-bit pairs "
             "exact",
        target="every 8-bit pair and every 32-bit pair summed exactly",
        passed=passed,
        seconds=time.perf_counter() - t0,
        metrics={"exact_8bit_pairs": exact_all, "pairs_8bit": n_all, "exact_32bit_pairs": exact_big,
                 "pairs_32bit": cfg.test_pairs, "final_loss": hist.losses[-1], "train_seconds": train_seconds,
                 "steps": cfg.steps},
        curves={"loss": hist.losses},
        artifacts={"model": model},
        figures=("addition_hidden",),
    )
