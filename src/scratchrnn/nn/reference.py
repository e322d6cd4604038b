"""The reference implementation: RNN, LSTM and GRU as plain numpy loops, written to be read.

This module is the specification of what the fast layers (``scratchrnn.nn.rnn``, ``lstm``, ``gru``)
compute. Every cell is a pair of functions on one time step of a batch,

    state, cache = step(x_t, state, w)                  x_t (B, F), state a tuple of (B, H) arrays
    dx_t, dstate, grads, da = step_backward(dstate, cache, w)      (a StepGrads named tuple)

where ``w`` holds one layer and direction's weights (:class:`Weights`, PyTorch's shapes and gate
order) and ``cache`` is a named tuple of what the step computed. ``forward`` and ``backward`` run
them over a sequence and a stack of layers, in both directions. There is no workspace, no layout
trick and no fast path here: each line is one step of the equations beside it, and the tests check
the fast layers against these loops to 1e-12 in float64.

Backpropagation through time (``backward``) walks the steps from the last to the first. At step t
the gradient arriving at the state h_t has two parts: from the output at t (``dout[t]``) and from
step t+1 (what ``step_backward`` of step t+1 returned); their sum goes into step t's backward,
which returns the gradient for the state h_{t-1} and the step's share of every weight gradient.

Truncated BPTT (``truncate=k``) is the exact gradient of a truncated objective: the loss at output
step t reaches the steps t, t-1, ..., t-k and no further, the state h_{t-k-1} that feeds step t-k
being held constant (for the reverse direction of a bidirectional layer, mirrored: steps t..t+k).
Here it is computed exactly as that sentence says: one backward pass per loss term, each confined
to its window of steps [t-k, t+k]. The final states ``h_n`` count as loss terms at step T-1 (forward
directions) and at step 0 (reverse directions). The fast layers get the same numbers in one pass
(``scratchrnn.nn.timeloop``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import NamedTuple

import numpy as np

from ..checks import check_truncate
from ..functional import get_activation, sigmoid

__all__ = [
    "CELLS",
    "Cell",
    "EachCache",
    "GRUStep",
    "LSTMStep",
    "RNNStep",
    "StepGrads",
    "Weights",
    "backward",
    "forward",
    "get_cell",
    "gru_step",
    "gru_step_backward",
    "lstm_step",
    "lstm_step_backward",
    "rnn_step",
    "rnn_step_backward",
]


class Weights(NamedTuple):
    """One layer and direction's parameters, PyTorch's shapes: G*H rows, G gates in PyTorch's order."""

    w_ih: np.ndarray  # (G*H, F)
    w_hh: np.ndarray  # (G*H, H)
    b_ih: np.ndarray | float  # (G*H,), or 0.0 without bias
    b_hh: np.ndarray | float  # (G*H,), or 0.0 without bias


class StepGrads(NamedTuple):
    """What a step's backward returns."""

    dx: np.ndarray  # (B, F) gradient w.r.t. the step's input x_t
    dstate: tuple  # gradient w.r.t. the state before the step, (dh_{t-1},) or (dh_{t-1}, dc_{t-1})
    grads: dict  # the step's share of each weight gradient, keyed like Weights' fields
    da: np.ndarray  # (B, G*H) gradient at the pre-activations, gate blocks in PyTorch's order


def _weight_grads(da_x: np.ndarray, da_h: np.ndarray, x: np.ndarray, h_prev: np.ndarray) -> dict:
    """The weight gradients of a step whose pre-activations ``x W_ih^T + b_ih`` got da_x (B, G*H)
    and ``h_prev W_hh^T + b_hh`` got da_h (B, G*H)."""
    return {"w_ih": da_x.T @ x, "w_hh": da_h.T @ h_prev, "b_ih": da_x.sum(axis=0), "b_hh": da_h.sum(axis=0)}


# -- Elman RNN ----------------------------------------------------------------------------------
class RNNStep(NamedTuple):
    x: np.ndarray  # (B, F) input x_t
    h_prev: np.ndarray  # (B, H) h_{t-1}
    z: np.ndarray  # (B, H) the pre-activation z_t
    h: np.ndarray  # (B, H) h_t = f(z_t)


def rnn_step(x, state, w: Weights, nonlinearity: str = "tanh"):
    """h_t = f(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)."""
    (h_prev,) = state
    z = x @ w.w_ih.T + w.b_ih + h_prev @ w.w_hh.T + w.b_hh  # (B, H)
    h = get_activation(nonlinearity).forward(z)  # (B, H)
    return (h,), RNNStep(x, h_prev, z, h)


