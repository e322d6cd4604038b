"""Adagrad, RMSprop, Adam and AdamW (scratchrnn.optim.adaptive): against torch.optim, against
their formulas bit for bit, and bad hyperparameters."""

from __future__ import annotations

import math

import numpy as np
import pytest

from optim_cases import ADAPTIVE_CASES, assert_matches_torch, make_params
from scratchrnn.optim import Adagrad, Adam, RMSprop

pytest.importorskip("torch")


@pytest.mark.parametrize("case", list(ADAPTIVE_CASES))
def test_matches_torch_optim(case):
    assert_matches_torch(ADAPTIVE_CASES[case])


def _same_bits_as(opt_cls, kwargs, dtype, seed, reference):
    """Five steps of ``opt_cls(params, **kwargs)`` on one parameter against ``reference(p, g, t)``,
    the update written out as formulas with temporaries, which moves p in place; the optimizer
    must give the same bits after every step. (The tests' workspace pools every array, so the
    optimizer's scratch arrays come from it.)"""
    rng = np.random.default_rng(seed)
    p0 = rng.standard_normal((300, 700)).astype(dtype)  # (300, 700)
    ours = {"w": p0.copy()}
    opt = opt_cls(ours, **kwargs)
    p = p0.copy()  # (300, 700)
    wd = kwargs.get("weight_decay", 0.0)
    for t in range(1, 6):
        g = rng.standard_normal(p0.shape).astype(dtype)  # (300, 700)
        opt.step({"w": g})
        if wd:
            g = g + wd * p  # (300, 700)
        reference(p, g, t)
        assert np.array_equal(ours["w"], p), f"step {t}"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_adam_gives_the_bits_of_its_formulas(dtype, amsgrad, weight_decay):
    """Adam updates through one scratch array: m += (1 - b1) (g - m), ..., p -= step (m / denom)."""
    b1, b2, eps, lr = 0.9, 0.999, 1e-8, 1e-2
    shape = (300, 700)
    m, v, vmax = np.zeros(shape, dtype), np.zeros(shape, dtype), np.zeros(shape, dtype)

    def reference(p, g, t):
        m[...] += (1.0 - b1) * (g - m)
        v[...] *= b2
        v[...] += (1.0 - b2) * (g * g)
        vv = np.maximum(vmax, v, out=vmax) if amsgrad else v
        denom = np.sqrt(vv)  # (300, 700)
        denom /= math.sqrt(1.0 - b2**t)
        denom += eps
        p -= lr / (1.0 - b1**t) * (m / denom)

    kwargs = dict(lr=lr, betas=(b1, b2), eps=eps, amsgrad=amsgrad, weight_decay=weight_decay)
    _same_bits_as(Adam, kwargs, dtype, 3, reference)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_adagrad_gives_the_bits_of_its_formulas(dtype, weight_decay):
    """Adagrad updates through a scratch array: s += g**2, p -= lr_t (g / (sqrt(s) + eps))."""
    lr, lr_decay, eps = 1e-2, 0.05, 1e-10
    s = np.full((300, 700), 0.1, dtype)

    def reference(p, g, t):
        s[...] += g * g
        denom = np.sqrt(s)  # (300, 700)
        denom += eps
        p -= lr / (1.0 + (t - 1) * lr_decay) * (g / denom)

    kwargs = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay, eps=eps, initial_accumulator_value=0.1)
    _same_bits_as(Adagrad, kwargs, dtype, 4, reference)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("centered", [False, True])
@pytest.mark.parametrize("momentum", [0.0, 0.9])
@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_rmsprop_gives_the_bits_of_its_formulas(dtype, centered, momentum, weight_decay):
    """RMSprop updates through two scratch arrays: v = alpha v + (1 - alpha) g**2, ..., p -= lr b."""
    lr, alpha, eps = 1e-2, 0.99, 1e-8
    shape = (300, 700)
    v, m, b = np.zeros(shape, dtype), np.zeros(shape, dtype), np.zeros(shape, dtype)

    def reference(p, g, t):
        v[...] *= alpha
        v[...] += (1.0 - alpha) * (g * g)
        if centered:
            m[...] += (1.0 - alpha) * (g - m)
            denom = np.sqrt(np.maximum(v - m * m, 0.0))  # (300, 700)
        else:
            denom = np.sqrt(v)  # (300, 700)
        denom += eps
        if momentum:
            b[...] *= momentum
            b[...] += g / denom
            p -= lr * b
        else:
            p -= lr * (g / denom)

    kwargs = dict(lr=lr, alpha=alpha, eps=eps, momentum=momentum, centered=centered,
                  weight_decay=weight_decay)
    _same_bits_as(RMSprop, kwargs, dtype, 5, reference)


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda p: Adam(p, betas=(1.0, 0.999)), r"beta1"),
        (lambda p: Adam(p, betas=(0.9, -0.1)), r"beta2"),
        (lambda p: Adam(p, betas=(0.9,)), r"betas"),
        (lambda p: Adam(p, eps=-1e-8), r"eps"),
        (lambda p: Adam(p, amsgrad="yes"), r"amsgrad"),
        (lambda p: RMSprop(p, alpha=1.5), r"alpha"),
        (lambda p: Adagrad(p, lr_decay=-1), r"lr_decay"),
        (lambda p: Adagrad(p, initial_accumulator_value=-1), r"initial_accumulator_value"),
    ],
)
def test_bad_hyperparameters(build, match):
    with pytest.raises(ValueError, match=match):
        build(make_params())
