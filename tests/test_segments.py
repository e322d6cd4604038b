"""Padded batches run in time segments (scratchrnn.nn.segments): the plan, and the segmented run
against the same batch run as one segment, every output and gradient, float64."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from scratchrnn.nn import GRU, LSTM, RNN, segments
from scratchrnn.nn.segments import Segment, plan

FAST = {"rnn": RNN, "lstm": LSTM, "gru": GRU}


def row_steps(segs):
    return sum((s.stop - s.start) * s.rows for s in segs)


def brute_force(lengths, steps, penalty):
    """The cheapest plan by trying every set of cuts among the lengths."""
    ends = sorted(set(lengths.tolist()) - {steps})
    best = None
    for r in range(len(ends) + 1):
        for chosen in itertools.combinations(ends, r):
            if r + 1 > segments.MAX_SEGMENTS:
                continue
            bounds = [0, *chosen, steps]
            segs = [Segment(a, b, int(np.count_nonzero(lengths > a))) for a, b in itertools.pairwise(bounds)]
            cost = row_steps(segs) + penalty * (len(segs) - 1)
            if best is None or cost < best[0]:
                best = (cost, segs)
    return best


@pytest.mark.parametrize("seed", range(12))
def test_plan_is_the_cheapest_cover(seed):
    rng = np.random.default_rng(seed)
    B = int(rng.integers(1, 9))
    steps = int(rng.integers(1, 12))
    lengths = np.sort(rng.integers(1, steps + 1, size=B))[::-1]
    lengths[0] = steps
    segs = plan(lengths, steps)
    assert segs[0].start == 0 and segs[-1].stop == steps and segs[0].rows == B
    assert all(a.stop == b.start for a, b in itertools.pairwise(segs))
    assert all(s.rows == np.count_nonzero(lengths > s.start) for s in segs)
    cost = row_steps(segs) + segments.SEGMENT_COST_STEPS * B * (len(segs) - 1)
    assert cost == pytest.approx(brute_force(lengths, steps, segments.SEGMENT_COST_STEPS * B)[0])


def test_plan_of_equal_lengths_is_one_segment_and_of_a_large_batch_is_bounded():
    assert plan(np.array([7, 7, 7]), 7) == [Segment(0, 7, 3)]
    rng = np.random.default_rng(0)
    lengths = np.sort(rng.integers(1, 2001, size=5000))[::-1]
    segs = plan(lengths, int(lengths[0]))
    assert 1 < len(segs) <= segments.MAX_SEGMENTS
    assert row_steps(segs) < 1.2 * lengths.sum()  # against 2x for the whole batch run to the end


def run(cell, seed, truncate, bi, token, batch_first, cost, monkeypatch):
    """forward and backward of a stacked layer with lengths, with the given segment cost (0: cut at
    every length; a huge one: a single segment)."""
    monkeypatch.setattr(segments, "SEGMENT_COST_STEPS", cost)
    rng = np.random.default_rng(seed)
    T, B, F, H, L = 7, 5, 3, 4, 2
    layer = FAST[cell](F, H, num_layers=L, bidirectional=bi, batch_first=batch_first, dtype=np.float64,
                       rng=seed)
    lens = rng.integers(1, T + 1, size=B)
    lens[rng.integers(B)] = T
    if token:
        x = rng.integers(0, F, size=(T, B))
        x[np.arange(T)[:, None] >= lens] = -1
    else:
        x = rng.standard_normal((T, B, F))
        x[np.arange(T)[:, None] >= lens] = np.nan
    D, arity = (2 if bi else 1), (2 if cell == "lstm" else 1)
    h0 = [0.5 * rng.standard_normal((L * D, B, H)) for _ in range(arity)]
    dh_n = [rng.standard_normal((L * D, B, H)) for _ in range(arity)]
    dout = rng.standard_normal((T, B, D * H))
    if batch_first:
        x = np.ascontiguousarray(x.swapaxes(0, 1))
        dout = np.ascontiguousarray(dout.swapaxes(0, 1))
    wrap = (lambda p: p[0]) if arity == 1 else tuple
    out, h_n, cache = layer.forward(x, wrap(h0), lengths=lens)
    dx, dh0, grads = layer.backward(dout, wrap(dh_n), cache, truncate=truncate)
    states = layer.sequence_states(cache)
    return cache, out, h_n, dx, dh0, grads, states


def _listed(v):
    return v if isinstance(v, (tuple, list)) else [v]


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("truncate", [None, 0, 2])
@pytest.mark.parametrize("bi, token, batch_first", [(True, False, False), (False, True, True),
                                                    (True, True, False), (False, False, True)])
def test_segments_give_what_one_segment_gives(cell, truncate, bi, token, batch_first, monkeypatch):
    """Cut at every length or run as one segment: the same outputs, states, final states, dx,
    dh0 and weight gradients (1e-12), for full and truncated BPTT, stacked, both directions."""
    many = run(cell, 3, truncate, bi, token, batch_first, 0.0, monkeypatch)
    one = run(cell, 3, truncate, bi, token, batch_first, 1e9, monkeypatch)
    assert many[0].plan is not None and len(many[0].plan.segments) > 2
    assert one[0].plan is None
    for a, b in zip(many[1:], one[1:], strict=True):
        if a is None:
            assert b is None
            continue
        if isinstance(a, dict):
            assert a.keys() == b.keys()
            a, b = [a[k] for k in sorted(a)], [b[k] for k in sorted(b)]
        for p, q in zip(_listed(a), _listed(b), strict=True):
            np.testing.assert_allclose(p, q, rtol=1e-12, atol=1e-12)


def test_only_the_running_rows_are_computed(monkeypatch):
    """Each segment's cell run sees the rows still running at its start and no others."""
    seen = []
    forward = RNN._direction_forward

    def spy(self, layer, suffix, x, state0):
        seen.append(x.shape[:2])
        return forward(self, layer, suffix, x, state0)

    monkeypatch.setattr(RNN, "_direction_forward", spy)
    monkeypatch.setattr(segments, "SEGMENT_COST_STEPS", 0.0)
    layer = RNN(2, 3, dtype=np.float64, rng=0)
    layer.forward(np.zeros((6, 4, 2)), lengths=[2, 6, 1, 4])
    assert seen == [(1, 4), (1, 3), (2, 2), (2, 1)]  # (steps, rows) per segment


