"""The two kinds of training data the trainer reads.

* :class:`SequenceData` holds whole sequences, ``x`` (T, N, F) floats or (T, N) token ids, with
  targets per step (T, N[, O]) or one per sequence ((N, O), or (N,) class ids) for many-to-one
  models, and optionally a (T, N) mask of the steps that count. The trainer draws minibatches of
  sequence indices and runs BPTT over whole sequences.
* :class:`TokenStream` holds one long stream of token ids, cut into B parallel streams
  (:func:`~scratchrnn.data.text.batchify`) and read in consecutive windows of ``window`` steps
  (:class:`~scratchrnn.data.text.Windows`, whole windows only), so the hidden state at the end of
  one window is the right initial state for the next.

:func:`pad_sequences` turns a list of sequences of different lengths into one padded batch and its
lengths, the form the recurrent layers, :class:`SequenceData` and the models take.
"""

from __future__ import annotations

import numpy as np

from ..checks import (
    check_dtype,
    check_flag,
    check_int,
    check_lengths,
    check_numeric_dtype,
    check_optional_flag,
    check_size,
)
from ..nn.lengths import valid_steps
from .text import Windows, batchify

__all__ = ["BucketedData", "SequenceData", "TokenStream", "as_sequences", "pad_sequences"]


def _float_or_int(name: str, a) -> np.ndarray:
    a = np.asarray(a)
    if not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
        raise ValueError(f"{name} must hold numbers, got dtype {a.dtype}")
    return a


def _sequence(i: int, s) -> np.ndarray:
    """Sequence i of ``pad_sequences``: an array of ids (T_i,) or features (T_i, F), T_i >= 1."""
    a = np.asarray(s)
    if a.dtype == object or not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
        raise ValueError(f"sequence {i} must hold numbers (token ids or features), got dtype {a.dtype}")
    if a.ndim not in (1, 2):
        raise ValueError(f"sequence {i} must be (T,) token ids or (T, F) features, got shape {a.shape}")
    if a.shape[0] == 0:
        raise ValueError(f"sequence {i} is empty; every sequence needs at least one step")
    if a.ndim == 1 and not np.issubdtype(a.dtype, np.integer):
        raise ValueError(f"sequence {i} is 1-D, which is read as token ids and must be integer, got dtype "
                         f"{a.dtype}; pass features as (T, 1)")
    return a


def as_sequences(X, what: str = "X") -> list[np.ndarray]:
    """Sequences of different lengths as a list of arrays, each checked: X a list of (T_i, F)
    feature arrays (the same F, finite values) or of (T_i,) integer token ids, or a 3-D array
    (N, T, F) or 2-D integer array (N, T) of N sequences of one length. A ValueError names what
    is wrong, calling the whole ``what``."""
    if isinstance(X, np.ndarray):
        if X.ndim == 3 or (X.ndim == 2 and X.dtype.kind in "iu"):
            X = list(X)
        else:
            raise ValueError(f"{what} as an array must be (N, T, F) features or (N, T) integer token ids, "
                             f"got shape {X.shape} and dtype {X.dtype}; give sequences of different "
                             "lengths as a list of (T_i, F) arrays")
    seqs = _alike(X, what)
    for i, s in enumerate(seqs):
        if s.dtype.kind == "f" and not np.all(np.isfinite(s)):
            raise ValueError(f"{what}[{i}] holds NaN or infinite values")
    return seqs


def _alike(X, what: str) -> list[np.ndarray]:
    """A non-empty list or tuple of sequences (``_sequence``), all ids or all of the same F."""
    if isinstance(X, np.ndarray) or not isinstance(X, (list, tuple)):
        raise ValueError(f"{what} must be a list of (T_i, F) arrays or of token-id sequences, got "
                         f"{type(X).__name__}")
    if not X:
        raise ValueError(f"{what} is empty; give at least one sequence")
    seqs = [_sequence(i, s) for i, s in enumerate(X)]
    ids = seqs[0].ndim == 1
    for i, a in enumerate(seqs):
        if (a.ndim == 1) != ids:
            first = "token ids (T,)" if ids else f"features (T, {seqs[0].shape[1]})"
            raise ValueError(f"sequence 0 holds {first} but sequence {i} has shape {a.shape}; all must be "
                             "alike")
        if not ids and a.shape[1] != seqs[0].shape[1]:
            raise ValueError(f"every sequence must have the same number of features: sequence 0 has "
                             f"{seqs[0].shape[1]}, sequence {i} has {a.shape[1]}")
    return seqs


