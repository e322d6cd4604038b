"""Linear and Embedding against torch.nn in float64, and their input validation."""

from __future__ import annotations

import numpy as np
import pytest

from scratchrnn import Embedding, Linear, checks
from scratchrnn.nn.linear import embedding_param_shapes, linear_param_shapes

torch = pytest.importorskip("torch")

from torch_reference import load_into_torch  # noqa: E402

ATOL = 1e-12


def assert_close(actual, expected, atol=ATOL, what=""):
    np.testing.assert_allclose(actual, expected, rtol=0.0, atol=atol, err_msg=what)


# -- Linear ------------------------------------------------------------------------------------
@pytest.mark.parametrize("lead", [(), (1,), (5,), (2, 3), (2, 1, 4)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_torch(lead, bias):
    rng = np.random.default_rng(0)
    m = Linear(4, 3, bias=bias, dtype=np.float64, rng=1)
    assert set(m.params) == ({"weight", "bias"} if bias else {"weight"})
    t = torch.nn.Linear(4, 3, bias=bias, dtype=torch.float64)
    load_into_torch(m.params, t)
    x = rng.standard_normal(lead + (4,))  # (..., in)
    dy = rng.standard_normal(lead + (3,))  # (..., out)

    y, cache = m.forward(x)
    dx, grads = m.backward(dy, cache)
    X = torch.tensor(x, requires_grad=True)
    Y = t(X)
    (Y * torch.tensor(dy)).sum().backward()

    assert y.shape == lead + (3,) and y.dtype == np.float64
    assert_close(y, Y.detach().numpy())
    assert dx.shape == x.shape
    assert_close(dx, X.grad.numpy())
    assert set(grads) == set(m.params)
    for name, p in t.named_parameters():
        assert grads[name].shape == m.params[name].shape
        assert_close(grads[name], p.grad.numpy(), what=name)


def test_linear_need_dx_false_and_float32():
    rng = np.random.default_rng(1)
    m64 = Linear(5, 2, dtype=np.float64, rng=3)
    m32 = Linear(5, 2, dtype=np.float32, rng=3)
    x = rng.standard_normal((3, 5))  # (N, in)
    dy = rng.standard_normal((3, 2))  # (N, out)
    y64, c64 = m64.forward(x)
    y32, c32 = m32.forward(x.astype(np.float32))
    assert y32.dtype == np.float32
    assert_close(y32, y64, 1e-5)
    dx, grads = m32.backward(dy.astype(np.float32), c32, need_dx=False)
    assert dx is None
    _, g64 = m64.backward(dy, c64)
    for name in g64:
        assert grads[name].dtype == np.float32
        assert_close(grads[name], g64[name], 1e-5)


def test_linear_same_seed_identical_and_init_bound():
    a, b, c = Linear(9, 7, rng=5), Linear(9, 7, rng=5), Linear(9, 7, rng=6)
    for name in a.params:
        assert a.params[name].tobytes() == b.params[name].tobytes()
        assert not np.array_equal(a.params[name], c.params[name])
        assert np.abs(a.params[name]).max() <= 1.0 / 3.0  # U(-1/sqrt(in), 1/sqrt(in))


def test_linear_wrong_feature_size():
    m = Linear(4, 3, dtype=np.float64, rng=0)
    with pytest.raises(ValueError, match="input has 5 features, the Linear layer expects 4"):
        m.forward(np.zeros((2, 5)))


@pytest.mark.parametrize("dtype", [np.float32, np.int64])
def test_linear_dtype_mismatch(dtype):
    m = Linear(4, 3, dtype=np.float64, rng=0)
    with pytest.raises(ValueError, match=rf"dtype {np.dtype(dtype)}.*float64"):
        m.forward(np.zeros((2, 4), dtype))


def test_linear_backward_rejects_a_gradient_of_the_wrong_shape_or_dtype():
    lin = Linear(3, 2, dtype=np.float32, rng=0)
    y, cache = lin.forward(np.ones((4, 3), np.float32))
    with pytest.raises(ValueError, match=r"dy must have the output's shape \(4, 2\), got \(4, 3\)"):
        lin.backward(np.ones((4, 3), np.float32), cache)
    with pytest.raises(ValueError, match="dy has dtype float64, the layer's weights are float32"):
        lin.backward(np.ones((4, 2)), cache)
    with pytest.raises(ValueError, match="got list"):
        lin.backward([[1.0, 2.0]] * 4, cache)


def test_linear_scalar_input_and_bad_sizes():
    m = Linear(4, 3, dtype=np.float64, rng=0)
    with pytest.raises(ValueError, match="feature axis, got a 0-D array"):
        m.forward(np.zeros(()))
    with pytest.raises(ValueError, match="in_features must be a positive integer, got 0"):
        Linear(0, 3)
    with pytest.raises(ValueError, match="out_features must be a positive integer, got -1"):
        Linear(3, -1)


# -- Embedding ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "idx",
    [
        np.array([3, 1, 3, 3, 0]),
        np.array([[2, 2], [2, 5], [0, 2]], dtype=np.int32),
        np.array([4], dtype=np.uint8),
        np.zeros((0,), dtype=np.int64),
    ],
)
def test_embedding_matches_torch(idx):
    rng = np.random.default_rng(2)
    m = Embedding(6, 4, dtype=np.float64, rng=0)
    t = torch.nn.Embedding(6, 4, dtype=torch.float64)
    load_into_torch(m.params, t)
    dy = rng.standard_normal(idx.shape + (4,))  # (..., E)

    y, cache = m.forward(idx)
    dx, grads = m.backward(dy, cache)
    Y = t(torch.tensor(idx.astype(np.int64)))
    (Y * torch.tensor(dy)).sum().backward()

    assert y.shape == idx.shape + (4,)
    assert_close(y, Y.detach().numpy())
    assert dx is None
    assert set(grads) == {"weight"}
    assert_close(grads["weight"], t.weight.grad.numpy() if t.weight.grad is not None else np.zeros((6, 4)))


def test_embedding_repeated_indices_accumulate():
    """Independent of torch: the gradient row of an index is the sum of the rows that used it."""
    m = Embedding(5, 3, dtype=np.float64, rng=0)
    idx = np.array([[1, 4, 1], [1, 0, 4]])  # (2, 3)
    dy = np.arange(18, dtype=np.float64).reshape(2, 3, 3)  # (2, 3, E)
    _, grads = m.backward(dy, m.forward(idx)[1])
    expected = np.zeros((5, 3))  # (V, E)
    for pos in np.ndindex(idx.shape):
        expected[idx[pos]] += dy[pos]
    assert_close(grads["weight"], expected, 0.0)
    assert not grads["weight"][[2, 3]].any()


@pytest.mark.parametrize("idx", [np.array([0.0, 1.0]), np.array([True, False]), np.array(["a"])])
def test_embedding_non_integer_indices(idx):
    m = Embedding(5, 3, rng=0)
    with pytest.raises(ValueError, match=rf"integer indices, got dtype {idx.dtype}"):
        m.forward(idx)


@pytest.mark.parametrize("idx,lo,hi", [(np.array([0, 5]), 0, 5), (np.array([-1, 2]), -1, 2)])
def test_embedding_out_of_range(idx, lo, hi):
    m = Embedding(5, 3, rng=0)
    with pytest.raises(ValueError, match=rf"\[0, 5\), got values in \[{lo}, {hi}\]"):
        m.forward(idx)


@pytest.mark.parametrize(
    "make,name",
    [
        (lambda: Linear(True, 3), "in_features"),
        (lambda: Linear(3, True), "out_features"),
        (lambda: Embedding(True, 3), "num_embeddings"),
        (lambda: Embedding(3, True), "embedding_dim"),
    ],
    ids=["linear-in", "linear-out", "embedding-num", "embedding-dim"],
)
def test_bool_sizes_are_rejected_like_the_rnn_does(make, name):
    """A bool is not a size (the RNN refuses it too); it must be a ValueError, not numpy's TypeError."""
    with pytest.raises(ValueError, match=rf"{name} must be a positive integer, got True"):
        make()


def test_embedding_bad_sizes():
    with pytest.raises(ValueError, match="num_embeddings must be a positive integer, got 0"):
        Embedding(0, 3)
    with pytest.raises(ValueError, match="embedding_dim must be a positive integer, got -2"):
        Embedding(3, -2)


# -- shapes, sizes and memory ------------------------------------------------------------------------
@pytest.mark.parametrize("bias", [True, False])
def test_linear_param_shapes_are_the_layers_own(bias):
    m = Linear(4, 3, bias=bias, rng=0)
    assert linear_param_shapes(4, 3, bias) == {k: v.shape for k, v in m.params.items()}
    assert embedding_param_shapes(7, 2) == {"weight": Embedding(7, 2, rng=0).params["weight"].shape}


def test_layers_too_large_for_the_machine_are_refused():
    with pytest.raises(ValueError, match=r"^Linear\(1,000,000, 1,000,000\) needs about 4 TB for its "
                                         r"1,000,001,000,000 weights \(float32"):
        Linear(1_000_000, 1_000_000)
    with pytest.raises(ValueError, match=r"^Embedding\(1,000,000, 1,000,000\) needs about 8 TB .*float64"):
        Embedding(1_000_000, 1_000_000, dtype=np.float64)
    with pytest.raises(ValueError, match="out_features must be at most 1,048,576"):
        Linear(3, 2**21)


def test_outputs_larger_than_the_memory_available_are_refused(monkeypatch):
    lin, emb = Linear(4, 3, rng=0), Embedding(5, 8, rng=0)
    monkeypatch.setattr(checks, "machine_memory", lambda: 16 * 10**3)
    monkeypatch.setattr(checks, "available_memory", lambda: 10**3)
    lin.forward(np.zeros((80, 4), np.float32))  # 960 bytes of output
    with pytest.raises(ValueError, match=r"^Linear.forward of 100 rows of 3 needs about 1.2 kB for its "
                                         r"output; this machine has 1 kB available$"):
        lin.forward(np.zeros((100, 4), np.float32))
    with pytest.raises(ValueError, match="Embedding.forward of 40 rows of 8 needs about 1.28 kB"):
        emb.forward(np.zeros((8, 5), np.int64))


def test_flags_and_numpy_sizes():
    m = Linear(np.int64(4), np.uint8(3), bias=np.bool_(False), rng=0)
    assert (m.in_features, m.out_features, m.bias) == (4, 3, False) and type(m.in_features) is int
    with pytest.raises(ValueError, match="Linear bias must be True or False, got 'yes'"):
        Linear(4, 3, bias="yes")
    with pytest.raises(ValueError, match="dtype must be one of float32, float64, got 'bogus'"):
        Embedding(4, 3, dtype="bogus")


def test_backward_needs_its_cache_and_gradient():
    emb = Embedding(5, 2, rng=0)
    y, cache = emb.forward(np.array([[1, 2]]))
    with pytest.raises(ValueError, match="Embedding.backward expects the cache returned by forward, got nd"):
        emb.backward(y, cache.ids)
    with pytest.raises(ValueError, match=r"dy must have the output's shape \(1, 2, 2\), got \(2, 2\)"):
        emb.backward(y[0], cache)
    lin = Linear(2, 2, rng=0)
    out, _ = lin.forward(y)
    with pytest.raises(ValueError, match="Linear.backward expects the cache returned by forward, got nd"):
        lin.backward(out, y)
