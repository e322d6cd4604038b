"""Long short-term memory: the fast layer (``scratchrnn.nn.reference.lstm_step`` is the plain loop).

Layout of a sequence
--------------------
The parameters keep PyTorch's names, shapes and gate order (i, f, g, o). Inside ``forward`` and
``backward`` the per-step arrays are feature-major: the gates of step t are a (4H, B) array, h
and c (H, B). The step's product is then ``W (4H, K) @ z_t (K, B)``, the orientation in which
BLAS runs the thin product of a recurrence fastest (the stepper's (B, K) @ (K, 4H) is slower
there; benchmarks/README.md, "LSTM layout"). ``z_t = [x_t; h_{t-1}; 1]`` stacks the step's input,
the previous state and a one for the combined bias ``b_ih + b_hh`` (no such row with
``bias=False``), so a single product per step gives all four pre-activations: the input
projection rides in the step's product instead of one product over all steps beforehand, the
product with K = F + H + 1 running closer to the machine's peak than two thinner ones plus an
addition per step (same section). Token ids take the same road when a sequence uses few distinct
ids (at most ``ONE_HOT_MAX_IDS``, as in a character vocabulary): z_t holds their one-hot vectors,
and the columns of ``W_ih`` of those ids stand in for ``W_ih``. With more ids z_t is
``[h_{t-1}; 1]`` and each step adds the columns of its ids, gathered from a table of the ids the
sequence uses. Because of this layout the sequence forward prepares its own weights
(``_prepare_sequence``); it shares the elementwise step ``_lstm_cell`` with the stepper.

Forward gate order and the sigmoid
----------------------------------
In the forward pass the gate rows are ordered (i, f, o, g): the three sigmoid gates are
contiguous, and their rows are scaled by 1/2, so one tanh over all four gates gives tanh(z/2) for
them and ``sigmoid(z) = 0.5 + 0.5 * tanh(z / 2)`` costs two cheap in-place operations. Scaling by
a power of two is exact, so this is the same overflow-free sigmoid as
``scratchrnn.functional.sigmoid``. ``_lstm_cell`` is the elementwise math of one step, shared by
the sequence forward and the stepper (see ``scratchrnn.nn.recurrent``).

Backward
--------
The gradients at the pre-activations are kept in PyTorch's order (i, f, g, o), as grads (4H, T, B):
the three gates whose gradient is the cell gradient times a coefficient (i, f, g) are then
contiguous, and every weight gradient comes out in PyTorch's order from one product after the
time loop, ``grads (4H, T*B) @ z^T (T*B, K)``, whose last column (the ones of z) is the bias
gradient. The coefficients (``_coefficients``) are computed a few steps at a time, just before the
loop needs them, so they are still in cache. The state gradients are feature-major too, (H, B);
the time loops are ``scratchrnn.nn.timeloop``'s (``_LSTMBackward`` is the step).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .. import functional as F
from . import timeloop, workspace
from .projections import input_grad, relayout_rows
from .recurrent import RecurrentBase
from .stepper import step_input_gates

__all__ = ["COEFF_CHUNK_ELEMENTS", "LSTM", "LSTMCache", "ONE_HOT_MAX_IDS"]

# Forward order (i, f, o, g) as blocks of PyTorch's order (i, f, g, o); the sigmoid gates halved.
_FORWARD_BLOCKS = (0, 1, 3, 2)
_FORWARD_SCALES = (0.5, 0.5, 0.5, 1.0)
# Steps of coefficients computed together in the backward loop: about 256 KiB of float32.
COEFF_CHUNK_ELEMENTS = 1 << 16
# Token ids: with at most this many distinct ids in a sequence, z_t holds their one-hot vectors and
# the step's product does the lookup (a character vocabulary); with more, each step gathers columns.
# One-hot rows win up to about a hundred ids and lose beyond (benchmarks/README.md, "LSTM token ids").
ONE_HOT_MAX_IDS = 96


class _TokenInput(NamedTuple):
    """Token ids (T, B) of a sequence as the forward pass uses them."""

    used: np.ndarray  # (U,) the distinct ids, ascending
    cols: np.ndarray  # (T, B) each id's index in ``used``
    table: np.ndarray | None  # (4H, U) their columns of W_ih laid out as ``w``, or None (one-hot rows in z)


class LSTMCache(NamedTuple):
    """One direction's forward, for its backward; arrays feature-major (module docstring)."""

    x: np.ndarray  # (T, B, F) input, or (T, B) token ids
    z: np.ndarray  # (K, T+1, B): z[:, t] = [x_t; h_{t-1}; 1], the step products' right operands
    hs: np.ndarray  # (T, B, H) h_t, a view of z's rows of h
    cs: np.ndarray  # (T+1, H, B): cs[0] = c0, cs[t+1] = c_t
    tcs: np.ndarray  # (T, H, B) tanh(c_t)
    gates: np.ndarray  # (T, 4H, B) activations i, f, o, g (forward order)
    tokens: _TokenInput | None  # token ids as the forward used them, or None for float input


