"""The stack machinery the RNN, LSTM and GRU share (scratchrnn.nn.recurrent): dropout between layers,
and the validation of inputs, states and gradients, exercised through the RNN."""

from __future__ import annotations

import numpy as np
import pytest

from scratchrnn import GRU, LSTM, RNN, checks
from scratchrnn.nn.recurrent import recurrent_param_shapes
from test_rnn import assert_close, assert_grads_close, random_case


# -- dropout -----------------------------------------------------------------------------------
def _no_dropout_copy(m: RNN) -> RNN:
    plain = RNN(m.input_size, m.hidden_size, num_layers=m.num_layers, nonlinearity=m.nonlinearity,
                bias=m.bias, bidirectional=m.bidirectional, dtype=m.dtype, rng=0)
    plain.load_state_dict(m.state_dict())
    return plain


def test_dropout_is_applied_between_layers_only():
    p = 0.5
    rng = np.random.default_rng(13)
    m = RNN(3, 6, num_layers=3, dropout=p, dtype=np.float64, rng=1)
    plain = _no_dropout_copy(m)
    x = rng.standard_normal((8, 4, 3))  # (T, B, F)
    out, h_n, cache = m.forward(x, rng=np.random.default_rng(0))
    p_out, p_hn, p_cache = plain.forward(x)
    (states,) = m.sequence_states(cache)
    (p_states,) = plain.sequence_states(p_cache)
    assert_close(states[0], p_states[0], 0.0)  # the first layer never sees a mask
    assert_close(h_n[0], p_hn[0], 0.0)
    assert np.abs(states[1] - p_states[1]).max() > 1e-3  # the layers above do
    assert np.abs(out - p_out).max() > 1e-3
    assert_close(out, states[2], 0.0)  # ... but the top layer's output itself is not masked
    # the same rng state gives the same mask; the layer's own generator moves on between calls
    again, _, _ = m.forward(x, rng=np.random.default_rng(0))
    assert_close(again, out, 0.0)
    own1, _, _ = m.forward(x)
    own2, _, _ = m.forward(x)
    assert np.abs(own1 - own2).max() > 1e-3


def test_dropout_mask_is_inverted_bernoulli():
    """Recover the mask on layer 1's input from the states (identity cell, W_ih = I)."""
    p, H = 0.3, 8
    m = RNN(3, H, num_layers=2, nonlinearity="identity", dropout=p, dtype=np.float64, rng=2)
    m.params["weight_ih_l1"][...] = np.eye(H)
    x = np.random.default_rng(14).standard_normal((10, 5, 3))  # (T, B, F)
    _, _, cache = m.forward(x, rng=np.random.default_rng(1))
    (states,) = m.sequence_states(cache)
    s0, s1 = states[0], states[1]  # (T, B, H)
    prev = np.concatenate([np.zeros((1, 5, H)), s1[:-1]])  # (T, B, H)
    b = m.params["bias_ih_l1"] + m.params["bias_hh_l1"]  # (H,)
    masked_in = s1 - b - prev @ m.params["weight_hh_l1"].T  # (T, B, H) = mask * s0
    ratio = masked_in / s0  # (T, B, H)
    dropped = np.abs(ratio) < 1e-8
    kept = np.abs(ratio - 1.0 / (1.0 - p)) < 1e-8
    assert np.all(dropped | kept)
    assert 0.15 < dropped.mean() < 0.45  # 400 draws at p = 0.3


