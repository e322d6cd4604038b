"""Command-line front end: ``scratchrnn COMMAND [options]``. The only module that prints.

Errors a user can cause (bad input, missing files) are reported as one line on stderr with exit
status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["main"]


class UsageError(Exception):
    """A problem with what the user asked for; reported as one line, exit status 2."""


def _cmd_gradcheck(args: argparse.Namespace) -> int:
    from .gradcheck import run_matrix

    rows = run_matrix(quick=args.quick)
    worst_ok = True
    print(f"{'config':<58} {'parameter':<20} {'max rel err':>12}  ok")
    for row in rows:
        ok = row["ok"]
        worst_ok &= ok
        print(f"{row['config']:<58} {row['param']:<20} {row['rel_err']:>12.3e}  {'yes' if ok else 'NO'}")
    print(f"{len(rows)} checks, {sum(not r['ok'] for r in rows)} above tolerance")
    return 0 if worst_ok else 1


# -- tasks and demo ------------------------------------------------------------------------------
TASK_OPTIONS = {  # command-line option -> Config field it sets, where the task has that field
    "hidden_size": "hidden_size",
    "cell": "cell",
    "epochs": "epochs",
    "steps": "steps",
    "seed": "seed",
    "dtype": "dtype",
    "lr": "lr",
}


def _task_config(module, args: argparse.Namespace):
    """The task's Config (quick or default) with the options given on the command line applied."""
    import dataclasses

    cfg = module.Config.quick() if args.quick else module.Config()
    fields = {f.name for f in dataclasses.fields(cfg)}
    changes = {}
    for opt, field_name in TASK_OPTIONS.items():
        value = getattr(args, opt, None)
        if value is None:
            continue
        if field_name not in fields:
            flag = "--" + opt.replace("_", "-")
            raise UsageError(f"task {args.name} has no option {flag}")
        if isinstance(value, int) and not isinstance(value, bool) and opt != "seed" and value <= 0:
            raise UsageError(f"--{opt.replace('_', '-')} must be positive, got {value}")
        if opt == "seed" and value < 0:
            raise UsageError(f"--seed must be >= 0, got {value}")
        changes[field_name] = value
    return dataclasses.replace(cfg, **changes)


def _prepare_out_dir(path: str | None, default_name: str):
    """Create the output folder (default runs/<name>-<time>) and check it is writable, before any work."""
    import os
    import time
    from pathlib import Path

    out = Path(path) if path else Path("runs") / f"{default_name}-{time.strftime('%Y%m%d-%H%M%S')}"
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create output folder {out}: {exc.strerror or exc}") from None
    if not out.is_dir() or not os.access(out, os.W_OK | os.X_OK):
        raise UsageError(f"output folder {out} is not writable")
    return out


def _save_plots(result, out) -> list:
    from . import plot

    if not plot.matplotlib_available():
        return []
    return plot.save_task_plots(result, out)


def _write_json(path, obj) -> None:
    import json

    from .io import atomic_write_text

    atomic_write_text(path, json.dumps(obj, indent=2, default=_json_default) + "\n")


def _json_default(o):
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"cannot write {type(o).__name__} as JSON")


def _print_table(results) -> None:
    rows = [
        (r.name, r.tutorial, r.ours, r.target, f"{r.seconds:.1f}", "yes" if r.passed else "NO")
        for r in results
    ]
    head = ("system", "tutorial", "ours", "target", "seconds", "met")
    for i, row in enumerate([head, *rows]):
        print(" | ".join(row))
        if i == 0:
            print("-" * 100)


def _cmd_task(args: argparse.Namespace) -> int:
    from .tasks import get_task

    module = get_task(args.name)
    cfg = _task_config(module, args)
    out = _prepare_out_dir(args.out, args.name)
    result = module.run(cfg, progress=not args.no_progress) if _takes_progress(module) else module.run(cfg)
    text = {k: result.artifacts[k] for k in ("sentences", "greedy") if k in result.artifacts}
    _write_json(
        out / "result.json", {**result.summary(), "config": _asdict(cfg), "curves": result.curves, **text}
    )
    plots = _save_plots(result, out)
    _print_table([result])
    _print_text_artifacts(result)
    print(f"\nwrote {out / 'result.json'}" + (f" and {len(plots)} plots" if plots else ""))
    return 0 if result.passed else 1


def _print_text_artifacts(result) -> None:
    """A language model's greedy continuations and sampled sentences, when the task made any."""
    for g in result.artifacts.get("greedy", []):
        print(f"\n{result.name}: greedy after {g['prompt']!r}: {g['continuation']}")
    if result.artifacts.get("sentences"):
        print(f"\n{result.name}: sampled sentences")
        for sentence in result.artifacts["sentences"]:
            print(f"  {sentence}")


