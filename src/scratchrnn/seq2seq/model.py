"""An encoder-decoder over token ids, with optional attention, and its hand-written backward.

::

    encoder:  e_s = Embed_src(x_s);  k_1..k_S, state = Encoder(e, lengths)     (any cell, stacked,
              optionally bidirectional; k_s is (D*H) wide, both directions concatenated)
    bridge:   the decoder starts from the encoder's final states, each layer's directions
              concatenated ("final"), or from zeros ("zero")
    decoder:  d_t = Embed_tgt(y_(t-1)) (y_(-1) = BOS);  h_t = Decoder(d, state)    (unidirectional)
    attention (optional, :mod:`.attention`): c_t = attend(h_t, k; lengths);
              o_t = tanh(W_c [c_t; h_t] + b_c)                               (Luong's attentional state)
    without:  o_t = h_t
    output:   logits_t = W_o o_t + b_o

The attention reads the decoder's state after its step (Luong's layout; the "additive" kind scores
with Bahdanau's v . tanh(W_q q + W_k k)), so under teacher forcing the decoder runs a whole target
sequence in one call of the recurrent layer and the attention is a few batched products.

Training (:meth:`Seq2Seq.loss_and_grads`) is teacher forcing: the decoder reads the target shifted
right behind BOS, and the loss is the mean cross-entropy over the target tokens inside each target
length (a target ends with EOS). Scheduled sampling (``sampling_rate`` p) replaces each decoder
input after the first, with probability p, by a token sampled from the model's own prediction at
the step before, both drawn from an explicit generator; the inputs are found by stepping the model
(no dropout), and the loss and gradients are then those of teacher forcing on the inputs found (no
gradient flows through the choice of a token, as in Bengio et al., 2015).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import NamedTuple

import numpy as np

from ..checks import (
    MAX_LAYERS,
    check_choice,
    check_config_dict,
    check_dtype,
    check_flag,
    check_generator,
    check_int,
    check_optional_size,
    check_probability,
    check_random_state,
    check_real,
    check_size,
)
from ..functional import get_activation
from ..losses import cross_entropy
from ..nn.lengths import Lengths
from ..nn.linear import Embedding, Linear, embedding_param_shapes, linear_param_shapes
from ..nn.model import CELLS, check_cell
from ..nn.module import Module, check_weights_fit
from ..nn.recurrent import recurrent_param_shapes
from .attention import ATTENTION_KINDS, Attention, Memory, attention_param_shapes

__all__ = ["BRIDGES", "Encoded", "Seq2Seq", "Seq2SeqCache", "Seq2SeqConfig"]

BRIDGES = ("final", "zero")


@dataclass
class Seq2SeqConfig:
    """Hyperparameters of a :class:`Seq2Seq`; JSON-friendly so checkpoints can store them.

    Attributes:
        src_vocab_size (int, required): source token ids lie in [0, src_vocab_size).
        tgt_vocab_size (int or None, default None): target ids; None: the source's size.
        share_embedding (bool, default False): one embedding (``embedding.weight``) for both sides;
            needs the two vocabularies to be one (equal sizes).
        embedding_dim (int, default 64): width of each side's embedding.
        cell (str, default "lstm"): the encoder's cell, "rnn", "lstm" or "gru".
        decoder_cell (str or None, default None): the decoder's cell; None: ``cell``.
        hidden_size (int, default 128): the encoder's hidden units per direction; the decoder has
            ``hidden_size * directions``, so the bridge can hand it the encoder's states.
        num_layers (int, default 1): layers of the encoder and of the decoder.
        bidirectional (bool, default False): a bidirectional encoder (the decoder is forward only).
        nonlinearity (str, default "tanh"): the RNN cell's activation.
        dropout (float, default 0.0): between stacked layers, training mode only.
        attention (str or None, default None): None, "dot", "general" or "additive".
        attention_size (int or None, default None): the additive kind's width; None: the decoder's.
        bridge (str, default "final"): "final", the decoder starts from the encoder's final
            states (each layer's directions concatenated; an LSTM decoder after an RNN or GRU
            encoder starts its cell state at zero); "zero", from zeros.
        bos_id (int, default 1): the target id the decoder reads first.
        eos_id (int, default 2): the target id that ends a sequence (decoding stops there).
        max_source_length (int, default 1000): the longest source the model takes.
        dtype (str, default "float32"): "float32" or "float64".
    """

    src_vocab_size: int
    tgt_vocab_size: int | None = None  # None: the source's vocabulary size
    share_embedding: bool = False
    embedding_dim: int = 64
    cell: str = "lstm"
    decoder_cell: str | None = None  # None: the encoder's cell
    hidden_size: int = 128  # per encoder direction; the decoder's is hidden_size * directions
    num_layers: int = 1
    bidirectional: bool = False
    nonlinearity: str = "tanh"  # RNN cells only
    dropout: float = 0.0
    attention: str | None = None  # None | "dot" | "general" | "additive"
    attention_size: int | None = None  # additive only; None: the decoder's hidden size
    bridge: str = "final"  # "final" | "zero"
    bos_id: int = 1
    eos_id: int = 2
    max_source_length: int = 1000
    dtype: str = "float32"

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        """Check every field, raising ValueError naming the first bad one, and refuse a model whose
        weights would not fit in memory."""
        self.src_vocab_size = check_size("src_vocab_size", self.src_vocab_size)
        self.tgt_vocab_size = check_optional_size("tgt_vocab_size", self.tgt_vocab_size)
        self.share_embedding = check_flag("share_embedding", self.share_embedding)
        if self.share_embedding and self.target_vocab_size != self.src_vocab_size:
            raise ValueError(f"share_embedding needs one vocabulary for both sides, got src_vocab_size "
                             f"{self.src_vocab_size} and tgt_vocab_size {self.tgt_vocab_size}")
        self.embedding_dim = check_size("embedding_dim", self.embedding_dim)
        self.cell = check_cell(self.cell)
        if self.decoder_cell is not None:
            self.decoder_cell = check_cell(self.decoder_cell)
        self.hidden_size = check_size("hidden_size", self.hidden_size)
        self.num_layers = check_size("num_layers", self.num_layers, limit=MAX_LAYERS)
        self.bidirectional = check_flag("bidirectional", self.bidirectional)
        get_activation(self.nonlinearity)
        self.dropout = check_probability("dropout", self.dropout)
        if self.attention is not None:
            self.attention = check_choice("attention", self.attention, ATTENTION_KINDS)
        self.attention_size = check_optional_size("attention_size", self.attention_size)
        self.bridge = check_choice("bridge", self.bridge, BRIDGES)
        V = self.target_vocab_size
        self.bos_id = check_int("bos_id", self.bos_id, 0, V - 1)
        self.eos_id = check_int("eos_id", self.eos_id, 0, V - 1)
        self.max_source_length = check_size("max_source_length", self.max_source_length)
        self.dtype = check_dtype(self.dtype).name
        check_weights_fit(self.param_shapes(), self.dtype,
                          f"a seq2seq model of {self.num_layers} {self.cell} layer(s) with hidden_size "
                          f"{self.hidden_size:,} and vocabularies {self.src_vocab_size:,} and {V:,}")

    @property
    def target_vocab_size(self) -> int:
        return self.src_vocab_size if self.tgt_vocab_size is None else self.tgt_vocab_size

    @property
    def decoder_cell_name(self) -> str:
        return self.cell if self.decoder_cell is None else self.decoder_cell

    @property
    def decoder_hidden_size(self) -> int:
        return self.hidden_size * (2 if self.bidirectional else 1)

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """The shape of every parameter, in the order of ``Seq2Seq.params``, without allocating."""
        E, H, L = self.embedding_dim, self.hidden_size, self.num_layers
        Hd, V = self.decoder_hidden_size, self.target_vocab_size
        shapes = {}
        if self.share_embedding:
            shapes["embedding.weight"] = embedding_param_shapes(V, E)["weight"]
        else:
            shapes["src_embedding.weight"] = embedding_param_shapes(self.src_vocab_size, E)["weight"]
            shapes["tgt_embedding.weight"] = embedding_param_shapes(V, E)["weight"]
        for prefix, cell, size, bidi in (("encoder", self.cell, H, self.bidirectional),
                                         ("decoder", self.decoder_cell_name, Hd, False)):
            core = recurrent_param_shapes(CELLS[cell].GATES, E, size, L, True, bidi)
            shapes.update({f"{prefix}.{k}": v for k, v in core.items()})
        if self.attention is not None:
            att = attention_param_shapes(self.attention, Hd, Hd, self.attention_size or Hd)
            shapes.update({f"attention.{k}": v for k, v in att.items()})
            shapes.update({f"combine.{k}": v for k, v in linear_param_shapes(2 * Hd, Hd).items()})
        shapes.update({f"out.{k}": v for k, v in linear_param_shapes(Hd, V).items()})
        return shapes

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping) -> Seq2SeqConfig:
        return cls(**check_config_dict(cls, d, "seq2seq"))


class Encoded(NamedTuple):
    """A batch of sources run through the encoder, for decoding."""

    memory: Memory | None  # the attention's memory of the encoder outputs (None without attention)
    state: object  # the decoder's initial state ((L, B, Hd), a tuple (h, c) for an LSTM), or None


class Seq2SeqCache(NamedTuple):
    """What ``Seq2Seq.backward`` needs from ``forward``: each part's own cache."""

    src_embedding: object
    encoder: object
    tgt_embedding: object
    decoder: object
    attention: object  # None without attention
    combine: object  # None without attention
    attentional: np.ndarray | None  # (T, B, Hd) tanh(W_c [c; h] + b_c)
    out: object
    enc_shape: tuple[int, int, int]  # (S, B, D*H)
    version: int


