"""Optimizers, learning-rate schedules and gradient clipping over ``name -> array`` dicts.

Parameters and gradients are dicts parallel to each other (a model's ``params`` and the
``grads`` its backward pass returns). An optimizer keeps references to the parameter arrays and
updates them *in place*; it never knows what a layer is, and it never writes into ``grads``.

Every optimizer has ``step(grads)``, a settable ``lr`` (schedules change it) and a
``state_dict()`` / ``load_state_dict(state)`` pair. The state dict is::

    {
        "type": "Adam",                       # class name, checked on load
        "hyper": {"lr": 0.001, ...},          # JSON scalars: int, float, str, bool, None
        "step": 12,                           # number of step() calls so far
        "buffers": {                          # per-parameter state, arrays parallel to params
            "exp_avg": {"weight": ndarray, ...},
            ...
        },
    }

so a checkpoint stores it as it is (``scratchrnn.io.save_checkpoint`` puts the arrays in ``.npy``
members and the rest in its JSON tree). Loading restores the optimizer bit for bit: ten steps,
save, load into a fresh optimizer, ten more steps gives the same arrays as twenty straight steps.

The update formulas follow ``torch.optim`` (single-tensor code path); the tests check each
against PyTorch to 1e-12 in float64. The tutorials' own rule, ``PlainRprop``, is here as well.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import ClassVar

import numpy as np

from .checks import FLOAT_DTYPES, check_flag, check_int, check_pair, check_real
from .nn import workspace

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

CLIP_EPS = 1e-6  # added to the norm before dividing, as torch.nn.utils.clip_grad_norm_ does


# -- validation helpers --------------------------------------------------------------------------
def _check_params(params) -> dict[str, np.ndarray]:
    """A shallow copy of the dict: the same arrays (updated in place), a fixed key order."""
    if not isinstance(params, Mapping):
        raise ValueError(f"params must be a dict of name -> numpy array, got {type(params).__name__}")
    if not params:
        raise ValueError("params is empty; the optimizer needs at least one parameter array")
    for k, p in params.items():
        if not isinstance(k, str):
            raise ValueError(f"parameter names must be strings, got {k!r}")
        if not isinstance(p, np.ndarray):
            raise ValueError(f"parameter {k!r} must be a numpy array, got {type(p).__name__}")
        if p.dtype not in FLOAT_DTYPES:
            raise ValueError(f"parameter {k!r} has dtype {p.dtype}, expected float32 or float64")
        if not p.flags.writeable:
            raise ValueError(f"parameter {k!r} is read-only; the optimizer updates parameters in place")
    return dict(params)


def _check_grads(grads, params: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Gradients keyed exactly like ``params`` with matching shapes, cast to the parameter dtype."""
    if not isinstance(grads, Mapping):
        raise ValueError(f"grads must be a dict of name -> numpy array, got {type(grads).__name__}")
    missing = [k for k in params if k not in grads]
    if missing:
        raise ValueError(f"grads is missing key(s) {missing}; expected the parameter names {list(params)}")
    unexpected = [k for k in grads if k not in params]
    if unexpected:
        raise ValueError(
            f"grads has unexpected key(s) {unexpected}; expected the parameter names {list(params)}"
        )
    out = {}
    for k, p in params.items():
        g = np.asarray(grads[k])
        if g.shape != p.shape:
            raise ValueError(f"grad {k!r} has shape {g.shape}, the parameter has shape {p.shape}")
        if not (np.issubdtype(g.dtype, np.floating) or np.issubdtype(g.dtype, np.integer)):
            raise ValueError(f"grad {k!r} has non-numeric dtype {g.dtype}, expected a float array")
        out[k] = g.astype(p.dtype, copy=False)  # never written to: it may be the caller's array
    return out


def check_lr(value) -> float:
    """A learning rate as a ``float``: a finite real number >= 0, else ValueError naming ``lr``."""
    return check_real("lr", value, low=0.0)


def decayed_grad(g: np.ndarray, p: np.ndarray, weight_decay: float) -> np.ndarray:
    """``g + weight_decay * p`` (the L2 penalty's gradient added) in a workspace array, computed as
    that formula is, so with the same bits. Neither ``g`` nor ``p`` is written to."""
    out = np.multiply(p, weight_decay, out=workspace.empty(p.shape, p.dtype))  # (same shape as p)
    return np.add(g, out, out=out)


