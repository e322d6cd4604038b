"""A training run continued in PyTorch, written back as a checkpoint the trainer resumes.

``save_continued_run(path_in, path_out, torch_module, torch_optimizer, torch_scheduler)`` takes
the run ``path_in`` (a ``last.npz`` of ``scratchrnn train`` or of ``Trainer(checkpoint_dir=...)``)
and what training in torch made of its model, optimizer and schedule (``to_torch``,
``to_torch_optimizer``, ``to_torch_scheduler``), and writes ``path_out``, whole or not at all: a
checkpoint with torch's weights, the optimizer's moments and step count, the schedule's point on
its curve and the step counter advanced by the steps taken in torch, which ``scratchrnn train
--resume`` and ``Trainer.fit(resume=...)`` continue.

Everything else is the run's as it was: its configuration, vocabulary, history, validations, best
weights, generator state and data position (the windows torch trained on were its own, so the
resumed run draws where the run had stopped drawing). The carried state of a stream is not
kept: the resumed run starts its streams from zeros, as after a rollback. What torch did is not
in the run's records: the log and history have no entries for its steps, the epoch and data
position do not move, and the time trained leaves it out.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..checks import check_int
from ..optim.schedules import schedule_from_state
from .checkpoint import check_resumable, load_checkpoint, save_checkpoint
from .interop import from_torch
from .optim_interop import from_torch_optimizer
from .schedule_interop import from_torch_scheduler

__all__ = ["save_continued_run"]


def save_continued_run(path_in: str | os.PathLike, path_out: str | os.PathLike, torch_module,
                       torch_optimizer, torch_scheduler=None, steps: int | None = None) -> Path:
    """Write the run of ``path_in`` as continued in torch to ``path_out`` (module docstring).

    ``steps`` is the number of optimizer steps taken in torch: needed for SGD, which counts none;
    the other optimizers count them, and a given ``steps`` must agree. The torch optimizer must
    be the run's (its class and settings); a run with a learning-rate schedule needs its
    ``torch_scheduler`` (over that optimizer), a run without one refuses one. Returns
    ``path_out`` as a Path.
    """
    path_in, path_out = Path(path_in), Path(path_out)
    ck = load_checkpoint(path_in)
    check_resumable(ck, path_in)
    saved = (ck.config or {}).get("model") or {}
    model = from_torch(torch_module)
    kind = type(model).__name__
    ours = model.config.to_dict() if kind == "SequenceModel" else {"module": kind}
    differ = [f"{k}={ours.get(k)!r} (the run's: {saved.get(k)!r})" for k in sorted(set(saved) | set(ours))
              if saved.get(k) != ours.get(k)]
    if differ:
        raise ValueError(f"{path_in} is a run of another model: the torch module has {', '.join(differ)}")
    if torch_scheduler is not None and getattr(torch_scheduler, "optimizer", None) is not torch_optimizer:
        raise ValueError("the torch scheduler schedules another optimizer than torch_optimizer")
    before = int(ck.optimizer_state.get("step", 0))
    optimizer = from_torch_optimizer(torch_optimizer, torch_module, model.params)
    if type(optimizer).__name__ != ck.optimizer_state.get("type"):
        raise ValueError(f"{path_in} was trained with {ck.optimizer_state.get('type')}, the torch optimizer "
                         f"is {type(torch_optimizer).__name__}")
    hyper = optimizer.hyper()
    differ = [f"{k}={hyper.get(k)!r} (the run's: {v!r})" for k, v in ck.optimizer_state["hyper"].items()
              if k != "lr" and hyper.get(k) != v]  # the rate is the schedule's, or the run's to change
    if differ:
        raise ValueError(f"the torch {type(optimizer).__name__} has other settings than the run of "
                         f"{path_in}: {', '.join(differ)}")
    if type(optimizer).__name__ == "SGD":  # torch's SGD counts no steps
        if steps is None:
            raise ValueError("torch's SGD counts no steps: give steps, the optimizer steps taken in torch")
        optimizer.step_count = before + check_int("steps", steps, low=0)
    elif steps is not None and optimizer.step_count != before + check_int("steps", steps, low=0):
        raise ValueError(f"the torch {type(optimizer).__name__} has taken {optimizer.step_count} steps in "
                         f"all, and {before} + steps={steps} gives {before + steps}")
    taken = optimizer.step_count - before
    if taken < 0:
        raise ValueError(f"the torch optimizer has taken {optimizer.step_count} steps, fewer than the "
                         f"{before} of {path_in}")
    extra = dict(ck.extra or {})
    state = extra.get("scheduler")
    if (state is None) != (torch_scheduler is None):
        had = "a learning-rate schedule: give its torch scheduler" if state is not None else \
            "no learning-rate schedule, and a torch scheduler was given"
        raise ValueError(f"{path_in}: the run had {had}")
    if state is not None:
        schedule = schedule_from_state(optimizer, state)
        from_torch_scheduler(torch_scheduler, schedule, step_count=schedule.last_step + taken)
        extra["scheduler"] = schedule.state_dict()
    extra["lr"] = float(optimizer.lr)
    return save_checkpoint(path_out, params=model.params, optimizer_state=optimizer.state_dict(),
                           rng_state=ck.rng_state, step=ck.step + taken, epoch=ck.epoch, hidden=None,
                           config=ck.config, vocab=ck.vocab, history=ck.history, extra=extra)
