"""Attention of a decoder's states over an encoder's outputs, masked past each source length.

For decoder states q_t (the queries) and encoder outputs k_s (the keys, also the values), each
kind scores every pair, a softmax over the source steps inside each length turns the scores into
weights, and the context is the weighted sum of the encoder outputs::

    dot       score(t, s) = q_t . k_s                      (Luong; needs equal widths)
    general   score(t, s) = q_t . (W k_s)                  (Luong; W is (Hq, Hk))
    additive  score(t, s) = v . tanh(W_q q_t + W_k k_s)    (Bahdanau; W_q (A, Hq), W_k (A, Hk), v (A,))
    a_t = softmax_s(score(t, s)), s < length;  c_t = sum_s a_t[s] k_s

Arrays are time-major at the edge (queries (T, B, Hq), keys (S, B, Hk)) and batch-major inside,
where the products are batched matrix products over B. ``memory(keys, lengths)`` computes what
depends on the source alone once (the projected keys, the mask), so a decoder stepping one token
at a time attends with a product per step; :meth:`Attention.backward` gives the queries', the
keys' and the weights' gradients.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..checks import check_choice, check_random_state, check_size
from ..init import uniform
from ..nn.lengths import Lengths
from ..nn.module import Module

__all__ = ["ATTENTION_KINDS", "Attention", "AttentionCache", "Memory", "attention_param_shapes"]

ATTENTION_KINDS = ("dot", "general", "additive")


def attention_param_shapes(kind: str, query_size: int, key_size: int,
                           attention_size: int) -> dict[str, tuple[int, ...]]:
    """The shapes of an :class:`Attention`'s parameters, without allocating them."""
    if kind == "dot":
        return {}
    if kind == "general":
        return {"weight": (query_size, key_size)}
    return {"query.weight": (attention_size, query_size), "key.weight": (attention_size, key_size),
            "v": (attention_size,)}


class Memory(NamedTuple):
    """What attention over one batch of encoder outputs needs from the source alone."""

    keys: np.ndarray  # (B, S, Hk) the encoder outputs, batch-major
    projected: np.ndarray | None  # (B, S, Hq) W k for "general", (B, S, A) W_k k for "additive"
    valid: np.ndarray | None  # (B, 1, S) bool: source steps inside each length; None: all are

    def take(self, rows: np.ndarray) -> Memory:
        """The memory of the sequences ``rows`` (an index array), in that order."""
        return Memory(self.keys[rows], None if self.projected is None else self.projected[rows],
                      None if self.valid is None else self.valid[rows])


class AttentionCache(NamedTuple):
    """What ``Attention.backward`` needs from ``forward``."""

    queries: np.ndarray  # (B, T, Hq)
    memory: Memory
    weights: np.ndarray  # (B, T, S) the softmax
    hidden: np.ndarray | None  # (B, T, S, A) tanh(W_q q + W_k k) of "additive"
    version: int