# -- the optimizer base ---------------------------------------------------------------------------
class Optimizer:
    """Base class: keeps ``params`` (the caller's arrays), a frozen ``config``, the current ``lr``,
    a step counter and ``buffers[buffer_name][param_name]`` arrays shaped like the parameters.

    Subclasses set ``Config`` (a frozen dataclass of scalars), list their buffers in
    ``_buffer_names`` and implement ``_update(p, g, bufs)`` for one parameter.
    """

    Config: ClassVar[type]
    _lr_field: ClassVar[str] = "lr"  # the config field that ``lr`` reads and writes

    def __init__(self, params: Mapping[str, np.ndarray], config):
        self.params = _check_params(params)
        self.config = config
        self.lr = getattr(config, self._lr_field)
        self.step_count = 0
        self.buffers = {
            b: {k: self._init_buffer(b, p) for k, p in self.params.items()} for b in self._buffer_names()
        }

    # -- learning rate -----------------------------------------------------------------------
    @property
    def lr(self) -> float:
        """The learning rate used by the next ``step``; schedules set it."""
        return self._lr

    @lr.setter
    def lr(self, value) -> None:
        self._lr = check_lr(value)

    # -- hooks for subclasses ----------------------------------------------------------------
    def _buffer_names(self) -> tuple[str, ...]:
        return ()

    def _init_buffer(self, name: str, p: np.ndarray) -> np.ndarray:
        return np.zeros_like(p)  # same shape and dtype as the parameter

    def _update(self, p: np.ndarray, g: np.ndarray, bufs: dict[str, np.ndarray]) -> None:
        raise NotImplementedError

    # -- public API --------------------------------------------------------------------------
    def step(self, grads: Mapping[str, np.ndarray]) -> None:
        """Update every parameter in place from ``grads`` (same keys and shapes as ``params``)."""
        checked = _check_grads(grads, self.params)
        self.step_count += 1
        for k, p in self.params.items():
            self._update(p, checked[k], {b: bufs[k] for b, bufs in self.buffers.items()})

    def hyper(self) -> dict:
        """The hyperparameters as JSON scalars, with the current learning rate."""
        h = asdict(self.config)
        h[self._lr_field] = self.lr
        return h

    def state_dict(self) -> dict:
        """``{"type", "hyper", "step", "buffers": {buffer: {param: array copy}}}``; see the module doc."""
        return {
            "type": type(self).__name__,
            "hyper": self.hyper(),
            "step": self.step_count,
            "buffers": {b: {k: v.copy() for k, v in bufs.items()} for b, bufs in self.buffers.items()},
        }

    def load_state_dict(self, state: Mapping) -> None:
        """Restore hyperparameters, step count and buffers (copied, cast to the parameter dtypes).

        Everything is validated before anything changes, so a bad state leaves the optimizer intact.
        """
        if not isinstance(state, Mapping):
            raise ValueError(f"optimizer state must be a dict, got {type(state).__name__}")
        expected_keys = {"type", "hyper", "step", "buffers"}
        if set(state) != expected_keys:
            raise ValueError(f"optimizer state has keys {sorted(state)}, expected {sorted(expected_keys)}")
        if state["type"] != type(self).__name__:
            raise ValueError(
                f"optimizer state is for {state['type']!r}, this optimizer is {type(self).__name__!r}"
            )
        hyper = state["hyper"]
        names = [f.name for f in fields(self.Config)]
        if not isinstance(hyper, Mapping) or set(hyper) != set(names):
            got = sorted(hyper) if isinstance(hyper, Mapping) else type(hyper).__name__
            raise ValueError(f"optimizer state 'hyper' has keys {got}, expected {sorted(names)}")
        config = self.Config(**hyper)
        step = state["step"]
        step = check_int("optimizer state 'step'", step, low=0)

        old_config = self.config
        self.config = config  # the buffer set can depend on the hyperparameters
        try:
            wanted = self._buffer_names()
        finally:
            self.config = old_config
        bufs = state["buffers"]
        if not isinstance(bufs, Mapping) or set(bufs) != set(wanted):
            got = sorted(bufs) if isinstance(bufs, Mapping) else type(bufs).__name__
            raise ValueError(f"optimizer state 'buffers' has {got}, expected {sorted(wanted)}")
        new_buffers = {}
        for b in wanted:
            per_param = bufs[b]
            if not isinstance(per_param, Mapping) or set(per_param) != set(self.params):
                got = sorted(per_param) if isinstance(per_param, Mapping) else type(per_param).__name__
                raise ValueError(f"optimizer buffer {b!r} has keys {got}, expected {sorted(self.params)}")
            new_buffers[b] = {}
            for k, p in self.params.items():
                v = np.asarray(per_param[k])
                if v.shape != p.shape:
                    raise ValueError(
                        f"optimizer buffer {b!r} for {k!r} has shape {v.shape}, expected {p.shape}"
                    )
                if not np.issubdtype(v.dtype, np.number):
                    raise ValueError(f"optimizer buffer {b!r} for {k!r} has non-numeric dtype {v.dtype}")
                new_buffers[b][k] = v.astype(p.dtype, copy=True)  # (same shape as the parameter)
        self.config = config
        self.lr = getattr(config, self._lr_field)
        self.step_count = int(step)
        self.buffers = new_buffers

    def __repr__(self) -> str:
        body = ", ".join(f"{k}={v!r}" for k, v in self.hyper().items())
        return f"{type(self).__name__}({body})"


