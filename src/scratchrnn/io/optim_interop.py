"""An optimizer's state to ``torch.optim`` and back, so that training continues without a jolt.

:func:`to_torch_optimizer` turns a scratchrnn optimizer into the ``torch.optim`` optimizer of the
same name over a torch module's parameters (the module ``scratchrnn.io.to_torch`` made of the
optimized one, whose parameters carry the same names), with the same hyperparameters, the current
learning rate, the step count and every moment buffer in its ``state``. :func:`from_torch_optimizer`
is the way back, onto a scratchrnn module's parameters. Both follow the single-tensor code path
(``foreach=False``), the one whose formulas scratchrnn's optimizers follow, so steps on either side
after the hand-over agree to rounding.

Supported (``TORCH_OPTIMIZERS``): SGD (momentum, dampening, Nesterov, weight decay), Adagrad,
RMSprop, Adam and AdamW. The buffers keep their torch names (``momentum_buffer``, ``sum``,
``square_avg``, ``grad_avg``, ``exp_avg``, ``exp_avg_sq``, ``max_exp_avg_sq``); torch counts steps
per parameter (``state[p]["step"]``), scratchrnn once per optimizer. torch's SGD keeps no step
count: coming back, its count is 1 when it holds momentum buffers (which is all that its update
reads), else 0, unless ``step_count`` is given. Importing this module never imports torch.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping

import numpy as np

from ..optim import SGD, Adagrad, Adam, AdamW, Optimizer, RMSprop
from .interop import as_array, require_torch

__all__ = ["TORCH_OPTIMIZERS", "from_torch_optimizer", "to_torch_optimizer"]

TORCH_OPTIMIZERS = ("SGD", "Adagrad", "RMSprop", "Adam", "AdamW")  # the same class name on both sides
_CLASSES = {"SGD": SGD, "Adagrad": Adagrad, "RMSprop": RMSprop, "Adam": Adam, "AdamW": AdamW}
# torch.optim options that change what a step does and that scratchrnn's optimizers do not have,
# with the value they must hold
_FIXED_OPTIONS = {"maximize": False, "differentiable": False}


def _torch_kwargs(optimizer: Optimizer) -> dict:
    """The torch constructor's keyword arguments for ``optimizer``'s hyperparameters and lr."""
    h = optimizer.hyper()
    name = type(optimizer).__name__
    if name in ("Adam", "AdamW"):
        h["betas"] = (h.pop("beta1"), h.pop("beta2"))
    if name == "AdamW":
        h.pop("decoupled_weight_decay")  # what makes it AdamW
    return {**h, "lr": optimizer.lr, "foreach": False}


def _named_parameters(torch_module) -> dict:
    """Every parameter of ``torch_module`` by each of its names (a tied weight under both)."""
    return dict(torch_module.named_parameters(remove_duplicate=False))


def _check_supported(name: str, what: str) -> None:
    if name not in TORCH_OPTIMIZERS:
        raise ValueError(f"{what} {name} has no torch.optim counterpart that scratchrnn converts; "
                         f"supported: {', '.join(TORCH_OPTIMIZERS)}")


def to_torch_optimizer(optimizer: Optimizer, torch_module):
    """The ``torch.optim`` optimizer of ``optimizer``'s class over ``torch_module``'s parameters of
    the same names, with its hyperparameters, current learning rate, step count and buffers."""
    torch = require_torch()
    if not isinstance(optimizer, Optimizer):
        raise ValueError(f"to_torch_optimizer expects a scratchrnn optimizer, got {type(optimizer).__name__}")
    name = type(optimizer).__name__
    _check_supported(name, "the optimizer")
    if not isinstance(torch_module, torch.nn.Module):
        raise ValueError(f"to_torch_optimizer expects a torch.nn.Module, got {type(torch_module).__name__}")
    named = _named_parameters(torch_module)
    missing = [k for k in optimizer.params if k not in named]
    if missing:
        raise ValueError(f"the torch module has no parameters {missing[:5]}; it has {sorted(named)[:8]} "
                         "(make it with scratchrnn.io.to_torch from the optimized module)")
    for k, p in optimizer.params.items():
        if tuple(named[k].shape) != p.shape:
            raise ValueError(f"parameter {k!r} is {tuple(named[k].shape)} in the torch module, "
                             f"{p.shape} here")
    params = [named[k] for k in optimizer.params]
    out = getattr(torch.optim, name)(params, **_torch_kwargs(optimizer))
    step_dtype = torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32
    for k, p in zip(optimizer.params, params, strict=True):
        state = {b: torch.tensor(np.array(bufs[k], copy=True), dtype=p.dtype)
                 for b, bufs in optimizer.buffers.items()}
        if name == "SGD":
            if optimizer.step_count == 0:
                state = {}  # torch makes the buffer at its first step
        else:
            state["step"] = torch.tensor(float(optimizer.step_count), dtype=step_dtype)
        if state:
            out.state[p] = state
    return out


def _scratch_hyper(name: str, group: Mapping) -> dict:
    """The scratchrnn constructor's keyword arguments from one torch parameter group."""
    for option, value in _FIXED_OPTIONS.items():
        if group.get(option, value) != value:
            raise ValueError(f"the torch {name} has {option}={group[option]!r}, which scratchrnn's {name} "
                             f"does not have (it needs {option}={value!r})")
    cls = _CLASSES[name]
    wanted = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "params")]
    return {k: (tuple(group[k]) if k == "betas" else group[k]) for k in wanted if k in group}


