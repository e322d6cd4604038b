"""The binary-to-decimal task, checked against numbers recomputed here with plain Python: the weights
reach (1, 2) and convert every 8-bit and random 24-bit number exactly (recomputed from the final
weights with a Python loop), and the task's Rprop follows the tutorial's step rule (a hand-written
loop reproduces its first updates).
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from scratchrnn.tasks import TaskResult, binary_to_decimal

# the tutorial's Rprop constants, written out here so the task's defaults are checked against them
TUTORIAL_INIT_STEP = 0.001
TUTORIAL_ETA_PLUS = 1.2
TUTORIAL_ETA_MINUS = 0.5


# -- helpers -----------------------------------------------------------------------------------
def linear_rnn_value(bits_msb_first, w_x: float, w_rec: float) -> float:
    """s_k = x_k * w_x + s_{k-1} * w_rec from s = 0, in Python floats."""
    s = 0.0
    for bit in bits_msb_first:
        s = bit * w_x + s * w_rec
    return s


def msb_bits(value: int, width: int) -> list[int]:
    return [(value >> (width - 1 - k)) & 1 for k in range(width)]


def mse_gradient(w_x: float, w_rec: float, rows: list[list[int]], values: list[int]) -> tuple[float, float]:
    """d/dw of mean((s_n - v)^2) for the two-weight linear RNN, by hand-written BPTT."""
    g_x = g_rec = 0.0
    n = len(values)
    for bits, v in zip(rows, values, strict=True):
        states = [0.0]
        for bit in bits:
            states.append(bit * w_x + states[-1] * w_rec)
        ds = 2.0 * (states[-1] - v) / n
        for k in range(len(bits) - 1, -1, -1):
            g_x += ds * bits[k]
            g_rec += ds * states[k]
            ds *= w_rec
    return g_x, g_rec


def tutorial_rprop_path(rows, values, steps: int):
    """The tutorial's loop: grow the step while sign(g) equals the previous sign, else halve it."""
    w = [1.0, 1.0]
    delta = [TUTORIAL_INIT_STEP, TUTORIAL_INIT_STEP]
    prev = [0, 0]
    path, shrinks = [tuple(w)], 0
    for _ in range(steps):
        g = mse_gradient(w[0], w[1], rows, values)
        sign = [(gi > 0) - (gi < 0) for gi in g]
        for i in range(2):
            if sign[i] == prev[i]:
                delta[i] *= TUTORIAL_ETA_PLUS
            else:
                delta[i] *= TUTORIAL_ETA_MINUS
                shrinks += 1
            w[i] -= sign[i] * delta[i]
        prev = sign
        path.append(tuple(w))
    return path, shrinks



# -- one run of the task per module -----------------------------------------------------------
@pytest.fixture(scope="module")
def b2d() -> TaskResult:
    return binary_to_decimal.run(binary_to_decimal.Config())



def test_binary_to_decimal_weights_reach_one_and_two(b2d):
    m = b2d.metrics
    final = b2d.artifacts["path"][-1]
    assert (m["w_x"], m["w_rec"]) == (final[0], final[1])
    assert abs(m["w_x"] - 1.0) <= 1e-3 and abs(m["w_rec"] - 2.0) <= 1e-3
    assert m["max_weight_error"] == max(abs(m["w_x"] - 1.0), abs(m["w_rec"] - 2.0))
    assert m["exact_8bit"] == 256 and m["exact_24bit"] == binary_to_decimal.Config().test_samples == 1000
    assert b2d.passed
    assert b2d.figures == ("binary_surface",)  # the loss surface with the Rprop path
    # the loss curve has one entry per evaluation: every step, plus the one that met the tolerance
    assert m["iterations"] == len(b2d.artifacts["path"]) - 1
    assert len(b2d.curves["loss"]) == m["iterations"] + 1
    assert b2d.curves["loss"][-1] < binary_to_decimal.Config().tolerance


def test_binary_to_decimal_conversions_recomputed_from_final_weights(b2d):
    w_x, w_rec = float(b2d.metrics["w_x"]), float(b2d.metrics["w_rec"])
    for v in range(256):
        assert round(linear_rnn_value(msb_bits(v, 8), w_x, w_rec)) == v
    rng = random.Random(2024)
    values = [rng.getrandbits(24) for _ in range(1000)]
    assert max(values) >= 2**23  # really 24-bit numbers
    for v in values:
        assert round(linear_rnn_value(msb_bits(v, 24), w_x, w_rec)) == v
    # the check is sharp: weights a little off (still within 1e-3 of (1, 2)) miss many 24-bit numbers
    wrong = sum(round(linear_rnn_value(msb_bits(v, 24), w_x, w_rec + 1e-6)) != v for v in values)
    assert wrong > 900


def test_binary_to_decimal_model_with_final_weights_converts_every_8bit_number(b2d):
    rnn = binary_to_decimal.build_model()
    rnn.params["weight_ih_l0"][...] = b2d.metrics["w_x"]
    rnn.params["weight_hh_l0"][...] = b2d.metrics["w_rec"]
    x = np.array([msb_bits(v, 8) for v in range(256)], dtype=np.float64).T[:, :, None]  # (8, 256, 1)
    pred = binary_to_decimal.predict(rnn, x)  # (256,)
    assert [round(float(p)) for p in pred] == list(range(256))


def test_binary_to_decimal_rprop_follows_the_tutorial_rule(b2d):
    cfg = binary_to_decimal.Config()
    tutorial = (TUTORIAL_INIT_STEP, TUTORIAL_ETA_PLUS, TUTORIAL_ETA_MINUS)
    assert (cfg.init_step, cfg.eta_plus, cfg.eta_minus) == tutorial
    x, values = b2d.artifacts["x"], b2d.artifacts["values"]  # (bits, N, 1), (N,)
    rows = [[int(b) for b in x[:, n, 0]] for n in range(x.shape[1])]
    ints = [int(v) for v in values]
    assert ints == [int("".join(map(str, r)), 2) for r in rows]  # training data: bits MSB first
    steps = 60
    expected, shrinks = tutorial_rprop_path(rows, ints, steps)
    assert shrinks > 2  # the first step (sign 0 before) and later sign flips exercise the shrink branch
    got = b2d.artifacts["path"][: steps + 1]
    np.testing.assert_allclose(got, np.array(expected), rtol=1e-12, atol=0.0)
    # the first update halves the initial step: both weights grow by init_step / 2 from (1, 1)
    assert got[1] == pytest.approx((1.0 + TUTORIAL_INIT_STEP / 2, 1.0 + TUTORIAL_INIT_STEP / 2), abs=1e-15)



def test_config_is_checked_when_made():
    cfg = binary_to_decimal.Config(samples=np.int64(5), eta_plus=np.float32(1.5))
    assert type(cfg.samples) is int and type(cfg.eta_plus) is float
    with pytest.raises(ValueError, match="eta_minus must be < 1.0, got 1.0"):
        binary_to_decimal.Config(eta_minus=1.0)
