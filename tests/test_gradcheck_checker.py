"""The finite-difference checker (scratchrnn.gradcheck.checker) on functions with known gradients."""

from __future__ import annotations

import numpy as np
import pytest

from scratchrnn.gradcheck import (
    check_gradients,
    numerical_gradient,
)

T, B, F, H = 5, 2, 3, 4


# -- the checker on functions with known gradients ---------------------------------------------
def _smooth_problem(seed: int = 0):
    """f = sum(a * w**2) + sum(sin(v)) + 0.5 * u^T M u, with gradients written out by hand."""
    gen = np.random.default_rng(seed)
    a = gen.standard_normal((3, 4))  # (3, 4)
    m = gen.standard_normal((5, 5))  # (5, 5)
    params = {
        "w": gen.standard_normal((3, 4)),  # (3, 4)
        "v": gen.standard_normal(6),  # (6,)
        "u": gen.standard_normal(5),  # (5,)
        "s": np.array(0.7),  # () a 0-d parameter
    }

    def fn(p):
        return float(np.sum(a * p["w"] ** 2) + np.sum(np.sin(p["v"])) + 0.5 * p["u"] @ m @ p["u"]
                     + np.exp(p["s"]))

    def grads(p):
        return {
            "w": 2.0 * a * p["w"],
            "v": np.cos(p["v"]),
            "u": 0.5 * (m + m.T) @ p["u"],
            "s": np.exp(p["s"]),
        }

    return fn, params, grads


def test_numerical_gradient_matches_closed_form():
    fn, params, grads = _smooth_problem()
    num = numerical_gradient(fn, params)
    exact = grads(params)
    assert set(num) == set(params)
    for name in params:
        assert num[name].shape == params[name].shape
        np.testing.assert_allclose(num[name], exact[name], rtol=1e-7, atol=1e-8, err_msg=name)


def test_check_gradients_passes_on_exact_gradient():
    fn, params, grads = _smooth_problem(1)
    report = check_gradients(fn, params, grads(params))
    assert report.ok, str(report)
    assert [c.name for c in report.checks] == list(params)
    assert all(c.checked == params[c.name].size for c in report.checks)
    assert report.max_rel_err < 1e-6


def test_numerical_gradient_on_non_contiguous_parameter():
    base = np.random.default_rng(2).standard_normal((4, 3))  # (4, 3)
    w = base.T  # (3, 4) a transposed view, not C-contiguous
    c = np.arange(12.0).reshape(3, 4)  # (3, 4)
    num = numerical_gradient(lambda p: float(np.sum(c * p["w"] ** 3)), {"w": w})
    np.testing.assert_allclose(num["w"], 3.0 * c * w**2, rtol=1e-7, atol=1e-8)


def test_numerical_gradient_only_on_requested_indices():
    fn, params, grads = _smooth_problem(3)
    num = numerical_gradient(fn, params, indices={"w": [0, 5, 11], "s": None})
    assert set(num) == {"w", "s"}
    flat = num["w"].reshape(-1)
    done = np.zeros(12, dtype=bool)
    done[[0, 5, 11]] = True
    assert np.all(np.isnan(flat[~done]))
    np.testing.assert_allclose(flat[done], grads(params)["w"].reshape(-1)[done], rtol=1e-7)
    with pytest.raises(ValueError, match=r"\[0, 12\)"):
        numerical_gradient(fn, params, indices={"w": [12]})
    with pytest.raises(ValueError, match="unknown parameter"):
        numerical_gradient(fn, params, indices={"nope": None})


def test_scaled_gradient_fails():
    fn, params, grads = _smooth_problem(4)
    wrong = grads(params)
    wrong["w"] = wrong["w"] * 1.01
    report = check_gradients(fn, params, wrong)
    assert not report.ok
    assert [c.name for c in report.failures] == ["w"]
    assert report["w"].max_rel_err == pytest.approx(0.01 / 1.01, rel=1e-3)
    assert report["v"].ok and report["u"].ok and report["s"].ok


def test_single_wrong_entry_is_located():
    fn, params, grads = _smooth_problem(5)
    wrong = grads(params)
    exact_value = wrong["u"][3]
    wrong["u"][3] += 0.5
    report = check_gradients(fn, params, wrong)
    bad = report["u"]
    assert not bad.ok and bad.failed == 1
    assert bad.worst_index == (3,)
    assert bad.analytic == pytest.approx(exact_value + 0.5)
    assert bad.numeric == pytest.approx(exact_value, rel=1e-7)
    assert bad.max_abs_err == pytest.approx(0.5, rel=1e-6)
    assert bad.max_rel_err == pytest.approx(0.5 / max(abs(exact_value + 0.5), abs(exact_value)), rel=1e-6)
    assert "u[3]" in str(report) and "FAILED" in str(report)