class _LSTMWeights(NamedTuple):
    """Weights for the stepper, whose arrays are (B, 4H): rows in forward order, sigmoid rows halved."""

    w_ih: np.ndarray  # (4H, F)
    bias: np.ndarray | None  # (4H,) b_ih + b_hh
    w_hh_t: np.ndarray  # (H, 4H) C-contiguous transpose of W_hh


def _gate_views(a: np.ndarray, axis: int) -> tuple[np.ndarray, ...]:
    """The blocks ``_lstm_cell`` works on, of gates in forward order along ``axis`` (0 for one
    (4H, B) step of a sequence, 1 for the stepper's (B, 4H) or a whole sequence's (T, 4H, B), 2
    for a chunk's (T, B, 4H)): the sigmoid gates (i, f, o) together, then i, f, o and g alone."""
    H = a.shape[axis] // 4
    cut = [(0, 3 * H), (0, H), (H, 2 * H), (2 * H, 3 * H), (3 * H, 4 * H)]
    lead = (slice(None),) * axis
    return tuple(a[(*lead, slice(lo, hi))] for lo, hi in cut)


def _lstm_cell(a, sig, i, f, o, g, c_prev, c, tc, h, ig, half) -> None:
    """The elementwise part of one LSTM step, in place.

    a holds the pre-activations (forward order, sigmoid rows halved) on entry and the activations
    on exit; sig, i, f, o, g are its blocks (``_gate_views``). c, tc and h receive c_t, tanh(c_t)
    and h_t = o * tanh(c_t); ig is scratch shaped like c. ``half`` is 0.5 (a 0-d array of the
    dtype costs less per call than a Python float, with the same values).
    """
    np.tanh(a, out=a)
    sig *= half  # tanh(z/2) -> sigmoid(z) for i, f, o
    sig += half
    np.multiply(f, c_prev, out=c)  # f * c
    np.multiply(i, g, out=ig)  # i * g
    c += ig
    np.tanh(c, out=tc)
    np.multiply(o, tc, out=h)  # o * tanh(c)