def test_dropout_single_layer_has_no_effect_and_eval_is_deterministic():
    rng = np.random.default_rng(15)
    x = rng.standard_normal((5, 2, 3))  # (T, B, F)
    one = RNN(3, 4, num_layers=1, dropout=0.5, dtype=np.float64, rng=3)
    assert_close(one.forward(x)[0], _no_dropout_copy(one).forward(x)[0], 0.0)

    m = RNN(3, 4, num_layers=3, dropout=0.5, bidirectional=True, dtype=np.float64, rng=3)
    plain = _no_dropout_copy(m)
    h0 = rng.standard_normal((6, 2, 4))  # (L*D, B, H)
    m.eval()
    a, ha, ca = m.forward(x, h0)
    b, hb, _ = m.forward(x, h0)
    c, hc, cc = plain.forward(x, h0)
    assert_close(a, b, 0.0)
    assert_close(a, c, 0.0)
    assert_close(ha, hc, 0.0)
    dout = rng.standard_normal(a.shape)  # (T, B, D*H)
    ga, gc = m.backward(dout, None, ca), plain.backward(dout, None, cc)
    assert_close(ga[0], gc[0], 0.0)
    assert_grads_close(ga[2], gc[2], 0.0)
    m.train()
    d, _, _ = m.forward(x, h0)
    assert np.abs(d - a).max() > 1e-3


def test_dropout_backward_matches_finite_differences():
    rng = np.random.default_rng(16)
    m, x, h0, dout, dh_n = random_case(rng, T=4, B=2, F=3, H=3, L=3, bidirectional=True)
    m.dropout = 0.4
    seed = 21

    def loss():
        out, h_n, _ = m.forward(x, h0, rng=np.random.default_rng(seed))
        return float(np.sum(out * dout) + np.sum(h_n * dh_n))

    _, _, cache = m.forward(x, h0, rng=np.random.default_rng(seed))
    dx, dh0, grads = m.backward(dout, dh_n, cache)
    eps = 1e-6
    targets = [("x", x, dx), ("h0", h0, dh0)] + [(n, m.params[n], grads[n]) for n in m.params]
    for name, arr, analytic in targets:
        numeric = np.zeros_like(arr)  # same shape as arr
        for idx in np.ndindex(arr.shape):
            orig = arr[idx]
            arr[idx] = orig + eps
            up = loss()
            arr[idx] = orig - eps
            down = loss()
            arr[idx] = orig
            numeric[idx] = (up - down) / (2 * eps)
        assert_close(analytic, numeric, 1e-7, what=name)
    assert np.abs(dx).max() > 1e-3  # the check was not vacuous


# -- validation --------------------------------------------------------------------------------
@pytest.fixture
def small():
    return RNN(3, 4, num_layers=2, dtype=np.float64, rng=0)


def test_wrong_rank(small):
    with pytest.raises(ValueError, match=r"3-D.*2-D.*\(5, 3\)"):
        small.forward(np.zeros((5, 3)))


def test_wrong_feature_size(small):
    with pytest.raises(ValueError, match="input has 7 features, the RNN expects 3"):
        small.forward(np.zeros((5, 2, 7)))


def test_not_an_array(small):
    with pytest.raises(ValueError, match="numpy array.*list"):
        small.forward([[[0.0, 0.0, 0.0]]])


@pytest.mark.parametrize("dtype", [np.float32, np.int64])
def test_dtype_mismatch(small, dtype):
    with pytest.raises(ValueError, match=rf"{np.dtype(dtype)}.*float64"):
        small.forward(np.zeros((5, 2, 3), dtype))


def test_empty_sequence_or_batch(small):
    with pytest.raises(ValueError, match=r"at least one step and one sequence, got \(0, 2, 3\)"):
        small.forward(np.zeros((0, 2, 3)))
    with pytest.raises(ValueError, match=r"at least one step and one sequence, got \(5, 0, 3\)"):
        small.forward(np.zeros((5, 0, 3)))


def test_unsupported_dtype():
    with pytest.raises(ValueError, match="dtype must be one of float32, float64, got float16"):
        RNN(3, 4, dtype=np.float16)


def test_h0_wrong_shape(small):
    with pytest.raises(ValueError, match=r"h0 has shape \(2, 3, 4\), expected \(2, 2, 4\)"):
        small.forward(np.zeros((5, 2, 3)), np.zeros((2, 3, 4)))


