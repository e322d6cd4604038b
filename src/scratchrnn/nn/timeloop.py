"""The backward time loops of the fast recurrent layers, written once for every cell.

A cell (``scratchrnn.nn.rnn``, ``gru``, ``lstm``) supplies what is its own and these loops run it
over time, from the last step to the first:

* :func:`full_bptt` runs backpropagation through time;
* :func:`truncated_bptt` runs truncated BPTT (below) in the same single pass.

(The forward loop is a cell's own: a plain ``for`` over its step arrays, in its ``_direction_forward``.)

A cell supplies a :class:`StepBackward` built from its forward cache: the
math of one step's backward split in two, ``gate_grads`` (from the gradient w.r.t. the state after
step t to the gradients at step t's pre-activations) and ``state_grads`` (from those to the
gradient w.r.t. the state before step t), plus the weight and input gradients that follow from
every step's pre-activation gradients once the loop is done. Both step functions take arrays with
any leading axes, which is how one pair serves the full loop and the truncated one.

Truncated BPTT (``truncate=k``): the gradient of the loss at output step t reaches the steps t,
t-1, ..., t-k and no further (see ``scratchrnn.nn.reference``, which computes it one loss term at a
time). Here every state gradient is a stack over *offsets*: component d of the gradient at step s
comes from loss terms at step t = s - d. Going one step back moves every component from offset d
to d - 1, and the one at -k is dropped, which holds h_{t-k-1} constant for the term at t. In a
stack of layers a gradient may cross layers at any step, so the layer below receives the per-offset
gradients of its outputs and continues from there (``RecurrentBase.backward``). The initial state
plays h_{-1}: only ``truncate >= T`` is full BPTT in every gradient.

Layouts: a cell keeps its state gradients in its own layout S (``(B, H)``, or ``(H, B)`` for the
feature-major LSTM) and every step's pre-activation gradients in ``grads``, whose axis
``time_axis`` is time; a step's block of it has the shape G (``grads`` without that axis).
"""

from __future__ import annotations

import itertools

import numpy as np

from . import workspace

__all__ = [
    "SCRATCH_STEP_ELEMENTS",
    "StepBackward",
    "add_offsets",
    "add_rows",
    "full_bptt",
    "row_slice",
    "rows",
    "truncated_bptt",
    "truncated_offsets",
    "uses_scratch",
    "view_as",
]

# A step whose gradient block is strided in ``grads`` (the LSTM's rows are T*B apart) and has at
# most this many elements is built in a contiguous scratch array and then copied: numpy's loops
# writing straight into strided rows cost more per call than the copy on small steps, less on large
# ones (benchmarks/README.md, "LSTM backward: small steps").
SCRATCH_STEP_ELEMENTS = 1 << 13