def _coefficients(gates, cs, tcs, K, dtc, P) -> None:
    """Per-step factors of the backward pass, for n steps at once.

    From the activations ``gates`` (n, 4H, B) (forward order), c_{t-1} ``cs`` (n, H, B) and
    tanh(c_t) ``tcs`` (n, H, B): K (n, 4H, B) in PyTorch's order holds the factors that turn the
    cell gradient dc_t into the pre-activation gradients of i, f, g, and dh_t into that of o::

        K_i = i(1-i) g    K_f = f(1-f) c_{t-1}    K_g = (1-g^2) i    K_o = o(1-o) tanh(c_t)

    and dtc (n, H, B) = o (1 - tanh(c_t)^2), the part of dh_t that reaches c_t. P (n, 4H, B) is
    scratch.
    """
    H = gates.shape[1] // 4
    H2, H3 = 2 * H, 3 * H
    i, o, g = gates[:, :H], gates[:, H2:H3], gates[:, H3:]
    np.multiply(gates, gates, out=P)
    np.subtract(gates[:, :H3], P[:, :H3], out=P[:, :H3])  # s(1 - s) for i, f, o
    np.subtract(1.0, P[:, H3:], out=P[:, H3:])  # 1 - g^2
    np.multiply(P[:, :H], g, out=K[:, :H])
    np.multiply(P[:, H:H2], cs, out=K[:, H:H2])
    np.multiply(P[:, H3:], i, out=K[:, H2:H3])
    np.multiply(P[:, H2:H3], tcs, out=K[:, H3:])
    np.multiply(tcs, tcs, out=dtc)
    np.subtract(1.0, dtc, out=dtc)
    dtc *= o


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

    def prepare_step(self, layer: int, suffix: str = "") -> _LSTMWeights:
        """The stepper's weights (its arrays are (B, 4H))."""
        p = self.params
        H = self.hidden_size
        order, scales = _FORWARD_BLOCKS, _FORWARD_SCALES
        bias = None
        if self.bias:
            b = p[f"bias_ih_l{layer}{suffix}"] + p[f"bias_hh_l{layer}{suffix}"]  # (4H,)
            bias = relayout_rows(b, H, order, scales)  # (4H,)
        return _LSTMWeights(
            relayout_rows(p[f"weight_ih_l{layer}{suffix}"], H, order, scales),  # (4H, F)
            bias,
            relayout_rows(p[f"weight_hh_l{layer}{suffix}"], H, order, scales, transpose=True),  # (H, 4H)
        )

    def _prepare_sequence(self, layer, suffix, ids=None):
        """The sequence forward's weights: ``w`` (4H, K) = [W_ih | W_hh | b] in forward order with
        the sigmoid rows halved, K = F + H + 1 (no b column without bias), and ``_TokenInput`` for
        token ids (T, B), else None.

        For token ids, only the columns of W_ih of the U distinct ids in use are laid out (a word
        vocabulary's whole W_ih would be far bigger than them). With at most ``ONE_HOT_MAX_IDS`` of
        them they take W_ih's place in ``w`` (K = U + H + 1, z_t holding the one-hot vectors of the
        step's ids); with more, ``w`` has no input columns (K = H + 1) and they go to a table that
        each step gathers from."""
        p = self.params
        H = self.hidden_size
        order, scales = _FORWARD_BLOCKS, _FORWARD_SCALES
        w_ih = p[f"weight_ih_l{layer}{suffix}"]  # (4H, F)
        tokens = None
        if ids is not None:
            used, cols = np.unique(ids, return_inverse=True)  # (U,), (T*B,)
            cols = cols.reshape(ids.shape)  # (T, B)
            if used.shape[0] <= ONE_HOT_MAX_IDS:
                tokens = _TokenInput(used, cols, None)
                w_ih = w_ih[:, used]  # (4H, U), for the one-hot rows of z
            else:
                table = relayout_rows(w_ih[:, used], H, order, scales)  # (4H, U) laid out like w
                tokens = _TokenInput(used, cols, table)
                w_ih = w_ih[:, :0]  # (4H, 0): no input rows in z
        F_in = w_ih.shape[1]
        w = workspace.empty((4 * H, F_in + H + int(self.bias)), self.dtype)  # (4H, K)
        if F_in:
            relayout_rows(w_ih, H, order, scales, out=w[:, :F_in])
        relayout_rows(p[f"weight_hh_l{layer}{suffix}"], H, order, scales, out=w[:, F_in : F_in + H])
        if self.bias:
            b = p[f"bias_ih_l{layer}{suffix}"] + p[f"bias_hh_l{layer}{suffix}"]  # (4H,)
            relayout_rows(b, H, order, scales, out=w[:, F_in + H])
        return w, tokens

    def _direction_forward(self, layer, suffix, x, state0):
        H = self.hidden_size
        T, B = x.shape[:2]
        dt = self.dtype
        w, tokens = self._prepare_sequence(layer, suffix, x if x.dtype.kind in "iu" else None)
        F_in = w.shape[1] - H - int(self.bias)
        hsl = slice(F_in, F_in + H)  # rows of h in z
        # z[:, t] = [x_t; h_{t-1}; 1] (K, B); z[:, T] only receives h_{T-1}. Stored (K, T+1, B), so
        # that after the loop all steps' z form one (K, T*B) matrix for the weight gradients. For
        # token ids x_t is the step's one-hot rows over the ids in use, or absent (gathered ids).
        z = workspace.empty((w.shape[1], T + 1, B), dt)  # (K, T+1, B)
        if tokens is None:
            np.copyto(z[:F_in, :T], x.transpose(2, 0, 1))
        elif F_in:  # one-hot rows: z[u, t, b] = 1 where x[t, b] is the u-th id in use
            z[:F_in, :T] = 0.0
            z[tokens.cols, np.arange(T)[:, None], np.arange(B)] = 1.0
        z[hsl, 0] = state0[0].T
        if self.bias:
            z[F_in + H] = 1.0
        gates = workspace.empty((T, 4 * H, B), dt)  # (T, 4H, B) pre-activations, then activations
        cs = workspace.empty((T + 1, H, B), dt)  # (T+1, H, B): cs[0] = c0, cs[t+1] = c_t
        tcs = workspace.empty((T, H, B), dt)  # (T, H, B) tanh(c_t)
        cs[0] = state0[1].T
        ig = np.empty((H, B), dt)  # (H, B) scratch
        gather = tokens is not None and tokens.table is not None
        gathered = np.empty((4 * H, B), dt) if gather else None  # (4H, B) input gates of ids
        half = np.array(0.5, dt)  # 0-d
        # per step: gates and their blocks, z_t (K, B), c_{t-1}, c_t, tanh(c_t), and h_t's rows of z_{t+1}
        steps = zip(gates, *_gate_views(gates, 1), z.transpose(1, 0, 2)[:T], cs[:T], cs[1:], tcs,
                    z[hsl].transpose(1, 0, 2)[1:], strict=True)
        for t, (a, sig, i, f, o, g, zt, c_prev, c, tc, h) in enumerate(steps):
            np.matmul(w, zt, out=a)  # all four gates from one product; matmul reads the strided z_t in place
            if gather:  # token ids beyond the one-hot limit: their columns are gathered and added
                np.take(tokens.table, tokens.cols[t], axis=1, out=gathered)
                a += gathered
            _lstm_cell(a, sig, i, f, o, g, c_prev, c, tc, h, ig, half)
        # the output h_t (T, B, H): a view of z's rows, no copy; the layer above reads it in this
        # layout anyway, and the stack's output is made contiguous once (``RecurrentBase.forward``)
        hs = z[hsl, 1:].transpose(1, 2, 0)  # (T, B, H) view of z
        return hs, (hs[T - 1], np.ascontiguousarray(cs[T].T)), LSTMCache(x, z, hs, cs, tcs, gates, tokens)

    def layer_step(self, w: _LSTMWeights, table, prev, new):
        (h_prev, c_prev), (h, c) = prev, new
        B, H = h.shape
        a = np.empty((B, 4 * H), self.dtype)  # (B, 4H) input gates, then activations
        rec = np.empty((B, 4 * H), self.dtype)  # (B, 4H) recurrent product
        ig = np.empty((B, H), self.dtype)  # (B, H) i * g
        tc = np.empty((B, H), self.dtype)  # (B, H) tanh(c)
        gates = step_input_gates(w, table, a)
        views = _gate_views(a, 1)
        half = np.array(0.5, self.dtype)  # 0-d
        w_hh_t = w.w_hh_t

        def run(x):
            gates(x)
            np.dot(h_prev, w_hh_t, out=rec)  # np.dot: less call overhead than matmul
            np.add(a, rec, out=a)
            _lstm_cell(a, *views, c_prev, c, tc, h, ig, half)
            return h

        return run

    def layer_scan(self, w: _LSTMWeights, state):
        """The stepper's step with the input gates made beforehand, so only W_hh is read per step.

        The step works in one buffer a = [i, f, o, g, c] (B, 5H) that also holds the cell state:
        then [i, f] * [g, c] is one product giving i * g and f * c, and their sum lands in c, one
        numpy call fewer per step than ``_lstm_cell`` with the same values (the sum is the same
        two terms); at a batch of one the calls, not the arithmetic, are the cost beside W_hh."""
        h_state, c_state = state  # (B, H) each: read before the chunk, left holding the state after it
        B, H = c_state.shape
        H3, H4 = 3 * H, 4 * H
        dt = self.dtype
        a = np.empty((B, 5 * H), dt)  # (B, 5H) pre-activations, then i, f, o, g; and c
        pre, sig, if_, gc, o, c = a[:, :H4], a[:, :H3], a[:, : 2 * H], a[:, H3:], a[:, 2 * H : H3], a[:, H4:]
        rec = np.empty((B, H4), dt)  # (B, 4H) recurrent product
        prod = np.empty((B, 2 * H), dt)  # (B, 2H) i * g, f * c
        ig, fc = prod[:, :H], prod[:, H:]
        tc = np.empty((B, H), dt)  # (B, H) tanh(c)
        half = np.array(0.5, dt)  # 0-d
        w_hh_t = w.w_hh_t
        dot, add, multiply, tanh = np.dot, np.add, np.multiply, np.tanh

        def scan(gates):
            out = workspace.empty(gates.shape[:2] + (H,), dt)  # (T, B, H)
            h_prev = h_state
            np.copyto(c, c_state)
            for x_gates, h in zip(gates, out, strict=True):
                dot(h_prev, w_hh_t, out=rec)
                add(x_gates, rec, out=pre)
                tanh(pre, out=pre)
                multiply(sig, half, out=sig)  # tanh(z/2) -> sigmoid(z) for i, f, o
                add(sig, half, out=sig)
                multiply(if_, gc, out=prod)  # i * g, f * c
                add(ig, fc, out=c)
                tanh(c, out=tc)
                multiply(o, tc, out=h)  # o * tanh(c)
                h_prev = h
            np.copyto(h_state, h_prev)
            np.copyto(c_state, c)
            return out

        return scan

    def _direction_states(self, cache: LSTMCache):
        return cache.hs, cache.cs[1:].transpose(0, 2, 1)

    def _backward_steps(self, layer, suffix, cache: LSTMCache):
        return _LSTMBackward(self, layer, suffix, cache)


