"""RNN: forward and BPTT against torch.nn.RNN, truncated BPTT against a detach reference, and the edges."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from scratchrnn import RNN

torch = pytest.importorskip("torch")

from torch_reference import (  # noqa: E402
    load_into_torch,
    rnn_cell,
    torch_reference_backward,
    truncated_reference,
)

ATOL = 1e-10

NUMPY_ACTS = {
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0.0),
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "identity": lambda z: z,
}
TORCH_ACTS = {
    "tanh": torch.tanh,
    "relu": torch.relu,
    "sigmoid": torch.sigmoid,
    "identity": lambda z: z,
}


# -- helpers -----------------------------------------------------------------------------------
def assert_close(actual, expected, atol=ATOL, what=""):
    np.testing.assert_allclose(actual, expected, rtol=0.0, atol=atol, err_msg=what)


def assert_grads_close(grads, expected, atol=ATOL):
    assert set(grads) == set(expected)
    for name in expected:
        assert grads[name].shape == expected[name].shape, name
        assert_close(grads[name], expected[name], atol, what=name)


def torch_rnn(m: RNN):
    """A float64 torch.nn.RNN with the same configuration and weights as ``m``."""
    t = torch.nn.RNN(
        m.input_size,
        m.hidden_size,
        num_layers=m.num_layers,
        nonlinearity=m.nonlinearity,
        bias=m.bias,
        batch_first=m.batch_first,
        bidirectional=m.bidirectional,
        dtype=torch.float64,
    )
    load_into_torch(m.params, t)
    return t


def numpy_forward(params, x, h0, num_layers, num_directions, f):
    """Plain per-step loop: returns out (T, B, D*H), h_n (L*D, B, H), states (L*D, T, B, H)."""
    T, B, _ = x.shape
    L, D = num_layers, num_directions
    H = params["weight_hh_l0"].shape[1]
    states = np.zeros((L * D, T, B, H))  # (L*D, T, B, H)
    h_n = np.zeros((L * D, B, H))  # (L*D, B, H)
    inp = x  # (T, B, F)
    for layer in range(L):
        for d in range(D):
            i = layer * D + d
            suf = "_reverse" if d else ""
            w_ih, w_hh = params[f"weight_ih_l{layer}{suf}"], params[f"weight_hh_l{layer}{suf}"]
            b = params.get(f"bias_ih_l{layer}{suf}", 0.0) + params.get(f"bias_hh_l{layer}{suf}", 0.0)
            h = np.zeros((B, H)) if h0 is None else h0[i]  # (B, H)
            for t in range(T) if d == 0 else range(T - 1, -1, -1):
                h = f(inp[t] @ w_ih.T + h @ w_hh.T + b)  # (B, H)
                states[i, t] = h
            h_n[i] = h
        inp = np.concatenate([states[layer * D + d] for d in range(D)], axis=-1)  # (T, B, D*H)
    return inp, h_n, states


def random_case(rng, T=5, B=2, F=3, H=4, L=2, bidirectional=False, nonlinearity="tanh", bias=True,
                batch_first=False, seed=0):
    """A float64 RNN, an input, an initial state and upstream gradients."""
    m = RNN(F, H, num_layers=L, nonlinearity=nonlinearity, bias=bias, batch_first=batch_first,
            bidirectional=bidirectional, dtype=np.float64, rng=seed)
    D = 2 if bidirectional else 1
    x = rng.standard_normal((B, T, F) if batch_first else (T, B, F))  # (T, B, F)
    h0 = rng.standard_normal((L * D, B, H))  # (L*D, B, H)
    dout = rng.standard_normal((B, T, D * H) if batch_first else (T, B, D * H))  # (T, B, D*H)
    dh_n = rng.standard_normal((L * D, B, H))  # (L*D, B, H)
    return m, x, h0, dout, dh_n


def time_major(a, batch_first):
    return None if a is None else (a.transpose(1, 0, 2) if batch_first else a)


def reference(m: RNN, x, h0, dout, dh_n, truncate):
    """The detach reference for ``m`` (handles batch_first by converting at the edges)."""
    bf = m.batch_first
    dx, dh0, grads = truncated_reference(
        rnn_cell(TORCH_ACTS[m.nonlinearity]), m.params, time_major(x, bf), h0, time_major(dout, bf),
        dh_n, m.num_layers, m.num_directions, truncate,
    )
    return time_major(dx, bf), dh0, grads


# -- against torch.nn.RNN ----------------------------------------------------------------------
@settings(max_examples=120, deadline=None, derandomize=True, database=None)
@given(
    T=st.integers(1, 5),
    B=st.integers(1, 3),
    F=st.integers(1, 4),
    H=st.integers(1, 4),
    L=st.integers(1, 3),
    nonlinearity=st.sampled_from(["tanh", "relu"]),
    bias=st.booleans(),
    bidirectional=st.booleans(),
    batch_first=st.booleans(),
    give_h0=st.booleans(),
    upstream=st.sampled_from(["both", "out", "h_n"]),
    seed=st.integers(0, 2**16),
)
@example(T=1, B=1, F=1, H=1, L=1, nonlinearity="tanh", bias=True, bidirectional=False, batch_first=False,
         give_h0=False, upstream="both", seed=0)
@example(T=1, B=1, F=2, H=3, L=3, nonlinearity="relu", bias=False, bidirectional=True, batch_first=True,
         give_h0=True, upstream="both", seed=1)
def test_matches_torch(T, B, F, H, L, nonlinearity, bias, bidirectional, batch_first, give_h0, upstream,
                       seed):
    rng = np.random.default_rng(seed)
    m, x, h0, dout, dh_n = random_case(rng, T, B, F, H, L, bidirectional, nonlinearity, bias, batch_first,
                                       seed)
    h0 = h0 if give_h0 else None
    dout = None if upstream == "h_n" else dout
    dh_n = None if upstream == "out" else dh_n

    out, h_n, cache = m.forward(x, h0)
    dx, dh0, grads = m.backward(dout, dh_n, cache)
    t_out, t_hn, t_dx, t_dh0, t_grads = torch_reference_backward(torch_rnn(m), x, h0, dout, dh_n, batch_first)

    assert out.shape == t_out.shape and h_n.shape == t_hn.shape
    assert out.dtype == np.float64 and dx.dtype == np.float64
    assert_close(out, t_out, what="out")
    assert_close(h_n, t_hn, what="h_n")
    assert dx.shape == x.shape
    assert_close(dx, t_dx, what="dx")
    assert_close(dh0, t_dh0, what="dh0")
    assert_grads_close(grads, t_grads)


def test_reference_loop_matches_torch_full_bptt():
    """The detach reference with no truncation is plain autograd through a loop: it must equal torch."""
    rng = np.random.default_rng(11)
    for nonlinearity, bidirectional in [("tanh", True), ("relu", False)]:
        m, x, h0, dout, dh_n = random_case(rng, T=4, L=3, bidirectional=bidirectional,
                                           nonlinearity=nonlinearity)
        r_dx, r_dh0, r_grads = reference(m, x, h0, dout, dh_n, None)
        _, _, t_dx, t_dh0, t_grads = torch_reference_backward(torch_rnn(m), x, h0, dout, dh_n)
        assert_close(r_dx, t_dx)
        assert_close(r_dh0, t_dh0)
        assert_grads_close(r_grads, t_grads)


def test_parameter_names_shapes_and_state_dict_load_from_torch():
    """torch's own state_dict loads into the numpy layer and gives torch's outputs."""
    t = torch.nn.RNN(3, 5, num_layers=2, bidirectional=True, dtype=torch.float64)
    m = RNN(3, 5, num_layers=2, bidirectional=True, dtype=np.float64, rng=0)
    sd = {k: v.detach().numpy() for k, v in t.state_dict().items()}
    assert {k: v.shape for k, v in sd.items()} == {k: v.shape for k, v in m.params.items()}
    assert list(sd) == list(m.params)  # same order as torch too
    m.load_state_dict(sd)
    x = np.random.default_rng(0).standard_normal((4, 2, 3))  # (T, B, F)
    out, h_n, _ = m.forward(x)
    t_out, t_hn = t(torch.tensor(x))
    assert_close(out, t_out.detach().numpy())
    assert_close(h_n, t_hn.detach().numpy())


# -- sigmoid and identity against a numpy loop -------------------------------------------------
@pytest.mark.parametrize("nonlinearity", ["sigmoid", "identity", "tanh", "relu"])
@pytest.mark.parametrize("layers,bidirectional", [(1, False), (2, False), (2, True)])
@pytest.mark.parametrize("bias", [True, False])
def test_forward_and_states_match_numpy_loop(nonlinearity, layers, bidirectional, bias):
    rng = np.random.default_rng(3)
    m, x, h0, _, _ = random_case(rng, T=5, B=3, L=layers, bidirectional=bidirectional,
                                 nonlinearity=nonlinearity, bias=bias)
    for init in (h0, None):
        out, h_n, cache = m.forward(x, init)
        r_out, r_hn, r_states = numpy_forward(m.params, x, init, layers, m.num_directions,
                                              NUMPY_ACTS[nonlinearity])
        assert_close(out, r_out, what="out")
        assert_close(h_n, r_hn, what="h_n")
        (states,) = m.sequence_states(cache)
        assert states.shape == r_states.shape
        assert_close(states, r_states, what="sequence_states")


@pytest.mark.parametrize("nonlinearity", ["sigmoid", "identity"])
@pytest.mark.parametrize("layers,bidirectional", [(1, False), (3, False), (2, True)])
def test_backward_sigmoid_identity_match_reference_loop(nonlinearity, layers, bidirectional):
    rng = np.random.default_rng(4)
    m, x, h0, dout, dh_n = random_case(rng, T=5, L=layers, bidirectional=bidirectional,
                                       nonlinearity=nonlinearity)
    out, h_n, cache = m.forward(x, h0)
    dx, dh0, grads = m.backward(dout, dh_n, cache)
    r_dx, r_dh0, r_grads = reference(m, x, h0, dout, dh_n, None)
    assert_close(dx, r_dx)
    assert_close(dh0, r_dh0)
    assert_grads_close(grads, r_grads)


# -- truncated BPTT ----------------------------------------------------------------------------
T_TRUNC = 6


@pytest.mark.parametrize("k", [0, 1, 3, T_TRUNC, T_TRUNC + 3])
@pytest.mark.parametrize("layers,bidirectional", [(2, False), (1, True), (2, True), (3, True)])
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu", "sigmoid", "identity"])
@pytest.mark.parametrize("bias", [True, False])
def test_truncated_matches_detach_reference(k, layers, bidirectional, nonlinearity, bias):
    rng = np.random.default_rng(5)
    m, x, h0, dout, dh_n = random_case(rng, T=T_TRUNC, B=2, L=layers, bidirectional=bidirectional,
                                       nonlinearity=nonlinearity, bias=bias, seed=k)
    out, h_n, cache = m.forward(x, h0)
    dx, dh0, grads = m.backward(dout, dh_n, cache, truncate=k)
    r_dx, r_dh0, r_grads = reference(m, x, h0, dout, dh_n, k)
    assert_close(dx, r_dx, what="dx")
    assert_close(dh0, r_dh0, what="dh0")
    assert_grads_close(grads, r_grads)


@pytest.mark.parametrize("k", [0, 2])
def test_truncated_batch_first_and_no_h0(k):
    rng = np.random.default_rng(6)
    m, x, _, dout, dh_n = random_case(rng, T=5, B=3, L=2, bidirectional=True, batch_first=True)
    out, h_n, cache = m.forward(x)
    dx, dh0, grads = m.backward(dout, dh_n, cache, truncate=k)
    r_dx, r_dh0, r_grads = reference(m, x, None, dout, dh_n, k)
    assert dx.shape == x.shape
    assert_close(dx, r_dx)
    assert_close(dh0, r_dh0)
    assert_grads_close(grads, r_grads)


@pytest.mark.parametrize("layers,bidirectional", [(1, False), (3, False), (2, True)])
def test_truncation_long_enough_equals_full_bptt(layers, bidirectional):
    """k >= T cuts nothing; k = T-1 reaches every pre-activation (dx and weights equal full BPTT),
    but holds the initial state constant for the terms at the far end, so dh0 follows the reference."""
    T = 5
    rng = np.random.default_rng(7)
    m, x, h0, dout, dh_n = random_case(rng, T=T, L=layers, bidirectional=bidirectional)
    out, h_n, cache = m.forward(x, h0)
    f_dx, f_dh0, f_grads = m.backward(dout, dh_n, cache)
    for k in (T - 1, T, T + 10):
        dx, dh0, grads = m.backward(dout, dh_n, cache, truncate=k)
        assert_close(dx, f_dx, 1e-12)
        assert_grads_close(grads, f_grads, 1e-12)
        if k >= T:
            assert_close(dh0, f_dh0, 1e-12)
        else:
            assert_close(dh0, reference(m, x, h0, dout, dh_n, k)[1])
    # and a shorter window really does cut something
    _, s_dh0, s_grads = m.backward(dout, dh_n, cache, truncate=T - 2)
    assert max(np.abs(s_grads[n] - f_grads[n]).max() for n in f_grads) > 1e-6
    assert np.abs(s_dh0 - f_dh0).max() > 1e-6


@pytest.mark.parametrize("truncate", [None, 0, 2])
@pytest.mark.parametrize("layers,bidirectional", [(1, False), (2, False), (2, True)])
def test_many_to_one(truncate, layers, bidirectional):
    """Only h_n carries a gradient (dout None), or only the last output step does."""
    T = 6
    rng = np.random.default_rng(8)
    m, x, h0, dout, dh_n = random_case(rng, T=T, L=layers, bidirectional=bidirectional)
    out, h_n, cache = m.forward(x, h0)
    last = np.zeros_like(dout)  # (T, B, D*H)
    last[-1] = dout[-1]
    for g_out, g_hn in ((None, dh_n), (last, None)):
        dx, dh0, grads = m.backward(g_out, g_hn, cache, truncate=truncate)
        r_dx, r_dh0, r_grads = reference(m, x, h0, g_out, g_hn, truncate)
        assert_close(dx, r_dx)
        assert_close(dh0, r_dh0)
        assert_grads_close(grads, r_grads)
        if truncate is None:
            _, _, t_dx, t_dh0, t_grads = torch_reference_backward(torch_rnn(m), x, h0, g_out, g_hn)
            assert_close(dx, t_dx)
            assert_close(dh0, t_dh0)
            assert_grads_close(grads, t_grads)


@pytest.mark.parametrize("truncate", [None, 0, 3])
def test_last_output_gradient_equals_top_final_state_gradient(truncate):
    """Unidirectional: out[T-1] is the top layer's h_n, so both routes give the same gradients."""
    rng = np.random.default_rng(9)
    m, x, h0, dout, _ = random_case(rng, T=6, L=3)
    _, _, cache = m.forward(x, h0)
    last = np.zeros_like(dout)  # (T, B, H)
    last[-1] = dout[-1]
    top = np.zeros((3, x.shape[1], 4))  # (L, B, H)
    top[-1] = dout[-1]
    a = m.backward(last, None, cache, truncate=truncate)
    b = m.backward(None, top, cache, truncate=truncate)
    assert_close(a[0], b[0], 1e-13)
    assert_close(a[1], b[1], 1e-13)
    assert_grads_close(a[2], b[2], 1e-13)


