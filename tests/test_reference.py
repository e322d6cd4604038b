"""The reference implementation (scratchrnn.nn.reference): against PyTorch, against finite
differences, and the fast layers against it (float64, 1e-12), on hypothesis-drawn sizes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from scratchrnn.functional import one_hot
from scratchrnn.gradcheck import check_gradients
from scratchrnn.nn import GRU, LSTM, RNN, reference

torch = pytest.importorskip("torch")

from gated_cases import gru_cell, lstm_cell  # noqa: E402  (torch cells written from the equations)
from torch_reference import (  # noqa: E402
    load_into_torch,
    rnn_cell,
    torch_reference_backward,
    truncated_reference,
)

TOL = 1e-12
FAST = {"rnn": RNN, "lstm": LSTM, "gru": GRU}
TORCH = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}
ARITY = {"rnn": 1, "lstm": 2, "gru": 1}
TORCH_ACTIVATIONS = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid,
                     "identity": lambda z: z}


def torch_cell(cell, nonlinearity):
    return {"lstm": lstm_cell, "gru": gru_cell}.get(cell) or rnn_cell(TORCH_ACTIVATIONS[nonlinearity])


def wrap(parts, arity):
    return parts[0] if arity == 1 else tuple(parts)


def parts(state, arity):
    return (state,) if arity == 1 else tuple(state)


def close(a, b, what):
    np.testing.assert_allclose(a, b, rtol=TOL, atol=TOL, err_msg=what)


def problem(cell, nonlinearity, T, B, F, H, L, bi, bias, seed, dout_given=True, state_given=(True, True)):
    """A float64 fast layer with its input, h0, dout and dh_n (entries None where not given)."""
    rng = np.random.default_rng(seed)
    kwargs = {"nonlinearity": nonlinearity} if cell == "rnn" else {}
    layer = FAST[cell](F, H, num_layers=L, bias=bias, bidirectional=bi, dtype=np.float64, rng=seed, **kwargs)
    D, arity = 2 if bi else 1, ARITY[cell]
    x = rng.standard_normal((T, B, F))
    h0 = wrap([0.5 * rng.standard_normal((L * D, B, H)) for _ in range(arity)], arity)
    dout = rng.standard_normal((T, B, D * H)) if dout_given else None
    dh_n = [rng.standard_normal((L * D, B, H)) if state_given[j] else None for j in range(arity)]
    dh_n = dh_n[0] if arity == 1 else tuple(dh_n)
    return layer, x, h0, dout, dh_n


cells = st.sampled_from([("rnn", "tanh"), ("rnn", "relu"), ("rnn", "sigmoid"), ("rnn", "identity"),
                         ("lstm", None), ("gru", None)])


@settings(max_examples=40, deadline=None)
@given(cell=cells, T=st.integers(1, 5), B=st.integers(1, 3), F=st.integers(1, 3), H=st.integers(1, 3),
       L=st.integers(1, 2), bi=st.booleans(), bias=st.booleans(), seed=st.integers(0, 2**31 - 1))
@example(cell=("lstm", None), T=1, B=1, F=1, H=1, L=1, bi=False, bias=True, seed=0)
def test_reference_full_bptt_matches_torch(cell, T, B, F, H, L, bi, bias, seed):
    (name, nl) = cell
    if name == "rnn" and nl not in ("tanh", "relu"):
        nl = "tanh"  # torch.nn.RNN has only these two; the others are checked in the truncated test
    layer, x, h0, dout, dh_n = problem(name, nl or "tanh", T, B, F, H, L, bi, bias, seed)
    extra = {"nonlinearity": nl} if name == "rnn" else {}
    theirs = getattr(torch.nn, TORCH[name])(F, H, num_layers=L, bias=bias, bidirectional=bi,
                                            dtype=torch.float64, **extra)
    load_into_torch(layer.params, theirs)
    r_out, r_hn, r_dx, r_dh0, r_grads = torch_reference_backward(theirs, x, h0, dout, dh_n)
    out, h_n, cache = reference.forward(name, layer.params, x, h0, nonlinearity=nl or "tanh")
    dx, dh0, grads = reference.backward(cache, layer.params, dout, dh_n)
    close(out, r_out, "out")
    for a, b in zip(parts(h_n, ARITY[name]), parts(r_hn, ARITY[name]), strict=True):
        close(a, b, "h_n")
    close(dx, r_dx, "dx")
    for a, b in zip(parts(dh0, ARITY[name]), parts(r_dh0, ARITY[name]), strict=True):
        close(a, b, "dh0")
    assert list(grads) == list(layer.params)
    for k, g in grads.items():
        close(g, r_grads[k], k)


@settings(max_examples=40, deadline=None)
@given(cell=cells, T=st.integers(1, 6), B=st.integers(1, 2), H=st.integers(1, 3), L=st.integers(1, 2),
       bi=st.booleans(), bias=st.booleans(), k=st.integers(0, 6), seed=st.integers(0, 2**31 - 1))
def test_reference_truncated_bptt_matches_a_detaching_torch_loop(cell, T, B, H, L, bi, bias, k, seed):
    """One windowed pass per loss term (the reference) against autograd through a loop that detaches
    the states at each term's cut (tests/torch_reference.py): two unrelated ways to the same gradient."""
    name, nl = cell
    layer, x, h0, dout, dh_n = problem(name, nl or "tanh", T, B, 2, H, L, bi, bias, seed)
    _, _, cache = reference.forward(name, layer.params, x, h0, nonlinearity=nl or "tanh")
    dx, dh0, grads = reference.backward(cache, layer.params, dout, dh_n, truncate=k)
    D = 2 if bi else 1
    r_dx, r_dh0, r_grads = truncated_reference(torch_cell(name, nl), layer.params, x, h0, dout, dh_n, L, D, k,
                                               state_arity=ARITY[name])
    close(dx, r_dx, "dx")
    for a, b in zip(parts(dh0, ARITY[name]), parts(r_dh0, ARITY[name]), strict=True):
        close(a, b, "dh0")
    for key, g in grads.items():
        close(g, r_grads[key], key)