def _forward_backward(layer, x, lens, h0, dout, dh_n, truncate):
    out, h_n, cache = layer.forward(x, h0, lengths=lens)
    dx, dh0, grads = layer.backward(dout, dh_n, cache, truncate=truncate)
    return cache, [out, *_listed(h_n), dx, *_listed(dh0), *[grads[k] for k in sorted(grads)]]


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("truncate", [None, 2])
def test_a_sorted_read_only_batch_with_padding_inside_segments(cell, truncate, monkeypatch):
    """The default plan with few cuts (the quantile branch) leaves sequences ending inside
    segments; on a batch already sorted longest first, read-only, nothing of the caller's is
    written, and the results equal the one-segment run's."""
    monkeypatch.setattr(segments, "MAX_CUTS", 3)
    rng = np.random.default_rng(4)
    lens = np.array([12, 11, 9, 9, 7, 5, 4, 2])
    T, B, F, H = 12, len(lens), 3, 4
    layer = FAST[cell](F, H, num_layers=2, bidirectional=True, dtype=np.float64, rng=1)
    x = rng.standard_normal((T, B, F))
    x[np.arange(T)[:, None] >= lens] = np.nan
    dout = rng.standard_normal((T, B, 2 * H))
    arity = 2 if cell == "lstm" else 1
    h0 = [0.5 * rng.standard_normal((4, B, H)) for _ in range(arity)]
    dh_n = [rng.standard_normal((4, B, H)) for _ in range(arity)]
    wrap = (lambda p: p[0]) if arity == 1 else tuple
    for a in (x, dout, *h0, *dh_n):
        a.flags.writeable = False
    x_before, dout_before = x.copy(), dout.copy()
    cache, many = _forward_backward(layer, x, lens, wrap(h0), dout, wrap(dh_n), truncate)
    assert cache.plan is not None and cache.plan.order is None and cache.plan.padding
    np.testing.assert_array_equal(x, x_before)
    np.testing.assert_array_equal(dout, dout_before)
    monkeypatch.setattr(segments, "SEGMENT_COST_STEPS", 1e9)
    _, one = _forward_backward(layer, x, lens, wrap(h0), dout, wrap(dh_n), truncate)
    for a, b in zip(many, one, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_dropout_with_lengths_is_differentiated_exactly(monkeypatch):
    """Dropout between layers on a segmented batch: with the masks drawn from a fixed seed, backward
    is the gradient of forward by central differences, and nothing past a length is kept."""
    from scratchrnn.gradcheck import check_gradients

    monkeypatch.setattr(segments, "SEGMENT_COST_STEPS", 0.0)
    rng = np.random.default_rng(5)
    layer = GRU(2, 3, num_layers=2, dropout=0.4, bidirectional=True, dtype=np.float64, rng=2)
    lens = np.array([2, 6, 4])
    x = rng.standard_normal((6, 3, 2))
    x[np.arange(6)[:, None] >= lens] = 0.0
    w = rng.standard_normal((6, 3, 6))
    out, _, cache = layer.forward(x, rng=7, lengths=lens)
    assert cache.plan is not None and cache.masks[0] is not None
    assert not out[np.arange(6)[:, None] >= lens].any()
    dx, _, grads = layer.backward(w, None, cache)

    def loss(_):
        return float(np.sum(w * layer.forward(x, rng=7, lengths=lens)[0]))

    report = check_gradients(loss, {**layer.params, "x": x}, {**grads, "x": dx})
    assert report.ok, report
