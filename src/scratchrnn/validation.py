"""Validation bookkeeping of a training run: the best validation and its weights, early stopping,
and the best weights put back when a run stopped early.

``judge(trainer, val_loss)`` counts one validation: a loss below the best so far is the new best
(its weights copied to ``trainer.best_params``, the count of validations without one reset),
another adds one to ``trainer.bad_evals``. ``patience_spent(trainer)`` says whether
``config.patience`` validations in a row brought no new best. ``restore_best(trainer)`` loads the
best weights into the model and returns the record that says so (``{"event": "restore_best",
"step", "best_step", "val_loss"}``), or None when there is nothing to restore. Only the trainer's
public attributes are read and set.
"""

from __future__ import annotations

__all__ = ["best_step", "judge", "patience_spent", "restore_best"]


def judge(trainer, val_loss: float) -> bool:
    """Count the validation ``val_loss``; True when it is the best so far (kept with its weights)."""
    improved = trainer.best_val is None or val_loss < trainer.best_val
    if improved:
        trainer.best_val, trainer.bad_evals = val_loss, 0
        trainer.best_params = trainer.model.state_dict()  # copies
    else:
        trainer.bad_evals += 1
    return improved


def patience_spent(trainer) -> bool:
    """Whether the last ``config.patience`` validations in a row brought no new best."""
    patience = trainer.config.patience
    return patience is not None and trainer.bad_evals >= patience


def best_step(evals: list[dict]) -> int | None:
    """The step of the best validation among the records ``evals`` (the last marked best)."""
    steps = [r["step"] for r in evals if r.get("best")]
    return steps[-1] if steps else None


def restore_best(trainer) -> dict | None:
    """Load the best validation's weights into ``trainer.model``; the record saying so, or None
    when no validation was kept or the weights in the model are already the best's."""
    where = best_step(trainer.history.evals)
    if trainer.best_params is None or where is None or where == trainer.step:
        return None
    trainer.model.load_state_dict(trainer.best_params)
    return {"step": trainer.step, "event": "restore_best", "best_step": where, "val_loss": trainer.best_val}
