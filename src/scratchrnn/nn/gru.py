"""Gated recurrent unit: the fast layer (``scratchrnn.nn.reference.gru_step`` is the plain loop).

The parameters keep PyTorch's gate order (r, z, n). For the forward pass the rows of the two
sigmoid gates are scaled by 1/2, so one tanh gives tanh(u/2) and ``sigmoid(u) = 0.5 + 0.5 *
tanh(u / 2)`` takes two in-place operations; scaling by a power of two is exact, so this is the
same overflow-free sigmoid as ``scratchrnn.functional.sigmoid``. That re-layout is
``prepare_step``; ``_gru_step`` is the math of one step, shared by the sequence forward and the
stepper (see ``scratchrnn.nn.recurrent``).

The backward pass keeps the pre-activation gradients as four (B, H) blocks per step, ordered
(n_h, r, z, n_x): n_x is the gradient w.r.t. the n gate's pre-activation (it reaches
``W_in x + b_in``), n_h = n_x * r the one w.r.t. ``W_hn h + b_hn``. Then (n_h, r, z) is one
block for the recurrent matmul and (r, z, n_x) one block, in PyTorch's order, for the input weights
(``_GRUBackward``; the time loops are ``scratchrnn.nn.timeloop``'s).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .. import functional as F
from . import timeloop, workspace
from .projections import input_gates, input_grad, input_weight_grad, relayout_rows
from .recurrent import RecurrentBase
from .stepper import step_input_gates

__all__ = ["GRU", "GRUCache"]

_BLOCKS = (0, 1, 2)  # PyTorch's order (r, z, n) is kept
_FORWARD_SCALES = (0.5, 0.5, 1.0)  # the sigmoid gates r, z halved


class _GRUWeights(NamedTuple):
    w_ih: np.ndarray  # (3H, F) rows of r and z halved
    bias: np.ndarray | None  # (3H,) b_ih (+ b_hh on r and z), likewise halved
    w_hh_t: np.ndarray  # (H, 3H) C-contiguous transpose of W_hh, likewise
    b_hn: np.ndarray | None  # (H,) b_hn, which stays inside r * (W_hn h + b_hn)


class GRUCache(NamedTuple):
    """One direction's forward, for its backward."""

    x: np.ndarray  # (T, B, F) input, or (T, B) token ids
    hs: np.ndarray  # (T+1, B, H): hs[0] = h0, hs[t+1] = h_t
    acts: np.ndarray  # (T, B, 3H) the activations r, z, n of every step
    recs: np.ndarray  # (T, B, 3H) h_{t-1} @ W_hh^T (+ b_hn on the n block)


def _gru_views(a: np.ndarray, rec: np.ndarray) -> tuple[np.ndarray, ...]:
    """The blocks ``_gru_step_views`` works on: rz, n, r, z of a (B, 3H) and rec_rz, hn of rec (B, 3H)."""
    H = a.shape[1] // 3
    H2 = 2 * H
    return a[:, :H2], a[:, H2:], a[:, :H], a[:, H:H2], rec[:, :H2], rec[:, H2:]


def _gru_step(w_hh_t, b_hn, tmp, a, rec, h_prev, h) -> None:
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

    def prepare_step(self, layer: int, suffix: str = "") -> _GRUWeights:
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
        w = self.prepare_step(layer, suffix)
        H = self.hidden_size
        T, B = x.shape[:2]
        acts = workspace.empty((T, B, 3 * H), self.dtype)  # (T, B, 3H) pre-activations, then r, z, n
        # input projections for all steps in one matmul (or gather)
        input_gates(x, w.w_ih, w.bias, out=acts.reshape(T * B, 3 * H))
        # recs[t] = W_hh h_{t-1} (+ b_hn on the n rows); its n block is needed again by backward
        recs = workspace.empty((T, B, 3 * H), self.dtype)  # (T, B, 3H)
        hs = workspace.empty((T + 1, B, H), self.dtype)  # (T+1, B, H): hs[0] = h0, hs[t+1] = h_t
        hs[0] = state0[0]
        tmp = np.empty((B, H), self.dtype)  # (B, H)
        w_hh_t, b_hn = w.w_hh_t, w.b_hn
        for a, rec, h_prev, h in zip(acts, recs, hs[:-1], hs[1:], strict=True):
            _gru_step(w_hh_t, b_hn, tmp, a, rec, h_prev, h)
        return hs[1:], (hs[T],), GRUCache(x, hs, acts, recs)

    def layer_step(self, w: _GRUWeights, table, prev, new):
        h_prev, h = prev[0], new[0]
        B, H = h.shape
        a = np.empty((B, 3 * H), self.dtype)  # (B, 3H) input gates, then r, z, n
        rec = np.empty((B, 3 * H), self.dtype)  # (B, 3H) recurrent product
        tmp = np.empty((B, H), self.dtype)  # (B, H) scratch
        gates = step_input_gates(w, table, a)
        views = _gru_views(a, rec)
        half = np.array(0.5, self.dtype)  # 0-d
        w_hh_t, b_hn = w.w_hh_t, w.b_hn

        def run(x):
            gates(x)
            _gru_step_views(h_prev, w_hh_t, b_hn, tmp, h, rec, *views, half)
            return h

        return run

    def layer_scan(self, w: _GRUWeights, state):
        h_state = state[0]  # (B, H)
        B, H = h_state.shape
        H2 = 2 * H
        rec = np.empty((B, 3 * H), self.dtype)  # (B, 3H) recurrent product
        tmp = np.empty((B, H), self.dtype)  # (B, H) scratch
        rec_rz, hn = rec[:, :H2], rec[:, H2:]
        half = np.array(0.5, self.dtype)  # 0-d
        w_hh_t, b_hn = w.w_hh_t, w.b_hn

        def scan(gates):
            out = workspace.empty(gates.shape[:2] + (H,), self.dtype)  # (T, B, H)
            h_prev = h_state
            # the sequence forward's step; the blocks of every step are sliced once per chunk
            steps = zip(gates[..., :H2], gates[..., H2:], gates[..., :H], gates[..., H:H2], out, strict=True)
            for rz, n, r, z, h in steps:
                _gru_step_views(h_prev, w_hh_t, b_hn, tmp, h, rec, rz, n, r, z, rec_rz, hn, half)
                h_prev = h
            np.copyto(h_state, h_prev)
            return out

        return scan

    def _direction_states(self, cache: GRUCache):
        return (cache.hs[1:],)

    def _backward_steps(self, layer, suffix, cache: GRUCache):
        return _GRUBackward(self, layer, suffix, cache)