def pad_sequences(sequences, dtype=None, batch_first: bool = False, padding_value=0):
    """Sequences of different lengths as one padded batch: ``(x, lengths)``.

    ``sequences``: a non-empty list of (T_i, F) feature arrays (all with the same F) or of (T_i,)
    integer token-id sequences (arrays or lists). ``x`` is (T, B, F) (or (B, T, F) with
    ``batch_first``), T the longest T_i, sequence b in ``x[:T_b, b]`` and ``padding_value`` after
    it; token ids give (T, B). ``lengths`` (B,) int64 holds the T_i. ``dtype``: the array's dtype,
    float32 (the layers' default; None) or float64 for features, an integer dtype (int64 for None)
    for ids. The recurrent layers never read the padding when given the lengths
    (``forward(x, lengths=lengths)``)."""
    batch_first = check_flag("batch_first", batch_first)
    seqs = _alike(sequences, "sequences")
    ids = seqs[0].ndim == 1
    if ids:
        dt = np.dtype(np.int64) if dtype is None else check_numeric_dtype(dtype)
        if dt.kind not in "iu":
            raise ValueError(f"token ids are padded as integers, got dtype {dt}")
    else:  # the layers' dtypes
        dt = np.dtype(np.float32) if dtype is None else check_dtype(dtype)
    lengths = np.array([a.shape[0] for a in seqs], dtype=np.int64)  # (B,)
    try:
        fill = np.array(padding_value, dtype=dt)
        if fill.ndim or (dt.kind in "iu" and fill != padding_value):
            raise ValueError
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"padding_value must be a number the dtype {dt} holds, got "
                         f"{padding_value!r}") from None
    x = np.full((int(lengths.max()), len(seqs), *seqs[0].shape[1:]), fill, dtype=dt)  # (T, B[, F])
    for b, a in enumerate(seqs):
        x[: a.shape[0], b] = a
    return (np.ascontiguousarray(x.swapaxes(0, 1)) if batch_first else x), lengths


class SequenceData:
    """Whole sequences for BPTT: x (T, N, F) or (T, N) ids; y (T, N[, O]) per step, or (N, O) or
    (N,) class ids per sequence; mask (T, N) (bool or 0/1, per-step targets only) selects the
    steps that count; lengths (N,) (integers in [1, T], e.g. from :func:`pad_sequences`) says
    where each sequence ends: the model reads no step past it and per-step targets there do not
    count. ``per_step`` says which layout y has; None infers it from the shapes, which is
    ambiguous only when T == N and y is 2-D (then pass it)."""

    def __init__(self, x, y, mask=None, per_step: bool | None = None, lengths=None):
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
                                 f"got y of shape {y.shape}, one target per sequence; give lengths to say "
                                 "where each sequence ends")
            mask = np.asarray(mask)
            if mask.shape != (T, N):
                raise ValueError(f"mask must be (T, N) = {(T, N)}, got {mask.shape}")
            if mask.dtype != np.bool_:
                if not (np.issubdtype(mask.dtype, np.integer) or np.issubdtype(mask.dtype, np.floating)) \
                        or not np.all((mask == 0) | (mask == 1)):
                    raise ValueError(f"mask must be boolean or hold only 0 and 1, got dtype {mask.dtype}")
                mask = mask != 0  # (T, N)
        if lengths is not None:
            lengths = check_lengths(lengths, N, T)  # (N,)
            if per_step:  # targets past a sequence's end do not count
                valid = valid_steps(lengths, T)  # (T, N)
                mask = valid if mask is None else mask & valid
        if mask is not None and not mask.any():
            where = "" if lengths is None else " inside the lengths"
            raise ValueError(f"the dataset is empty: the mask selects no step{where}")
        self.x, self.y, self.mask, self.per_step, self.lengths = x, y, mask, per_step, lengths
        self.num_steps, self.size = T, N

    def __len__(self) -> int:
        return self.size

    def batch(self, idx: np.ndarray):
        """The sequences ``idx`` as (x, y, mask, lengths), vectorized over the batch; with lengths
        cut to the longest of them (mask: the per-step targets that count, lengths included; each
        None when the data has none)."""
        lengths = None if self.lengths is None else self.lengths[idx]  # (b,)
        T = self.num_steps if lengths is None else int(lengths.max())
        x = self.x[:T, idx]  # (T, b[, F])
        y = self.y[:T, idx] if self.per_step else self.y[idx]  # (T, b[, O]) or (b, O)
        m = None if self.mask is None else self.mask[:T, idx]  # (T, b)
        return x, y, m, lengths

    def tokens_per_batch(self, b: int) -> int:
        """Steps in a batch of b sequences without lengths (with them, the batch's lengths say)."""
        return self.num_steps * b


class BucketedData(SequenceData):
    """SequenceData whose minibatches are fixed buckets of sequences of about the same length, so
    a batch holds little padding: the sequences sorted by length (ties in an order drawn from
    ``seed``) and cut into buckets of ``batch_size``. The trainer draws buckets, not sequences:
    ``len()`` is the number of buckets, and ``batch(idx)`` gives the sequences of the buckets
    ``idx`` (train with ``TrainConfig(batch_size=1)``, one bucket per step)."""

    def __init__(self, x, y, lengths, batch_size: int, per_step: bool | None = None, seed: int = 0):
        if lengths is None:
            raise ValueError("BucketedData groups sequences by their lengths: give lengths (N,), got None")
        super().__init__(x, y, per_step=per_step, lengths=lengths)
        batch_size = check_size("batch_size", batch_size)
        ties = np.random.default_rng(check_int("seed", seed, low=0)).permutation(self.size)  # (N,)
        order = np.lexsort((ties, self.lengths))  # (N,) by length, ties in the drawn order
        self.buckets = [order[i : i + batch_size] for i in range(0, self.size, batch_size)]
        self.sequences = self.size
        self.size = len(self.buckets)  # the trainer counts buckets

    def batch(self, idx: np.ndarray):
        """The sequences of the buckets ``idx``, as ``SequenceData.batch`` gives them."""
        cols = np.concatenate([self.buckets[int(i)] for i in np.atleast_1d(idx)])  # (b,)
        return super().batch(cols)


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