def _takes_progress(module) -> bool:
    import inspect

    return "progress" in inspect.signature(module.run).parameters


def _asdict(cfg) -> dict:
    import dataclasses

    return dataclasses.asdict(cfg)


def _cmd_demo(args: argparse.Namespace) -> int:
    import time

    from . import plot
    from .tasks import TASKS, get_task

    out = _prepare_out_dir(args.out, "demo")
    if not plot.matplotlib_available():
        print("matplotlib is not installed: no plots (pip install 'scratchrnn[plot]'); everything else runs")
    t0 = time.perf_counter()
    results, n_plots = [], 0
    for name in TASKS:
        module = get_task(name)
        print(f"running {name} ...", flush=True)
        result = module.run(module.Config.quick())
        results.append(result)
        n_plots += len(_save_plots(result, out))
    total = time.perf_counter() - t0
    print()
    _print_table(results)
    summary = {"seconds": round(total, 2), "systems": [r.summary() for r in results]}
    _write_json(out / "summary.json", summary)
    for r in results:
        _print_text_artifacts(r)
    print(
        f"\n{sum(r.passed for r in results)}/{len(results)} systems met their targets in {total:.0f} s; "
        f"wrote {out / 'summary.json'} and {n_plots} plots"
    )
    return 0 if all(r.passed for r in results) else 1


def _cmd_trace(args: argparse.Namespace) -> int:
    import json

    import numpy as np

    from .trace import build_char_model, load_weights, trace_step

    vocab = list(args.vocab) if args.vocab else sorted(set(args.text))
    if len(set(vocab)) != len(vocab):
        raise UsageError(f"--vocab has repeated characters: {args.vocab!r}")
    missing = sorted(set(args.text) - set(vocab))
    if missing:
        raise UsageError(f"characters {missing} of --text are not in the vocabulary {vocab}")
    if len(args.text) < 2:
        raise UsageError("--text needs at least two characters (an input and its next character)")
    if args.hidden_size <= 0:
        raise UsageError(f"--hidden-size must be positive, got {args.hidden_size}")
    model = build_char_model(
        len(vocab), args.hidden_size, args.nonlinearity, bias=not args.no_bias, rng=args.seed
    )
    if args.weights:
        load_weights(model, args.weights)
    ids = np.array([vocab.index(c) for c in args.text])
    record = trace_step(model, ids[:-1], ids[1:], lr=args.lr, vocab=vocab)
    if args.json:
        text = json.dumps(record, indent=2)
        if args.json == "-":
            print(text)
            return 0
        from .io import atomic_write_text

        atomic_write_text(args.json, text + "\n")
    _print_trace(record)
    return 0


def _fmt(v) -> str:
    import numpy as np

    return np.array2string(
        np.asarray(v), precision=4, suppress_small=True, separator=", ", max_line_width=120
    )


def _print_trace(r: dict) -> None:
    print(f"vocabulary {r['vocab']}, nonlinearity {r['nonlinearity']}, learning rate {r['lr']}")
    print("\nparameters")
    for k, v in r["params"].items():
        print(f"  {k} = {_fmt(v)}")
    print("\nforward pass: z_t = W_ih x_t + b_ih + W_hh h_(t-1) + b_hh, h_t = f(z_t), y_t = W h_t + b")
    for s in r["forward"]:
        print(f"  t={s['t']} input {s['input']!r} -> target {s['target']!r}")
        for key in ("x", "pre_activation", "hidden", "logits", "softmax"):
            print(f"    {key:<15} {_fmt(s[key])}")
        print(f"    {'loss':<15} {s['loss']:.6f}")
    print(f"  mean loss {r['loss']:.6f}")
    print("\nbackward pass (from the last step): dh_t = W^T dy_t + W_hh^T dz_(t+1), dz_t = dh_t * f'(z_t)")
    for s in r["backward"]:
        print(f"  t={s['t']}")
        for key in ("dlogits", "dh_from_output", "dh_from_next_step", "dh", "dz"):
            print(f"    {key:<18} {_fmt(s[key])}")
    print("\ngradients")
    for k, v in r["grads"].items():
        print(f"  d{k} = {_fmt(v)}")
    print(f"\nupdate w <- w - {r['lr']} * grad")
    for k, v in r["update"].items():
        print(f"  {k} = {_fmt(v)}")


def _cmd_export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .io import export

    src = Path(args.model)
    out = (
        Path(args.output)
        if args.output
        else src.with_suffix(".safetensors" if args.format == "safetensors" else ".weights.npz")
    )
    path = export(src, out, args.format)
    print(f"wrote {path}")
    return 0


