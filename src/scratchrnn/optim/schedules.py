"""Learning-rate schedules: each sets the ``lr`` of an optimizer (any object with a settable ``lr``).

``StepLR`` and ``CosineLR`` change the rate after every optimizer step, ``HalveOnIncrease``
after every evaluation (its ``on_metric`` is True). ``LRSchedule`` is the one the trainer builds
by name (``SCHEDULES``: constant, step, cosine, plateau, each with a linear warmup): ``step()``
after every optimizer step and ``report(metric)`` after every validation. Their state dicts are
JSON scalars only, so a checkpoint stores them and a resumed run continues them exactly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import ClassVar

from ..checks import check_int, check_real, is_real
from .base import check_lr

__all__ = [
    "SCHEDULES",
    "CosineLR",
    "HalveOnIncrease",
    "LRSchedule",
    "StepLR",
    "schedule_from_state",
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


SCHEDULES = ("constant", "step", "cosine", "plateau")  # the names LRSchedule (and TrainConfig) take
STEP_PARTS = 4  # "step" without a step size: the rate takes this many values after the warmup
PLATEAU_THRESHOLD = 1e-4  # relative improvement a validation must make to count (torch's default)
PLATEAU_EPS = 1e-8  # a reduction smaller than this is skipped (torch's eps)


class LRSchedule(_Schedule):
    """A learning-rate schedule by name with a linear warmup; what ``TrainConfig.lr_schedule`` builds.

    Call ``step()`` after every optimizer step and ``report(metric)`` after every validation (only
    "plateau" reads it). After n calls of ``step()``, the rate of optimizer step n + 1 is, with
    b = base_lr (the optimizer's lr when the schedule is made), w = warmup, N = total_steps and
    m = max(0, n - w) the steps since the warmup::

        lr(n) = warm(n) * main(m)        warm(n) = (n + 1) / w  for n < w, else 1

        "constant": main(m) = b
        "step":     main(m) = b * gamma ** (m // step_size)
        "cosine":   main(m) = min_lr + (b - min_lr) * (1 + cos(pi * min(m, N - w) / (N - w))) / 2
        "plateau":  main    = max(b * gamma ** k, min_lr), k = the reductions ``report`` made

    so the first step runs at b / w and step w at b. The warmup is torch's
    ``LinearLR(start_factor=1/w, total_iters=w-1)`` (or ``LambdaLR`` of ``warm``); after it,
    "step" is ``StepLR(step_size, gamma)``, "cosine" is ``CosineAnnealingLR(T_max=N-w,
    eta_min=min_lr)`` up to step N (beyond it the rate stays at min_lr, where torch's would rise
    again) and "plateau" is ``ReduceLROnPlateau(mode="min", factor=gamma, patience,
    threshold=1e-4, threshold_mode="rel", cooldown=0, min_lr, eps=1e-8)``: a validation counts as
    better when it is below best * (1 - 1e-4); after more than ``patience`` validations in a row
    that are not, k goes up by one. Validations during the warmup count like any other.

    ``step_size=None`` splits the steps after the warmup into ``STEP_PARTS`` equal parts
    (``ceil((N - w) / STEP_PARTS)``). A warmup as long as the run or longer is refused, naming both.

    ``load_state_dict`` takes a state saved with the same settings (kind, warmup, step size as
    given, gamma, patience, min_lr; any other is refused naming it) and possibly another
    ``total_steps`` (a resumed run given more steps): the schedule goes on from the saved step
    towards the new total (its next step at that curve's rate), keeping the saved step size when
    it was derived from the old one. ``retarget(total_steps)`` does the same for a run fitted on.
    """

    def __init__(self, opt, kind: str, total_steps: int, warmup: int = 0, step_size: int | None = None,
                 gamma: float = 0.5, patience: int = 2, min_lr: float = 0.0):
        super().__init__(opt)
        if not isinstance(kind, str) or kind not in SCHEDULES:
            raise ValueError(f"unknown learning-rate schedule {kind!r}; expected one of "
                             f"{', '.join(SCHEDULES)}")
        self.kind = kind
        self.warmup = check_int("warmup", warmup, low=0)
        self.total_steps = self._checked_total(total_steps)
        self.step_size_given = None if step_size is None else check_int("step_size", step_size, low=1)
        # None: the steps after the warmup in STEP_PARTS equal parts (ceil)
        after = self.total_steps - self.warmup
        self.step_size = self.step_size_given if step_size is not None else -(-after // STEP_PARTS)
        self.gamma = check_real("gamma", gamma, low=0.0, high=1.0, low_open=True, high_open=True)
        self.patience = check_int("patience", patience, low=0)
        self.min_lr = check_real("min_lr", min_lr, low=0.0, high=self.base_lr)
        self.best: float | None = None  # plateau: the best validation so far
        self.num_bad = 0  # plateau: validations in a row that were not better
        self.reductions = 0  # plateau: k
        self.opt.lr = self.lr_at(0)

    def _checked_total(self, total_steps) -> int:
        total_steps = check_int("total_steps", total_steps, low=1)
        if self.warmup >= total_steps:
            raise ValueError(f"the warmup of {self.warmup} steps must be shorter than the run of "
                             f"{total_steps} steps")
        return total_steps

    def retarget(self, total_steps: int) -> None:
        """Go on towards a new ``total_steps`` (a run continued by another fit), as a resumed run
        does: from the current step and rate, with the step size it has."""
        self.total_steps = self._checked_total(total_steps)
        self.opt.lr = self.lr_at(self.last_step)  # the coming step's rate, on the new total's curve

    def lr_at(self, n: int) -> float:
        """The learning rate after ``n`` calls of ``step()`` (and the reductions made so far)."""
        w, b = self.warmup, self.base_lr
        warm = (n + 1) / w if n < w else 1.0
        m = max(0, n - w)
        if self.kind == "step":
            main = b * self.gamma ** (m // self.step_size)
        elif self.kind == "cosine":
            span = self.total_steps - w
            main = self.min_lr + (b - self.min_lr) * (1.0 + math.cos(math.pi * min(m, span) / span)) / 2.0
        elif self.kind == "plateau":
            main = self.plateau_lr(self.reductions)
        else:
            main = b
        return warm * main

    def plateau_lr(self, k: int) -> float:
        """"plateau"'s rate after ``k`` reductions: ``max(base_lr * gamma ** k, min_lr)``."""
        return max(self.base_lr * self.gamma ** k, self.min_lr)

    def step(self, metric=None) -> float:
        """Advance one optimizer step; returns the new lr. (Validations go to ``report``.)"""
        self.last_step += 1
        self.opt.lr = self.lr_at(self.last_step)
        return self.opt.lr

    def report(self, metric) -> float:
        """Take a validation result (a lower one is better); returns the lr, lowered if "plateau"
        decided so. Other schedules ignore the value."""
        if not is_real(metric):
            raise ValueError(f"LRSchedule.report needs the validation metric as a number, got {metric!r}")
        if self.kind != "plateau":
            return self.opt.lr
        m = float(metric)
        best = math.inf if self.best is None else self.best
        if m < best * (1.0 - PLATEAU_THRESHOLD):  # torch's rule; NaN and inf are never better
            self.best, self.num_bad = m, 0
        else:
            self.num_bad += 1
        if self.num_bad > self.patience:
            if self.plateau_lr(self.reductions) - self.plateau_lr(self.reductions + 1) > PLATEAU_EPS:
                self.reductions += 1
            self.num_bad = 0
        self.opt.lr = self.lr_at(self.last_step)
        return self.opt.lr

    def load_state_dict(self, state: Mapping) -> None:
        super().load_state_dict(state)
        if state["total_steps"] != self.total_steps:  # a resumed run of another length
            self.opt.lr = self.lr_at(self.last_step)  # the coming step's rate, on the new curve

    def _settings(self) -> dict:
        return {"kind": self.kind, "warmup": self.warmup, "step_size_given": self.step_size_given,
                "gamma": self.gamma, "patience": self.patience, "min_lr": self.min_lr}

    def _scalars(self):
        return {**self._settings(), "total_steps": self.total_steps, "step_size": self.step_size,
                "best": self.best, "num_bad": self.num_bad, "reductions": self.reductions}

    def _load_scalars(self, state):
        ours = self._settings()
        differ = [f"{k}={state[k]!r} (this schedule: {v!r})" for k, v in ours.items() if state[k] != v]
        if differ:
            raise ValueError(f"schedule state was saved with other settings: {', '.join(differ)}")
        best = state["best"]
        if best is not None:
            best = check_real("schedule state 'best'", best, allow_inf=True)
        num_bad = check_int("schedule state 'num_bad'", state["num_bad"], low=0)
        reductions = check_int("schedule state 'reductions'", state["reductions"], low=0)
        step_size = check_int("schedule state 'step_size'", state["step_size"], low=1)
        check_int("schedule state 'total_steps'", state["total_steps"], low=1)  # this run's total wins
        self.best, self.num_bad, self.reductions = best, num_bad, reductions
        if self.step_size_given is None:
            self.step_size = step_size


def schedule_from_state(optimizer, state: Mapping):
    """The schedule a state dict was saved from (``StepLR``, ``CosineLR`` or ``LRSchedule``, as a
    checkpoint's ``extra["scheduler"]`` holds it) over ``optimizer``, loaded with that state (which
    sets the optimizer's rate), the ``HalveOnIncrease`` too."""
    kinds = ("StepLR", "CosineLR", "HalveOnIncrease", "LRSchedule")
    if not isinstance(state, Mapping) or state.get("type") not in kinds:
        got = f"type {state.get('type')!r}" if isinstance(state, Mapping) else type(state).__name__
        raise ValueError(f"expected the state dict of a {', '.join(kinds)}, got {got}")
    kind = state["type"]
    if "base_lr" in state:
        optimizer.lr = state["base_lr"]  # made at the base rate, as it was; the state sets the current one
    try:
        if kind == "StepLR":
            schedule = StepLR(optimizer, state["step_size"], state["gamma"])
        elif kind == "CosineLR":
            schedule = CosineLR(optimizer, state["total_steps"], state["min_lr"], state["warmup"])
        elif kind == "HalveOnIncrease":
            schedule = HalveOnIncrease(optimizer, state["factor"], state["min_lr"])
        else:
            settings = ("kind", "total_steps", "warmup", "step_size_given", "gamma", "patience", "min_lr")
            schedule = LRSchedule(optimizer, *(state[k] for k in settings))
    except KeyError as exc:
        raise ValueError(f"the {kind} schedule's state has no {exc.args[0]!r}") from None
    schedule.load_state_dict(state)
    return schedule
