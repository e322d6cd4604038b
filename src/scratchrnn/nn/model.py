"""A Sequential-style sequence model: input encoder -> recurrent core -> linear head.

Parameters are one flat dict with dotted PyTorch-style names (``embedding.weight``,
``rnn.weight_ih_l0``, ``head.weight`` ...) whose arrays are the sub-modules' own arrays, so an
optimizer stepping the flat dict updates the layers in place.

Tied weights (``tie_weights=True``, as PyTorch's ``decoder.weight = encoder.weight``): the head
reads its (V, E) weight from the embedding's array, the same object, so ``params``,
``state_dict()``, gradients, optimizer state and every file hold it once, as
``embedding.weight``; there is no ``head.weight`` key, and its gradient is the sum of the lookup's
and the head's. ``tied_names`` maps the head's name to the embedding's: ``load_state_dict``
accepts a ``head.weight`` equal to ``embedding.weight`` (PyTorch's state dict of a tied model
lists both) and ``to_torch`` gives the torch twin both names of one Parameter.

``SequenceModel.stepper()`` gives a :class:`ModelStepper`, the token-by-token path used for
generation: encoder, recurrent stack and head for one time step, with every weight prepared once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import NamedTuple

import numpy as np

from ..checks import (
    MAX_LAYERS,
    check_config_dict,
    check_dtype,
    check_flag,
    check_optional_size,
    check_probability,
    check_random_state,
    check_size,
)
from ..functional import get_activation
from .gru import GRU
from .heads import Pooled, pool, unpool
from .lengths import Lengths
from .linear import Embedding, Linear, embedding_param_shapes, linear_param_shapes
from .lstm import LSTM
from .module import Module, check_weights_fit
from .recurrent import recurrent_param_shapes
from .rnn import RNN

__all__ = ["CELLS", "HEADS", "POOLED_HEADS", "ModelCache", "ModelConfig", "ModelStepper", "SequenceModel",
           "check_cell", "make_recurrent"]


CELLS: dict[str, type] = {"rnn": RNN, "lstm": LSTM, "gru": GRU}  # cell name -> layer class (one contract)
def check_cell(cell) -> str:
    """A cell name of ``CELLS`` ("rnn", "lstm", "gru"), else a ValueError listing them."""
    if not isinstance(cell, str) or cell not in CELLS:
        raise ValueError(f"unknown cell {cell!r}; expected one of {', '.join(sorted(CELLS))}")
    return cell


POOLED_HEADS = ("last", "final", "mean", "max")  # one prediction per sequence (ModelConfig.head)
HEADS = ("all", *POOLED_HEADS)


@dataclass
class ModelConfig:
    """Hyperparameters of a :class:`SequenceModel`; JSON-friendly so checkpoints can store them.

    Give exactly one of ``vocab_size`` and ``input_size``. Every field is checked when the config is
    made (:meth:`validate`): a bad one is a ValueError naming it, as is a model too large for memory.

    Attributes:
        cell (str, default "rnn"): the recurrent cell, "rnn" (Elman), "lstm" or "gru" (``CELLS``).
        input_size (int or None, default None): dense inputs: features F of float inputs (T, B, F).
        vocab_size (int or None, default None): token inputs: ids in [0, vocab_size), inputs (T, B).
        embedding_dim (int or None, default None): token inputs: a learned Embedding of this width;
            None feeds each id as a one-hot vector.
        hidden_size (int, default 128): features of every layer's hidden state (and LSTM cell state).
        num_layers (int, default 1): recurrent layers stacked, each reading the outputs of the one below.
        nonlinearity (str, default "tanh"): the RNN cell's "tanh", "relu", "sigmoid" or "identity"
            (a linear RNN); the LSTM and GRU ignore it.
        bias (bool, default True): whether the recurrent layers have ``bias_ih_l{k}`` and ``bias_hh_l{k}``.
        dropout (float, default 0.0): probability of zeroing each output of a recurrent layer before the
            next layer reads it, in training mode only; with one layer it does nothing.
        bidirectional (bool, default False): both directions, concatenated (the head reads 2 * hidden);
            never for next-token training, where the reverse direction would read the targets.
        output_size (int or None, default None): width O of the Linear head; None: vocab_size.
        head (str, default "all"): "all", a prediction (T, B, O) at every step; the others are
            many-to-one, one prediction (B, O) per sequence from: "last", the top layer's output at
            each sequence's last step; "final", each direction's final state, concatenated (the
            many-to-one for a bidirectional model: its reverse direction has then read the whole
            sequence); "mean" and "max", the mean and maximum of the outputs over the steps
            (``HEADS``). With lengths every head reads only the steps inside them.
        head_bias (bool, default True): whether the head has a bias.
        dtype (str, default "float32"): "float32" or "float64"; a numpy type or dtype is stored as its name.
        tie_weights (bool, default False): the head uses the embedding's (V, E) matrix (one array,
            ``embedding.weight``); needs token inputs with an embedding, a head over the vocabulary
            and embedding_dim equal to the top layer's output width.
    """

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
    head: str = "all"  # "all": a prediction at every step; else one per sequence (POOLED_HEADS)
    head_bias: bool = True
    dtype: str = "float32"  # "float32" | "float64" (a numpy type or dtype is stored as its name)
    tie_weights: bool = False  # the head uses the embedding's (V, E) matrix; needs E == the head's input

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        """Check every field, raising ValueError naming the first bad one; store numpy scalars as
        Python numbers and the dtype as its name (so the config stays JSON-friendly); and refuse a
        model whose weights would not fit in this machine's memory, before anything is allocated
        (``param_shapes``; gradients and optimizer state, which training adds, are not counted)."""
        self.cell = check_cell(self.cell)
        self.input_size = check_optional_size("input_size", self.input_size)
        self.vocab_size = check_optional_size("vocab_size", self.vocab_size)
        if (self.vocab_size is None) == (self.input_size is None):
            raise ValueError("give exactly one of vocab_size (token inputs) and input_size (dense inputs), "
                             f"got vocab_size={self.vocab_size}, input_size={self.input_size}")
        self.embedding_dim = check_optional_size("embedding_dim", self.embedding_dim)
        if self.embedding_dim is not None and self.vocab_size is None:
            raise ValueError(f"embedding_dim needs token inputs (vocab_size); dense inputs of input_size "
                             f"{self.input_size} have no embedding, got embedding_dim={self.embedding_dim}")
        self.hidden_size = check_size("hidden_size", self.hidden_size)
        self.num_layers = check_size("num_layers", self.num_layers, limit=MAX_LAYERS)
        get_activation(self.nonlinearity)  # a ValueError naming the known ones
        self.bias = check_flag("bias", self.bias)
        self.dropout = check_probability("dropout", self.dropout)
        self.bidirectional = check_flag("bidirectional", self.bidirectional)
        self.output_size = check_optional_size("output_size", self.output_size)
        if self.output_size is None and self.vocab_size is None:
            raise ValueError("output_size is required for dense inputs (input_size), got None")
        if self.head not in HEADS:
            raise ValueError(f"head must be one of {', '.join(map(repr, HEADS))}, got {self.head!r}")
        self.head_bias = check_flag("head_bias", self.head_bias)
        self.dtype = check_dtype(self.dtype).name
        self.tie_weights = check_flag("tie_weights", self.tie_weights)
        if self.tie_weights:
            self._check_tie()
        check_weights_fit(self.param_shapes(), self.dtype, self._describe())

    def _check_tie(self) -> None:
        """Tied weights need an embedding (V, E) that has the head's (O, D*H) shape."""
        if self.vocab_size is None or self.embedding_dim is None:
            raise ValueError("tie_weights shares the embedding's matrix with the head, so it needs token "
                             f"inputs with a learned embedding, got vocab_size={self.vocab_size}, "
                             f"embedding_dim={self.embedding_dim}")
        if self.output_size not in (None, self.vocab_size):
            raise ValueError(f"tie_weights needs a head over the vocabulary (output_size {self.vocab_size}, "
                             f"the embedding's rows), got output_size={self.output_size}")
        width = self.hidden_size * (2 if self.bidirectional else 1)
        if self.embedding_dim != width:
            top = ("2 * hidden_size = " if self.bidirectional else "hidden_size ") + f"{width}"
            raise ValueError(f"tie_weights needs embedding_dim equal to the head's input, the top layer's "
                             f"output ({top}), got embedding_dim {self.embedding_dim} and hidden_size "
                             f"{self.hidden_size}")

    def _describe(self) -> str:
        """The sizes that decide the number of weights, for messages."""
        inputs = (f"vocab_size {self.vocab_size:,}" if self.vocab_size is not None
                  else f"input_size {self.input_size:,}")
        parts = [inputs]
        if self.embedding_dim is not None:
            parts.append(f"embedding_dim {self.embedding_dim:,}")
        kind = ("bidirectional " if self.bidirectional else "") + self.cell
        layers = f"{self.num_layers:,} {kind} layer{'s' if self.num_layers != 1 else ''}"
        return f"a model of {layers} with {', '.join(parts)} and hidden_size {self.hidden_size:,}"

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """The shape of every parameter of ``SequenceModel(self)``, in the order of its ``params``
        and ``state_dict()`` (``embedding.weight``, ``rnn.weight_ih_l0``, ..., ``head.bias``; no
        ``head.weight`` when the weights are tied), computed from the fields alone: nothing is
        allocated, so a reader can compare stored shapes with these before building a model."""
        V, E, H = self.vocab_size, self.embedding_dim, self.hidden_size
        shapes = {}
        if V is not None and E is not None:
            shapes.update({f"embedding.{k}": v for k, v in embedding_param_shapes(V, E).items()})
            rnn_in = E
        else:
            rnn_in = V if V is not None else self.input_size
        core = recurrent_param_shapes(CELLS[self.cell].GATES, rnn_in, H, self.num_layers, self.bias,
                                      self.bidirectional)
        shapes.update({f"rnn.{k}": v for k, v in core.items()})
        out = self.output_size if self.output_size is not None else V
        head = linear_param_shapes(H * (2 if self.bidirectional else 1), out, self.head_bias)
        shapes.update({f"head.{k}": v for k, v in head.items() if not (self.tie_weights and k == "weight")})
        return shapes

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping) -> ModelConfig:
        return cls(**check_config_dict(cls, d, "model"))