@settings(max_examples=80, deadline=None)
@given(cell=cells, T=st.integers(1, 6), B=st.integers(1, 3), F=st.integers(1, 3), H=st.integers(1, 3),
       L=st.integers(1, 2), bi=st.booleans(), bias=st.booleans(), k=st.one_of(st.none(), st.integers(0, 7)),
       dout_given=st.booleans(), state_given=st.tuples(st.booleans(), st.booleans()),
       seed=st.integers(0, 2**31 - 1))
@example(cell=("gru", None), T=1, B=1, F=1, H=1, L=1, bi=False, bias=True, k=None, dout_given=True,
         state_given=(True, True), seed=0)
@example(cell=("lstm", None), T=6, B=2, F=2, H=3, L=2, bi=True, bias=True, k=1, dout_given=False,
         state_given=(True, False), seed=1)
def test_fast_layers_match_the_reference(cell, T, B, F, H, L, bi, bias, k, dout_given, state_given, seed):
    name, nl = cell
    layer, x, h0, dout, dh_n = problem(name, nl or "tanh", T, B, F, H, L, bi, bias, seed, dout_given,
                                       state_given)
    out, h_n, fast_cache = layer.forward(x, h0)
    r_out, r_hn, cache = reference.forward(name, layer.params, x, h0, nonlinearity=nl or "tanh")
    close(out, r_out, "out")
    for a, b in zip(parts(h_n, ARITY[name]), parts(r_hn, ARITY[name]), strict=True):
        close(a, b, "h_n")
    dx, dh0, grads = layer.backward(dout, dh_n, fast_cache, truncate=k)
    r_dx, r_dh0, r_grads = reference.backward(cache, layer.params, dout, dh_n, truncate=k)
    close(dx, r_dx, "dx")
    for a, b in zip(parts(dh0, ARITY[name]), parts(r_dh0, ARITY[name]), strict=True):
        close(a, b, "dh0")
    for key, g in grads.items():
        close(g, r_grads[key], key)


@pytest.mark.parametrize("name", sorted(FAST))
@pytest.mark.parametrize("k", [None, 2])
def test_fast_token_ids_match_the_reference_on_one_hot_input(name, k):
    V, T, B, H = 7, 5, 3, 4
    layer = FAST[name](V, H, num_layers=2, dtype=np.float64, rng=3)
    ids = np.random.default_rng(4).integers(0, V, size=(T, B))
    out, _, fast_cache = layer.forward(ids)
    r_out, _, cache = reference.forward(name, layer.params, one_hot(ids, V, np.float64))
    close(out, r_out, "out")
    dout = np.random.default_rng(5).standard_normal(out.shape)
    _, _, grads = layer.backward(dout, None, fast_cache, truncate=k)
    _, _, r_grads = reference.backward(cache, layer.params, dout, None, truncate=k)
    for key, g in grads.items():
        close(g, r_grads[key], key)


