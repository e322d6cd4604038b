"""Running a recurrent stack one time step per call (token-by-token generation and scoring).

``RecurrentBase.stepper()`` returns a :class:`RecurrentStepper`: the weights of every layer are
prepared once (the layer's ``prepare_step``, see ``scratchrnn.nn.recurrent``) and snapshotted, and
each layer's step is a function over scratch arrays and state buffers made once per batch size
(the layer's ``layer_step``), since at one token per call the fixed cost of each numpy call, not the
arithmetic, is most of the time.

``chunk_session`` runs the same stack over whole chunks of a sequence for inference (scoring a
text): per layer, the input gates of every step of the chunk come from one product (one gather for
token ids), and the layer's ``layer_scan`` then runs only the recurrence, step by step, keeping no
cache for a backward pass. For a batch of one this reads the recurrent weights alone per step,
instead of the input and recurrent weights together as the sequence forward does, and one layer's
weights stay in cache for the whole chunk (benchmarks/README.md, "bench_eval").
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..checks import check_flag, check_size
from . import workspace

__all__ = ["ALIGN_BYTES", "RecurrentStepper", "step_input_gates"]


# Prepared weights start on a 64-byte boundary: OpenBLAS's batch-1 product is faster on an aligned
# matrix than on one 16 bytes past a boundary, where the C library puts a large allocation
# (benchmarks/README.md, "bench_eval").
ALIGN_BYTES = 64


def _aligned_copy(a: np.ndarray) -> np.ndarray:
    """A C-contiguous copy of ``a`` whose data starts on an ``ALIGN_BYTES`` boundary."""
    buf = np.empty(a.nbytes + ALIGN_BYTES, np.uint8)
    start = -buf.ctypes.data % ALIGN_BYTES
    out = buf[start : start + a.nbytes].view(a.dtype).reshape(a.shape)
    np.copyto(out, a)
    return out


def _snapshot(weights):
    """Prepared weights that share no memory with the parameters: every array is copied (C order,
    aligned, the same values), so later in-place updates of the parameters do not reach a stepper."""
    return type(weights)(*(None if a is None else _aligned_copy(a) for a in weights))


def step_input_gates(w, table: np.ndarray | None, out: np.ndarray) -> Callable[[np.ndarray], None]:
    """``gates(x)``: one step's input gates written into out (B, G*H) with the values
    ``projections.input_gates`` gives, for a layer with prepared weights ``w``. For token ids
    (B,), the row of ``table`` (F, G*H) = w_ih.T + bias of each id; else x (B, F) @ w_ih.T + bias."""
    if table is not None:
        if out.shape[0] == 1:
            row = out[0]  # (G*H,)

            def gates(ids):
                row[...] = table[ids[0]]

        else:

            def gates(ids):
                np.take(table, ids, axis=0, out=out)

        return gates
    w_ih_t, bias = w.w_ih.T, w.bias  # (F, G*H) view, (G*H,) or None

    def gates(x):
        # np.dot makes the BLAS call input_gates' matmul makes with this layout (the same
        # values), with less overhead per call
        np.dot(x, w_ih_t, out=out)
        if bias is not None:
            np.add(out, bias, out=out)

    return gates


class _StepPlan:
    """The buffers and per-layer step functions of a stepper for a batch of B, made once.

    Two sets of state buffers take turns: a step from set ``src`` reads the previous state from
    ``states[src]`` and writes the new one into ``states[1 - src]``, so nothing is allocated or
    copied per step. ``runs[src]`` holds the layer functions (see the layer's ``layer_step``) bound to
    that direction of travel.
    """

    def __init__(self, stepper: RecurrentStepper, B: int, tokens: bool):
        rnn = stepper._rnn
        shape = (stepper.num_layers, B, stepper.hidden_size)
        self.key = (B, tokens)
        self.states = tuple(
            tuple(np.zeros(shape, stepper.dtype) for _ in range(stepper._arity))  # (L, B, H) each
            for _ in range(2)
        )
        self.runs = []
        for src in (0, 1):
            prev, new = self.states[src], self.states[1 - src]
            self.runs.append([
                rnn.layer_step(
                    w,
                    stepper._token_table() if tokens and layer == 0 else None,
                    tuple(p[layer] for p in prev),
                    tuple(n[layer] for n in new),
                )
                for layer, w in enumerate(stepper._weights)
            ])


class RecurrentStepper:
    """One time step of a unidirectional recurrent stack, with weights prepared once.

    ``step(x_t, state) -> (out_t, new_state)``: x_t is (B, F) floats of the layer's dtype or (B,)
    integer token ids (one-hot inputs of size ``input_size``); state is (L, B, H), a tuple (h, c)
    for an LSTM, or None for zeros. out_t (B, H) is the top layer's new hidden state (read-only, a
    view of ``new_state``). One call equals ``forward`` on a one-step sequence in evaluation mode.

    The stepper is a snapshot: it copies the weights when it is made, so later changes to the
    layer's parameters (an optimizer step, ``load_state_dict``) do not reach it; make a new one.
    Validation is done once here; per step only shapes and dtypes are checked, and token ids are
    trusted to lie in [0, input_size). The scratch arrays of a step are kept for the next one
    (of the same batch size), so one stepper must not be stepped from two threads at once.
    """

    def __init__(self, rnn):
        if not callable(getattr(rnn, "layer_step", None)) or not callable(getattr(rnn, "prepare_step", None)):
            raise ValueError(f"RecurrentStepper expects an RNN, LSTM or GRU layer, got {type(rnn).__name__}")
        self._name = type(rnn).__name__
        if rnn.bidirectional:
            raise ValueError(
                f"a bidirectional {self._name} cannot be stepped one token at a time: its reverse direction "
                "reads the sequence from the end; use forward on the whole sequence, or bidirectional=False"
            )
        self._rnn = rnn  # for its cell math only: the weights used are the copies below
        self._weights = [
            _snapshot(rnn.prepare_step(layer, "")) for layer in range(rnn.num_layers)
        ]
        self.input_size, self.hidden_size = rnn.input_size, rnn.hidden_size
        self.num_layers, self.dtype = rnn.num_layers, rnn.dtype
        self._arity = rnn.STATE_ARITY
        self._table = None  # first layer's input gates per token id, made on the first token step
        self._plan = None  # the _StepPlan of the latest step call

    def __repr__(self) -> str:
        return f"RecurrentStepper({self._rnn!r})"

    def initial_state(self, batch_size: int):
        """Zero state: (L, B, H), or a tuple (h, c) of them for an LSTM."""
        B = check_size("batch_size", batch_size)
        shape = (self.num_layers, B, self.hidden_size)
        zeros = tuple(np.zeros(shape, self.dtype) for _ in range(self._arity))  # (L, B, H) each
        return zeros[0] if self._arity == 1 else zeros

    def _token_table(self) -> np.ndarray:
        """(input_size, G*H): row i is the first layer's input gates for token i, w_ih[:, i] + bias,
        the values the one-hot gather of ``projections.input_gates`` gives."""
        if self._table is None:
            w = self._weights[0]
            table = w.w_ih.T.copy(order="C")  # (F, G*H)
            if w.bias is not None:
                table += w.bias
            self._table = table
        return self._table

    def _check_input(self, x_t) -> int:
        """The batch size of a valid x_t (B, F) or ids (B,)."""
        name = self._name
        if not isinstance(x_t, np.ndarray):
            raise ValueError(
                f"{name} step expects a numpy array (B, F) or (B,) token ids, got {type(x_t).__name__}"
            )
        if x_t.dtype.kind in "iu":
            if x_t.ndim != 1:
                raise ValueError(f"{name} step reads integer input as (B,) token ids, got shape {x_t.shape}")
        elif x_t.ndim != 2 or x_t.shape[1] != self.input_size or x_t.dtype != self.dtype:
            raise ValueError(
                f"{name} step expects x_t (B, {self.input_size}) {self.dtype} or (B,) token ids, "
                f"got shape {x_t.shape} {x_t.dtype}"
            )
        if x_t.shape[0] == 0:
            raise ValueError(f"{name} step needs at least one sequence, got x_t of shape {x_t.shape}")
        return x_t.shape[0]

    def _check_state(self, state, B: int | None) -> tuple[np.ndarray, ...]:
        """A valid state as a tuple of (L, B, H) arrays; B None takes the batch size from the state."""
        name = self._name
        parts = tuple(state) if isinstance(state, (tuple, list)) else (state,)
        if B is None:  # a session: the state alone gives the batch size
            first = parts[0] if parts else None
            B = first.shape[1] if isinstance(first, np.ndarray) and first.ndim == 3 else 0
            if B == 0:
                got = f"shape {first.shape}" if isinstance(first, np.ndarray) else type(first).__name__
                raise ValueError(f"{name} session expects a state of shape ({self.num_layers}, B, "
                                 f"{self.hidden_size}) with B >= 1 (a tuple (h, c) for an LSTM), got {got}")
        shape = (self.num_layers, B, self.hidden_size)
        if len(parts) != self._arity:
            want = "a tuple (h, c)" if self._arity == 2 else "one array"
            raise ValueError(
                f"{name} step expects the state as {want} of shape {shape}, got {len(parts)} array(s)"
            )
        for p in parts:
            if not isinstance(p, np.ndarray) or p.shape != shape or p.dtype != self.dtype:
                got = f"{p.shape} {p.dtype}" if isinstance(p, np.ndarray) else type(p).__name__
                raise ValueError(f"{name} step expects each state array to be {shape} {self.dtype} "
                                 f"(layers, batch of x_t, hidden), got {got}")
        return parts

    def step(self, x_t: np.ndarray, state=None):
        """x_t (B, F) or ids (B,), state (L, B, H) (tuple (h, c) for an LSTM) or None ->
        out_t (B, H), new_state: every layer advanced by one time step."""
        B = self._check_input(x_t)
        parts = None if state is None else self._check_state(state, B)
        key = (B, x_t.dtype.kind in "iu")
        plan = self._plan
        if plan is None or plan.key != key:
            plan = self._plan = _StepPlan(self, *key)
        prev, new = plan.states
        for i, buf in enumerate(prev):
            if parts is None:
                buf.fill(0)
            else:
                np.copyto(buf, parts[i])
        for run in plan.runs[0]:
            x_t = run(x_t)
        new = tuple(n.copy() for n in new)  # (L, B, H) each, the caller's to keep
        out = new[0][-1]  # (B, H)
        out.flags.writeable = False
        return out, (new[0] if self._arity == 1 else new)

    __call__ = step

    def session(self, state, tokens: bool) -> Callable[[np.ndarray], np.ndarray]:
        """``advance(x_t) -> out_t`` stepping a state it keeps in its own buffers: ``state`` (as
        ``step`` takes it, not None) is copied in once, x_t is ids (B,) if ``tokens`` else (B, F)
        floats, and neither is checked per call. out_t (B, H) is a read-only view of the top
        layer's state, overwritten by the call after next."""
        parts = self._check_state(state, None)
        tokens = check_flag("tokens", tokens)
        plan = _StepPlan(self, parts[0].shape[1], tokens)  # its own: step calls cannot disturb it
        for buf, part in zip(plan.states[0], parts, strict=True):
            np.copyto(buf, part)
        runs = plan.runs
        tops = tuple(states[0][-1].view() for states in reversed(plan.states))  # (B, H) each
        for top in tops:
            top.flags.writeable = False
        src = 0

        def advance(x_t):
            nonlocal src
            for run in runs[src]:
                x_t = run(x_t)
            top = tops[src]  # the top layer of states[1 - src], just written
            src = 1 - src
            return top

        return advance

    def chunk_session(self, state, tokens: bool) -> Callable[[np.ndarray], np.ndarray]:
        """``advance(xs) -> out`` running whole chunks with the state carried from chunk to chunk.

        ``state`` is as ``step`` takes it (not None) and is copied in once; xs is (T, B) token ids
        if ``tokens`` else (T, B, F) floats of the layer's dtype, with the session's batch size B
        and any T >= 1; out (T, B, H) holds the top layer's state after every step of the chunk,
        the values ``forward`` gives for the same sequence (up to the rounding of the LSTM's input
        projection, made apart from its recurrent product here), and is the caller's to keep.
        Chunk after chunk equals one pass over their concatenation. Per layer a chunk allocates its
        input gates (T, B, G*H) and its outputs. Inputs are not checked per call (token ids are
        trusted to lie in [0, input_size)).
        """
        parts = self._check_state(state, None)
        tokens = check_flag("tokens", tokens)
        B = parts[0].shape[1]
        table = self._token_table() if tokens else None  # (F, G*H) input gates of each id
        layers = []
        for layer, w in enumerate(self._weights):
            carried = tuple(np.array(p[layer]) for p in parts)  # (B, H) each: this layer's state
            layers.append((w, self._rnn.layer_scan(w, carried)))
        dtype = self.dtype

        def advance(xs):
            T = xs.shape[0]
            for layer, (w, scan) in enumerate(layers):
                GH = w.w_ih.shape[0]
                gates = workspace.empty((T * B, GH), dtype)  # (T*B, G*H) every step's input gates
                if layer == 0 and table is not None:
                    np.take(table, xs.reshape(-1), axis=0, out=gates)
                else:  # the product projections.input_gates makes, over the whole chunk at once
                    np.matmul(xs.reshape(T * B, -1), w.w_ih.T, out=gates)
                    if w.bias is not None:
                        gates += w.bias
                xs = scan(gates.reshape(T, B, GH))  # (T, B, H)
            return xs

        return advance
