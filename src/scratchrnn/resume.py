"""What a resumed training run reads back from its checkpoint, each entry checked before use.

``restore_run(trainer, path, train)`` puts a :class:`~scratchrnn.train.Trainer` where the run
saved in ``path`` (a ``last.npz``) stopped: weights, optimizer and schedule state, the generator,
step, epoch, carried state, data position, history, best validation and the time trained. The
io layer checks the archive itself; here each entry is checked as what the trainer needs it to be
(a generator state numpy accepts, a carried state of this run's shapes with finite values,
history records with steps in order, counters that are integers), and anything else raises
ValueError naming the file and the entry: ``runs/x/last.npz: checkpoint entry 'hidden' cannot
be resumed: ...``. A file without optimizer or generator state (a ``model.npz``: weights only)
is refused, since the run could not continue exactly from it.

``check_settings(path, saved, given)`` compares the settings a caller resumes with (batch size,
window, optimizer, ...) with those the run recorded, and raises ValueError naming each that
differs with both values: a run continues exactly only with its own. ``resumed_fit`` does that
for a language model's run (its level, settings and text) and returns its vocabulary and record.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import numpy as np

from .checks import check_int, check_real, is_int, is_real
from .data.sequences import SequenceData, TokenStream
from .io import load_checkpoint
from .io.checkpoint import check_resumable

__all__ = ["RESUMED_SETTINGS", "SCHEDULE_SETTINGS", "check_settings", "restore_run",
           "resumed_fit", "text_digest"]

# what reading a malformed entry raises, from numpy's generator or an optimizer's load_state_dict
READ_ERRORS = (TypeError, ValueError, KeyError, AttributeError, IndexError, OverflowError)
# what a language model's resumed fit must give as its run had it
RESUMED_SETTINGS = ("batch_size", "window", "optimizer", "clip_norm", "val_fraction", "seed", "clip_value",
                    "weight_decay", "val_tokens")
# the learning-rate schedule's settings a resumed trainer must give as its run had them
SCHEDULE_SETTINGS = ("lr_schedule", "warmup", "lr_step_size", "lr_gamma", "lr_patience", "min_lr")


def restore_run(trainer, path, train) -> None:
    """Load the run saved in ``path`` into ``trainer`` (which trains on ``train``)."""
    ck = load_checkpoint(path)
    saved = ck.config.get("model") if isinstance(ck.config, dict) else None
    ours = trainer.model.config.to_dict()
    if isinstance(saved, dict) and saved != ours:
        diff = ", ".join(f"{k}={saved.get(k)!r} (this model: {ours.get(k)!r})"
                         for k in sorted(set(saved) | set(ours)) if saved.get(k) != ours.get(k))
        raise ValueError(f"{path} was written for a different model: {diff}")
    check_resumable(ck, path)
    extra = ck.extra if ck.extra is not None else {}
    if not isinstance(extra, dict):
        raise ValueError(f"{path}: checkpoint entry 'extra' must be a dict, got {type(extra).__name__}")

    def entry(name: str, read: Callable):
        try:
            return read()
        except READ_ERRORS as exc:
            raise ValueError(f"{path}: checkpoint entry {name!r} cannot be resumed: "
                             f"{_one_line(exc)}") from None

    def counter(name: str):
        return entry(f"extra.{name}", lambda: check_int(name, extra.get(name, 0), low=0))

    trainer.model.load_state_dict(ck.params)
    entry("optimizer_state", lambda: trainer.optimizer.load_state_dict(ck.optimizer_state))
    entry("rng_state", lambda: setattr(trainer.rng.bit_generator, "state", ck.rng_state))
    trainer.step = entry("step", lambda: check_int("step", ck.step, low=0))
    trainer.epoch = entry("epoch", lambda: check_int("epoch", ck.epoch, low=0))
    trainer.hidden = entry("hidden", lambda: _checked_state(trainer.model, ck.hidden, train))
    trainer.history.steps = _records(path, "history", ck.history, "loss")
    trainer.history.evals = _records(path, "extra.evals", extra.get("evals"), "val_loss")
    trainer.history.samples = _records(path, "extra.samples", extra.get("samples"), "text", "a text")
    trainer.cursor = counter("cursor")
    trainer.bad_evals = counter("bad_evals")
    trainer.rollbacks = counter("rollbacks")
    trainer.elapsed = entry("extra.elapsed",
                            lambda: check_real("elapsed", extra.get("elapsed", 0.0), low=0.0))
    best_val = extra.get("best_val")
    trainer.best_val = None if best_val is None else entry(
        "extra.best_val", lambda: check_real("best_val", best_val, allow_inf=True))
    trainer.best_params = entry("extra.best_params",
                                lambda: _checked_params(trainer.model, extra.get("best_params")))
    if "lr" in extra:
        trainer.optimizer.lr = entry("extra.lr", lambda: check_real("lr", extra["lr"], low=0.0))
    _check_schedule(path, ck.config, extra, trainer)
    if trainer.scheduler is not None and extra.get("scheduler") is not None:
        entry("extra.scheduler", lambda: trainer.scheduler.load_state_dict(extra["scheduler"]))
    trainer.perm = entry("extra.perm", lambda: _checked_order(extra.get("perm"), train))


def _check_schedule(path, config, extra: dict, trainer) -> None:
    """Refuse to resume a run without the schedule it had, or with one it did not have (its rate
    would go on constant, or a schedule would start again at step 0 in the middle of the run)."""
    saved = config.get("train") if isinstance(config, dict) else None
    if isinstance(saved, dict):
        ours = {k: getattr(trainer.config, k) for k in SCHEDULE_SETTINGS if k in saved}
        check_settings(path, saved, ours)
    had, has = extra.get("scheduler") is not None, trainer.scheduler is not None
    if had != has and trainer.step > 0:
        what = "a learning-rate schedule, and this trainer has none" if had else \
            "no learning-rate schedule, and this trainer has one"
        raise ValueError(f"{path}: the run had {what}; resume it with the schedule it had, or start a new "
                         "run from its weights")


def check_settings(path, saved: dict, given: dict) -> None:
    """Raise ValueError when a setting in ``given`` differs from the one ``saved`` with the run in
    ``path`` (settings the run did not record are not compared)."""
    differ = [f"{k}={v!r} (the run's: {saved[k]!r})" for k, v in given.items()
              if k in saved and saved[k] != v]
    if differ:
        raise ValueError(f"{path}: a resumed run continues with its own settings, and "
                         f"{', '.join(differ)} differ; leave them as the run had them, or start a new run "
                         "from its weights")


def text_digest(text: str) -> str:
    """The SHA-256 of ``text`` (UTF-8) in hex: what tells a run's own text from another."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def resumed_fit(path, level: str, record: dict) -> tuple[list[str], dict]:
    """(vocabulary, fit record) of the language-model run saved in ``path``, once the fit that
    resumes it (at ``level``, with the settings and ``text_sha256`` of ``record``) is its own."""
    ck = load_checkpoint(path)
    if ck.vocab is None:
        raise ValueError(f"{path} has no vocabulary, so it was not written by a language model's fit")
    info = ck.config.get("lm") if isinstance(ck.config, dict) else None
    info = info if isinstance(info, dict) else {}
    if info.get("level") not in (None, level):
        raise ValueError(f"{path} holds a {info['level']}-level run, not a {level}-level one")
    run = info.get("fit") if isinstance(info.get("fit"), dict) else {}
    check_settings(path, run, {k: record[k] for k in RESUMED_SETTINGS})
    if run.get("text_sha256") not in (None, record["text_sha256"]):
        raise ValueError(f"{path}: this text is not the one the run was trained on (its SHA-256 differs); "
                         "a resumed run goes on with its own text, and a loaded model fits a new one")
    return ck.vocab, run


