"""``TorchSeq2Seq``: the PyTorch twin of :class:`~scratchrnn.seq2seq.model.Seq2Seq`, built from
``torch.nn.Embedding``, ``torch.nn.LSTM``/``GRU``/``RNN`` and ``torch.nn.Linear``, with the
attention written in torch operations. Its ``state_dict()`` keys are the Seq2Seq's ``params``
keys, so ``scratchrnn.io.to_torch`` and ``from_torch`` copy weights one to one. The class is made
on first use, so importing scratchrnn never imports torch.
"""

from __future__ import annotations

import numpy as np

__all__ = ["torch_seq2seq_class"]

_CLASSES: dict[str, type] = {}
_KINDS = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}


def torch_seq2seq_class() -> type:
    """The ``TorchSeq2Seq`` class (module docstring)."""
    if "TorchSeq2Seq" in _CLASSES:
        return _CLASSES["TorchSeq2Seq"]
    import torch

    from .model import Seq2SeqConfig

    nn = torch.nn

    def recurrent(cell: str, input_size: int, hidden: int, cfg: Seq2SeqConfig, bidirectional: bool, dtype):
        extra = {}
        if cell == "rnn":
            if cfg.nonlinearity not in ("tanh", "relu"):
                raise ValueError(f"torch.nn.RNN supports the nonlinearities ['tanh', 'relu'], this model "
                                 f"uses {cfg.nonlinearity!r}: it has no PyTorch equivalent")
            extra["nonlinearity"] = cfg.nonlinearity
        return getattr(nn, _KINDS[cell])(input_size, hidden, num_layers=cfg.num_layers,
                                         dropout=cfg.dropout if cfg.num_layers > 1 else 0.0,
                                         bidirectional=bidirectional, dtype=dtype, **extra)

    class TorchAttention(nn.Module):
        """The scores of ``scratchrnn.seq2seq.attention`` in torch operations."""

        def __init__(self, kind: str, size: int, attention_size: int, dtype):
            super().__init__()
            self.kind = kind
            if kind == "general":
                self.weight = nn.Parameter(torch.empty(size, size, dtype=dtype))
            elif kind == "additive":
                self.query = nn.Linear(size, attention_size, bias=False, dtype=dtype)
                self.key = nn.Linear(size, attention_size, bias=False, dtype=dtype)
                self.v = nn.Parameter(torch.empty(attention_size, dtype=dtype))

        def forward(self, queries, keys, valid):
            q, k = queries.transpose(0, 1), keys.transpose(0, 1)  # (B, T, H), (B, S, H)
            if self.kind == "dot":
                scores = q @ k.transpose(1, 2)
            elif self.kind == "general":
                scores = q @ (k @ self.weight.T).transpose(1, 2)
            else:
                hidden = torch.tanh(self.query(q)[:, :, None] + self.key(k)[:, None])  # (B, T, S, A)
                scores = hidden @ self.v
            if valid is not None:
                scores = scores.masked_fill(~valid[:, None, :], float("-inf"))
            weights = torch.softmax(scores, dim=2)  # (B, T, S)
            return (weights @ k).transpose(0, 1), weights.transpose(0, 1)

    class TorchSeq2Seq(nn.Module):
        """``forward(src, tgt_in, src_lengths=None) -> (logits (T, B, V), weights (T, B, S) or None)``,
        the Seq2Seq's forward; ``config`` is its Seq2SeqConfig as a dict."""

        def __init__(self, config):
            super().__init__()
            cfg = config if isinstance(config, Seq2SeqConfig) else Seq2SeqConfig.from_dict(dict(config))
            dtype = {"float32": torch.float32, "float64": torch.float64}[cfg.dtype]
            self.config = cfg.to_dict()
            E, V, Hd = cfg.embedding_dim, cfg.target_vocab_size, cfg.decoder_hidden_size
            if cfg.share_embedding:
                self.embedding = nn.Embedding(V, E, dtype=dtype)
            else:
                self.src_embedding = nn.Embedding(cfg.src_vocab_size, E, dtype=dtype)
                self.tgt_embedding = nn.Embedding(V, E, dtype=dtype)
            self.encoder = recurrent(cfg.cell, E, cfg.hidden_size, cfg, cfg.bidirectional, dtype)
            self.decoder = recurrent(cfg.decoder_cell_name, E, Hd, cfg, False, dtype)
            if cfg.attention is not None:
                self.attention = TorchAttention(cfg.attention, Hd, cfg.attention_size or Hd, dtype)
                self.combine = nn.Linear(2 * Hd, Hd, dtype=dtype)
            self.out = nn.Linear(Hd, V, dtype=dtype)
            self._cfg = cfg

        def _bridge(self, state, B: int):
            cfg = self._cfg
            if cfg.bridge == "zero":
                return None
            L, D, H = cfg.num_layers, 2 if cfg.bidirectional else 1, cfg.hidden_size
            parts = state if isinstance(state, tuple) else (state,)
            merged = [p.reshape(L, D, B, H).permute(0, 2, 1, 3).reshape(L, B, D * H) for p in parts]
            if cfg.decoder_cell_name != "lstm":
                return merged[0]
            return merged[0], merged[1] if len(merged) > 1 else torch.zeros_like(merged[0])

        def forward(self, src, tgt_in, src_lengths=None):
            cfg = self._cfg
            S, B = src.shape
            src_emb = self.embedding if cfg.share_embedding else self.src_embedding
            tgt_emb = self.embedding if cfg.share_embedding else self.tgt_embedding
            valid = None
            if src_lengths is not None:
                lengths = torch.as_tensor(np.asarray(src_lengths), dtype=torch.int64)
                valid = torch.arange(S)[None, :] < lengths[:, None]  # (B, S)
                src = torch.where(valid.T, src, torch.zeros_like(src))
                packed = nn.utils.rnn.pack_padded_sequence(src_emb(src), lengths, enforce_sorted=False)
                keys, state = self.encoder(packed)
                keys, _ = nn.utils.rnn.pad_packed_sequence(keys, total_length=S)  # (S, B, D*H)
            else:
                keys, state = self.encoder(src_emb(src))
            h, _ = self.decoder(tgt_emb(tgt_in), self._bridge(state, B))  # (T, B, Hd)
            weights = None
            feats = h
            if cfg.attention is not None:
                context, weights = self.attention(h, keys, valid)
                feats = torch.tanh(self.combine(torch.cat([context, h], dim=2)))
            return self.out(feats), weights

    _CLASSES["TorchSeq2Seq"] = TorchSeq2Seq
    return TorchSeq2Seq
