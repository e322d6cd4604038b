"""A task attention is needed for: write a long sequence backwards.

Data (synthetic, drawn from ``seed``): sequences of ``min_len`` to ``max_len`` symbols drawn
uniformly from ``symbols`` letters; the target is the sequence reversed. A decoder without
attention must carry all of a 20-40 symbol sequence in its initial state; with attention it can
look each symbol up (the alignment is the anti-diagonal of the attention's heatmap). Two
:class:`~scratchrnn.seq2seq.model.Seq2Seq` models, the same in everything but the attention, get
the same data, epochs and optimizer; the result is each one's exact-match and per-symbol accuracy
of greedy decoding on held-out sequences. The task passes when the model with attention reaches
``target_accuracy`` exact match and beats the one without by at least ``margin``.
``scratchrnn task reverse-text`` leaves the model with attention in its run folder as ``model.npz``
(for ``scratchrnn translate``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..checks import check_dtype, check_int, check_real, check_size
from ..nn.model import check_cell
from ..seq2seq.attention import ATTENTION_KINDS
from ..seq2seq.data import EOS, SymbolVocab, batch
from ..seq2seq.decode import greedy
from ..seq2seq.files import save_seq2seq
from ..seq2seq.fit import FitConfig, fit
from ..seq2seq.model import Seq2Seq, Seq2SeqConfig
from .base import TaskResult

__all__ = ["Config", "make_sequences", "run"]

LETTERS = "abcdefghijklmnopqrstuvwxyz"


@dataclass
class Config:
    """The reversal task's settings; ``quick()`` is the demo's (the same: with 5 epochs the model
    with attention reaches only 81%, too near its target).

    Attributes:
        symbols (int, default 10): the alphabet's first letters used.
        min_len (int, default 20): the shortest sequence.
        max_len (int, default 40): the longest sequence.
        n_train (int, default 4000): training sequences.
        n_test (int, default 500): held-out sequences.
        cell (str, default "lstm"): both models' cell.
        hidden_size (int, default 128): hidden units.
        embedding_dim (int, default 16): the symbols' embedding.
        attention (str, default "dot"): the attention kind of the model that has one.
        epochs (int, default 8): passes over the training sequences, for each model.
        batch_size (int, default 64): sequences per Adam step.
        lr (float, default 0.005): Adam's learning rate, falling along a cosine to 0.
        target_accuracy (float, default 0.8): the exact match with attention that passes.
        margin (float, default 0.5): how much higher its exact match must be than without attention.
        seed (int, default 0): seeds the data, the weights and the batch order.
        dtype (str, default "float32"): "float32" or "float64".
    """

    symbols: int = 10
    min_len: int = 20
    max_len: int = 40
    n_train: int = 4000
    n_test: int = 500
    cell: str = "lstm"
    hidden_size: int = 128
    embedding_dim: int = 16
    attention: str = "dot"
    epochs: int = 8
    batch_size: int = 64
    lr: float = 0.005
    target_accuracy: float = 0.8
    margin: float = 0.5
    seed: int = 0
    dtype: str = "float32"

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the first bad field."""
        self.symbols = check_int("symbols", self.symbols, low=2, high=len(LETTERS))
        self.min_len = check_size("min_len", self.min_len)
        self.max_len = check_int("max_len", self.max_len, low=self.min_len)
        self.n_train = check_size("n_train", self.n_train)
        self.n_test = check_size("n_test", self.n_test)
        self.cell = check_cell(self.cell)
        self.hidden_size = check_size("hidden_size", self.hidden_size)
        self.embedding_dim = check_size("embedding_dim", self.embedding_dim)
        if self.attention not in ATTENTION_KINDS:
            raise ValueError(f"attention must be one of {', '.join(ATTENTION_KINDS)}, got {self.attention!r}")
        self.epochs = check_int("epochs", self.epochs, low=1)
        self.batch_size = check_size("batch_size", self.batch_size)
        self.lr = check_real("lr", self.lr, low=0.0, low_open=True)
        self.target_accuracy = check_real("target_accuracy", self.target_accuracy, low=0.0, high=1.0)
        self.margin = check_real("margin", self.margin, low=0.0, high=1.0)
        self.seed = check_int("seed", self.seed, low=0)
        self.dtype = check_dtype(self.dtype).name

    @classmethod
    def quick(cls) -> Config:
        return cls()