class _LSTMBackward(timeloop.StepBackward):
    """Per step t, with dh and dc the gradients w.r.t. h_t and c_t from step t+1 (and the output)::

        dc += dh * o (1 - tanh(c_t)^2)                   (dc_t: through c_{t+1} and through h_t)
        grads_i, grads_f, grads_g = K_ifg[t] * dc         grads_o = K_o[t] * dh
        dc_{t-1} = dc * f_t        dh_{t-1} = W_hh^T grads_t

    with the coefficients K of ``_coefficients``; arrays are feature-major, states (H, B)."""

    arity = 2
    time_axis = 1
    batch_axis = 1  # states (H, B)

    def __init__(self, lstm: LSTM, layer: int, suffix: str, cache: LSTMCache):
        p, H, dt = lstm.params, lstm.hidden_size, lstm.dtype
        self.cache = cache
        T, H4, B = cache.gates.shape
        self.T, self.state_shape = T, (H, B)
        self.names = lstm.param_names(layer, suffix)
        self.w_ih = p[self.names.weight_ih]  # (4H, F)
        self.w_hh_t = workspace.copy(p[self.names.weight_hh].T)  # (H, 4H)
        self.f = cache.gates[:, H : 2 * H]  # (T, H, B) forget gates (forward order i, f, o, g)
        self.grads = workspace.empty((H4, T, B), dt)  # (4H, T, B) pre-activation gradients, PyTorch's order
        n = self.chunk = max(1, min(T, COEFF_CHUNK_ELEMENTS // (H4 * B)))  # steps per block of coefficients
        self.K = np.empty((n, H4, B), dt)  # (n, 4H, B) coefficients of n steps
        self.dtc = np.empty((n, H, B), dt)  # (n, H, B)
        self.P = np.empty((n, H4, B), dt)  # (n, 4H, B) scratch
        self.K_ifg, self.K_o = self.K[:, : 3 * H].reshape(n, 3, H, B), self.K[:, 3 * H :]  # views
        self.s0 = T  # the block holds the coefficients of steps s0, s0 + 1, ...
        self.bias = lstm.bias
        # full BPTT's product for dh_{t-1}: np.dot costs less per call, but copies a strided step
        # (matmul reads it in place)
        self.product = np.dot if timeloop.uses_scratch(self) else np.matmul

    def to_state(self, a):
        return workspace.copy(a.swapaxes(-1, -2))  # (..., H, B): one transposing copy, not one per step

    def from_state(self, a):
        return np.ascontiguousarray(a.swapaxes(-1, -2))  # (..., B, H)

    def split(self, g):
        """g (..., 4H, B), its blocks (i, f, g) as (..., 3, H, B) and its block o (..., H, B)."""
        *lead, H4, B = g.shape
        H = H4 // 4
        return g, timeloop.view_as(g[..., : 3 * H, :], (*lead, 3, H, B)), g[..., 3 * H :, :]

    def _block(self, t: int) -> int:
        """Step t's index in the block of coefficients, computing the next block when t leaves it
        (the loops run backwards in time)."""
        if t < self.s0:
            c = self.cache
            s0 = self.s0 = max(0, t + 1 - self.chunk)
            m = t + 1 - s0
            _coefficients(c.gates[s0 : t + 1], c.cs[s0 : t + 1], c.tcs[s0 : t + 1], self.K[:m], self.dtc[:m],
                          self.P[:m])
        return t - self.s0

    def gate_grads(self, t, dstate, views, tmp):
        j = self._block(t)
        dh, dc = dstate
        np.multiply(dh, self.dtc[j], out=tmp)
        dc += tmp  # dc_t: through c_{t+1} and through h_t
        np.multiply(self.K_ifg[j], dc if dc.ndim == 2 else dc[:, None], out=views[1])  # (offsets, 3, H, B)
        np.multiply(self.K_o[j], dh, out=views[2])

    def state_grads(self, t, dstate, views, out, tmp):
        g = views[0]
        np.multiply(dstate[1], self.f[t], out=out[1])  # f_t: dc_t reaches c_{t-1}
        # matmul reads a strided g in place (np.dot would copy it); np.dot costs less per call
        product = np.dot if g.ndim == 2 and g.flags.c_contiguous else np.matmul
        product(self.w_hh_t, g, out=out[0])  # dh_{t-1}

    def bound_step(self):
        """Full BPTT's step, ``gate_grads`` and ``state_grads`` in one call, with this direction's
        arrays bound once as locals: on small steps the look-ups are a measurable share of the loop
        (benchmarks/README.md, "LSTM bound_step"). Per step, as the class docstring says."""
        dtc, K_ifg, K_o, f, w_hh_t, product, block = (self.dtc, self.K_ifg, self.K_o, self.f, self.w_hh_t,
                                                      self.product, self._block)
        multiply = np.multiply
        s0 = self.s0

        def step(t, dstate, views, tmp):
            nonlocal s0
            if t < s0:
                block(t)
                s0 = self.s0
            j = t - s0
            dh, dc = dstate
            g, g_ifg, g_o = views
            multiply(dh, dtc[j], out=tmp)
            dc += tmp  # dc_t: through c_{t+1} and through h_t
            multiply(K_ifg[j], dc, out=g_ifg)  # (3, H, B)
            multiply(K_o[j], dh, out=g_o)
            dc *= f[t]  # f_t: dc_t reaches c_{t-1}
            product(w_hh_t, g, out=dh)  # dh_{t-1}

        return step

    def weight_grads(self, t0):
        x, z, tokens = self.cache.x, self.cache.z, self.cache.tokens
        H4, T, B = self.grads.shape
        H, dt = H4 // 4, self.grads.dtype
        # every weight gradient in one product: grads (4H, T*B) @ [x; h_prev; 1]^T (T*B, K); the
        # steps before t0 got no gradient
        dA2 = self.grads.reshape(H4, T * B)[:, t0 * B :]  # (4H, (T-t0)*B)
        z2 = z.reshape(z.shape[0], -1)[:, t0 * B : T * B]  # (K, (T-t0)*B)
        dw = np.matmul(dA2, z2.T, out=workspace.empty((H4, z.shape[0]), dt))  # (4H, K)
        F_in = z.shape[0] - H - int(self.bias)  # input rows of z
        if tokens is not None and F_in:  # one-hot rows: the columns of the ids in use
            dw_ih = workspace.zeros(self.w_ih.shape, dt)  # (4H, V)
            dw_ih[:, tokens.used] = dw[:, :F_in]
        elif tokens is not None:  # gathered columns: a scattered sum
            dw_ih = np.ascontiguousarray(F.index_add_rows(x[t0:], dA2.T, self.w_ih.shape[1]).T)  # (4H, V)
        else:
            dw_ih = np.ascontiguousarray(dw[:, :F_in])  # (4H, F)
        w_ih, w_hh, b_ih, b_hh = self.names
        grads = {w_ih: dw_ih, w_hh: np.ascontiguousarray(dw[:, F_in : F_in + H])}  # (4H, H)
        if self.bias:
            db = dw[:, F_in + H].copy()  # (4H,): the column of the ones in z
            grads[b_ih], grads[b_hh] = db, db.copy()
        return grads

    def input_grad(self, grads, t0):
        if self.cache.tokens is not None:  # token ids have no dx
            return None
        return input_grad(grads.swapaxes(-1, -3).swapaxes(-2, -3), self.w_ih, t0)  # (..., T, B, 4H) view
