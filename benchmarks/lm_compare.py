"""Validation loss after equal training wall time: a character LSTM trained by scratchrnn and by PyTorch.

Not part of ``make bench`` (its name does not start with ``bench_``): with the defaults it trains each
library for 10 minutes. Run: ``python benchmarks/lm_compare.py [--minutes M] [--hidden H] [--layers L]
[--batch B] [--window W] [--lr LR] [--threads N] [--seed S] [--evals K] [--order interleaved|sequential]
[--only scratchrnn|torch]``.

Data, identical on both sides: the shipped corpus (``scratchrnn.data.load_corpus``), the character
vocabulary of the whole corpus sorted by code point (``CharVocab``), the last ``floor(n / 10)``
characters held out, the first 90% cut into B parallel streams read in consecutive windows of W steps
(one ``scratchrnn.train.TokenStream``, which both sides read window by window in the same order), the
hidden state carried from window to window with no gradient across the boundary and reset to zero at
the start of every pass over the data (epoch).

Model, identical initial weights: one-hot input (V = 76) -> LSTM, L layers of H units -> Linear(H, V),
float32, built by ``scratchrnn.nn.SequenceModel`` from the seed and exported with
``scratchrnn.io.to_torch`` before either side trains. Loss: mean next-character cross-entropy over
the B * W predictions of a window; Adam (betas 0.9, 0.999, eps 1e-8) at rate ``lr``; gradients
clipped to global L2 norm 5.

scratchrnn trains through ``CharLM.fit``, the call that ``scratchrnn train`` makes (the command
line has no time limit option): ``fit(first 90% of the corpus, steps=<no limit>, batch_size=B,
window=W, lr=lr, optimizer="adam", clip_norm=5, val_fraction=0)`` on a CharLM whose ``vocab`` is the
whole corpus's and whose ``model`` is the one exported to PyTorch, with a step callback that sets
``trainer.should_stop`` when the budget is used up. Its training stream is the one ``scratchrnn train``
builds with ``--val-fraction 0.1`` on the whole corpus. PyTorch trains the exported
``TorchSequenceModel`` (``torch.nn.LSTM`` + ``torch.nn.Linear``) with ``F.cross_entropy``,
``torch.optim.Adam`` (same hyperparameters), ``torch.nn.utils.clip_grad_norm_`` and the hidden state
detached between windows. Both use the same thread count (``common.setup_threads``: OpenBLAS for
numpy, ``torch.set_num_threads`` for PyTorch).

Budget: each library gets ``--minutes`` of training wall time. The clock of a library starts when it
begins (``fit`` is called, which encodes the text in about 0.1 s / the optimizer is made), runs
through every training step and the library's own per-step bookkeeping, and is paused while the
benchmark evaluates. A library stops after
the step during which its clock passed the budget, so both overshoot by at most one step; the table
gives the time each really spent.

Evaluation, at the start and whenever a library's clock passes k/K of the budget (k = 1..K, K =
``--evals``), in evaluation mode, outside the budget, the same way on both sides:

* held-out stream: the whole held-out text as one stream, state carried from the first character to
  the last, every character after the first predicted; mean loss in nats and in bits per character
  (nats / ln 2). On the scratchrnn side this is ``CharLM.evaluate(held_out_text)``.
* streams: the layout ``scratchrnn train`` validates on (the held-out ids cut into
  ``min(B, n_val // (W + 1))`` streams read in windows of W with carried state; ``Trainer.evaluate``
  on the scratchrnn side; 32 streams of 3,200 characters with the defaults), so the last column is
  the number the command line prints.

Order: ``interleaved`` (default) cuts each library's budget into the K slices between evaluations and
alternates: scratchrnn's slice 1, PyTorch's slice 1, scratchrnn's slice 2, ... PyTorch's slices run
inside scratchrnn's step callback with scratchrnn's clock paused, so neither run is restarted (weights,
Adam state, carried state and stream position stay as they are). On a machine shared with other jobs
the load changes over minutes; alternating every budget / K keeps a burst of load from falling on one
library only. ``sequential`` trains scratchrnn for its whole budget, then PyTorch.

Checks before training (the run stops unless they hold): the loss of the first training window from
the shared initial weights agrees within 1e-4 between the libraries, and so do the gradients of that
step (largest absolute difference). After training, the loss each library recorded for its first step
is compared too, and the first steps' losses are listed so that their slow drift apart (float32
rounding in a different order) can be seen.

Results: a table of every evaluation and a summary, written with machine info and all settings to
``benchmarks/results/lm_compare.json``; runs with settings other than the defaults write
``lm_compare.custom.json``, runs of one library ``... .partial.json``.
"""