def test_h0_wrong_dtype(small):
    with pytest.raises(ValueError, match="h0 has dtype float32.*float64"):
        small.forward(np.zeros((5, 2, 3)), np.zeros((2, 2, 4), np.float32))


@pytest.mark.parametrize("container", [tuple, list])
def test_h0_as_tuple(small, container):
    h0 = container([np.zeros((2, 2, 4)), np.zeros((2, 2, 4))])
    with pytest.raises(ValueError, match=rf"single array of shape \(2, 2, 4\), got a {container.__name__}"):
        small.forward(np.zeros((5, 2, 3)), h0)


def test_unknown_nonlinearity():
    with pytest.raises(ValueError, match="unknown nonlinearity 'gelu'.*identity.*relu.*sigmoid.*tanh"):
        RNN(3, 4, nonlinearity="gelu")


@pytest.mark.parametrize(
    "kwargs,name",
    [
        (dict(input_size=0, hidden_size=4), "input_size"),
        (dict(input_size=3, hidden_size=-2), "hidden_size"),
        (dict(input_size=3, hidden_size=4, num_layers=0), "num_layers"),
        (dict(input_size=3.0, hidden_size=4), "input_size"),
        (dict(input_size=True, hidden_size=4), "input_size"),
    ],
)
def test_non_positive_sizes(kwargs, name):
    bad = [v for k, v in kwargs.items() if k == name][0]
    with pytest.raises(ValueError, match=rf"{name} must be a positive integer, got {bad!r}"):
        RNN(**kwargs)


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5])
def test_bad_dropout(p):
    with pytest.raises(ValueError, match=rf"dropout must be a probability in \[0, 1\), got {p!r}"):
        RNN(3, 4, num_layers=2, dropout=p)


def test_dout_wrong_shape(small):
    _, _, cache = small.forward(np.zeros((5, 2, 3)))
    with pytest.raises(ValueError, match=r"shape of out \(5, 2, 4\), got \(5, 2, 8\)"):
        small.backward(np.zeros((5, 2, 8)), None, cache)


def test_dout_shape_follows_batch_first():
    m = RNN(3, 4, batch_first=True, dtype=np.float64, rng=0)
    _, _, cache = m.forward(np.zeros((2, 5, 3)))
    with pytest.raises(ValueError, match=r"\(2, 5, 4\), got \(5, 2, 4\)"):
        m.backward(np.zeros((5, 2, 4)), None, cache)


def test_dh_n_wrong_shape(small):
    _, _, cache = small.forward(np.zeros((5, 2, 3)))
    with pytest.raises(ValueError, match=r"dh_n has shape \(1, 2, 4\), expected \(2, 2, 4\)"):
        small.backward(None, np.zeros((1, 2, 4)), cache)


@pytest.mark.parametrize("k", [-1, 1.5, True])
def test_bad_truncate(small, k):
    _, _, cache = small.forward(np.zeros((5, 2, 3)))
    with pytest.raises(ValueError, match=rf"truncate must be None or an integer >= 0, got {k!r}"):
        small.backward(np.zeros((5, 2, 4)), None, cache, truncate=k)


def test_backward_needs_the_cache(small):
    with pytest.raises(ValueError, match="cache returned by forward, got dict"):
        small.backward(np.zeros((5, 2, 4)), None, {})


# -- sizes and memory, checked before anything is made ----------------------------------------------
@pytest.mark.parametrize("cls", [RNN, LSTM, GRU])
@pytest.mark.parametrize(("layers", "bidirectional", "bias"),
                         [(1, False, True), (3, True, False), (2, False, False)])