def rnn_step_backward(dstate, cache: RNNStep, w: Weights, nonlinearity: str = "tanh"):
    """dz_t = dh_t * f'(z_t), with f' written through h_t; then dz_t reaches x_t, h_{t-1} and the weights."""
    (dh,) = dstate
    dz = dh * get_activation(nonlinearity).derivative_from_output(cache.h)  # (B, H)
    return StepGrads(dz @ w.w_ih, (dz @ w.w_hh,), _weight_grads(dz, dz, cache.x, cache.h_prev), dz)


# -- LSTM ---------------------------------------------------------------------------------------
class LSTMStep(NamedTuple):
    x: np.ndarray  # (B, F) input x_t
    h_prev: np.ndarray  # (B, H) h_{t-1}
    c_prev: np.ndarray  # (B, H) c_{t-1}
    i: np.ndarray  # (B, H) input gate
    f: np.ndarray  # (B, H) forget gate
    g: np.ndarray  # (B, H) candidate cell
    o: np.ndarray  # (B, H) output gate
    tanh_c: np.ndarray  # (B, H) tanh(c_t)


def lstm_step(x, state, w: Weights):
    """One LSTM step, gates in PyTorch's order (i, f, g, o)::

        a = x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh       (B, 4H), split into a_i, a_f, a_g, a_o
        i = s(a_i)   f = s(a_f)   g = tanh(a_g)   o = s(a_o)      (s: the sigmoid)
        c_t = f * c_{t-1} + i * g
        h_t = o * tanh(c_t)
    """
    h_prev, c_prev = state
    a = x @ w.w_ih.T + w.b_ih + h_prev @ w.w_hh.T + w.b_hh  # (B, 4H)
    a_i, a_f, a_g, a_o = np.split(a, 4, axis=1)  # (B, H) each
    i, f, g, o = sigmoid(a_i), sigmoid(a_f), np.tanh(a_g), sigmoid(a_o)
    c = f * c_prev + i * g  # (B, H)
    tanh_c = np.tanh(c)  # (B, H)
    h = o * tanh_c  # (B, H)
    return (h, c), LSTMStep(x, h_prev, c_prev, i, f, g, o, tanh_c)


def lstm_step_backward(dstate, cache: LSTMStep, w: Weights):
    """The step's backward from dh_t and dc_t (the gradient reaching c_t from step t+1)::

        do = dh_t * tanh(c_t)
        dc = dc_t + dh_t * o * (1 - tanh(c_t)^2)      (c_t reaches the loss directly and through h_t)
        di = dc * g    df = dc * c_{t-1}    dg = dc * i    dc_{t-1} = dc * f
        da = [di * i(1-i), df * f(1-f), dg * (1-g^2), do * o(1-o)]      (B, 4H)
    """
    dh, dc_next = dstate
    x, h_prev, c_prev, i, f, g, o, tanh_c = cache
    do = dh * tanh_c  # (B, H)
    dc = dc_next + dh * o * (1.0 - tanh_c**2)  # (B, H)
    di, df, dg = dc * g, dc * c_prev, dc * i  # (B, H) each
    da = np.concatenate([di * i * (1.0 - i), df * f * (1.0 - f), dg * (1.0 - g**2), do * o * (1.0 - o)],
                        axis=1)  # (B, 4H)
    return StepGrads(da @ w.w_ih, (da @ w.w_hh, dc * f), _weight_grads(da, da, x, h_prev), da)


# -- GRU ----------------------------------------------------------------------------------------
class GRUStep(NamedTuple):
    x: np.ndarray  # (B, F) input x_t
    h_prev: np.ndarray  # (B, H) h_{t-1}
    r: np.ndarray  # (B, H) reset gate
    z: np.ndarray  # (B, H) update gate
    n: np.ndarray  # (B, H) candidate state
    hn: np.ndarray  # (B, H) h_{t-1} W_hn^T + b_hn, the part the reset gate scales


def gru_step(x, state, w: Weights):
    """One GRU step, gates in PyTorch's order (r, z, n)::

        r = s(x_t W_ir^T + b_ir + h W_hr^T + b_hr)        z = s(x_t W_iz^T + b_iz + h W_hz^T + b_hz)
        n = tanh(x_t W_in^T + b_in + r * (h W_hn^T + b_hn))
        h_t = (1 - z) * n + z * h                         (h is h_{t-1})
    """
    (h_prev,) = state
    ax_r, ax_z, ax_n = np.split(x @ w.w_ih.T + w.b_ih, 3, axis=1)  # (B, H) each
    ah_r, ah_z, hn = np.split(h_prev @ w.w_hh.T + w.b_hh, 3, axis=1)  # (B, H) each
    r, z = sigmoid(ax_r + ah_r), sigmoid(ax_z + ah_z)
    n = np.tanh(ax_n + r * hn)  # (B, H)
    h = (1.0 - z) * n + z * h_prev  # (B, H)
    return (h,), GRUStep(x, h_prev, r, z, n, hn)


