"""The helpers the cells share (scratchrnn.nn.projections): the input projections and their
gradients against plain products, and the weight re-layout of the gated cells."""

from __future__ import annotations

import numpy as np
import pytest

from scratchrnn.nn.projections import input_gates, input_grad, input_weight_grad, relayout_rows


def test_input_gates_of_token_ids_are_the_one_hot_product():
    rng = np.random.default_rng(0)
    T, B, V, K = 4, 3, 6, 5
    ids = rng.integers(0, V, size=(T, B))
    w, b = rng.standard_normal((K, V)), rng.standard_normal(K)
    onehot = np.eye(V)[ids]  # (T, B, V)
    expected = onehot.reshape(-1, V) @ w.T + b  # (T*B, K)
    np.testing.assert_allclose(input_gates(ids, w, b, np.empty((T * B, K))), expected, rtol=1e-12)
    np.testing.assert_allclose(input_gates(onehot, w, None, np.empty((T * B, K))), expected - b, rtol=1e-12)


def test_input_weight_grad_of_ids_and_features():
    rng = np.random.default_rng(1)
    T, B, V, K = 4, 3, 6, 5
    ids = rng.integers(0, V, size=(T, B))
    dz2 = rng.standard_normal((T * B, K))
    onehot = np.eye(V)[ids]  # (T, B, V)
    expected = dz2.T @ onehot.reshape(-1, V)  # (K, V)
    np.testing.assert_allclose(input_weight_grad(ids, dz2, V), expected, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(input_weight_grad(onehot, dz2, V), expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("lead, t0", [((), 0), ((), 2), ((3,), 0), ((3,), 1)])
def test_input_grad_is_the_product_with_the_earlier_steps_zero(lead, t0):
    rng = np.random.default_rng(2)
    T, B, K, F = 5, 2, 6, 3
    grads = rng.standard_normal((*lead, T, B, K))
    grads[..., :t0, :, :] = 0.0  # the steps before t0 got no gradient
    w = rng.standard_normal((K, F))
    np.testing.assert_allclose(input_grad(grads, w, t0), grads @ w, rtol=1e-12, atol=1e-14)


# -- the shared weight re-layout -----------------------------------------------------------------------------
@pytest.mark.parametrize("H", [3, 256, 301])  # from 256 on transposed in pieces, 301 ends on a short one
@pytest.mark.parametrize("order,scales", [((3, 0, 1, 2), (0.5, 0.5, 0.5, 1.0)), ((0, 1, 2), (0.5, 0.5, 1.0))])
def test_relayout_rows_reorders_scales_and_transposes(H, order, scales):
    rng = np.random.default_rng(H)
    w = rng.standard_normal((len(order) * H, 7))  # (G*H, K)
    blocks = [w[b * H : (b + 1) * H] * s for b, s in zip(order, scales, strict=True)]
    expected = np.concatenate(blocks)  # (G*H, K)
    np.testing.assert_array_equal(relayout_rows(w, H, order, scales), expected)
    t = relayout_rows(w, H, order, scales, transpose=True)
    assert t.flags.c_contiguous
    np.testing.assert_array_equal(t, expected.T)
    b = rng.standard_normal(len(order) * H).astype(np.float32)  # (G*H,) a bias
    pieces = [b[k * H : (k + 1) * H] * np.float32(s) for k, s in zip(order, scales, strict=True)]
    expected_b = np.concatenate(pieces)  # (G*H,)
    np.testing.assert_array_equal(relayout_rows(b, H, order, scales), expected_b)
