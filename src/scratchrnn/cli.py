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
    rows = [(r.name, r.tutorial, r.ours, r.target, f"{r.seconds:.1f}", "yes" if r.passed else "NO") for r in results]
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
    _write_json(out / "result.json", {**result.summary(), "config": _asdict(cfg), "curves": result.curves})
    plots = _save_plots(result, out)
    _print_table([result])
    for key, value in result.artifacts.items():
        if key == "sentences":
            print("\nsampled sentences:")
            for s in value:
                print(f"  {s}")
    print(f"\nwrote {out / 'result.json'}" + (f" and {len(plots)} plots" if plots else ""))
    return 0 if result.passed else 1


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
        if "sentences" in r.artifacts:
            print(f"\n{r.name}: sampled sentences")
            for s in r.artifacts["sentences"]:
                print(f"  {s}")
    print(f"\n{sum(r.passed for r in results)}/{len(results)} systems met their targets in {total:.0f} s; "
          f"wrote {out / 'summary.json'} and {n_plots} plots")
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
    model = build_char_model(len(vocab), args.hidden_size, args.nonlinearity, bias=not args.no_bias, rng=args.seed)
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

    return np.array2string(np.asarray(v), precision=4, suppress_small=True, separator=", ", max_line_width=120)


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
    out = Path(args.output) if args.output else src.with_suffix(".safetensors" if args.format == "safetensors" else ".weights.npz")
    path = export(src, out, args.format)
    print(f"wrote {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scratchrnn", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("gradcheck", help="finite-difference check of every layer x nonlinearity x loss x truncation")
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

    p = sub.add_parser("demo", help="all five tutorial systems with quick settings, a table, summary.json and plots")
    p.add_argument("--out", help="output folder (default runs/demo-TIME)")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("trace", help="every number of one training step of a small character RNN")
    p.add_argument("--text", default="hello", help="training text; each character predicts the next (default hello)")
    p.add_argument("--vocab", help="the alphabet in one-hot order (default: the text's characters, sorted)")
    p.add_argument("--hidden-size", type=int, default=3)
    p.add_argument("--nonlinearity", choices=("sigmoid", "tanh", "relu", "identity"), default="sigmoid")
    p.add_argument("--no-bias", action="store_true", help="no biases")
    p.add_argument("--lr", type=float, default=0.1, help="learning rate of the update step")
    p.add_argument("--seed", type=int, default=0, help="seed of the random weights (when --weights is not given)")
    p.add_argument("--weights", help="an .npz or .json file of weights with PyTorch names")
    p.add_argument("--json", metavar="FILE", help="also write the record as JSON to FILE ('-': only JSON on stdout)")
    p.set_defaults(func=_cmd_trace)

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
