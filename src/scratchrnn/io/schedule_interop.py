"""A learning-rate schedule's state to ``torch.optim.lr_scheduler`` and back, where torch has the
same schedule, so a run's rate goes on as if it had not moved.

:func:`to_torch_scheduler` gives the torch scheduler of a scratchrnn schedule over a torch
optimizer (the one ``to_torch_optimizer`` made, whose rate is the schedule's current one), at the
same point of its curve; :func:`from_torch_scheduler` puts a torch scheduler's point back into a
scratchrnn schedule with the same settings (one made as the run made it, over the optimizer that
``from_torch_optimizer`` gave, or ``scratchrnn.optim.schedule_from_state`` of the state it was handed
over with), which sets that optimizer's rate.

The schedules torch has (``TORCH_SCHEDULES``; w is the warmup, N the total steps):

* ``StepLR(step_size, gamma)`` and ``LRSchedule`` "step": torch's ``StepLR``;
* ``CosineLR`` and ``LRSchedule`` "cosine": ``CosineAnnealingLR(T_max=N - w, eta_min=min_lr)``,
  the same up to step N (after it scratchrnn's rate stays at min_lr, torch's rises again);
* ``LRSchedule`` "plateau": ``ReduceLROnPlateau(mode="min", factor=gamma, patience,
  threshold=1e-4, threshold_mode="rel", cooldown=0, min_lr, eps=1e-8)``, fed each validation;
* ``LRSchedule`` "constant": ``ConstantLR(factor=1.0, total_iters=0)``, a rate that stays.

A warmup is torch's ``LinearLR`` chained before the schedule; the hand-over takes a schedule whose
warmup is over (its step counted from the warmup's end: torch's ``last_epoch = n - w``) and
refuses one still inside it, as it refuses ``HalveOnIncrease``, which torch has no scheduler for.
Importing this module never imports torch.
"""

from __future__ import annotations

import math

from ..optim.schedules import PLATEAU_EPS, PLATEAU_THRESHOLD, CosineLR, LRSchedule, StepLR
from .interop import require_torch

__all__ = ["TORCH_SCHEDULES", "from_torch_scheduler", "to_torch_scheduler"]

TORCH_SCHEDULES = ("StepLR", "CosineLR", "LRSchedule")  # scratchrnn's names of the schedules torch has
# ReduceLROnPlateau's settings that LRSchedule("plateau") keeps fixed
_PLATEAU = {"mode": "min", "threshold": PLATEAU_THRESHOLD, "threshold_mode": "rel", "cooldown": 0,
            "eps": PLATEAU_EPS}


def _kind(schedule) -> str:
    """"step", "cosine", "plateau" or "constant": what a scratchrnn schedule is, as torch has it."""
    if isinstance(schedule, StepLR):
        return "step"
    if isinstance(schedule, CosineLR):
        return "cosine"
    if isinstance(schedule, LRSchedule):
        return schedule.kind
    raise _unsupported(type(schedule).__name__)


def _unsupported(name: str) -> ValueError:
    return ValueError(f"the schedule {name} has no torch.optim.lr_scheduler counterpart that scratchrnn "
                      f"converts; supported: {', '.join(TORCH_SCHEDULES)}")


def _warmup(schedule) -> int:
    return getattr(schedule, "warmup", 0)


def _torch_class(torch, kind: str):
    sched = torch.optim.lr_scheduler
    return {"step": sched.StepLR, "cosine": sched.CosineAnnealingLR, "plateau": sched.ReduceLROnPlateau,
            "constant": sched.ConstantLR}[kind]


def _torch_arguments(schedule, kind: str) -> dict:
    if kind == "step":
        return {"step_size": schedule.step_size, "gamma": schedule.gamma}
    if kind == "cosine":
        return {"T_max": schedule.total_steps - _warmup(schedule), "eta_min": schedule.min_lr}
    if kind == "plateau":
        return {"factor": schedule.gamma, "patience": schedule.patience, "min_lr": schedule.min_lr,
                **_PLATEAU}
    return {"factor": 1.0, "total_iters": 0}


