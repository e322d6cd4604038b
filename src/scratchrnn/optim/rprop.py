"""Resilient backpropagation: per-entry step sizes that grow while the gradient keeps its sign.

``Rprop`` is ``torch.optim.Rprop`` (bounded steps, no move right after a sign flip);
``PlainRprop`` is the linear-RNN tutorial's rule (unbounded steps, the gradient always used).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..checks import check_pair, check_real
from .base import Optimizer, check_lr

__all__ = [
    "PlainRprop",
    "PlainRpropConfig",
    "Rprop",
    "RpropConfig",
]


@dataclass(frozen=True)
class RpropConfig:
    """The hyperparameters of :class:`Rprop` (its ``config``), checked when made.

    Attributes:
        lr (float, default 0.01): initial step size of every entry; changing it later has no effect.
        eta_minus (float, default 0.5): step factor after a sign flip, in (0, 1); ``etas[0]``.
        eta_plus (float, default 1.2): step factor while the sign holds, above 1; ``etas[1]``.
        step_min (float, default 1e-6): smallest step size; ``step_sizes[0]``.
        step_max (float, default 50.0): largest step size (may be infinite); ``step_sizes[1]``.
    """

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
    """The hyperparameters of :class:`PlainRprop` (its ``config``), checked when made.

    Attributes:
        init_step (float, default 0.001): starting step size of every entry (the optimizer's ``lr``).
        eta_plus (float, default 1.2): step factor when the gradient keeps its sign, above 1.
        eta_minus (float, default 0.5): step factor when it flips, in (0, 1).
        sign_rule (str, default "product"): "product": a zero sign keeps the step; "equal": equal signs
            grow it and any other pair shrinks it (see :class:`PlainRprop`).
    """

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