def test_recurrent_param_shapes_are_the_layers_own(cls, layers, bidirectional, bias):
    layer = cls(5, 4, num_layers=layers, bidirectional=bidirectional, bias=bias, rng=0)
    shapes = recurrent_param_shapes(cls.GATES, 5, 4, layers, bias, bidirectional)
    assert list(shapes) == list(layer.params)  # PyTorch's order, which the seeded draws follow
    assert shapes == {k: v.shape for k, v in layer.params.items()}


@pytest.mark.parametrize(("cls", "size"), [(RNN, "4 TB"), (LSTM, "16 TB"), (GRU, "12 TB")])
def test_a_layer_too_large_for_the_machine_is_refused(cls, size):
    message = (rf"^{cls.__name__}\(input_size=3, hidden_size=1,000,000, num_layers=1\) needs about {size} "
               r"for its .* weights \(float32, gradients and optimizer state not counted\); this machine has")
    with pytest.raises(ValueError, match=message):
        cls(3, 1_000_000)


@pytest.mark.parametrize("name, limit", [("input_size", "1,048,576 \\(scratchrnn.checks.MAX_SIZE"),
                                         ("hidden_size", "1,048,576 \\(scratchrnn.checks.MAX_SIZE"),
                                         ("num_layers", "1,024 \\(scratchrnn.checks.MAX_LAYERS")])
def test_sizes_above_the_limit_are_refused(name, limit):
    sizes = {**dict(input_size=3, hidden_size=4, num_layers=1), name: 2**20 + 1}
    with pytest.raises(ValueError, match=rf"{name} must be at most {limit}\)"):
        RNN(**sizes)


@pytest.mark.parametrize("name", ["bias", "batch_first", "bidirectional"])
@pytest.mark.parametrize("bad", ["no", 1, None])
def test_flags_must_be_bools(name, bad):
    with pytest.raises(ValueError, match=f"{name} must be True or False, got {bad!r}"):
        RNN(3, 4, **{name: bad})


def test_numpy_scalars_are_taken_for_python_numbers():
    layer = RNN(np.int64(3), np.int32(4), num_layers=np.uint8(2), dropout=np.float32(0.1),
                bias=np.bool_(False), bidirectional=np.bool_(True), rng=np.int64(0))
    assert (layer.input_size, layer.hidden_size, layer.num_layers) == (3, 4, 2)
    assert type(layer.hidden_size) is int and type(layer.bias) is bool and layer.dropout == pytest.approx(0.1)
    assert layer.initial_state(np.int16(2)).shape == (4, 2, 4)


def test_a_forward_pass_larger_than_the_memory_available_is_refused(small, monkeypatch):
    x = np.zeros((50, 4, 3))  # (T, B, F)
    monkeypatch.setattr(checks, "machine_memory", lambda: 16 * 10**4)
    monkeypatch.setattr(checks, "available_memory", lambda: 5 * 10**4)
    # per step and sequence: 3 input features, and (1 + 3) * 4 per layer plus the 4 of the layer
    # above's input: 39 floats of float64 over 50 * 4 steps, 62.4 kB
    with pytest.raises(ValueError, match=r"^RNN.forward over 50 steps of a batch of 4 needs about 62.4 kB "
                                         r"for its activations; this machine has 50 kB available$"):
        small.forward(x)
    small.forward(x[:40])  # 49.9 kB


def test_the_forward_estimate_leaves_token_ids_out(monkeypatch):
    layer = GRU(1000, 4, rng=0)  # a vocabulary of 1000: ids are read as one-hot vectors never made
    monkeypatch.setattr(checks, "machine_memory", lambda: 16 * 10**3)
    monkeypatch.setattr(checks, "available_memory", lambda: 10**3)
    assert layer.forward(np.zeros((3, 2), np.int64))[0].shape == (3, 2, 4)  # 3 * 2 * (3 + 3) * 4 floats
    with pytest.raises(ValueError, match="GRU.forward over 3 steps of a batch of 2 needs about 24.6 kB"):
        layer.forward(np.zeros((3, 2, 1000), np.float32))  # the same with 1000 dense features
