"""A padded batch run in time segments, so that sequences that have ended cost nothing.

With lengths (``scratchrnn.nn.lengths``) every sequence of a batch could run to the longest one's
end, its padding steps computed and then masked. Instead, ``RecurrentBase`` sorts the batch by
length, longest first, so that the sequences still running at any step are a prefix of the batch,
and cuts time into segments (:func:`plan`): segment s covers the steps ``start .. stop - 1`` and
runs only the first ``rows`` sequences, those still running at ``start``. A sequence that ends
inside a segment runs to the segment's end, as in the unsegmented run; that waste is what
:func:`plan` weighs against the cost of one more segment (a segment is one more call of the cell's
loops, weight preparation and products).

Within a segment nothing is new: it is a batch of ``rows`` sequences with the lengths they have
inside it (``local``, a :class:`~scratchrnn.nn.lengths.Lengths`; those running past its end have the
segment's length), run by the cell's own forward from the states the segment before left. Backward
runs the segments last to first: the gradient w.r.t. a segment's initial state is the next earlier
segment's final-state gradient for those rows, entering at its last step like any final state. With
truncated BPTT that gradient is a stack over offsets (``scratchrnn.nn.timeloop``), carried whole
from one segment to the next (``truncated_bptt``'s ``carry``), so the truncated gradient is the
unsegmented one's exactly.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import timeloop
from .lengths import Lengths

__all__ = ["MAX_CUTS", "MAX_SEGMENTS", "SEGMENT_COST_STEPS", "Plan", "Segment", "Segmented", "bptt",
           "clear_padding", "forward", "make_plan", "plan", "restored", "sorted_copy", "states"]

MAX_SEGMENTS = 16  # segments per batch at most
MAX_CUTS = 64  # steps where a segment may end, at most
# What one more segment costs, in steps of the whole batch: the calls and the weights prepared
# again per segment (benchmarks/README.md, "Lengths").
SEGMENT_COST_STEPS = 1.0


class Segment(NamedTuple):
    """Steps ``start .. stop - 1`` of the sorted batch's first ``rows`` sequences."""

    start: int
    stop: int
    rows: int


class Plan(NamedTuple):
    """How a batch with lengths runs: its segments; the order that sorts it longest first (entry i
    is the caller's sequence order[i]), or None when it is sorted; and the padding steps the
    segments compute, (row, its length, the stop of its last segment) for each row that ends
    before its last segment does (``clear_padding``)."""

    segments: list[Segment]
    order: np.ndarray | None
    padding: list[tuple[int, int, int]]


class Segmented(NamedTuple):
    """One layer and direction run in segments: each segment, its local lengths (None where every
    row runs through it) and the cell's cache of it."""

    segments: list[Segment]
    local: list[Lengths | None]
    caches: list
    lengths: np.ndarray  # (B,) the sorted batch's lengths


def plan(lengths: np.ndarray, steps: int) -> list[Segment]:
    """Segments for lengths sorted longest first, ``lengths[0] == steps``: the cuts, at steps where
    some sequence has ended, that make the fewest row-steps, one more segment counting as
    ``SEGMENT_COST_STEPS`` steps of the whole batch; at most ``MAX_SEGMENTS``, and cuts only at
    ``MAX_CUTS`` lengths (spread over the batch) when it has more distinct ones."""
    B = len(lengths)
    ends = np.unique(lengths)  # ascending, the last is ``steps``
    if len(ends) > MAX_CUTS:  # cut at lengths spread evenly over the batch
        ends = np.unique(np.quantile(lengths, np.linspace(0, 1, MAX_CUTS), method="higher"))
    cuts = np.concatenate([[0], ends])  # (m+1,)
    alive = B - np.searchsorted(lengths[::-1], cuts, side="right")  # (m+1,) rows running at each cut
    # cost[i, j]: the row-steps of one segment from cuts[i] to cuts[j] (i < j)
    span = cuts[None, :] - cuts[:, None]  # (m+1, m+1)
    cost = np.where(span > 0, alive[:, None] * span, np.inf)
    best = [np.where(np.arange(len(cuts)) == 0, 0.0, np.inf)]  # best[s][j]: s segments to cuts[j]
    came = []
    for _ in range(MAX_SEGMENTS):
        total = best[-1][:, None] + cost  # (m+1, m+1) the last segment from cuts[i] to cuts[j]
        came.append(total.argmin(axis=0))
        best.append(total.min(axis=0))
    finals = np.array([b[-1] for b in best[1:]]) + SEGMENT_COST_STEPS * B * np.arange(MAX_SEGMENTS)
    s, j = int(np.argmin(finals)) + 1, len(cuts) - 1
    out = []
    while s:
        i = int(came[s - 1][j])
        out.append(Segment(int(cuts[i]), int(cuts[j]), int(alive[i])))
        s, j = s - 1, i
    return out[::-1]