from __future__ import annotations

import argparse
import math
import os
import time
from dataclasses import asdict, dataclass, replace

import numpy as np

from common import (
    THREADS_ENV,
    machine_info,
    print_table,
    result_name,
    setup_threads,
    torch_mkldnn_info,
    write_json,
)
from scratchrnn.data import CharVocab, load_corpus
from scratchrnn.io import to_torch
from scratchrnn.lm import CharLM
from scratchrnn.losses import cross_entropy
from scratchrnn.nn.model import ModelConfig, SequenceModel
from scratchrnn.optim import make_optimizer
from scratchrnn.train import TokenStream, Trainer

NAME = "lm_compare"
LIBRARIES = ("scratchrnn", "torch")
ORDERS = ("interleaved", "sequential")
STEP_CAP = 10**12  # fit() needs a step count; the budget callback ends training long before this
CHECK_ATOL = 1e-4  # first-step loss and gradients must agree this closely
DRIFT_STEPS = 10  # first training steps whose losses are compared after the run
EVAL_CHUNK = 4096  # characters per PyTorch forward pass over the held-out stream (state carried)


@dataclass(frozen=True)
class Settings:
    """What is trained and for how long; the model and training defaults are ``scratchrnn train``'s."""

    minutes: float = 10.0  # training wall time per library
    cell: str = "lstm"
    hidden: int = 256
    layers: int = 2
    batch: int = 32  # parallel streams
    window: int = 100  # steps per truncated-BPTT window
    lr: float = 2e-3  # Adam
    clip_norm: float = 5.0  # global gradient norm
    val_fraction: float = 0.1  # the held-out end of the corpus
    seed: int = 0  # initial weights
    dtype: str = "float32"
    evals: int = 5  # evaluations after the start, at k/evals of the budget
    order: str = "interleaved"

    def model_config(self, vocab_size: int) -> ModelConfig:
        """The model both libraries train: one-hot input, no dropout, a head at every step."""
        return ModelConfig(cell=self.cell, vocab_size=vocab_size, embedding_dim=None, hidden_size=self.hidden,
                           num_layers=self.layers, dropout=0.0, dtype=self.dtype)


# -- data ------------------------------------------------------------------------------------------
@dataclass
class Data:
    """The corpus split the way ``scratchrnn train`` splits it."""

    vocab: CharVocab
    train_text: str  # the first n - n_val characters
    held_out_text: str  # the last n_val characters
    train: TokenStream  # the training layout (S, B) read in windows of W
    held_out_ids: np.ndarray  # (n_val,)
    val: TokenStream  # the layout the command line validates on


