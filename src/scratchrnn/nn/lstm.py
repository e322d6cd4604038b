"""Long short-term memory, multi-layer and optionally bidirectional, with exact (truncated) BPTT.

Internal gate order
-------------------
The parameters keep PyTorch's gate order (i, f, g, o). Inside ``forward`` and ``backward`` the
rows are rotated by one gate to (o, i, f, g): the three sigmoid gates are then contiguous in the
forward pass, and the three gates whose gradient is proportional to the cell gradient (i, f, g)
are contiguous in the backward pass. The rows of the sigmoid gates are also scaled by 1/2 for
the forward pass, so one tanh over all four gates gives tanh(z/2) for them and
``sigmoid(z) = 0.5 + 0.5 * tanh(z / 2)`` costs two cheap in-place operations. Scaling by a power
of two is exact, so this is the same overflow-free sigmoid as ``scratchrnn.functional.sigmoid``.
That re-layout is ``_prepare_direction``; ``_lstm_step`` is the math of one step, shared by the
sequence forward and the stepper (see ``scratchrnn.nn.recurrent``).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .. import functional as F
from .recurrent import RecurrentBase, _step_input_gates, relayout_rows, truncated_offsets

__all__ = ["LSTM"]


def _to_internal(w: np.ndarray, H: int) -> np.ndarray:
    """Rows (or entries) in PyTorch's order (i, f, g, o) -> internal order (o, i, f, g)."""
    return np.concatenate([w[3 * H :], w[: 3 * H]])  # (4H, ...)


def _to_torch(w: np.ndarray, H: int) -> np.ndarray:
    """Rows (or entries) in internal order (o, i, f, g) -> PyTorch's order (i, f, g, o)."""
    return np.concatenate([w[H:], w[:H]])  # (4H, ...)


# Internal order (o, i, f, g) as blocks of PyTorch's order (i, f, g, o); the sigmoid gates halved.
_INTERNAL_BLOCKS = (3, 0, 1, 2)
_FORWARD_SCALES = (0.5, 0.5, 0.5, 1.0)


class _LSTMWeights(NamedTuple):
    w_ih: np.ndarray  # (4H, F) internal order, sigmoid rows halved
    bias: np.ndarray | None  # (4H,) b_ih + b_hh, likewise
    w_hh_t: np.ndarray  # (H, 4H) C-contiguous transpose of W_hh, likewise


def _lstm_views(a: np.ndarray) -> tuple[np.ndarray, ...]:
    """The blocks ``_lstm_step_views`` works on: of a (B, 4H) in internal order, the sigmoid
    gates (o, i, f) together, then o, i, f and g alone."""
    H = a.shape[1] // 4
    H3 = 3 * H
    return a[:, :H3], a[:, :H], a[:, H : 2 * H], a[:, 2 * H : H3], a[:, H3:]


def _lstm_step(a, h_prev, c_prev, w_hh_t, rec, ig, h, c, tc) -> None:
    """One LSTM step with prepared weights (internal gate order, sigmoid rows halved).

    a (B, 4H) holds the input gates ``W_ih x_t + b`` on entry and the activations (o, i, f, g) on
    exit; h, c (B, H) receive h_t, c_t and tc (B, H) tanh(c_t); rec (B, 4H) and ig (B, H) are scratch.
    """
    _lstm_step_views(h_prev, c_prev, w_hh_t, rec, ig, h, c, tc, a, *_lstm_views(a), 0.5)


def _lstm_step_views(h_prev, c_prev, w_hh_t, rec, ig, h, c, tc, a, sig, o, i, f, g, half) -> None:
    """``_lstm_step`` on the blocks of a made by ``_lstm_views``, so a caller stepping the same
    buffers again and again (the stepper) makes them once; ``half`` is 0.5 (a 0-d array of the
    dtype costs less per call than a Python float, with the same values)."""
    np.dot(h_prev, w_hh_t, out=rec)  # np.dot: less call overhead than matmul
    a += rec
    np.tanh(a, out=a)
    sig *= half  # tanh(z/2) -> sigmoid(z) for o, i, f
    sig += half
    np.multiply(f, c_prev, out=c)  # f * c
    np.multiply(i, g, out=ig)  # i * g
    c += ig
    np.tanh(c, out=tc)
    np.multiply(o, tc, out=h)  # o * tanh(c)


def _row_slice(offs: np.ndarray, k: int):
    """Rows of the incoming offsets in a state stack that starts at offset -k (a slice when contiguous)."""
    rows = offs + k
    if len(rows) == rows[-1] - rows[0] + 1:
        return slice(int(rows[0]), int(rows[-1]) + 1)
    return rows