@pytest.mark.parametrize("truncate", [None, 1])
def test_no_upstream_gradient_gives_zeros(truncate):
    rng = np.random.default_rng(10)
    m, x, h0, _, _ = random_case(rng, L=2, bidirectional=True)
    _, _, cache = m.forward(x, h0)
    dx, dh0, grads = m.backward(None, None, cache, truncate=truncate)
    assert dx.shape == x.shape and dh0.shape == h0.shape
    assert not dx.any() and not dh0.any()
    assert set(grads) == set(m.params) and not any(g.any() for g in grads.values())


@pytest.mark.parametrize("truncate", [None, 2])
def test_inputs_not_modified_and_backward_repeatable(truncate):
    rng = np.random.default_rng(17)
    m, x, h0, dout, dh_n = random_case(rng, L=2, bidirectional=True, batch_first=True)
    copies = [a.copy() for a in (x, h0, dout, dh_n)]
    _, _, cache = m.forward(x, h0)
    first = m.backward(dout, dh_n, cache, truncate=truncate)
    second = m.backward(dout, dh_n, cache, truncate=truncate)
    for a, c in zip((x, h0, dout, dh_n), copies, strict=True):
        assert np.array_equal(a, c)
    assert_close(first[0], second[0], 0.0)
    assert_close(first[1], second[1], 0.0)
    assert_grads_close(first[2], second[2], 0.0)


