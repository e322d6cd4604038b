"""The language-model commands of the command line: ``train``, ``sample`` and ``eval``.

``train`` writes into a run folder (:mod:`scratchrnn.runs`): a new ``runs/train-LEVEL-TIME``
(``-2``, ``-3``, ... when the name is taken) or ``--out``. SIGINT or SIGTERM during training lets
the current step finish, writes ``last.npz`` and the log, prints the command that resumes the run
and exits with 130 or 143; before the first step nothing is saved and the run leaves nothing
behind. A run that fails keeps its checkpoints, and without one removes what it made.

Problems are raised (ValueError, OSError, ...) for ``cli.main`` to report as one line.
"""

from __future__ import annotations

import argparse
import math
import signal
import sys

from .cli_args import (
    fraction,
    layer_count,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    probability,
    probability_mass,
    size,
)
from .cli_io import output_file, writing
from .runs import SIGNAL_GUARD, Interrupted, RunFolder, resume_command

__all__ = ["DEFAULT_TRAIN_STEPS", "EVALS_PER_RUN", "UNKNOWN_CHOICES", "add_commands", "cmd_eval",
           "cmd_sample", "cmd_train", "preview", "warn_about_options"]

DEFAULT_TRAIN_STEPS = 1000  # optimizer steps when neither --steps nor --epochs is given
EVALS_PER_RUN = 10  # validations in a step-limited run when --eval-every is not given
EPOCH_RUN_CHECKPOINT_EVERY = 100  # steps between saves of last.npz when validation follows epochs
RUN_FILES = ("log.jsonl", "last.npz", "best.npz", "model.npz")  # what a training run writes
UNKNOWN_CHOICES = ("error", "skip")  # eval --unknown, as LanguageModel.evaluate's unknown


def read_input_text(path: str | None, encoding: str) -> tuple[str, str]:
    """(text, where it came from): the file read strictly, or the shipped corpus."""
    from .data.text import load_corpus, read_text

    if path is None:
        return load_corpus(), "the shipped Shakespeare corpus"
    return read_text(path, encoding=encoding), path


def _train_schedule(args: argparse.Namespace) -> None:
    """Fill in the step count, the validation and the checkpoint intervals the options left open."""
    if args.steps is not None and args.epochs is not None:
        raise ValueError("give --steps or --epochs, not both")
    if args.steps is None and args.epochs is None:
        args.steps = DEFAULT_TRAIN_STEPS
    if args.eval_every is None and args.steps is not None:
        args.eval_every = max(1, args.steps // EVALS_PER_RUN)  # a step-limited run may never end an epoch
    if args.checkpoint_every is None:
        args.checkpoint_every = args.eval_every or EPOCH_RUN_CHECKPOINT_EVERY


class _Progress:
    """A callback that stops the trainer once a signal came, and remembers the last saved step."""

    def __init__(self):
        self.saved_step: int | None = None

    def __call__(self, event: str, trainer, record: dict) -> None:
        if event == "checkpoint" and record["path"].endswith("last.npz"):
            self.saved_step = record["step"]
        if SIGNAL_GUARD.received is not None:
            trainer.should_stop = True  # the loop ends after this step's validation and checkpoint


def cmd_train(args: argparse.Namespace) -> int:
    from .lm import CharLM, WordLM

    warn_about_options(args)
    text, source = read_input_text(args.text, args.encoding)  # bad files fail before anything is written
    _train_schedule(args)
    kwargs = dict(cell=args.cell, hidden_size=args.hidden_size, num_layers=args.num_layers,
                  embedding_dim=args.embedding_dim, dropout=args.dropout, seed=args.seed, dtype=args.dtype)
    lm = CharLM(**kwargs) if args.level == "char" else WordLM(max_vocab=args.max_vocab, **kwargs)
    folder, progress = None, _Progress()
    try:
        with SIGNAL_GUARD.blocked():  # the folder is made and known here, so a signal cannot leave it behind
            folder = RunFolder.create(args.out, f"train-{args.level}")
            paths = {name: folder.claim(name) for name in RUN_FILES}
        with SIGNAL_GUARD.deferred():
            lm.fit(text, steps=args.steps, epochs=args.epochs, batch_size=args.batch_size,
                   window=args.window, lr=args.lr, optimizer=args.optimizer,
                   clip_norm=args.clip_norm or None, val_fraction=args.val_fraction,
                   eval_every=args.eval_every, checkpoint_dir=str(folder.path),
                   checkpoint_every=args.checkpoint_every or None, resume=args.resume,
                   progress=None if not args.no_progress else False, log_path=str(paths["log.jsonl"]),
                   callbacks=[progress])
        if SIGNAL_GUARD.received is not None:
            _report_interrupt(args, folder, paths, SIGNAL_GUARD.received, progress.saved_step)
            return 128 + SIGNAL_GUARD.received
        with writing(paths["model.npz"]):
            model_path = lm.save(paths["model.npz"])
    except Interrupted as exc:  # a second signal, or one after training: no step boundary to wait for
        if folder is not None and paths["last.npz"].exists():
            _report_interrupt(args, folder, paths, exc.signum, progress.saved_step)
        elif folder is not None:
            folder.discard()
        raise
    except BaseException:
        if folder is not None and not any(p.suffix == ".npz" for p in folder.made()):
            folder.discard()  # nothing worth keeping: leave no half-made run behind
        raise
    _report_trained(args, lm, source, model_path, paths)
    return 0


def _report_interrupt(args, folder: RunFolder, paths: dict, signum: int, step: int | None) -> None:
    name = signal.Signals(signum).name
    at = "" if step is None else f" at step {step}"
    command = resume_command("scratchrnn", args.argv, folder.path, paths["last.npz"])
    print(f"scratchrnn: {name}{at}: saved {paths['last.npz']} and {paths['log.jsonl']}; "
          f"resume with: {command}", file=sys.stderr)


def _report_trained(args, lm, source: str, model_path, paths: dict) -> None:
    h = lm.history
    print(f"trained a {args.level}-level {args.cell.upper()} on {source}: {len(h.steps)} steps, "
          f"last training loss {h.steps[-1]['loss']:.4f}")
    if h.evals:
        best = min(r["val_loss"] for r in h.evals)
        line = f"validation loss {h.evals[-1]['val_loss']:.4f} nats/token (best {best:.4f})"
        if args.level == "char":
            line += f", {h.evals[-1]['val_loss'] / math.log(2):.4f} bits/char"
        print(line)
    written = [str(model_path)] + [str(paths[n]) for n in ("last.npz", "best.npz", "log.jsonl")
                                   if paths[n].exists()]
    print(f"wrote {', '.join(written[:-1])} and {written[-1]}")


def cmd_sample(args: argparse.Namespace) -> int:
    from .lm import load_language_model

    if args.beam is not None:  # before loading anything
        given = [flag for flag, used in (("--temperature", args.temperature != 1.0),
                                         ("--top-k", args.top_k is not None),
                                         ("--top-p", args.top_p is not None)) if used]
        if given:
            listed = " or ".join(filter(None, [", ".join(given[:-1]), given[-1]]))
            raise ValueError(f"--beam takes no {listed}: beam search is deterministic")
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
              on_text=emit)
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