class _GRUBackward(timeloop.StepBackward):
    """Per step, with dh the total gradient w.r.t. h_t: the gradients at the pre-activation blocks
    (n_h, r, z, n_x) are dh * K[t] (coefficients of every step, computed at once), and
    dh_{t-1} = [n_h, r, z] @ W_hh[n, r, z rows] + dh * z (the direct path z * h_{t-1})."""

    arity = 1

    def __init__(self, gru: GRU, layer: int, suffix: str, cache: GRUCache):
        p = gru.params
        H = gru.hidden_size
        H2 = 2 * H
        self.x, self.hs, acts, recs = cache
        self.T, B = self.x.shape[:2]
        T, dt = self.T, gru.dtype
        self.state_shape = (B, H)
        self.names = gru.param_names(layer, suffix)
        self.w_ih = p[self.names.weight_ih]  # (3H, F)
        w_hh = p[self.names.weight_hh]  # (3H, H)
        self.w_hh_nrz = np.concatenate([w_hh[H2:], w_hh[:H2]])  # (3H, H) rows n, r, z
        r, self.z, n = acts[..., :H], acts[..., H:H2], acts[..., H2:]
        z = self.z
        # Per-step coefficients for all steps at once: the gradient at each block (n_h, r, z, n_x)
        # of the pre-activations is dh_t * K[block], dh_t the total gradient w.r.t. h_t.
        K = self.K = workspace.empty((T, B, 4, H), dt)  # (T, B, 4, H)
        scratch = workspace.empty((T, B, H), dt)  # (T, B, H)
        F.ACTIVATIONS["tanh"].derivative_from_output(n, out=K[:, :, 3])
        K[:, :, 3] *= np.subtract(1.0, z, out=scratch)  # dn_x = dh * (1 - z) * (1 - n^2)
        np.multiply(K[:, :, 3], r, out=K[:, :, 0])  # dn_h = dn_x * r
        F.ACTIVATIONS["sigmoid"].derivative_from_output(r, out=K[:, :, 1])
        K[:, :, 1] *= K[:, :, 3]
        K[:, :, 1] *= recs[..., H2:]  # dr = dn_x * (W_hn h + b_hn) * r (1 - r)
        F.ACTIVATIONS["sigmoid"].derivative_from_output(z, out=K[:, :, 2])
        K[:, :, 2] *= np.subtract(self.hs[:-1], n, out=scratch)  # dz = dh * (h_{t-1} - n) * z (1 - z)
        del scratch
        self.grads = workspace.empty((T, B, 4, H), dt)  # (T, B, 4, H) total gradient per block
        self.bias = gru.bias

    def split(self, g):
        """g (..., B, 4, H) and its blocks (n_h, r, z) as rows (..., B, 3H) for the recurrent product."""
        *lead, B, _, H = g.shape
        return g, timeloop.view_as(g, (*lead, B, 4 * H))[..., : 3 * H]

    def gate_grads(self, t, dstate, views, tmp):
        np.multiply(self.K[t], dstate[0][..., None, :], out=views[0])

    def state_grads(self, t, dstate, views, out, tmp):
        dh, h_out = dstate[0], out[0]
        np.multiply(dh, self.z[t], out=tmp)  # the direct path z * h_{t-1}, before h_out is written
        # one product for all offsets of a truncated step
        np.matmul(timeloop.rows(views[1]), self.w_hh_nrz, out=timeloop.rows(h_out))
        h_out += tmp

    def weight_grads(self, t0):
        H = self.state_shape[1]
        H2, H3 = 2 * H, 3 * H
        dA2 = self.grads[t0:].reshape(-1, 4 * H)  # ((T-t0)*B, 4H) blocks n_h, r, z, n_x
        h_prev = self.hs[t0:-1].reshape(-1, H)  # ((T-t0)*B, H)
        dw_hh = workspace.empty((H3, H), self.grads.dtype)  # (3H, H) rows r, z, n like W_hh
        np.matmul(dA2[:, H:H3].T, h_prev, out=dw_hh[:H2])  # blocks r, z
        np.matmul(dA2[:, :H].T, h_prev, out=dw_hh[H2:])  # block n_h
        w_ih, w_hh, b_ih, b_hh = self.names
        grads = {w_ih: input_weight_grad(self.x[t0:], dA2[:, H:], self.w_ih.shape[1]), w_hh: dw_hh}
        if self.bias:
            db = F.sum_rows(dA2)  # (4H,)
            grads[b_ih] = db[H:].copy()  # (3H,)
            grads[b_hh] = np.concatenate([db[H:H3], db[:H]])  # (3H,)
        return grads

    def input_grad(self, grads, t0):
        if self.x.dtype.kind in "iu":  # token ids have no gradient
            return None
        *lead, T, B, _, H = grads.shape
        return input_grad(timeloop.view_as(grads, (*lead, T, B, 4 * H))[..., H:], self.w_ih, t0)