def view_as(a: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``a`` reshaped to ``shape`` as a view; raises if that would need a copy (writes through a
    silent copy would be lost)."""
    v = a.view()
    v.shape = shape  # numpy refuses, rather than copies, when the strides do not allow it
    return v


def rows(a: np.ndarray) -> np.ndarray:
    """a (..., B, K) as a 2-D array of rows, a view (the stack of offsets of a truncated step in
    one product); raises rather than copy."""
    return a if a.ndim == 2 else view_as(a, (a.size // a.shape[-1], a.shape[-1]))


class StepBackward:
    """The per-step backward of one layer and direction of a cell, built from its forward cache.

    Attributes: ``T`` steps; ``arity`` (1 for h, 2 for (h, c)); ``state_shape`` S; ``grads`` (every
    step's pre-activation gradients, filled by the loops); ``time_axis`` (time's axis in grads);
    ``batch_axis`` (the batch's axis in S).
    """

    T: int
    arity: int
    state_shape: tuple[int, int]
    grads: np.ndarray
    time_axis: int = 0
    batch_axis: int = 0  # the batch's axis in S

    def to_state(self, a: np.ndarray) -> np.ndarray:
        """A gradient (..., B, H) in the layers' batch-major layout, in the state layout S."""
        return a

    def from_state(self, a: np.ndarray) -> np.ndarray:
        """The inverse of ``to_state``: (..., *S) -> (..., B, H)."""
        return a

    def split(self, g: np.ndarray) -> tuple[np.ndarray, ...]:
        """Views of a gradient block g (..., *G) that the step functions use: g itself first."""
        return (g,)

    def gate_grads(self, t: int, dstate: tuple, views: tuple, tmp: np.ndarray) -> None:
        """Write step t's pre-activation gradients into ``views`` (of ``split``) from ``dstate``, the
        gradient w.r.t. the state after step t ((..., *S) arrays; a cell may replace one in place
        by a total it needs again, as the LSTM does with dc). ``tmp`` is scratch shaped like them."""
        raise NotImplementedError

    def state_grads(self, t: int, dstate: tuple, views: tuple, out: tuple, tmp: np.ndarray) -> None:
        """Write into ``out`` the gradient w.r.t. the state before step t, from ``dstate`` (as left by
        ``gate_grads``) and the step's gradients ``views``. ``out`` may be ``dstate`` itself."""
        raise NotImplementedError

    def step(self, t: int, dstate: tuple, views: tuple, tmp: np.ndarray) -> None:
        """One step of full BPTT: ``gate_grads``, then ``state_grads`` into ``dstate`` itself. A cell
        may fuse the two where the calls between them are a measurable share of a small step."""
        self.gate_grads(t, dstate, views, tmp)
        self.state_grads(t, dstate, views, dstate, tmp)

    def bound_step(self):
        """The function ``full_bptt`` calls per step, ``step`` unless a cell binds its arrays once."""
        return self.step

    def weight_grads(self, t0: int) -> dict[str, np.ndarray]:
        """The parameter gradients of this layer and direction from ``grads`` (steps before t0 got
        none), keyed like the layer's params."""
        raise NotImplementedError

    def input_grad(self, grads: np.ndarray, t0: int) -> np.ndarray | None:
        """dx (..., T, B, F) from pre-activation gradients shaped like ``grads`` with any leading
        axes (steps before t0 are zero); None for token-id input, which has no gradient."""
        raise NotImplementedError


def uses_scratch(cell: StepBackward) -> bool:
    """Whether ``full_bptt`` builds each step of ``cell`` in a contiguous scratch block (then copied
    into ``grads``) rather than in its strided block of ``grads`` (``SCRATCH_STEP_ELEMENTS``)."""
    # a C-contiguous grads has contiguous steps exactly when time is its first axis
    return bool(cell.time_axis) and cell.grads.size <= SCRATCH_STEP_ELEMENTS * cell.T


def _steps(a: np.ndarray, axis: int) -> np.ndarray:
    """``a`` with time (``axis``) first: a view whose entry t is step t's block."""
    return a if axis == 0 else a.swapaxes(0, axis)  # swapaxes: cheaper per call than moveaxis


def add_rows(c: np.ndarray, rows: np.ndarray, part: np.ndarray, batch_axis: int) -> None:
    """c (..., *S) += part on the batch entries ``rows`` only; ``batch_axis`` is the batch's axis in
    S (0 for (B, H), 1 for (H, B)) and part is c's block of those rows."""
    if batch_axis == 0:
        c[..., rows, :] += part
    else:
        c[..., rows] += part


def _injecting(back, dstate_at, batch_axis: int):
    """``back`` that first adds the gradients ``dstate_at`` names for step t (module
    ``full_bptt``) to the state gradients: the final states of sequences that end before the last step."""
    get = dstate_at.get

    def step(t, dstate, views, tmp):
        add = get(t)
        if add is not None:
            rows, parts = add
            for c, a in zip(dstate, parts, strict=True):
                if a is not None:
                    add_rows(c, rows, a, batch_axis)
        back(t, dstate, views, tmp)

    return step


def full_bptt(cell: StepBackward, dout: np.ndarray | None, dstate_n: tuple,
              dstate_at: dict | None = None) -> tuple[np.ndarray, ...]:
    """Backpropagation through time, steps T-1 .. 0, filling ``cell.grads``.

    dout: the gradient at every step's output h_t, (T, *S), or None; dstate_n: the gradient w.r.t.
    the final state, a tuple of (*S) arrays or Nones; dstate_at: None, or {t: (rows, parts)} for
    steps t < T-1 after which some batch entries have a state gradient of their own (with lengths,
    the final states of the sequences that end at step t): ``rows`` their batch indices (an int
    array), ``parts`` a tuple of their gradients (S with the batch axis cut to those rows) or Nones.
    Returns the gradient w.r.t. the initial state.
    """
    S, dt = cell.state_shape, cell.grads.dtype
    dstate = tuple([np.zeros(S, dt) if d is None else np.array(d, dtype=dt, order="C") for d in dstate_n])
    dh, tmp = dstate[0], np.empty(S, dt)
    steps = _steps(cell.grads, cell.time_axis)[::-1]  # (T, *G) view, steps T-1 .. 0
    douts = itertools.repeat(None) if dout is None else dout[::-1]
    back, times = cell.bound_step(), range(cell.T - 1, -1, -1)
    if dstate_at:
        back = _injecting(back, dstate_at, cell.batch_axis)
    if uses_scratch(cell):  # each step built in one contiguous block, then copied into grads
        scratch = np.empty(steps.shape[1:], dt)  # (*G)
        views = cell.split(scratch)
        for t, d_t, step in zip(times, douts, steps):  # noqa: B905 (repeats)
            if d_t is not None:
                dh += d_t  # the output's gradient joins the one from step t+1
            back(t, dstate, views, tmp)
            np.copyto(step, scratch)
    else:  # each step's views straight into grads
        for t, d_t, views in zip(times, douts, zip(*cell.split(steps), strict=True)):  # noqa: B905
            if d_t is not None:
                dh += d_t
            back(t, dstate, views, tmp)
    return dstate


def row_slice(offs: np.ndarray, k: int):
    """Rows of the offsets ``offs`` in a stack that starts at offset -k (a slice when contiguous)."""
    rows = offs + k
    if len(rows) == rows[-1] - rows[0] + 1:
        return slice(int(rows[0]), int(rows[-1]) + 1)
    return rows


def truncated_offsets(offs: np.ndarray | None, k: int) -> np.ndarray:
    """The offsets a state gradient can carry: from -k up to the largest incoming one."""
    hi = 0 if offs is None else int(offs[-1])
    return np.arange(-k, hi + 1)


def truncated_bptt(cell: StepBackward, dout: np.ndarray | None, offs: np.ndarray | None,
                   dstate_n: tuple, k: int, keep: bool, dstate_at: dict | None = None, carry=None):
    """Truncated BPTT of window ``k`` (module docstring), steps T-1 .. 0, filling ``cell.grads``.

    dout: (A, T, *S), the output gradients per incoming offset ``offs`` (A,), or None (then only
    the states have gradients, and the loop stops k steps before the earliest of them); dstate_n
    and dstate_at: as for ``full_bptt``, each state's gradient a loss term at its step. carry:
    None, or the whole per-offset gradient w.r.t. the state after step T-1 from a run of later
    steps (``scratchrnn.nn.segments``), a tuple of (n, *S') stacks over ``truncated_offsets(offs,
    k)`` whose batch may be a first part of this one's. Returns (dstate0, t0, per_offset,
    per_offset_offs, stack): the gradient w.r.t. the initial state; the first step that got any
    gradient; with ``keep``, the pre-activation gradients per offset, shaped (n, *grads.shape), and
    their n offsets (else None, None); and that initial-state gradient still per offset, (n, *S)
    each (what a run of earlier steps takes as its ``carry``; zero when t0 > 0).
    """
    S, dt, T = cell.state_shape, cell.grads.dtype, cell.T
    state_offs = truncated_offsets(offs, k)  # offsets -k .. max incoming
    n = len(state_offs)
    cur = tuple(np.zeros((n, *S), dt) for _ in range(cell.arity))  # (n, *S) gradient w.r.t. the state
    if carry is not None:  # its rows are this batch's first ones
        for c, a in zip(cur, carry, strict=True):
            add_rows(c, slice(0, a.shape[1 + cell.batch_axis]), a, cell.batch_axis)
    nxt = tuple(np.zeros((n, *S), dt) for _ in range(cell.arity))
    tmp = np.empty((n, *S), dt)  # (n, *S)
    steps = _steps(cell.grads, cell.time_axis)  # (T, *G) view
    zbuf = np.empty((n, *steps.shape[1:]), dt)  # (n, *G) step t's gradients per offset
    views, back_views = cell.split(zbuf), cell.split(zbuf[1:])
    per_offset = workspace.empty((n, *cell.grads.shape), dt) if keep else None  # (n, *grads.shape)
    off_steps = None if per_offset is None else per_offset.swapaxes(1, cell.time_axis + 1)  # (n, T, *G)
    rows = None if offs is None else row_slice(offs, k)  # where the incoming offsets sit
    # the state gradients are loss terms at their steps: h_n at step T-1, and those of dstate_at
    at_steps = {T - 1: (None, dstate_n), **(dstate_at or {})}
    # with no per-step gradient the only loss terms are the states', each reaching back k steps:
    # earlier steps get exactly zero, so the loop stops there
    t0 = 0 if dout is not None else max(0, min(at_steps) - k)
    if carry is not None:  # a carried term at offset d is one at step T-1-d, reaching k steps back
        t0 = max(0, min(t0, T - 1 - int(state_offs[-1]) - k))
    gate, back = cell.gate_grads, cell.state_grads
    for t in range(T - 1, t0 - 1, -1):
        if dout is not None:
            cur[0][rows] += dout[:, t]
        add = at_steps.get(t)
        if add is not None:  # a state's gradient counts as a loss term at its step (offset 0)
            entries, parts = add  # batch entries (None: all of them) and their gradients
            for c, d in zip(cur, parts, strict=True):
                if d is not None and entries is None:
                    c[k] += d
                elif d is not None:
                    add_rows(c[k], entries, d, cell.batch_axis)
        gate(t, cur, views, tmp)
        np.sum(zbuf, axis=0, out=steps[t])
        if keep:
            off_steps[:, t] = zbuf
        # a component at offset d moves to d-1 one step back; the one at -k is dropped
        back(t, tuple(c[1:] for c in cur), back_views, tuple(x[:-1] for x in nxt), tmp[1:])
        for x in nxt:
            x[-1] = 0.0
        cur, nxt = nxt, cur
    steps[:t0] = 0.0
    if keep:
        off_steps[:, :t0] = 0.0
    dstate0 = tuple(c.sum(axis=0) if t0 == 0 else np.zeros(S, dt) for c in cur)  # (*S) each
    # with t0 > 0 every component has been dropped on the way: cur is zero
    return dstate0, t0, per_offset, (state_offs if keep else None), cur


def add_offsets(acc, acc_offs, x, x_offs):
    """Sum two gradient stacks, aligning their offset axes (plain arrays when offsets are None)."""
    if acc is None:
        return x, x_offs
    if x_offs is None:
        return np.add(acc, x, out=workspace.empty(acc.shape, acc.dtype)), None
    lo, hi = min(acc_offs[0], x_offs[0]), max(acc_offs[-1], x_offs[-1])
    offs = np.arange(lo, hi + 1)
    out = workspace.zeros((len(offs),) + acc.shape[1:], acc.dtype)  # (A, T, B, F)
    out[row_slice(acc_offs, -lo)] += acc  # a slice for a run of offsets: no gathered copies
    out[row_slice(x_offs, -lo)] += x
    return out, offs