def make_plan(seq: Lengths) -> Plan | None:
    """The plan of a batch with lengths, or None when it runs best as one segment of every row."""
    order = np.argsort(-seq.lengths, kind="stable")  # (B,)
    lengths = seq.lengths[order]  # (B,) longest first
    segs = plan(lengths, seq.steps)
    if len(segs) == 1:
        return None
    padding = []
    for seg in segs:
        ends = np.flatnonzero((lengths[: seg.rows] > seg.start) & (lengths[: seg.rows] < seg.stop))
        padding += [(int(b), int(lengths[b]), seg.stop) for b in ends]
    return Plan(segs, None if np.array_equal(order, np.arange(seq.B)) else order, padding)


def clear_padding(a: np.ndarray, padding: list, fill: np.ndarray | None = None) -> np.ndarray:
    """a (steps, B, ...) with the padding steps of a plan set to zero (or, with ``fill`` (B, ...),
    to each row's ``fill[b]``), in place; the rest of the padding is never read."""
    for b, n, stop in padding:
        a[n:stop, b] = 0 if fill is None else fill[b]
    return a


def sorted_copy(a: np.ndarray, p: Plan, steps: int) -> np.ndarray:
    """a (T, B, ...) in the caller's order -> its first ``steps`` steps in the plan's order, a new
    C-contiguous array."""
    a = a[:steps]
    return np.array(a, order="C") if p.order is None else np.take(a, p.order, axis=1)  # never a's memory


def restored(a: np.ndarray, p: Plan, T: int) -> np.ndarray:
    """a (steps, B, K) in the plan's order -> (T, B, K) in the caller's order, zeros after the steps."""
    steps, B, K = a.shape
    out = np.empty((T, B, K), a.dtype) if steps == T else np.zeros((T, B, K), a.dtype)
    if p.order is None:
        np.copyto(out[:steps], a)
    else:  # a gather by the inverse order (1.2 ms, against 1.8 ms for the scattered assignment
        # out[:, order] = a, for a (100, 64, 128) float32 batch); mode="raise" would buffer out
        np.take(a, np.argsort(p.order), axis=1, out=out[:steps], mode="clip")
    return out


def local_lengths(lengths: np.ndarray, seg: Segment) -> Lengths | None:
    """The lengths of the segment's rows inside it, or None when every row runs through it."""
    inside = np.minimum(lengths[: seg.rows], seg.stop) - seg.start  # (rows,)
    n = seg.stop - seg.start
    return None if inside.min() == n else Lengths(inside, seg.rows, n)


def forward(run, states_of, x: np.ndarray, state0: tuple, seq: Lengths, p: Plan):
    """One layer and direction over x (steps, B, F) (sorted, the plan's padding cleared) from state0
    (a tuple of (B, H)), segment by segment: (out (steps, B, H), zero past each length; each
    sequence's final state (a tuple of (B, H)); ``Segmented``). ``run(x, state0) -> (out, final
    state, cache)`` is the cell's forward of the layer and direction, ``states_of(cache)`` its
    states at every step."""
    segs = p.segments
    steps, B = x.shape[:2]
    H, dt = state0[0].shape[1], state0[0].dtype
    out = np.zeros((steps, B, H), dt)  # (steps, B, H)
    finals = tuple(np.empty((B, H), dt) for _ in state0)
    state = state0
    local, caches = [], []
    for seg in segs:
        lens = seq.lengths[: seg.rows]  # (rows,) the rows running at the segment's start
        x_s = x[seg.start : seg.stop, : seg.rows]  # (n, rows, F)
        state0_s = tuple(s[: seg.rows] for s in state)
        out_s, _, cache = run(x_s, state0_s)
        out[seg.start : seg.stop, : seg.rows] = out_s
        states = states_of(cache)  # (n, rows, H) each
        ending = np.flatnonzero(lens <= seg.stop)  # (e,) the rows whose last step is in the segment
        for f, st in zip(finals, states, strict=True):
            f[ending] = st[lens[ending] - 1 - seg.start, ending]
        state = tuple(st[-1] for st in states)  # (rows, H): the rows running on
        local.append(local_lengths(seq.lengths, seg))
        caches.append(cache)
    return clear_padding(out, p.padding), finals, Segmented(segs, local, caches, seq.lengths)