def prepare_data(s: Settings) -> Data:
    """Vocabulary, split and stream layouts of the shipped corpus for settings ``s``."""
    text = load_corpus()
    vocab = CharVocab.from_text(text)
    ids = vocab.encode(text)  # (n,)
    n = ids.shape[0]
    n_val = int(n * s.val_fraction)
    train_ids, held_out_ids = ids[: n - n_val], ids[n - n_val :]  # (n - n_val,), (n_val,)
    # the same rule as CharLM.fit's validation stream: fewer, shorter streams only for a short tail
    val_batch = max(1, min(s.batch, n_val // (s.window + 1)))
    val_window = min(s.window, n_val // val_batch - 1)
    return Data(vocab=vocab, train_text=text[: n - n_val], held_out_text=text[n - n_val :],
                train=TokenStream(train_ids, s.batch, s.window), held_out_ids=held_out_ids,
                val=TokenStream(held_out_ids, val_batch, val_window))


# -- clocks and evaluation points --------------------------------------------------------------------
class Clock:
    """Training wall time: counts between ``resume()`` and ``pause()`` (``time.perf_counter``)."""

    def __init__(self):
        self._spent, self._since = 0.0, None

    def resume(self) -> None:
        if self._since is None:
            self._since = time.perf_counter()

    def pause(self) -> None:
        if self._since is not None:
            self._spent += time.perf_counter() - self._since
            self._since = None

    def spent(self) -> float:
        running = 0.0 if self._since is None else time.perf_counter() - self._since
        return self._spent + running


class Marks:
    """The evaluation points k/K of the budget (k = 1..K) one library has passed."""

    def __init__(self, budget_s: float, count: int):
        self.times = [budget_s * k / count for k in range(1, count + 1)]
        self.passed = 0

    @property
    def done(self) -> bool:
        return self.passed == len(self.times)

    def cross(self, spent: float) -> int | None:
        """The highest point newly passed at ``spent`` seconds (1-based), or None."""
        before = self.passed
        while self.passed < len(self.times) and spent >= self.times[self.passed]:
            self.passed += 1
        return self.passed if self.passed > before else None


def _bits(nats: float) -> float:
    return nats / math.log(2.0)


class Side:
    """One library's run: its clock, its evaluation points, and what it recorded."""

    name = ""

    def __init__(self, data: Data, s: Settings):
        self.data, self.s = data, s
        self.clock = Clock()
        self.marks = Marks(60.0 * s.minutes, s.evals)
        self.steps = 0
        self.losses: list[float] = []  # training loss of every step
        self.step_seconds: list[float] = []  # wall time of every step's forward, backward and update
        self.evals: list[dict] = []
        self._slice_start = 0  # index into losses where the current slice began

    def losses_eval(self) -> tuple[float, float]:  # pragma: no cover - each library has its own
        raise NotImplementedError

    def record_eval(self, mark: int) -> dict:
        """Evaluate now (the clock must be paused) and append a record for evaluation point ``mark``."""
        t0 = time.perf_counter()
        full, layout = self.losses_eval()
        spent = self.clock.spent()
        tokens = self.steps * self.data.train.batch_size * self.data.train.window
        recent = self.losses[self._slice_start :]
        self._slice_start = len(self.losses)
        record = {
            "mark": mark,
            "of": self.s.evals,
            "train_seconds": spent,
            "steps": self.steps,
            "tokens": tokens,
            "tokens_per_s": tokens / spent if spent > 0 else None,
            "train_loss_slice_mean": float(np.mean(recent)) if recent else None,
            "val_loss": full,
            "val_bpc": _bits(full),
            "val_loss_streams": layout,
            "val_bpc_streams": _bits(layout),
            "eval_seconds": time.perf_counter() - t0,
            "loadavg_1min": os.getloadavg()[0],
        }
        self.evals.append(record)
        print(f"  [{self.name}] {mark}/{self.s.evals}: {spent:7.1f} s, step {self.steps}, "
              f"val {record['val_bpc']:.4f} bpc ({self.data.val.batch_size} streams "
              f"{record['val_bpc_streams']:.4f}), "
              f"eval {record['eval_seconds']:.1f} s", flush=True)
        return record

    def summary(self) -> dict:
        last = self.evals[-1]
        ms = 1e3 * np.asarray(self.step_seconds) if self.step_seconds else np.full(1, np.nan)  # (steps,)
        q1, med, q3 = np.percentile(ms, [25, 50, 75])
        return {
            "steps": self.steps,
            "train_seconds": last["train_seconds"],
            "tokens": last["tokens"],
            "tokens_per_s": last["tokens_per_s"],
            "epochs": self.steps / len(self.data.train),
            "step_ms_median": float(med),
            "step_ms_iqr": float(q3 - q1),
            "final_val_loss": last["val_loss"],
            "final_val_bpc": last["val_bpc"],
            "final_val_loss_streams": last["val_loss_streams"],
            "final_val_bpc_streams": last["val_bpc_streams"],
            "evals": self.evals,
            "step_losses": [round(v, 6) for v in self.losses],
        }


# -- scratchrnn ------------------------------------------------------------------------------------
class ScratchSide(Side):
    """scratchrnn through ``CharLM.fit``, stopped by a step callback when the budget is used up."""

    name = "scratchrnn"

    def __init__(self, data: Data, s: Settings):
        super().__init__(data, s)
        self.lm = CharLM(cell=s.cell, hidden_size=s.hidden, num_layers=s.layers, embedding_dim=None,
                         dropout=0.0, seed=s.seed, dtype=s.dtype)
        # Set before fit, which then keeps them: the model can be exported before it trains.
        self.lm.vocab = data.vocab
        self.lm.model = SequenceModel(s.model_config(len(data.vocab)), rng=s.seed)
        # Only its evaluate() is used: the validation the command line reports, on the same model.
        self.evaluator = Trainer(self.lm.model, make_optimizer("sgd", self.lm.model.params, lr=s.lr))

    def losses_eval(self) -> tuple[float, float]:
        full = self.lm.evaluate(self.data.held_out_text)["loss"]
        return full, float(self.evaluator.evaluate(self.data.val))

    def train(self, on_mark) -> None:
        """Train until every evaluation point is passed; ``on_mark(side, k)`` runs at each, clock paused."""
        s = self.s

        def callback(event, trainer, record):
            if event != "step":
                return
            self.steps = record["step"]
            self.losses.append(record["loss"])
            self.step_seconds.append(record["seconds"])
            k = self.marks.cross(self.clock.spent())
            if k is None:
                return
            self.clock.pause()
            on_mark(self, k)
            if self.marks.done:
                trainer.should_stop = True
            else:
                self.clock.resume()

        self.clock.resume()
        try:
            self.lm.fit(self.data.train_text, steps=STEP_CAP, batch_size=s.batch, window=s.window, lr=s.lr,
                        optimizer="adam", clip_norm=s.clip_norm, val_fraction=0.0, progress=False,
                        callbacks=[callback])
        finally:
            self.clock.pause()


# -- PyTorch ---------------------------------------------------------------------------------------
class TorchSide(Side):
    """The exported model trained by a plain PyTorch loop over the same windows in the same order."""

    name = "torch"

    def __init__(self, data: Data, s: Settings, scratch_model: SequenceModel):
        import torch

        super().__init__(data, s)
        self.torch = torch
        self.model = to_torch(scratch_model).train(True)  # the same initial weights
        self.vocab_size = len(data.vocab)
        self.opt = None  # made when training starts, on the clock
        self.cursor = 0  # next window within the epoch
        self.hidden = None

    def _loss(self, logits, y):
        return self.torch.nn.functional.cross_entropy(logits.reshape(-1, self.vocab_size), y.reshape(-1))

    def losses_eval(self) -> tuple[float, float]:
        torch, F = self.torch, self.torch.nn.functional
        self.model.eval()
        try:
            with torch.no_grad():
                ids = torch.from_numpy(self.data.held_out_ids)  # (n_val,)
                total, h = 0.0, None
                for start in range(0, ids.shape[0] - 1, EVAL_CHUNK):
                    y = ids[start + 1 : start + EVAL_CHUNK + 1]  # (c,) next characters
                    x = ids[start : start + y.shape[0]]  # (c,)
                    logits, h = self.model(x[:, None], h)  # (c, 1, V)
                    total += F.cross_entropy(logits[:, 0].double(), y, reduction="sum").item()
                full = total / (ids.shape[0] - 1)
                total, count, h = 0.0, 0, None
                for i in range(len(self.data.val)):
                    x, y = (torch.from_numpy(a) for a in self.data.val.window_at(i))  # (w, b) each
                    logits, h = self.model(x, h)  # (w, b, V)
                    total += F.cross_entropy(logits.reshape(-1, self.vocab_size), y.reshape(-1),
                                             reduction="sum").item()
                    count += y.numel()
                return full, total / count
        finally:
            self.model.train(True)

    def _step(self) -> None:
        torch = self.torch
        t0 = time.perf_counter()
        if self.cursor >= len(self.streams_windows):
            self.cursor = 0
        if self.cursor == 0:
            self.hidden = None  # every epoch starts the streams from a zero state, as the Trainer does
        x, y = self.streams_windows[self.cursor]
        logits, h = self.model(x, self.hidden)  # (W, B, V)
        loss = self._loss(logits, y)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.params, self.s.clip_norm)
        self.opt.step()
        self.hidden = tuple(t.detach() for t in h)
        self.cursor += 1
        self.steps += 1
        self.losses.append(loss.item())
        self.step_seconds.append(time.perf_counter() - t0)

    def train(self, until: int, on_mark) -> None:
        """Train until evaluation point ``until`` (1-based) is passed; ``on_mark(side, k)`` runs at each."""
        torch = self.torch
        self.clock.resume()
        if self.opt is None:
            self.params = list(self.model.parameters())
            self.opt = torch.optim.Adam(self.params, lr=self.s.lr, betas=(0.9, 0.999), eps=1e-8)
            streams = torch.from_numpy(self.data.train.streams)  # (S, B), shares the TokenStream's ids
            W = self.data.train.window
            self.streams_windows = [(streams[i * W : (i + 1) * W], streams[i * W + 1 : (i + 1) * W + 1])
                                    for i in range(len(self.data.train))]
        try:
            while self.marks.passed < until:
                self._step()
                k = self.marks.cross(self.clock.spent())
                if k is not None:
                    self.clock.pause()
                    on_mark(self, k)
                    self.clock.resume()
        finally:
            self.clock.pause()


# -- checks ----------------------------------------------------------------------------------------
def check_first_step(model: SequenceModel, tmodel, data: Data) -> dict:
    """Loss and gradients of the first training window from the shared weights, in both libraries."""
    import torch

    x, y = data.train.window_at(0)  # (W, B) each
    out, _, cache = model.forward(x)  # (W, B, V)
    loss, dout = cross_entropy(out, y)
    _, _, grads = model.backward(dout, None, cache)
    logits, _ = tmodel(torch.from_numpy(x))  # (W, B, V)
    targets = torch.from_numpy(y).reshape(-1)  # (W * B,)
    tloss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets)
    tmodel.zero_grad(set_to_none=True)
    tloss.backward()
    tgrads = {k: p.grad.numpy() for k, p in tmodel.named_parameters()}
    if set(tgrads) != set(grads):
        raise RuntimeError(f"parameter names differ: {sorted(set(tgrads) ^ set(grads))}")
    grad_diff = max(float(np.max(np.abs(grads[k] - tgrads[k]))) for k in grads)
    tmodel.zero_grad(set_to_none=True)
    loss_diff = abs(float(loss) - tloss.item())
    if not loss_diff <= CHECK_ATOL:
        raise RuntimeError(f"first-step losses differ by {loss_diff:.2e} > {CHECK_ATOL}: "
                           f"scratchrnn {float(loss):.6f}, torch {tloss.item():.6f}")
    if not grad_diff <= CHECK_ATOL:
        raise RuntimeError(f"first-step gradients differ by up to {grad_diff:.2e} > {CHECK_ATOL}")
    return {"first_step_loss_scratchrnn": float(loss), "first_step_loss_torch": tloss.item(),
            "first_step_loss_abs_diff": loss_diff, "first_step_grad_max_abs_diff": grad_diff,
            "atol": CHECK_ATOL}


# -- table -----------------------------------------------------------------------------------------
def headers(data: Data) -> tuple[str, ...]:
    return ("at", "library", "train s", "steps", "tok/s", "train loss", "val nats", "val bpc",
            f"val bpc ({data.val.batch_size} streams)")


def _fmt(v, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def table_rows(sides: list[Side]) -> list[tuple[str, ...]]:
    rows = []
    for mark in range(0, sides[0].s.evals + 1):
        for side in sides:
            for r in (r for r in side.evals if r["mark"] == mark):
                rows.append((f"{mark}/{r['of']}", side.name, f"{r['train_seconds']:.1f}", str(r["steps"]),
                             _fmt(r["tokens_per_s"], ",.0f"), _fmt(r["train_loss_slice_mean"], ".4f"),
                             f"{r['val_loss']:.4f}", f"{r['val_bpc']:.4f}", f"{r['val_bpc_streams']:.4f}"))
    return rows


# -- main ------------------------------------------------------------------------------------------
def parse_args(argv):
    d = Settings()
    p = argparse.ArgumentParser(prog=NAME, description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=d.minutes, help=f"training wall time per library "
                   f"(default {d.minutes:g})")
    p.add_argument("--hidden", type=int, default=d.hidden, help=f"units per layer (default {d.hidden})")
    p.add_argument("--layers", type=int, default=d.layers, help=f"LSTM layers (default {d.layers})")
    p.add_argument("--batch", type=int, default=d.batch, help=f"parallel streams (default {d.batch})")
    p.add_argument("--window", type=int, default=d.window, help=f"steps per window (default {d.window})")
    p.add_argument("--lr", type=float, default=d.lr, help=f"Adam learning rate (default {d.lr:g})")
    p.add_argument("--threads", type=int, default=None,
                   help=f"threads for both libraries (default: ${THREADS_ENV}, else every core)")
    p.add_argument("--seed", type=int, default=d.seed, help=f"initial weights (default {d.seed})")
    p.add_argument("--evals", type=int, default=d.evals,
                   help=f"evaluations after the start, at k/EVALS of the budget (default {d.evals})")
    p.add_argument("--order", choices=ORDERS, default=d.order,
                   help="alternate the libraries slice by slice (default) or train one after the other")
    p.add_argument("--only", choices=LIBRARIES, default=None, help="train one library only")
    args = p.parse_args(argv)
    for flag, v in (("--hidden", args.hidden), ("--layers", args.layers), ("--batch", args.batch),
                    ("--window", args.window), ("--evals", args.evals)):
        if v < 1:
            p.error(f"{flag} must be a positive integer, got {v}")
    if args.threads is not None and args.threads < 1:
        p.error(f"--threads must be a positive integer, got {args.threads}")
    if not args.minutes > 0:
        p.error(f"--minutes must be a positive number, got {args.minutes}")
    if not args.lr > 0:
        p.error(f"--lr must be a positive number, got {args.lr}")
    if args.seed < 0:
        p.error(f"--seed must be an integer >= 0, got {args.seed}")
    return args


def main(argv=None) -> dict:
    """Train both libraries for the same wall time, print the table, write the JSON."""
    args = parse_args(argv)
    if args.threads is not None:
        os.environ[THREADS_ENV] = str(args.threads)  # read once by setup_threads, for both libraries
    threads = setup_threads()
    s = replace(Settings(), minutes=args.minutes, hidden=args.hidden, layers=args.layers, batch=args.batch,
                window=args.window, lr=args.lr, seed=args.seed, evals=args.evals, order=args.order)
    started = time.time()
    data = prepare_data(s)
    scratch = ScratchSide(data, s)
    tside = TorchSide(data, s, scratch.lm.model)
    check = check_first_step(scratch.lm.model, tside.model, data)
    sides = [side for side in (scratch, tside) if args.only in (None, side.name)]
    mkldnn = torch_mkldnn_info()
    print(f"{NAME}: {s.layers}-layer {s.cell.upper()} H={s.hidden}, one-hot V={len(data.vocab)}, "
          f"batch {s.batch} x window {s.window}, Adam lr {s.lr:g}, clip {s.clip_norm:g}, {s.dtype}, "
          f"{threads['threads']} threads, {s.minutes:g} min per library, {s.order}; "
          f"first-step loss {check['first_step_loss_scratchrnn']:.6f} (diff "
          f"{check['first_step_loss_abs_diff']:.1e}, grads {check['first_step_grad_max_abs_diff']:.1e})",
          flush=True)
    for side in sides:
        side.record_eval(0)

    interleave = s.order == "interleaved" and len(sides) == 2

    def on_mark(side: Side, k: int) -> None:
        side.record_eval(k)
        if interleave and side is scratch:
            tside.train(k, on_mark)

    if scratch in sides:
        scratch.train(on_mark)
    if tside in sides and not tside.marks.done:
        tside.train(s.evals, on_mark)

    title = (f"{NAME}: validation loss on the held-out {s.val_fraction:.0%} ({data.held_out_ids.shape[0]:,} "
             f"characters) after equal training time; train loss = mean over the steps since the row above")
    print_table(headers(data), table_rows(sides), title=title)
    results = {side.name: side.summary() for side in sides}
    summary: dict = {}
    if len(sides) == 2:
        a, b = results["scratchrnn"], results["torch"]
        first = min(DRIFT_STEPS, len(scratch.losses), len(tside.losses))
        summary = {
            "val_bpc_torch_minus_scratchrnn": b["final_val_bpc"] - a["final_val_bpc"],
            "val_bpc_streams_torch_minus_scratchrnn": b["final_val_bpc_streams"] - a["final_val_bpc_streams"],
            "torch_reached_no_lower_loss": b["final_val_loss"] >= a["final_val_loss"],
            "steps_ratio_scratchrnn_over_torch": a["steps"] / b["steps"] if b["steps"] else None,
            "initial_val_loss_abs_diff": abs(scratch.evals[0]["val_loss"] - tside.evals[0]["val_loss"]),
            "first_training_step_loss_abs_diff": abs(scratch.losses[0] - tside.losses[0]) if first else None,
            "first_steps_losses": {"scratchrnn": scratch.losses[:first], "torch": tside.losses[:first]},
        }
        verdict = "no lower" if summary["torch_reached_no_lower_loss"] else "a LOWER"
        print(f"final: scratchrnn {a['final_val_bpc']:.4f} bpc after {a['steps']} steps "
              f"({a['tokens_per_s']:,.0f} tok/s, median step {a['step_ms_median']:.0f} ms), torch "
              f"{b['final_val_bpc']:.4f} bpc after {b['steps']} steps ({b['tokens_per_s']:,.0f} tok/s, "
              f"median step {b['step_ms_median']:.0f} ms): torch - scratchrnn = "
              f"{summary['val_bpc_torch_minus_scratchrnn']:+.4f} bpc, torch reached {verdict} loss. "
              f"Initial val losses differ by {summary['initial_val_loss_abs_diff']:.1e}, first "
              f"training steps' losses by {_fmt(summary['first_training_step_loss_abs_diff'], '.1e')}.")
    payload = {
        "benchmark": NAME,
        "started_unix": started,
        "settings": asdict(s),
        "corpus": {
            "characters": len(data.train_text) + len(data.held_out_text),
            "vocab_size": len(data.vocab),
            "train_characters": len(data.train_text),
            "held_out_characters": len(data.held_out_text),
            "windows_per_epoch": len(data.train),
            "val_streams": data.val.batch_size,
            "val_window": data.val.window,
            "val_predictions_streams": len(data.val) * data.val.window * data.val.batch_size,
        },
        "parameters": scratch.lm.model.num_parameters(),
        "model_config": s.model_config(len(data.vocab)).to_dict(),
        "torch_mkldnn": mkldnn,
        "machine": machine_info(),
        "check": check,
        "columns": list(headers(data)),
        "results": results,
        "summary": summary,
    }
    custom = replace(s, order=Settings().order) != Settings()
    path = write_json(result_name(NAME, quick=False, partial=args.only is not None,
                                  variant="custom" if custom else None), payload)
    print(f"wrote {path}")
    return payload


if __name__ == "__main__":
    main()