class Attention(Module):
    """Attention of ``kind`` "dot", "general" or "additive" (module docstring) from queries of
    ``query_size`` over keys of ``key_size``; ``attention_size`` is the additive kind's A.

    Parameters (PyTorch-style names): "general" ``weight`` (Hq, Hk); "additive" ``query.weight``
    (A, Hq), ``key.weight`` (A, Hk) and ``v`` (A,); "dot" none. Initialised like
    ``torch.nn.Linear`` without bias, U(-1/sqrt(fan_in), 1/sqrt(fan_in)); ``v`` with fan-in A.
    """

    def __init__(self, kind: str, query_size: int, key_size: int, attention_size: int | None = None,
                 dtype=np.float32, rng=None):
        super().__init__(dtype)
        self.kind = check_choice("attention", kind, ATTENTION_KINDS)
        self.query_size = check_size("attention query_size", query_size)
        self.key_size = check_size("attention key_size", key_size)
        size = self.query_size if attention_size is None else attention_size
        self.attention_size = check_size("attention_size", size)
        if self.kind == "dot" and self.query_size != self.key_size:
            raise ValueError(f"dot attention needs queries as wide as the keys, got query_size "
                             f"{self.query_size} and key_size {self.key_size}; use 'general' or 'additive'")
        gen = check_random_state(rng)
        for name, shape in attention_param_shapes(self.kind, self.query_size, self.key_size,
                                                  self.attention_size).items():
            fan_in = shape[-1] if len(shape) == 2 else shape[0]
            self.params[name] = uniform(shape, 1.0 / np.sqrt(fan_in), gen, self.dtype)

    def extra_repr(self) -> str:
        size = f", attention_size={self.attention_size}" if self.kind == "additive" else ""
        return f"{self.kind!r}, query_size={self.query_size}, key_size={self.key_size}{size}"

    def memory(self, keys: np.ndarray, lengths=None) -> Memory:
        """The memory of encoder outputs ``keys`` (S, B, Hk) whose sequence b has ``lengths[b]``
        steps (None: all S)."""
        if not isinstance(keys, np.ndarray) or keys.ndim != 3 or keys.shape[2] != self.key_size:
            got = keys.shape if isinstance(keys, np.ndarray) else type(keys).__name__
            raise ValueError(f"attention keys must be (S, B, {self.key_size}), got {got}")
        S, B = keys.shape[:2]
        kb = np.ascontiguousarray(keys.transpose(1, 0, 2))  # (B, S, Hk)
        valid = None
        if lengths is not None:
            seq = Lengths(lengths, B, S)
            if not seq.full:
                valid = (np.arange(S) < seq.lengths[:, None])[:, None, :]  # (B, 1, S)
        projected = None
        if self.kind == "general":
            projected = kb @ self.params["weight"].T  # (B, S, Hq)
        elif self.kind == "additive":
            projected = kb @ self.params["key.weight"].T  # (B, S, A)
        return Memory(kb, projected, valid)

    def forward(self, queries: np.ndarray, memory: Memory):
        """queries (T, B, Hq) over ``memory`` -> context (T, B, Hk), weights (T, B, S), cache."""
        if not isinstance(queries, np.ndarray) or queries.ndim != 3 or queries.shape[2] != self.query_size \
                or queries.shape[1] != memory.keys.shape[0]:
            got = queries.shape if isinstance(queries, np.ndarray) else type(queries).__name__
            raise ValueError(f"attention queries must be (T, {memory.keys.shape[0]}, {self.query_size}), "
                             f"got {got}")
        q = np.ascontiguousarray(queries.transpose(1, 0, 2))  # (B, T, Hq)
        hidden = None
        if self.kind == "dot":
            scores = q @ memory.keys.transpose(0, 2, 1)  # (B, T, S)
        elif self.kind == "general":
            scores = q @ memory.projected.transpose(0, 2, 1)  # (B, T, S)
        else:
            qp = q @ self.params["query.weight"].T  # (B, T, A)
            hidden = np.tanh(qp[:, :, None, :] + memory.projected[:, None, :, :])  # (B, T, S, A)
            scores = hidden @ self.params["v"]  # (B, T, S)
        if memory.valid is not None:
            scores = np.where(memory.valid, scores, -np.inf)  # a length is >= 1: every row keeps a finite max
        scores -= scores.max(axis=2, keepdims=True)
        weights = np.exp(scores)  # (B, T, S); 0 past each length
        weights /= weights.sum(axis=2, keepdims=True)
        context = weights @ memory.keys  # (B, T, Hk)
        cache = AttentionCache(q, memory, weights, hidden, self.params.version.value)
        return context.transpose(1, 0, 2), weights.transpose(1, 0, 2), cache

    def backward(self, dcontext: np.ndarray, cache: AttentionCache):
        """dcontext (T, B, Hk) -> dqueries (T, B, Hq), dkeys (S, B, Hk), grads (keyed like params)."""
        if not isinstance(cache, AttentionCache):
            raise ValueError(f"Attention.backward expects the cache returned by forward, "
                             f"got {type(cache).__name__}")
        self.check_cache_version(cache.version)
        q, mem, a = cache.queries, cache.memory, cache.weights
        dc = dcontext.transpose(1, 0, 2)  # (B, T, Hk)
        da = dc @ mem.keys.transpose(0, 2, 1)  # (B, T, S)
        dkeys = a.transpose(0, 2, 1) @ dc  # (B, S, Hk): through the values
        ds = a * (da - np.sum(a * da, axis=2, keepdims=True))  # (B, T, S) the softmax's backward
        grads = {}
        if self.kind == "dot":
            dq = ds @ mem.keys  # (B, T, Hq)
            dkeys += ds.transpose(0, 2, 1) @ q
        elif self.kind == "general":
            w = self.params["weight"]  # (Hq, Hk)
            dq = ds @ mem.projected  # (B, T, Hq)
            dproj = ds.transpose(0, 2, 1) @ q  # (B, S, Hq)
            grads["weight"] = dproj.reshape(-1, w.shape[0]).T @ mem.keys.reshape(-1, w.shape[1])  # (Hq, Hk)
            dkeys += dproj @ w
        else:
            u = cache.hidden  # (B, T, S, A)
            wq, wk, A = self.params["query.weight"], self.params["key.weight"], self.attention_size
            grads_v = np.einsum("bts,btsa->a", ds, u)  # (A,)
            dz = ds[..., None] * self.params["v"] * (1.0 - u * u)  # (B, T, S, A) through tanh
            dqp, dkp = dz.sum(axis=2), dz.sum(axis=1)  # (B, T, A), (B, S, A)
            grads["query.weight"] = dqp.reshape(-1, A).T @ q.reshape(-1, self.query_size)  # (A, Hq)
            grads["key.weight"] = dkp.reshape(-1, A).T @ mem.keys.reshape(-1, self.key_size)  # (A, Hk)
            grads["v"] = grads_v
            dq = dqp @ wq  # (B, T, Hq)
            dkeys += dkp @ wk
        return dq.transpose(1, 0, 2), dkeys.transpose(1, 0, 2), {k: grads[k] for k in self.params}