class ModelCache(NamedTuple):
    """What ``SequenceModel.backward`` needs from ``forward``: each part's own cache."""

    embedding: object  # the Embedding's cache, or None (one-hot or dense input)
    rnn: object  # the recurrent core's cache (its ``sequence_states`` reads every step's state)
    head: object  # the Linear head's cache
    pooled: Pooled  # what the head read from the recurrent outputs (scratchrnn.nn.heads)
    version: int  # the weights' version at forward (scratchrnn.nn.module), shared by the parts

    @property
    def out_shape(self) -> tuple[int, int, int]:
        """(T, B, D*H), the recurrent output's shape."""
        return self.pooled.out_shape


def make_recurrent(cfg: ModelConfig, input_size: int, rng: np.random.Generator):
    """The recurrent core named by ``cfg.cell``."""
    check_cell(cfg.cell)
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

    forward(x, h0, lengths=None) -> (y, h_n, cache): x is (T, B) integer ids or (T, B, F) floats;
    y is (T, B, O) for head "all", else (B, O), one prediction per sequence (``ModelConfig.head``).
    With ``lengths`` (B,) sequence b is ``x[:lengths[b], b]`` (``scratchrnn.nn.lengths``): nothing
    reads the padding (token ids there need not be valid), and y past a length is the head of zero
    outputs, for the loss to mask. backward(dy, dh_n, cache, truncate) -> (dx or None for token
    inputs, dh0, grads) with ``grads`` keyed like ``params``.
    """

    def __init__(self, config: ModelConfig, rng=None):
        if not isinstance(config, ModelConfig):
            raise ValueError(f"config must be a ModelConfig, got {type(config).__name__}")
        config.validate()  # again: fields may have been set since the config was made
        super().__init__(config.dtype)
        cfg = self.config = config
        out_size = cfg.output_size if cfg.output_size is not None else cfg.vocab_size
        gen = check_random_state(rng)
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
        # head name -> embedding name of the one array both use (the head's own draw is dropped,
        # so the other initial weights are those of the untied model)
        self.tied_names = {"head.weight": "embedding.weight"} if cfg.tie_weights else {}
        if cfg.tie_weights:
            self.head.params["weight"] = self.embedding.params["weight"]  # (V, E), one object
        for prefix, mod in (("embedding", self.embedding), ("rnn", self.rnn), ("head", self.head)):
            if mod is not None:
                for k, v in mod.params.items():
                    if f"{prefix}.{k}" not in self.tied_names:
                        self.params[f"{prefix}.{k}"] = v  # the same arrays, not copies
                mod.params.version = self.params.version  # one version for the arrays the parts share

    def extra_repr(self) -> str:
        tied = ", tie_weights=True" if self.tied_names else ""
        return f"embedding={self.embedding}, rnn={self.rnn}, head={self.head}{tied}"

    def load_state_dict(self, state: Mapping[str, np.ndarray], strict: bool = True) -> None:
        """As :meth:`Module.load_state_dict`; a tied model also accepts a ``head.weight`` key (as
        PyTorch's state dict of a tied model has) when it equals ``embedding.weight``."""
        if self.tied_names and isinstance(state, Mapping) and any(k in state for k in self.tied_names):
            for alias, name in self.tied_names.items():
                if alias in state and name in state and not np.array_equal(np.asarray(state[alias]),
                                                                            np.asarray(state[name])):
                    raise ValueError(f"state dict key {alias!r} differs from {name!r}; a model with "
                                     f"tie_weights holds one matrix for both")
            state = {k: v for k, v in state.items() if k not in self.tied_names}
        super().load_state_dict(state, strict=strict)

    def train(self, mode: bool = True) -> SequenceModel:
        super().train(mode)
        self.rnn.train(mode)
        return self

    @property
    def token_input(self) -> bool:
        return self.config.vocab_size is not None

    def init_state(self, batch_size: int):
        """Zero initial state: (L*D, B, H), or a tuple (h, c) for an LSTM."""
        return self.rnn.initial_state(batch_size)

    def stepper(self) -> ModelStepper:
        """A :class:`ModelStepper`: ``step(x_t, h) -> (logits (B, O), h_next)`` one time step at a
        time, with the weights prepared once, now (a snapshot: make a new one after they change)."""
        return ModelStepper(self)

    def _encode(self, x, seq: Lengths | None):
        if not self.token_input:
            return x, None
        ids = np.asarray(x)
        if ids.ndim != 2:
            raise ValueError(f"token input must be 2-D (T, B) integer ids, got shape {ids.shape}")
        if self.embedding is not None:
            if seq is not None and ids.dtype.kind in "iu":  # padding ids are never looked up
                ids = np.where(seq.padded_valid(), ids, 0)  # (T, B)
            return self.embedding.forward(ids)  # (T, B, E)
        if ids.dtype.kind not in "iu":
            raise ValueError(f"token input must hold integer ids, got dtype {ids.dtype}")
        return ids, None  # (T, B): the recurrent layer reads ids as one-hot vectors without building them

    @staticmethod
    def _lengths(x, lengths) -> Lengths:
        """The batch's lengths, checked against x (T, B[, F])."""
        shape = np.shape(x)
        if len(shape) < 2:
            raise ValueError(f"lengths need a time-major batch (T, B) or (T, B, F), got x of shape {shape}")
        return Lengths(lengths, shape[1], shape[0])

    def forward(self, x, h0=None, rng: np.random.Generator | None = None, lengths=None):
        """x (T, B) ids or (T, B, F) floats, lengths (B,) or None -> y (T, B, O) (head "all") or
        (B, O), h_n, cache."""
        seq = None if lengths is None else self._lengths(x, lengths)
        xe, emb_cache = self._encode(x, seq)
        out, h_n, rnn_cache = self.rnn.forward(xe, h0, rng=rng, lengths=None if seq is None else seq.lengths)
        feats, pooled = pool(self.config.head, out, h_n, self.rnn.num_directions, seq)
        y, head_cache = self.head.forward(feats)
        return y, h_n, ModelCache(emb_cache, rnn_cache, head_cache, pooled, self.params.version.value)

    __call__ = forward

    def _add_top_state_grad(self, dh_n, dtop):
        """dh_n plus ``dtop`` (B, D*H) on the top layer's hidden states, direction d's in columns
        d*H:(d+1)*H (a tuple (dh, dc) for LSTMs)."""
        rnn = self.rnn
        B, D, H = dtop.shape[0], rnn.num_directions, rnn.hidden_size
        parts = list(dh_n) if isinstance(dh_n, tuple) else [dh_n] + [None] * (rnn.STATE_ARITY - 1)
        dh = np.zeros(rnn.state_shape(B), self.dtype) if parts[0] is None else parts[0].copy()  # (L*D, B, H)
        dh[-D:] += dtop.reshape(B, D, H).transpose(1, 0, 2)
        parts[0] = dh
        return tuple(parts) if rnn.STATE_ARITY > 1 else dh

    def backward(self, dy, dh_n, cache, truncate: int | None = None):
        """Gradients of every parameter; ``truncate`` as in the recurrent layer."""
        if not isinstance(cache, ModelCache):
            raise ValueError(f"SequenceModel.backward expects the cache returned by forward, "
                             f"got {type(cache).__name__}")
        self.check_cache_version(cache.version)
        dfeat, g_head = self.head.backward(dy, cache.head)
        rnn = self.rnn
        dout, dtop = unpool(dfeat, cache.pooled, rnn.num_directions, via_state=not rnn.bidirectional)
        if dtop is not None:
            dh_n = self._add_top_state_grad(dh_n, dtop)
        dx, dh0, g_rnn = self.rnn.backward(dout, dh_n, cache.rnn, truncate=truncate)
        grads = {f"head.{k}": v for k, v in g_head.items()}
        grads.update({f"rnn.{k}": v for k, v in g_rnn.items()})
        if self.embedding is not None:
            _, g_emb = self.embedding.backward(dx, cache.embedding)
            grads["embedding.weight"] = g_emb["weight"]  # (V, E), a new array
            if self.tied_names:  # one matrix used twice: its gradient sums both uses
                np.add(grads["embedding.weight"], grads.pop("head.weight"), out=grads["embedding.weight"])
            dx = None
        elif self.token_input:
            dx = None
        return dx, dh0, {k: grads[k] for k in self.params}


class ModelStepper:
    """One time step of a :class:`SequenceModel` (embedding or one-hot input, recurrent stack, head).

    ``step(x_t, h) -> (logits (B, O), h_next)``: x_t is (B,) integer token ids for a token model or
    (B, F) floats of the model's dtype for a dense one; h is the state as ``forward`` takes it
    ((L, B, H), a tuple (h, c) for an LSTM) or None for zeros. One call equals ``forward`` on a
    (1, B) input in evaluation mode (no dropout); with head "last" or "final" the logits are those
    of a sequence ending at this step (heads "mean" and "max" cannot be stepped). Calling the
    stepper is the same as calling ``step``.

    ``session(h)`` gives the same steps with the state carried inside, for decoding loops, and
    ``chunk_session(h)`` whole chunks of a sequence at a time, for scoring.

    A snapshot: the weights are copied (and re-laid out) when the stepper is made, so parameter
    updates made afterwards do not reach it; make a new stepper. Unidirectional models only.
    Per step only shapes and dtypes are checked; token ids are trusted to lie in the vocabulary.
    Scratch arrays are reused from step to step: do not step one stepper from two threads at once.
    """

    def __init__(self, model: SequenceModel):
        if not isinstance(model, SequenceModel):
            raise ValueError(f"ModelStepper expects a SequenceModel, got {type(model).__name__}")
        if model.rnn.bidirectional:
            raise ValueError("a bidirectional model cannot be stepped one token at a time: its reverse "
                             "direction reads the sequence from the end; use forward on the whole sequence")
        if model.config.head in ("mean", "max"):
            raise ValueError(f"a model with head {model.config.head!r} pools over a whole sequence, so it "
                             "cannot be stepped one token at a time; use forward on the whole sequence")
        self.rnn = model.rnn.stepper()
        self.token_input = model.token_input
        self.dtype = model.dtype
        self.output_size = model.output_size
        emb = model.embedding
        self._embedding = None if emb is None else emb.params["weight"].copy()  # (V, E)
        # Keep the head as Linear.forward uses it (x @ W.T on a (O, I) array), so the logits match
        # forward bit for bit.
        self._head_w_t = model.head.params["weight"].copy().T  # (I, O) view of the copy
        self._head_b = model.head.params["bias"].copy() if model.head.bias else None  # (O,)

    def step(self, x_t: np.ndarray, h=None):
        """ids (B,) (token model) or x (B, F) (dense model), h or None -> logits (B, O), h_next."""
        if self.token_input:
            if not isinstance(x_t, np.ndarray) or x_t.ndim != 1 or x_t.dtype.kind not in "iu":
                got = f"shape {x_t.shape} {x_t.dtype}" if isinstance(x_t, np.ndarray) else type(x_t).__name__
                raise ValueError(f"a token model steps on (B,) integer token ids, got {got}")
            if self._embedding is not None:
                x_t = self._embedding[x_t]  # (B, E)
        out, h_next = self.rnn.step(x_t, h)  # (B, H)
        y = out @ self._head_w_t  # (B, O)
        if self._head_b is not None:
            y += self._head_b
        return y, h_next

    __call__ = step

    def session(self, h) -> Callable[[np.ndarray], np.ndarray]:
        """``advance(x_t) -> logits (B, O)``: ``step`` with the state carried inside, from h on.

        h is a state as ``step`` takes it ((L, B, H), a tuple (h, c) for an LSTM; not None), copied
        in once; each call then steps x_t (ids (B,) or floats (B, F), as for ``step``) with the
        state the previous call left, in buffers made once, so a call allocates nothing. The
        logits are the same as ``step``'s; they are returned as a read-only array that the next
        call overwrites (copy them to keep them). Inputs are not checked per call. Sessions are
        independent of each other and of ``step``.
        """
        embedding, w_t, b = self._embedding, self._head_w_t, self._head_b
        advance_rnn = self.rnn.session(h, tokens=self.token_input and embedding is None)
        B = (h[0] if isinstance(h, (tuple, list)) else h).shape[1]
        logits = np.empty((B, self.output_size), self.dtype)  # (B, O)
        view = logits.view()  # (B, O) what callers get: read-only
        view.flags.writeable = False

        def advance(x_t):
            if embedding is not None:
                x_t = embedding[x_t]  # (B, E)
            np.dot(advance_rnn(x_t), w_t, out=logits)  # Linear.forward's product, as in step
            if b is not None:
                np.add(logits, b, out=logits)
            return view

        return advance

    def chunk_session(self, h) -> Callable[[np.ndarray], np.ndarray]:
        """``advance(xs) -> logits (T, B, O)``: whole chunks of a sequence with the state carried
        from one chunk to the next, for inference (scoring a text).

        h is a state as ``step`` takes it (not None), copied in once; xs is (T, B) ids for a token
        model or (T, B, F) floats, any T >= 1. The logits (T, B, O), one row per step whatever the
        config's ``head``, are those of ``forward`` with head "all" on the chunks run as one
        sequence in evaluation mode (the recurrent stack's
        ``RecurrentStepper.chunk_session`` says where rounding may differ) and are the caller's to
        keep. Inputs are not checked per call.
        """
        embedding, w_t, b = self._embedding, self._head_w_t, self._head_b
        advance_rnn = self.rnn.chunk_session(h, tokens=self.token_input and embedding is None)
        O = self.output_size

        def advance(xs):
            if embedding is not None:
                xs = embedding[xs]  # (T, B, E)
            out = advance_rnn(xs)  # (T, B, H)
            T, B = out.shape[:2]
            y = np.matmul(out.reshape(T * B, -1), w_t)  # (T*B, O): Linear.forward's product
            if b is not None:
                y += b
            return y.reshape(T, B, O)

        return advance
