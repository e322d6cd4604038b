"""Long short-term memory, multi-layer and optionally bidirectional, with exact (truncated) BPTT.

Layout of a sequence
--------------------
The parameters keep PyTorch's names, shapes and gate order (i, f, g, o). Inside ``forward`` and
``backward`` the per-step arrays are feature-major: the gates of step t are a (4H, B) array, h
and c (H, B). The step's product is then ``W (4H, K) @ z_t (K, B)``, the orientation in which
BLAS runs the thin product of a recurrence fastest (with a (B, K) @ (K, 4H) product, the layout
of the stepper below, it is about 1.5x slower at B = 32; ``benchmarks/bench_lstm_gru.py``).
``z_t = [x_t; h_{t-1}; 1]`` stacks the step's input, the previous state and a one for the combined
bias ``b_ih + b_hh`` (no such row with ``bias=False``), so a single product per step gives all
four pre-activations: the input projection rides in the step's product instead of one product over
all steps beforehand, which measured about 20% faster here at (input 128, hidden 256, batch 32),
the product with K = F + H + 1 running closer to the machine's peak than two thinner ones plus an
addition per step. Token ids take the same road when a sequence uses few distinct ids (at most
``_ONE_HOT_MAX_IDS``, as in a character vocabulary): z_t holds their one-hot vectors, and the
columns of ``W_ih`` of those ids stand in for ``W_ih``. With more ids z_t is ``[h_{t-1}; 1]`` and
each step adds the columns of its ids, gathered from a table of the ids the sequence uses.

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
The gradients at the pre-activations are kept in PyTorch's order (i, f, g, o), as dA (4H, T, B):
the three gates whose gradient is the cell gradient times a coefficient (i, f, g) are then
contiguous, and every weight gradient comes out in PyTorch's order from one product after the
time loop, ``dA (4H, T*B) @ z^T (T*B, K)``, whose last column (the ones of z) is the bias
gradient. For full BPTT the coefficients (``_coefficients``) are computed a few steps at a time,
just before the loop needs them, so they are still in cache; truncated BPTT computes them for all
steps at once. A step's gradient dA_t (4H, B) is a block of rows T*B apart in dA; on small steps it
is built in a contiguous scratch array and copied there (``_SCRATCH_STEP_ELEMENTS``). The large
arrays of both passes come from ``scratchrnn.nn.workspace``.
"""

from __future__ import annotations

import itertools
from typing import NamedTuple

import numpy as np

from .. import functional as F
from . import workspace
from .recurrent import RecurrentBase, relayout_rows, row_slice, truncated_offsets
from .stepper import _step_input_gates

__all__ = ["LSTM"]

# Forward order (i, f, o, g) as blocks of PyTorch's order (i, f, g, o); the sigmoid gates halved.
_FORWARD_BLOCKS = (0, 1, 3, 2)
_FORWARD_SCALES = (0.5, 0.5, 0.5, 1.0)
# Steps of coefficients computed together in the backward loop: about 256 KiB of float32.
_COEFF_CHUNK_ELEMENTS = 1 << 16
# A backward step whose gradient dA_t (4H, B) has at most this many elements is built in a
# contiguous scratch array and then copied into dA: numpy's elementwise loops writing straight into
# rows T*B apart cost more per call than the copy on small steps, and less on large ones.
_SCRATCH_STEP_ELEMENTS = 1 << 13
# Token ids: with at most this many distinct ids in a sequence, z_t holds their one-hot vectors and
# the step's product does the lookup (a character vocabulary); with more, each step gathers columns.
# A one-layer LSTM of hidden 256, batch 32 measured about 6% faster one-hot with 76 ids, level at
# 128 and 5% slower at 256 (and at hidden 64, batch 16: 7% faster at 64 ids, 19% slower at 256).
_ONE_HOT_MAX_IDS = 96


class _TokenInput(NamedTuple):
    """Token ids (T, B) of a sequence as the forward pass uses them."""

    used: np.ndarray  # (U,) the distinct ids, ascending
    cols: np.ndarray  # (T, B) each id's index in ``used``
    table: np.ndarray | None  # (4H, U) their columns of W_ih laid out as ``w``, or None (one-hot rows in z)