def _checked_state(model, hidden, train):
    """The carried state read back: None, or arrays shaped, typed and finite like this run's."""
    if hidden is None:
        return None
    if not isinstance(train, TokenStream):
        raise ValueError("whole-sequence training carries no state between steps, the file holds one")
    want = model.init_state(train.batch_size)
    wanted = want if isinstance(want, tuple) else (want,)
    parts = hidden if isinstance(hidden, tuple) else (hidden,)
    if len(parts) != len(wanted):
        raise ValueError(f"expected {len(wanted)} state array(s), got {len(parts)}")
    for got, ref in zip(parts, wanted, strict=True):
        if not isinstance(got, np.ndarray) or got.shape != ref.shape or got.dtype != ref.dtype:
            desc = (f"{got.dtype} array of shape {got.shape}" if isinstance(got, np.ndarray)
                    else type(got).__name__)
            raise ValueError(f"expected a {ref.dtype} array of shape {ref.shape} (layers, streams, hidden), "
                             f"got a {desc}")
        if not np.all(np.isfinite(got)):
            raise ValueError(f"the state holds {int(np.count_nonzero(~np.isfinite(got)))} non-finite values")
    return hidden


def _checked_params(model, params):
    """The best weights read back: None, or arrays with the model's names and shapes."""
    if params is None:
        return None
    ours = model.params
    if not isinstance(params, dict) or set(params) != set(ours):
        raise ValueError(f"expected a dict with the model's parameter names, got {type(params).__name__}")
    for k, v in params.items():
        if not isinstance(v, np.ndarray) or v.shape != ours[k].shape:
            raise ValueError(f"{k} must be an array of shape {ours[k].shape}")
    return params


def _checked_order(perm, train):
    """This epoch's sample order read back: None, or a permutation of the training sequences."""
    if perm is None:
        return None
    if not isinstance(train, SequenceData):
        raise ValueError("a stream is read in order, the file holds a sample order")
    if (not isinstance(perm, list) or not all(is_int(i) for i in perm)
            or sorted(perm) != list(range(train.size))):
        raise ValueError(f"expected a permutation of the {train.size} training sequences")
    return np.asarray(perm, dtype=np.int64)


def _records(path, name: str, records, value_key: str, kind: str = "a number") -> list[dict]:
    """History records: a list of dicts, each with an integer ``step`` (in order) and a
    ``value_key`` that is a real number (``kind`` "a number") or a str ("a text")."""
    is_value = is_real if kind == "a number" else (lambda v: isinstance(v, str))
    if records is None:
        return []
    if not isinstance(records, list):
        raise ValueError(f"{path}: checkpoint entry {name!r} must be a list of records, "
                         f"got {type(records).__name__}")
    last = 0
    for i, r in enumerate(records):
        if not (isinstance(r, dict) and is_int(r.get("step")) and is_value(r.get(value_key))
                and r["step"] >= last):
            raise ValueError(f"{path}: checkpoint entry {name!r} record {i} must be a dict with an integer "
                             f"'step' (in order) and {kind} {value_key!r}, got {str(r)[:200]}")
        last = r["step"]
    return list(records)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if text else type(exc).__name__
