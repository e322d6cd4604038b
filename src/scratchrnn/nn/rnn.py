"""The Elman RNN, ``h_t = f(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)``: the fast layer.

What is the RNN's own: its step (``_rnn_step``, shared by the sequence forward and the stepper), its
cache, and its step backward (``_RNNBackward``). The stack, the directions and the time loops are
``scratchrnn.nn.recurrent``'s and ``scratchrnn.nn.timeloop``'s; ``scratchrnn.nn.reference`` has the
same mathematics as a plain loop.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..functional import get_activation, sum_rows
from . import timeloop, workspace
from .projections import input_gates, input_grad, input_weight_grad
from .recurrent import RecurrentBase
from .stepper import step_input_gates

__all__ = ["RNN", "RNNCache"]


class _RNNWeights(NamedTuple):
    w_ih: np.ndarray  # (H, F)
    bias: np.ndarray | None  # (H,) b_ih + b_hh
    w_hh_t: np.ndarray  # (H, H) W_hh^T, C-contiguous: np.dot copies a transposed view every step


class RNNCache(NamedTuple):
    """One direction's forward, for its backward."""

    x: np.ndarray  # (T, B, F) input, or (T, B) token ids
    hs: np.ndarray  # (T+1, B, H): hs[0] = h0, hs[t+1] = h_t


def _rnn_step(w_hh_t, f, rec, h, h_prev) -> None:
    """One Elman step in place: h (B, H) holds ``W_ih x_t + b`` on entry and
    ``h_t = f(W_ih x_t + b + h_prev @ W_hh^T)`` on exit; rec (B, H) is scratch."""
    np.dot(h_prev, w_hh_t, out=rec)  # np.dot: less per-call overhead than np.matmul
    h += rec
    f(h, out=h)


class _RNNBackward(timeloop.StepBackward):
    """dz_t = dh_t * f'(z_t) and dh_{t-1} = dz_t W_hh, with f' from the output h_t."""

    arity = 1

    def __init__(self, rnn: RNN, layer: int, suffix: str, cache: RNNCache):
        p, self.names = rnn.params, rnn.param_names(layer, suffix)
        self.w_ih, self.w_hh = p[self.names.weight_ih], p[self.names.weight_hh]
        self.x, self.hs = cache
        self.T, B = self.x.shape[:2]
        H = rnn.hidden_size
        self.state_shape = (B, H)
        self.deriv = workspace.empty((self.T, B, H), rnn.dtype)  # (T, B, H) f'(z_t) from h_t
        rnn.act.derivative_from_output(self.hs[1:], out=self.deriv)
        self.grads = workspace.empty((self.T, B, H), rnn.dtype)  # (T, B, H) dz_t
        self.bias = rnn.bias

    def gate_grads(self, t, dstate, views, tmp):
        np.multiply(dstate[0], self.deriv[t], out=views[0])

    def state_grads(self, t, dstate, views, out, tmp):
        g, o = views[0], out[0]
        if g.ndim > 2:  # the offsets of a truncated step: one product for all of them
            g, o = timeloop.rows(g), timeloop.rows(o)
        np.dot(g, self.w_hh, out=o)

    def step(self, t, dstate, views, tmp):
        # gate_grads and state_grads in one call, for full BPTT's (B, H) steps: on small layers the
        # calls between them are a measurable share of the loop (benchmarks/README.md, "RNN backward")
        dh, dz = dstate[0], views[0]
        np.multiply(dh, self.deriv[t], out=dz)
        np.dot(dz, self.w_hh, out=dh)

    def weight_grads(self, t0):
        H = self.w_hh.shape[1]
        dz2 = (self.grads[t0:] if t0 else self.grads).reshape(-1, H)  # ((T-t0)*B, H) that got any
        w_ih, w_hh, b_ih, b_hh = self.names
        grads = {
            w_ih: input_weight_grad(self.x[t0:], dz2, self.w_ih.shape[1]),  # (H, F)
            w_hh: dz2.T @ self.hs[t0:-1].reshape(-1, H),  # (H, H)
        }
        if self.bias:
            db = sum_rows(dz2)  # (H,)
            grads[b_ih], grads[b_hh] = db, db.copy()
        return grads

    def input_grad(self, grads, t0):
        if self.x.dtype.kind in "iu":  # token ids have no gradient
            return None
        return input_grad(grads, self.w_ih, t0)


class RNN(RecurrentBase):
    """Elman RNN: ``h_t = f(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)`` with f in tanh, relu,
    sigmoid, identity. Same names, shapes and initialisation as ``torch.nn.RNN``.

    Plain reference loop (one layer, one direction; ``scratchrnn.nn.reference.rnn_step``)::

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

    def prepare_step(self, layer: int, suffix: str = "") -> _RNNWeights:
        p = self.params
        bias = None
        if self.bias:
            bias = p[f"bias_ih_l{layer}{suffix}"] + p[f"bias_hh_l{layer}{suffix}"]  # (H,)
        w_hh_t = np.ascontiguousarray(p[f"weight_hh_l{layer}{suffix}"].T)  # (H, H)
        return _RNNWeights(p[f"weight_ih_l{layer}{suffix}"], bias, w_hh_t)

    def layer_step(self, w: _RNNWeights, table, prev, new):
        h_prev, h = prev[0], new[0]
        rec = np.empty(h.shape, self.dtype)  # (B, H) scratch
        gates = step_input_gates(w, table, h)
        w_hh_t, f = w.w_hh_t, self.act.forward

        def run(x):
            gates(x)
            _rnn_step(w_hh_t, f, rec, h, h_prev)
            return h

        return run

    def layer_scan(self, w: _RNNWeights, state):
        h_state = state[0]  # (B, H)
        rec = np.empty(h_state.shape, self.dtype)  # (B, H) scratch
        w_hh_t, f = w.w_hh_t, self.act.forward

        def scan(gates):
            h_prev = h_state
            for h in gates:  # the sequence forward's step: each step's input gates become h_t in place
                _rnn_step(w_hh_t, f, rec, h, h_prev)
                h_prev = h
            np.copyto(h_state, h_prev)
            return gates  # (T, B, H)

        return scan

    def _direction_forward(self, layer, suffix, x, state0):
        w = self.prepare_step(layer, suffix)
        T, B = x.shape[:2]
        H = self.hidden_size
        hs = workspace.empty((T + 1, B, H), self.dtype)  # (T+1, B, H): hs[0] = h0, hs[t+1] = h_t
        hs[0] = state0[0]
        # input projections for all steps in one matmul (or gather), landing where the states will be
        input_gates(x, w.w_ih, w.bias, out=hs[1:].reshape(T * B, H))
        rec = np.empty((B, H), self.dtype)  # (B, H)
        w_hh_t, f = w.w_hh_t, self.act.forward
        for h, h_prev in zip(hs[1:], hs[:-1], strict=True):
            _rnn_step(w_hh_t, f, rec, h, h_prev)
        return hs[1:], (hs[T],), RNNCache(x, hs)

    def _direction_states(self, cache: RNNCache):
        return (cache.hs[1:],)

    def _backward_steps(self, layer, suffix, cache: RNNCache):
        return _RNNBackward(self, layer, suffix, cache)