@pytest.mark.parametrize(("name", "nl"), [("rnn", "tanh"), ("rnn", "relu"), ("rnn", "sigmoid"),
                                          ("rnn", "identity"), ("lstm", "tanh"), ("gru", "tanh")])
def test_each_step_backward_matches_finite_differences(name, nl):
    """A step and its backward alone: dL/d(x_t, state, weights) for L = <g, new state>."""
    rng = np.random.default_rng(11)
    B, F, H, G = 3, 2, 4, {"rnn": 1, "lstm": 4, "gru": 3}[name]
    arity = ARITY[name]
    w = reference.Weights(*(rng.standard_normal(s) for s in ((G * H, F), (G * H, H), (G * H,), (G * H,))))
    x = rng.standard_normal((B, F)) + (0.3 if nl == "relu" else 0.0)  # away from relu's kink
    state = tuple(0.5 * rng.standard_normal((B, H)) for _ in range(arity))
    g = tuple(rng.standard_normal((B, H)) for _ in range(arity))
    cell = reference.get_cell(name, nl)
    new, cache = cell.step(x, state, w)
    dx, dstate, dw, _ = cell.step_backward(g, cache, w)
    params = {"x": x, **{f"s{j}": s for j, s in enumerate(state)}, **w._asdict()}
    analytic = {"x": dx, **{f"s{j}": d for j, d in enumerate(dstate)}, **dw}

    def loss(_p):
        s = tuple(params[f"s{j}"] for j in range(arity))
        out, _ = cell.step(params["x"], s, reference.Weights(params["w_ih"], params["w_hh"], params["b_ih"],
                                                              params["b_hh"]))
        return sum(float(np.sum(a * b)) for a, b in zip(out, g, strict=True))

    report = check_gradients(loss, params, analytic)
    assert report.ok, str(report)
    assert report.max_rel_err < 1e-5


def test_the_lstm_step_names_every_gate():
    w = reference.Weights(np.zeros((8, 1)), np.zeros((8, 2)), np.zeros(8), np.zeros(8))
    (h, c), cache = reference.lstm_step(np.ones((1, 1)), (np.zeros((1, 2)), np.ones((1, 2))), w)
    assert cache._fields == ("x", "h_prev", "c_prev", "i", "f", "g", "o", "tanh_c")
    # zero weights: every sigmoid gate is 1/2 and g = 0, so c = c_prev / 2 and h = tanh(c) / 2
    np.testing.assert_allclose(c, 0.5)
    np.testing.assert_allclose(h, 0.5 * np.tanh(0.5))


def test_reference_rejects_unknown_cells_and_foreign_params():
    x = np.zeros((2, 1, 3))
    with pytest.raises(ValueError, match="unknown cell 'elman'"):
        reference.forward("elman", {}, x)
    with pytest.raises(ValueError, match="unknown nonlinearity 'gelu'"):
        reference.forward("rnn", RNN(3, 2, rng=0).params, x, nonlinearity="gelu")
    with pytest.raises(ValueError, match="weight_ih_l0"):
        reference.forward("rnn", {"weight": np.zeros((2, 3))}, x)


@pytest.mark.parametrize("name", sorted(reference.CELLS))
def test_step_backward_returns_the_pre_activation_gradient(name):
    """``da`` is the gradient at x W_ih^T + b_ih, so summed over the batch it is b_ih's gradient."""
    rng = np.random.default_rng(2)
    B, F, H, G = 3, 2, 4, {"rnn": 1, "lstm": 4, "gru": 3}[name]
    w = reference.Weights(*(rng.standard_normal(s) for s in ((G * H, F), (G * H, H), (G * H,), (G * H,))))
    cell = reference.get_cell(name)
    state = tuple(rng.standard_normal((B, H)) for _ in range(cell.arity))
    _, cache = cell.step(rng.standard_normal((B, F)), state, w)
    result = cell.step_backward(tuple(rng.standard_normal((B, H)) for _ in range(cell.arity)), cache, w)
    assert result.da.shape == (B, G * H)
    np.testing.assert_allclose(result.da.sum(axis=0), result.grads["b_ih"], rtol=1e-14)
    np.testing.assert_allclose(result.da @ w.w_ih, result.dx, rtol=1e-14)
