"""What a model's head reads from the recurrent stack: every step, or one vector per sequence.

``SequenceModel`` runs its Linear head on the features these functions give (``ModelConfig.head``):

* ``"all"``: the top layer's output at every step, (T, B, D*H);
* ``"last"``: the top layer's output at each sequence's last step, (B, D*H) (step T-1 without
  lengths). For a bidirectional stack the reverse half of that output has read one step only;
* ``"final"``: each direction's final state of the top layer, concatenated, (B, D*H). For the
  forward direction that is ``"last"``; the reverse direction's final state has read the whole
  sequence back to its first step, which makes this the many-to-one head of a bidirectional model;
* ``"mean"``: the mean of the outputs over each sequence's steps;
* ``"max"``: their elementwise maximum over those steps (the gradient goes to the step that gave it).

With lengths every head reads only the steps inside them: the layers' outputs are zero past each
length (``scratchrnn.nn.lengths``), the mean divides by each sequence's own length, and the maximum
never picks a padding step. :func:`pool` is the forward and :func:`unpool` its backward.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .lengths import Lengths

__all__ = ["Pooled", "pool", "unpool"]


class Pooled(NamedTuple):
    """What ``unpool`` needs from ``pool``."""

    kind: str  # the head
    out_shape: tuple[int, int, int]  # (T, B, D*H), the recurrent output's shape
    lengths: Lengths | None  # the batch's lengths, or None
    argmax: np.ndarray | None  # (B, D*H): the step of each maximum (head "max")


def _top_states(h_n, D: int) -> np.ndarray:
    """The top layer's final hidden states of every direction side by side: (B, D*H)."""
    h = h_n[0] if isinstance(h_n, tuple) else h_n  # (L*D, B, H)
    return np.concatenate(list(h[-D:]), axis=1) if D > 1 else h[-1]


def pool(kind: str, out: np.ndarray, h_n, D: int, seq: Lengths | None) -> tuple[np.ndarray, Pooled]:
    """The head's input: out (T, B, D*H) itself for ``"all"``, else (B, D*H) per sequence; h_n the
    stack's final state ((L*D, B, H), a tuple (h, c) for an LSTM); seq the lengths or None."""
    T, B, _ = out.shape
    argmax = None
    if kind == "all":
        feats = out
    elif kind == "last":
        feats = out[-1] if seq is None else out[seq.last, np.arange(B)]  # (B, D*H)
    elif kind == "final":
        feats = _top_states(h_n, D)  # (B, D*H)
    elif kind == "mean":
        count = np.full(B, T) if seq is None else seq.lengths  # (B,)
        feats = out.sum(axis=0) / count[:, None].astype(out.dtype)  # (B, D*H): zero past each length
    elif kind == "max":
        scores = out if seq is None else np.where(seq.padded_valid()[..., None], out, -np.inf)  # (T, B, D*H)
        argmax = scores.argmax(axis=0)  # (B, D*H)
        feats = np.take_along_axis(out, argmax[None], axis=0)[0]  # (B, D*H)
    else:
        raise ValueError(f"unknown head {kind!r}; expected one of 'all', 'last', 'final', 'mean', 'max'")
    return feats, Pooled(kind, out.shape, seq, argmax)


def unpool(dfeats: np.ndarray, ctx: Pooled, D: int, via_state: bool):
    """The gradients the head's input sends back, as (dout (T, B, D*H) or None, dtop (B, D*H) or
    None): dout for the outputs, dtop for the top layer's final states (``final``, and ``last`` when
    ``via_state``: a unidirectional stack's last output is its final state, and a gradient entering
    there lets a truncated backward skip the steps it never reaches)."""
    kind, (T, B, DH) = ctx.kind, ctx.out_shape
    if kind == "all":
        return dfeats, None
    if kind == "final" or (kind == "last" and via_state):
        return None, dfeats
    dout = np.zeros((T, B, DH), dfeats.dtype)  # (T, B, D*H)
    cols = np.arange(B)
    if kind == "last":
        dout[T - 1 if ctx.lengths is None else ctx.lengths.last, cols] = dfeats
    elif kind == "mean":
        count = np.full(B, T) if ctx.lengths is None else ctx.lengths.lengths  # (B,)
        share = dfeats / count[:, None].astype(dfeats.dtype)  # (B, D*H)
        valid = np.ones((T, B), bool) if ctx.lengths is None else ctx.lengths.padded_valid()  # (T, B)
        np.multiply(valid[..., None], share[None], out=dout)
    else:  # "max"
        np.put_along_axis(dout, ctx.argmax[None], dfeats[None], axis=0)
    return dout, None