def from_torch_optimizer(torch_optimizer, torch_module, params: Mapping[str, np.ndarray],
                         step_count: int | None = None) -> Optimizer:
    """The scratchrnn optimizer of ``torch_optimizer``'s class over ``params`` (a scratchrnn
    module's, under the names ``torch_module`` gives the optimized parameters), with its
    hyperparameters, learning rate, step count and buffers; ``step_count`` sets the count where
    torch keeps none (SGD) or overrides it."""
    torch = require_torch()
    if not isinstance(torch_optimizer, torch.optim.Optimizer):
        raise ValueError(f"from_torch_optimizer expects a torch.optim optimizer, got "
                         f"{type(torch_optimizer).__name__}")
    name = type(torch_optimizer).__name__
    _check_supported(name, "the torch optimizer")
    if len(torch_optimizer.param_groups) != 1:
        raise ValueError(f"the torch {name} has {len(torch_optimizer.param_groups)} parameter groups; "
                         "scratchrnn's optimizers have one")
    group = torch_optimizer.param_groups[0]
    names = {id(p): k for k, p in _named_parameters(torch_module).items()}
    order = []
    for p in group["params"]:
        if id(p) not in names:
            raise ValueError(f"the torch {name} optimizes a parameter of shape {tuple(p.shape)} that "
                             "torch_module does not have")
        order.append(names[id(p)])
    unknown = sorted(set(order) - set(params))
    if unknown or len(order) != len(params):
        raise ValueError(f"the torch {name} optimizes {sorted(order)}, the scratchrnn parameters are "
                         f"{sorted(params)}")
    scratch = _CLASSES[name]({k: params[k] for k in order}, **_scratch_hyper(name, group))
    steps = set()
    for k, p in zip(order, group["params"], strict=True):
        state = torch_optimizer.state.get(p, {})
        if "step" in state:
            steps.add(int(float(state["step"])))
        for b, bufs in scratch.buffers.items():
            if state.get(b) is not None:  # none before torch's first step
                np.copyto(bufs[k], as_array(state[b], f"{name} state {b!r} of {k!r}"))
    if len(steps) > 1:
        raise ValueError(f"the torch {name}'s parameters have taken different numbers of steps "
                         f"{sorted(steps)}; scratchrnn counts one for all")
    if step_count is None:
        momentum = [torch_optimizer.state.get(p, {}).get("momentum_buffer") for p in group["params"]]
        step_count = steps.pop() if steps else int(any(m is not None for m in momentum))
    scratch.step_count = int(step_count)
    scratch.lr = group["lr"]
    return scratch
