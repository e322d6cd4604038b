"""Optimizers, learning-rate schedules and gradient clipping over ``name -> array`` dicts.

An optimizer keeps references to a model's parameter arrays and updates them in place from the
gradients its backward pass returns (a dict parallel to the parameters); it never knows what a
layer is. One job per module, every public name importable from ``scratchrnn.optim``:

* ``base``: the ``Optimizer`` base class, its state-dict format and the shared checks;
* ``sgd``: ``SGD`` (momentum, Nesterov, weight decay);
* ``adaptive``: ``Adagrad``, ``RMSprop``, ``Adam``, ``AdamW``;
* ``rprop``: ``Rprop`` (PyTorch's) and ``PlainRprop`` (the tutorials');
* ``schedules``: ``StepLR``, ``CosineLR``, ``HalveOnIncrease``;
* ``clipping``: ``global_norm``, ``clip_by_value``, ``clip_grad_norm``, ``clip_per_param_norm``;

and here, ``make_optimizer`` builds any optimizer by one of the names in ``OPTIMIZERS``.

The update formulas follow ``torch.optim`` (single-tensor code path); the tests check each
against PyTorch to 1e-12 in float64; ``PlainRprop``, which has no PyTorch counterpart, is checked
against a reference loop.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .adaptive import Adagrad, AdagradConfig, Adam, AdamConfig, AdamW, RMSprop, RMSpropConfig
from .base import Optimizer
from .clipping import clip_by_value, clip_grad_norm, clip_per_param_norm, global_norm
from .rprop import PlainRprop, PlainRpropConfig, Rprop, RpropConfig
from .schedules import CosineLR, HalveOnIncrease, StepLR
from .sgd import SGD, SGDConfig

__all__ = [
    "SGD",
    "Adagrad",
    "AdagradConfig",
    "Adam",
    "AdamConfig",
    "AdamW",
    "CosineLR",
    "HalveOnIncrease",
    "OPTIMIZERS",
    "Optimizer",
    "PlainRprop",
    "PlainRpropConfig",
    "RMSprop",
    "RMSpropConfig",
    "Rprop",
    "RpropConfig",
    "SGDConfig",
    "StepLR",
    "clip_by_value",
    "clip_grad_norm",
    "clip_per_param_norm",
    "global_norm",
    "make_optimizer",
]

OPTIMIZERS = ("sgd", "momentum", "adagrad", "rmsprop", "adam", "adamw", "rprop", "plain-rprop")
MOMENTUM_DEFAULT = 0.9  # what "momentum" means when no momentum is given


def make_optimizer(name: str, params: Mapping[str, np.ndarray], **kwargs) -> Optimizer:
    """Build an optimizer by name (one of ``OPTIMIZERS``); ``kwargs`` go to its constructor.

    ``"momentum"`` is SGD with momentum 0.9 unless given; for ``"plain-rprop"`` an ``lr``
    keyword is taken as ``init_step``.
    """
    key = name.strip().lower().replace("_", "-") if isinstance(name, str) else name
    if key == "sgd":
        return SGD(params, **kwargs)
    if key == "momentum":
        kwargs.setdefault("momentum", MOMENTUM_DEFAULT)
        return SGD(params, **kwargs)
    if key == "adagrad":
        return Adagrad(params, **kwargs)
    if key == "rmsprop":
        return RMSprop(params, **kwargs)
    if key == "adam":
        return Adam(params, **kwargs)
    if key == "adamw":
        return AdamW(params, **kwargs)
    if key == "rprop":
        return Rprop(params, **kwargs)
    if key == "plain-rprop":
        if "lr" in kwargs:
            if "init_step" in kwargs:
                raise ValueError("plain-rprop takes lr or init_step, not both")
            kwargs["init_step"] = kwargs.pop("lr")
        return PlainRprop(params, **kwargs)
    raise ValueError(f"unknown optimizer {name!r}; expected one of {', '.join(OPTIMIZERS)}")
