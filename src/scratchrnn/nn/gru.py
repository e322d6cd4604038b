"""Gated recurrent unit, multi-layer and optionally bidirectional, with exact (truncated) BPTT.

The parameters keep PyTorch's gate order (r, z, n). For the forward pass the rows of the two
sigmoid gates are scaled by 1/2, so one tanh gives tanh(u/2) and ``sigmoid(u) = 0.5 + 0.5 *
tanh(u / 2)`` takes two in-place operations; scaling by a power of two is exact, so this is the
same overflow-free sigmoid as ``scratchrnn.functional.sigmoid``. That re-layout is
``_prepare_direction``; ``_gru_step`` is the math of one step, shared by the sequence forward and
the stepper (see ``scratchrnn.nn.recurrent``).

The backward pass keeps the pre-activation gradients as four (B, H) blocks per step, ordered
(n_h, r, z, n_x): n_x is the gradient w.r.t. the n gate's pre-activation (it reaches
``W_in x + b_in``), n_h = n_x * r the one w.r.t. ``W_hn h + b_hn``. Then (n_h, r, z) is one
block for the recurrent matmul and (r, z, n_x) one block, in PyTorch's order, for the input weights.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .. import functional as F
from . import workspace
from .recurrent import RecurrentBase, relayout_rows, row_slice, truncated_offsets
from .stepper import _step_input_gates

__all__ = ["GRU"]

_BLOCKS = (0, 1, 2)  # PyTorch's order (r, z, n) is kept
_FORWARD_SCALES = (0.5, 0.5, 1.0)  # the sigmoid gates r, z halved


class _GRUWeights(NamedTuple):
    w_ih: np.ndarray  # (3H, F) rows of r and z halved
    bias: np.ndarray | None  # (3H,) b_ih (+ b_hh on r and z), likewise halved
    w_hh_t: np.ndarray  # (H, 3H) C-contiguous transpose of W_hh, likewise
    b_hn: np.ndarray | None  # (H,) b_hn, which stays inside r * (W_hn h + b_hn)


def _gru_views(a: np.ndarray, rec: np.ndarray) -> tuple[np.ndarray, ...]:
    """The blocks ``_gru_step_views`` works on: rz, n, r, z of a (B, 3H) and rec_rz, hn of rec (B, 3H)."""
    H = a.shape[1] // 3
    H2 = 2 * H
    return a[:, :H2], a[:, H2:], a[:, :H], a[:, H:H2], rec[:, :H2], rec[:, H2:]


def _gru_step(a, rec, h_prev, w_hh_t, b_hn, tmp, h) -> None:
    """One GRU step with prepared weights (rows of r, z halved).

    a (B, 3H) holds the input gates on entry and the activations (r, z, n) on exit; rec (B, 3H)
    receives ``h_prev @ W_hh^T`` plus b_hn on the n block (backward needs it); h (B, H) receives
    h_t; tmp (B, H) is scratch.
    """
    _gru_step_views(h_prev, w_hh_t, b_hn, tmp, h, rec, *_gru_views(a, rec), 0.5)


def _gru_step_views(h_prev, w_hh_t, b_hn, tmp, h, rec, rz, n, r, z, rec_rz, hn, half) -> None:
    """``_gru_step`` on the blocks of a and rec made by ``_gru_views``, so a caller stepping the
    same buffers again and again (the stepper) makes them once; ``half`` is 0.5 (a 0-d array of
    the dtype costs less per call than a Python float, with the same values)."""
    np.dot(h_prev, w_hh_t, out=rec)  # np.dot: less call overhead than matmul
    if b_hn is not None:
        hn += b_hn
    rz += rec_rz
    np.tanh(rz, out=rz)  # tanh(u/2) -> sigmoid(u) for r, z
    rz *= half
    rz += half
    np.multiply(r, hn, out=tmp)  # r * (W_hn h + b_hn)
    n += tmp
    np.tanh(n, out=n)
    np.subtract(h_prev, n, out=h)  # h' = n + z * (h - n)
    h *= z
    h += n


class GRU(RecurrentBase):
    """GRU with PyTorch's names, shapes, gate order (r, z, n) and initialisation.

    Per step (``*`` elementwise, ``s`` the sigmoid)::

        r = s(W_ir x + b_ir + W_hr h + b_hr)
        z = s(W_iz x + b_iz + W_hz h + b_hz)
        n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
        h' = (1 - z) * n + z * h

    Constructed like the RNN: ``GRU(input_size, hidden_size, num_layers=1, bias=True,
    batch_first=False, dropout=0.0, bidirectional=False, dtype=np.float32, rng=None)``.
    """

    GATES = 3
    STATE_ARITY = 1

    def _prepare_direction(self, layer, suffix) -> _GRUWeights:
        p = self.params
        H = self.hidden_size
        bias = b_hn = None
        if self.bias:
            b_ih, b_hh = p[f"bias_ih_l{layer}{suffix}"], p[f"bias_hh_l{layer}{suffix}"]
            b = b_ih.copy()  # (3H,)
            b[: 2 * H] += b_hh[: 2 * H]  # b_hn stays inside r * (...), added per step
            bias = relayout_rows(b, H, _BLOCKS, _FORWARD_SCALES)  # (3H,)
            b_hn = b_hh[2 * H :]  # (H,)
        return _GRUWeights(
            relayout_rows(p[f"weight_ih_l{layer}{suffix}"], H, _BLOCKS, _FORWARD_SCALES),  # (3H, F)
            bias,
            relayout_rows(
                p[f"weight_hh_l{layer}{suffix}"], H, _BLOCKS, _FORWARD_SCALES, transpose=True
            ),  # (H, 3H)
            b_hn,
        )

    def _direction_forward(self, layer, suffix, x, state0):
        w = self._prepare_direction(layer, suffix)
        H = self.hidden_size
        T, B = x.shape[:2]
        acts = workspace.empty((T, B, 3 * H), self.dtype)  # (T, B, 3H) pre-activations, then r, z, n
        # input projections for all steps in one matmul (or gather)
        self._input_gates(x, w.w_ih, w.bias, out=acts.reshape(T * B, 3 * H))
        # recs[t] = W_hh h_{t-1} (+ b_hn on the n rows); its n block is needed again by backward
        recs = workspace.empty((T, B, 3 * H), self.dtype)  # (T, B, 3H)
        hs = workspace.empty((T + 1, B, H), self.dtype)  # (T+1, B, H): hs[0] = h0, hs[t+1] = h_t
        hs[0] = state0[0]
        tmp = np.empty((B, H), self.dtype)  # (B, H)
        for t in range(T):
            _gru_step(acts[t], recs[t], hs[t], w.w_hh_t, w.b_hn, tmp, hs[t + 1])
        return hs[1:], (hs[T],), (x, hs, acts, recs)

    def _layer_stepper(self, w, table, prev, new):
        h_prev, h = prev[0], new[0]
        B, H = h.shape
        a = np.empty((B, 3 * H), self.dtype)  # (B, 3H) input gates, then r, z, n
        rec = np.empty((B, 3 * H), self.dtype)  # (B, 3H) recurrent product
        tmp = np.empty((B, H), self.dtype)  # (B, H) scratch
        gates = _step_input_gates(w, table, a)
        views = _gru_views(a, rec)
        half = np.array(0.5, self.dtype)  # 0-d
        w_hh_t, b_hn = w.w_hh_t, w.b_hn

        def run(x):
            gates(x)
            _gru_step_views(h_prev, w_hh_t, b_hn, tmp, h, rec, *views, half)
            return h

        return run

    def _direction_states(self, cache):
        return (cache[1][1:],)

    def _direction_backward(self, layer, suffix, dout, offs, dstate_n, cache, truncate, dx_mode):
        p = self.params
        H = self.hidden_size
        H2, H3 = 2 * H, 3 * H
        x, hs, acts, recs = cache
        T, B = x.shape[:2]
        w_ih = p[f"weight_ih_l{layer}{suffix}"]  # (3H, F)
        w_hh = p[f"weight_hh_l{layer}{suffix}"]  # (3H, H)
        w_hh_nrz = np.concatenate([w_hh[H2:], w_hh[:H2]])  # (3H, H) rows n, r, z
        r, z, n = acts[..., :H], acts[..., H:H2], acts[..., H2:]
        # Per-step coefficients for all steps at once: the gradient at each block (n_h, r, z, n_x)
        # of the pre-activations is dh_t * K[block], dh_t the total gradient w.r.t. h_t.
        K = workspace.empty((T, B, 4, H), self.dtype)  # (T, B, 4, H)
        scratch = workspace.empty((T, B, H), self.dtype)  # (T, B, H)
        F.ACTIVATIONS["tanh"].derivative_from_output(n, out=K[:, :, 3])
        K[:, :, 3] *= np.subtract(1.0, z, out=scratch)  # dn_x = dh * (1 - z) * (1 - n^2)
        np.multiply(K[:, :, 3], r, out=K[:, :, 0])  # dn_h = dn_x * r
        F.ACTIVATIONS["sigmoid"].derivative_from_output(r, out=K[:, :, 1])
        K[:, :, 1] *= K[:, :, 3]
        K[:, :, 1] *= recs[..., H2:]  # dr = dn_x * (W_hn h + b_hn) * r (1 - r)
        F.ACTIVATIONS["sigmoid"].derivative_from_output(z, out=K[:, :, 2])
        K[:, :, 2] *= np.subtract(hs[:-1], n, out=scratch)  # dz = dh * (h_{t-1} - n) * z (1 - z)
        del scratch
        dA = workspace.empty((T, B, 4, H), self.dtype)  # (T, B, 4, H) total gradient per block
        dh_n = dstate_n[0]
        dA_offs = None
        if truncate is None:
            dh = np.zeros((B, H), self.dtype) if dh_n is None else dh_n.copy()  # (B, H)
            tmp = np.empty((B, H), self.dtype)  # (B, H)
            for t in range(T - 1, -1, -1):
                if dout is not None:
                    dh += dout[t]
                np.multiply(K[t], dh[:, None, :], out=dA[t])
                np.multiply(dh, z[t], out=tmp)  # the direct path z * h_{t-1}
                np.matmul(dA[t].reshape(B, 4 * H)[:, :H3], w_hh_nrz, out=dh)
                dh += tmp
            dh0 = dh
        else:
            state_offs = truncated_offsets(offs, truncate)  # offsets -k .. max incoming
            m, k = len(state_offs), truncate
            cur = np.zeros((m, B, H), self.dtype)  # (m, B, H) gradient w.r.t. h_t, per offset
            nxt = np.zeros((m, B, H), self.dtype)
            tmp = np.empty((m - 1, B, H), self.dtype)  # (m-1, B, H)
            zbuf = np.empty((m, B, 4, H), self.dtype)  # (m, B, 4, H) per-offset block gradients
            keep = dx_mode == "offsets"
            dA_off = workspace.empty((m, T, B, 4, H), self.dtype) if keep else None  # (m, T, B, 4, H)
            rows = None if offs is None else row_slice(offs, k)
            for t in range(T - 1, -1, -1):
                if dout is not None:
                    cur[rows] += dout[:, t]
                if t == T - 1 and dh_n is not None:
                    cur[k] += dh_n  # the final state's gradient counts as a loss term at step T-1
                np.multiply(K[t], cur[:, :, None, :], out=zbuf)
                np.sum(zbuf, axis=0, out=dA[t])
                if keep:
                    dA_off[:, t] = zbuf
                # both paths into h_{t-1} (W_hh and z * h_{t-1}) cross one step: a component at
                # offset d moves to d-1, the one at -k is dropped
                np.matmul(zbuf[1:].reshape(-1, 4 * H)[:, :H3], w_hh_nrz, out=nxt[:-1].reshape(-1, H))
                np.multiply(cur[1:], z[t], out=tmp)
                nxt[:-1] += tmp
                nxt[-1] = 0.0
                cur, nxt = nxt, cur
            dh0 = cur.sum(axis=0)  # (B, H)
            dA_offs = state_offs if keep else None
        dA2 = dA.reshape(T * B, 4 * H)  # (T*B, 4H) blocks n_h, r, z, n_x
        h_prev = hs[:-1].reshape(T * B, H)  # (T*B, H)
        dw_hh = workspace.empty((H3, H), self.dtype)  # (3H, H) rows r, z, n like W_hh
        np.matmul(dA2[:, H:H3].T, h_prev, out=dw_hh[:H2])  # blocks r, z
        np.matmul(dA2[:, :H].T, h_prev, out=dw_hh[H2:])  # block n_h
        dw_ih, dx2 = self._project_input_grads(x, dA2[:, H:], w_ih)
        grads = {
            f"weight_ih_l{layer}{suffix}": dw_ih,  # (3H, F)
            f"weight_hh_l{layer}{suffix}": dw_hh,  # (3H, H)
        }
        if self.bias:
            db = dA2.sum(axis=0)  # (4H,)
            grads[f"bias_ih_l{layer}{suffix}"] = db[H:].copy()  # (3H,)
            grads[f"bias_hh_l{layer}{suffix}"] = np.concatenate([db[H:H3], db[:H]])  # (3H,)
        if dx2 is None:  # token ids have no gradient
            return None, None, (dh0,), grads
        F_in = x.shape[2]
        if dA_offs is not None:
            dx_blocks = dA_off.reshape(-1, 4 * H)[:, H:]  # (n*T*B, 3H)
            dx = workspace.empty((len(dA_offs), T, B, F_in), self.dtype)  # (n, T, B, F)
            np.matmul(dx_blocks, w_ih, out=dx.reshape(-1, F_in))
        else:
            dx = self._input_grad(dx2, w_ih, T, B)  # (T, B, F)
        return dx, dA_offs, (dh0,), grads
