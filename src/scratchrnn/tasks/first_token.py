"""Why lengths matter: the label is the first token of a long sequence that is then padded.

Data (synthetic, drawn from ``seed``): sequences of ``vocab`` random token ids, of lengths drawn
uniformly from [max_len/2, max_len], padded to ``max_len`` with an id of their own (``vocab``);
the label is the sequence's first token modulo ``classes``. Two bidirectional models with the same
cell, sizes, data, optimizer and epochs:

* ``"final"`` with lengths: the reverse direction reads each sequence from its own last step back
  to its first token, so the label is one step from its final state;
* ``"last"`` on the padded batch without lengths (what a padded batch gives a layer that does not
  know where sequences end): the output at step max_len - 1, where the reverse direction has read
  one padding token and the forward direction must carry the first token across the whole
  sequence and its padding.

The task passes when the first reaches ``target_accuracy`` on held-out sequences; the second's
accuracy is reported beside it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..checks import check_dtype, check_int, check_real, check_size
from ..data.sequences import SequenceData
from ..nn.model import ModelConfig, SequenceModel, check_cell
from ..optim import Adam
from ..train import TrainConfig, Trainer
from .base import TaskResult

__all__ = ["Config", "make_data", "run"]


@dataclass
class Config:
    """The first-token task's settings; ``quick()`` is the demo's.

    Attributes:
        vocab (int, default 10): token ids 0 .. vocab - 1 (the padding id is ``vocab``).
        classes (int, default 5): the label is the first token modulo this.
        max_len (int, default 40): sequences are padded to it; lengths in [max_len // 2, max_len].
        n_train (int, default 2000): training sequences.
        n_test (int, default 1000): held-out sequences.
        cell (str, default "gru"): the recurrent cell of both models.
        hidden_size (int, default 32): hidden units per direction.
        embedding_dim (int, default 8): the token embedding.
        epochs (int, default 5): passes over the training sequences, for both models.
        batch_size (int, default 32): sequences per Adam step.
        lr (float, default 0.01): Adam's learning rate.
        target_accuracy (float, default 0.99): the held-out accuracy of "final" with lengths that passes.
        seed (int, default 0): seeds the data, the initial weights and the batch order.
        dtype (str, default "float32"): "float32" or "float64".
    """

    vocab: int = 10
    classes: int = 5
    max_len: int = 40
    n_train: int = 2000
    n_test: int = 1000
    cell: str = "gru"
    hidden_size: int = 32
    embedding_dim: int = 8
    epochs: int = 5
    batch_size: int = 32
    lr: float = 0.01
    target_accuracy: float = 0.99
    seed: int = 0
    dtype: str = "float32"

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the first bad field."""
        self.vocab = check_int("vocab", self.vocab, low=2)
        self.classes = check_int("classes", self.classes, low=2, high=self.vocab)
        self.max_len = check_int("max_len", self.max_len, low=2)
        self.n_train = check_size("n_train", self.n_train)
        self.n_test = check_size("n_test", self.n_test)
        self.cell = check_cell(self.cell)
        self.hidden_size = check_size("hidden_size", self.hidden_size)
        self.embedding_dim = check_size("embedding_dim", self.embedding_dim)
        self.epochs = check_int("epochs", self.epochs, low=1)
        self.batch_size = check_size("batch_size", self.batch_size)
        self.lr = check_real("lr", self.lr, low=0.0, low_open=True)
        self.target_accuracy = check_real("target_accuracy", self.target_accuracy, low=0.0, high=1.0)
        self.seed = check_int("seed", self.seed, low=0)
        self.dtype = check_dtype(self.dtype).name

    @classmethod
    def quick(cls) -> Config:
        return cls()


def make_data(cfg: Config, n: int, gen: np.random.Generator):
    """n sequences: ids (max_len, n) padded with ``cfg.vocab``, lengths (n,), labels (n,)."""
    lengths = gen.integers(cfg.max_len // 2, cfg.max_len + 1, size=n)  # (n,)
    x = gen.integers(0, cfg.vocab, size=(cfg.max_len, n))  # (T, n)
    x[np.arange(cfg.max_len)[:, None] >= lengths] = cfg.vocab  # the padding id
    return x, lengths, x[0] % cfg.classes


def _accuracy(model: SequenceModel, x, lengths, y) -> float:
    logits, _, _ = model.eval().forward(x, lengths=lengths)  # (n, classes)
    return float(np.mean(logits.argmax(axis=1) == y))


def run(cfg: Config | None = None, progress: bool = False) -> TaskResult:
    cfg = cfg or Config()
    t0 = time.perf_counter()
    gen = np.random.default_rng(cfg.seed)
    x, lengths, y = make_data(cfg, cfg.n_train, gen)
    xt, lengths_t, yt = make_data(cfg, cfg.n_test, gen)
    results, curves = {}, {}
    for head, with_lengths in (("final", True), ("last", False)):
        mc = ModelConfig(cell=cfg.cell, vocab_size=cfg.vocab + 1, embedding_dim=cfg.embedding_dim,
                         hidden_size=cfg.hidden_size, bidirectional=True, output_size=cfg.classes, head=head,
                         dtype=cfg.dtype)
        model = SequenceModel(mc, rng=cfg.seed)
        data = SequenceData(x, y, per_step=False, lengths=lengths if with_lengths else None)
        tc = TrainConfig(epochs=cfg.epochs, batch_size=cfg.batch_size, seed=cfg.seed, progress=progress)
        hist = Trainer(model, Adam(model.params, lr=cfg.lr), tc).fit(data)
        results[head] = _accuracy(model, xt, lengths_t if with_lengths else None, yt)
        curves["loss" if with_lengths else "loss_last_no_lengths"] = hist.losses
    final, last = results["final"], results["last"]
    return TaskResult(
        name="first-token",
        tutorial="none: tutorials pad without lengths and read the last step",
        ours=f"held-out accuracy {final:.4f} with head 'final' and lengths, {last:.4f} with head 'last' "
             f"on the padded batch without lengths (chance {1 / cfg.classes:.2f})",
        target=f"'final' with lengths >= {cfg.target_accuracy}",
        passed=final >= cfg.target_accuracy,
        seconds=time.perf_counter() - t0,
        metrics={"accuracy_final_lengths": final, "accuracy_last_no_lengths": last, "chance": 1 / cfg.classes,
                 "epochs": cfg.epochs},
        curves=curves,  # "loss": the model with lengths (drawn); "loss_last_no_lengths" beside it
    )
