"""A Sequential-style sequence model: input encoder -> recurrent core -> linear head.

Parameters are one flat dict with dotted PyTorch-style names (``embedding.weight``,
``rnn.weight_ih_l0``, ``head.weight`` ...) whose arrays are the sub-modules' own arrays, so an
optimizer stepping the flat dict updates the layers in place.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np

from ..init import as_generator
from .linear import Embedding, Linear
from .module import Module, check_dtype
from .recurrent import RNN

__all__ = ["CELLS", "ModelConfig", "SequenceModel", "make_recurrent"]


def _cells() -> dict[str, type]:
    cells: dict[str, type] = {"rnn": RNN}
    try:  # LSTM and GRU share the RNN's contract
        from .lstm import LSTM

        cells["lstm"] = LSTM
    except ImportError:  # pragma: no cover - only while a cell is missing
        pass
    try:
        from .gru import GRU

        cells["gru"] = GRU
    except ImportError:  # pragma: no cover
        pass
    return cells


CELLS = _cells()


@dataclass
class ModelConfig:
    """Hyperparameters of a :class:`SequenceModel`; JSON-friendly so checkpoints can store them."""

    cell: str = "rnn"  # "rnn" | "lstm" | "gru"
    input_size: int | None = None  # features of dense float inputs (T, B, F); None for token inputs
    vocab_size: int | None = None  # token inputs (T, B) of integer ids; None for dense inputs
    embedding_dim: int | None = None  # token inputs: None feeds one-hot vectors, else a learned Embedding
    hidden_size: int = 128
    num_layers: int = 1
    nonlinearity: str = "tanh"  # RNN cell only
    bias: bool = True
    dropout: float = 0.0  # between recurrent layers, training mode only
    bidirectional: bool = False
    output_size: int | None = None  # head width; defaults to vocab_size
    head: str = "all"  # "all": a prediction at every step; "last": many-to-one from the last step
    head_bias: bool = True
    dtype: str = "float32"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown model configuration key(s) {unknown}; known: {sorted(known)}")
        return cls(**d)


def make_recurrent(cfg: ModelConfig, input_size: int, rng: np.random.Generator):
    """The recurrent core named by ``cfg.cell``."""
    if cfg.cell not in CELLS:
        raise ValueError(f"unknown cell {cfg.cell!r}; expected one of {', '.join(sorted(CELLS))}")
    kwargs = dict(
        num_layers=cfg.num_layers,
        bias=cfg.bias,
        dropout=cfg.dropout,
        bidirectional=cfg.bidirectional,
        dtype=cfg.dtype,
        rng=rng,
    )
    if cfg.cell == "rnn":
        kwargs["nonlinearity"] = cfg.nonlinearity
    return CELLS[cfg.cell](input_size, cfg.hidden_size, **kwargs)


class SequenceModel(Module):
    """encoder (embedding, one-hot or none) -> recurrent core -> Linear head.

    forward(x, h0) -> (y, h_n, cache): x is (T, B) integer ids or (T, B, F) floats; y is (T, B, O),
    or (B, O) when ``head == "last"`` (many-to-one). backward(dy, dh_n, cache, truncate) ->
    (dx or None for token inputs, dh0, grads) with ``grads`` keyed like ``params``.
    """

    def __init__(self, config: ModelConfig, rng=None):
        super().__init__(check_dtype(config.dtype))
        cfg = self.config = config
        if (cfg.vocab_size is None) == (cfg.input_size is None):
            raise ValueError("give exactly one of vocab_size (token inputs) and input_size (dense inputs)")
        if cfg.head not in ("all", "last"):
            raise ValueError(f"head must be 'all' or 'last', got {cfg.head!r}")
        out_size = cfg.output_size if cfg.output_size is not None else cfg.vocab_size
        if out_size is None:
            raise ValueError("output_size is required for dense inputs")
        gen = as_generator(rng)
        self.embedding = None
        if cfg.vocab_size is not None and cfg.embedding_dim is not None:
            self.embedding = Embedding(cfg.vocab_size, cfg.embedding_dim, dtype=self.dtype, rng=gen)
            rnn_in = cfg.embedding_dim
        else:
            rnn_in = cfg.vocab_size if cfg.vocab_size is not None else cfg.input_size
        self.rnn = make_recurrent(cfg, rnn_in, gen)
        D = 2 if cfg.bidirectional else 1
        self.head = Linear(cfg.hidden_size * D, out_size, bias=cfg.head_bias, dtype=self.dtype, rng=gen)
        self.output_size = out_size
        for prefix, mod in (("embedding", self.embedding), ("rnn", self.rnn), ("head", self.head)):
            if mod is not None:
                for k, v in mod.params.items():
                    self.params[f"{prefix}.{k}"] = v  # the same arrays, not copies

    def extra_repr(self) -> str:
        return f"embedding={self.embedding}, rnn={self.rnn}, head={self.head}"

    def train(self, mode: bool = True) -> SequenceModel:
        super().train(mode)
        self.rnn.train(mode)
        return self

    @property
    def token_input(self) -> bool:
        return self.config.vocab_size is not None

    def init_state(self, batch_size: int):
        """Zero initial state: (L*D, B, H), or a tuple (h, c) for an LSTM."""
        shape = self.rnn._state_shape(batch_size)
        zeros = tuple(np.zeros(shape, self.dtype) for _ in range(self.rnn.STATE_ARITY))
        return self.rnn._wrap_state(zeros)

    def _encode(self, x):
        if not self.token_input:
            return x, None
        ids = np.asarray(x)
        if ids.ndim != 2:
            raise ValueError(f"token input must be 2-D (T, B) integer ids, got shape {ids.shape}")
        if self.embedding is not None:
            return self.embedding.forward(ids)  # (T, B, E)
        if ids.dtype.kind not in "iu":
            raise ValueError(f"token input must hold integer ids, got dtype {ids.dtype}")
        return ids, None  # (T, B): the recurrent layer reads ids as one-hot vectors without building them

    def forward(self, x, h0=None, rng: np.random.Generator | None = None):
        """x (T, B) ids or (T, B, F) floats -> y (T, B, O) (or (B, O) for head 'last'), h_n, cache."""
        xe, emb_cache = self._encode(x)
        out, h_n, rnn_cache = self.rnn.forward(xe, h0, rng=rng)  # (T, B, D*H)
        feats = out[-1] if self.config.head == "last" else out  # (B, D*H) or (T, B, D*H)
        y, head_cache = self.head.forward(feats)
        return y, h_n, (emb_cache, rnn_cache, head_cache, out.shape)

    __call__ = forward

    def _add_top_state_grad(self, dh_n, dtop):
        """dh_n plus ``dtop`` (B, H) on the top layer's hidden state (a tuple (dh, dc) for LSTMs)."""
        rnn = self.rnn
        B = dtop.shape[0]
        parts = list(dh_n) if isinstance(dh_n, tuple) else [dh_n] + [None] * (rnn.STATE_ARITY - 1)
        dh = np.zeros(rnn._state_shape(B), self.dtype) if parts[0] is None else parts[0].copy()  # (L, B, H)
        dh[-1] += dtop
        parts[0] = dh
        return tuple(parts) if rnn.STATE_ARITY > 1 else dh

    def backward(self, dy, dh_n, cache, truncate: int | None = None):
        """Gradients of every parameter; ``truncate`` as in the recurrent layer."""
        emb_cache, rnn_cache, head_cache, out_shape = cache
        dfeat, g_head = self.head.backward(dy, head_cache)
        if self.config.head == "last" and not self.rnn.bidirectional:
            # many-to-one: the last output is the top layer's final state, so its gradient enters
            # through dh_n and the layer can skip steps the (truncated) gradient never reaches
            dout = None
            dh_n = self._add_top_state_grad(dh_n, dfeat)
        elif self.config.head == "last":
            dout = np.zeros(out_shape, self.dtype)  # (T, B, D*H): loss at the last step only
            dout[-1] = dfeat
        else:
            dout = dfeat
        dx, dh0, g_rnn = self.rnn.backward(dout, dh_n, rnn_cache, truncate=truncate)
        grads = {f"head.{k}": v for k, v in g_head.items()}
        grads.update({f"rnn.{k}": v for k, v in g_rnn.items()})
        if self.embedding is not None:
            _, g_emb = self.embedding.backward(dx, emb_cache)
            grads["embedding.weight"] = g_emb["weight"]
            dx = None
        elif self.token_input:
            dx = None
        return dx, dh0, {k: grads[k] for k in self.params}
