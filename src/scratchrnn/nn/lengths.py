"""Sequences of different lengths in one padded batch: what the recurrent layers do with ``lengths``.

A batch x (T, B, F) with ``lengths`` (B,) holds sequence b in ``x[:lengths[b], b]``; the rest is
padding. The semantics are PyTorch's ``pack_padded_sequence(..., enforce_sorted=False)`` followed by
``pad_packed_sequence``: outputs past a sequence's length are zero, ``h_n`` (and ``c_n``) is each
sequence's state after its own last step, and the reverse direction of a bidirectional layer reads
each sequence from its own last step back to its first.

How the layers get there, with the cells' own loops unchanged (this is one run of the batch; a
batch whose sequences end at very different steps is run in time segments over the sequences
still running, each segment this mechanism on its rows, ``scratchrnn.nn.segments``):

* every sequence runs to the batch's longest length ``steps`` and no further (the steps after every
  sequence has ended are not run);
* the steps past a sequence's own length ("padding steps") compute numbers that no valid step
  reads: a forward direction's step t reads only the steps before it, and the reverse direction's
  input is the batch with each sequence reversed within its length (``reverse``), padding left
  where it was, so for both directions a sequence's padding steps come after all its valid ones;
* the final states are gathered at each sequence's last step (``final``), the outputs are zeroed
  past the lengths on the way out, and the gradients arriving there are dropped (``mask``);
* backward, the gradient w.r.t. a sequence's final state enters the time loop at its last step
  (``timeloop.full_bptt``'s ``dstate_at``, from ``ending``). Nothing else reaches a padding step,
  so its pre-activation gradients are exactly zero, and so are its shares of the weight gradients
  and of dx;
* the input at padding positions is replaced (``input``: zeros, or the sequence's first token id),
  so that padding steps compute finite numbers: 0 * inf would not be 0.

The plain specification is ``scratchrnn.nn.reference.forward(..., lengths=)``, which runs each
sequence on its own.
"""

from __future__ import annotations

import numpy as np

from ..checks import check_lengths

__all__ = ["Lengths", "reverse_time", "valid_steps"]


class Lengths:
    """The lengths of one padded batch and the index arrays the layers use with them.

    ``lengths`` (B,) int64; ``T`` the padded steps; ``steps`` the longest length (the steps run);
    ``valid`` (steps, B) whether step t is inside sequence b; ``last`` (B,) each sequence's last
    step; ``rev`` (steps, B) the step each position takes in a sequence reversed within its length
    (itself past the length; ``rev`` is its own inverse)."""

    def __init__(self, lengths, batch: int, T: int, name: str = "lengths"):
        self.lengths = check_lengths(lengths, batch, T, name)  # (B,)
        self.T, self.B = T, batch
        self.steps = int(self.lengths.max())
        t = np.arange(self.steps)[:, None]  # (steps, 1)
        self.valid = valid_steps(self.lengths, self.steps)  # (steps, B)
        self.last = self.lengths - 1  # (B,)
        self.rev = np.where(self.valid, self.last - t, t)  # (steps, B)
        self._cols = np.arange(batch)  # (B,)

    @property
    def full(self) -> bool:
        """Whether every sequence has the padded length (then the layers run as without lengths)."""
        return bool(self.lengths.min() == self.T)

    def input(self, x: np.ndarray) -> np.ndarray:
        """x (T, B, F) or token ids (T, B) -> its first ``steps`` steps, padding replaced by zeros
        (by each sequence's first id for token ids); a new array."""
        x = x[: self.steps]
        if x.dtype.kind in "iu":
            return np.where(self.valid, x, x[0])  # (steps, B)
        return np.where(self.valid[..., None], x, x.dtype.type(0))  # (steps, B, F)

    def reverse(self, a: np.ndarray) -> np.ndarray:
        """a (..., steps, B, K) (or ids (steps, B)) with each sequence reversed within its length,
        padding in place; a new C-contiguous array. Applied twice it gives a back."""
        if a.ndim == 2:
            return a[self.rev, self._cols]
        return a[..., self.rev, self._cols, :]

    def padded_valid(self) -> np.ndarray:
        """(T, B) whether step t is inside sequence b, over all T padded steps."""
        return valid_steps(self.lengths, self.T)

    def final(self, states: np.ndarray) -> np.ndarray:
        """Each sequence's entry at its last step: states (steps, B, H) -> (B, H)."""
        return states[self.last, self._cols]

    def mask(self, a: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """a (steps, B, K) with zeros past each length (into ``out`` if given, else a new array)."""
        return np.multiply(a, self.valid[..., None], out=out)

    def padded(self, a: np.ndarray) -> np.ndarray:
        """a (..., steps, B, K) zero-padded to (..., T, B, K), zeros past each length."""
        *lead, _, B, K = a.shape
        out = np.zeros((*lead, self.T, B, K), a.dtype)
        self.mask(a, out=out[..., : self.steps, :, :])
        return out

    def final_grads(self, dstate_n: tuple, to_state) -> tuple[tuple, dict | None]:
        """Final-state gradients (B, H) each (or Nones) split by where each sequence ends, for
        ``timeloop.full_bptt``: (those of the sequences ending at the last step run, the others
        zeroed; {t: (batch indices, their gradients made ``to_state``)} for the earlier ends)."""
        if all(s is None for s in dstate_n):
            return dstate_n, None
        at_end, earlier = self.ending()
        at = {t: (rows, tuple([None if s is None else to_state(s[rows]) for s in dstate_n]))
              for t, rows in earlier.items()}
        return tuple([None if s is None else s * at_end[:, None] for s in dstate_n]), at

    def ending(self) -> tuple[np.ndarray, dict[int, np.ndarray]]:
        """Which sequences end where: (a (B,) mask of those ending at the last step run, {t: their
        batch indices} for every earlier step t at which some sequence ends)."""
        at_end = self.last == self.steps - 1
        earlier = {}
        for t in np.unique(self.last[~at_end]):
            earlier[int(t)] = np.flatnonzero(self.last == t)
        return at_end, earlier


def valid_steps(lengths: np.ndarray, T: int) -> np.ndarray:
    """(T, B) whether step t is inside sequence b, for checked lengths (B,)."""
    return np.arange(T)[:, None] < lengths


def reverse_time(a: np.ndarray, seq: Lengths | None, contiguous: bool = True) -> np.ndarray:
    """a (..., T, B, K) (or ids (T, B)) in a reverse direction's time: flipped, or with lengths each
    sequence reversed within its own (``Lengths.reverse``, always a new array). Its own inverse.
    Without lengths the flip is a view unless ``contiguous``."""
    if seq is not None:
        return seq.reverse(a)
    flipped = a[..., ::-1, :, :] if a.ndim > 2 else a[::-1]
    return np.ascontiguousarray(flipped) if contiguous else flipped
