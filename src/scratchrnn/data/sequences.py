"""The two kinds of training data the trainer reads.

* :class:`SequenceData` holds whole sequences, ``x`` (T, N, F) floats or (T, N) token ids, with
  targets per step (T, N[, O]) or one per sequence ((N, O), or (N,) class ids) for many-to-one
  models, and optionally a (T, N) mask of the steps that count. The trainer draws minibatches of
  sequence indices and runs BPTT over whole sequences.
* :class:`TokenStream` holds one long stream of token ids, cut into B parallel streams
  (:func:`~scratchrnn.data.text.batchify`) and read in consecutive windows of ``window`` steps
  (:class:`~scratchrnn.data.text.Windows`, whole windows only), so the hidden state at the end of
  one window is the right initial state for the next.
"""

from __future__ import annotations

import numpy as np

from ..checks import check_int, check_optional_flag, check_size
from .text import Windows, batchify

__all__ = ["SequenceData", "TokenStream"]


def _float_or_int(name: str, a) -> np.ndarray:
    a = np.asarray(a)
    if not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
        raise ValueError(f"{name} must hold numbers, got dtype {a.dtype}")
    return a


class SequenceData:
    """Whole sequences for BPTT: x (T, N, F) or (T, N) ids; y (T, N[, O]) per step, or (N, O) or
    (N,) class ids per sequence; mask (T, N) (bool or 0/1, per-step targets only) selects the
    steps that count. ``per_step`` says which layout y has; None infers it from the shapes, which
    is ambiguous only when T == N and y is 2-D (then pass it)."""

    def __init__(self, x, y, mask=None, per_step: bool | None = None):
        per_step = check_optional_flag("per_step", per_step)
        x, y = _float_or_int("x", x), _float_or_int("y", y)
        if x.ndim not in (2, 3):
            raise ValueError(f"x must be (T, N) token ids or (T, N, F) features, got shape {x.shape}")
        if x.ndim == 2 and not np.issubdtype(x.dtype, np.integer):
            raise ValueError(f"2-D x is read as token ids and must be integer, got dtype {x.dtype}")
        T, N = x.shape[:2]
        if T == 0 or N == 0:
            raise ValueError(f"the dataset is empty: x has shape {x.shape}")
        fits_step = y.ndim >= 2 and y.shape[:2] == (T, N)
        fits_seq = y.ndim in (1, 2) and y.shape[0] == N
        if per_step is None:
            per_step = fits_step
        if not (fits_step if per_step else fits_seq):
            raise ValueError(f"y must be (T, N[, O]) = ({T}, {N}, ...) per step, or (N, O) or (N,) = ({N},) "
                             f"per sequence, got {y.shape}")
        if mask is not None:
            if not per_step:
                raise ValueError("a mask selects steps, so it needs targets per step (T, N[, O]); "
                                 f"got y of shape {y.shape}, one target per sequence")
            mask = np.asarray(mask)
            if mask.shape != (T, N):
                raise ValueError(f"mask must be (T, N) = {(T, N)}, got {mask.shape}")
            if mask.dtype != np.bool_:
                if not (np.issubdtype(mask.dtype, np.integer) or np.issubdtype(mask.dtype, np.floating)) \
                        or not np.all((mask == 0) | (mask == 1)):
                    raise ValueError(f"mask must be boolean or hold only 0 and 1, got dtype {mask.dtype}")
                mask = mask != 0  # (T, N)
            if not mask.any():
                raise ValueError("the dataset is empty: the mask selects no step")
        self.x, self.y, self.mask, self.per_step = x, y, mask, per_step
        self.num_steps, self.size = T, N

    def __len__(self) -> int:
        return self.size

    def batch(self, idx: np.ndarray):
        """The sequences ``idx`` as (x, y, mask), vectorized over the batch."""
        x = self.x[:, idx]  # (T, b[, F])
        y = self.y[:, idx] if self.per_step else self.y[idx]  # (T, b[, O]) or (b, O)
        m = None if self.mask is None else self.mask[:, idx]  # (T, b)
        return x, y, m

    def tokens_per_batch(self, b: int) -> int:
        return self.num_steps * b


class TokenStream:
    """One long stream of token ids split into ``batch_size`` parallel streams and read in windows.

    ``streams`` (S, B) is ``batchify(ids, batch_size)``: column b is the b-th contiguous slice of
    the stream. ``windows`` is ``Windows(streams, window, drop_last=True)``; ``len()`` is the
    number of windows and ``window_at(i)`` window i, inputs (w, B) and next-token targets (w, B).
    """

    def __init__(self, ids, batch_size: int, window: int):
        ids = np.asarray(ids)
        if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
            raise ValueError(f"a token stream must be a 1-D array of integer ids, "
                             f"got shape {ids.shape} dtype {ids.dtype}")
        self.batch_size = check_size("batch_size", batch_size)
        self.window = check_size("window", window)
        per_stream = len(ids) // self.batch_size
        # checked here rather than left to batchify and Windows, so that the message names the stream
        if per_stream < self.window + 1:
            raise ValueError(
                f"the stream has {len(ids)} tokens: {per_stream} per each of {batch_size} parallel streams, "
                f"fewer than one window of {window} steps plus its target; "
                "use a shorter window or smaller batch"
            )
        self.streams = batchify(ids, self.batch_size)  # (S, B)
        # whole windows only: every step of an epoch then has the same shape
        self.windows = Windows(self.streams, self.window, drop_last=True)
        self.num_windows = len(self.windows)

    def __len__(self) -> int:
        return self.num_windows

    def window_at(self, i: int):
        """Window ``i`` (negative counts from the end): inputs (w, B) and next-token targets (w, B)."""
        n = self.num_windows
        return self.windows[check_int("window index i", i, low=-n, high=n - 1)]
