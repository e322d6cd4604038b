"""The initialisers (scratchrnn.init): PyTorch's distributions, drawn from an explicit Generator."""

import numpy as np
import pytest

from scratchrnn import init


def test_uniform_bounds_dtype_and_reproducibility():
    w = init.uniform((200, 50), 0.3, np.random.default_rng(0), np.float32)
    assert w.dtype == np.float32 and w.shape == (200, 50)
    assert -0.3 <= w.min() < -0.29 and 0.29 < w.max() <= 0.3
    np.testing.assert_array_equal(w, init.uniform((200, 50), 0.3, np.random.default_rng(0), np.float32))


def test_normal_moments():
    w = init.normal((400, 250), 2.0, np.random.default_rng(1), np.float64)
    assert abs(w.mean()) < 0.02 and abs(w.std() - 2.0) < 0.02


def test_as_generator_is_the_package_rng_rule():
    gen = np.random.default_rng(5)
    assert init.as_generator(gen) is gen
    np.testing.assert_array_equal(init.as_generator(3).random(2), np.random.default_rng(3).random(2))
    with pytest.raises(ValueError, match="rng must be None, an integer seed"):
        init.as_generator("3")


def test_initialisers_take_a_generator_and_a_float_dtype():
    for fn in (init.uniform, init.normal):
        with pytest.raises(ValueError, match=r"rng must be a numpy Generator \(np.random.default_rng"):
            fn((2,), 1.0, 0)
        with pytest.raises(ValueError, match="dtype must be one of float32, float64, got int64"):
            fn((2,), 1.0, np.random.default_rng(0), np.int64)
    with pytest.raises(ValueError, match="bound must be >= 0.0, got -1.0"):
        init.uniform((2,), -1.0, np.random.default_rng(0))
