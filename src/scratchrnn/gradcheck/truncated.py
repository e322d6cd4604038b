"""The truncated-BPTT objective, evaluated directly, for finite differences.

Truncated BPTT (``scratchrnn.nn.timeloop``) does not give the gradient of the loss itself but the
exact gradient of a *truncated objective*: for the loss term at output step t, the states of
forward directions at step t-k-1 and of reverse directions at step t+k+1 are constants (their
values under the unperturbed parameters), and ``h_n`` counts as a term at step T-1 for forward
directions and at step 0 for reverse ones. :func:`truncated_objective` evaluates that objective
by re-running the layer on the window ``x[t-k .. t+k]`` of each step from the held states, so
``backward(truncate=k)`` can be compared with finite differences of it. The loss may be any
function of ``(out, h_n)``: its gradient through the assembled windows is
``sum_t dL/dout_t . d out_t^(t) / d theta``, exactly what the backward pass computes from ``dout``.

With ``lengths`` each sequence is its own objective's run: the windows of sequence b cover its
steps ``0 .. lengths[b]-1`` only (its "T-1" is its own last step), and the loss reads the outputs
assembled into the padded batch, zero past each length, as the layer gives them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..checks import check_lengths, check_truncate
from ..nn.recurrent import RecurrentBase
from .checker import as_scalar

__all__ = ["truncated_objective"]


def _state_tuple(state, arity: int) -> tuple[np.ndarray, ...] | None:
    if state is None:
        return None
    return (state,) if arity == 1 else tuple(state)


def truncated_objective(
    rnn: RecurrentBase,
    x: np.ndarray,
    loss: Callable,
    h0=None,
    truncate: int | None = None,
    lengths=None,
) -> Callable[..., float]:
    """The objective whose exact gradient ``rnn.backward(..., truncate=k)`` returns, as ``fn(params)``.

    rnn: a float64 recurrent layer (RNN, LSTM, GRU) without active dropout; x: its input (T, B, F)
    (or (B, T, F) with ``batch_first``); h0: (L*D, B, H), a tuple (h0, c0) for an LSTM, or None;
    loss(out, h_n) -> float (or a tuple starting with it), any differentiable function.

    With ``truncate=None`` the objective is ``loss(*rnn.forward(x, h0)[:2])``. With ``truncate=k``
    it is ``loss(out~, h_n~)`` where ``out~[t]`` is the output at t of a run on the window
    ``x[t-k .. t+k]`` (``x[t-k .. t]`` one-directional) started from the states held constant for
    that term: forward directions at t-k-1 (h0 itself, held, when t-k-1 = -1; the live h0 when
    t-k-1 < -1), reverse directions mirrored at t+k+1. ``h_n~`` takes its forward-direction
    entries from the window of step T-1 and its reverse-direction entries from that of step 0.
    Held states are computed once, here, from the current (unperturbed) parameters, x and h0;
    ``fn`` reads the layer's own parameter arrays and ``x`` and ``h0`` as they are when called, so
    pass those very arrays to :func:`check_gradients`. ``fn`` ignores its argument. ``lengths``
    (B,) or None: the layer's ``forward(..., lengths=)`` (module docstring).
    """
    if not isinstance(rnn, RecurrentBase):
        raise ValueError(
            f"truncated_objective expects a recurrent layer (RNN, LSTM, GRU), got {type(rnn).__name__}"
        )
    if rnn.dtype != np.float64:
        raise ValueError(f"truncated_objective needs a float64 layer, got one with dtype {rnn.dtype}")
    if rnn.training and rnn.dropout > 0.0:
        raise ValueError(
            f"the layer has dropout={rnn.dropout} in training mode, so its output is random; "
            "call .eval() (or use dropout=0) before checking gradients"
        )
    if not callable(loss):
        raise ValueError(f"loss must be a callable loss(out, h_n) -> float, got {type(loss).__name__}")
    k = check_truncate(truncate)
    run = _truncated_run(rnn, x, h0, k) if lengths is None else _each_sequence(rnn, x, h0, k, lengths)
    return lambda _params=None: as_scalar(loss(*run()), "from loss(out, h_n)")


def _each_sequence(rnn: RecurrentBase, x: np.ndarray, h0, k: int | None, lengths) -> Callable:
    """``run() -> (out, h_n)`` of a batch with lengths: each sequence's own truncated run, put
    together as the layer's padded outputs (zeros past each length) and final states."""
    time_axis = 1 if rnn.batch_first else 0
    T, B = x.shape[time_axis], x.shape[1 - time_axis]
    lens = check_lengths(lengths, B, T)
    arity = rnn.STATE_ARITY
    h0s = _state_tuple(h0, arity)
    runs = []
    for b, n in enumerate(lens.tolist()):
        xb = x[b : b + 1, :n] if rnn.batch_first else x[:n, b : b + 1]  # one sequence, unpadded
        hb = None if h0s is None else tuple(s[:, b : b + 1] for s in h0s)
        runs.append(_truncated_run(rnn, xb, None if hb is None else (hb[0] if arity == 1 else hb), k))

    def run():
        out = np.zeros((T, B, rnn.num_directions * rnn.hidden_size))  # (T, B, D*H)
        h_n = [np.zeros(rnn.state_shape(B)) for _ in range(arity)]  # (L*D, B, H) each
        for b, (n, one) in enumerate(zip(lens.tolist(), runs, strict=True)):
            out_b, hn_b = one()
            out[:n, b] = out_b[0] if rnn.batch_first else out_b[:, 0]
            for s, part in zip(h_n, _state_tuple(hn_b, arity), strict=True):
                s[:, b] = part[:, 0]
        out = out.swapaxes(0, 1) if rnn.batch_first else out
        return out, h_n[0] if arity == 1 else tuple(h_n)

    return run