def states(states_of, cached: Segmented, B: int) -> tuple[np.ndarray, ...]:
    """Every step's states (steps, B, H) of a segmented run, zero where a segment did not run a row
    (``states_of`` as for ``forward``)."""
    segs = cached.segments
    out = None
    for seg, cache in zip(segs, cached.caches, strict=True):
        parts = states_of(cache)  # (n, rows, H) each
        if out is None:
            out = tuple(np.zeros((segs[-1].stop, B, p.shape[2]), p.dtype) for p in parts)
        for o, p in zip(out, parts, strict=True):
            o[seg.start : seg.stop, : seg.rows] = p
    return out


def bptt(backward_steps, cached: Segmented, gd, gd_offs, dstate_n: tuple, k, keep, B: int, F: int):
    """BPTT of a segmented run, last segment first (module docstring): from gd (.., steps, B, H) (or
    None) and the final-state gradients (B, H) each (or Nones) to (dx (.., steps, B, F) or None,
    dx's offsets or None, dstate0 (B, H) each, the weight gradients summed over the segments).
    ``backward_steps(cache)`` is the cell's ``timeloop.StepBackward`` of a segment's cache."""
    segs = cached.segments
    steps = segs[-1].stop
    grads: dict[str, np.ndarray] = {}
    dx = dxo = None
    carry = None  # the gradient w.r.t. the next later segment's initial state (its rows)
    for seg, loc, cache in reversed(list(zip(segs, cached.local, cached.caches, strict=True))):
        cell = backward_steps(cache)
        g_s = None if gd is None else gd[..., seg.start : seg.stop, : seg.rows, :]
        # the final states of the rows that end in this segment; the others run on (``carry``)
        running_on = int(np.count_nonzero(cached.lengths > seg.stop))
        dsn = tuple([None if s is None else _ending_rows(s, seg.rows, running_on) for s in dstate_n])
        dsn_state, at = (dsn, None) if loc is None else loc.final_grads(dsn, cell.to_state)
        dsn_state = tuple([None if s is None else cell.to_state(s) for s in dsn_state])
        dout = None if g_s is None else cell.to_state(g_s)
        if k is None:
            if carry is not None:  # the later segment's rows continue from this segment's last step
                dsn_state = tuple(_plus_first_rows(d, c, cell) for d, c in zip(dsn_state, carry, strict=True))
            dst0 = timeloop.full_bptt(cell, dout, dsn_state, at)
            t0, per_offset, offs = 0, None, None
            carry = dst0
        else:
            dst0, t0, per_offset, offs, carry = timeloop.truncated_bptt(
                cell, dout, gd_offs, dsn_state, k, keep, at, carry=carry)
        for name, g in cell.weight_grads(t0).items():
            grads[name] = g if name not in grads else np.add(grads[name], g, out=grads[name])
        dx_s = cell.input_grad(cell.grads if per_offset is None else per_offset, t0)
        if dx_s is not None:
            if dx is None:
                dx = np.zeros((*dx_s.shape[:-3], steps, B, F), dx_s.dtype)  # (.., steps, B, F)
                dxo = offs
            dx[..., seg.start : seg.stop, : seg.rows, :] = dx_s
    # the first segment runs every row (each sequence has a step), so its initial state is h0
    dstate0 = tuple(cell.from_state(c if k is None else c.sum(axis=0)) for c in carry)  # (B, H) each
    return dx, dxo, dstate0, grads


def _ending_rows(s: np.ndarray, rows: int, running_on: int) -> np.ndarray:
    """Final-state gradients s (B, H) of a segment's first ``rows`` rows, zero on the first
    ``running_on`` of them (they end in a later segment)."""
    out = s[:rows].copy()  # (rows, H)
    out[:running_on] = 0.0
    return out


def _plus_first_rows(d, c, cell):
    """A final-state gradient of the segment's rows (state layout, or None) plus ``c`` on its
    first rows, as a new array."""
    out = np.zeros(cell.state_shape, c.dtype) if d is None else np.array(d, copy=True)
    timeloop.add_rows(out, slice(0, c.shape[cell.batch_axis]), c, cell.batch_axis)
    return out
