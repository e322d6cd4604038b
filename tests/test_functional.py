"""scratchrnn.functional against PyTorch, finite differences and its own invariants."""

import warnings

import numpy as np
import pytest

from scratchrnn import functional as F

torch = pytest.importorskip("torch")

ACT_NAMES = ["tanh", "sigmoid", "relu", "identity"]
TORCH_ACTS = {
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "relu": torch.relu,
    "identity": lambda x: x.clone(),
}
DTYPES = [np.float32, np.float64]


def _data(shape=(5, 3, 7), scale=3.0, dtype=np.float64, seed=0):
    return (scale * np.random.default_rng(seed).standard_normal(shape)).astype(dtype)  # (*shape)


def _extreme(dtype):
    """Magnitudes up to 1e4 of both signs, mixed with ordinary values, plus an all-equal row."""
    rng = np.random.default_rng(1)
    z = rng.choice(np.array([-1e4, -5e3, -30.0, -1.0, 0.0, 1.0, 30.0, 5e3, 1e4]), size=(6, 9))  # (6, 9)
    z[0] = 1e4
    z[1] = -1e4
    return z.astype(dtype)


class _NoFloatErrors:
    """Turn numpy floating-point overflow / invalid / divide-by-zero and any warning into errors."""

    def __enter__(self):
        self._err = np.errstate(over="raise", invalid="raise", divide="raise")
        self._err.__enter__()
        self._warn = warnings.catch_warnings()
        self._warn.__enter__()
        warnings.simplefilter("error")
        return self

    def __exit__(self, *exc):
        self._warn.__exit__(*exc)
        self._err.__exit__(*exc)
        return False


# -- activations against torch -----------------------------------------------------------------
@pytest.mark.parametrize("name", ACT_NAMES)
def test_activation_matches_torch_float64(name):
    z = _data()
    got = F.get_activation(name).forward(z)
    want = TORCH_ACTS[name](torch.from_numpy(z)).numpy()
    assert got.shape == z.shape and got.dtype == np.float64
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


def test_module_level_functions_are_the_registered_ones():
    assert F.get_activation("tanh").forward is F.tanh
    assert F.get_activation("sigmoid").forward is F.sigmoid
    assert F.get_activation("relu").forward is F.relu
    assert F.get_activation("identity").forward is F.identity
    for name in ACT_NAMES:
        assert F.get_activation(name).name == name


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_softmax_and_log_softmax_match_torch_float64(axis):
    z = _data()
    zt = torch.from_numpy(z)
    np.testing.assert_allclose(
        F.softmax(z, axis=axis), torch.softmax(zt, dim=axis).numpy(), rtol=1e-12, atol=1e-15
    )
    np.testing.assert_allclose(
        F.log_softmax(z, axis=axis), torch.log_softmax(zt, dim=axis).numpy(), rtol=1e-12, atol=1e-13
    )


def test_softmax_does_not_modify_its_input():
    z = _data()
    before = z.copy()
    F.softmax(z)
    F.log_softmax(z)
    np.testing.assert_array_equal(z, before)


@pytest.mark.parametrize("dtype", DTYPES)
def test_dtype_is_preserved(dtype):
    z = _data(dtype=dtype)
    for name in ACT_NAMES:
        act = F.get_activation(name)
        y = act.forward(z)
        assert y.dtype == dtype, name
        assert act.derivative_from_output(y).dtype == dtype, name
    assert F.softmax(z).dtype == dtype
    assert F.log_softmax(z).dtype == dtype