def gru_step_backward(dstate, cache: GRUStep, w: Weights):
    """The step's backward from dh_t::

        dn = dh_t * (1 - z) * (1 - n^2)      (at n's pre-activation)
        dr = dn * hn * r(1-r)     dz = dh_t * (h - n) * z(1-z)     dhn = dn * r
        dh_{t-1} = dh_t * z + [dr, dz, dhn] W_hh       dx_t = [dr, dz, dn] W_ih
    """
    (dh,) = dstate
    x, h_prev, r, z, n, hn = cache
    dn = dh * (1.0 - z) * (1.0 - n**2)  # (B, H)
    dr = dn * hn * r * (1.0 - r)  # (B, H)
    dz = dh * (h_prev - n) * z * (1.0 - z)  # (B, H)
    da_x = np.concatenate([dr, dz, dn], axis=1)  # (B, 3H) at x W_ih^T + b_ih
    da_h = np.concatenate([dr, dz, dn * r], axis=1)  # (B, 3H) at h W_hh^T + b_hh
    return StepGrads(da_x @ w.w_ih, (dh * z + da_h @ w.w_hh,), _weight_grads(da_x, da_h, x, h_prev), da_x)


# -- the cells, by name ---------------------------------------------------------------------------
class Cell(NamedTuple):
    step: Callable  # step(x_t, state, w) -> (state, cache)
    step_backward: Callable  # step_backward(dstate, cache, w) -> StepGrads
    arity: int  # arrays in a state: 1 (h) or 2 (h, c)


CELLS: dict[str, Cell] = {
    "rnn": Cell(rnn_step, rnn_step_backward, 1),
    "lstm": Cell(lstm_step, lstm_step_backward, 2),
    "gru": Cell(gru_step, gru_step_backward, 1),
}


def get_cell(name: str, nonlinearity: str = "tanh") -> Cell:
    """The cell called ``name``, with an RNN's nonlinearity bound into its functions."""
    if not isinstance(name, str) or name not in CELLS:
        raise ValueError(f"unknown cell {name!r}; expected one of {', '.join(sorted(CELLS))}")
    cell = CELLS[name]
    if name != "rnn":
        return cell
    get_activation(nonlinearity)  # fails early on an unknown name
    return Cell(lambda x, s, w: rnn_step(x, s, w, nonlinearity),
                lambda d, c, w: rnn_step_backward(d, c, w, nonlinearity), 1)


_NAME = re.compile(r"^weight_ih_l(\d+)$")


def _layout(params: Mapping[str, np.ndarray]) -> tuple[int, int]:
    """(layers, directions) of a params dict with PyTorch's recurrent names."""
    layers = sorted(int(m[1]) for m in map(_NAME.match, params) if m)
    if not layers or layers != list(range(len(layers))):
        raise ValueError(f"params must hold weight_ih_l0, weight_ih_l1, ... (PyTorch's names), "
                         f"got {sorted(params)}")
    return len(layers), 2 if "weight_ih_l0_reverse" in params else 1


def _weights(params: Mapping[str, np.ndarray], layer: int, suffix: str) -> Weights:
    names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    return Weights(*(params.get(f"{k}_l{layer}{suffix}", 0.0) for k in names))  # no bias: 0.0


class Cache(NamedTuple):
    """What ``backward`` needs from ``forward``."""

    cell: Cell
    steps: list  # per layer, per direction: the list of step caches in time order
    num_layers: int
    num_directions: int


class EachCache(NamedTuple):
    """What ``backward`` needs from a ``forward`` with lengths: one cache per sequence."""

    caches: list  # per sequence b, the Cache of its own run over x[:lengths[b], b]
    lengths: np.ndarray  # (B,)
    T: int  # the padded steps


