"""The language-model commands of the command line: ``train``, ``sample`` and ``eval``.

``train`` writes into a run folder (:mod:`scratchrnn.runs`): a new ``runs/train-LEVEL-TIME``
(``-2``, ``-3``, ... when the name is taken) or ``--out``. SIGINT or SIGTERM during training lets
the current step finish, writes ``last.npz`` and the log, prints the command that resumes the run
and exits with 130 or 143; before the first step nothing is saved and the run leaves nothing
behind. A run that fails keeps its checkpoints, and without one removes what it made.
``--time-limit`` ends a run the same way at the end of the step that passes it, and writes
``model.npz`` too. ``--resume`` and ``--init-from`` take their settings from a file
(:mod:`scratchrnn.cli_resume`).

When no progress bar is shown (stderr is not a terminal, or ``--no-progress``), the trainer's
"report" events become log lines on stderr, every ``--log-every`` steps (default: every 30
seconds) and at each validation::

    step 200/1000  loss 1.9502  val 1.9876 (best)  41,200 tokens/s  lr 0.002  elapsed 0:01:23

The closing lines on stdout say what was trained, how it did, each file written and where, and
for a run that stopped early the command that continues it.

Problems are raised (ValueError, OSError, ...) for ``cli.main`` to report as one line.
"""

from __future__ import annotations

import argparse
import math
import signal
import sys
from pathlib import Path

from .cli_args import (
    embedding_size,
    factor,
    folded_name,
    fraction,
    layer_count,
    minutes,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    probability,
    probability_mass,
    size,
    token_count,
    token_text,
)
from .cli_io import output_file, writing
from .recipe import TRAIN_RECIPE
from .runs import SIGNAL_GUARD, Interrupted, RunFolder, resume_command
from .unknown import UNKNOWN, preview

__all__ = ["DEFAULT_TRAIN_STEPS", "DEFAULT_VAL_TOKENS", "EVALS_PER_RUN", "add_commands", "add_run_options",
           "add_training_options", "cmd_eval", "cmd_sample", "cmd_train", "report_line", "training_options",
           "warn_about_options"]

DEFAULT_TRAIN_STEPS = 1000  # optimizer steps when neither --steps nor --epochs is given
EVALS_PER_RUN = 10  # validations in a step-limited run when --eval-every is not given
EPOCH_RUN_CHECKPOINT_EVERY = 100  # steps between saves of last.npz when validation follows epochs
RUN_FILES = ("log.jsonl", "last.npz", "best.npz", "model.npz")  # what a training run writes
# Validation reads the first 10,000 held-out tokens, three default steps' worth (batch 32 x window
# 100) run forward only, where the whole held-out tenth of the shipped corpus would make ten
# validations most of a short run (benchmarks/README.md, "Validation cost").
DEFAULT_VAL_TOKENS = 10_000


def read_input_text(path: str | None, encoding: str) -> tuple[str, str]:
    """(text, where it came from): the file read strictly, or the shipped corpus."""
    from .data.text import load_corpus, read_text

    if path is None:
        return load_corpus(), "the shipped Shakespeare corpus"
    return read_text(path, encoding=encoding), path