# -- extreme inputs ----------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ACT_NAMES)
def test_activation_extreme_inputs_are_finite_and_quiet(name, dtype):
    z = _extreme(dtype)
    with _NoFloatErrors():
        y = F.get_activation(name).forward(z)
        d = F.get_activation(name).derivative_from_output(y)
    assert y.dtype == dtype
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(d))
    want = TORCH_ACTS[name](torch.from_numpy(z.astype(np.float64))).numpy()
    np.testing.assert_allclose(y, want, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_saturates_to_exact_limits(dtype):
    y = F.sigmoid(np.array([-1e4, 1e4], dtype=dtype))
    np.testing.assert_array_equal(y, np.array([0.0, 1.0], dtype=dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_extreme_inputs(dtype):
    z = _extreme(dtype)
    with _NoFloatErrors():
        p = F.softmax(z)
        lp = F.log_softmax(z)
    assert p.dtype == dtype and lp.dtype == dtype
    assert np.all(np.isfinite(p)) and np.all(np.isfinite(lp))
    tol = 1e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(p.sum(axis=-1), 1.0, rtol=tol)
    assert np.all(p >= 0) and np.all(lp <= 0)
    # All-equal rows (the first two) are uniform.
    np.testing.assert_allclose(p[:2], 1.0 / z.shape[1], rtol=tol)
    # log_softmax agrees with log(softmax) wherever that log is finite (softmax did not underflow).
    pos = p > 0
    assert pos.any() and (~pos).any()  # the data really contains underflowing entries
    np.testing.assert_allclose(lp[pos], np.log(p[pos]), rtol=tol, atol=tol)
    # ... and with torch computed in float64.
    want = torch.log_softmax(torch.from_numpy(z.astype(np.float64)), dim=-1).numpy()
    np.testing.assert_allclose(lp, want, rtol=1e-6)


# -- derivatives -------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ACT_NAMES)
def test_derivative_from_output_matches_central_difference(name):
    act = F.get_activation(name)
    z = _data(shape=(4, 6), scale=2.0, seed=3)
    z[np.abs(z) < 1e-3] = 0.5  # keep relu's kink out of the difference stencil
    h = 1e-6
    fd = (act.forward(z + h) - act.forward(z - h)) / (2 * h)  # (4, 6)
    got = act.derivative_from_output(act.forward(z))
    np.testing.assert_allclose(got, fd, rtol=1e-7, atol=1e-9)


# -- out= --------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ACT_NAMES)
def test_forward_out_writes_in_place(name, dtype):
    act = F.get_activation(name)
    z = _data(dtype=dtype)
    want = act.forward(z)
    out = np.full_like(z, np.nan)
    ret = act.forward(z, out=out)
    assert ret is out
    np.testing.assert_array_equal(out, want)
    # The output may alias the input: activations are elementwise.
    zz = z.copy()
    ret = act.forward(zz, out=zz)
    assert ret is zz
    np.testing.assert_array_equal(zz, want)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ACT_NAMES)
def test_derivative_out_writes_in_place(name, dtype):
    act = F.get_activation(name)
    y = act.forward(_data(dtype=dtype))
    want = act.derivative_from_output(y)
    out = np.full_like(y, np.nan)
    ret = act.derivative_from_output(y, out=out)
    assert ret is out
    np.testing.assert_array_equal(out, want)
    yy = y.copy()
    ret = act.derivative_from_output(yy, out=yy)
    assert ret is yy
    np.testing.assert_array_equal(yy, want)


def test_identity_without_out_returns_a_copy():
    z = _data()
    y = F.identity(z)
    assert y is not z and not np.shares_memory(y, z)
    np.testing.assert_array_equal(y, z)


def test_derivative_without_out_leaves_the_output_alone():
    for name in ACT_NAMES:
        act = F.get_activation(name)
        y = act.forward(_data())
        before = y.copy()
        act.derivative_from_output(y)
        np.testing.assert_array_equal(y, before, err_msg=name)


# -- get_activation ----------------------------------------------------------------------------
@pytest.mark.parametrize("bad", ["softplus", "Tanh", "", None, ["tanh"]])
def test_get_activation_rejects_unknown_names(bad):
    with pytest.raises(ValueError, match="unknown nonlinearity") as info:
        F.get_activation(bad)
    message = str(info.value)
    assert repr(bad) in message
    for name in ACT_NAMES:
        assert name in message


# -- one_hot -----------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(), (0,), (7,), (3, 4), (2, 3, 5)])
def test_one_hot_matches_eye_indexing(shape):
    C = 6
    idx = np.random.default_rng(4).integers(0, C, size=shape)  # (*shape)
    got = F.one_hot(idx, C)
    assert got.shape == shape + (C,)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, np.eye(C, dtype=np.float32)[idx])


@pytest.mark.parametrize("dtype", [np.float64, np.int64, np.uint8])
def test_one_hot_dtype_and_integer_kinds(dtype):
    idx = np.array([[0, 2], [1, 1]], dtype=np.int32)
    got = F.one_hot(idx, 3, dtype=dtype)
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, np.eye(3, dtype=dtype)[idx])
    np.testing.assert_array_equal(F.one_hot(idx.astype(np.uint16), 3, dtype=dtype), got)
    np.testing.assert_array_equal(F.one_hot([[0, 2], [1, 1]], 3, dtype=dtype), got)