def preview(items, limit: int = 5) -> str:
    """The first ``limit`` items as reprs, and how many there are in all when that is more."""
    items = list(items)
    shown = ", ".join(map(repr, items[:limit]))
    return shown + (f", ... ({len(items)} in all)" if len(items) > limit else "")


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
and log.jsonl (one record per step). Ctrl-C or SIGTERM finishes the current step, saves last.npz
and log.jsonl, and prints the command that resumes the run (exit status 130 or 143).
"""
TRAIN_EPILOG = """\
examples:
  scratchrnn train corpus.txt --steps 2000
  scratchrnn train corpus.txt --level word --max-vocab 10000 --embedding-dim 128
  scratchrnn train corpus.txt --out runs/mine --resume runs/mine/last.npz
"""


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
    p.add_argument("--cell", choices=("rnn", "lstm", "gru"), default="lstm", help="recurrent cell")
    p.add_argument("--hidden-size", metavar="N", type=size, default=256, help="hidden units per layer")
    p.add_argument("--num-layers", metavar="N", type=layer_count, default=2, help="stacked recurrent layers")
    p.add_argument("--embedding-dim", metavar="N", type=size,
                   help="learned embedding size (default: one-hot input)")
    p.add_argument("--dropout", metavar="P", type=probability, default=0.0,
                   help="dropout between recurrent layers, so with --num-layers 1 it does nothing "
                   "(a warning says so)")
    p.add_argument("--max-vocab", metavar="N", type=size,
                   help="word level: keep the most frequent words, the rest become the unknown token "
                   "(default: every word)")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default="adam",
                   help="momentum is SGD with momentum 0.9; plain-rprop is the tutorials' Rprop, "
                   "--lr its first step")
    p.add_argument("--lr", type=positive_float, default=2e-3, help="learning rate")
    p.add_argument("--clip-norm", metavar="NORM", type=non_negative_float, default=5.0,
                   help="clip the gradients to this global norm; 0 for no clipping")
    p.add_argument("--window", metavar="N", type=size, default=100,
                   help="time steps per training window, the truncation of BPTT")
    p.add_argument("--batch-size", metavar="N", type=size, default=32, help="parallel streams")
    p.add_argument("--steps", metavar="N", type=positive_int,
                   help=f"optimizer steps (default: {DEFAULT_TRAIN_STEPS} unless --epochs)")
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
                   help="continue exactly from the last.npz of an earlier run (with the same options); "
                   "model.npz holds no optimizer state and is refused")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)

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
    p.add_argument("--unknown", choices=UNKNOWN_CHOICES, default="error",
                   help="characters outside the model's vocabulary: an error naming them, or skipped "
                   "and counted; words outside it are always read as the unknown-word token")
    p.add_argument(
        "--per-token", metavar="FILE",
        help="write each token's log-probability as JSON lines ('-': to stdout, everything else to stderr)",
    )
    p.set_defaults(func=cmd_eval)
