"""scratchrnn.losses against PyTorch, finite differences, extreme inputs and bad inputs."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scratchrnn.losses import bce_with_logits, check_quantiles, cross_entropy, mse, pinball

torch = pytest.importorskip("torch")
TF = torch.nn.functional

REDUCTIONS = ["mean", "sum"]
DTYPES = [np.float32, np.float64]
TOL = {"rtol": 1e-12, "atol": 1e-12}
SHAPE = (4, 3, 5)  # (T, B, F) for the elementwise losses; (T, B, C) for cross-entropy
FD_ATOL = 1e-8  # round-off of a central difference with eps=1e-5 on losses of size ~10-100
TORCH_IGNORE = -100  # torch's default ignore_index, used to encode masked-out positions


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


def _rng(seed=0):
    return np.random.default_rng(seed)


def _torch_loss_and_grad(fn, x):
    """Value of the torch loss ``fn(x)`` and its gradient with respect to ``x``, as numpy."""
    xt = torch.tensor(x, requires_grad=True)
    loss = fn(xt)
    loss.backward()
    return loss.item(), xt.grad.numpy()


def _central_difference(f, x, eps=1e-5):
    """d f(x)[0] / dx by central differences, one element at a time (float64, small x only)."""
    x = x.copy()
    grad = np.zeros_like(x)  # (*x.shape)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        up = f(x)[0]
        flat[i] = old - eps
        down = f(x)[0]
        flat[i] = old
        gflat[i] = (up - down) / (2 * eps)
    return grad


# Masks for the elementwise losses on SHAPE: none, full-shape boolean, and 0/1 integers that
# broadcast over the feature axis.
def _elementwise_mask(kind):
    rng = _rng(7)
    if kind is None:
        return None
    if kind == "full":
        m = rng.random(SHAPE) < 0.6  # (T, B, F)
        m[0, 0, 0] = True
        return m
    m = (rng.random(SHAPE[:2] + (1,)) < 0.6).astype(np.int64)  # (T, B, 1)
    m[0, 0, 0] = 1
    return m


def _selected(mask):
    """The boolean selection a mask makes on SHAPE (all elements when there is no mask)."""
    if mask is None:
        return np.ones(SHAPE, dtype=bool)
    return np.broadcast_to(np.asarray(mask) != 0, SHAPE)


# -- mse ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("mask_kind", [None, "full", "broadcast"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mse_matches_torch(reduction, mask_kind):
    rng = _rng(1)
    pred, target = rng.standard_normal(SHAPE), rng.standard_normal(SHAPE)  # (T, B, F)
    mask = _elementwise_mask(mask_kind)
    sel = torch.from_numpy(_selected(mask).copy())
    want_loss, want_grad = _torch_loss_and_grad(
        lambda p: TF.mse_loss(p[sel], torch.from_numpy(target)[sel], reduction=reduction), pred
    )
    loss, grad = mse(pred, target, reduction=reduction, mask=mask)
    assert isinstance(loss, float)
    assert grad.shape == pred.shape and grad.dtype == np.float64
    np.testing.assert_allclose(loss, want_loss, **TOL)
    np.testing.assert_allclose(grad, want_grad, **TOL)


# -- bce_with_logits ---------------------------------------------------------------------------
@pytest.mark.parametrize("hard", [False, True])
@pytest.mark.parametrize("mask_kind", [None, "full", "broadcast"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_matches_torch(reduction, mask_kind, hard):
    rng = _rng(2)
    logits = 4 * rng.standard_normal(SHAPE)  # (T, B, F)
    targets = (rng.random(SHAPE) < 0.5).astype(np.float64) if hard else rng.random(SHAPE)  # (T, B, F)
    mask = _elementwise_mask(mask_kind)
    sel = torch.from_numpy(_selected(mask).copy())
    y = torch.from_numpy(targets)
    want_loss, want_grad = _torch_loss_and_grad(
        lambda z: TF.binary_cross_entropy_with_logits(z[sel], y[sel], reduction=reduction), logits
    )
    loss, grad = bce_with_logits(logits, targets, reduction=reduction, mask=mask)
    assert isinstance(loss, float)
    assert grad.shape == logits.shape and grad.dtype == np.float64
    np.testing.assert_allclose(loss, want_loss, **TOL)
    np.testing.assert_allclose(grad, want_grad, **TOL)


def test_bce_mask_equals_torch_weight_for_sum():
    # A second, independent construction: torch's per-element weight with 0/1 values.
    rng = _rng(3)
    logits, targets = 3 * rng.standard_normal(SHAPE), rng.random(SHAPE)  # (T, B, F)
    mask = _elementwise_mask("broadcast")
    weight = torch.from_numpy(np.broadcast_to(mask, SHAPE).astype(np.float64))
    y = torch.from_numpy(targets)
    want_loss, want_grad = _torch_loss_and_grad(
        lambda z: TF.binary_cross_entropy_with_logits(z, y, weight=weight, reduction="sum"), logits
    )
    loss, grad = bce_with_logits(logits, targets, reduction="sum", mask=mask)
    np.testing.assert_allclose(loss, want_loss, **TOL)
    np.testing.assert_allclose(grad, want_grad, **TOL)


def test_bce_accepts_boolean_and_integer_targets():
    rng = _rng(4)
    logits = rng.standard_normal(SHAPE)  # (T, B, F)
    hard = rng.random(SHAPE) < 0.5  # (T, B, F)
    want = bce_with_logits(logits, hard.astype(np.float64))
    for targets in (hard, hard.astype(np.int8)):
        loss, grad = bce_with_logits(logits, targets)
        assert loss == want[0]
        np.testing.assert_array_equal(grad, want[1])


@pytest.mark.parametrize("shape", [(), (1,), (7,)])
def test_elementwise_losses_any_shape(shape):
    rng = _rng(15)
    x, y = rng.standard_normal(shape), rng.random(shape)  # (*shape)
    yt = torch.from_numpy(np.asarray(y))
    cases = [
        (mse, lambda p: TF.mse_loss(p, yt)),
        (bce_with_logits, lambda z: TF.binary_cross_entropy_with_logits(z, yt)),
    ]
    for ours, theirs in cases:
        want_loss, want_grad = _torch_loss_and_grad(theirs, x)
        loss, grad = ours(x, y)
        assert isinstance(grad, np.ndarray) and grad.shape == shape
        np.testing.assert_allclose(loss, want_loss, **TOL)
        np.testing.assert_allclose(grad, want_grad, **TOL)


# -- cross_entropy -----------------------------------------------------------------------------
def _ce_case(mask_kind, ignore_index, seed=5):
    """Logits (T, B, C), targets (T, B), mask and ignore_index for one test case."""
    rng = _rng(seed)
    T, B, C = SHAPE
    logits = 3 * rng.standard_normal((T, B, C))  # (T, B, C)
    targets = rng.integers(0, C, size=(T, B))  # (T, B)
    if ignore_index is not None and not 0 <= ignore_index < C:
        targets[rng.random((T, B)) < 0.3] = ignore_index
    mask = None
    if mask_kind == "full":
        mask = rng.random((T, B)) < 0.6  # (T, B)
    elif mask_kind == "broadcast":
        mask = np.array([[1], [0], [1], [1]])  # (T, 1) 0/1 integers, whole time steps
    elif mask_kind == "padding":
        # Masked-out positions hold an out-of-range padding value, which must be allowed.
        mask = rng.random((T, B)) < 0.6  # (T, B)
        targets[~mask] = C + 3
    if mask is not None:
        mask[0, 0] = True
        targets[0, 0] = 1  # at least one position counts
    return logits, targets, mask


def _torch_cross_entropy(logits, targets, mask, ignore_index, reduction):
    """torch's loss and gradient with the mask encoded through torch's own ignore_index."""
    C = logits.shape[-1]
    code = TORCH_IGNORE if ignore_index is None else ignore_index
    t = targets
    if mask is not None:
        t = np.where(np.broadcast_to(np.asarray(mask) != 0, targets.shape), targets, code)  # (...)
    tt = torch.from_numpy(np.ascontiguousarray(t).reshape(-1))
    return _torch_loss_and_grad(
        lambda z: TF.cross_entropy(z.reshape(-1, C), tt, ignore_index=code, reduction=reduction), logits
    )


CE_CASES = [
    (None, None),
    ("full", None),
    ("broadcast", None),
    ("padding", None),
    (None, -1),
    (None, 2),  # ignoring a real class
    ("full", -1),
    ("broadcast", 3),
]


@pytest.mark.parametrize("mask_kind, ignore_index", CE_CASES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_matches_torch(reduction, mask_kind, ignore_index):
    logits, targets, mask = _ce_case(mask_kind, ignore_index)
    want_loss, want_grad = _torch_cross_entropy(logits, targets, mask, ignore_index, reduction)
    loss, grad = cross_entropy(logits, targets, reduction=reduction, mask=mask, ignore_index=ignore_index)
    assert isinstance(loss, float)
    assert grad.shape == logits.shape and grad.dtype == np.float64
    np.testing.assert_allclose(loss, want_loss, **TOL)
    np.testing.assert_allclose(grad, want_grad, **TOL)


@pytest.mark.parametrize("lead", [(), (6,), (2, 3, 2)])
def test_cross_entropy_any_leading_shape(lead):
    rng = _rng(6)
    C = 4
    logits = rng.standard_normal(lead + (C,))  # (..., C)
    targets = rng.integers(0, C, size=lead)  # (...)
    want_loss, want_grad = _torch_cross_entropy(logits, targets, None, None, "mean")
    loss, grad = cross_entropy(logits, targets)
    np.testing.assert_allclose(loss, want_loss, **TOL)
    np.testing.assert_allclose(grad, want_grad, **TOL)


def test_cross_entropy_non_contiguous_logits_and_inputs_untouched():
    rng = _rng(8)
    T, B, C = SHAPE
    base = rng.standard_normal((C, B, T))  # (C, B, T)
    logits = base.transpose(2, 1, 0)  # (T, B, C) a non-contiguous view
    targets = rng.integers(0, C, size=(T, B))  # (T, B)
    before_logits, before_targets = logits.copy(), targets.copy()
    loss, grad = cross_entropy(logits, targets)
    want_loss, want_grad = cross_entropy(np.ascontiguousarray(logits), targets)
    assert loss == want_loss
    np.testing.assert_array_equal(grad, want_grad)
    np.testing.assert_array_equal(logits, before_logits)
    np.testing.assert_array_equal(targets, before_targets)
    assert grad.shape == logits.shape


def test_cross_entropy_integer_mask_equals_boolean_mask():
    logits, targets, mask = _ce_case("full", None)
    a = cross_entropy(logits, targets, mask=mask)
    b = cross_entropy(logits, targets, mask=mask.astype(np.float32))
    assert a[0] == b[0]
    np.testing.assert_array_equal(a[1], b[1])


@given(
    seed=st.integers(0, 2**32 - 1),
    lead=st.lists(st.integers(1, 4), min_size=0, max_size=3).map(tuple),
    C=st.integers(1, 6),
    use_mask=st.booleans(),
    ignore=st.sampled_from([None, -1, 0]),
    reduction=st.sampled_from(REDUCTIONS),
)
@settings(max_examples=40, deadline=None)
def test_cross_entropy_random_shapes_match_torch(seed, lead, C, use_mask, ignore, reduction):
    rng = _rng(seed)
    logits = 5 * rng.standard_normal(lead + (C,))  # (..., C)
    targets = rng.integers(-1 if ignore == -1 else 0, C, size=lead)  # (...)
    mask = rng.random(lead) < 0.7 if use_mask else None  # (...)
    loss, grad = cross_entropy(logits, targets, reduction=reduction, mask=mask, ignore_index=ignore)
    counted = np.ones(lead, dtype=bool) if mask is None else mask.copy()
    if ignore is not None:
        counted &= targets != ignore
    if not counted.any():  # torch's mean would be 0/0; ours is defined as 0
        assert loss == 0.0 and not grad.any()
        return
    want_loss, want_grad = _torch_cross_entropy(logits, targets, mask, ignore, reduction)
    np.testing.assert_allclose(loss, want_loss, **TOL)
    np.testing.assert_allclose(grad, want_grad, **TOL)


# -- finite differences ------------------------------------------------------------------------
def _elementwise_cases():
    rng = _rng(9)
    pred, target = rng.standard_normal(SHAPE), rng.standard_normal(SHAPE)  # (T, B, F)
    probs = rng.random(SHAPE)  # (T, B, F)
    for reduction in REDUCTIONS:
        for kind in (None, "full", "broadcast"):
            kwargs = {"reduction": reduction, "mask": _elementwise_mask(kind)}
            yield f"mse-{reduction}-{kind}", mse, pred, target, kwargs
            yield f"bce-{reduction}-{kind}", bce_with_logits, 2 * pred, probs, kwargs


@pytest.mark.parametrize("case", list(_elementwise_cases()), ids=lambda c: c[0])
def test_elementwise_gradients_match_finite_differences(case):
    _, loss_fn, x, y, kwargs = case
    _, grad = loss_fn(x, y, **kwargs)
    fd = _central_difference(lambda v: loss_fn(v, y, **kwargs), x)
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=FD_ATOL)


@pytest.mark.parametrize("mask_kind, ignore_index", CE_CASES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_gradient_matches_finite_differences(reduction, mask_kind, ignore_index):
    logits, targets, mask = _ce_case(mask_kind, ignore_index, seed=10)
    kwargs = {"reduction": reduction, "mask": mask, "ignore_index": ignore_index}
    _, grad = cross_entropy(logits, targets, **kwargs)
    fd = _central_difference(lambda z: cross_entropy(z, targets, **kwargs), logits)
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=FD_ATOL)


# -- nothing counted ---------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nothing_counted_gives_zero_loss_and_gradient(reduction):
    rng = _rng(11)
    x, y = rng.standard_normal(SHAPE), rng.random(SHAPE)  # (T, B, F)
    none = np.zeros(SHAPE, dtype=bool)  # (T, B, F)
    logits, targets, _ = _ce_case(None, None)
    results = [
        mse(x, y, reduction=reduction, mask=none),
        bce_with_logits(x, y, reduction=reduction, mask=none),
        cross_entropy(logits, targets, reduction=reduction, mask=np.zeros(targets.shape, dtype=bool)),
        cross_entropy(logits, np.full(targets.shape, -1), reduction=reduction, ignore_index=-1),
        cross_entropy(np.zeros((0, 5)), np.zeros((0,), dtype=np.int64), reduction=reduction),
    ]
    for loss, grad in results:
        assert loss == 0.0 and isinstance(loss, float)
        assert not grad.any() and np.all(np.isfinite(grad))
    assert results[0][1].shape == SHAPE and results[2][1].shape == logits.shape
    assert results[4][1].shape == (0, 5)


# -- extreme inputs ----------------------------------------------------------------------------
def _extreme_logits(shape, dtype, seed=12):
    rng = _rng(seed)
    z = rng.choice(np.array([-1e4, -3e3, -20.0, 0.0, 20.0, 3e3, 1e4]), size=shape)  # (*shape)
    return z.astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_extreme_logits_are_finite_quiet_and_correct(dtype, reduction):
    rng = _rng(13)
    T, B, C = SHAPE
    logits = _extreme_logits((T, B, C), dtype)  # (T, B, C)
    logits[0, 0] = 1e4  # a row of equal extremes
    targets = rng.integers(0, C, size=(T, B))  # (T, B)
    probs = rng.random((T, B, C))  # (T, B, C)
    with _NoFloatErrors():
        results = {
            "ce": cross_entropy(logits, targets, reduction=reduction),
            "bce": bce_with_logits(logits, probs, reduction=reduction),
            "mse": mse(logits, probs, reduction=reduction),
        }
    # The reference sees exactly the numbers the losses see: targets cast to the logits' dtype.
    z64 = logits.astype(np.float64)  # (T, B, C)
    y64 = torch.from_numpy(probs.astype(dtype).astype(np.float64))  # (T, B, C)
    reference = {
        "ce": _torch_cross_entropy(z64, targets, None, None, reduction),
        "bce": _torch_loss_and_grad(
            lambda z: TF.binary_cross_entropy_with_logits(z, y64, reduction=reduction), z64
        ),
        "mse": _torch_loss_and_grad(lambda z: TF.mse_loss(z, y64, reduction=reduction), z64),
    }
    rtol = 1e-6 if dtype == np.float32 else 1e-12
    for name, (loss, grad) in results.items():
        assert np.isfinite(loss), name
        assert grad.dtype == dtype and np.all(np.isfinite(grad)), name
        want_loss, want_grad = reference[name]
        np.testing.assert_allclose(loss, want_loss, rtol=rtol, err_msg=name)
        atol = rtol * np.abs(want_grad).max()
        np.testing.assert_allclose(grad, want_grad, rtol=rtol, atol=atol, err_msg=name)


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_confident_prediction(dtype):
    # The value follows from logsumexp by hand: with z = (1e4, -1e4, 0) the log-sum-exp is 1e4
    # (the other terms vanish), so the loss of each target is 1e4 - z[t].
    logits = np.array([[1e4, -1e4, 0.0]] * 3, dtype=dtype)  # (3, 3)
    with _NoFloatErrors():
        loss, grad = cross_entropy(logits, np.array([0, 1, 2]), reduction="sum")
    assert loss == pytest.approx(0.0 + 2e4 + 1e4, rel=1e-7)
    want = np.array([[0.0, 0, 0], [1, -1, 0], [1, 0, -1]], dtype=dtype)  # softmax - onehot
    np.testing.assert_array_equal(grad, want)


# -- dtype -------------------------------------------------------------------------------------
def test_float32_in_float32_out():
    rng = _rng(14)
    T, B, C = SHAPE
    z = rng.standard_normal((T, B, C)).astype(np.float32)  # (T, B, C)
    y = rng.random((T, B, C))  # float64 targets are cast to the prediction's dtype
    t = rng.integers(0, C, size=(T, B))  # (T, B)
    mask = rng.random((T, B)) < 0.5  # (T, B)
    mask[0, 0] = True
    for loss, grad in (
        mse(z, y),
        bce_with_logits(z, y),
        cross_entropy(z, t),
        cross_entropy(z, t, mask=mask, ignore_index=0),
    ):
        assert isinstance(loss, float)
        assert grad.dtype == np.float32 and grad.shape == z.shape
    # float32 agrees with the float64 computation to float32 accuracy.
    l32, g32 = cross_entropy(z, t)
    l64, g64 = cross_entropy(z.astype(np.float64), t)
    np.testing.assert_allclose(l32, l64, rtol=1e-6)
    np.testing.assert_allclose(g32, g64, rtol=1e-5, atol=1e-7)


# -- bad inputs --------------------------------------------------------------------------------
X34 = np.zeros((3, 4))
Z345 = np.zeros((3, 4, 5))
T34 = np.zeros((3, 4), dtype=np.int64)

BAD_INPUTS = [
    # shape mismatches name both shapes
    (mse, (X34, np.zeros((4, 3))), {}, r"targets have shape \(4, 3\), predictions have shape \(3, 4\)"),
    (bce_with_logits, (X34, np.zeros((3,))), {}, r"targets have shape \(3,\), logits have shape \(3, 4\)"),
    (cross_entropy, (Z345, np.zeros((3, 5), dtype=int)), {},
     r"targets have shape \(3, 5\), logits have shape \(3, 4, 5\).*\(3, 4\)"),
    (cross_entropy, (Z345, np.zeros((3, 4, 5), dtype=int)), {}, r"targets have shape \(3, 4, 5\)"),
    (cross_entropy, (np.zeros(()), np.zeros((), dtype=int)), {}, r"C >= 1 classes, got shape \(\)"),
    (cross_entropy, (np.zeros((3, 0)), np.zeros(3, dtype=int)), {}, r"C >= 1 classes, got shape \(3, 0\)"),
    # target dtypes and values
    (cross_entropy, (Z345, T34.astype(float)), {}, "integer class indices, got dtype float64"),
    (cross_entropy, (Z345, T34.astype(bool)), {}, "integer class indices, got dtype bool"),
    (cross_entropy, (Z345, T34 + 5), {}, r"must lie in \[0, 5\) for 5 classes, got values in \[5, 5\]"),
    (cross_entropy, (Z345, T34 - 1), {}, r"must lie in \[0, 5\) for 5 classes, got values in \[-1, -1\]"),
    (cross_entropy, (Z345, np.where(np.eye(3, 4) > 0, -1, 7)), {"ignore_index": -1},
     r"counted targets must lie in \[0, 5\).*got values in \[7, 7\]"),
    (cross_entropy, (Z345, T34), {"ignore_index": 1.0}, "ignore_index must be an integer or None, got 1.0"),
    (cross_entropy, (Z345, T34), {"ignore_index": True}, "ignore_index must be an integer or None, got True"),
    (bce_with_logits, (X34, X34 + 2), {}, r"probabilities in \[0, 1\], got values in \[2.0, 2.0\]"),
    (bce_with_logits, (X34, X34 - 0.5), {}, r"probabilities in \[0, 1\]"),
    (mse, (X34, X34.astype(complex)), {}, "targets must be real numbers, got dtype complex128"),
    (mse, (X34, X34.astype(str)), {}, "targets must be real numbers, got dtype <U"),
    # reductions
    (mse, (X34, X34), {"reduction": "none"}, r"mse reduction must be one of 'mean', 'sum', got 'none'"),
    (bce_with_logits, (X34, X34), {"reduction": "avg"}, r"reduction must be one of 'mean', 'sum', got 'avg'"),
    (cross_entropy, (Z345, T34), {"reduction": None}, r"reduction must be one of 'mean', 'sum', got None"),
    # prediction dtypes
    (mse, (X34.astype(np.float16), X34), {}, "predictions must be float32 or float64, got dtype float16"),
    (bce_with_logits, (X34.astype(int), X34), {}, "logits must be float32 or float64, got dtype int64"),
    (cross_entropy, (Z345.astype(np.float16), T34), {}, "must be float32 or float64, got dtype float16"),
    # masks
    (mse, (X34, X34), {"mask": np.ones(3, dtype=bool)},
     r"mask has shape \(3,\), which does not broadcast to the prediction shape \(3, 4\)"),
    (bce_with_logits, (X34, X34), {"mask": np.ones((2, 3, 4), dtype=bool)},
     r"mask has shape \(2, 3, 4\), which does not broadcast to the logits shape \(3, 4\)"),
    (cross_entropy, (Z345, T34), {"mask": np.ones((3, 4, 5), dtype=bool)},
     r"mask has shape \(3, 4, 5\), which does not broadcast to the targets shape \(3, 4\)"),
    (cross_entropy, (Z345, T34), {"mask": np.ones(5, dtype=bool)}, r"mask has shape \(5,\)"),
    (mse, (X34, X34), {"mask": np.full((3, 4), 2)}, "mask must hold only 0 and 1 .*got the value 2"),
    (cross_entropy, (Z345, T34), {"mask": np.full((3, 4), 0.5)}, "mask must hold only 0 and 1 .*0.5"),
    (bce_with_logits, (X34, X34), {"mask": np.full((3, 4), "y")}, "mask must be boolean or hold 0/1 numbers"),
]


@pytest.mark.parametrize(
    "loss_fn, args, kwargs, match", BAD_INPUTS, ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(BAD_INPUTS)]
)
def test_bad_inputs_raise_informative_value_errors(loss_fn, args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        loss_fn(*args, **kwargs)


def test_out_of_range_targets_are_allowed_where_they_do_not_count():
    logits, targets, mask = _ce_case("full", None)
    padded = targets.copy()
    padded[~mask] = -7
    a = cross_entropy(logits, targets, mask=mask)
    b = cross_entropy(logits, padded, mask=mask)
    assert a[0] == b[0]
    np.testing.assert_array_equal(a[1], b[1])
    # ... and are still rejected where they do count.
    padded[0, 0] = -7
    with pytest.raises(ValueError, match=r"counted targets must lie in \[0, 5\)"):
        cross_entropy(logits, padded, mask=mask)


# -- lengths and class weights ------------------------------------------------------------------
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_losses_with_lengths_equal_the_mask_they_stand_for(reduction):
    rng = np.random.default_rng(1)
    Tn, Bn, O = 5, 3, 4
    lens = np.array([2, 5, 1])
    valid = np.arange(Tn)[:, None] < lens  # (T, B)
    p, y = rng.standard_normal((Tn, Bn, O)), rng.standard_normal((Tn, Bn, O))
    for loss, target in ((mse, y), (bce_with_logits, rng.random((Tn, Bn, O)))):
        a = loss(p, target, reduction, lengths=lens)
        b = loss(p, target, reduction, mask=valid[..., None])
        assert a[0] == pytest.approx(b[0], rel=1e-12)
        np.testing.assert_array_equal(a[1], b[1])
    t = rng.integers(0, O, size=(Tn, Bn))
    t[~valid] = -7  # padding targets may be anything
    extra = rng.random((Tn, Bn)) < 0.7
    a = cross_entropy(p, t, reduction, mask=extra, lengths=lens)
    b = cross_entropy(p, t, reduction, mask=extra & valid)
    assert a[0] == pytest.approx(b[0], rel=1e-12)
    np.testing.assert_array_equal(a[1], b[1])


def test_losses_check_lengths():
    p = np.zeros((4, 2, 3))
    with pytest.raises(ValueError, match=r"mse lengths must be a 1-D integer array of 2 sequence lengths in "
                                         r"\[1, 4\].*got values in \[0, 4\]"):
        mse(p, p, lengths=[0, 4])
    with pytest.raises(ValueError, match="cross_entropy lengths need time-major targets"):
        cross_entropy(np.zeros((2, 3)), np.zeros(2, int), lengths=[1, 1])


def test_cross_entropy_class_weights_equal_torch():
    rng = np.random.default_rng(8)
    z, t = rng.standard_normal((6, 5, 3)), rng.integers(0, 3, size=(6, 5))
    w = np.array([0.5, 2.0, 1.5])
    mask = rng.random((6, 5)) < 0.8
    for reduction in ("mean", "sum"):
        loss, grad = cross_entropy(z, t, reduction, mask=mask, weight=w)
        zt = torch.tensor(z, requires_grad=True)
        tt = torch.tensor(np.where(mask, t, -100))  # torch drops ignore_index=-100
        ref = torch.nn.functional.cross_entropy(zt.reshape(-1, 3), tt.reshape(-1), weight=torch.tensor(w),
                                                reduction=reduction)
        ref.backward()
        assert loss == pytest.approx(ref.item(), rel=1e-12)
        np.testing.assert_allclose(grad, zt.grad.numpy(), rtol=1e-12, atol=1e-14)
    with pytest.raises(ValueError, match=r"weight must be 3 class weights \(one per class\), got shape"):
        cross_entropy(z, t, weight=[1.0, 2.0])
    with pytest.raises(ValueError, match="weight must hold finite non-negative numbers"):
        cross_entropy(z, t, weight=[1.0, -2.0, 1.0])


# -- pinball (quantile) loss -------------------------------------------------------------------
LEVELS = (0.1, 0.5, 0.9)


def _torch_pinball(pred, target, levels, mask, reduction):
    """The pinball loss written in torch ops, its gradient by autograd."""
    p = torch.tensor(pred, requires_grad=True)
    y = torch.tensor(target)
    q = torch.tensor(levels, dtype=p.dtype)
    e = y.unsqueeze(-1) - p.reshape(*target.shape, len(levels))  # (..., O, Q)
    elem = torch.maximum(q * e, (q - 1) * e)
    m = torch.ones(target.shape, dtype=torch.bool) if mask is None else torch.tensor(
        np.broadcast_to(mask, target.shape).copy())
    total = (elem * m.unsqueeze(-1)).sum()
    loss = total / m.sum() if reduction == "mean" else total
    loss.backward()
    return loss.item(), p.grad.numpy()


@pytest.mark.parametrize("mask_kind", [None, "full", "broadcast"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_pinball_matches_torch_and_finite_differences(reduction, mask_kind):
    rng = _rng(21)
    target = rng.standard_normal(SHAPE)  # (T, B, F): F targets per position
    pred = rng.standard_normal((*SHAPE[:-1], SHAPE[-1] * len(LEVELS)))  # (T, B, F*Q)
    mask = _elementwise_mask(mask_kind)
    loss, grad = pinball(pred, target, LEVELS, reduction=reduction, mask=mask)
    want_loss, want_grad = _torch_pinball(pred, target, LEVELS, mask, reduction)
    assert loss == pytest.approx(want_loss, rel=1e-12)
    np.testing.assert_allclose(grad, want_grad, **TOL)
    fd = _central_difference(lambda v: pinball(v, target, LEVELS, reduction=reduction, mask=mask), pred)
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=FD_ATOL)


def test_pinball_is_each_levels_formula_and_its_median_half_the_absolute_error():
    y = np.array([[1.0, -2.0]])  # (1, 2)
    p = np.array([[0.0, 1.0, 3.0, -2.5, -2.0, 0.0]])  # (1, 6): three quantiles of each target
    loss, grad = pinball(p, y, LEVELS, reduction="sum")
    # target 1: e = 1, 0, -2 -> 0.1*1, 0 (a tie), 0.1*2; target -2: e = 0.5, 0, -2 -> 0.05, 0, 0.2
    assert loss == pytest.approx(0.1 + 0.0 + 0.2 + 0.05 + 0.0 + 0.2, rel=1e-12)
    np.testing.assert_allclose(grad, [[-0.1, 0.0, 0.1, -0.1, 0.0, 0.1]], atol=1e-15)
    one, _ = pinball(np.array([[0.5]]), np.array([[2.0]]), (0.5,))
    assert one == pytest.approx(0.5 * 1.5)


def test_pinball_float32_and_padding_that_does_not_count():
    y = np.array([[1.0, np.nan]], dtype=np.float32)  # (1, 2), the NaN is padding
    p = np.zeros((1, 2), dtype=np.float32)
    loss, grad = pinball(p, y, (0.5,), mask=np.array([[True, False]]))
    assert grad.dtype == np.float32 and np.isfinite(grad).all() and loss == pytest.approx(0.5)
    assert grad[0, 1] == 0


@pytest.mark.parametrize("args, match", [
    ((np.zeros((2, 5)), np.zeros((2, 2)), LEVELS), r"shape \(2, 5\); 3 quantiles .* need \(2, 6\)"),
    ((np.zeros((2, 3)), np.zeros((2, 1)), (0.5, 0.1, 0.9)), "must be increasing"),
    ((np.zeros((2, 3)), np.zeros((2, 1)), (0.0, 0.5, 0.9)), r"levels in \(0, 1\), got 0.0"),
    ((np.zeros((2, 3)), np.zeros((2, 1)), ()), "non-empty sequence"),
    ((np.zeros((2, 1), dtype=int), np.zeros((2, 1)), (0.5,)), "float32 or float64"),
    ((np.zeros((2, 1)), np.array([["a"], ["b"]]), (0.5,)), "real numbers"),
])
def test_pinball_bad_inputs_say_what_they_expected(args, match):
    with pytest.raises(ValueError, match=match):
        pinball(*args)


def test_check_quantiles_gives_floats():
    assert check_quantiles([0.25, np.float32(0.75)]) == (0.25, 0.75)
    with pytest.raises(ValueError, match="got 'ab'"):
        check_quantiles("ab")