@pytest.mark.parametrize(
    "indices, match",
    [
        (np.array([0.0, 1.0]), "integer indices, got dtype float64"),
        (np.array([True, False]), "integer indices, got dtype bool"),
        (np.array([0, 3]), r"\[0, 3\), got values in \[0, 3\]"),
        (np.array([-1, 2]), r"\[0, 3\), got values in \[-1, 2\]"),
    ],
)
def test_one_hot_rejects_bad_indices(indices, match):
    with pytest.raises(ValueError, match=match):
        F.one_hot(indices, 3)


def test_one_hot_rejects_non_positive_num_classes():
    with pytest.raises(ValueError, match="num_classes must be a positive integer, got 0"):
        F.one_hot(np.array([0]), 0)


def test_index_add_rows_matches_add_at():
    from scratchrnn.functional import index_add_rows

    rng = np.random.default_rng(3)
    for num in (12, 300):  # both the one-hot matmul path (small tables) and the scatter path
        ids = rng.integers(0, num - 3, size=(400,))
        rows = rng.standard_normal((400, 5))
        expected = np.zeros((num, 5))
        np.add.at(expected, ids, rows)
        got = index_add_rows(ids, rows, num)
        assert got.dtype == rows.dtype and got.shape == (num, 5)
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
        f32 = index_add_rows(ids, rows.astype(np.float32), num)
        assert f32.dtype == np.float32
    assert not index_add_rows(np.array([], dtype=np.int64), np.zeros((0, 5)), 3).any()



@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sum_rows_is_the_sum_over_axis_0(dtype):
    rng = np.random.default_rng(4)
    for shape in ((400, 5), (1, 7), (3, 1), (0, 4)):
        a = rng.standard_normal(shape).astype(dtype)
        got = F.sum_rows(a)
        assert got.dtype == dtype and got.shape == (shape[1],)
        np.testing.assert_allclose(got, a.astype(np.float64).sum(axis=0), rtol=0,
                                   atol=1e-12 if dtype == np.float64 else 2e-5)
    strided = rng.standard_normal((50, 12))[:, ::3]  # a column view: read as it is
    np.testing.assert_allclose(F.sum_rows(strided), strided.sum(axis=0), rtol=0, atol=1e-12)

# -- integer input and the axis ---------------------------------------------------------------------
@pytest.mark.parametrize("fn", [F.softmax, F.log_softmax])
@pytest.mark.parametrize("dtype", [np.int64, np.int8, np.uint8, np.bool_])
def test_integer_and_bool_input_is_computed_in_float64(fn, dtype):
    z = np.array([[0, 1, 2], [3, 1, 0]]).astype(dtype)
    out = fn(z)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, fn(z.astype(np.float64)), rtol=0, atol=0)
    assert fn([1, 2, 3]).dtype == np.float64  # a list, as numpy users pass one


@pytest.mark.parametrize("fn", [F.softmax, F.log_softmax])
def test_float_input_keeps_its_dtype_and_other_input_is_refused(fn):
    assert fn(np.zeros(3, np.float32)).dtype == np.float32
    with pytest.raises(ValueError, match=f"{fn.__name__} expects real numbers, got an array of dtype <U1"):
        fn(np.array(["a", "b"]))
    with pytest.raises(ValueError, match="got an array of dtype complex128"):
        fn(np.ones(2, complex))
    with pytest.raises(ValueError, match=rf"axis must be in \[-2, 2\) for the 2-D input of {fn.__name__}"):
        fn(np.zeros((2, 3)), axis=2)
    np.testing.assert_allclose(fn(np.zeros((2, 3)), axis=np.int64(0)), fn(np.zeros((2, 3)), axis=0))


def test_one_hot_takes_any_numeric_dtype():
    out = F.one_hot(np.array([2, 0]), np.int64(3), dtype=np.int8)
    assert out.dtype == np.int8 and out.tolist() == [[0, 0, 1], [1, 0, 0]]
    with pytest.raises(ValueError, match="dtype must be a numeric dtype, got object"):
        F.one_hot(np.array([0]), 2, dtype=object)