def make_sequences(cfg: Config, n: int, gen: np.random.Generator, vocab: SymbolVocab):
    """n (source, target) id arrays: a random sequence and it reversed, ending with EOS."""
    sources = [vocab.encode("".join(gen.choice(vocab.symbols, gen.integers(cfg.min_len, cfg.max_len + 1))))
               for _ in range(n)]
    return sources, [np.append(s[::-1], EOS) for s in sources]


def _accuracies(model: Seq2Seq, sources, targets, max_length: int):
    """(exact match, per-symbol accuracy, the first source's hypothesis) of greedy decoding."""
    src, lengths = batch(sources)
    hyps = greedy(model, src, lengths, max_length=max_length, return_attention=True)
    exact, per_symbol = [], []
    for h, t in zip(hyps, targets, strict=True):
        want = t[:-1].tolist()
        exact.append(h.ended and h.tokens == want)
        per_symbol.append(np.mean([i < len(h.tokens) and h.tokens[i] == w for i, w in enumerate(want)]))
    return float(np.mean(exact)), float(np.mean(per_symbol)), hyps[0]


def run(cfg: Config | None = None, progress: bool = False) -> TaskResult:
    cfg = cfg or Config()
    t0 = time.perf_counter()
    gen = np.random.default_rng(cfg.seed)
    vocab = SymbolVocab(LETTERS[:cfg.symbols])
    sources, targets = make_sequences(cfg, cfg.n_train, gen, vocab)
    test_sources, test_targets = make_sequences(cfg, cfg.n_test, gen, vocab)
    metrics, curves, artifacts, models = {}, {}, {}, {}
    for name, attention in ((cfg.attention, cfg.attention), ("none", None)):
        config = Seq2SeqConfig(src_vocab_size=len(vocab), embedding_dim=cfg.embedding_dim, cell=cfg.cell,
                               hidden_size=cfg.hidden_size, attention=attention, dtype=cfg.dtype)
        model = models[name] = Seq2Seq(config, rng=cfg.seed)
        started = time.perf_counter()
        losses = fit(model, sources, targets, FitConfig(epochs=cfg.epochs, batch_size=cfg.batch_size,
                                                        lr=cfg.lr, seed=cfg.seed))
        curves["loss" if attention else "loss_without_attention"] = losses
        exact, per_symbol, first = _accuracies(model, test_sources, test_targets, cfg.max_len + 5)
        metrics[name] = {"exact_match": exact, "symbol_accuracy": per_symbol,
                         "train_seconds": time.perf_counter() - started}
        if attention:
            artifacts["attention"] = first.attention[:, :len(test_sources[0])]  # past its length: 0
            artifacts["attention_source"] = list(vocab.decode(test_sources[0]))
            eos = ["<eos>"] if first.ended else []  # the last row of a finished target is its EOS
            artifacts["attention_target"] = list(vocab.decode(first.tokens)) + eos
    with_att, without = metrics[cfg.attention], metrics["none"]
    return TaskResult(
        name="reverse-text",
        tutorial="d2l and the Bahdanau et al. paper: without attention a decoder loses long inputs",
        ours=f"exact match {with_att['exact_match']:.1%} with {cfg.attention} attention, "
             f"{without['exact_match']:.1%} without (per symbol {with_att['symbol_accuracy']:.1%} and "
             f"{without['symbol_accuracy']:.1%}) on {cfg.n_test} held-out sequences of {cfg.min_len}-"
             f"{cfg.max_len} symbols, after {cfg.epochs} epochs of {cfg.n_train} each",
        target=f"with attention >= {cfg.target_accuracy:.0%} and >= {cfg.margin:.0%} above without",
        passed=with_att["exact_match"] >= cfg.target_accuracy
        and with_att["exact_match"] - without["exact_match"] >= cfg.margin,
        seconds=time.perf_counter() - t0,
        metrics=metrics,
        curves=curves,
        artifacts=artifacts,
        figures=("attention",),
        files={"model.npz": lambda path: save_seq2seq(models[cfg.attention], path, vocab)},
    )
