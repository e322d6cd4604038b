"""How to train: :class:`TrainConfig`, every field with its default and its check, and ``LOSSES``.

``TrainConfig.validate()`` raises a ValueError naming the first field that is wrong, what it
expects and what it got; :class:`~scratchrnn.train.Trainer` calls it before anything else.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from . import losses as losses_mod
from .checks import check_flag, check_int, check_optional_int, check_real, check_truncate
from .optim import SCHEDULES

__all__ = ["LOSSES", "TrainConfig"]


@dataclass
class TrainConfig:
    """How to train; every field has a default so ``TrainConfig(steps=100)`` is enough.

    Attributes:
        steps (int or None, default None): optimizer steps in total, a resumed run's included.
        epochs (int or None, default None): passes over the training data; give steps or epochs.
        batch_size (int, default 32): sequences per step (SequenceData); a TokenStream has its own.
        truncate (int or None, default None): the loss at step t reaches steps t-truncate .. t; None: all.
        loss (str, default "cross_entropy"): "cross_entropy", "mse", "bce_with_logits" or "pinball".
        class_weights (sequence of floats or None, default None): cross_entropy only, a weight per
            class (``losses.cross_entropy``'s ``weight``), for training and validation alike.
        quantiles (sequence of floats or None, default None): pinball only, and needed there: the
            levels the model's outputs estimate (``losses.pinball``), increasing in (0, 1).
        clip_value (float or None, default None): clip each gradient entry to +-clip_value, before clip_norm.
        clip_norm (float or None, default None): scale the gradients down to this global L2 norm.
        eval_every (int or None, default None): steps between validations; None: at every epoch's end.
        patience (int or None, default None): stop after this many validations without a new best.
        restore_best (bool, default True): when patience stops a run, put the best validation's
            weights back into the model at the end (after last.npz is written; the history says so).
        on_nonfinite (str, default "raise"): "raise" TrainingDiverged or "rollback" (to the last snapshot).
        max_rollbacks (int, default 5): rollbacks allowed in a run; the next divergence raises.
        snapshot_every (int, default 50): steps between the in-memory snapshots a rollback restores.
        checkpoint_dir (str or None, default None): folder of last.npz and best.npz; None: no files.
        checkpoint_every (int or None, default None): steps between last.npz files; None: at the end.
        log_path (str or None, default None): a JSON-lines file of every step and validation record.
        progress (bool or None, default None): a tqdm bar on stderr; None: when stderr is a terminal.
        seed (int, default 0): seeds the trainer's Generator (batch order, dropout masks).
        time_limit (float or None, default None): seconds one fit may train; it stops after the step
            that passes them, with last.npz written.
        report_every (int or None, default None): steps between "report" events; None: every
            report_seconds.
        report_seconds (float, default 30.0): with report_every None, the seconds between "report" events.
        lr_schedule (str or None, default None): the rate by name, "constant", "step", "cosine" or
            "plateau" (:class:`~scratchrnn.optim.LRSchedule`, formulas there); None: the ``scheduler``
            given to the Trainer, or none.
        warmup (int, default 0): with lr_schedule, the first ``warmup`` steps ramp the rate linearly,
            step n (from 1) at ``lr * n / warmup``; it must be shorter than the run.
        lr_step_size (int or None, default None): "step": steps between reductions; None: the steps
            after the warmup in 4 equal parts.
        lr_gamma (float, default 0.5): "step" and "plateau": the factor of each reduction, in (0, 1).
        lr_patience (int, default 2): "plateau": validations without a relative improvement of 1e-4
            tolerated; the next one lowers the rate.
        min_lr (float, default 0.0): "cosine" ends at it; "plateau" never goes below it.
        sample_every (int or None, default None): steps between samples drawn from the model (token
            models): a record ``{"event": "sample", "text", ...}`` in the history and the log,
            drawn from a Generator of its own (the training is bit for bit the same without).
        sample_length (int, default 100): tokens per sample.
    """

    steps: int | None = None  # optimizer steps in total (or give epochs)
    epochs: int | None = None  # passes over the data
    batch_size: int = 32  # sequences per step (SequenceData); streams use TokenStream's own
    truncate: int | None = None  # per-output truncated BPTT (the tutorials' bptt_truncate)
    loss: str = "cross_entropy"  # "cross_entropy" | "mse" | "bce_with_logits" | "pinball"
    class_weights: tuple | None = None  # cross_entropy: a weight per class
    quantiles: tuple | None = None  # pinball: the quantile levels of the outputs
    clip_value: float | None = None  # clip each gradient entry to [-v, v] (the sine tutorial: 10)
    clip_norm: float | None = None  # clip the global gradient norm
    eval_every: int | None = None  # steps between validations; None = at the end of every epoch
    patience: int | None = None  # early stopping after this many validations without improvement
    restore_best: bool = True  # after early stopping, the best validation's weights go back in
    on_nonfinite: str = "raise"  # "raise" TrainingDiverged, or "rollback" to the last good state
    max_rollbacks: int = 5  # rollbacks allowed before giving up
    snapshot_every: int = 50  # steps between in-memory snapshots used by rollback
    checkpoint_dir: str | None = None  # where last.npz / best.npz go
    checkpoint_every: int | None = None  # steps between checkpoints (needs checkpoint_dir; one at the end)
    log_path: str | None = None  # JSON-lines history
    progress: bool | None = None  # tqdm bar; None = only when stderr is a terminal
    seed: int = 0
    time_limit: float | None = None  # seconds one fit may train; it stops after the step that passes them
    report_every: int | None = None  # steps between "report" events; None: every report_seconds
    report_seconds: float = 30.0  # with report_every None, the seconds between "report" events
    lr_schedule: str | None = None  # "constant" | "step" | "cosine" | "plateau"; None: the scheduler given
    warmup: int = 0  # steps of linear warmup before the schedule (lr * n / warmup at step n)
    lr_step_size: int | None = None  # "step": steps between reductions; None: four equal parts
    lr_gamma: float = 0.5  # "step" / "plateau": each reduction multiplies the rate by this
    lr_patience: int = 2  # "plateau": validations without improvement before a reduction
    min_lr: float = 0.0  # "cosine": the final rate; "plateau": the floor
    sample_every: int | None = None  # steps between samples in the history and the log
    sample_length: int = 100  # tokens per sample

    def validate(self) -> None:
        """Raise ValueError naming the first field that is wrong, what it expects and what it got."""
        if (self.steps is None) == (self.epochs is None):
            raise ValueError("give exactly one of steps and epochs")
        for name in ("steps", "epochs", "batch_size", "eval_every", "patience", "checkpoint_every",
                     "snapshot_every", "report_every", "lr_step_size", "sample_every"):
            check_optional_int(name, getattr(self, name), low=1)
        check_truncate(self.truncate)
        check_int("max_rollbacks", self.max_rollbacks, low=0)
        check_int("seed", self.seed, low=0)
        for name in ("checkpoint_dir", "log_path"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, (str, os.PathLike)):
                raise ValueError(f"{name} must be None or a path, got {type(value).__name__} {value!r}")
        if self.progress is not None:
            check_flag("progress", self.progress)
        if self.checkpoint_every is not None and not self.checkpoint_dir:
            raise ValueError(f"checkpoint_every={self.checkpoint_every} needs checkpoint_dir, got None")
        if not isinstance(self.on_nonfinite, str) or self.on_nonfinite not in ("raise", "rollback"):
            raise ValueError(f"on_nonfinite must be 'raise' or 'rollback', got {self.on_nonfinite!r}")
        if not isinstance(self.loss, str) or self.loss not in LOSSES:
            raise ValueError(f"unknown loss {self.loss!r}; expected one of {', '.join(LOSSES)}")
        if self.class_weights is not None:
            if self.loss != "cross_entropy":
                raise ValueError(f"class_weights weigh the classes of cross_entropy, the loss is "
                                 f"{self.loss!r}")
            if isinstance(self.class_weights, (str, bytes)) or not hasattr(self.class_weights, "__len__") \
                    or len(self.class_weights) == 0:
                raise ValueError(f"class_weights must be a non-empty sequence of non-negative numbers, got "
                                 f"{self.class_weights!r}")
            self.class_weights = tuple(check_real(f"class_weights[{i}]", v, low=0.0)
                                       for i, v in enumerate(self.class_weights))
            if not any(self.class_weights):
                raise ValueError("class_weights must not all be 0")
        if (self.loss == "pinball") != (self.quantiles is not None):
            raise ValueError("the pinball loss needs quantiles, got None" if self.loss == "pinball" else
                             f"quantiles are the levels of the pinball loss, the loss is {self.loss!r}")
        if self.quantiles is not None:
            self.quantiles = losses_mod.check_quantiles(self.quantiles)
        for name in ("clip_value", "clip_norm"):
            v = getattr(self, name)
            if v is not None:
                check_real(name, v, low=0.0, low_open=True, allow_inf=True)
        if self.time_limit is not None:
            check_real("time_limit", self.time_limit, low=0.0, low_open=True)
        check_real("report_seconds", self.report_seconds, low=0.0, low_open=True)
        check_flag("restore_best", self.restore_best)
        if self.lr_schedule is not None and (not isinstance(self.lr_schedule, str)
                                             or self.lr_schedule not in SCHEDULES):
            raise ValueError(f"unknown lr_schedule {self.lr_schedule!r}; expected None or one of "
                             f"{', '.join(SCHEDULES)}")
        check_int("warmup", self.warmup, low=0)
        if self.warmup and self.lr_schedule is None:
            raise ValueError(f"warmup={self.warmup} ramps the rate of an lr_schedule, and lr_schedule "
                             "is None")
        check_real("lr_gamma", self.lr_gamma, low=0.0, high=1.0, low_open=True, high_open=True)
        check_int("lr_patience", self.lr_patience, low=0)
        check_real("min_lr", self.min_lr, low=0.0)
        check_int("sample_length", self.sample_length, low=1)


LOSSES: dict[str, Callable] = {
    "cross_entropy": losses_mod.cross_entropy,
    "mse": losses_mod.mse,
    "bce_with_logits": losses_mod.bce_with_logits,
    "pinball": losses_mod.pinball,
}