class _LSTMWeights(NamedTuple):
    """Weights for the stepper, whose arrays are (B, 4H): rows in forward order, sigmoid rows halved."""

    w_ih: np.ndarray  # (4H, F)
    bias: np.ndarray | None  # (4H,) b_ih + b_hh
    w_hh_t: np.ndarray  # (H, 4H) C-contiguous transpose of W_hh


def _gate_views(a: np.ndarray, axis: int) -> tuple[np.ndarray, ...]:
    """The blocks ``_lstm_cell`` works on, of gates in forward order along ``axis`` (0 for one
    (4H, B) step of a sequence, 1 for the stepper's (B, 4H) or a whole sequence's (T, 4H, B)):
    the sigmoid gates (i, f, o) together, then i, f, o and g alone."""
    H = a.shape[axis] // 4
    cut = [(0, 3 * H), (0, H), (H, 2 * H), (2 * H, 3 * H), (3 * H, 4 * H)]
    if axis == 0:
        return tuple(a[lo:hi] for lo, hi in cut)
    return tuple(a[:, lo:hi] for lo, hi in cut)


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

    def _prepare_direction(self, layer, suffix) -> _LSTMWeights:
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
        vocabulary's whole W_ih would be far bigger than them). With at most ``_ONE_HOT_MAX_IDS`` of
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
            if used.shape[0] <= _ONE_HOT_MAX_IDS:
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
            np.matmul(w, zt, out=a)  # matmul reads the strided z_t in place
            if gather:
                np.take(tokens.table, tokens.cols[t], axis=1, out=gathered)
                a += gathered
            _lstm_cell(a, sig, i, f, o, g, c_prev, c, tc, h, ig, half)
        # the output h_t (T, B, H): a view of z's rows, no copy; the layer above reads it in this
        # layout anyway, and the stack's output is made contiguous once (``RecurrentBase.forward``)
        hs = z[hsl, 1:].transpose(1, 2, 0)  # (T, B, H) view of z
        return hs, (hs[T - 1], np.ascontiguousarray(cs[T].T)), (x, z, hs, cs, tcs, gates, tokens)

    def _layer_stepper(self, w, table, prev, new):
        (h_prev, c_prev), (h, c) = prev, new
        B, H = h.shape
        a = np.empty((B, 4 * H), self.dtype)  # (B, 4H) input gates, then activations
        rec = np.empty((B, 4 * H), self.dtype)  # (B, 4H) recurrent product
        ig = np.empty((B, H), self.dtype)  # (B, H) i * g
        tc = np.empty((B, H), self.dtype)  # (B, H) tanh(c)
        gates = _step_input_gates(w, table, a)
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

    def _direction_states(self, cache):
        _, _, hs, cs, _, _, _ = cache
        return hs, cs[1:].transpose(0, 2, 1)

    def _direction_backward(self, layer, suffix, dout, offs, dstate_n, cache, truncate, dx_mode):
        p = self.params
        H = self.hidden_size
        x, z, _, cs, tcs, gates, tokens = cache
        T, B = x.shape[:2]
        dt = self.dtype
        w_ih = p[f"weight_ih_l{layer}{suffix}"]  # (4H, F)
        w_hh_t = workspace.copy(p[f"weight_hh_l{layer}{suffix}"].T)  # (H, 4H)
        dA = workspace.empty((4 * H, T, B), dt)  # (4H, T, B) pre-activation gradients, PyTorch's order
        dh_n, dc_n = dstate_n
        dA_offs = dA_off = None
        if truncate is None:
            dh0, dc0 = self._backward_loop(dout, dh_n, dc_n, gates, cs, tcs, w_hh_t, dA)
        else:
            keep = dx_mode == "offsets"
            dh0, dc0, dA_off, dA_offs = self._backward_truncated(
                dout, offs, dh_n, dc_n, gates, cs, tcs, w_hh_t, dA, truncate, keep
            )
        # every weight gradient in one product: dA (4H, T*B) @ [x; h_prev; 1]^T (T*B, K)
        dA2 = dA.reshape(4 * H, T * B)  # (4H, T*B)
        z2 = z.reshape(z.shape[0], -1)[:, : T * B]  # (K, T*B)
        dw = np.matmul(dA2, z2.T, out=workspace.empty((4 * H, z.shape[0]), dt))  # (4H, K)
        F_in = z.shape[0] - H - int(self.bias)  # input rows of z
        if tokens is not None and F_in:  # one-hot rows: the columns of the ids in use
            dw_ih = workspace.zeros(w_ih.shape, dt)  # (4H, V)
            dw_ih[:, tokens.used] = dw[:, :F_in]
        elif tokens is not None:  # gathered columns: a scattered sum
            dw_ih = np.ascontiguousarray(F.index_add_rows(x, dA2.T, w_ih.shape[1]).T)  # (4H, V)
        else:
            dw_ih = np.ascontiguousarray(dw[:, :F_in])  # (4H, F)
        grads = {
            f"weight_ih_l{layer}{suffix}": dw_ih,
            f"weight_hh_l{layer}{suffix}": np.ascontiguousarray(dw[:, F_in : F_in + H]),  # (4H, H)
        }
        if self.bias:
            db = dw[:, F_in + H].copy()  # (4H,): the column of the ones in z
            grads[f"bias_ih_l{layer}{suffix}"] = db
            grads[f"bias_hh_l{layer}{suffix}"] = db.copy()
        if tokens is not None:  # token ids have no dx
            return None, None, (dh0, dc0), grads
        if dA_offs is not None:
            n = len(dA_offs)
            dx = np.matmul(dA_off.reshape(n, 4 * H, T * B).transpose(0, 2, 1), w_ih,
                           out=workspace.empty((n, T * B, F_in), dt))  # (n, T*B, F)
            dx = dx.reshape(n, T, B, F_in)
        else:
            dx = self._input_grad(dA2.T, w_ih, T, B)  # (T, B, F)
        return dx, dA_offs, (dh0, dc0), grads

    def _backward_loop(self, dout, dh_n, dc_n, gates, cs, tcs, w_hh_t, dA):
        """Full BPTT through one direction: fills dA (4H, T, B) and returns dh0, dc0 (B, H)."""
        T, H4, B = gates.shape
        H = H4 // 4
        H2, H3 = 2 * H, 3 * H
        dt = self.dtype
        dh = np.zeros((H, B), dt) if dh_n is None else np.array(dh_n.T, order="C")  # (H, B)
        dc = np.zeros((H, B), dt) if dc_n is None else np.array(dc_n.T, order="C")  # (H, B)
        tmp = np.empty((H, B), dt)  # (H, B)
        n = max(1, min(T, _COEFF_CHUNK_ELEMENTS // (H4 * B)))  # steps per block of coefficients
        K = np.empty((n, H4, B), dt)  # (n, 4H, B) coefficients of n steps
        dtc = np.empty((n, H, B), dt)  # (n, H, B)
        P = np.empty((n, H4, B), dt)  # (n, 4H, B) scratch
        K_ifg, K_o = K[:, :H3].reshape(n, 3, H, B), K[:, H3:]  # (n, 3, H, B), (n, H, B) views
        if dout is not None:  # one transposing copy beats one per step
            dout = workspace.copy(dout.transpose(0, 2, 1))  # (T, H, B)
        # per step, backwards in time: dA_t (4H, B), rows T*B apart (matmul reads it in place;
        # np.dot would copy), f_t (H, B), and where the step's gradient is built: dA_t itself, as
        # blocks (i, f, g) (3, H, B) and o (H, B), or on small steps a contiguous scratch array
        dA_steps = dA.transpose(1, 0, 2)[::-1]  # (T, 4H, B) view, steps T-1 .. 0
        via_scratch = H4 * B <= _SCRATCH_STEP_ELEMENTS
        if via_scratch:
            E = np.empty((H4, B), dt)  # (4H, B)
            built = itertools.repeat((E, E[:H3].reshape(3, H, B), E[H3:]), T)
            product = np.dot  # less overhead per call than matmul on a contiguous array
        else:
            product = np.matmul
            built = zip(dA_steps, dA[:H3].reshape(3, H, T, B).transpose(2, 0, 1, 3)[::-1],
                        dA[H3:].transpose(1, 0, 2)[::-1], strict=True)  # (4H, B), (3, H, B), (H, B)
        steps = zip(range(T - 1, -1, -1), dA_steps, gates[::-1, H:H2], built, strict=True)
        s0 = T
        for t, dAt, f, (grad, grad_ifg, grad_o) in steps:
            if t < s0:  # the next block of coefficients: steps s0 .. t
                s0 = max(0, t + 1 - n)
                m = t + 1 - s0
                _coefficients(gates[s0 : t + 1], cs[s0 : t + 1], tcs[s0 : t + 1], K[:m], dtc[:m], P[:m])
            j = t - s0
            if dout is not None:
                dh += dout[t]
            np.multiply(dh, dtc[j], out=tmp)
            dc += tmp  # dc_t: through c_{t+1} and through h_t
            np.multiply(K_ifg[j], dc, out=grad_ifg)
            np.multiply(K_o[j], dh, out=grad_o)
            dc *= f  # f_t: dc_t reaches c_{t-1}
            product(w_hh_t, grad, out=dh)  # dh_{t-1}
            if via_scratch:
                np.copyto(dAt, grad)
        return np.ascontiguousarray(dh.T), np.ascontiguousarray(dc.T)

    def _backward_truncated(self, dout, offs, dh_n, dc_n, gates, cs, tcs, w_hh_t, dA, k, keep):
        """Truncated BPTT through one direction (see ``scratchrnn.nn.recurrent``): fills dA and
        returns dh0, dc0 (B, H), and with ``keep`` the per-offset gradients (n, 4H, T, B) and
        their offsets, which the layer below needs."""
        T, H4, B = gates.shape
        H = H4 // 4
        H2, H3 = 2 * H, 3 * H
        dt = self.dtype
        K = workspace.empty((T, H4, B), dt)  # (T, 4H, B)
        dtc = workspace.empty((T, H, B), dt)  # (T, H, B)
        _coefficients(gates, cs[:-1], tcs, K, dtc, workspace.empty((T, H4, B), dt))  # scratch (T, 4H, B)
        state_offs = truncated_offsets(offs, k)  # offsets -k .. max incoming
        n = len(state_offs)
        cur_h = np.zeros((n, H, B), dt)  # (n, H, B) gradient w.r.t. h_t, per offset
        cur_c = np.zeros((n, H, B), dt)  # (n, H, B) gradient w.r.t. c_t, per offset
        nxt_h = np.zeros((n, H, B), dt)  # (n, H, B)
        nxt_c = np.zeros((n, H, B), dt)  # (n, H, B)
        tmp = np.empty((n, H, B), dt)  # (n, H, B)
        zbuf = np.empty((n, H4, B), dt)  # (n, 4H, B) per-offset pre-activation gradients
        z_ifg = zbuf[:, :H3].reshape(n, 3, H, B)
        dA_off = workspace.empty((n, H4, T, B), dt) if keep else None  # (n, 4H, T, B) per-offset gradients
        rows = None if offs is None else row_slice(offs, k)
        for t in range(T - 1, -1, -1):
            if dout is not None:
                cur_h[rows] += dout[:, t].transpose(0, 2, 1)
            if t == T - 1:  # the final state's gradient counts as a loss term at step T-1
                if dh_n is not None:
                    cur_h[k] += dh_n.T
                if dc_n is not None:
                    cur_c[k] += dc_n.T
            np.multiply(cur_h, dtc[t], out=tmp)
            cur_c += tmp
            np.multiply(K[t, :H3].reshape(3, H, B), cur_c[:, None], out=z_ifg)
            np.multiply(K[t, H3:], cur_h, out=zbuf[:, H3:])
            np.sum(zbuf, axis=0, out=dA[:, t])
            if keep:
                dA_off[:, :, t] = zbuf
            # a component at offset d moves to d-1 one step back (through W_hh and through
            # f * c); the one at -k is dropped, which holds h and c at t-k-1 constant
            np.matmul(w_hh_t, zbuf[1:], out=nxt_h[:-1])
            np.multiply(cur_c[1:], gates[t, H:H2], out=nxt_c[:-1])
            nxt_h[-1] = 0.0
            nxt_c[-1] = 0.0
            cur_h, nxt_h = nxt_h, cur_h
            cur_c, nxt_c = nxt_c, cur_c
        dh0 = np.ascontiguousarray(cur_h.sum(axis=0).T)  # (B, H)
        dc0 = np.ascontiguousarray(cur_c.sum(axis=0).T)  # (B, H)
        return dh0, dc0, dA_off, (state_offs if keep else None)
