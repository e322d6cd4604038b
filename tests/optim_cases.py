"""Shared inputs of the optimizer tests: parameters, gradient sequences and the PyTorch cases."""

from __future__ import annotations

import numpy as np

from scratchrnn.optim import SGD, Adagrad, Adam, AdamW, RMSprop, Rprop

SHAPES = {"weight": (3, 4), "bias": (5,), "scalar": ()}
N_STEPS = 20


def make_params(seed: int = 0, dtype=np.float64) -> dict[str, np.ndarray]:
    gen = np.random.default_rng(seed)
    return {k: gen.standard_normal(s).astype(dtype) for k, s in SHAPES.items()}


def grad_sequence(n: int = N_STEPS, seed: int = 1, zeros: bool = False) -> list[dict[str, np.ndarray]]:
    """Random gradients; independent draws change sign about half the time. With ``zeros`` about a
    fifth of the entries are exactly 0 (Rprop treats those separately)."""
    gen = np.random.default_rng(seed)
    seq = []
    for _ in range(n):
        g = {k: gen.standard_normal(s) for k, s in SHAPES.items()}
        if zeros:
            g = {k: np.where(gen.random(v.shape) < 0.2, 0.0, v) for k, v in g.items()}
        seq.append(g)
    return seq


def copy_dict(d):
    return {k: np.array(v, copy=True) for k, v in d.items()}


# (our class, our kwargs, torch class name, torch kwargs), one dict per module under test
SGD_CASES = {
    "sgd": (SGD, dict(lr=0.1), "SGD", dict(lr=0.1)),
    "sgd-momentum-dampening": (
        SGD,
        dict(lr=0.05, momentum=0.9, dampening=0.1),
        "SGD",
        dict(lr=0.05, momentum=0.9, dampening=0.1),
    ),
    "sgd-nesterov": (
        SGD,
        dict(lr=0.05, momentum=0.9, nesterov=True),
        "SGD",
        dict(lr=0.05, momentum=0.9, nesterov=True),
    ),
    "sgd-weight-decay": (
        SGD,
        dict(lr=0.05, momentum=0.5, weight_decay=0.01),
        "SGD",
        dict(lr=0.05, momentum=0.5, weight_decay=0.01),
    ),
}

ADAPTIVE_CASES = {
    "adagrad": (
        Adagrad,
        dict(lr=0.1, lr_decay=0.01, weight_decay=0.02, initial_accumulator_value=0.1),
        "Adagrad",
        dict(lr=0.1, lr_decay=0.01, weight_decay=0.02, initial_accumulator_value=0.1),
    ),
    "rmsprop": (RMSprop, dict(lr=0.01), "RMSprop", dict(lr=0.01)),
    "rmsprop-centered-momentum": (
        RMSprop,
        dict(lr=0.01, alpha=0.9, centered=True, momentum=0.8, weight_decay=0.01),
        "RMSprop",
        dict(lr=0.01, alpha=0.9, centered=True, momentum=0.8, weight_decay=0.01),
    ),
    "adam": (Adam, dict(lr=0.01), "Adam", dict(lr=0.01)),
    "adam-amsgrad-wd": (
        Adam,
        dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.05, amsgrad=True),
        "Adam",
        dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.05, amsgrad=True),
    ),
    "adamw": (AdamW, dict(lr=0.01, weight_decay=0.1), "AdamW", dict(lr=0.01, weight_decay=0.1)),
}

RPROP_CASES = {
    "rprop": (Rprop, dict(lr=0.01), "Rprop", dict(lr=0.01)),
    "rprop-tight-bounds": (
        Rprop,
        dict(lr=0.01, etas=(0.3, 1.5), step_sizes=(0.004, 0.02)),
        "Rprop",
        dict(lr=0.01, etas=(0.3, 1.5), step_sizes=(0.004, 0.02)),
    ),
}

TORCH_CASES = {**SGD_CASES, **ADAPTIVE_CASES, **RPROP_CASES}


def run_torch(torch_name: str, torch_kwargs: dict, params, grads_seq):
    import torch  # here, not at the top: the test files that compare with PyTorch skip without it

    tparams = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    opt = getattr(torch.optim, torch_name)(list(tparams.values()), foreach=False, **torch_kwargs)
    for grads in grads_seq:
        for k, p in tparams.items():
            p.grad = torch.tensor(grads[k], dtype=torch.float64)
        opt.step()
    return {k: p.detach().numpy() for k, p in tparams.items()}


def assert_matches_torch(case, zeros: bool = False) -> None:
    """``N_STEPS`` steps of ours and of the ``torch.optim`` namesake from one start agree to 1e-12
    in float64, and the parameters moved. ``zeros``: gradients with exact zeros (for Rprop)."""
    cls, kwargs, torch_name, torch_kwargs = case
    params = make_params()
    grads_seq = grad_sequence(zeros=zeros)
    expected = run_torch(torch_name, torch_kwargs, params, grads_seq)
    opt = cls(params, **kwargs)
    for grads in grads_seq:
        opt.step(grads)
    moved = False
    for k in params:
        np.testing.assert_allclose(params[k], expected[k], rtol=0, atol=1e-12, err_msg=k)
        moved |= not np.allclose(params[k], make_params()[k])
    assert moved, "the parameters did not move"
