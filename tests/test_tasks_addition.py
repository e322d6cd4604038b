"""The binary-addition task: every pair of operands below 128 and 10,000 random pairs of 32-bit
operands are summed exactly by the trained model (compared with Python int sums), and ``add``
refuses what it cannot sum.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from scratchrnn.tasks import TaskResult, addition


# -- one run of the task per module -----------------------------------------------------------
@pytest.fixture(scope="module")
def addition_result() -> TaskResult:
    return addition.run(addition.Config())



def test_addition_metrics(addition_result):
    m = addition_result.metrics
    assert m["exact_8bit_pairs"] == m["pairs_8bit"] == 128 * 128
    assert m["exact_32bit_pairs"] == m["pairs_32bit"] == 10_000
    assert addition_result.passed
    assert addition_result.figures == ("addition_hidden",)  # the hidden units while the model adds


def test_addition_every_pair_below_128_recomputed(addition_result):
    model = addition_result.artifacts["model"]
    a = [i // 128 for i in range(128 * 128)]
    b = [i % 128 for i in range(128 * 128)]
    got = addition.add(model, np.array(a), np.array(b), 8)
    assert got.shape == (128 * 128,)
    wrong = [(p, q) for p, q, s in zip(a, b, got.tolist(), strict=True) if s != p + q]
    assert wrong == []


def test_addition_random_32bit_pairs_recomputed(addition_result):
    model = addition_result.artifacts["model"]
    rng = random.Random(7)
    a = [rng.getrandbits(32) for _ in range(10_000)]
    b = [rng.getrandbits(32) for _ in range(10_000)]
    assert sum(p + q >= 2**32 for p, q in zip(a, b, strict=True)) > 1000  # many need the 33rd step
    got = addition.add(model, np.array(a, dtype=np.uint64), np.array(b, dtype=np.uint64), 33)
    wrong = [(p, q) for p, q, s in zip(a, b, got.tolist(), strict=True) if s != p + q]
    assert wrong == []


def test_addition_untrained_model_gets_sums_wrong():
    """The exactness checks above can fail: a fresh model's sums are mostly wrong."""
    model = addition.build_model(addition.Config())
    a, b = np.arange(128), np.arange(128)[::-1].copy()
    got = addition.add(model, a, b, 8).tolist()
    assert sum(s == 127 for s in got) < 64


def test_add_rejects_operands_it_cannot_sum(addition_result):
    model = addition_result.artifacts["model"]
    with pytest.raises(ValueError, match="reach 2\\*\\*8"):
        addition.add(model, np.array([200]), np.array([100]), 8)
    with pytest.raises(ValueError, match="operands must lie in"):
        addition.add(model, np.array([-1]), np.array([1]), 8)
    with pytest.raises(ValueError, match="bits must be an integer"):
        addition.add(model, np.array([1]), np.array([1]), 64)
    with pytest.raises(ValueError, match="equal length"):
        addition.add(model, np.array([1, 2]), np.array([1]), 8)
    with pytest.raises(ValueError, match="integer arrays"):
        addition.add(model, np.array([1.0]), np.array([1.0]), 8)
    assert model.training is False  # run() left it in evaluation mode, and add() keeps the mode it found
    model.train(True)
    addition.add(model, np.array([1]), np.array([2]), 8)
    assert model.training is True
    model.train(False)



def test_config_is_checked_when_made_and_keeps_python_values():
    cfg = addition.Config(hidden_size=np.int64(4), steps=np.int32(10), dtype=np.float64)
    assert type(cfg.hidden_size) is int and type(cfg.steps) is int and cfg.dtype == "float64"
    with pytest.raises(ValueError, match=r"bits must be an integer in \[1, 9\], got 10"):
        addition.Config(bits=10)  # the run tests every pair of operands: 2**18 of them
    with pytest.raises(ValueError, match="a model of 1 rnn layer with input_size 2 and hidden_size 1,000,000 "
                                         "needs about 4 TB"):
        addition.Config(hidden_size=1_000_000)