# -- dtype, seeds, init ------------------------------------------------------------------------
def test_float32_matches_float64():
    rng = np.random.default_rng(12)
    kw = dict(num_layers=2, bidirectional=True)
    m64 = RNN(3, 5, dtype=np.float64, rng=4, **kw)
    m32 = RNN(3, 5, dtype=np.float32, rng=4, **kw)
    for name, p in m32.params.items():
        assert p.dtype == np.float32
        assert_close(p, m64.params[name], 1e-7)
    x = rng.standard_normal((6, 2, 3))  # (T, B, F)
    h0 = rng.standard_normal((4, 2, 5))  # (L*D, B, H)
    dout = rng.standard_normal((6, 2, 10))  # (T, B, D*H)
    o64, h64, c64 = m64.forward(x, h0)
    o32, h32, c32 = m32.forward(x.astype(np.float32), h0.astype(np.float32))
    assert o32.dtype == np.float32 and h32.dtype == np.float32
    assert_close(o32, o64, 1e-5)
    assert_close(h32, h64, 1e-5)
    dx64, dh64, g64 = m64.backward(dout, None, c64, truncate=2)
    dx32, dh32, g32 = m32.backward(dout.astype(np.float32), None, c32, truncate=2)
    assert dx32.dtype == np.float32 and dh32.dtype == np.float32
    assert_close(dx32, dx64, 1e-4)
    assert_close(dh32, dh64, 1e-4)
    for name in g64:
        assert g32[name].dtype == np.float32
        assert_close(g32[name], g64[name], 1e-4, what=name)