class Seq2Seq(Module):
    """Encoder-decoder over token ids (module docstring).

    ``forward(src, tgt_in, src_lengths=None) -> (logits (T, B, V), attention weights (T, B, S)
    or None, cache)``: src (S, B) ids whose column b has ``src_lengths[b]`` tokens (the rest is
    padding, never read), tgt_in (T, B) the decoder's input ids (BOS first). ``backward(dlogits,
    cache) -> grads`` keyed like ``params``. ``loss_and_grads`` trains on (source, target) pairs.
    """

    def __init__(self, config: Seq2SeqConfig, rng=None):
        if not isinstance(config, Seq2SeqConfig):
            raise ValueError(f"config must be a Seq2SeqConfig, got {type(config).__name__}")
        config.validate()
        super().__init__(config.dtype)
        cfg = self.config = config
        gen = check_random_state(rng)
        E, V, Hd = cfg.embedding_dim, cfg.target_vocab_size, cfg.decoder_hidden_size
        if cfg.share_embedding:
            self.src_embedding = self.tgt_embedding = Embedding(V, E, dtype=self.dtype, rng=gen)
        else:
            self.src_embedding = Embedding(cfg.src_vocab_size, E, dtype=self.dtype, rng=gen)
            self.tgt_embedding = Embedding(V, E, dtype=self.dtype, rng=gen)
        common = dict(num_layers=cfg.num_layers, dropout=cfg.dropout, dtype=self.dtype, rng=gen)
        enc_kw = dict(common, nonlinearity=cfg.nonlinearity) if cfg.cell == "rnn" else common
        dec_kw = dict(common, nonlinearity=cfg.nonlinearity) if cfg.decoder_cell_name == "rnn" else common
        self.encoder = CELLS[cfg.cell](E, cfg.hidden_size, bidirectional=cfg.bidirectional, **enc_kw)
        self.decoder = CELLS[cfg.decoder_cell_name](E, Hd, **dec_kw)
        self.attention = self.combine = None
        if cfg.attention is not None:
            self.attention = Attention(cfg.attention, Hd, Hd, cfg.attention_size, dtype=self.dtype, rng=gen)
            self.combine = Linear(2 * Hd, Hd, dtype=self.dtype, rng=gen)
        self.out = Linear(Hd, V, dtype=self.dtype, rng=gen)
        embeddings = ([("embedding", self.src_embedding)] if cfg.share_embedding else
                      [("src_embedding", self.src_embedding), ("tgt_embedding", self.tgt_embedding)])
        for prefix, mod in [*embeddings, ("encoder", self.encoder), ("decoder", self.decoder),
                            ("attention", self.attention), ("combine", self.combine), ("out", self.out)]:
            if mod is not None:
                for k, v in mod.params.items():
                    self.params[f"{prefix}.{k}"] = v  # the same arrays, not copies
                mod.params.version = self.params.version
        assert list(self.params) == list(cfg.param_shapes()), "param_shapes must list params in order"

    def extra_repr(self) -> str:
        att = "" if self.attention is None else f", attention={self.attention}"
        return f"encoder={self.encoder}, decoder={self.decoder}{att}, out={self.out}"

    def train(self, mode: bool = True) -> Seq2Seq:
        super().train(mode)
        for mod in (self.encoder, self.decoder):
            mod.train(mode)
        return self

    # -- checks ------------------------------------------------------------------------------
    def _check_ids(self, ids, vocab: int, what: str, seq: Lengths | None = None) -> np.ndarray:
        ids = np.asarray(ids)
        if ids.ndim != 2 or ids.dtype.kind not in "iu" or 0 in ids.shape:
            raise ValueError(f"{what} must be (T, B) integer token ids with T, B >= 1, "
                             f"got shape {ids.shape} dtype {ids.dtype}")
        inside = ids if seq is None else ids[:seq.steps][seq.valid]
        if inside.min() < 0 or inside.max() >= vocab:
            raise ValueError(f"{what} must be ids in [0, {vocab}), got values in "
                             f"[{inside.min()}, {inside.max()}]")
        return ids if seq is None else np.where(np.arange(ids.shape[0])[:, None] < seq.lengths, ids, 0)

    def _source(self, src, src_lengths):
        src = np.asarray(src)
        seq = None
        if src_lengths is not None and src.ndim == 2:
            seq = Lengths(src_lengths, src.shape[1], src.shape[0], "src_lengths")
        longest = seq.steps if seq is not None else src.shape[0] if src.ndim == 2 else 0
        if longest > self.config.max_source_length:
            raise ValueError(f"a source of {longest} steps is longer than the model's maximum, "
                             f"max_source_length={self.config.max_source_length}")
        return self._check_ids(src, self.config.src_vocab_size, "src", seq), seq

    # -- the bridge ----------------------------------------------------------------------------
    def _bridge(self, enc_state, B: int):
        """The decoder's initial state from the encoder's final states (L*D, B, H) (tuples for LSTMs)."""
        cfg = self.config
        if cfg.bridge == "zero":
            return None
        L, D, H = cfg.num_layers, self.encoder.num_directions, cfg.hidden_size
        parts = enc_state if isinstance(enc_state, tuple) else (enc_state,)
        merged = [p.reshape(L, D, B, H).transpose(0, 2, 1, 3).reshape(L, B, D * H) for p in parts]
        if self.decoder.STATE_ARITY == 1:
            return merged[0]  # an LSTM encoder's cell state does not pass to an RNN or GRU decoder
        c0 = merged[1] if len(merged) > 1 else np.zeros_like(merged[0])  # (L, B, Hd)
        return merged[0], c0

    def _bridge_backward(self, dh0, B: int):
        """The encoder's final-state gradient from the decoder's initial-state gradient."""
        cfg = self.config
        if cfg.bridge == "zero":
            return None
        L, D, H = cfg.num_layers, self.encoder.num_directions, cfg.hidden_size
        parts = list(dh0) if isinstance(dh0, tuple) else [dh0]
        split = [p.reshape(L, B, D, H).transpose(0, 2, 1, 3).reshape(L * D, B, H) for p in parts]
        if self.encoder.STATE_ARITY == 1:
            return split[0]  # a decoder's cell-state gradient reaches no RNN or GRU encoder state
        return split[0], split[1] if len(split) > 1 else np.zeros_like(split[0])

    # -- forward and backward ------------------------------------------------------------------
    def forward(self, src, tgt_in, src_lengths=None):
        """src (S, B) ids, tgt_in (T, B) ids -> logits (T, B, V), weights (T, B, S) or None, cache."""
        src, seq = self._source(src, src_lengths)
        tgt_in = self._check_ids(tgt_in, self.config.target_vocab_size, "tgt_in")
        if tgt_in.shape[1] != src.shape[1]:
            raise ValueError(f"src and tgt_in must hold the same batch, got {src.shape[1]} and "
                             f"{tgt_in.shape[1]} sequences")
        lengths = None if seq is None else seq.lengths
        B = src.shape[1]
        xe, src_cache = self.src_embedding.forward(src)  # (S, B, E)
        keys, enc_state, enc_cache = self.encoder.forward(xe, lengths=lengths)  # (S, B, D*H)
        de, tgt_cache = self.tgt_embedding.forward(tgt_in)  # (T, B, E)
        h, _, dec_cache = self.decoder.forward(de, self._bridge(enc_state, B))  # (T, B, Hd)
        att_cache = comb_cache = attentional = weights = None
        feats = h
        if self.attention is not None:
            context, weights, att_cache = self.attention.forward(h, self.attention.memory(keys, lengths))
            pre, comb_cache = self.combine.forward(np.concatenate([context, h], axis=2))  # (T, B, Hd)
            feats = attentional = np.tanh(pre)
        logits, out_cache = self.out.forward(feats)  # (T, B, V)
        cache = Seq2SeqCache(src_cache, enc_cache, tgt_cache, dec_cache, att_cache, comb_cache, attentional,
                             out_cache, keys.shape, self.params.version.value)
        return logits, weights, cache

    __call__ = forward

    def backward(self, dlogits, cache: Seq2SeqCache) -> dict[str, np.ndarray]:
        """Gradients of every parameter (keyed like ``params``) from dlogits (T, B, V)."""
        if not isinstance(cache, Seq2SeqCache):
            raise ValueError(f"Seq2Seq.backward expects the cache returned by forward, "
                             f"got {type(cache).__name__}")
        self.check_cache_version(cache.version)
        dfeats, g_out = self.out.backward(dlogits, cache.out)  # (T, B, Hd)
        grads = {f"out.{k}": v for k, v in g_out.items()}
        Hd = self.config.decoder_hidden_size
        if self.attention is not None:
            dpre = dfeats * (1.0 - cache.attentional ** 2)  # (T, B, Hd) through tanh
            dcat, g_comb = self.combine.backward(dpre, cache.combine)  # (T, B, 2 Hd)
            dq, dkeys, g_att = self.attention.backward(np.ascontiguousarray(dcat[:, :, :Hd]), cache.attention)
            dh = dcat[:, :, Hd:] + dq  # (T, B, Hd): the state read twice, by the combine and as the query
            grads.update({f"combine.{k}": v for k, v in g_comb.items()})
            grads.update({f"attention.{k}": v for k, v in g_att.items()})
        else:
            dh, dkeys = dfeats, np.zeros(cache.enc_shape, self.dtype)  # the outputs are not read
        dh = np.ascontiguousarray(dh, dtype=self.dtype)
        dde, dh0, g_dec = self.decoder.backward(dh, None, cache.decoder)
        B = dlogits.shape[1]
        dxe, _, g_enc = self.encoder.backward(np.ascontiguousarray(dkeys, dtype=self.dtype),
                                              self._bridge_backward(dh0, B), cache.encoder)
        grads.update({f"decoder.{k}": v for k, v in g_dec.items()})
        grads.update({f"encoder.{k}": v for k, v in g_enc.items()})
        _, g_tgt = self.tgt_embedding.backward(dde, cache.tgt_embedding)
        _, g_src = self.src_embedding.backward(dxe, cache.src_embedding)
        if self.config.share_embedding:  # one matrix looked up on both sides: both gradients add
            grads["embedding.weight"] = g_src["weight"] + g_tgt["weight"]
        else:
            grads["src_embedding.weight"], grads["tgt_embedding.weight"] = g_src["weight"], g_tgt["weight"]
        return {k: grads[k] for k in self.params}

    # -- training --------------------------------------------------------------------------------
    def targets(self, tgt, tgt_lengths=None) -> np.ndarray:
        """tgt (T, B) ids checked inside ``tgt_lengths`` (None: all T steps), padding set to 0."""
        tgt = np.asarray(tgt)
        seq = None
        if tgt_lengths is not None:
            if tgt.ndim != 2:
                raise ValueError(f"tgt must be (T, B) integer token ids, got shape {tgt.shape}")
            seq = Lengths(tgt_lengths, tgt.shape[1], tgt.shape[0], "tgt_lengths")
        return self._check_ids(tgt, self.config.target_vocab_size, "tgt", seq)

    def decoder_inputs(self, targets: np.ndarray) -> np.ndarray:
        """The teacher-forced inputs (T, B) of checked ``targets`` (T, B): BOS, then the targets
        shifted right by one step."""
        inputs = np.empty_like(targets)
        inputs[0] = self.config.bos_id
        inputs[1:] = targets[:-1]
        return inputs

    def loss_and_grads(self, src, tgt, src_lengths=None, tgt_lengths=None, sampling_rate: float = 0.0,
                       rng: np.random.Generator | None = None) -> tuple[float, dict[str, np.ndarray]]:
        """The mean cross-entropy of ``tgt`` (T, B) given ``src`` (S, B) over the target tokens
        inside ``tgt_lengths`` (each target should end with EOS) and its gradients; teacher
        forcing, or with ``sampling_rate`` > 0 scheduled sampling drawn from ``rng`` (a Generator,
        required then)."""
        rate = check_real("sampling_rate", sampling_rate, low=0.0, high=1.0)  # 1: always the model's
        targets = self.targets(tgt, tgt_lengths)
        tgt_in = self.decoder_inputs(targets)
        if rate > 0:
            tgt_in = self.scheduled_inputs(src, tgt_in, src_lengths, rate, check_generator(rng))
        logits, _, cache = self.forward(src, tgt_in, src_lengths)
        loss, dlogits = cross_entropy(logits, targets, lengths=tgt_lengths)
        return loss, self.backward(dlogits.astype(self.dtype, copy=False), cache)

    def scheduled_inputs(self, src, tgt_in, src_lengths, rate: float, rng: np.random.Generator) -> np.ndarray:
        """Scheduled sampling's decoder inputs: each of tgt_in's after the first replaced, with
        probability ``rate``, by a token drawn from the model's prediction at the step before (the
        model stepped without dropout on the inputs chosen so far)."""
        from ..sample import sample_next
        from .decode import DecoderStepper

        stepper = DecoderStepper(self)
        encoded = stepper.encode(src, src_lengths)
        T, B = tgt_in.shape
        mixed = tgt_in.copy()
        state = encoded.state
        for t in range(T - 1):
            logits, state, _ = stepper.step(mixed[t], state, encoded.memory)
            drawn = sample_next(logits, rng)  # (B,) one draw per row from the model's distribution
            use = rng.random(B) < rate
            mixed[t + 1] = np.where(use, drawn, mixed[t + 1])
        return mixed

    # -- inference -------------------------------------------------------------------------------
    def encode(self, src, src_lengths=None) -> Encoded:
        """The attention's memory and the decoder's initial state of a batch of sources (no cache)."""
        src, seq = self._source(src, src_lengths)
        lengths = None if seq is None else seq.lengths
        was = self.encoder.training
        self.encoder.eval()
        try:
            xe, _ = self.src_embedding.forward(src)
            keys, enc_state, _ = self.encoder.forward(xe, lengths=lengths)
        finally:
            self.encoder.train(was)
        memory = None if self.attention is None else self.attention.memory(keys, lengths)
        state = self._bridge(enc_state, src.shape[1])
        if state is None:
            state = self.decoder.initial_state(src.shape[1])
        return Encoded(memory, state)
