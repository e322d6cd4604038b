"""Training a :class:`~scratchrnn.seq2seq.model.Seq2Seq` on (source, target) pairs of token ids:
shuffled minibatches padded to their longest pair, Adam, gradients clipped by their global norm,
teacher forcing or scheduled sampling, and exact-match accuracy of greedy decoding.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..checks import check_flag, check_int, check_real, check_size
from ..optim import make_optimizer
from ..optim.clipping import clip_grad_norm
from ..optim.schedules import CosineLR
from .data import batch
from .decode import greedy
from .model import Seq2Seq

__all__ = ["FitConfig", "exact_match", "fit"]


@dataclass
class FitConfig:
    """How :func:`fit` trains.

    Attributes:
        epochs (int, default 10): passes over the pairs.
        batch_size (int, default 64): pairs per step.
        lr (float, default 0.005): Adam's learning rate at the start.
        cosine (bool, default True): the rate falls along a cosine to 0 over the steps of all epochs
            (``scratchrnn.optim.schedules.CosineLR``); False: it stays at ``lr``.
        clip_norm (float or None, default 1.0): the gradients' global norm is clipped to this; None: not.
        sampling_rate (float, default 0.0): scheduled sampling's rate (``Seq2Seq.loss_and_grads``).
        seed (int, default 0): seeds the batch order and scheduled sampling's draws.
    """

    epochs: int = 10
    batch_size: int = 64
    lr: float = 0.005
    cosine: bool = True
    clip_norm: float | None = 1.0
    sampling_rate: float = 0.0
    seed: int = 0

    def __post_init__(self):
        self.epochs = check_int("epochs", self.epochs, low=0)
        self.batch_size = check_size("batch_size", self.batch_size)
        self.lr = check_real("lr", self.lr, low=0.0, low_open=True)
        self.cosine = check_flag("cosine", self.cosine)
        if self.clip_norm is not None:
            self.clip_norm = check_real("clip_norm", self.clip_norm, low=0.0, low_open=True)
        self.sampling_rate = check_real("sampling_rate", self.sampling_rate, low=0.0, high=1.0)
        self.seed = check_int("seed", self.seed, low=0)


def fit(model: Seq2Seq, sources: Sequence[np.ndarray], targets: Sequence[np.ndarray], cfg: FitConfig,
        callback: Callable[[int, float], None] | None = None) -> list[float]:
    """Train ``model`` in place on the pairs (each target ending with EOS); returns each epoch's
    mean training loss. ``callback(epoch, loss)`` is called after each epoch."""
    if len(sources) != len(targets) or not sources:
        raise ValueError(f"fit needs as many targets as sources, at least one, got {len(sources)} "
                         f"and {len(targets)}")
    gen = np.random.default_rng(cfg.seed)
    opt = make_optimizer("adam", model.params, lr=cfg.lr)
    steps = cfg.epochs * -(-len(sources) // cfg.batch_size)
    schedule = CosineLR(opt, steps) if cfg.cosine and steps > 0 else None
    model.train()
    history = []
    for epoch in range(cfg.epochs):
        order = gen.permutation(len(sources))
        total, count = 0.0, 0
        for start in range(0, len(order), cfg.batch_size):
            rows = order[start:start + cfg.batch_size]
            src, sl, tgt, tl = batch([sources[i] for i in rows], [targets[i] for i in rows])
            loss, grads = model.loss_and_grads(src, tgt, sl, tl, cfg.sampling_rate, gen)
            if cfg.clip_norm is not None:
                clip_grad_norm(grads, cfg.clip_norm)
            opt.step(grads)
            if schedule is not None:
                schedule.step()
            total += loss * len(rows)
            count += len(rows)
        history.append(total / count)
        if callback is not None:
            callback(epoch, history[-1])
    model.eval()
    return history


def exact_match(model: Seq2Seq, sources: Sequence[np.ndarray], targets: Sequence[np.ndarray],
                max_length: int, batch_size: int = 500) -> float:
    """The fraction of sources whose greedy decoding is exactly its target (EOS left out)."""
    right = 0
    for start in range(0, len(sources), batch_size):
        src, sl = batch(sources[start:start + batch_size])
        for hyp, tgt in zip(greedy(model, src, sl, max_length=max_length),
                            targets[start:start + batch_size], strict=True):
            want = [int(t) for t in tgt]
            right += hyp.ended and hyp.tokens == want[:-1] if want and want[-1] == model.config.eos_id \
                else hyp.tokens == want
    return right / max(len(sources), 1)
