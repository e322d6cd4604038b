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

from .cli_io import output_file, writing
from .runs import SIGNAL_GUARD, Interrupted, RunFolder, resume_command

__all__ = ["DEFAULT_TRAIN_STEPS", "EVALS_PER_RUN", "add_commands", "cmd_eval", "cmd_sample", "cmd_train"]

DEFAULT_TRAIN_STEPS = 1000  # optimizer steps when neither --steps nor --epochs is given
EVALS_PER_RUN = 10  # validations in a step-limited run when --eval-every is not given
EPOCH_RUN_CHECKPOINT_EVERY = 100  # steps between saves of last.npz when validation follows epochs
RUN_FILES = ("log.jsonl", "last.npz", "best.npz", "model.npz")  # what a training run writes


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
    elif args.checkpoint_every < 0:
        raise ValueError(f"--checkpoint-every must be >= 0 (0: only at the end), got {args.checkpoint_every}")


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
    from .sample import check_sampling_options

    check_sampling_options(args.temperature, args.top_k, args.top_p)  # before loading anything
    if args.length <= 0:
        raise ValueError(f"--length must be positive, got {args.length}")
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
              top_p=args.top_p, seed=args.seed, beam=args.beam, on_text=emit)
    emit("\n")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    import json

    from .lm import load_language_model

    lm = load_language_model(args.model)
    text, source = read_input_text(args.text, args.encoding)
    if not args.per_token:
        res = lm.evaluate(text)
    elif args.per_token == "-":  # stdout holds only the JSON lines; the summary goes to stderr
        res = lm.evaluate(text, on_token=lambda row: sys.stdout.write(json.dumps(row) + "\n"))
    else:
        with output_file(args.per_token) as f:
            res = lm.evaluate(text, on_token=lambda row: f.write(json.dumps(row) + "\n"))
    line = f"{source}: {res['tokens']} tokens, loss {res['loss']:.4f} nats/token"
    line += f", perplexity {res['perplexity']:.3f}"
    if "bits_per_char" in res:
        line += f", {res['bits_per_char']:.4f} bits/char"
    print(line, file=sys.stderr if args.per_token == "-" else sys.stdout)
    if args.per_token and args.per_token != "-":
        print(f"wrote {args.per_token}")
    return 0


def add_commands(sub) -> None:
    """The train, sample and eval subcommands, added to ``sub`` (argparse's subparsers)."""
    p = sub.add_parser("train", help="train a character- or word-level language model on a text file",
                       description="Train a language model. Output goes to a new folder "
                       "runs/train-LEVEL-YYYYmmdd-HHMMSS (-2, -3, ... if taken) or --out. Ctrl-C or "
                       "SIGTERM finishes the current step, saves last.npz and log.jsonl, and prints "
                       "the command that resumes the run (exit status 130 or 143).")
    p.add_argument(
        "text", metavar="TEXT_FILE", nargs="?", help="UTF-8 text (default: the shipped Shakespeare)"
    )
    p.add_argument("--level", choices=("char", "word"), default="char")
    p.add_argument("--encoding", default="utf-8", help="the text file's encoding (default utf-8)")
    p.add_argument("--cell", choices=("rnn", "lstm", "gru"), default="lstm")
    p.add_argument("--hidden-size", type=int, default=256)
    p.add_argument("--num-layers", type=int, default=2)
    p.add_argument("--embedding-dim", type=int, help="learned embedding size (default: one-hot input)")
    p.add_argument("--dropout", type=float, default=0.0, help="dropout between recurrent layers")
    p.add_argument("--max-vocab", type=int, help="word level: keep the most frequent words")
    p.add_argument("--optimizer", default="adam", help="sgd, momentum, adagrad, rmsprop, adam, adamw, rprop")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--clip-norm", type=float, default=5.0, help="global gradient-norm clip (0: none)")
    p.add_argument("--window", type=int, default=100, help="steps per training window (truncated BPTT)")
    p.add_argument("--batch-size", type=int, default=32, help="parallel streams")
    p.add_argument("--steps", type=int, help="optimizer steps (default 1000 unless --epochs)")
    p.add_argument("--epochs", type=int, help="passes over the text")
    p.add_argument("--val-fraction", type=float, default=0.1, help="held-out end of the text")
    p.add_argument(
        "--eval-every", type=int, help="steps between validations (default: 10 per run, or each epoch)"
    )
    p.add_argument("--checkpoint-every", type=int,
                   help=f"steps between saves of last.npz (default: at each validation, or every "
                   f"{EPOCH_RUN_CHECKPOINT_EVERY} steps when validating each epoch; 0: only at the end)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    p.add_argument("--out", help="output folder (default: a new runs/train-LEVEL-TIME)")
    p.add_argument("--resume", metavar="LAST_NPZ",
                   help="continue exactly from the last.npz of an earlier run (with the same options); "
                   "model.npz holds no optimizer state and is refused")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("sample", help="generate text from a trained language model (streamed to stdout)")
    p.add_argument("model", metavar="MODEL", help="model.npz, last.npz or best.npz from scratchrnn train")
    p.add_argument("--length", type=int, default=300, help="tokens to generate")
    p.add_argument("--prime", default="", help="text to start from")
    p.add_argument("--temperature", type=float, default=1.0, help="softmax(logits / T); 0 is greedy")
    p.add_argument("--top-k", type=int, help="sample among the k most likely tokens")
    p.add_argument("--top-p", type=float, help="sample among the most likely tokens holding probability p")
    p.add_argument("--beam", type=int, help="beam search of this width for the most likely continuation")
    p.add_argument("--seed", type=int, help="random seed (same seed, same text)")
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("eval", help="loss, perplexity and bits per character of a model on a text file")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("text", metavar="TEXT_FILE")
    p.add_argument("--encoding", default="utf-8")
    p.add_argument(
        "--per-token", metavar="FILE",
        help="write each token's log-probability as JSON lines ('-': to stdout, the summary to stderr)",
    )
    p.set_defaults(func=cmd_eval)
