"""Stochastic gradient descent with optional (Nesterov) momentum and L2 weight decay."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..checks import check_flag, check_real
from .base import Optimizer, check_lr, decayed_grad

__all__ = [
    "SGD",
    "SGDConfig",
]


@dataclass(frozen=True)
class SGDConfig:
    """The hyperparameters of :class:`SGD` (its ``config``), checked when made.

    Attributes:
        lr (float, default 0.001): step size (PyTorch's default).
        momentum (float, default 0.0): weight of the previous velocity; 0 keeps no velocity buffer.
        dampening (float, default 0.0): the gradient enters the velocity with weight 1 - dampening.
        nesterov (bool, default False): look-ahead momentum; needs momentum > 0 and dampening == 0.
        weight_decay (float, default 0.0): L2 penalty, ``weight_decay * p`` added to the gradient.
    """

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
