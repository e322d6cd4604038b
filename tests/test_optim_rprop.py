"""Rprop and PlainRprop (scratchrnn.optim.rprop): against torch.optim.Rprop and a reference loop,
the tutorial's linear RNN, and bad hyperparameters."""

from __future__ import annotations

import numpy as np
import pytest

from optim_cases import RPROP_CASES, assert_matches_torch, grad_sequence, make_params
from scratchrnn.optim import PlainRprop, Rprop

pytest.importorskip("torch")


@pytest.mark.parametrize("case", list(RPROP_CASES))
def test_matches_torch_optim(case):
    assert_matches_torch(RPROP_CASES[case], zeros=True)


def test_rprop_flip_zeroes_gradient_and_keeps_step_next_time():
    """After a flip the entry does not move; on the step after, its size is kept (prev grad is 0)."""
    p = {"w": np.array([0.0])}
    opt = Rprop(p, lr=0.1, etas=(0.5, 1.2))
    opt.step({"w": np.array([1.0])})  # first step: size kept, moves by -0.1
    assert p["w"][0] == pytest.approx(-0.1, abs=0)
    opt.step({"w": np.array([1.0])})  # same sign: size 0.12
    assert p["w"][0] == pytest.approx(-0.22, abs=1e-15)
    opt.step({"w": np.array([-1.0])})  # flip: size 0.06, gradient zeroed, no move
    assert p["w"][0] == pytest.approx(-0.22, abs=1e-15)
    assert opt.buffers["step_size"]["w"][0] == pytest.approx(0.06, abs=1e-15)
    opt.step({"w": np.array([-1.0])})  # previous (zeroed) gradient is 0: size kept, moves +0.06
    assert p["w"][0] == pytest.approx(-0.16, abs=1e-15)


# -- PlainRprop against a loop over scalar entries ---------------------------------------------------
def plain_rprop_reference(params, grads_seq, init_step, eta_plus, eta_minus, sign_rule):
    """Entry-by-entry Python loop of the documented rule."""
    w = {k: v.copy() for k, v in params.items()}
    steps = {k: [init_step] * v.size for k, v in params.items()}
    prev = {k: [0.0] * v.size for k, v in params.items()}
    for grads in grads_seq:
        for k in w:
            flat_w = w[k].reshape(-1)
            flat_g = grads[k].reshape(-1)
            for i in range(flat_w.size):
                s = int(flat_g[i] > 0) - int(flat_g[i] < 0)
                if sign_rule == "product":
                    if s * prev[k][i] > 0:
                        steps[k][i] *= eta_plus
                    elif s * prev[k][i] < 0:
                        steps[k][i] *= eta_minus
                else:
                    steps[k][i] *= eta_plus if s == prev[k][i] else eta_minus
                flat_w[i] -= s * steps[k][i]
                prev[k][i] = s
    return w


@pytest.mark.parametrize("sign_rule", ["product", "equal"])
def test_plain_rprop_matches_reference_loop(sign_rule):
    params = make_params()
    grads_seq = grad_sequence(zeros=True)
    expected = plain_rprop_reference(params, grads_seq, 0.002, 1.3, 0.4, sign_rule)
    opt = PlainRprop(params, init_step=0.002, eta_plus=1.3, eta_minus=0.4, sign_rule=sign_rule)
    for grads in grads_seq:
        opt.step(grads)
    for k in params:
        np.testing.assert_allclose(params[k], expected[k], rtol=0, atol=1e-15, err_msg=k)


def test_plain_rprop_trains_two_weight_linear_rnn():
    """The tutorial's setting: s_k = x_k w_x + s_{k-1} w_rec counts the ones in a bit stream, full batch."""
    gen = np.random.default_rng(3)
    x = gen.integers(0, 2, size=(20, 10)).astype(np.float64)  # (N, T) bits
    t = x.sum(axis=1)  # (N,) number of ones: the answer is w = (1, 1)
    params = {"w": np.array([1.2, 1.2])}  # (w_x, w_rec)

    def loss_grad(w):
        T = x.shape[1]
        s = np.zeros((x.shape[0], T + 1))  # (N, T+1)
        for k in range(T):
            s[:, k + 1] = x[:, k] * w[0] + s[:, k] * w[1]
        err = s[:, -1] - t  # (N,)
        ds = 2 * err / x.shape[0]  # (N,) d loss / d s_T
        g = np.zeros(2)
        for k in range(T, 0, -1):
            g[0] += np.sum(ds * x[:, k - 1])
            g[1] += np.sum(ds * s[:, k - 1])
            ds = ds * w[1]
        return float(np.mean(err**2)), g

    opt = PlainRprop(params)
    first, _ = loss_grad(params["w"])
    for _ in range(300):
        _, g = loss_grad(params["w"])
        opt.step({"w": g})
    last, _ = loss_grad(params["w"])
    assert last < 1e-6 * first
    np.testing.assert_allclose(params["w"], [1.0, 1.0], atol=1e-3)


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda p: Rprop(p, etas=(1.5, 1.2)), r"eta_minus"),
        (lambda p: Rprop(p, etas=(0.5, 0.9)), r"eta_plus"),
        (lambda p: Rprop(p, step_sizes=(1.0, 0.1)), r"step_sizes"),
        (lambda p: PlainRprop(p, init_step=0), r"init_step"),
        (lambda p: PlainRprop(p, sign_rule="tutorial"), r"sign_rule"),
    ],
)
def test_bad_hyperparameters(build, match):
    with pytest.raises(ValueError, match=match):
        build(make_params())
