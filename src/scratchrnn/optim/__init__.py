"""Optimizers, learning-rate schedules and gradient clipping over ``name -> array`` dicts.

An optimizer keeps references to a model's parameter arrays and updates them in place from the
gradients its backward pass returns (a dict parallel to the parameters); it never knows what a
layer is. One job per module, every public name importable from ``scratchrnn.optim``:

* ``base``: the ``Optimizer`` base class, its state-dict format and the shared checks;
* ``sgd``: ``SGD`` (momentum, Nesterov, weight decay);
* ``adaptive``: ``Adagrad``, ``RMSprop``, ``Adam``, ``AdamW``;
* ``rprop``: ``Rprop`` (PyTorch's) and ``PlainRprop`` (the tutorials');
* ``schedules``: ``StepLR``, ``CosineLR``, ``HalveOnIncrease`` and ``LRSchedule`` (the schedules
  by name in ``SCHEDULES``, with warmup, that ``TrainConfig.lr_schedule`` builds);
* ``clipping``: ``global_norm``, ``clip_by_value``, ``clip_grad_norm``, ``clip_per_param_norm``;

and here, ``make_optimizer`` builds any optimizer by one of the names in ``OPTIMIZERS``, refusing
an option the optimizer does not have (``weight_decay`` for the Rprops) with the names of those
that have it.

The update formulas follow ``torch.optim`` (single-tensor code path); the tests check each
against PyTorch to 1e-12 in float64; ``PlainRprop``, which has no PyTorch counterpart, is checked
against a reference loop.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping

import numpy as np

from .adaptive import Adagrad, AdagradConfig, Adam, AdamConfig, AdamW, RMSprop, RMSpropConfig
from .base import Optimizer
from .clipping import clip_by_value, clip_grad_norm, clip_per_param_norm, global_norm
from .rprop import PlainRprop, PlainRpropConfig, Rprop, RpropConfig
from .schedules import SCHEDULES, CosineLR, HalveOnIncrease, LRSchedule, StepLR, schedule_from_state
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
    "LRSchedule",
    "OPTIMIZERS",
    "Optimizer",
    "PlainRprop",
    "PlainRpropConfig",
    "RMSprop",
    "RMSpropConfig",
    "Rprop",
    "RpropConfig",
    "SCHEDULES",
    "SGDConfig",
    "StepLR",
    "schedule_from_state",
    "clip_by_value",
    "clip_grad_norm",
    "clip_per_param_norm",
    "global_norm",
    "make_optimizer",
    "optimizer_options",
]

OPTIMIZERS = ("sgd", "momentum", "adagrad", "rmsprop", "adam", "adamw", "rprop", "plain-rprop")
MOMENTUM_DEFAULT = 0.9  # what "momentum" means when no momentum is given
_CLASSES = {"sgd": SGD, "momentum": SGD, "adagrad": Adagrad, "rmsprop": RMSprop, "adam": Adam, "adamw": AdamW,
            "rprop": Rprop, "plain-rprop": PlainRprop}


def _key(name) -> str:
    key = name.strip().lower().replace("_", "-") if isinstance(name, str) else None
    if key not in _CLASSES:
        raise ValueError(f"unknown optimizer {name!r}; expected one of {', '.join(OPTIMIZERS)}")
    return key


def optimizer_options(name: str) -> tuple[str, ...]:
    """The keyword options the optimizer called ``name`` takes besides its parameters
    (``"lr"`` included: for ``"plain-rprop"`` it stands for ``init_step``)."""
    key = _key(name)
    options = tuple(p for p in inspect.signature(_CLASSES[key]).parameters if p != "params")
    return options + ("lr",) if key == "plain-rprop" else options


def make_optimizer(name: str, params: Mapping[str, np.ndarray], **kwargs) -> Optimizer:
    """Build an optimizer by name (one of ``OPTIMIZERS``); ``kwargs`` go to its constructor.

    ``"momentum"`` is SGD with momentum 0.9 unless given; for ``"plain-rprop"`` an ``lr``
    keyword is taken as ``init_step``. An option the optimizer does not take is a ValueError
    naming the optimizers that do take it (``weight_decay``: all but the two Rprops).
    """
    key = _key(name)
    unknown = [k for k in kwargs if k not in optimizer_options(key)]
    if unknown:
        having = [n for n in OPTIMIZERS if unknown[0] in optimizer_options(n)]
        which = f"; the optimizers that have it: {', '.join(having)}" if having else ""
        raise ValueError(f"the {key} optimizer has no option {unknown[0]!r}{which}; it takes "
                         f"{', '.join(optimizer_options(key))}")
    if key == "momentum":
        kwargs.setdefault("momentum", MOMENTUM_DEFAULT)
    if key == "plain-rprop" and "lr" in kwargs:
        if "init_step" in kwargs:
            raise ValueError("plain-rprop takes lr or init_step, not both")
        kwargs["init_step"] = kwargs.pop("lr")
    return _CLASSES[key](params, **kwargs)