def test_same_seed_bit_identical_different_seed_differs():
    kw = dict(num_layers=2, bidirectional=True, dtype=np.float32)
    a, b = RNN(4, 6, rng=123, **kw), RNN(4, 6, rng=123, **kw)
    c = RNN(4, 6, rng=np.random.default_rng(123), **kw)
    d = RNN(4, 6, rng=124, **kw)
    assert list(a.params) == list(b.params) == list(c.params) == list(d.params)
    for name in a.params:
        assert a.params[name].tobytes() == b.params[name].tobytes() == c.params[name].tobytes()
        assert not np.array_equal(a.params[name], d.params[name]), name


def test_init_is_torch_uniform():
    H = 16
    m = RNN(5, H, num_layers=2, dtype=np.float64, rng=0)
    bound = 1.0 / np.sqrt(H)
    for name, p in m.params.items():
        assert np.abs(p).max() <= bound, name
        assert np.abs(p).max() > 0.5 * bound, name  # spread over the interval, not clustered at 0


# -- token-id input (one-hot without building it) ----------------------------------------------
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("truncate", [None, 0, 2])
@pytest.mark.parametrize("batch_first", [False, True])
def test_token_ids_equal_one_hot_input(bidirectional, truncate, batch_first):
    from scratchrnn.functional import one_hot

    rng = np.random.default_rng(7)
    m = RNN(7, 5, num_layers=2, bidirectional=bidirectional, batch_first=batch_first, dtype=np.float64, rng=0)
    ids = rng.integers(0, 7, (6, 3))  # (T, B) or (B, T): the layout only renames the axes
    o1, h1, c1 = m.forward(ids)
    o2, h2, c2 = m.forward(one_hot(ids, 7, np.float64))
    np.testing.assert_array_equal(o1, o2)
    np.testing.assert_array_equal(h1, h2)
    g = rng.standard_normal(o1.shape)
    gh = rng.standard_normal(h1.shape)
    dx1, dh1, gr1 = m.backward(g, gh, c1, truncate=truncate)
    dx2, dh2, gr2 = m.backward(g, gh, c2, truncate=truncate)
    assert dx1 is None and dx2.shape == ids.shape + (7,)
    np.testing.assert_allclose(dh1, dh2, rtol=0, atol=1e-13)
    for name in gr1:
        np.testing.assert_allclose(gr1[name], gr2[name], rtol=0, atol=1e-13, err_msg=name)


