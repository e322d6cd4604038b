"""Training loop: minibatches, (truncated) BPTT, carried state, validation, checkpoints, NaN guard.

Two kinds of data (from :mod:`scratchrnn.data.sequences`, importable from here):

* :class:`SequenceData`, whole sequences: each step draws a minibatch of sequence indices from the
  trainer's Generator (a permutation per epoch) and runs BPTT over the whole sequence, optionally
  with the per-output truncation ``truncate=k``.
* :class:`TokenStream`, one long stream of token ids in B parallel streams: each step trains on
  the next window of ``window`` steps; the hidden state at the end of a window is carried into the
  next as a plain array, so no gradient flows across the boundary.

Everything random (batch order, dropout masks) comes from one Generator seeded by
``TrainConfig.seed``; its state is saved in checkpoints, so a resumed run continues bit for bit.
The library prints nothing: progress is a tqdm bar on stderr (off unless stderr is a terminal)
showing the loss and the latest validation loss, callbacks receive every event (periodic
"report" summaries among them, for a caller to print: :mod:`scratchrnn.trainlog`), and the
history is returned (and written as JSON lines when ``log_path`` is set). ``time_limit`` ends a
run cleanly at the end of the step that passes it, with ``last.npz`` written as at any end.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .data.sequences import SequenceData, TokenStream
from .io import save_checkpoint
from .nn.model import SequenceModel
from .optim import LRSchedule, clip_by_value, clip_grad_norm, global_norm
from .optim.base import check_lr
from .resume import restore_run
from .snapshot import restore_snapshot, take_snapshot
from .traincheck import check_data
from .trainconfig import LOSSES, TrainConfig
from .trainlog import Reports, RunLog, bar_postfix, naming
from .trainsample import training_sample
from .validation import judge, patience_spent, restore_best

__all__ = ["History", "SequenceData", "TokenStream", "TrainConfig", "Trainer", "TrainingDiverged"]

# Keys of a history record that depend on the wall clock; everything else is deterministic.
TIMING_KEYS = ("seconds", "tokens_per_s", "samples_per_s", "elapsed")
ROLLBACK_FACTOR = 0.5  # a rollback multiplies the learning rate by this
MIN_SECONDS = 1e-9  # floor of a step's measured time, so a speed is always finite
# Overflow inside a step is expected when a run diverges: the divergence guard checks the loss and
# the gradient norm itself, so numpy does not warn there (as errors, warnings would bypass the guard).
_QUIET_FP = {"over": "ignore", "invalid": "ignore", "divide": "ignore"}


class TrainingDiverged(RuntimeError):
    """A non-finite loss or gradient norm; ``step`` and ``last_finite_loss`` say where and from what."""

    def __init__(self, step: int, last_finite_loss: float | None, what: str = "loss"):
        self.step, self.last_finite_loss = step, last_finite_loss
        last = "none yet" if last_finite_loss is None else f"{last_finite_loss:.6g}"
        super().__init__(f"training diverged at step {step}: non-finite {what} (last finite loss: {last})")


@dataclass
class History:
    """What a training run records (``Trainer.fit`` returns it; ``log_path`` receives it line by line).

    Attributes:
        steps (list of dict, default []): one record per step: loss, grad_norm, clipped, lr, speed.
        evals (list of dict, default []): one record per validation: step, epoch, val_loss, best.
        samples (list of dict, default []): one record per sample (``sample_every``): step, event
            "sample", ids, text.
        restored (dict or None, default None): after early stopping with ``restore_best``, the record
            of the best weights put back: step, event "restore_best", best_step, val_loss.
    """
    steps: list[dict] = field(default_factory=list)
    evals: list[dict] = field(default_factory=list)
    samples: list[dict] = field(default_factory=list)
    restored: dict | None = None

    @property
    def losses(self) -> list[float]:
        return [r["loss"] for r in self.steps]

    @property
    def val_losses(self) -> list[float]:
        return [r["val_loss"] for r in self.evals]

    @property
    def clipped_fraction(self) -> float:
        return float(np.mean([r["clipped"] for r in self.steps])) if self.steps else 0.0

    def deterministic(self) -> dict:
        """The records without wall-clock fields: equal for runs with equal seeds."""
        strip = lambda rs: [{k: v for k, v in r.items() if k not in TIMING_KEYS} for r in rs]  # noqa: E731
        return {"steps": strip(self.steps), "evals": strip(self.evals), "samples": strip(self.samples),
                "restored": self.restored}

    def to_dict(self) -> dict:
        return asdict(self)


# ------------------------------------------------------------------------------------------------
# the trainer
# ------------------------------------------------------------------------------------------------
class Trainer:
    """Fits a :class:`SequenceModel` with an optimizer from :mod:`scratchrnn.optim`.

    ``callbacks`` are called as ``cb(event, trainer, record)``. The events: "start" (before the
    first step of a fit: ``step``, ``total``, ``resumed``), "step" (each step's record), "eval"
    (each validation's), "sample" (each sample's), "checkpoint" (``step``, ``path``), "rollback",
    "lr" (a change of the rate on a run under way: ``step``, ``from``, ``to``), "report" (a
    summary of the steps since the last one, see :mod:`scratchrnn.trainlog`; due every
    ``report_every`` steps or ``report_seconds``, after each validation and at the end) and
    "end" (``step``, ``total``, ``reason``, ``elapsed``). Setting ``trainer.should_stop = True``
    ends training after the current step; ``stop_reason`` then says why it ended: "completed",
    "time_limit", "patience" or "requested" (by a callback). ``scheduler`` (optional) has
    ``step()`` called after every optimizer step, or ``step(val_loss)`` after every validation if
    it is driven by a metric (``on_metric = True``, as for
    :class:`~scratchrnn.optim.HalveOnIncrease`).

    A rollback (``on_nonfinite="rollback"``) restores the last in-memory snapshot (weights,
    optimizer, schedule, generator, data position, best validation) and multiplies the learning
    rate in force when the step failed, and the schedule's base rate, by ``ROLLBACK_FACTOR``.

    ``meta`` (a JSON-able dict) is saved in every checkpoint's configuration beside ``model`` and
    ``train``; the language models keep their level and fit settings there (key ``lm``).

    ``config.lr_schedule`` builds an :class:`~scratchrnn.optim.LRSchedule` over the fit's total
    steps from the optimizer's rate (a later fit takes it on to that fit's total, as a resume
    with more steps does; as ``scheduler``, so it is saved and resumed with the run;
    "plateau" hears every validation). Early stopping (``patience``) with ``restore_best`` puts the
    best validation's weights back at the end (:mod:`scratchrnn.validation`). ``sample_every``
    draws samples after ``sample_prime`` (token ids; default ``[0]``), turned into text by
    ``decode`` (ids -> str; default: the ``vocab`` entries joined) (:mod:`scratchrnn.trainsample`).
    """

    def __init__(self, model: SequenceModel, optimizer, config: TrainConfig | None = None, *,
                 scheduler=None, callbacks: list[Callable] | None = None, vocab: list[str] | None = None,
                 meta: dict | None = None, sample_prime: list[int] | None = None,
                 decode: Callable[[list[int]], str] | None = None):
        self.model, self.optimizer, self.scheduler = model, optimizer, scheduler
        self.config = config or TrainConfig(steps=1)
        self.config.validate()
        if self.config.lr_schedule is not None and scheduler is not None:
            raise ValueError(f"give a scheduler or config.lr_schedule ({self.config.lr_schedule!r}), "
                             "not both")
        weights = self.config.class_weights
        if weights is not None and len(weights) != model.output_size:
            raise ValueError(f"class_weights has {len(weights)} weights, the model predicts "
                             f"{model.output_size} classes")
        self.sample_prime = [0] if sample_prime is None else [int(i) for i in sample_prime]
        if decode is None and vocab is not None:
            decode = lambda ids: "".join(vocab[i] for i in ids)  # noqa: E731
        self.decode = decode
        self.callbacks = list(callbacks or [])
        self.vocab = vocab
        if meta is not None and (not isinstance(meta, dict) or {"model", "train"} & set(meta)):
            raise ValueError("meta must be a dict without the keys 'model' and 'train' (the trainer "
                             f"writes those), got {meta!r:.200}")
        self.meta = dict(meta or {})
        self.loss_fn = LOSSES[self.config.loss]
        self._metric_scheduler = bool(getattr(scheduler, "on_metric", False))
        self.rng = np.random.default_rng(self.config.seed)
        self.history = History()
        self.step = 0
        self.epoch = 0
        self.elapsed = 0.0  # seconds of training in this run, over every fit that continued it
        self.hidden = None  # carried state (streams)
        self.perm: np.ndarray | None = None  # this epoch's sample order (SequenceData)
        self.cursor = 0  # next batch (or window) within the epoch
        self.best_val: float | None = None
        self.best_params: dict[str, np.ndarray] | None = None
        self.bad_evals = 0
        self.rollbacks = 0
        self.should_stop = False
        self.stop_reason: str | None = None
        self._run_log = RunLog(None)
        self._reports = Reports(None, self.config.report_seconds)
        self._session_start = time.perf_counter()
        self._elapsed_before = 0.0  # self.elapsed when this fit began
        self._snapshot: dict | None = None
        self._last_finite_loss: float | None = None

    # -- public ------------------------------------------------------------------------------
    def fit(self, train, val=None, resume: str | os.PathLike | None = None, *,
            lr: float | None = None) -> History:
        """Train on ``train`` (SequenceData or TokenStream), validating on ``val``; returns the history.

        ``resume``: a checkpoint written by :meth:`save` (``last.npz``) to continue from; the run then
        goes on exactly as if it had never stopped, and the log keeps only the records up to it. A
        run already at its total of steps raises ValueError.

        ``lr``: the learning rate from this fit's first step on: the optimizer's, or with a
        schedule that has a ``base_lr``, the schedule's base rate (the rate in force scaled
        alike). On a run under way (resumed, or fitted before) a rate that differs from the one in
        force is a change: an ``{"event": "lr", "from": ..., "to": ...}`` record goes to the log
        and an "lr" event to the callbacks. None keeps the run's rate.

        ``config.time_limit`` (seconds) ends this fit at the end of the first step that finishes
        after that long (its validation and checkpoints done as usual, then ``last.npz``), with
        ``stop_reason`` "time_limit"; resuming from that file continues exactly.
        """
        cfg = self.config
        if not isinstance(train, (SequenceData, TokenStream)):
            raise ValueError(f"train must be SequenceData or TokenStream, got {type(train).__name__}")
        if cfg.class_weights is not None and isinstance(train, TokenStream):
            raise ValueError("class_weights weigh the classes of SequenceData targets; a TokenStream is "
                             "trained on every next token alike")
        if val is not None and type(val) is not type(train):
            raise ValueError(f"val must be the same kind of data as train ({type(train).__name__}), "
                             f"got {type(val).__name__}")
        check_data(self.model, cfg.loss, train, "train", cfg.quantiles)
        if val is not None:
            check_data(self.model, cfg.loss, val, "val", cfg.quantiles)
        if lr is not None:
            lr = check_lr(lr)
        if cfg.sample_every is not None and not self.model.token_input:
            raise ValueError(f"sample_every={cfg.sample_every} samples tokens, and the model takes "
                             "dense inputs")
        steps_per_epoch = self._steps_per_epoch(train)
        total = cfg.steps if cfg.steps is not None else cfg.epochs * steps_per_epoch
        if cfg.lr_schedule is not None and self.scheduler is None:
            self.scheduler = LRSchedule(self.optimizer, cfg.lr_schedule, total, warmup=cfg.warmup,
                                        step_size=cfg.lr_step_size, gamma=cfg.lr_gamma,
                                        patience=cfg.lr_patience, min_lr=cfg.min_lr)
            self._metric_scheduler = False
        elif cfg.lr_schedule is not None:  # built by an earlier fit: it goes on to this fit's total
            self.scheduler.retarget(total)
        self.history.restored = None
        if resume is not None:
            self._restore(resume, train)
            if self.step >= total:
                raise ValueError(f"{resume} is at step {self.step} and the run is to take {total} in all: "
                                 "nothing is left to train; ask for a total above "
                                 f"{self.step} steps")
        if cfg.checkpoint_dir:
            os.makedirs(cfg.checkpoint_dir, exist_ok=True)
        self.model.train(True)
        self.should_stop = False
        self.stop_reason = None
        # a fresh run is at step 0; a resumed or continued one keeps its past records
        self._run_log = RunLog(cfg.log_path)
        self._run_log.open(keep_through=self.step)
        self._session_start, self._elapsed_before = time.perf_counter(), self.elapsed
        self._reports = Reports(cfg.report_every, cfg.report_seconds)
        self._emit("start", {"step": self.step, "total": total, "resumed": resume is not None})
        if lr is not None:
            self._set_lr(lr)
        self._take_snapshot()
        saved_step = None  # the step of the last periodic checkpoint
        bar = self._progress(total)
        try:
            while self.step < total and not self.should_stop:
                if self.cursor >= steps_per_epoch:
                    self.epoch += 1
                    self.cursor = 0
                    self.perm = None
                    self.hidden = None
                if self.cursor == 0 and isinstance(train, TokenStream):
                    self.hidden = None  # every epoch starts the streams from a zero state
                record = self._train_step(train)
                if record is None:  # rolled back
                    continue
                if cfg.time_limit is not None and record["elapsed"] - self._elapsed_before >= cfg.time_limit:
                    self.should_stop = True  # this step still validates and saves as usual
                    self.stop_reason = self.stop_reason or "time_limit"
                end_of_epoch = self.cursor >= steps_per_epoch
                validated = val is not None and bool((cfg.eval_every and self.step % cfg.eval_every == 0)
                                                     or (cfg.eval_every is None and end_of_epoch))
                if validated:
                    self._validate(val)
                if cfg.sample_every and self.step % cfg.sample_every == 0:
                    self._sample()
                if bar:
                    bar.update(1)
                    bar.set_postfix(bar_postfix(record, self.history.evals), refresh=False)
                if self.step % cfg.snapshot_every == 0:
                    self._take_snapshot()
                if cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0:
                    self.save(self._ckpt_path("last"))
                    saved_step = self.step
                if self._reports.due(self.step, validated) or self.step >= total or self.should_stop:
                    self._emit("report", self._reports.take(self, total, validated))
            if cfg.checkpoint_dir and saved_step != self.step:
                self.save(self._ckpt_path("last"))
            if self.stop_reason == "patience" and cfg.restore_best and (done := restore_best(self)):
                self.history.restored = done  # after last.npz, which holds the run as it stopped
                self._run_log.write(done)
        finally:
            if bar:
                bar.close()
            self._run_log.close()
        self.stop_reason = "completed" if self.step >= total else (self.stop_reason or "requested")
        self._emit("end", {"step": self.step, "total": total, "reason": self.stop_reason,
                           "elapsed": self.elapsed})
        return self.history

    def evaluate(self, data) -> float:
        """Mean loss per counted target on ``data`` in evaluation mode (no dropout, no update)."""
        if not isinstance(data, (SequenceData, TokenStream)):
            raise ValueError(f"data must be SequenceData or TokenStream, got {type(data).__name__}")
        was_training = self.model.training
        model = self.model.train(False)
        try:
            with np.errstate(**_QUIET_FP):
                return self._loss_sum(model, data)
        finally:
            model.train(was_training)

    def save(self, path) -> Path:
        """Write a checkpoint that resumes this run exactly."""
        extra = {
            "cursor": self.cursor,
            "best_val": self.best_val,
            "bad_evals": self.bad_evals,
            "rollbacks": self.rollbacks,
            "lr": self.optimizer.lr,
            "elapsed": self.elapsed,
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
            "evals": self.history.evals,
            "samples": self.history.samples,
            "perm": None if self.perm is None else [int(i) for i in self.perm],
            "best_params": self.best_params,
        }
        with naming(path):
            path = save_checkpoint(
                path,
                params=self.model.params,
                optimizer_state=self.optimizer.state_dict(),
                rng_state=self.rng.bit_generator.state,
                step=self.step,
                epoch=self.epoch,
                hidden=self.hidden,
                config={"model": self.model.config.to_dict(), "train": asdict(self.config), **self.meta},
                vocab=self.vocab,
                history=self.history.steps,
                extra=extra,
            )
        self._emit("checkpoint", {"step": self.step, "path": str(path)})
        return path

    # -- internals ---------------------------------------------------------------------------
    def _steps_per_epoch(self, data) -> int:
        if isinstance(data, TokenStream):
            return len(data)
        return math.ceil(data.size / self.config.batch_size)

    def _next_batch(self, data):
        """(x, y, mask, lengths, steps): the next batch and the steps it holds."""
        if isinstance(data, TokenStream):
            x, y = data.window_at(self.cursor)
            return x, y, None, None, x.size
        if self.perm is None:
            self.perm = self.rng.permutation(data.size)
        b = self.config.batch_size
        idx = self.perm[self.cursor * b : (self.cursor + 1) * b]
        x, y, m, lengths = data.batch(idx)
        steps = data.tokens_per_batch(len(idx)) if lengths is None else int(lengths.sum())
        return x, y, m, lengths, steps

    def _loss(self, out, y, m, reduction: str = "mean"):
        """The configured loss; a (T, b) step mask spreads over the outputs of mse and bce."""
        if m is not None and m.ndim < out.ndim and self.config.loss != "cross_entropy":
            m = m[..., None]  # (T, b, 1)
        if self.config.class_weights is not None:
            return self.loss_fn(out, y, reduction=reduction, mask=m, weight=self.config.class_weights)
        if self.config.quantiles is not None:
            return self.loss_fn(out, y, self.config.quantiles, reduction=reduction, mask=m)
        return self.loss_fn(out, y, reduction=reduction, mask=m)

    def _loss_sum(self, model: SequenceModel, data) -> float:
        """Summed loss over all of ``data`` divided by the number of counted targets."""
        if isinstance(data, TokenStream):
            total, count, hidden = 0.0, 0, None
            for x, y in data.windows:
                out, hidden, _ = model.forward(x, hidden)
                loss, _ = self._loss(out, y, None, reduction="sum")
                total, count = total + loss, count + y.size
            return total / count
        total, count = 0.0, 0
        for s in range(0, data.size, self.config.batch_size):
            idx = np.arange(s, min(s + self.config.batch_size, data.size))  # (b,)
            x, y, m, lengths = data.batch(idx)
            out, _, _ = model.forward(x, lengths=lengths)
            loss, _ = self._loss(out, y, m, reduction="sum")
            total += loss
            # counted targets: positions (cross-entropy) or elements (mse, bce), as "mean" counts them;
            # with class weights, the positions' total weight
            if self.config.class_weights is not None:  # targets that do not count may hold anything
                w = np.asarray(self.config.class_weights)[y if m is None else np.where(m, y, 0)]  # (...)
                count += float(w.sum() if m is None else w[m].sum())
            else:
                count += y.size if m is None else int(np.count_nonzero(m)) * (y.size // m.size)
        if count == 0:
            raise ValueError("every target of the data has class weight 0 (class_weights): its loss is "
                             "undefined")
        return total / count

    def _train_step(self, data) -> dict | None:
        cfg, model = self.config, self.model
        t0 = time.perf_counter()
        x, y, m, lengths, n_tokens = self._next_batch(data)
        with np.errstate(**_QUIET_FP):
            out, h_n, cache = model.forward(x, self.hidden, rng=self.rng, lengths=lengths)
            loss, dout = self._loss(out, y, m)
            _, _, grads = model.backward(dout, None, cache, truncate=cfg.truncate)
            norm = global_norm(grads)
            if not (math.isfinite(loss) and math.isfinite(norm)):
                what = "loss" if not math.isfinite(loss) else "gradient norm"
                if cfg.on_nonfinite == "rollback" and self.rollbacks < cfg.max_rollbacks and self._snapshot:
                    self._rollback()
                    return None
                raise TrainingDiverged(self.step + 1, self._last_finite_loss, what)
            clipped = False
            if cfg.clip_value is not None:
                clipped |= clip_by_value(grads, -cfg.clip_value, cfg.clip_value) > 0
            if cfg.clip_norm is not None:
                # the norm after value clipping decides whether the norm clip scales
                seen = clip_grad_norm(grads, cfg.clip_norm, norm=None if cfg.clip_value is not None else norm)
                clipped |= seen > cfg.clip_norm
            lr = self.optimizer.lr
            self.optimizer.step(grads)
        if self.scheduler is not None and not self._metric_scheduler:
            self.scheduler.step()
        self.hidden = h_n if isinstance(data, TokenStream) else None
        self.step += 1
        self.cursor += 1
        self._last_finite_loss = loss
        now = time.perf_counter()
        dt = max(now - t0, MIN_SECONDS)
        self.elapsed = self._elapsed_before + (now - self._session_start)
        speed_key, amount = ("tokens_per_s", n_tokens) if model.token_input else ("samples_per_s", x.shape[1])
        record = {
            "step": self.step,
            "epoch": self.epoch,
            "loss": float(loss),
            "grad_norm": float(norm),
            "clipped": bool(clipped),
            "lr": float(lr),
            "seconds": dt,
            speed_key: amount / dt,
            "elapsed": self.elapsed,
        }
        self.history.steps.append(record)
        self._reports.add(record)
        self._run_log.write(record)
        self._emit("step", record)
        return record

    def _validate(self, val) -> None:
        v = float(self.evaluate(val))
        improved = judge(self, v)
        record = {"step": self.step, "epoch": self.epoch, "val_loss": v, "best": improved}
        self.history.evals.append(record)
        self._run_log.write(record)
        if self.scheduler is not None and self._metric_scheduler:
            self.scheduler.step(v)
        elif hasattr(self.scheduler, "report"):  # an LRSchedule: "plateau" reads it
            self.scheduler.report(v)
        if improved and self.config.checkpoint_dir:
            self.save(self._ckpt_path("best"))  # after the record, so the file holds its own evaluation
        self._emit("eval", record)
        if patience_spent(self):
            self.should_stop = True
            self.stop_reason = self.stop_reason or "patience"

    def _sample(self) -> None:
        cfg = self.config
        with np.errstate(**_QUIET_FP):
            record = training_sample(self.model, self.sample_prime, cfg.sample_length, cfg.seed, self.step,
                                     self.decode)
        self.history.samples.append(record)
        self._run_log.write(record)
        self._emit("sample", record)

    def _take_snapshot(self) -> None:
        self._snapshot = take_snapshot(self)

    def _rollback(self) -> None:
        """Restore the last snapshot and lower the learning rate in force by ``ROLLBACK_FACTOR``."""
        # the rate that failed, not the snapshot's: repeated rollbacks keep lowering it
        lr = self.optimizer.lr * ROLLBACK_FACTOR
        base_lr = getattr(self.scheduler, "base_lr", None)
        restore_snapshot(self, self._snapshot)
        if self.scheduler is not None and base_lr is not None:
            self.scheduler.base_lr = base_lr * ROLLBACK_FACTOR
        if self._run_log.is_open:  # the log forgets the undone steps too
            self._run_log.open(keep_through=self.step)
        self._reports.forget()
        self.rollbacks += 1
        self.optimizer.lr = lr
        self._emit("rollback", {"step": self.step, "lr": self.optimizer.lr, "rollbacks": self.rollbacks})

    def _restore(self, path, train) -> None:
        restore_run(self, path, train)  # checks every entry it reads back (scratchrnn.resume)
        if self._last_finite_loss is None and self.history.steps:
            self._last_finite_loss = self.history.steps[-1]["loss"]

    def _ckpt_path(self, name: str) -> Path:
        return Path(self.config.checkpoint_dir) / f"{name}.npz"

    def _set_lr(self, lr: float) -> None:
        """Go on at rate ``lr`` (a schedule's base rate, the rate in force scaled alike); on a run
        under way a different rate is logged and emitted as a change."""
        before = float(self.optimizer.lr)
        base = getattr(self.scheduler, "base_lr", None)
        if base:
            self.optimizer.lr = before * (lr / base)  # where the schedule is, at the new scale
            self.scheduler.base_lr = lr
        else:
            self.optimizer.lr = lr
        after = float(self.optimizer.lr)
        if (self.step > 0 or self.history.steps) and after != before:
            record = {"step": self.step, "event": "lr", "from": before, "to": after}
            self._run_log.write(record)
            self._emit("lr", record)

    def _emit(self, event: str, record: dict) -> None:
        for cb in self.callbacks:
            cb(event, self, record)

    def _progress(self, total: int):
        show = self.config.progress
        if show is None:
            show = sys.stderr.isatty()
        if not show:
            return None
        from tqdm import tqdm

        return tqdm(total=total, initial=self.step, file=sys.stderr, unit="step", dynamic_ncols=True)
