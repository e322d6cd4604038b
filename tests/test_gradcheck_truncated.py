"""The truncated-BPTT objective (scratchrnn.gradcheck.truncated) against plain loops and backward."""

from __future__ import annotations

import numpy as np
import pytest

from scratchrnn.gradcheck import (
    check_gradients,
    numerical_gradient,
    truncated_objective,
)
from scratchrnn.nn import RNN

T, B, F, H = 5, 2, 3, 4


# -- the truncated objective -------------------------------------------------------------------
def _rnn_problem(k, bidirectional=False, num_layers=1, seed=0, batch_first=False, cell=RNN):
    """A float64 layer, input, h0 and a smooth loss of (out, h_n) with its gradient by hand:
    L = sum(w * out) + 0.5 * sum(out**2) + sum(v * h_n)."""
    gen = np.random.default_rng(seed)
    rnn = cell(F, H, num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first,
               dtype=np.float64, rng=gen)
    D = 2 if bidirectional else 1
    x = gen.standard_normal((B, T, F) if batch_first else (T, B, F))  # (T, B, F)
    h0 = 0.5 * gen.standard_normal((num_layers * D, B, H))  # (L*D, B, H)
    w = gen.standard_normal((B, T, D * H) if batch_first else (T, B, D * H))  # like out
    v = gen.standard_normal((num_layers * D, B, H))  # (L*D, B, H)

    def loss(out, h_n):
        return float(np.sum(w * out) + 0.5 * np.sum(out**2) + np.sum(v * h_n))

    out, h_n, cache = rnn.forward(x, h0)
    dx, dh0, grads = rnn.backward(w + out, v.copy(), cache, truncate=k)
    params = {**rnn.params, "x": x, "h0": h0}
    analytic = {**grads, "x": dx, "h0": dh0}
    return rnn, x, h0, loss, params, analytic


def _naive_step(p, suffix, x_t, h):
    return np.tanh(x_t @ p[f"weight_ih_l0{suffix}"].T + p[f"bias_ih_l0{suffix}"]
                   + h @ p[f"weight_hh_l0{suffix}"].T + p[f"bias_hh_l0{suffix}"])


def _naive_states(p, x, h0, bidirectional):
    """All states of a one-layer tanh RNN by a plain loop: fwd[t], rev[t] (rev after reading t)."""
    fwd, rev = np.empty((T, B, H)), np.empty((T, B, H))  # (T, B, H)
    h = h0[0]
    for t in range(T):
        h = fwd[t] = _naive_step(p, "", x[t], h)
    if bidirectional:
        h = h0[1]
        for t in reversed(range(T)):
            h = rev[t] = _naive_step(p, "_reverse", x[t], h)
    return fwd, rev


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("k", [0, 1, 3, 4])
def test_truncated_objective_matches_a_plain_loop(k, bidirectional):
    """The objective, rebuilt independently from its definition for a one-layer tanh RNN."""
    rnn, x, h0, loss, params, _ = _rnn_problem(k, bidirectional, seed=11)
    fwd_held, rev_held = _naive_states(rnn.params, x, h0, bidirectional)
    h0_held = h0.copy()
    fn = truncated_objective(rnn, x, loss, h0, truncate=k)
    gen = np.random.default_rng(12)
    for p in params.values():  # move every weight, the input and h0 away from where states were held
        p += 0.05 * gen.standard_normal(p.shape)
    D = 2 if bidirectional else 1
    out = np.empty((T, B, D * H))  # (T, B, D*H)
    h_n = np.empty((D, B, H))  # (D, B, H)
    for t in range(T):
        s = t - k - 1  # forward: held state at t-k-1, h0 held at -1, live h0 before that
        h = fwd_held[s] if s >= 0 else (h0_held[0] if s == -1 else h0[0])
        for j in range(max(0, t - k), t + 1):
            h = _naive_step(rnn.params, "", x[j], h)
        out[t, :, :H] = h
        if t == T - 1:
            h_n[0] = h
        if bidirectional:
            e = t + k + 1  # reverse: held state at t+k+1, h0 held at T, live h0 beyond
            h = rev_held[e] if e <= T - 1 else (h0_held[1] if e == T else h0[1])
            for j in reversed(range(t, min(T, t + k + 1))):
                h = _naive_step(rnn.params, "_reverse", x[j], h)
            out[t, :, H:] = h
            if t == 0:
                h_n[1] = h
    expected = loss(out, h_n)
    assert fn(None) == pytest.approx(expected, rel=1e-12, abs=1e-12)
    full = loss(*rnn.forward(x, h0)[:2])
    assert abs(full - expected) > 1e-6  # the truncated objective is a different function


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("k", [0, 2])
def test_truncated_objective_equals_loss_at_the_held_point(k, bidirectional):
    rnn, x, h0, loss, _, _ = _rnn_problem(k, bidirectional, num_layers=2, seed=13)
    fn = truncated_objective(rnn, x, loss, h0, truncate=k)
    assert fn(None) == pytest.approx(loss(*rnn.forward(x, h0)[:2]), rel=1e-12)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_truncation_is_discriminated(bidirectional):
    """Each truncated gradient passes against its own objective only."""
    k = 1
    rnn, x, h0, loss, params, analytic = _rnn_problem(k, bidirectional, num_layers=2, seed=14)
    assert check_gradients(truncated_objective(rnn, x, loss, h0, truncate=k), params, analytic).ok
    full = check_gradients(truncated_objective(rnn, x, loss, h0, truncate=None), params, analytic)
    assert not full.ok
    assert {"weight_hh_l0", "weight_hh_l1"} <= {c.name for c in full.failures}
    other = check_gradients(truncated_objective(rnn, x, loss, h0, truncate=2), params, analytic)
    assert not other.ok
    _, _, _, _, _, untruncated = _rnn_problem(None, bidirectional, num_layers=2, seed=14)
    assert not check_gradients(truncated_objective(rnn, x, loss, h0, truncate=k), params, untruncated).ok