def forward(cell: str, params: Mapping[str, np.ndarray], x: np.ndarray, h0=None, nonlinearity: str = "tanh",
            lengths=None):
    """Run a stack of layers over x (T, B, F) (time-major), in both directions if the params have
    ``_reverse`` weights. h0: (L*D, B, H) (a tuple (h0, c0) for the LSTM) or None for zeros.

    Returns out (T, B, D*H), h_n (L*D, B, H) (a tuple for the LSTM) and the cache for ``backward``.
    Layer k > 0 reads the concatenated outputs of layer k-1; the reverse direction reads the
    sequence from its end, and its output at t is its state after reading step t.

    ``lengths`` (B,): sequence b is x[:lengths[b], b], the rest padding. Each sequence is run on its
    own, as a batch of one of its own length; out is zero past each length.
    """
    if lengths is not None:
        return _forward_each(cell, params, x, h0, nonlinearity, np.asarray(lengths))
    c = get_cell(cell, nonlinearity)
    L, D = _layout(params)
    T, B = x.shape[:2]
    H = params["weight_hh_l0"].shape[1]
    zero = tuple(np.zeros((L * D, B, H), x.dtype) for _ in range(c.arity))
    h0 = zero if h0 is None else ((h0,) if c.arity == 1 else tuple(h0))
    h_n = tuple(np.empty((L * D, B, H), x.dtype) for _ in range(c.arity))
    steps = []
    layer_in = x
    for layer in range(L):
        outs, layer_steps = [], []
        for d, suffix in enumerate(("", "_reverse")[:D]):
            w = _weights(params, layer, suffix)
            state = tuple(s[layer * D + d] for s in h0)
            out = np.empty((T, B, H), x.dtype)
            caches = [None] * T
            for t in (range(T) if d == 0 else reversed(range(T))):
                state, caches[t] = c.step(layer_in[t], state, w)
                out[t] = state[0]
            for s, v in zip(h_n, state, strict=True):
                s[layer * D + d] = v
            outs.append(out)
            layer_steps.append(caches)
        steps.append(layer_steps)
        layer_in = np.concatenate(outs, axis=2)  # (T, B, D*H)
    return layer_in, h_n[0] if c.arity == 1 else h_n, Cache(c, steps, L, D)


def _forward_each(cell, params, x, h0, nonlinearity, lengths):
    """``forward`` with lengths: every sequence on its own, the results put side by side."""
    T, B = x.shape[:2]
    arity = get_cell(cell, nonlinearity).arity
    h0 = None if h0 is None else ((h0,) if arity == 1 else tuple(h0))
    out, h_n, caches = None, None, []
    for b, n in enumerate(lengths):
        h0_b = None if h0 is None else tuple(s[:, b : b + 1] for s in h0)
        out_b, hn_b, cache_b = forward(cell, params, x[:n, b : b + 1], None if h0_b is None else
                                       (h0_b[0] if arity == 1 else h0_b), nonlinearity)
        hn_b = (hn_b,) if arity == 1 else hn_b
        if out is None:
            out = np.zeros((T, B, out_b.shape[2]), x.dtype)
            h_n = tuple(np.empty((s.shape[0], B, s.shape[2]), x.dtype) for s in hn_b)
        out[:n, b] = out_b[:, 0]
        for s, v in zip(h_n, hn_b, strict=True):
            s[:, b] = v[:, 0]
        caches.append(cache_b)
    return out, h_n[0] if arity == 1 else h_n, EachCache(caches, lengths, T)


def _backward_each(cache: EachCache, params, dout, dh_n, truncate):
    """``backward`` of a ``forward`` with lengths: every sequence's own backward, summed."""
    arity = cache.caches[0].cell.arity
    dh_n = None if dh_n is None else ((dh_n,) if arity == 1 else tuple(dh_n))
    dx, dh0, grads = None, None, {}
    for b, (n, cb) in enumerate(zip(cache.lengths, cache.caches, strict=True)):
        dout_b = None if dout is None else dout[:n, b : b + 1]
        dhn_b = None
        if dh_n is not None:
            parts = tuple(None if s is None else s[:, b : b + 1] for s in dh_n)
            dhn_b = parts[0] if arity == 1 else parts
        dx_b, dh0_b, g_b = backward(cb, params, dout_b, dhn_b, truncate)
        dh0_b = (dh0_b,) if arity == 1 else dh0_b
        if dx is None:
            dx = np.zeros((cache.T, len(cache.lengths), dx_b.shape[2]))
            dh0 = tuple(np.empty((s.shape[0], len(cache.lengths), s.shape[2])) for s in dh0_b)
        dx[:n, b] = dx_b[:, 0]
        for s, v in zip(dh0, dh0_b, strict=True):
            s[:, b] = v[:, 0]
        for k, v in g_b.items():
            grads[k] = grads.get(k, 0.0) + v
    return dx, dh0[0] if arity == 1 else dh0, grads