def test_tolerance_boundary():
    # f(w) = 2 w: the numeric derivative is 2 up to rounding, far inside the margins used here
    params = {"w": np.array([0.3])}
    atol, rtol = 1e-5, 1e-3
    margin = atol + rtol * 2.0
    fn = lambda p: float(2.0 * p["w"][0])  # noqa: E731
    assert check_gradients(fn, params, {"w": np.array([2.0 + 0.9 * margin])}, atol=atol, rtol=rtol).ok
    assert not check_gradients(fn, params, {"w": np.array([2.0 + 1.1 * margin])}, atol=atol, rtol=rtol).ok
    assert not check_gradients(fn, params, {"w": np.array([2.0 - 1.1 * margin])}, atol=atol, rtol=rtol).ok
    # relative error floors its denominator at atol: tiny gradients are judged absolutely
    report = check_gradients(lambda p: float(1e-7 * p["w"][0]), params, {"w": np.array([0.0])}, atol=atol)
    assert report.ok and report["w"].max_rel_err == pytest.approx(1e-7 / atol, rel=1e-4)


def test_nan_gradient_fails():
    fn, params, grads = _smooth_problem(6)
    wrong = grads(params)
    wrong["v"][2] = np.nan
    report = check_gradients(fn, params, wrong)
    assert not report["v"].ok and report["v"].worst_index == (2,)


def test_params_restored_exactly():
    gen = np.random.default_rng(7)
    w = gen.standard_normal((4, 5)) * 10.0 ** gen.uniform(-8, 2, (4, 5))  # (4, 5) magnitudes 1e-8 .. 1e2
    # values where stepping down by eps and back up does not round-trip: undoing the step by
    # arithmetic would not restore them, only writing back the saved value does
    assert np.any((w - 1e-6) + 1e-6 != w)
    before = w.copy()
    numerical_gradient(lambda p: float(np.sum(np.tanh(p["w"]))), {"w": w})
    assert np.array_equal(w.view(np.uint64), before.view(np.uint64))


def test_params_restored_when_fn_raises():
    w = np.random.default_rng(8).standard_normal(6) + 0.1  # (6,)
    before = w.copy()
    calls = []

    def fn(p):
        calls.append(p["w"].copy())
        if len(calls) == 4:  # the second entry's -eps evaluation
            raise RuntimeError("boom")
        return float(np.sum(p["w"] ** 2))

    with pytest.raises(RuntimeError, match="boom"):
        numerical_gradient(fn, {"w": w})
    assert np.array_equal(w.view(np.uint64), before.view(np.uint64))
    assert calls[3][1] != before[1]  # it really was perturbed when fn raised


def test_non_finite_loss_is_reported():
    def fn(p):  # finite at w[0] = 0 and above, NaN below
        return float("nan") if p["w"][0] < 0 else float(p["w"][0] ** 2)

    with pytest.raises(ValueError, match=r"non-finite.*w\[0\] - eps"):
        numerical_gradient(fn, {"w": np.array([0.0, 1.0])})


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.int64])
def test_non_float64_params_rejected(dtype):
    params = {"w": np.ones(3, dtype=dtype)}
    with pytest.raises(ValueError, match="float64"):
        numerical_gradient(lambda p: float(np.sum(p["w"])), params)
    with pytest.raises(ValueError, match="float64"):
        check_gradients(lambda p: float(np.sum(p["w"])), params, {"w": np.ones(3)})


def test_bad_arguments_rejected():
    fn, params, grads = _smooth_problem(9)
    g = grads(params)
    with pytest.raises(ValueError, match="missing"):
        check_gradients(fn, params, {k: v for k, v in g.items() if k != "v"})
    with pytest.raises(ValueError, match="unexpected"):
        check_gradients(fn, params, {**g, "extra": np.zeros(1)})
    with pytest.raises(ValueError, match="shape"):
        check_gradients(fn, params, {**g, "w": g["w"].T})
    with pytest.raises(ValueError, match="max_entries"):
        check_gradients(fn, params, g, max_entries=0)
    with pytest.raises(ValueError, match="eps"):
        numerical_gradient(fn, params, eps=0.0)
    read_only = np.ones(2)
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        numerical_gradient(lambda p: 0.0, {"r": read_only})
    with pytest.raises(ValueError, match="scalar"):
        numerical_gradient(lambda p: p["w"], {"w": np.ones(2)})


def test_max_entries_samples_reproducibly():
    fn, params, grads = _smooth_problem(10)
    wrong = grads(params)
    wrong["w"] = wrong["w"] * 1.5  # every entry wrong, so the worst index is a sampled one
    a = check_gradients(fn, params, wrong, max_entries=5, rng=np.random.default_rng(3))
    b = check_gradients(fn, params, wrong, max_entries=5, rng=np.random.default_rng(3))
    assert a["w"].checked == 5 and a["v"].checked == 5 and a["u"].checked == 5 and a["s"].checked == 1
    assert a["w"].worst_index == b["w"].worst_index and a["w"].failed == 5
    calls = []

    def counting(p):
        calls.append(1)
        return fn(p)

    check_gradients(counting, params, grads(params), max_entries=2)
    assert len(calls) == 2 * (2 + 2 + 2 + 1)