class LSTM(RecurrentBase):
    """LSTM with PyTorch's names, shapes, gate order (i, f, g, o) and initialisation.

    Per step (``*`` elementwise, ``s`` the sigmoid)::

        i = s(W_ii x + b_ii + W_hi h + b_hi)      f = s(W_if x + b_if + W_hf h + b_hf)
        g = tanh(W_ig x + b_ig + W_hg h + b_hg)   o = s(W_io x + b_io + W_ho h + b_ho)
        c' = f * c + i * g                        h' = o * tanh(c')

    ``h0`` and ``h_n`` are tuples (h, c) of arrays (L*D, B, H).

    Constructed like the RNN: ``LSTM(input_size, hidden_size, num_layers=1, bias=True,
    batch_first=False, dropout=0.0, bidirectional=False, dtype=np.float32, rng=None)``.
    """

    GATES = 4
    STATE_ARITY = 2

    def _prepare_direction(self, layer, suffix) -> _LSTMWeights:
        p = self.params
        H = self.hidden_size
        order, scales = _INTERNAL_BLOCKS, _FORWARD_SCALES
        bias = None
        if self.bias:
            b = p[f"bias_ih_l{layer}{suffix}"] + p[f"bias_hh_l{layer}{suffix}"]  # (4H,)
            bias = relayout_rows(b, H, order, scales)  # (4H,)
        return _LSTMWeights(
            relayout_rows(p[f"weight_ih_l{layer}{suffix}"], H, order, scales),  # (4H, F)
            bias,
            relayout_rows(p[f"weight_hh_l{layer}{suffix}"], H, order, scales, transpose=True),  # (H, 4H)
        )

    def _direction_forward(self, layer, suffix, x, state0):
        w = self._prepare_direction(layer, suffix)
        H = self.hidden_size
        T, B = x.shape[:2]
        gates = np.empty((T, B, 4 * H), self.dtype)  # (T, B, 4H) pre-activations, then activations
        # input projections for all steps in one matmul (or gather)
        self._input_gates(x, w.w_ih, w.bias, out=gates.reshape(T * B, 4 * H))
        hs = np.empty((T + 1, B, H), self.dtype)  # (T+1, B, H): hs[0] = h0, hs[t+1] = h_t
        cs = np.empty((T + 1, B, H), self.dtype)  # (T+1, B, H): cs[0] = c0, cs[t+1] = c_t
        tcs = np.empty((T, B, H), self.dtype)  # (T, B, H) tanh(c_t)
        hs[0], cs[0] = state0
        rec = np.empty((B, 4 * H), self.dtype)  # (B, 4H)
        ig = np.empty((B, H), self.dtype)  # (B, H)
        for t in range(T):
            _lstm_step(gates[t], hs[t], cs[t], w.w_hh_t, rec, ig, hs[t + 1], cs[t + 1], tcs[t])
        return hs[1:], (hs[T], cs[T]), (x, hs, cs, tcs, gates)

    def _layer_stepper(self, w, table, prev, new):
        (h_prev, c_prev), (h, c) = prev, new
        B, H = h.shape
        a = np.empty((B, 4 * H), self.dtype)  # (B, 4H) input gates, then activations
        rec = np.empty((B, 4 * H), self.dtype)  # (B, 4H) recurrent product
        ig = np.empty((B, H), self.dtype)  # (B, H) i * g
        tc = np.empty((B, H), self.dtype)  # (B, H) tanh(c)
        gates = _step_input_gates(w, table, a)
        views = _lstm_views(a)
        half = np.array(0.5, self.dtype)  # 0-d
        w_hh_t = w.w_hh_t

        def run(x):
            gates(x)
            _lstm_step_views(h_prev, c_prev, w_hh_t, rec, ig, h, c, tc, a, *views, half)
            return h

        return run

    def _direction_states(self, cache):
        _, hs, cs, _, _ = cache
        return hs[1:], cs[1:]

    def _direction_backward(self, layer, suffix, dout, offs, dstate_n, cache, truncate, dx_mode):
        p = self.params
        H = self.hidden_size
        x, hs, cs, tcs, gates = cache
        T, B = x.shape[:2]
        w_ih = _to_internal(p[f"weight_ih_l{layer}{suffix}"], H)  # (4H, F)
        w_hh = _to_internal(p[f"weight_hh_l{layer}{suffix}"], H)  # (4H, H)
        a4 = gates.reshape(T, B, 4, H)  # views of the activations o, i, f, g
        o, i, f, g = a4[:, :, 0], a4[:, :, 1], a4[:, :, 2], a4[:, :, 3]
        # Per-step coefficients, computed for all steps at once: the gradient at the pre-activation
        # of o is dh * K[o]; that of i, f, g is dc * K[i, f, g], dc the total cell gradient.
        K = np.empty((T, B, 4, H), self.dtype)  # (T, B, 4, H)
        F.ACTIVATIONS["sigmoid"].derivative_from_output(a4[:, :, :3], out=K[:, :, :3])
        K[:, :, 0] *= tcs
        K[:, :, 1] *= g
        K[:, :, 2] *= cs[:-1]
        F.ACTIVATIONS["tanh"].derivative_from_output(g, out=K[:, :, 3])
        K[:, :, 3] *= i
        dtc = F.ACTIVATIONS["tanh"].derivative_from_output(tcs)  # (T, B, H)
        dtc *= o  # dc_t += dh_t * o * (1 - tanh(c)^2)
        dA = np.empty((T, B, 4, H), self.dtype)  # (T, B, 4, H) total gradient at the pre-activations
        dh_n, dc_n = dstate_n
        dA_offs = None
        if truncate is None:
            dh = np.zeros((B, H), self.dtype) if dh_n is None else dh_n.copy()  # (B, H)
            dc = np.zeros((B, H), self.dtype) if dc_n is None else dc_n.copy()  # (B, H)
            tmp = np.empty((B, H), self.dtype)  # (B, H)
            for t in range(T - 1, -1, -1):
                if dout is not None:
                    dh += dout[t]
                np.multiply(dh, dtc[t], out=tmp)
                dc += tmp
                np.multiply(K[t, :, 0], dh, out=dA[t, :, 0])
                np.multiply(K[t, :, 1:], dc[:, None, :], out=dA[t, :, 1:])
                dc *= f[t]
                np.dot(dA[t].reshape(B, 4 * H), w_hh, out=dh)
            dh0, dc0 = dh, dc
        else:
            state_offs = truncated_offsets(offs, truncate)  # offsets -k .. max incoming
            n, k = len(state_offs), truncate
            cur_h = np.zeros((n, B, H), self.dtype)  # (n, B, H) gradient w.r.t. h_t, per offset
            cur_c = np.zeros((n, B, H), self.dtype)  # (n, B, H) gradient w.r.t. c_t, per offset
            nxt_h = np.zeros((n, B, H), self.dtype)
            nxt_c = np.zeros((n, B, H), self.dtype)
            tmp = np.empty((n, B, H), self.dtype)  # (n, B, H)
            zbuf = np.empty((n, B, 4, H), self.dtype)  # (n, B, 4, H) per-offset gate gradients
            keep = dx_mode == "offsets"
            dA_off = np.empty((n, T, B, 4, H), self.dtype) if keep else None  # (n, T, B, 4, H)
            rows = None if offs is None else _row_slice(offs, k)
            for t in range(T - 1, -1, -1):
                if dout is not None:
                    cur_h[rows] += dout[:, t]
                if t == T - 1:  # the final state's gradient counts as a loss term at step T-1
                    if dh_n is not None:
                        cur_h[k] += dh_n
                    if dc_n is not None:
                        cur_c[k] += dc_n
                np.multiply(cur_h, dtc[t], out=tmp)
                cur_c += tmp
                np.multiply(K[t, :, 0], cur_h, out=zbuf[:, :, 0])
                np.multiply(K[t, :, 1:], cur_c[:, :, None, :], out=zbuf[:, :, 1:])
                np.sum(zbuf, axis=0, out=dA[t])
                if keep:
                    dA_off[:, t] = zbuf
                # a component at offset d moves to d-1 one step back (through W_hh and through
                # f * c); the one at -k is dropped, which holds h and c at t-k-1 constant
                np.dot(zbuf[1:].reshape(-1, 4 * H), w_hh, out=nxt_h[:-1].reshape(-1, H))
                np.multiply(cur_c[1:], f[t], out=nxt_c[:-1])
                nxt_h[-1] = 0.0
                nxt_c[-1] = 0.0
                cur_h, nxt_h = nxt_h, cur_h
                cur_c, nxt_c = nxt_c, cur_c
            dh0, dc0 = cur_h.sum(axis=0), cur_c.sum(axis=0)  # (B, H)
            dA_offs = state_offs if keep else None
        dA2 = dA.reshape(T * B, 4 * H)  # (T*B, 4H)
        dw_ih, dx2 = self._project_input_grads(x, dA2, w_ih)
        grads = {
            f"weight_ih_l{layer}{suffix}": _to_torch(dw_ih, H),  # (4H, F)
            f"weight_hh_l{layer}{suffix}": _to_torch(dA2.T @ hs[:-1].reshape(T * B, H), H),  # (4H, H)
        }
        if self.bias:
            db = _to_torch(dA2.sum(axis=0), H)  # (4H,)
            grads[f"bias_ih_l{layer}{suffix}"] = db
            grads[f"bias_hh_l{layer}{suffix}"] = db.copy()
        if dx2 is None:  # token ids have no gradient
            return None, None, (dh0, dc0), grads
        F_in = x.shape[2]
        if dA_offs is not None:
            dx = (dA_off.reshape(-1, 4 * H) @ w_ih).reshape(len(dA_offs), T, B, F_in)  # (n, T, B, F)
        else:
            dx = (dx2 @ w_ih).reshape(T, B, F_in)  # (T, B, F)
        return dx, dA_offs, (dh0, dc0), grads