def to_torch_scheduler(schedule, torch_optimizer):
    """The ``torch.optim.lr_scheduler`` scheduler of ``schedule`` over ``torch_optimizer`` (one
    parameter group, at the schedule's current rate), at the same point of the same curve."""
    torch = require_torch()
    kind = _kind(schedule)
    if not isinstance(torch_optimizer, torch.optim.Optimizer) or len(torch_optimizer.param_groups) != 1:
        groups = getattr(torch_optimizer, "param_groups", None)
        got = type(torch_optimizer).__name__ + ("" if groups is None else f" with {len(groups)} groups")
        raise ValueError(f"to_torch_scheduler expects a torch.optim optimizer with one parameter group "
                         f"(made by to_torch_optimizer), got {got}")
    warmup, step = _warmup(schedule), schedule.last_step
    if step < warmup:
        raise ValueError(f"the schedule is in its warmup (step {step} of {warmup}); torch chains a warmup "
                         "as another scheduler, so hand it over once the warmup is over")
    if kind == "cosine" and step >= schedule.total_steps:
        raise ValueError(f"the cosine schedule is at its end (step {step} of {schedule.total_steps}): "
                         "past it torch's CosineAnnealingLR rises again while scratchrnn's rate stays at "
                         "min_lr; stretch it to the run's new total first (LRSchedule.retarget)")
    group = torch_optimizer.param_groups[0]
    lr = float(schedule.opt.lr)
    if not math.isclose(group["lr"], lr, rel_tol=1e-12, abs_tol=0.0):
        raise ValueError(f"the torch optimizer's rate is {group['lr']!r}, the schedule's is {lr!r}; make the "
                         "optimizer with to_torch_optimizer from the schedule's optimizer")
    scheduler = _torch_class(torch, kind)(torch_optimizer, **_torch_arguments(schedule, kind))
    state = scheduler.state_dict()
    if kind == "plateau":  # its last_epoch counts validations, which the schedule does not
        state.update(best=math.inf if schedule.best is None else schedule.best,
                     num_bad_epochs=schedule.num_bad)
    else:
        state.update(last_epoch=step - warmup, base_lrs=[schedule.base_lr], _last_lr=[lr],
                     _step_count=step - warmup + 1)
        group["initial_lr"] = schedule.base_lr
    scheduler.load_state_dict(state)  # _step_count and _last_lr are torch's own names (torch 2.13)
    group["lr"] = lr  # as it was: a scheduler made at step 0 may have set its own
    return scheduler


def from_torch_scheduler(torch_scheduler, schedule, step_count: int | None = None) -> None:
    """Put ``torch_scheduler``'s point of its curve into ``schedule``, a scratchrnn schedule with the
    same settings (its optimizer's rate becomes the torch optimizer's); settings that differ are a
    ValueError naming them. ``step_count`` is the run's optimizer steps so far (the optimizer
    ``from_torch_optimizer`` gave counts them): needed for "plateau", whose torch scheduler counts
    validations, and checked against the others' count. A "plateau" schedule keeps its own base
    rate, which ReduceLROnPlateau does not hold: give the run's (``schedule_from_state`` of the
    state it was handed over with)."""
    torch = require_torch()
    kind = _kind(schedule)
    cls = _torch_class(torch, kind)
    if type(torch_scheduler) is not cls:
        raise ValueError(f"a {kind!r} schedule continues from a torch {cls.__name__}, got "
                         f"{type(torch_scheduler).__name__}")
    state = torch_scheduler.state_dict()
    if kind == "cosine":
        if state["last_epoch"] > state["T_max"]:
            raise ValueError(f"the torch CosineAnnealingLR has gone {state['last_epoch']} steps, past its "
                             f"T_max {state['T_max']}, where its rate rises again and scratchrnn's stays at "
                             "min_lr")
        total = state["T_max"] + _warmup(schedule)
        if isinstance(schedule, LRSchedule) and total != schedule.total_steps:
            schedule.retarget(total)  # stretched for a longer run before it went to torch
    wanted = _torch_arguments(schedule, kind)
    given = {k: state["min_lrs"][0] if k == "min_lr" else state.get(k) for k in wanted}
    differ = [f"{k}={given[k]!r} (the schedule's: {v!r})" for k, v in wanted.items() if given[k] != v]
    if differ:
        raise ValueError(f"the torch {cls.__name__} has other settings than the schedule: "
                         f"{', '.join(differ)}")
    groups = torch_scheduler.optimizer.param_groups
    if len(groups) != 1:
        raise ValueError(f"the torch scheduler's optimizer has {len(groups)} parameter groups; scratchrnn's "
                         "optimizers have one")
    lr = float(groups[0]["lr"])
    ours = schedule.state_dict()
    if kind == "plateau":
        if step_count is None:
            raise ValueError("a plateau schedule needs step_count, the run's optimizer steps: its torch "
                             "scheduler counts validations, not steps")
        best = state["best"]
        ours.update(best=None if best == math.inf else float(best), num_bad=int(state["num_bad_epochs"]),
                    reductions=_reductions(schedule, lr))
        step = step_count
    else:
        step = int(state["last_epoch"]) + _warmup(schedule)
        if step_count is not None and step_count != step:
            raise ValueError(f"the torch {cls.__name__} has taken {step} steps, step_count is {step_count}")
        ours["base_lr"] = float(state["base_lrs"][0])
    ours.update(last_step=step, lr=lr)
    schedule.load_state_dict(ours)


def _reductions(schedule: LRSchedule, lr: float) -> int:
    """The plateau reductions k whose rate (``LRSchedule.plateau_lr``) is ``lr``."""
    for k in range(10_000):
        rate = schedule.plateau_lr(k)
        if math.isclose(rate, lr, rel_tol=1e-9):
            return k
        if rate < lr or rate == schedule.min_lr:
            break
    raise ValueError(f"the torch scheduler's rate {lr!r} is not one the plateau schedule reaches "
                     f"(base {schedule.base_lr!r}, gamma {schedule.gamma!r}, min_lr {schedule.min_lr!r})")