# -- SGD ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SGDConfig:
    lr: float = 1e-3  # step size (torch's default)
    momentum: float = 0.0  # 0 turns the velocity buffer off
    dampening: float = 0.0  # the new gradient enters the velocity with weight 1 - dampening
    nesterov: bool = False  # look-ahead momentum; needs momentum > 0 and dampening == 0
    weight_decay: float = 0.0  # L2 penalty added to the gradient: g + wd * p

    def __post_init__(self):
        object.__setattr__(self, "lr", check_lr(self.lr))
        object.__setattr__(self, "momentum", check_real("momentum", self.momentum, low=0.0))
        object.__setattr__(self, "dampening", check_real("dampening", self.dampening, low=0.0, high=1.0))
        object.__setattr__(self, "nesterov", check_flag("nesterov", self.nesterov))
        object.__setattr__(self, "weight_decay", check_real("weight_decay", self.weight_decay, low=0.0))
        if self.nesterov and (self.momentum == 0 or self.dampening != 0):
            raise ValueError(
                f"nesterov momentum needs momentum > 0 and dampening == 0, "
                f"got momentum={self.momentum}, dampening={self.dampening}"
            )


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum, like ``torch.optim.SGD``.

    With ``g = grad + wd * p``::

        b_1 = g;   b_t = momentum * b_{t-1} + (1 - dampening) * g     (only when momentum > 0)
        d = g + momentum * b_t  (nesterov)   or   d = b_t   or   d = g  (no momentum)
        p <- p - lr * d
    """

    Config = SGDConfig

    def __init__(
        self,
        params,
        lr: float = SGDConfig.lr,
        momentum: float = SGDConfig.momentum,
        dampening: float = SGDConfig.dampening,
        nesterov: bool = SGDConfig.nesterov,
        weight_decay: float = SGDConfig.weight_decay,
    ):
        super().__init__(params, SGDConfig(lr, momentum, dampening, nesterov, weight_decay))

    def _buffer_names(self):
        return ("momentum_buffer",) if self.config.momentum != 0 else ()

    def _update(self, p, g, bufs):
        c = self.config
        if c.weight_decay != 0:
            g = decayed_grad(g, p, c.weight_decay)  # (same shape as p) g + wd * p
        if c.momentum != 0:
            buf = bufs["momentum_buffer"]
            if self.step_count == 1:
                np.copyto(buf, g)  # the first velocity is the gradient itself, undamped
            else:
                buf *= c.momentum
                buf += (1.0 - c.dampening) * g
            g = g + c.momentum * buf if c.nesterov else buf
        p -= self.lr * g


# -- Adagrad ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AdagradConfig:
    lr: float = 1e-2  # base step size
    lr_decay: float = 0.0  # step t uses lr / (1 + (t - 1) * lr_decay)
    weight_decay: float = 0.0  # L2 penalty added to the gradient
    initial_accumulator_value: float = 0.0  # starting value of the sum of squared gradients
    eps: float = 1e-10  # added to the root of the sum, keeps the division finite

    def __post_init__(self):
        object.__setattr__(self, "lr", check_lr(self.lr))
        object.__setattr__(self, "lr_decay", check_real("lr_decay", self.lr_decay, low=0.0))
        object.__setattr__(self, "weight_decay", check_real("weight_decay", self.weight_decay, low=0.0))
        object.__setattr__(
            self,
            "initial_accumulator_value",
            check_real("initial_accumulator_value", self.initial_accumulator_value, low=0.0),
        )
        object.__setattr__(self, "eps", check_real("eps", self.eps, low=0.0))


class Adagrad(Optimizer):
    """Adagrad, like ``torch.optim.Adagrad``.

    With ``g = grad + wd * p``: ``s += g**2``; ``p <- p - lr_t * g / (sqrt(s) + eps)``,
    ``lr_t = lr / (1 + (t - 1) * lr_decay)``.
    """

    Config = AdagradConfig

    def __init__(
        self,
        params,
        lr: float = AdagradConfig.lr,
        lr_decay: float = AdagradConfig.lr_decay,
        weight_decay: float = AdagradConfig.weight_decay,
        initial_accumulator_value: float = AdagradConfig.initial_accumulator_value,
        eps: float = AdagradConfig.eps,
    ):
        super().__init__(params, AdagradConfig(lr, lr_decay, weight_decay, initial_accumulator_value, eps))

    def _buffer_names(self):
        return ("sum",)

    def _init_buffer(self, name, p):
        return np.full_like(p, self.config.initial_accumulator_value)  # (same shape as p)

    def _update(self, p, g, bufs):
        c = self.config
        if c.weight_decay != 0:
            g = decayed_grad(g, p, c.weight_decay)  # (same shape as p) g + wd * p
        clr = self.lr / (1.0 + (self.step_count - 1) * c.lr_decay)
        s = bufs["sum"]
        # one scratch array from the workspace instead of fresh temporaries, with the operations
        # of the formulas in their order: the same bits
        tmp = workspace.empty(p.shape, p.dtype)  # (same shape as p)
        s += np.multiply(g, g, out=tmp)  # s + g**2
        denom = np.sqrt(s, out=tmp)
        denom += c.eps
        np.divide(g, denom, out=denom)
        denom *= clr
        p -= denom  # p - clr * (g / denom)


# -- RMSprop ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RMSpropConfig:
    lr: float = 1e-2  # step size
    alpha: float = 0.99  # decay of the running average of squared gradients
    eps: float = 1e-8  # added to the root, keeps the division finite
    weight_decay: float = 0.0  # L2 penalty added to the gradient
    momentum: float = 0.0  # 0 turns the momentum buffer off
    centered: bool = False  # divide by the running standard deviation instead of the RMS

    def __post_init__(self):
        object.__setattr__(self, "lr", check_lr(self.lr))
        object.__setattr__(self, "alpha", check_real("alpha", self.alpha, low=0.0, high=1.0))
        object.__setattr__(self, "eps", check_real("eps", self.eps, low=0.0))
        object.__setattr__(self, "weight_decay", check_real("weight_decay", self.weight_decay, low=0.0))
        object.__setattr__(self, "momentum", check_real("momentum", self.momentum, low=0.0))
        object.__setattr__(self, "centered", check_flag("centered", self.centered))


class RMSprop(Optimizer):
    """RMSprop, like ``torch.optim.RMSprop``.

    With ``g = grad + wd * p``::

        v = alpha * v + (1 - alpha) * g**2
        centered:  m = m + (1 - alpha) * (g - m);  d = sqrt(max(v - m**2, 0)) + eps
        otherwise: d = sqrt(v) + eps
        momentum > 0: b = momentum * b + g / d;  p <- p - lr * b
        otherwise:    p <- p - lr * g / d

    The ``max(., 0)`` guards the centered variance against a rounding error below zero,
    where PyTorch would produce NaN.
    """

    Config = RMSpropConfig

    def __init__(
        self,
        params,
        lr: float = RMSpropConfig.lr,
        alpha: float = RMSpropConfig.alpha,
        eps: float = RMSpropConfig.eps,
        weight_decay: float = RMSpropConfig.weight_decay,
        momentum: float = RMSpropConfig.momentum,
        centered: bool = RMSpropConfig.centered,
    ):
        super().__init__(params, RMSpropConfig(lr, alpha, eps, weight_decay, momentum, centered))

    def _buffer_names(self):
        names = ["square_avg"]
        if self.config.centered:
            names.append("grad_avg")
        if self.config.momentum > 0:
            names.append("momentum_buffer")
        return tuple(names)

    def _update(self, p, g, bufs):
        c = self.config
        if c.weight_decay != 0:
            g = decayed_grad(g, p, c.weight_decay)  # (same shape as p) g + wd * p
        v = bufs["square_avg"]
        # two scratch arrays from the workspace instead of fresh temporaries, with the operations
        # of the formulas in their order: the same bits
        tmp = workspace.empty(p.shape, p.dtype)  # (same shape as p)
        denom = workspace.empty(p.shape, p.dtype)  # (same shape as p)
        v *= c.alpha
        np.multiply(g, g, out=tmp)
        tmp *= 1.0 - c.alpha
        v += tmp  # alpha * v + (1 - alpha) * g**2
        if c.centered:
            m = bufs["grad_avg"]
            np.subtract(g, m, out=tmp)
            tmp *= 1.0 - c.alpha
            m += tmp  # m + (1 - alpha) * (g - m)
            np.multiply(m, m, out=denom)
            np.subtract(v, denom, out=denom)
            np.maximum(denom, 0.0, out=denom)
            np.sqrt(denom, out=denom)  # sqrt(max(v - m**2, 0))
        else:
            np.sqrt(v, out=denom)
        denom += c.eps
        np.divide(g, denom, out=tmp)  # g / denom
        if c.momentum > 0:
            b = bufs["momentum_buffer"]
            b *= c.momentum
            b += tmp
            np.multiply(b, self.lr, out=tmp)
        else:
            tmp *= self.lr
        p -= tmp  # p - lr * b, or p - lr * (g / denom)


# -- Adam / AdamW -------------------------------------------------------------------------------
@dataclass(frozen=True)
class AdamConfig:
    lr: float = 1e-3  # step size
    beta1: float = 0.9  # decay of the first-moment (mean) average
    beta2: float = 0.999  # decay of the second-moment (uncentered variance) average
    eps: float = 1e-8  # added to the root of the corrected second moment
    weight_decay: float = 0.0  # L2 penalty (Adam) or decoupled decay (AdamW)
    amsgrad: bool = False  # divide by the running maximum of the second moment
    decoupled_weight_decay: bool = False  # AdamW: p *= 1 - lr * wd instead of g += wd * p

    def __post_init__(self):
        object.__setattr__(self, "lr", check_lr(self.lr))
        object.__setattr__(
            self, "beta1", check_real("beta1 (betas[0])", self.beta1, low=0.0, high=1.0, high_open=True)
        )
        object.__setattr__(
            self, "beta2", check_real("beta2 (betas[1])", self.beta2, low=0.0, high=1.0, high_open=True)
        )
        object.__setattr__(self, "eps", check_real("eps", self.eps, low=0.0))
        object.__setattr__(self, "weight_decay", check_real("weight_decay", self.weight_decay, low=0.0))
        object.__setattr__(self, "amsgrad", check_flag("amsgrad", self.amsgrad))
        object.__setattr__(
            self, "decoupled_weight_decay", check_flag("decoupled_weight_decay", self.decoupled_weight_decay)
        )


class Adam(Optimizer):
    """Adam, like ``torch.optim.Adam`` (and AdamW with ``decoupled_weight_decay``).

    At step t, with ``g = grad + wd * p`` (Adam) or ``p *= 1 - lr * wd`` first (AdamW)::

        m = m + (1 - beta1) * (g - m)            v = beta2 * v + (1 - beta2) * g**2
        amsgrad: v_max = max(v_max, v), used in place of v below
        p <- p - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)
    """

    Config = AdamConfig

    def __init__(
        self,
        params,
        lr: float = AdamConfig.lr,
        betas=(AdamConfig.beta1, AdamConfig.beta2),
        eps: float = AdamConfig.eps,
        weight_decay: float = AdamConfig.weight_decay,
        amsgrad: bool = AdamConfig.amsgrad,
        decoupled_weight_decay: bool = AdamConfig.decoupled_weight_decay,
    ):
        beta1, beta2 = check_pair("betas", betas)
        super().__init__(
            params, AdamConfig(lr, beta1, beta2, eps, weight_decay, amsgrad, decoupled_weight_decay)
        )

    def _buffer_names(self):
        return (
            ("exp_avg", "exp_avg_sq", "max_exp_avg_sq") if self.config.amsgrad else ("exp_avg", "exp_avg_sq")
        )

    def _update(self, p, g, bufs):
        c = self.config
        t = self.step_count
        if c.weight_decay != 0:
            if c.decoupled_weight_decay:
                p *= 1.0 - self.lr * c.weight_decay
            else:
                g = decayed_grad(g, p, c.weight_decay)  # (same shape as p) g + wd * p
        m, v = bufs["exp_avg"], bufs["exp_avg_sq"]
        # one scratch array from the workspace instead of five fresh temporaries; the operations
        # and their order are those of the formulas above, so the results are the same bits
        tmp = workspace.empty(p.shape, p.dtype)  # (same shape as p)
        np.subtract(g, m, out=tmp)
        tmp *= 1.0 - c.beta1
        m += tmp  # m + (1 - beta1) * (g - m)
        v *= c.beta2
        np.multiply(g, g, out=tmp)
        tmp *= 1.0 - c.beta2
        v += tmp  # beta2 * v + (1 - beta2) * g**2
        if c.amsgrad:
            np.maximum(bufs["max_exp_avg_sq"], v, out=bufs["max_exp_avg_sq"])
            v = bufs["max_exp_avg_sq"]
        step_size = self.lr / (1.0 - c.beta1**t)
        denom = np.sqrt(v, out=tmp)
        denom /= math.sqrt(1.0 - c.beta2**t)
        denom += c.eps
        np.divide(m, denom, out=denom)
        denom *= step_size
        p -= denom  # p - step_size * (m / denom)


class AdamW(Adam):
    """Adam with decoupled weight decay (``p *= 1 - lr * wd`` first), like ``torch.optim.AdamW``."""

    def __init__(
        self,
        params,
        lr: float = AdamConfig.lr,
        betas=(AdamConfig.beta1, AdamConfig.beta2),
        eps: float = AdamConfig.eps,
        weight_decay: float = 1e-2,
        amsgrad: bool = AdamConfig.amsgrad,
    ):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, decoupled_weight_decay=True)


# -- Rprop --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RpropConfig:
    lr: float = 1e-2  # initial per-entry step size (changing lr later has no effect)
    eta_minus: float = 0.5  # step factor after a sign flip (etas[0])
    eta_plus: float = 1.2  # step factor while the sign holds (etas[1])
    step_min: float = 1e-6  # smallest step size (step_sizes[0])
    step_max: float = 50.0  # largest step size (step_sizes[1])

    def __post_init__(self):
        object.__setattr__(self, "lr", check_lr(self.lr))
        object.__setattr__(
            self,
            "eta_minus",
            check_real("eta_minus (etas[0])", self.eta_minus, low=0.0, high=1.0, low_open=True,
                       high_open=True),
        )
        object.__setattr__(
            self, "eta_plus", check_real("eta_plus (etas[1])", self.eta_plus, low=1.0, low_open=True)
        )
        object.__setattr__(self, "step_min", check_real("step_min (step_sizes[0])", self.step_min, low=0.0))
        object.__setattr__(
            self, "step_max", check_real("step_max (step_sizes[1])", self.step_max, low=0.0, allow_inf=True)
        )
        if self.step_min > self.step_max:
            raise ValueError(f"step_sizes must satisfy min <= max, got ({self.step_min}, {self.step_max})")


class Rprop(Optimizer):
    """Resilient backpropagation as ``torch.optim.Rprop`` does it (no weight backtracking).

    Per entry, with ``s = sign(g) * sign(g_prev)``::

        s > 0: step *= eta_plus      s < 0: step *= eta_minus, and g is set to 0      s == 0: step kept
        step = clip(step, step_min, step_max);   p <- p - sign(g) * step;   g_prev = g

    Zeroing ``g`` after a flip means the entry does not move this step and, since ``g_prev`` is
    then 0, its step size is kept on the next one. Step sizes start at ``lr``; ``lr`` has no
    further effect, so learning-rate schedules do nothing to Rprop. (The sign test uses the
    product of signs, so two tiny gradients whose product underflows still count as agreeing.)
    """

    Config = RpropConfig

    def __init__(
        self,
        params,
        lr: float = RpropConfig.lr,
        etas=(RpropConfig.eta_minus, RpropConfig.eta_plus),
        step_sizes=(RpropConfig.step_min, RpropConfig.step_max),
    ):
        eta_minus, eta_plus = check_pair("etas", etas)
        step_min, step_max = check_pair("step_sizes", step_sizes)
        super().__init__(params, RpropConfig(lr, eta_minus, eta_plus, step_min, step_max))

    def _buffer_names(self):
        return ("prev", "step_size")

    def _init_buffer(self, name, p):
        if name == "step_size":
            return np.full_like(p, self.config.lr)  # (same shape as p)
        return np.zeros_like(p)  # (same shape as p)

    def _update(self, p, g, bufs):
        c = self.config
        prev, step = bufs["prev"], bufs["step_size"]
        agree = np.sign(g) * np.sign(prev)  # (same shape as p)
        factor = np.where(agree > 0, c.eta_plus, np.where(agree < 0, c.eta_minus, 1.0))  # (same shape as p)
        step *= factor
        np.clip(step, c.step_min, c.step_max, out=step)
        g = np.where(agree < 0, 0.0, g).astype(p.dtype, copy=False)  # (same shape as p)
        p -= np.sign(g) * step
        np.copyto(prev, g)


@dataclass(frozen=True)
class PlainRpropConfig:
    init_step: float = 1e-3  # starting step size of every entry
    eta_plus: float = 1.2  # step factor when the gradient keeps its sign
    eta_minus: float = 0.5  # step factor when it flips
    sign_rule: str = "product"  # "product": zero keeps the step; "equal": any change of sign shrinks it

    def __post_init__(self):
        object.__setattr__(self, "init_step", check_real("init_step", self.init_step, low=0.0, low_open=True))
        object.__setattr__(self, "eta_plus", check_real("eta_plus", self.eta_plus, low=1.0, low_open=True))
        object.__setattr__(
            self,
            "eta_minus",
            check_real("eta_minus", self.eta_minus, low=0.0, high=1.0, low_open=True, high_open=True),
        )
        if self.sign_rule not in ("product", "equal"):
            raise ValueError(f"sign_rule must be 'product' or 'equal', got {self.sign_rule!r}")


class PlainRprop(Optimizer):
    """The Rprop of the linear-RNN tutorial: per-entry step sizes, no bounds, no gradient zeroing.

    Every entry starts with step ``init_step``; each step compares ``sign(g)`` with the sign of
    the previous step's gradient::

        same sign:  step *= eta_plus
        flipped:    step *= eta_minus
        p <- p - sign(g) * step

    ``sign_rule`` says what happens when either sign is 0 (the first step, or a zero gradient):
    ``"product"`` keeps the step (only a true flip shrinks it); ``"equal"`` grows the step when
    the two signs are equal (0 and 0 included) and shrinks it otherwise, so the very first step
    already halves it, which is what a loop testing ``sign == prev_sign`` does. Unlike ``Rprop``
    the gradient is used even right after a flip, and the step size is never clipped.
    ``lr`` is ``init_step``: it only seeds the step sizes.
    """

    Config = PlainRpropConfig
    _lr_field = "init_step"

    def __init__(
        self,
        params,
        init_step: float = PlainRpropConfig.init_step,
        eta_plus: float = PlainRpropConfig.eta_plus,
        eta_minus: float = PlainRpropConfig.eta_minus,
        sign_rule: str = PlainRpropConfig.sign_rule,
    ):
        super().__init__(params, PlainRpropConfig(init_step, eta_plus, eta_minus, sign_rule))

    def _buffer_names(self):
        return ("prev_sign", "step_size")

    def _init_buffer(self, name, p):
        if name == "step_size":
            return np.full_like(p, self.config.init_step)  # (same shape as p)
        return np.zeros_like(p)  # (same shape as p)

    def _update(self, p, g, bufs):
        c = self.config
        prev_sign, step = bufs["prev_sign"], bufs["step_size"]
        sign = np.sign(g)  # (same shape as p)
        if c.sign_rule == "product":
            agree = sign * prev_sign  # (same shape as p)
            factor = np.where(
                agree > 0, c.eta_plus, np.where(agree < 0, c.eta_minus, 1.0)
            )  # (same shape as p)
        else:
            factor = np.where(sign == prev_sign, c.eta_plus, c.eta_minus)  # (same shape as p)
        step *= factor
        p -= sign * step
        np.copyto(prev_sign, sign)


# -- factory ------------------------------------------------------------------------------------
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


# -- learning-rate schedules --------------------------------------------------------------------
class _Schedule:
    """Base: holds the optimizer and the number of ``step`` calls; ``step`` returns the new lr.

    ``on_metric`` tells a training loop when to call ``step``: False means after every optimizer
    step (``step()``), True means after every evaluation (``step(metric)``).
    """

    on_metric: ClassVar[bool] = False

    def __init__(self, opt):
        if not hasattr(opt, "lr"):
            raise ValueError(
                f"a schedule needs an optimizer with an 'lr' attribute, got {type(opt).__name__}"
            )
        self.opt = opt
        self.base_lr = float(opt.lr)
        self.last_step = 0

    def _scalars(self) -> dict:
        return {}

    def state_dict(self) -> dict:
        """JSON scalars: type, base_lr, last_step, current lr and the schedule's own fields."""
        return {
            "type": type(self).__name__,
            "base_lr": self.base_lr,
            "last_step": self.last_step,
            "lr": float(self.opt.lr),
            **self._scalars(),
        }

    def load_state_dict(self, state: Mapping) -> None:
        """Restore the schedule and set the optimizer's lr to the saved one."""
        if not isinstance(state, Mapping):
            raise ValueError(f"schedule state must be a dict, got {type(state).__name__}")
        expected = set(self.state_dict())
        if set(state) != expected:
            raise ValueError(f"schedule state has keys {sorted(state)}, expected {sorted(expected)}")
        if state["type"] != type(self).__name__:
            raise ValueError(
                f"schedule state is for {state['type']!r}, this schedule is {type(self).__name__!r}"
            )
        step = state["last_step"]
        step = check_int("schedule state 'last_step'", step, low=0)
        base_lr = check_real("base_lr", state["base_lr"], low=0.0)
        lr = check_lr(state["lr"])
        self._load_scalars(state)
        self.base_lr, self.last_step = base_lr, int(step)
        self.opt.lr = lr

    def _load_scalars(self, state: Mapping) -> None:
        pass