def test_truncation_at_or_beyond_the_sequence_is_full_bptt():
    rnn, x, h0, loss, params, _ = _rnn_problem(T, bidirectional=True, seed=15)
    full = numerical_gradient(truncated_objective(rnn, x, loss, h0, truncate=None), params)
    beyond = numerical_gradient(truncated_objective(rnn, x, loss, h0, truncate=T), params)
    last = numerical_gradient(truncated_objective(rnn, x, loss, h0, truncate=T - 1), params)
    for name in params:
        np.testing.assert_array_equal(beyond[name], full[name])
    # k = T-1 still holds h0 constant for the term at T-1 (and t = 0 in reverse), nothing else
    for name in params:
        if name == "h0":
            assert np.max(np.abs(last[name] - full[name])) > 1e-3
        else:
            np.testing.assert_allclose(last[name], full[name], rtol=1e-6, atol=1e-8)


def test_truncated_objective_batch_first():
    k = 1
    rnn, x, h0, loss, params, analytic = _rnn_problem(k, bidirectional=True, seed=16, batch_first=True)
    fn = truncated_objective(rnn, x, loss, h0, truncate=k)
    report = check_gradients(fn, params, analytic)
    assert report.ok, str(report)
    assert not check_gradients(truncated_objective(rnn, x, loss, h0), params, analytic).ok


def test_truncated_objective_without_h0():
    gen = np.random.default_rng(17)
    rnn = RNN(F, H, bidirectional=True, dtype=np.float64, rng=gen)
    x = gen.standard_normal((T, B, F))  # (T, B, F)
    out, h_n, cache = rnn.forward(x)
    _, _, grads = rnn.backward(np.ones_like(out), None, cache, truncate=1)
    fn = truncated_objective(rnn, x, lambda o, h: float(np.sum(o)), truncate=1)
    assert check_gradients(fn, rnn.params, grads).ok


def test_truncated_objective_rejects_bad_layers():
    rnn32 = RNN(F, H, rng=0)
    with pytest.raises(ValueError, match="float64"):
        truncated_objective(rnn32, np.zeros((T, B, F), np.float32), lambda o, h: 0.0, truncate=1)
    dropped = RNN(F, H, num_layers=2, dropout=0.5, dtype=np.float64, rng=0)
    with pytest.raises(ValueError, match="dropout"):
        truncated_objective(dropped, np.zeros((T, B, F)), lambda o, h: 0.0, truncate=1)
    truncated_objective(dropped.eval(), np.zeros((T, B, F)), lambda o, h: 0.0, truncate=1)
    with pytest.raises(ValueError, match="truncate"):
        truncated_objective(RNN(F, H, dtype=np.float64, rng=0), np.zeros((T, B, F)), lambda o, h: 0.0,
                            truncate=-1)
    with pytest.raises(ValueError, match="recurrent layer"):
        truncated_objective(object(), np.zeros((T, B, F)), lambda o, h: 0.0)
