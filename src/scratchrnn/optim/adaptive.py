"""Adagrad, RMSprop, Adam and AdamW: per-entry step sizes from running statistics of the gradients.

Each follows its ``torch.optim`` namesake (single-tensor code path). The updates run through
scratch arrays from the workspace instead of fresh temporaries, with the operations of the
formulas in their order, so they give the same bits as the formulas written out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..checks import check_flag, check_pair, check_real
from ..nn import workspace
from .base import Optimizer, check_lr, decayed_grad

__all__ = [
    "Adagrad",
    "AdagradConfig",
    "Adam",
    "AdamConfig",
    "AdamW",
    "RMSprop",
    "RMSpropConfig",
]


# -- Adagrad ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AdagradConfig:
    """The hyperparameters of :class:`Adagrad` (its ``config``), checked when made.

    Attributes:
        lr (float, default 0.01): base step size.
        lr_decay (float, default 0.0): step t uses ``lr / (1 + (t - 1) * lr_decay)``.
        weight_decay (float, default 0.0): L2 penalty, ``weight_decay * p`` added to the gradient.
        initial_accumulator_value (float, default 0.0): starting value of the sum of squared gradients.
        eps (float, default 1e-10): added to the root of the sum, so the division stays finite.
    """

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
    """The hyperparameters of :class:`RMSprop` (its ``config``), checked when made.

    Attributes:
        lr (float, default 0.01): step size.
        alpha (float, default 0.99): decay of the running average of squared gradients, in [0, 1].
        eps (float, default 1e-8): added to the root of the average, so the division stays finite.
        weight_decay (float, default 0.0): L2 penalty, ``weight_decay * p`` added to the gradient.
        momentum (float, default 0.0): momentum of the scaled step; 0 keeps no momentum buffer.
        centered (bool, default False): divide by the running standard deviation instead of the RMS.
    """

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
    """The hyperparameters of :class:`Adam` and :class:`AdamW` (their ``config``), checked when made.

    Attributes:
        lr (float, default 0.001): step size.
        beta1 (float, default 0.9): decay of the first-moment (mean) average, in [0, 1); ``betas[0]``.
        beta2 (float, default 0.999): decay of the second-moment average, in [0, 1); ``betas[1]``.
        eps (float, default 1e-8): added to the root of the corrected second moment.
        weight_decay (float, default 0.0): L2 penalty added to the gradient (Adam), or decoupled decay
            ``p *= 1 - lr * wd`` (AdamW, whose constructor defaults it to 0.01).
        amsgrad (bool, default False): divide by the running maximum of the second moment.
        decoupled_weight_decay (bool, default False): True for AdamW: the decay shrinks the weights
            directly instead of entering the gradient.
    """

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

    def _begin_step(self):
        # this step's scalars as 0-d arrays of each parameter dtype: a ufunc converts a Python
        # float on every call, a measurable share of small updates (benchmarks/README.md,
        # "Adam's scalars"); the values, and so the results, are the same
        c, t = self.config, self.step_count
        values = (1.0 - c.beta1, c.beta2, 1.0 - c.beta2, math.sqrt(1.0 - c.beta2**t), c.eps,
                  self.lr / (1.0 - c.beta1**t))
        self._scalars = {dt: tuple(np.array(v, dt) for v in values)
                         for dt in {p.dtype for p in self.params.values()}}

    def _update(self, p, g, bufs):
        c = self.config
        one_m_beta1, beta2, one_m_beta2, bias_root, eps, step_size = self._scalars[p.dtype]
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
        tmp *= one_m_beta1
        m += tmp  # m + (1 - beta1) * (g - m)
        v *= beta2
        np.multiply(g, g, out=tmp)
        tmp *= one_m_beta2
        v += tmp  # beta2 * v + (1 - beta2) * g**2
        if c.amsgrad:
            np.maximum(bufs["max_exp_avg_sq"], v, out=bufs["max_exp_avg_sq"])
            v = bufs["max_exp_avg_sq"]
        denom = np.sqrt(v, out=tmp)
        denom /= bias_root  # sqrt(1 - beta2**t)
        denom += eps
        np.divide(m, denom, out=denom)
        denom *= step_size  # lr / (1 - beta1**t)
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