def test_token_ids_out_of_range_or_wrong_rank():
    m = RNN(4, 3, dtype=np.float64, rng=0)
    with pytest.raises(ValueError, match=r"token ids must lie in \[0, 4\).*\[0, 4\]"):
        m.forward(np.array([[0, 4]]))
    with pytest.raises(ValueError, match=r"token ids must lie in \[0, 4\).*\[-1, 0\]"):
        m.forward(np.array([[0, -1]]))
    with pytest.raises(ValueError, match=r"reads integer input as \(T, B\) token ids, got a 1-D"):
        m.forward(np.array([0, 1]))


def test_the_fused_backward_step_equals_its_two_halves():
    """``_RNNBackward.step`` (one call per step in full BPTT) computes gate_grads then state_grads."""
    from scratchrnn.nn import timeloop

    rnn = RNN(3, 4, dtype=np.float64, rng=0)
    x = np.random.default_rng(1).standard_normal((5, 2, 3))
    _, _, cache = rnn.forward(x)
    dout = np.random.default_rng(2).standard_normal((5, 2, 4))
    fused = rnn._backward_steps(0, "", cache.layers[0][0])
    split = rnn._backward_steps(0, "", cache.layers[0][0])
    split.step = timeloop.StepBackward.step.__get__(split)  # the base class's two calls
    dh0_fused = timeloop.full_bptt(fused, dout, (None,))
    dh0_split = timeloop.full_bptt(split, dout, (None,))
    np.testing.assert_array_equal(dh0_fused[0], dh0_split[0])
    np.testing.assert_array_equal(fused.grads, split.grads)
    assert np.any(fused.grads != 0.0)
