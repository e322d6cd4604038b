"""Learning-rate schedules: each sets the ``lr`` of an optimizer (any object with a settable ``lr``).

``StepLR`` and ``CosineLR`` change the rate after every optimizer step, ``HalveOnIncrease``
after every evaluation (its ``on_metric`` is True). Their state dicts are JSON scalars only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import ClassVar

from ..checks import check_int, check_real, is_real
from .base import check_lr

__all__ = [
    "CosineLR",
    "HalveOnIncrease",
    "StepLR",
]


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
        if not is_real(metric):
            raise ValueError(f"HalveOnIncrease.step needs the evaluation metric as a number, got {metric!r}")
        m = float(metric)
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