class StepLR(_Schedule):
    """``lr = base_lr * gamma ** (n // step_size)`` after n calls of ``step()`` (like torch's StepLR)."""

    def __init__(self, opt, step_size: int, gamma: float = 0.1):
        super().__init__(opt)
        self.step_size = check_int("step_size", step_size, low=1)
        self.gamma = check_real("gamma", gamma, low=0.0, low_open=True)

    def lr_at(self, n: int) -> float:
        """The learning rate after ``n`` calls of ``step()``."""
        return self.base_lr * self.gamma ** (n // self.step_size)

    def step(self, metric=None) -> float:
        """Advance one step (the metric is ignored); returns the new lr."""
        self.last_step += 1
        self.opt.lr = self.lr_at(self.last_step)
        return self.opt.lr

    def _scalars(self):
        return {"step_size": self.step_size, "gamma": self.gamma}

    def _load_scalars(self, state):
        if state["step_size"] != self.step_size or state["gamma"] != self.gamma:
            raise ValueError(
                f"schedule state has step_size={state['step_size']}, gamma={state['gamma']}; "
                f"this schedule has step_size={self.step_size}, gamma={self.gamma}"
            )


class CosineLR(_Schedule):
    """Linear warmup, then a cosine from ``base_lr`` down to ``min_lr`` at ``total_steps``.

    After n calls of ``step()`` (w = warmup, N = total_steps)::

        n < w:       lr = base_lr * (n + 1) / (w + 1)
        w <= n <= N: lr = min_lr + (base_lr - min_lr) * (1 + cos(pi * (n - w) / (N - w))) / 2
        n > N:       lr = min_lr

    With ``warmup=0`` this is torch's CosineAnnealingLR(T_max=N, eta_min=min_lr) for n <= N.
    The lr for n = 0 is set at construction.
    """

    def __init__(self, opt, total_steps: int, min_lr: float = 0.0, warmup: int = 0):
        super().__init__(opt)
        total_steps, warmup = check_int("total_steps", total_steps, low=0), check_int("warmup", warmup, low=0)
        if total_steps <= warmup:
            raise ValueError(
                f"total_steps must exceed warmup, got total_steps={total_steps}, warmup={warmup}"
            )
        self.total_steps, self.warmup = int(total_steps), int(warmup)
        self.min_lr = check_real("min_lr", min_lr, low=0.0, high=self.base_lr)
        self.opt.lr = self.lr_at(0)

    def lr_at(self, n: int) -> float:
        """The learning rate after ``n`` calls of ``step()``."""
        w, total = self.warmup, self.total_steps
        if n < w:
            return self.base_lr * (n + 1) / (w + 1)
        if n > total:
            return self.min_lr
        progress = (n - w) / (total - w)
        return self.min_lr + (self.base_lr - self.min_lr) * (1.0 + math.cos(math.pi * progress)) / 2.0

    def step(self, metric=None) -> float:
        """Advance one step (the metric is ignored); returns the new lr."""
        self.last_step += 1
        self.opt.lr = self.lr_at(self.last_step)
        return self.opt.lr

    def _scalars(self):
        return {"total_steps": self.total_steps, "min_lr": self.min_lr, "warmup": self.warmup}

    def _load_scalars(self, state):
        ours = self._scalars()
        theirs = {k: state[k] for k in ours}
        if theirs != ours:
            raise ValueError(f"schedule state has {theirs}; this schedule has {ours}")


class HalveOnIncrease(_Schedule):
    """Multiply lr by ``factor`` (floor ``min_lr``) whenever the metric rises above the previous one.

    Call ``step(metric)`` after each evaluation. The first metric only sets the reference. A
    non-finite metric (a diverged loss) counts as a rise and is not remembered, so the next metric
    is compared with the last finite one.
    """

    on_metric: ClassVar[bool] = True

    def __init__(self, opt, factor: float = 0.5, min_lr: float = 0.0):
        super().__init__(opt)
        self.factor = check_real("factor", factor, low=0.0, high=1.0, low_open=True, high_open=True)
        self.min_lr = check_real("min_lr", min_lr, low=0.0)
        self.prev_metric: float | None = None
        self.num_rises = 0

    def step(self, metric=None) -> float:
        """Record ``metric``; returns the (possibly reduced) lr."""
        if metric is None:
            raise ValueError("HalveOnIncrease.step needs the evaluation metric, got None")
        try:
            m = float(metric)
        except (TypeError, ValueError):
            raise ValueError(f"HalveOnIncrease.step needs a number, got {metric!r}") from None
        rose = not math.isfinite(m) or (self.prev_metric is not None and m > self.prev_metric)
        if rose:
            lr = self.opt.lr
            self.opt.lr = max(lr * self.factor, min(self.min_lr, lr))  # never raises the rate
            self.num_rises += 1
        if math.isfinite(m):
            self.prev_metric = m
        self.last_step += 1
        return self.opt.lr

    def _scalars(self):
        return {
            "factor": self.factor,
            "min_lr": self.min_lr,
            "prev_metric": self.prev_metric,
            "num_rises": self.num_rises,
        }

    def _load_scalars(self, state):
        prev = state["prev_metric"]
        if prev is not None:
            prev = check_real("prev_metric", prev)
        n = state["num_rises"]
        n = check_int("schedule state 'num_rises'", n, low=0)
        self.factor = check_real("factor", state["factor"], low=0.0, high=1.0, low_open=True, high_open=True)
        self.min_lr = check_real("min_lr", state["min_lr"], low=0.0)
        self.prev_metric, self.num_rises = prev, int(n)


# -- gradient clipping --------------------------------------------------------------------------
def _grad_arrays(grads) -> dict[str, np.ndarray]:
    if not isinstance(grads, Mapping):
        raise ValueError(f"grads must be a dict of name -> numpy array, got {type(grads).__name__}")
    for k, g in grads.items():
        if not isinstance(g, np.ndarray) or not np.issubdtype(g.dtype, np.floating):
            what = g.dtype if isinstance(g, np.ndarray) else type(g).__name__
            raise ValueError(f"grad {k!r} must be a float numpy array, got {what}")
    return dict(grads)


def _norm(g: np.ndarray) -> float:
    """L2 norm by a BLAS dot product in the array's own dtype (no float64 temporary: this runs on
    every training step); if the sum of squares overflows, rescale by the largest entry."""
    flat = g.reshape(-1)  # (N,)
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is handled below
        sq = float(np.vdot(flat, flat)) if flat.size else 0.0
    if math.isinf(sq):
        big = float(np.max(np.abs(g)))
        if not math.isfinite(big):
            return big  # an inf entry: the norm really is inf
        scaled = np.asarray(g, dtype=np.float64) / big  # (same shape as g)
        return big * math.sqrt(float(np.sum(scaled * scaled)))
    return math.sqrt(sq)


def global_norm(grads: Mapping[str, np.ndarray]) -> float:
    """``sqrt(sum over all arrays and entries of g**2)``, computed in float64; NaN if any entry is NaN."""
    norms = [_norm(g) for g in _grad_arrays(grads).values()]
    return _norm(np.asarray(norms, dtype=np.float64)) if norms else 0.0  # (P,)


def clip_by_value(grads: Mapping[str, np.ndarray], min_value: float, max_value: float) -> float:
    """Clamp every entry into ``[min_value, max_value]`` in place; returns the fraction clipped.

    NaN entries are left as they are (and not counted).
    """
    lo = check_real("min_value", min_value, allow_inf=True)
    hi = check_real("max_value", max_value, allow_inf=True)
    if lo > hi:
        raise ValueError(f"min_value must be <= max_value, got [{lo}, {hi}]")
    arrays = _grad_arrays(grads)
    clipped = total = 0
    for g in arrays.values():
        clipped += int(np.count_nonzero((g < lo) | (g > hi)))
        total += g.size
        np.clip(g, lo, hi, out=g)
    return clipped / total if total else 0.0


def clip_grad_norm(grads: Mapping[str, np.ndarray], max_norm: float, eps: float = CLIP_EPS,
                   norm: float | None = None) -> float:
    """Scale all gradients in place by ``min(1, max_norm / (norm + eps))``; returns the norm before.

    ``norm`` is the global L2 norm over every entry (``global_norm``), as in
    ``torch.nn.utils.clip_grad_norm_``; pass it when already computed to save a pass over the
    gradients. If the norm is NaN or inf the gradients are left untouched and that norm is
    returned, so the caller can skip the step instead of training on NaN.
    """
    max_norm = check_real("max_norm", max_norm, low=0.0)
    arrays = _grad_arrays(grads)
    total = global_norm(arrays) if norm is None else float(norm)
    if not math.isfinite(total):
        return total
    coef = max_norm / (total + eps)
    if coef < 1.0:
        for g in arrays.values():
            g *= coef
    return total


def clip_per_param_norm(
    grads: Mapping[str, np.ndarray], max_norm: float, eps: float = CLIP_EPS
) -> dict[str, float]:
    """Clip each array's own L2 norm to ``max_norm`` in place; returns ``{name: norm before}``.

    Arrays whose norm is NaN or inf are left untouched (their norm is reported).
    """
    max_norm = check_real("max_norm", max_norm, low=0.0)
    norms = {}
    for k, g in _grad_arrays(grads).items():
        n = _norm(g)
        norms[k] = n
        if math.isfinite(n):
            coef = max_norm / (n + eps)
            if coef < 1.0:
                g *= coef
    return norms