def _train_schedule(args: argparse.Namespace) -> None:
    """Fill in the step count, the validation and the checkpoint intervals the options left open."""
    if args.steps is None and args.epochs is None:
        args.steps = DEFAULT_TRAIN_STEPS
    if args.eval_every is None and args.steps is not None:
        args.eval_every = max(1, args.steps // EVALS_PER_RUN)  # a step-limited run may never end an epoch
    if args.checkpoint_every is None:
        args.checkpoint_every = args.eval_every or EPOCH_RUN_CHECKPOINT_EVERY


def _check_run_options(args: argparse.Namespace, typed: set[str]) -> None:
    """The combinations of the options that start, continue, limit and report a run (their ranges
    are checked as they are parsed, by their types)."""
    if args.steps is not None and args.epochs is not None:
        raise ValueError("give --steps or --epochs, not both")
    if args.resume is not None and args.init_from is not None:
        raise ValueError("give --resume (continue a run) or --init-from (start a new one from a model), "
                         "not both")
    if args.more_steps is not None:
        if args.resume is None:
            raise ValueError("--more-steps adds steps to a run that --resume continues; "
                             "a new run takes --steps")
        if "steps" in typed or "epochs" in typed:
            raise ValueError("give --steps (the run's total) or --more-steps (added to the checkpoint's "
                             "step), not both")
    if args.extend_vocab and args.init_from is None:
        rest = "a resumed run keeps its vocabulary" if args.resume else "give --init-from MODEL"
        raise ValueError(f"--extend-vocab adds the text's new tokens to the model of --init-from; {rest}")


class _Watch:
    """The trainer's events on the command line: a signal stops the run at the step's end, reports
    become log lines (when ``lines``), and the saved files and the way the run ended are noted."""

    def __init__(self, lines: bool, log_path):
        self.lines, self.log_path = lines, log_path
        self.saved: dict[str, int] = {}  # file name -> the step it was last saved at
        self.end: dict | None = None  # the "end" event's record

    @property
    def saved_step(self) -> int | None:
        return self.saved.get("last.npz")

    def __call__(self, event: str, trainer, record: dict) -> None:
        if event == "checkpoint":
            self.saved[Path(record["path"]).name] = record["step"]
        elif event == "report" and self.lines:
            print(report_line(record), file=sys.stderr, flush=True)
        elif event == "lr":
            print(f"scratchrnn: the learning rate goes from {record['from']:g} to {record['to']:g} at step "
                  f"{record['step'] + 1} (--lr), as logged in {self.log_path}", file=sys.stderr, flush=True)
        elif event == "start" and self.lines:
            folder = Path(self.log_path).parent
            line = (f"resuming {folder} at step {record['step']} of {record['total']}" if record["resumed"]
                    else f"training for {record['total']} steps, writing to {folder}")
            print(line, file=sys.stderr, flush=True)
        elif event == "sample" and self.lines:
            print(f"sample at step {record['step']}: {record['text']!r}", file=sys.stderr, flush=True)
        elif event == "end":
            self.end = record
        if SIGNAL_GUARD.received is not None and event != "start":
            trainer.should_stop = True  # the loop ends after this step's validation and checkpoint


def report_line(r: dict) -> str:
    """One log line of a trainer's "report": step, losses, speed, learning rate and time."""
    val = "val -" if r["val_loss"] is None else f"val {r['val_loss']:.4f}"
    if r["improved"]:
        val += " (best)"
    speed = r.get("tokens_per_s")
    return "  ".join([
        f"step {r['step']}/{r['total']}",
        "loss -" if r["loss"] is None else f"loss {r['loss']:.4f}",
        val,
        "- tokens/s" if speed is None else f"{speed:,.0f} tokens/s",
        f"lr {r['lr']:.3g}",
        f"elapsed {_clock(r['elapsed'])}",
    ])


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def cmd_train(args: argparse.Namespace) -> int:
    from .cli_resume import check_resumed_text, settle_init_from, settle_resume, typed_options
    from .lm import CharLM, WordLM

    typed = typed_options(args.parser, args.argv[args.argv.index("train") + 1:])
    _check_run_options(args, typed)
    if args.resume is None and args.init_from is None:  # a new model: its options are the command line's
        if args.num_layers == 1 and "dropout" not in typed:
            args.dropout = 0.0  # the recipe's dropout is between layers: a one-layer model has none
        warn_about_options(args)
    resumed = settle_resume(args, typed) if args.resume is not None else None  # reads the checkpoint
    if resumed is not None and resumed.complete:
        return _finish_complete_run(resumed)
    text, source = read_input_text(args.text, args.encoding)  # bad files fail before anything is written
    if resumed is not None:
        check_resumed_text(resumed, text, source)
    else:
        _train_schedule(args)
    if args.steps is not None and args.lr_schedule is not None and args.warmup >= args.steps:
        raise ValueError(f"--warmup {args.warmup} is not shorter than the run of {args.steps} steps "
                         "(--steps): the warmup must end before the run does")
    if args.init_from is not None:
        lm = settle_init_from(args, typed)  # before the folder is made: an unreadable model leaves nothing
        _prepare_fine_tuning(lm, args, typed, text, source)
    else:
        kwargs = dict(cell=args.cell, hidden_size=args.hidden_size, num_layers=args.num_layers,
                      embedding_dim=args.embedding_dim or None, dropout=args.dropout, seed=args.seed,
                      dtype=args.dtype, tie_weights=args.tie_weights)
        lm = CharLM(**kwargs) if args.level == "char" else WordLM(max_vocab=args.max_vocab, **kwargs)
    record = {"path": None if args.text is None else str(Path(args.text).resolve()),
              "encoding": args.encoding}
    if args.init_from is not None:
        record["init_from"] = str(Path(args.init_from).resolve())
    show_bar = not args.no_progress and sys.stderr.isatty()
    folder, watch = None, None
    try:
        with SIGNAL_GUARD.blocked():  # the folder is made and known here, so a signal cannot leave it behind
            folder = RunFolder.create(args.out, f"train-{args.level}")
            paths = {name: folder.claim(name) for name in RUN_FILES}
        watch = _Watch(lines=not show_bar and args.log_every != 0, log_path=paths["log.jsonl"])
        with SIGNAL_GUARD.deferred():
            lm.fit(text, steps=args.steps, epochs=args.epochs, batch_size=args.batch_size,
                   window=args.window, lr=args.lr if resumed is None or "lr" in typed else None,
                   optimizer=args.optimizer, clip_norm=args.clip_norm or None, val_fraction=args.val_fraction,
                   eval_every=args.eval_every, checkpoint_dir=str(folder.path),
                   checkpoint_every=args.checkpoint_every or None, resume=args.resume,
                   progress=show_bar, log_path=str(paths["log.jsonl"]), callbacks=[watch],
                   time_limit=None if args.time_limit is None else args.time_limit * 60.0,
                   report_every=args.log_every or None, extend_vocab=args.extend_vocab, source=record,
                   **training_options(args))
        if SIGNAL_GUARD.received is not None:
            _report_interrupt(args, paths, SIGNAL_GUARD.received, watch.saved_step)
            return 128 + SIGNAL_GUARD.received
        with writing(paths["model.npz"]):
            lm.save(paths["model.npz"])
    except Interrupted as exc:  # a second signal, or one after training: no step boundary to wait for
        if folder is not None and paths["last.npz"].exists():
            _report_interrupt(args, paths, exc.signum, None if watch is None else watch.saved_step)
        elif folder is not None:
            folder.discard()
        raise
    except BaseException:
        if folder is not None and not any(p.suffix == ".npz" for p in folder.made()):
            folder.discard()  # nothing worth keeping: leave no half-made run behind
        raise
    _report_trained(args, lm, source, paths, watch, resumed)
    return 0


def _finish_complete_run(resumed) -> int:
    """A resumed run already at its total: nothing to train, its final weights written from the
    checkpoint (where an interrupt after the last step left them unwritten)."""
    from .lm import load_language_model

    lm = load_language_model(resumed.path)
    model = resumed.folder / "model.npz"
    with writing(model):
        lm.save(model)
    print(f"the run in {resumed.folder} is complete at step {resumed.step}: nothing to train "
          "(--more-steps N trains it N steps further)")
    print(f"wrote {model}: the final weights (for sample, eval, export and --init-from)")
    return 0


def _prepare_fine_tuning(lm, args, typed: set[str], text: str, source: str) -> None:
    """The loaded model set up for a new run on ``text``: its seed, its vocabulary checked."""
    lm.seed = args.seed  # checked as it was parsed
    if lm.level == "word" and "max_vocab" in typed:
        lm.max_vocab = args.max_vocab
    missing = lm.unknown_tokens(text)
    if missing and lm.level == "char" and not args.extend_vocab:
        raise ValueError(f"{source} has {len(missing)} character(s) that the vocabulary of {args.init_from} "
                         f"({len(lm.vocab)} characters) lacks: {preview(missing)}; --extend-vocab adds them")


def _continue_command(args, paths: dict) -> str:
    options = [] if args.time_limit is None else ["--time-limit", f"{args.time_limit:g}"]
    return resume_command("scratchrnn", paths["last.npz"], text=args.text if args.text else None,
                          options=options)


def _report_interrupt(args, paths: dict, signum: int, step: int | None) -> None:
    name = signal.Signals(signum).name
    at = "" if step is None else f" at step {step}"
    print(f"scratchrnn: {name}{at}: saved {paths['last.npz']} and {paths['log.jsonl']}; "
          f"resume with: {_continue_command(args, paths)}", file=sys.stderr)


def _report_trained(args, lm, source: str, paths: dict, watch: _Watch, resumed) -> None:
    """The closing lines: what was trained, how it did, what was written where, how to go on."""
    h, end = lm.history, watch.end
    first = 1 if resumed is None else resumed.step + 1
    print(f"trained a {args.level}-level {args.cell.upper()} on {source}: steps {first}-{end['step']} of "
          f"{end['total']}, last training loss {h.steps[-1]['loss']:.4f}")
    if end["reason"] == "time_limit":
        print(f"stopped at the time limit of {args.time_limit:g} minutes after step {end['step']}")
    elif end["reason"] != "completed":
        print(f"stopped early ({end['reason']}) after step {end['step']}")
    if h.restored is not None:
        print(f"restored the weights of the best validation, at step {h.restored['best_step']} (loss "
              f"{h.restored['val_loss']:.4f}), as model.npz; last.npz holds the run as it stopped")
    if h.evals:
        best = min(h.evals, key=lambda r: r["val_loss"])
        line = (f"validation loss {h.evals[-1]['val_loss']:.4f} nats/token "
                f"(best {best['val_loss']:.4f} at step {best['step']})")
        if args.level == "char":
            line += f", {h.evals[-1]['val_loss'] / math.log(2):.4f} bits/char"
        print(line)
    print(f"wrote {paths['model.npz']}: the final weights (for sample, eval, export and --init-from)")
    if "last.npz" in watch.saved:
        print(f"wrote {paths['last.npz']}: the run at step {watch.saved['last.npz']}, for --resume")
    if "best.npz" in watch.saved:
        print(f"wrote {paths['best.npz']}: the weights of the best validation, at step "
              f"{watch.saved['best.npz']}")
    elif h.evals and paths["best.npz"].exists():
        print(f"kept {paths['best.npz']}: no validation of this session bettered it")
    elif not h.evals:
        why = "--val-fraction is 0" if not args.val_fraction else "the run ended before its first one"
        print(f"no validation ran ({why}), so no best.npz was written")
    print(f"wrote {paths['log.jsonl']}: a record per step and validation")
    if end["reason"] != "completed":
        print(f"continue with: {_continue_command(args, paths)}")


def cmd_sample(args: argparse.Namespace) -> int:
    from .lm import load_language_model

    if args.beam is not None:  # before loading anything
        given = [flag for flag, used in (("--temperature", args.temperature != 1.0),
                                         ("--top-k", args.top_k is not None),
                                         ("--top-p", args.top_p is not None)) if used]
        if given:
            listed = " or ".join(filter(None, [", ".join(given[:-1]), given[-1]]))
            raise ValueError(f"--beam takes no {listed}: beam search is deterministic")
    elif args.eos is not None:
        raise ValueError("--eos needs --beam: only beam search stops at an end token")
    lm = load_language_model(args.model)

    started = False

    def emit(piece: str) -> None:
        nonlocal started
        if not started:  # the prime is echoed only once sampling is under way (a bad prime prints nothing)
            started = True
            sys.stdout.write(args.prime)
        sys.stdout.write(piece)
        sys.stdout.flush()

    lm.sample(args.length, prime=args.prime, temperature=args.temperature, top_k=args.top_k,
              top_p=args.top_p, seed=args.seed, beam=args.beam, allow_unknown=args.allow_unknown,
              on_text=emit, eos=args.eos)
    emit("\n")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    """Score a text; with ``--per-token -`` stdout holds only the JSON lines, all else goes to stderr."""
    import json

    from .lm import load_language_model

    lm = load_language_model(args.model)
    text, source = read_input_text(args.text, args.encoding)
    if not args.per_token:
        res = lm.evaluate(text, unknown=args.unknown)
    elif args.per_token == "-":
        res = lm.evaluate(text, lambda row: sys.stdout.write(json.dumps(row) + "\n"), args.unknown)
    else:
        with output_file(args.per_token) as f:
            res = lm.evaluate(text, lambda row: f.write(json.dumps(row) + "\n"), args.unknown)
    report = sys.stderr if args.per_token == "-" else sys.stdout
    if res.get("skipped"):
        n = res["skipped"]
        print(f"skipped {n} character{'s' if n != 1 else ''} not in the vocabulary: "
              f"{preview(res['skipped_tokens'])}", file=report)
    line = f"{source}: {res['tokens']} tokens, loss {res['loss']:.4f} nats/token"
    line += f", perplexity {res['perplexity']:.3f}"
    if "bits_per_char" in res:
        line += f", {res['bits_per_char']:.4f} bits/char"
    print(line, file=report)
    if args.per_token and args.per_token != "-":
        print(f"wrote {args.per_token}")
    return 0


def warn_about_options(args: argparse.Namespace) -> None:
    """One line on stderr for an option that would do nothing (as PyTorch warns about dropout)."""
    if args.dropout and args.num_layers == 1:
        print(f"scratchrnn: warning: --dropout {args.dropout:g} does nothing with --num-layers 1: dropout "
              "applies only between recurrent layers", file=sys.stderr)


TRAIN_DESCRIPTION = """\
Train a character- or word-level language model on a text file (default: the shipped
Shakespeare). The text is cut into --batch-size parallel streams read in windows of --window
tokens, the hidden state carried from window to window (truncated BPTT); the held-out end of the
text (--val-fraction) is scored at each validation.

Output goes to --out or a new folder runs/train-LEVEL-YYYYmmdd-HHMMSS (-2, -3, ... if taken):
model.npz (the final weights), last.npz (the latest checkpoint), best.npz (the best validation)
and log.jsonl (one record per step). When stderr is not a terminal, a log line reports the run
every --log-every steps and at each validation. Ctrl-C, SIGTERM or --time-limit finishes the
current step, saves last.npz and log.jsonl, and prints the command that resumes the run (exit
status 130 or 143 for a signal).

--resume continues a run in its own folder and log, with the architecture, settings and text its
checkpoint holds (an option that contradicts them is an error); --steps stays the run's total,
--more-steps adds to it, --lr changes the rate. --init-from starts a new run from a trained
model's weights (fine-tuning), with its architecture.
"""
TRAIN_EPILOG = """\
examples:
  scratchrnn train corpus.txt --steps 2000
  scratchrnn train corpus.txt --level word --max-vocab 10000 --embedding-dim 128
  scratchrnn train corpus.txt --out runs/mine --time-limit 10
  scratchrnn train --resume runs/mine/last.npz --more-steps 1000 --lr 1e-3
  scratchrnn train other.txt --init-from runs/mine/model.npz --extend-vocab --steps 500
"""


def add_run_options(p: argparse.ArgumentParser) -> None:
    """The options of how a training run reports, stops, goes on and starts from a model."""
    p.add_argument("--log-every", type=non_negative_int, metavar="N",
                   help="when stderr is not a terminal (or with --no-progress), a log line every N steps and "
                   "at every validation: step, loss, validation loss, tokens/s, learning rate, elapsed time "
                   "(default: a line every 30 seconds; 0: none)")
    p.add_argument("--time-limit", type=minutes, metavar="MINUTES",
                   help="stop at the end of the step that passes this many minutes of training, with "
                   "last.npz, model.npz and the log written, and print the command that continues the run "
                   "(default: no limit)")
    p.add_argument("--more-steps", type=positive_int, metavar="N",
                   help="with --resume: train N steps beyond the checkpoint's (where --steps is the total)")
    p.add_argument("--init-from", metavar="MODEL",
                   help="fine-tune: start from the weights of MODEL (a model.npz, best.npz or last.npz) with "
                   "a new optimizer, in a new run folder; the architecture options are the model's")
    p.add_argument("--extend-vocab", action="store_true",
                   help="with --init-from: add the text's characters (or words) that the model's vocabulary "
                   "lacks, new rows initialised as a new model's (without it, new characters are an error)")


def add_training_options(p: argparse.ArgumentParser) -> None:
    """The options of how ``train`` trains: schedule, clipping, decay, tying, validation, samples."""
    from .optim import SCHEDULES

    p.add_argument("--lr-schedule", choices=SCHEDULES, default="constant",
                   help="the learning rate over the run: constant; step (times --lr-gamma every "
                   "--lr-step-size steps); cosine (down to --min-lr at the last step); plateau (times "
                   "--lr-gamma after --lr-patience validations without improvement) (default constant)")
    p.add_argument("--warmup", type=non_negative_int, default=0, metavar="N",
                   help="ramp the rate linearly over the first N steps, step n at lr * n / N; shorter than "
                   "the run (default 0)")
    p.add_argument("--lr-step-size", type=positive_int, metavar="N",
                   help="--lr-schedule step: steps between reductions (default: the steps after the warmup "
                   "in 4 equal parts)")
    p.add_argument("--lr-gamma", type=factor, default=0.5,
                   help="--lr-schedule step and plateau: the factor of each reduction, in (0, 1) "
                   "(default 0.5)")
    p.add_argument("--lr-patience", type=non_negative_int, default=2, metavar="N",
                   help="--lr-schedule plateau: validations without improvement tolerated (default 2)")
    p.add_argument("--min-lr", type=non_negative_float, default=0.0,
                   help="--lr-schedule cosine: the final rate; plateau: the floor (default 0.0)")
    p.add_argument("--clip-value", type=positive_float, metavar="V",
                   help="clip every gradient entry to [-V, V], before --clip-norm (default: no value clip)")
    p.add_argument("--weight-decay", type=non_negative_float, metavar="W",
                   help="weight decay of the optimizer (L2 for sgd, momentum, adagrad, rmsprop, adam; "
                   "decoupled for adamw; the rprops have none) (default: the optimizer's, 0.01 for adamw, "
                   "else 0)")
    p.add_argument("--tie-weights", action="store_true",
                   help="share one matrix between the input embedding and the output layer; needs "
                   "--embedding-dim equal to --hidden-size")
    p.add_argument("--val-tokens", type=token_count, default=DEFAULT_VAL_TOKENS, metavar="N",
                   help="validate on the first N tokens of the held-out text, so that validations stay "
                   f"cheap in short runs (default {DEFAULT_VAL_TOKENS}; 0: all of it)")
    p.add_argument("--patience", type=positive_int, metavar="N",
                   help="stop after N validations without a new best and keep the best weights in model.npz "
                   "(default: no early stopping)")
    p.add_argument("--sample-every", type=positive_int, metavar="N",
                   help="every N steps, a sample of --sample-length tokens in log.jsonl (and a log line), "
                   "drawn apart from the training's random numbers (default: none)")
    p.add_argument("--sample-length", type=positive_int, default=100, metavar="N",
                   help="tokens per --sample-every sample (default 100)")


def training_options(args: argparse.Namespace) -> dict:
    """The keyword arguments of ``LanguageModel.fit`` that ``add_training_options`` set (each value
    checked by its option's type as it was parsed)."""
    if args.warmup and args.lr_schedule is None:
        raise ValueError(f"--warmup {args.warmup} ramps the rate of a schedule, and the run has none")
    return dict(lr_schedule=args.lr_schedule, warmup=args.warmup, lr_step_size=args.lr_step_size,
                lr_gamma=args.lr_gamma, lr_patience=args.lr_patience, min_lr=args.min_lr,
                clip_value=args.clip_value, weight_decay=args.weight_decay,
                val_tokens=args.val_tokens or None,
                patience=args.patience, sample_every=args.sample_every, sample_length=args.sample_length)


def add_commands(sub) -> None:
    """The train, sample and eval subcommands, added to ``sub`` (argparse's subparsers)."""
    from .optim import OPTIMIZERS

    p = sub.add_parser("train", help="train a character- or word-level language model on a text file",
                       description=TRAIN_DESCRIPTION, epilog=TRAIN_EPILOG)
    p.add_argument(
        "text", metavar="TEXT_FILE", nargs="?", help="UTF-8 text (default: the shipped Shakespeare)"
    )
    p.add_argument("--level", choices=("char", "word"), default="char",
                   help="tokens: characters, or lower-cased words and punctuation")
    p.add_argument("--encoding", metavar="NAME", default="utf-8", help="the text file's encoding")
    model, fit = TRAIN_RECIPE["model"], TRAIN_RECIPE["fit"]  # the default recipe (recipe.py)
    p.add_argument("--cell", choices=("rnn", "lstm", "gru"), default=model["cell"], help="recurrent cell")
    p.add_argument("--hidden-size", metavar="N", type=size, default=model["hidden_size"],
                   help="hidden units per layer")
    p.add_argument("--num-layers", metavar="N", type=layer_count, default=model["num_layers"],
                   help="stacked recurrent layers")
    p.add_argument("--embedding-dim", metavar="N", type=embedding_size, default=model["embedding_dim"],
                   help="learned embedding size; 0 for one-hot input (no embedding)")
    p.add_argument("--dropout", metavar="P", type=probability, default=model["dropout"],
                   help="dropout between recurrent layers, so with --num-layers 1 it does nothing "
                   "(typed, a warning says so; untyped, it is then 0)")
    p.add_argument("--max-vocab", metavar="N", type=size,
                   help="word level: keep the most frequent words, the rest become the unknown token "
                   "(default: every word)")
    p.add_argument("--optimizer", type=folded_name, choices=OPTIMIZERS, default=fit["optimizer"],
                   help="momentum is SGD with momentum 0.9; plain-rprop is the tutorials' Rprop, "
                   "--lr its first step")
    p.add_argument("--lr", type=positive_float, default=fit["lr"],
                   help="learning rate (on --resume the run's own unless given: then changed and logged)")
    p.add_argument("--clip-norm", metavar="NORM", type=non_negative_float, default=fit["clip_norm"],
                   help="clip the gradients to this global norm; 0 for no clipping")
    p.add_argument("--window", metavar="N", type=size, default=fit["window"],
                   help="time steps per training window, the truncation of BPTT")
    p.add_argument("--batch-size", metavar="N", type=size, default=fit["batch_size"], help="parallel streams")
    p.add_argument("--steps", metavar="N", type=positive_int,
                   help="optimizer steps in all, counting those a resumed run has done (default: "
                   f"{DEFAULT_TRAIN_STEPS} unless --epochs; on --resume, the run's own)")
    p.add_argument("--epochs", metavar="N", type=positive_int,
                   help="passes over the text (default: count steps)")
    p.add_argument("--val-fraction", metavar="F", type=fraction, default=0.1,
                   help="the share of the text held out at its end for validation; 0 for none")
    p.add_argument("--eval-every", metavar="N", type=positive_int,
                   help=f"steps between validations (default: {EVALS_PER_RUN} per run, or each epoch)")
    p.add_argument("--checkpoint-every", metavar="N", type=non_negative_int,
                   help=f"steps between saves of last.npz (default: at each validation, or every "
                   f"{EPOCH_RUN_CHECKPOINT_EVERY} steps when validating each epoch; 0: only at the end)")
    p.add_argument("--seed", type=non_negative_int, metavar="N", default=0,
                   help="seed of the weights, the batch order and the dropout masks")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32",
                   help="floating-point type of the weights")
    p.add_argument("--out", metavar="FOLDER", help="output folder (default: a new runs/train-LEVEL-TIME)")
    p.add_argument("--resume", metavar="LAST_NPZ",
                   help="continue exactly from the last.npz of an earlier run, in its folder and log; "
                   "options not given are the run's, and --lr changes its rate; model.npz holds no "
                   "optimizer state and is refused")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (log lines instead)")
    add_run_options(p)
    add_training_options(p)
    p.also_named(report_every="log_every")  # lm.fit's name of --log-every
    p.set_defaults(func=cmd_train, parser=p)

    p = sub.add_parser(
        "sample", help="generate text from a trained language model (streamed to stdout)",
        description="Generate text from a model trained by scratchrnn train and stream it to stdout, "
        "the prime first. Each token is drawn from softmax(logits / temperature), restricted to the "
        "--top-k most likely tokens and to the --top-p nucleus; --beam instead searches for the most "
        "likely continuation. The same --seed gives the same text.",
        epilog="examples:\n"
        "  scratchrnn sample runs/train-char-TIME/model.npz --prime \"ROMEO:\" --temperature 0.8 --seed 1\n"
        "  scratchrnn sample runs/train-word-TIME/model.npz --length 50 --beam 4",
    )
    p.add_argument("model", metavar="MODEL", help="model.npz, last.npz or best.npz from scratchrnn train")
    p.add_argument("--length", metavar="N", type=positive_int, default=300,
                   help="tokens to generate (characters, or words and sentence ends)")
    p.add_argument("--prime", metavar="TEXT", default="",
                   help="text to start from (default: a new line or sentence)")
    p.add_argument("--temperature", metavar="T", type=non_negative_float, default=1.0,
                   help="softmax(logits / T): below 1 sharper, above 1 flatter, 0 greedy")
    p.add_argument("--top-k", metavar="K", type=size,
                   help="sample among the k most likely tokens (default: all)")
    p.add_argument("--top-p", metavar="P", type=probability_mass,
                   help="sample among the most likely tokens holding probability p (default: all)")
    p.add_argument("--beam", metavar="N", type=size,
                   help="beam search of this width for the most likely continuation (default: sample)")
    p.add_argument("--eos", metavar="TOKEN", type=token_text,
                   help="with --beam: stop the continuation at this token, a character (\\n for a line "
                        "break, \\t for a tab) or a word (SENTENCE_END for a sentence's end)")
    p.add_argument("--seed", type=non_negative_int, metavar="N",
                   help="random seed, same seed same text (default: fresh randomness)")
    p.add_argument("--allow-unknown", action="store_true",
                   help="word level: let the unknown-word token appear in the text (it never does "
                   "otherwise)")
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser(
        "eval", help="loss, perplexity and bits per character of a model on a text file",
        description="Score a text with a trained model in one pass, the state carried through it: "
        "the loss in nats per predicted token, the perplexity and, for characters, bits per "
        "character. --per-token writes each token's log-probability as JSON lines.",
        epilog="examples:\n"
        "  scratchrnn eval runs/train-char-TIME/model.npz held_out.txt\n"
        "  scratchrnn eval MODEL held_out.txt --unknown skip --per-token - > tokens.jsonl",
    )
    p.add_argument("model", metavar="MODEL", help="model.npz, last.npz or best.npz from scratchrnn train")
    p.add_argument("text", metavar="TEXT_FILE", help="the text to score")
    p.add_argument("--encoding", metavar="NAME", default="utf-8", help="the text file's encoding")
    p.add_argument("--unknown", choices=UNKNOWN, default="error",
                   help="characters outside the model's vocabulary: an error naming them, or skipped "
                   "and counted; words outside it are always read as the unknown-word token")
    p.add_argument(
        "--per-token", metavar="FILE",
        help="write each token's log-probability as JSON lines ('-': to stdout, everything else to stderr)",
    )
    p.set_defaults(func=cmd_eval)
