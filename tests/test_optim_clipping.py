"""Gradient clipping (scratchrnn.optim.clipping): against torch's clip_grad_norm_, non-finite
gradients, overflow."""

from __future__ import annotations

import math

import numpy as np
import pytest

from optim_cases import copy_dict, grad_sequence
from scratchrnn.optim import clip_by_value, clip_grad_norm, clip_per_param_norm, global_norm

torch = pytest.importorskip("torch")


def _torch_clip(grads, max_norm):
    tensors = {k: torch.zeros(v.shape, dtype=torch.float64, requires_grad=True) for k, v in grads.items()}
    for k, t in tensors.items():
        t.grad = torch.tensor(grads[k])
    norm = torch.nn.utils.clip_grad_norm_(list(tensors.values()), max_norm)
    return float(norm), {k: t.grad.numpy() for k, t in tensors.items()}


@pytest.mark.parametrize("ratio", [0.1, 0.8, 0.999, 2.0])
def test_clip_grad_norm_matches_torch(ratio):
    grads = grad_sequence(1)[0]
    max_norm = ratio * float(np.sqrt(sum(np.sum(g**2) for g in grads.values())))
    expected_norm, expected = _torch_clip(copy_dict(grads), max_norm)
    norm = clip_grad_norm(grads, max_norm)
    assert norm == pytest.approx(expected_norm, rel=1e-14)
    assert norm == pytest.approx(math.sqrt(sum(float(np.sum(g**2)) for g in grad_sequence(1)[0].values())))
    for k in grads:
        np.testing.assert_allclose(grads[k], expected[k], rtol=1e-14, atol=0)
    after = global_norm(grads)
    assert after == pytest.approx(min(norm, max_norm), rel=1e-5)


def test_clip_per_param_norm():
    grads = {"a": np.full(4, 3.0), "b": np.array([0.1, -0.2]), "c": np.array([[6.0, -8.0]])}
    before = copy_dict(grads)
    norms = clip_per_param_norm(grads, 1.0)
    assert norms == {k: pytest.approx(float(np.linalg.norm(v))) for k, v in before.items()}
    np.testing.assert_array_equal(grads["b"], before["b"])  # under the limit: untouched
    for k in ("a", "c"):
        assert np.linalg.norm(grads[k]) == pytest.approx(1.0, rel=1e-5)
        np.testing.assert_allclose(grads[k] / np.linalg.norm(grads[k]), before[k] / norms[k])


def test_clip_by_value():
    gen = np.random.default_rng(5)
    grads = {"w": gen.normal(0, 10, size=(40, 30)), "b": gen.normal(0, 10, size=(30,)).astype(np.float32)}
    before = copy_dict(grads)
    n_out = sum(int(np.sum(np.abs(v) > 10)) for v in before.values())
    frac = clip_by_value(grads, -10, 10)
    assert 0 < n_out and frac == n_out / (40 * 30 + 30)
    for k, g in grads.items():
        assert g.dtype == before[k].dtype
        assert g.max() <= 10 and g.min() >= -10
        inside = np.abs(before[k]) <= 10
        np.testing.assert_array_equal(g[inside], before[k][inside])
        np.testing.assert_array_equal(g[~inside], np.sign(before[k][~inside]) * 10)
    assert clip_by_value(grads, -10, 10) == 0.0
    with pytest.raises(ValueError, match="min_value"):
        clip_by_value(grads, 1, -1)


def test_non_finite_gradients_are_reported_not_clipped():
    grads = {"w": np.array([1.0, np.nan, 2.0]), "b": np.array([3.0])}
    before = copy_dict(grads)
    assert math.isnan(global_norm(grads))
    assert math.isnan(clip_grad_norm(grads, 1.0))
    for k in grads:
        np.testing.assert_array_equal(grads[k], before[k])
    norms = clip_per_param_norm(grads, 1.0)
    assert math.isnan(norms["w"]) and norms["b"] == 3.0
    np.testing.assert_array_equal(grads["w"], before["w"])
    np.testing.assert_array_equal(grads["b"], [1.0 * 3.0 / (3.0 + 1e-6)])
    inf_grads = {"w": np.array([np.inf, 1.0])}
    assert clip_grad_norm(inf_grads, 1.0) == math.inf
    np.testing.assert_array_equal(inf_grads["w"], [np.inf, 1.0])


def test_global_norm_does_not_overflow():
    big32 = {"w": np.full(4, 1e30, dtype=np.float32)}  # squares overflow float32
    assert global_norm(big32) == pytest.approx(2e30, rel=1e-6)
    big64 = {"w": np.full(4, 1e200), "b": np.array([3e200, 4e200])}  # squares overflow float64
    assert global_norm(big64) == pytest.approx(math.sqrt(4 + 25) * 1e200, rel=1e-12)
    clip_grad_norm(big64, 1.0)
    assert global_norm(big64) == pytest.approx(1.0, rel=1e-9)
    assert global_norm({}) == 0.0
    with pytest.raises(ValueError, match="'w'"):
        global_norm({"w": [1.0, 2.0]})


def test_eps_and_a_given_norm_are_checked():
    grads = {"w": np.ones(4)}
    with pytest.raises(ValueError, match="eps must be >= 0.0, got -1.0"):
        clip_grad_norm(grads, 1.0, eps=-1.0)
    with pytest.raises(ValueError, match="eps must be a real number, got '0'"):
        clip_per_param_norm(grads, 1.0, eps="0")
    with pytest.raises(ValueError, match="norm must be None or the gradients' global norm .*, got '2'"):
        clip_grad_norm(grads, 1.0, norm="2")  # float("2") would have taken it
    assert clip_grad_norm(grads, 1.0, norm=np.float32(2.0)) == 2.0
