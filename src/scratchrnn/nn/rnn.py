"""The Elman RNN, ``h_t = f(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)``, multi-layer and optionally
bidirectional, with exact (truncated) BPTT; the stack, truncation and stepping machinery is
``scratchrnn.nn.recurrent``'s."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..functional import get_activation
from . import workspace
from .recurrent import RecurrentBase, row_slice, truncated_offsets
from .stepper import _step_input_gates

__all__ = ["RNN"]


class _RNNWeights(NamedTuple):
    w_ih: np.ndarray  # (H, F)
    bias: np.ndarray | None  # (H,) b_ih + b_hh
    w_hh_t: np.ndarray  # (H, H) W_hh^T


def _rnn_step(h, h_prev, w_hh_t, f, rec) -> None:
    """One Elman step in place: h (B, H) holds ``W_ih x_t + b`` on entry and
    ``h_t = f(W_ih x_t + b + h_prev @ W_hh^T)`` on exit; rec (B, H) is scratch."""
    np.dot(h_prev, w_hh_t, out=rec)  # np.dot: less per-call overhead than np.matmul
    h += rec
    f(h, out=h)


class RNN(RecurrentBase):
    """Elman RNN: ``h_t = f(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)`` with f in tanh, relu,
    sigmoid, identity. Same names, shapes and initialisation as ``torch.nn.RNN``.

    Plain reference loop (one layer, one direction)::

        for t in range(T):
            h = f(x[t] @ W_ih.T + b_ih + h @ W_hh.T + b_hh)
            out[t] = h
    """

    GATES = 1
    STATE_ARITY = 1

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        dtype=np.float32,
        rng=None,
    ):
        self.act = get_activation(nonlinearity)
        self.nonlinearity = nonlinearity
        super().__init__(
            input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, dtype, rng
        )

    def extra_repr(self) -> str:
        return super().extra_repr() + f", nonlinearity={self.nonlinearity!r}"

    def _prepare_direction(self, layer, suffix) -> _RNNWeights:
        p = self.params
        bias = None
        if self.bias:
            bias = p[f"bias_ih_l{layer}{suffix}"] + p[f"bias_hh_l{layer}{suffix}"]  # (H,)
        # the transposed view, not a copy: the product with it is as fast, and costs no re-layout
        # a C-contiguous W_hh^T: np.dot on the transposed view copies it on every step (2x slower)
        w_hh_t = np.ascontiguousarray(p[f"weight_hh_l{layer}{suffix}"].T)  # (H, H)
        return _RNNWeights(p[f"weight_ih_l{layer}{suffix}"], bias, w_hh_t)

    def _direction_forward(self, layer, suffix, x, state0):
        w = self._prepare_direction(layer, suffix)
        T, B = x.shape[:2]
        H = self.hidden_size
        hs = workspace.empty((T + 1, B, H), self.dtype)  # (T+1, B, H): hs[0] = h0, hs[t+1] = h_t
        hs[0] = state0[0]
        # input projections for all steps in one matmul (or gather), landing where the states will be
        self._input_gates(x, w.w_ih, w.bias, out=hs[1:].reshape(T * B, H))
        rec = np.empty((B, H), self.dtype)  # (B, H)
        f = self.act.forward
        for t in range(T):
            _rnn_step(hs[t + 1], hs[t], w.w_hh_t, f, rec)
        return hs[1:], (hs[T],), (x, hs)

    def _layer_stepper(self, w, table, prev, new):
        h_prev, h = prev[0], new[0]
        rec = np.empty(h.shape, self.dtype)  # (B, H) scratch
        gates = _step_input_gates(w, table, h)
        w_hh_t, f = w.w_hh_t, self.act.forward

        def run(x):
            gates(x)
            _rnn_step(h, h_prev, w_hh_t, f, rec)
            return h

        return run

    def _direction_states(self, cache):
        return (cache[1][1:],)

    def _direction_backward(self, layer, suffix, dout, offs, dstate_n, cache, truncate, dx_mode):
        p = self.params
        w_ih, w_hh = p[f"weight_ih_l{layer}{suffix}"], p[f"weight_hh_l{layer}{suffix}"]
        x, hs = cache
        T, B = x.shape[:2]
        H = self.hidden_size
        deriv = workspace.empty((T, B, H), self.dtype)  # (T, B, H) f'(z_t) from h_t
        self.act.derivative_from_output(hs[1:], out=deriv)
        dz = workspace.empty((T, B, H), self.dtype)  # (T, B, H) total gradient at each pre-activation
        dh_n = dstate_n[0]
        dz_offs = None
        if truncate is None:
            dh = np.zeros((B, H), self.dtype) if dh_n is None else dh_n.copy()  # (B, H)
            for t in range(T - 1, -1, -1):
                if dout is not None:
                    dh += dout[t]
                np.multiply(dh, deriv[t], out=dz[t])
                np.dot(dz[t], w_hh, out=dh)
            dh0 = dh
        else:
            state_offs = truncated_offsets(offs, truncate)  # offsets -k .. max incoming
            n, k = len(state_offs), truncate
            cur = np.zeros((n, B, H), self.dtype)  # (n, B, H) gradient w.r.t. h_t, per offset
            nxt = np.zeros((n, B, H), self.dtype)
            zbuf = np.empty((n, B, H), self.dtype)  # (n, B, H) per-offset dz_t
            keep = dx_mode == "offsets"
            dz_off = workspace.empty((n, T, B, H), self.dtype) if keep else None  # (n, T, B, H)
            rows = None if offs is None else row_slice(offs, k)  # where incoming offsets sit in the stack
            # With no per-step gradient the only loss term is h_n at step T-1, which reaches
            # back k steps: earlier steps get exactly zero, so the loop stops there.
            t_stop = 0 if dout is not None else max(0, T - 1 - k)
            dz[:t_stop] = 0.0
            if keep:
                dz_off[:, :t_stop] = 0.0
            for t in range(T - 1, t_stop - 1, -1):
                if dout is not None:
                    cur[rows] += dout[:, t]
                if t == T - 1 and dh_n is not None:
                    cur[k] += dh_n  # the final state's gradient counts as a loss term at step T-1
                np.multiply(cur, deriv[t], out=zbuf)
                np.sum(zbuf, axis=0, out=dz[t])
                if keep:
                    dz_off[:, t] = zbuf
                # a component at offset d moves to d-1 one step back; the one at -k is dropped
                np.dot(zbuf[1:].reshape(-1, H), w_hh, out=nxt[:-1].reshape(-1, H))
                nxt[-1] = 0.0
                cur, nxt = nxt, cur
            dh0 = cur.sum(axis=0) if t_stop == 0 else np.zeros((B, H), self.dtype)  # (B, H)
            dz_offs = state_offs if keep else None
        # steps before t0 got no gradient (many-to-one with truncation): leave them out of the matmuls
        t0 = 0 if truncate is None else t_stop
        dz2 = dz[t0:].reshape(-1, H)  # ((T-t0)*B, H)
        dw_ih, dx2 = self._project_input_grads(x[t0:], dz2, w_ih)
        grads = {
            f"weight_ih_l{layer}{suffix}": dw_ih,  # (H, F)
            f"weight_hh_l{layer}{suffix}": dz2.T @ hs[t0:-1].reshape(-1, H),  # (H, H)
        }
        if self.bias:
            db = dz2.sum(axis=0)  # (H,)
            grads[f"bias_ih_l{layer}{suffix}"] = db
            grads[f"bias_hh_l{layer}{suffix}"] = db.copy()
        if dx2 is None:  # token ids have no gradient
            return None, None, (dh0,), grads
        F = x.shape[2]
        if t0 == 0:  # the common case: every step has a gradient, no zero-filled prefix
            if dz_offs is not None:
                dx = workspace.empty((len(dz_offs), T, B, F), self.dtype)  # (n, T, B, F)
                np.matmul(dz_off.reshape(-1, H), w_ih, out=dx.reshape(-1, F))
            else:
                dx = self._input_grad(dx2, w_ih, T, B)  # (T, B, F)
        elif dz_offs is not None:
            n = len(dz_offs)
            dx = workspace.zeros((n, T, B, F), self.dtype)  # (n, T, B, F)
            np.matmul(dz_off[:, t0:].reshape(n, -1, H), w_ih, out=dx[:, t0:].reshape(n, -1, F))
        else:
            dx = workspace.zeros((T, B, F), self.dtype)  # (T, B, F)
            np.matmul(dx2, w_ih, out=dx[t0:].reshape(-1, F))
        return dx, dz_offs, (dh0,), grads