def _stack_backward(cache: Cache, params, dout, dstate_n, window: tuple[int, int] | None):
    """BPTT through the stack, from dout (T, B, D*H) and dstate_n (a tuple of (L*D, B, H) arrays or
    Nones). With ``window = (lo, hi)`` a forward direction's gradient does not cross into a state
    before step lo, nor a reverse direction's past step hi: those states are held constant."""
    c, L, D = cache.cell, cache.num_layers, cache.num_directions
    T = len(cache.steps[0][0])
    B, H = cache.steps[0][0][0].h_prev.shape
    grads = {}
    dh0 = tuple(np.zeros((L * D, B, H)) for _ in range(c.arity))
    g = dout  # gradient at the current layer's output (T, B, D*H)
    for layer in reversed(range(L)):
        dx = None  # gradient at this layer's input (T, B, F)
        for d, suffix in enumerate(("", "_reverse")[:D]):
            w = _weights(params, layer, suffix)
            dstate = tuple(np.zeros((B, H)) if s is None else s[layer * D + d] for s in dstate_n)
            order = reversed(range(T)) if d == 0 else range(T)  # backwards through this direction's time
            for t in order:
                dstate = (dstate[0] + g[t, :, d * H : (d + 1) * H],) + dstate[1:]
                dx_t, dstate, gw, _ = c.step_backward(dstate, cache.steps[layer][d][t], w)
                if dx is None:
                    dx = np.zeros((T, B, dx_t.shape[1]))
                dx[t] += dx_t
                for k, v in gw.items():
                    name = {"w_ih": "weight_ih", "w_hh": "weight_hh", "b_ih": "bias_ih", "b_hh": "bias_hh"}[k]
                    key = f"{name}_l{layer}{suffix}"
                    grads[key] = grads.get(key, 0.0) + v
                next_t = t - 1 if d == 0 else t + 1  # the step this state gradient would reach
                if window is not None and not window[0] <= next_t <= window[1]:
                    dstate = tuple(np.zeros_like(s) for s in dstate)  # held constant: no gradient
            for s, v in zip(dh0, dstate, strict=True):
                s[layer * D + d] = v
        g = dx
    return g, dh0, grads


def backward(cache: Cache, params: Mapping[str, np.ndarray], dout=None, dh_n=None,
             truncate: int | None = None):
    """Gradients of a loss given dout = dL/d out (T, B, D*H) or None, and dh_n = dL/d h_n (a tuple
    (dh_n, dc_n) for the LSTM, entries may be None) or None.

    Returns dx (T, B, F), dh0 (like h0) and grads (the keys of ``params``; biases only if present).
    ``truncate=k``: the truncated objective of the module docstring, one windowed pass per loss term.
    After a ``forward`` with lengths, each sequence's own backward, its gradients summed.
    """
    truncate = check_truncate(truncate)
    if isinstance(cache, EachCache):
        return _backward_each(cache, params, dout, dh_n, truncate)
    c, L, D = cache.cell, cache.num_layers, cache.num_directions
    T = len(cache.steps[0][0])
    B, H = cache.steps[0][0][0].h_prev.shape
    dout = np.zeros((T, B, D * H)) if dout is None else dout
    dstate_n = (None,) * c.arity if dh_n is None else ((dh_n,) if c.arity == 1 else tuple(dh_n))
    if truncate is None:
        terms = [(dout, dstate_n, None)]
    else:
        terms = []
        for t in range(T):
            term_out = np.zeros_like(dout)
            term_out[t] = dout[t]
            # h_n is a loss term at step T-1 for forward directions, at step 0 for reverse ones
            rows = [r for r in range(L * D) if (r % D == 0 and t == T - 1) or (r % D == 1 and t == 0)]
            term_state = []
            for s in dstate_n:
                part = None
                if s is not None and rows:
                    part = np.zeros_like(s)
                    part[rows] = s[rows]
                term_state.append(part)
            terms.append((term_out, tuple(term_state), (t - truncate, t + truncate)))
    dx, dh0, grads = 0.0, None, {}
    for term_out, term_state, window in terms:
        gx, gh0, gw = _stack_backward(cache, params, term_out, term_state, window)
        dx = dx + gx
        dh0 = gh0 if dh0 is None else tuple(a + b for a, b in zip(dh0, gh0, strict=True))
        for k, v in gw.items():
            grads[k] = grads.get(k, 0.0) + v
    grads = {k: grads[k] for k in params}  # PyTorch's order; every key has a gradient
    return dx, dh0[0] if c.arity == 1 else dh0, grads
