"""The shared time loops (scratchrnn.nn.timeloop) on a cell whose gradients are known in closed form,
and their helpers. The real cells run through these loops in test_rnn, test_lstm, test_gru and
test_reference."""

from __future__ import annotations

import numpy as np
import pytest

from scratchrnn.nn import timeloop


class ScaledSum(timeloop.StepBackward):
    """h_t = a * h_{t-1} + x_t elementwise: the pre-activation gradient is dh_t, and
    dh_{t-1} = a * dh_t. ``feature_major`` keeps grads (H, T, B) with time on axis 1, as the LSTM."""

    arity = 1

    def __init__(self, a: np.ndarray, T: int, B: int, feature_major: bool = False):
        H = a.shape[0]
        self.a, self.T = a, T
        self.time_axis = 1 if feature_major else 0
        self.state_shape = (H, B) if feature_major else (B, H)
        self.grads = np.full((H, T, B) if feature_major else (T, B, H), np.nan)
        self.scale = a[:, None] if feature_major else a

    def gate_grads(self, t, dstate, views, tmp):
        np.copyto(views[0], dstate[0])

    def state_grads(self, t, dstate, views, out, tmp):
        np.multiply(views[0], self.scale, out=out[0])


def closed_form(a, dout, k=None):
    """dz_s = sum over t >= s (and t - s <= k) of dout_t * a**(t - s); (T, B, H)."""
    T = dout.shape[0]
    dz = np.zeros_like(dout)
    for s in range(T):
        for t in range(s, T if k is None else min(T, s + k + 1)):
            dz[s] += dout[t] * a ** (t - s)
    return dz


@pytest.fixture
def case():
    rng = np.random.default_rng(0)
    T, B, H = 6, 2, 3
    return rng.uniform(0.5, 1.5, H), rng.standard_normal((T, B, H)), T, B, H


def test_full_bptt_gives_the_closed_form(case):
    a, dout, T, B, H = case
    cell = ScaledSum(a, T, B)
    dh0 = timeloop.full_bptt(cell, dout, (None,))
    np.testing.assert_allclose(cell.grads, closed_form(a, dout), rtol=1e-13)
    np.testing.assert_allclose(dh0[0], closed_form(a, dout)[0] * a, rtol=1e-13)  # h_{-1} is one step further


@pytest.mark.parametrize("scratch", [0, 1 << 30], ids=["into grads", "via scratch"])
def test_full_bptt_feature_major_steps_both_ways(case, monkeypatch, scratch):
    """Strided steps (time not the first axis) are written in place or built in a contiguous scratch
    array and copied, by their size; both give the same numbers."""
    monkeypatch.setattr(timeloop, "SCRATCH_STEP_ELEMENTS", scratch)
    a, dout, T, B, H = case
    cell = ScaledSum(a, T, B, feature_major=True)
    dh0 = timeloop.full_bptt(cell, np.ascontiguousarray(dout.transpose(0, 2, 1)), (None,))
    np.testing.assert_allclose(cell.grads.transpose(1, 2, 0), closed_form(a, dout), rtol=1e-13)
    np.testing.assert_allclose(dh0[0].T, closed_form(a, dout)[0] * a, rtol=1e-13)


def test_full_bptt_takes_the_final_state_gradient_without_changing_it(case):
    a, dout, T, B, H = case
    dh_n = np.ones((B, H))
    cell = ScaledSum(a, T, B)
    timeloop.full_bptt(cell, None, (dh_n,))
    np.testing.assert_allclose(cell.grads, a ** np.arange(T - 1, -1, -1)[:, None, None] * np.ones((T, B, H)))
    np.testing.assert_array_equal(dh_n, 1.0)


@pytest.mark.parametrize("k", [0, 1, 3, 5, 9])
def test_truncated_bptt_gives_the_closed_form(case, k):
    a, dout, T, B, H = case
    cell = ScaledSum(a, T, B)
    offs_in = np.zeros(1, np.int64)  # the top layer's output gradients all sit at offset 0
    dh0, t0, per_offset, offs, stack = timeloop.truncated_bptt(cell, dout[None], offs_in, (None,), k, True)
    expected = closed_form(a, dout, k)
    np.testing.assert_allclose(cell.grads, expected, rtol=1e-13, atol=1e-15)
    assert t0 == 0
    # per offset d = s - t: the component of dz_s from the term at t = s - d
    assert list(offs) == list(range(-k, 1))
    for j, d in enumerate(offs):
        for s in range(T):
            t = s - d
            want = dout[t] * a ** (t - s) if 0 <= t < T else 0.0
            np.testing.assert_allclose(per_offset[j, s], want, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(per_offset.sum(axis=0), cell.grads, rtol=1e-13)
    # h_{-1} gets the terms t < k only: the term at t = k holds it constant
    want0 = sum((dout[t] * a ** (t + 1) for t in range(min(k, T))), np.zeros((B, H)))
    np.testing.assert_allclose(dh0[0], want0, rtol=1e-13, atol=1e-15)
    assert stack[0].shape == (len(offs), B, H)  # the same gradient, still per offset
    np.testing.assert_array_equal(stack[0].sum(axis=0), dh0[0])


def test_truncated_bptt_from_the_final_state_alone_stops_early(case):
    """With only h_n's gradient (a term at T-1), steps before T-1-k get nothing and are not visited."""
    a, _, T, B, H = case
    k = 2
    visited = []
    cell = ScaledSum(a, T, B)
    gate = cell.gate_grads
    cell.gate_grads = lambda t, *rest: (visited.append(t), gate(t, *rest))
    dh0, t0, _, _, _ = timeloop.truncated_bptt(cell, None, None, (np.ones((B, H)),), k, False)
    assert t0 == T - 1 - k and visited == list(range(T - 1, t0 - 1, -1))
    assert np.all(cell.grads[:t0] == 0.0)
    np.testing.assert_allclose(cell.grads[t0:, 0, :], a ** np.arange(k, -1, -1)[:, None])
    np.testing.assert_array_equal(dh0[0], 0.0)


def test_view_as_never_copies():
    a = np.arange(24.0).reshape(2, 3, 4)
    v = timeloop.view_as(a, (6, 4))
    assert np.shares_memory(v, a) and v.shape == (6, 4)
    with pytest.raises(AttributeError):
        timeloop.view_as(a.transpose(2, 1, 0), (24,))  # would need a copy
    first = a[0]
    assert timeloop.rows(a).shape == (6, 4) and timeloop.rows(first) is first


def test_offsets_helpers():
    assert list(timeloop.truncated_offsets(None, 2)) == [-2, -1, 0]
    assert list(timeloop.truncated_offsets(np.array([-1, 0, 3]), 2)) == [-2, -1, 0, 1, 2, 3]
    assert timeloop.row_slice(np.array([-1, 0, 1]), 2) == slice(1, 4)
    assert list(timeloop.row_slice(np.array([-1, 1]), 2)) == [1, 3]
    x, y = np.ones((2, 1, 1, 1)), 2 * np.ones((3, 1, 1, 1))
    total, offs = timeloop.add_offsets(x, np.array([0, 1]), y, np.array([-1, 0, 1]))
    assert list(offs) == [-1, 0, 1] and total[:, 0, 0, 0].tolist() == [2.0, 3.0, 3.0]
    total, offs = timeloop.add_offsets(None, None, y, None)
    assert total is y and offs is None