def _truncated_run(rnn: RecurrentBase, x: np.ndarray, h0, k: int | None) -> Callable:
    """``run() -> (out, h_n)`` of the truncated objective (``truncated_objective``, no lengths)."""
    out_full, _, cache = rnn.forward(x, h0)
    time_axis = 1 if rnn.batch_first else 0
    T = out_full.shape[time_axis]
    D = rnn.num_directions
    bidir = D == 2
    if k is None or k >= T:  # every window is the whole sequence, and h0 is never held
        return lambda: rnn.forward(x, h0)[:2]

    arity = rnn.STATE_ARITY
    held = tuple(s.copy() for s in rnn.sequence_states(cache))  # (L*D, T, B, H) each
    shape = held[0][:, 0].shape  # (L*D, B, H)
    h0_held = (
        tuple(np.zeros(shape) for _ in range(arity)) if h0 is None
        else tuple(s.copy() for s in _state_tuple(h0, arity))
    )
    fwd = np.arange(0, shape[0], D)  # rows of forward directions in (L*D, ...)
    rev = np.arange(1, shape[0], D)  # rows of reverse directions
    B = shape[1]
    # Windows of equal length run as one batch: sequences never interact, so each window's
    # output is the same as a run of its own, and an edge-free k=0 objective is one call.
    starts = [max(0, t - k) for t in range(T)]
    ends = [min(T, t + k + 1) if bidir else t + 1 for t in range(T)]
    groups: dict[int, list[int]] = {}
    for t in range(T):
        groups.setdefault(ends[t] - starts[t], []).append(t)

    def held_state(s: int, t: int) -> np.ndarray:
        """Initial state s (h or c) of the window of term t, from the held states and held h0."""
        st = np.empty(shape)  # (L*D, B, H)
        before, after = t - k - 1, t + k + 1
        st[fwd] = held[s][fwd, before] if before >= 0 else h0_held[s][fwd]
        if bidir:
            st[rev] = held[s][rev, after] if after < T else h0_held[s][rev]
        return st

    # per group, the batched initial states from held values; ``fn`` overwrites the rows of
    # windows that start from the live h0 (forward rows when t-k-1 < -1, reverse when t+k+1 > T)
    base = {
        length: tuple(
            np.concatenate([held_state(s, t) for t in ts], axis=1)  # (L*D, n*B, H)
            for s in range(arity)
        )
        for length, ts in groups.items()
    }

    def run():
        x_tm = x.swapaxes(0, 1) if rnn.batch_first else x  # (T, B, F) view
        out = np.empty_like(out_full)  # (T, B, D*H) or (B, T, D*H)
        out_tm = out.swapaxes(0, 1) if rnn.batch_first else out  # (T, B, D*H) view
        h_n = [np.empty(shape) for _ in range(arity)]  # (L*D, B, H) each
        for length, ts in groups.items():
            xw = np.concatenate([x_tm[starts[t] : starts[t] + length] for t in ts], axis=1)  # (len, n*B, F)
            if rnn.batch_first:
                xw = np.ascontiguousarray(xw.swapaxes(0, 1))  # (n*B, len, F)
            init = tuple(b.copy() for b in base[length])  # (L*D, n*B, H) each
            if h0 is not None:
                live = _state_tuple(h0, arity)
                for j, t in enumerate(ts):
                    cols = slice(j * B, (j + 1) * B)
                    for s in range(arity):
                        if t - k - 1 < -1:
                            init[s][fwd, cols] = live[s][fwd]
                        if bidir and t + k + 1 > T:
                            init[s][rev, cols] = live[s][rev]
            out_w, hn_w, _ = rnn.forward(xw, init[0] if arity == 1 else init)
            out_w = out_w.swapaxes(0, 1) if rnn.batch_first else out_w  # (len, n*B, D*H)
            hn_w = _state_tuple(hn_w, arity)
            for j, t in enumerate(ts):
                cols = slice(j * B, (j + 1) * B)
                out_tm[t] = out_w[t - starts[t], cols]
                for s in range(arity):
                    if t == T - 1:
                        h_n[s][fwd] = hn_w[s][fwd, cols]
                    if t == 0 and bidir:
                        h_n[s][rev] = hn_w[s][rev, cols]
        return out, h_n[0] if arity == 1 else tuple(h_n)

    return run
