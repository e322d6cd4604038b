"""A training run's state held in memory, and put back: what a rollback returns to.

``take_snapshot(trainer)`` copies what the next steps would change (weights, optimizer and
schedule state, the generator, step, epoch, data position, carried state, the length of the
history, the best validation); ``restore_snapshot(trainer, snapshot)`` puts it all back and cuts
the history to where it was. Only the trainer's public attributes are read and set.
"""

from __future__ import annotations

import numpy as np

__all__ = ["copy_state", "deep_copy", "restore_snapshot", "take_snapshot"]


def take_snapshot(trainer) -> dict:
    """Everything of ``trainer``'s run that a rollback restores, copied."""
    return {
        "params": trainer.model.state_dict(),
        "optim": deep_copy(trainer.optimizer.state_dict()),
        "rng": trainer.rng.bit_generator.state,
        "step": trainer.step, "epoch": trainer.epoch, "cursor": trainer.cursor,
        "perm": None if trainer.perm is None else trainer.perm.copy(),
        "hidden": copy_state(trainer.hidden),
        "n_steps": len(trainer.history.steps), "n_evals": len(trainer.history.evals),
        "n_samples": len(trainer.history.samples),
        "scheduler": None if trainer.scheduler is None else deep_copy(trainer.scheduler.state_dict()),
        "best_val": trainer.best_val, "bad_evals": trainer.bad_evals,
        "best_params": trainer.best_params,  # replaced, never modified in place, so no copy
    }


def restore_snapshot(trainer, s: dict) -> None:
    """Put ``trainer`` back where ``take_snapshot`` found it (the snapshot stays usable again)."""
    trainer.model.load_state_dict(s["params"])
    trainer.optimizer.load_state_dict(deep_copy(s["optim"]))
    if s["scheduler"] is not None:
        trainer.scheduler.load_state_dict(deep_copy(s["scheduler"]))
    trainer.best_val, trainer.bad_evals, trainer.best_params = s["best_val"], s["bad_evals"], s["best_params"]
    trainer.rng.bit_generator.state = s["rng"]
    trainer.step, trainer.epoch, trainer.cursor = s["step"], s["epoch"], s["cursor"]
    trainer.perm = None if s["perm"] is None else s["perm"].copy()
    trainer.hidden = copy_state(s["hidden"])
    del trainer.history.steps[s["n_steps"]:]
    del trainer.history.evals[s["n_evals"]:]
    del trainer.history.samples[s["n_samples"]:]


def copy_state(h):
    """A copy of a carried state: None, an array or a tuple of arrays."""
    if h is None:
        return None
    if isinstance(h, tuple):
        return tuple(a.copy() for a in h)
    return h.copy()


def deep_copy(obj):
    """A copy of nested dicts and lists of arrays and scalars (optimizer and schedule state)."""
    if isinstance(obj, dict):
        return {k: deep_copy(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [deep_copy(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.copy()
    return obj