# -- language models: train / sample / eval ------------------------------------------------------
DEFAULT_TRAIN_STEPS = 1000  # optimizer steps when neither --steps nor --epochs is given
EVALS_PER_RUN = 10  # validations in a step-limited run when --eval-every is not given


def _read_input_text(path: str | None, encoding: str) -> tuple[str, str]:
    from .data.text import load_corpus, read_text

    if path is None:
        return load_corpus(), "the shipped Shakespeare corpus"
    return read_text(path, encoding=encoding), path


def _cmd_train(args: argparse.Namespace) -> int:
    import shutil
    from pathlib import Path

    from .lm import CharLM, WordLM
    from .sample import check_sampling_options  # noqa: F401  (imported early: fail fast on a broken install)

    text, source = _read_input_text(args.text, args.encoding)  # bad files fail before anything is written
    if args.steps is not None and args.epochs is not None:
        raise UsageError("give --steps or --epochs, not both")
    if args.steps is None and args.epochs is None:
        args.steps = DEFAULT_TRAIN_STEPS
    if args.eval_every is None and args.steps is not None:
        args.eval_every = max(1, args.steps // EVALS_PER_RUN)  # a step-limited run may never end an epoch
    kwargs = dict(
        cell=args.cell,
        hidden_size=args.hidden_size,
        num_layers=args.num_layers,
        embedding_dim=args.embedding_dim,
        dropout=args.dropout,
        seed=args.seed,
        dtype=args.dtype,
    )
    lm = CharLM(**kwargs) if args.level == "char" else WordLM(max_vocab=args.max_vocab, **kwargs)
    existed = args.out is not None and Path(args.out).exists()
    out = _prepare_out_dir(args.out, f"train-{args.level}")
    try:
        lm.fit(
            text,
            steps=args.steps,
            epochs=args.epochs,
            batch_size=args.batch_size,
            window=args.window,
            lr=args.lr,
            optimizer=args.optimizer,
            clip_norm=args.clip_norm or None,
            val_fraction=args.val_fraction,
            eval_every=args.eval_every,
            checkpoint_dir=str(out),
            checkpoint_every=args.checkpoint_every,
            resume=args.resume,
            progress=None if not args.no_progress else False,
            log_path=str(out / "log.jsonl"),
        )
    except BaseException:
        if not existed and out.exists() and not any(p.suffix == ".npz" for p in out.iterdir()):
            shutil.rmtree(out, ignore_errors=True)  # nothing worth keeping: leave no half-made run behind
        raise
    model_path = lm.save(out / "model.npz")
    h = lm.history
    print(
        f"trained a {args.level}-level {args.cell.upper()} on {source}: {len(h.steps)} steps, "
        f"last training loss {h.steps[-1]['loss']:.4f}"
    )
    if h.evals:
        best = min(r["val_loss"] for r in h.evals)
        line = f"validation loss {h.evals[-1]['val_loss']:.4f} nats/token (best {best:.4f})"
        if args.level == "char":
            import math

            line += f", {h.evals[-1]['val_loss'] / math.log(2):.4f} bits/char"
        print(line)
    print(f"wrote {model_path}, {out / 'last.npz'}, {out / 'best.npz'} and {out / 'log.jsonl'}")
    return 0


def _cmd_sample(args: argparse.Namespace) -> int:
    from .lm import load_language_model
    from .sample import check_sampling_options

    check_sampling_options(args.temperature, args.top_k, args.top_p)  # before loading anything
    if args.length <= 0:
        raise UsageError(f"--length must be positive, got {args.length}")
    lm = load_language_model(args.model)

    started = False

    def emit(piece: str) -> None:
        nonlocal started
        if not started:  # the prime is echoed only once sampling is under way (a bad prime prints nothing)
            started = True
            sys.stdout.write(args.prime)
        sys.stdout.write(piece)
        sys.stdout.flush()

    lm.sample(
        args.length,
        prime=args.prime,
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        seed=args.seed,
        beam=args.beam,
        on_text=emit,
    )
    emit("\n")
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    import json

    from .lm import load_language_model

    lm = load_language_model(args.model)
    text, source = _read_input_text(args.text, args.encoding)
    res = lm.evaluate(text)
    line = f"{source}: {res['tokens']} tokens, loss {res['loss']:.4f} nats/token"
    line += f", perplexity {res['perplexity']:.3f}"
    if "bits_per_char" in res:
        line += f", {res['bits_per_char']:.4f} bits/char"
    print(line)
    if args.per_token:
        rows = "".join(json.dumps(r) + "\n" for r in lm.token_logprobs(text))
        if args.per_token == "-":
            sys.stdout.write(rows)
        else:
            from .io import atomic_write_text

            atomic_write_text(args.per_token, rows)
            print(f"wrote {args.per_token}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scratchrnn", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser(
        "gradcheck", help="finite-difference check of every layer x nonlinearity x loss x truncation"
    )
    p.add_argument("--quick", action="store_true", help="a smaller matrix (for smoke tests)")
    p.set_defaults(func=_cmd_gradcheck)

    from .tasks import TASKS

    p = sub.add_parser("task", help="train and evaluate one tutorial system")
    p.add_argument("name", metavar="NAME", help=f"one of: {', '.join(TASKS)}")
    p.add_argument("--quick", action="store_true", help="the demo's quick settings")
    p.add_argument("--hidden-size", type=int, help="hidden units (where the task has them)")
    p.add_argument("--cell", choices=("rnn", "lstm", "gru"), help="recurrent cell (where it applies)")
    p.add_argument("--epochs", type=int, help="passes over the training data (where the task counts epochs)")
    p.add_argument("--steps", type=int, help="optimizer steps (where the task counts steps)")
    p.add_argument("--lr", type=float, help="learning rate")
    p.add_argument("--seed", type=int, help="random seed")
    p.add_argument("--dtype", choices=("float32", "float64"), help="floating-point type")
    p.add_argument("--out", help="output folder (default runs/NAME-TIME)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_task)

    p = sub.add_parser(
        "demo", help="all five tutorial systems with quick settings, a table, summary.json and plots"
    )
    p.add_argument("--out", help="output folder (default runs/demo-TIME)")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("trace", help="every number of one training step of a small character RNN")
    p.add_argument(
        "--text", default="hello", help="training text; each character predicts the next (default hello)"
    )
    p.add_argument("--vocab", help="the alphabet in one-hot order (default: the text's characters, sorted)")
    p.add_argument("--hidden-size", type=int, default=3)
    p.add_argument("--nonlinearity", choices=("sigmoid", "tanh", "relu", "identity"), default="sigmoid")
    p.add_argument("--no-bias", action="store_true", help="no biases")
    p.add_argument("--lr", type=float, default=0.1, help="learning rate of the update step")
    p.add_argument(
        "--seed", type=int, default=0, help="seed of the random weights (when --weights is not given)"
    )
    p.add_argument("--weights", help="an .npz or .json file of weights with PyTorch names")
    p.add_argument(
        "--json", metavar="FILE", help="also write the record as JSON to FILE ('-': only JSON on stdout)"
    )
    p.set_defaults(func=_cmd_trace)

    p = sub.add_parser("train", help="train a character- or word-level language model on a text file")
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
    p.add_argument("--checkpoint-every", type=int, help="steps between checkpoints of last.npz")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    p.add_argument("--out", help="output folder (default runs/train-LEVEL-TIME)")
    p.add_argument("--resume", help="continue from a last.npz written by an earlier run")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("sample", help="generate text from a trained language model (streamed to stdout)")
    p.add_argument("model", metavar="MODEL", help="model.npz, last.npz or best.npz from scratchrnn train")
    p.add_argument("--length", type=int, default=300, help="tokens to generate")
    p.add_argument("--prime", default="", help="text to start from")
    p.add_argument("--temperature", type=float, default=1.0, help="softmax(logits / T); 0 is greedy")
    p.add_argument("--top-k", type=int, help="sample among the k most likely tokens")
    p.add_argument("--top-p", type=float, help="sample among the most likely tokens holding probability p")
    p.add_argument("--beam", type=int, help="beam search of this width for the most likely continuation")
    p.add_argument("--seed", type=int, help="random seed (same seed, same text)")
    p.set_defaults(func=_cmd_sample)

    p = sub.add_parser("eval", help="loss, perplexity and bits per character of a model on a text file")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("text", metavar="TEXT_FILE")
    p.add_argument("--encoding", default="utf-8")
    p.add_argument(
        "--per-token", metavar="FILE", help="write each token's log-probability as JSON lines ('-': stdout)"
    )
    p.set_defaults(func=_cmd_eval)

    p = sub.add_parser("export", help="write a checkpoint's weights with PyTorch names (safetensors or npz)")
    p.add_argument("model", metavar="MODEL", help="a scratchrnn checkpoint (.npz)")
    p.add_argument("--format", choices=("safetensors", "npz"), default="safetensors")
    p.add_argument("-o", "--output", help="output file (default: MODEL with the format's suffix)")
    p.set_defaults(func=_cmd_export)
    return parser


def _version() -> str:
    from . import __version__

    return f"scratchrnn {__version__}"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (UsageError, ValueError, FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"scratchrnn: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("scratchrnn: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (e.g. `| head`): stop quietly
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
