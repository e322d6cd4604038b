"""Command-line front end: ``scratchrnn COMMAND [options]``; it and the command modules ``cli_lm``,
``cli_classify``, ``cli_forecast``, ``cli_trace`` and ``cli_translate`` are all that prints,
through the streams and output files of ``cli_io``.

Errors a user can cause (bad input, missing or unwritable files, a full disk, a diverged run, a
wrong option) are reported as one line on stderr with exit status 2, never a traceback
(``cli_io`` words them). A complaint about the command line itself points at the command's
``--help``; the library's parameter names in a message become the command's flags
(``cli_args.name_flags``), and a message about the options points at the help too. SIGINT and
SIGTERM end a command quietly with status 130 or 143; ``train`` first finishes its step and saves
a checkpoint it can resume from (``cli_lm``).
"""

from __future__ import annotations

import argparse
import sys

from .cli_args import (
    CommandParser,
    mentions_flag,
    name_flags,
    non_negative_int,
    positive_float,
    positive_int,
    size,
)
from .cli_classify import add_commands as add_classify_commands
from .cli_forecast import add_commands as add_forecast_commands
from .cli_io import (
    STDOUT_NAME,
    CommandLineError,
    error_line,
    named_stdout,
    reserve_standard_streams,
    silence_stdout,
    writing,
)
from .cli_lm import add_commands as add_lm_commands
from .cli_trace import add_command as add_trace_command
from .cli_translate import add_command as add_translate_command
from .runs import SIGNAL_GUARD, Interrupted, run_folder

__all__ = ["main"]


class UsageError(ValueError):
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
    "digits": "digits",
    "attention": "attention",
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
        changes[field_name] = value
    return dataclasses.replace(cfg, **changes)


def _save_plots(result, out) -> list:
    from . import plot

    if not plot.matplotlib_available():
        return []
    return plot.save_task_plots(result, out)


def _write_json(path, obj) -> None:
    import json

    from .io import atomic_write_text

    with writing(path):
        atomic_write_text(path, json.dumps(obj, indent=2, default=_json_default) + "\n")


def _json_default(o):
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"cannot write {type(o).__name__} as JSON")


TABLE_WIDTH = (40, 100)  # the results are wrapped to the terminal's width, kept within these columns
DETAIL_FIELDS = ("tutorial", "ours", "target")  # a result's sentences, printed below the summary


def _table_width() -> int:
    """Columns to print in: the terminal's (``COLUMNS`` when set, 80 when not a terminal), kept
    within ``TABLE_WIDTH``."""
    import shutil

    low, high = TABLE_WIDTH
    return max(low, min(high, shutil.get_terminal_size((80, 24)).columns))


def _wrapped(label: str, text: str, width: int, indent: int) -> list[str]:
    """``text`` after ``label`` (padded to ``indent`` columns, or followed by a space when longer),
    wrapped to ``width`` columns, its later lines indented by ``indent``."""
    import textwrap

    head = label.ljust(indent) if len(label) < indent else f"{label} "
    return textwrap.wrap(text, width, initial_indent=head, subsequent_indent=" " * indent,
                         break_on_hyphens=False) or [head.rstrip()]


def _print_table(results) -> None:
    """A summary (system, target met, seconds) that fits the terminal, then each system's tutorial
    result, our result and the target as wrapped paragraphs."""
    width = _table_width()
    head = ("system", "met", "seconds")
    rows = [(r.name, "yes" if r.passed else "NO", f"{r.seconds:.1f}") for r in results]
    name_w = max(len(head[0]), *(len(row[0]) for row in rows))
    seconds_w = max(len(head[2]), *(len(row[2]) for row in rows))
    for i, (name, met, seconds) in enumerate([head, *rows]):
        print(f"{name:<{name_w}}  {met:<3}  {seconds:>{seconds_w}}")
        if i == 0:
            print(f"{'-' * name_w}  ---  {'-' * seconds_w}")
    indent = 2 + max(len(f) for f in DETAIL_FIELDS) + 2
    for r in results:
        print(f"\n{r.name}")
        for key in DETAIL_FIELDS:
            for line in _wrapped(f"  {key}", getattr(r, key), width, indent):
                print(line)


def _cmd_task(args: argparse.Namespace) -> int:
    from .tasks import get_task

    module = get_task(args.name)
    cfg = _task_config(module, args)
    with run_folder(args.out, args.name) as folder:
        out = folder.path
        progress = {"progress": not args.no_progress} if _takes_progress(module) else {}
        result = module.run(cfg, **progress)
        text = {k: result.artifacts[k] for k in ("sentences", "greedy") if k in result.artifacts}
        _write_json(
            folder.claim("result.json"),
            {**result.summary(), "config": _asdict(cfg), "curves": result.curves, **text},
        )
        plots = _save_plots(result, out)
        for name, write in result.files.items():
            path = folder.claim(name)
            with writing(path):
                write(path)
    _print_table([result])
    _print_text_artifacts(result)
    print(f"\nwrote {out / 'result.json'}" + (f" and {len(plots)} plots" if plots else ""))
    for name in result.files:
        print(f"wrote {out / name}")
    return 0 if result.passed else 1


def _print_text_artifacts(result) -> None:
    """A language model's greedy continuations and sampled sentences, when the task made any,
    wrapped to the terminal's width like the table."""
    width = _table_width()
    if result.artifacts.get("greedy"):
        print(f"\n{result.name}: greedy continuations")
        for g in result.artifacts["greedy"]:
            for line in _wrapped(f"  {g['prompt']!r} ->", g["continuation"], width, 4):
                print(line)
    if result.artifacts.get("sentences"):
        print(f"\n{result.name}: sampled sentences")
        for sentence in result.artifacts["sentences"]:
            for line in _wrapped("  -", sentence, width, 4):
                print(line)


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

    with run_folder(args.out, "demo") as folder:
        out = folder.path
        if not plot.matplotlib_available():
            print("matplotlib is not installed: no plots (pip install 'scratchrnn[plot]'); "
                  "everything else runs")
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
        _write_json(folder.claim("summary.json"), summary)
    for r in results:
        _print_text_artifacts(r)
    print(
        f"\n{sum(r.passed for r in results)}/{len(results)} systems met their targets in {total:.0f} s; "
        f"wrote {out / 'summary.json'} and {n_plots} plots"
    )
    return 0 if all(r.passed for r in results) else 1


# -- plot ----------------------------------------------------------------------------------------
# export's formats: the weight files' (scratchrnn.io.EXPORT_FORMATS) and the ONNX graph
EXPORT_CHOICES = ("safetensors", "npz", "onnx")
PLOT_INSTALL_HINT = "pip install 'scratchrnn[plot]' (or pip install matplotlib)"


def _cmd_plot(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .figures import matplotlib_available
    from .plot_log import read_training_log, save_log_plot

    if not matplotlib_available():
        raise UsageError(f"plot needs matplotlib, which is not installed; install it with "
                         f"{PLOT_INSTALL_HINT}")
    source = Path(args.log)
    out = Path(args.output) if args.output else source.with_suffix(".png")
    if out.suffix.lower() != ".png":
        raise UsageError(f"-o/--output must end in .png, got {str(out)!r}")
    if out.exists() and source.exists() and out.samefile(source):
        raise UsageError(f"-o/--output {str(out)!r} is the log itself; give another file")
    log = read_training_log(source)
    with writing(out):
        save_log_plot(log, out)
    evals = f"{log.val_loss.size:,} validations" if log.val_loss.size else "no validation"
    print(f"wrote {out} ({log.step.size:,} training steps, {evals})")
    return 0


def _add_plot_command(sub) -> None:
    p = sub.add_parser(
        "plot", help="draw a training log (loss, validation loss, learning rate, gradient norm) as a PNG",
        description="Draw the log.jsonl of a training run as one PNG: the training loss (raw and "
                    "smoothed) with the validation losses, the learning rate and the gradient norm "
                    f"over the steps. Needs matplotlib: {PLOT_INSTALL_HINT}.",
    )
    p.add_argument("log", metavar="LOG",
                   help="a training log of JSON lines (the log.jsonl of scratchrnn train)")
    p.add_argument("-o", "--output", metavar="OUT",
                   help="the PNG to write, replaced atomically (default: LOG with the suffix .png)")
    p.set_defaults(func=_cmd_plot)


def _cmd_export(args: argparse.Namespace) -> int:
    from pathlib import Path

    src = Path(args.model)
    if args.format == "onnx":
        from .io import export_onnx

        with writing(args.output or src.with_suffix(".onnx")):  # a Seq2Seq's two files named by the error
            paths = export_onnx(src, args.output)
        for path in paths:
            print(f"wrote {path}")
        return 0
    from .io import export

    out = (
        Path(args.output)
        if args.output
        else src.with_suffix(".safetensors" if args.format == "safetensors" else ".weights.npz")
    )
    if out.exists() and not out.is_file():  # export renames a new file into place, which would replace it
        raise UsageError(f"cannot write {out}: not a regular file (export writes a whole file in its place)")
    with writing(out):
        path = export(src, out, args.format)
    print(f"wrote {path}")
    return 0


DESCRIPTION = """\
Recurrent networks (RNN, LSTM, GRU) written on numpy, with backpropagation through time derived by
hand and checked against finite differences and PyTorch. Train a language model on your own text,
sample from it and score texts with it; classify or regress labelled sequences of different
lengths; run the tutorial systems; check every gradient; follow one training step number by number.
"""
EPILOG = """\
examples:
  scratchrnn train corpus.txt --steps 2000          a character-level GRU on your text
  scratchrnn sample runs/train-char-TIME/model.npz --prime "ROMEO:" --temperature 0.8
  scratchrnn classify train data.jsonl              a classifier of labelled sequences
  scratchrnn demo                                   the ten systems, a table and plots

Each command has its own options and their defaults: scratchrnn COMMAND --help. An error is one
line on stderr with exit status 2; an interrupted command exits with 130 (SIGINT) or 143 (SIGTERM).
"""


def build_parser() -> CommandParser:
    parser = CommandParser(prog="scratchrnn", description=DESCRIPTION, epilog=EPILOG)
    parser.add_argument("--version", action="version", version=_version(), help="print the version")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND",
                                help="what to do (scratchrnn COMMAND --help for its options)")
    sub.required = True

    p = sub.add_parser(
        "gradcheck", help="finite-difference check of every layer x nonlinearity x loss x truncation",
        description="Compare every analytic gradient with central finite differences in float64: each "
        "cell and nonlinearity, each loss, with full and truncated BPTT. Prints one row per parameter "
        "and exits with status 1 if any relative error is above its tolerance.",
    )
    p.add_argument("--quick", action="store_true", help="a smaller matrix (for smoke tests)")
    p.set_defaults(func=_cmd_gradcheck)

    from .tasks import TASKS

    p = sub.add_parser(
        "task", help="train and evaluate one tutorial system",
        description="Train one of the tutorial systems and check it against its target. Writes "
        "result.json (and plots, with matplotlib) into a new run folder; exits with status 1 if the "
        "target was missed. An option a task has no use for is an error.",
        epilog="example:\n  scratchrnn task sine --quick --out runs/sine",
    )
    p.add_argument("name", metavar="NAME", help=f"one of: {', '.join(TASKS)}")
    p.add_argument("--quick", action="store_true", help="the demo's quick settings")
    p.add_argument("--hidden-size", type=size, metavar="N",
                   help="hidden units (default: the task's; where it has them)")
    p.add_argument("--cell", choices=("rnn", "lstm", "gru"),
                   help="recurrent cell (default: the task's; where it has a choice)")
    p.add_argument("--epochs", type=positive_int, metavar="N",
                   help="passes over the training data (default: the task's; where it counts epochs)")
    p.add_argument("--steps", type=positive_int, metavar="N",
                   help="optimizer steps (default: the task's; where it counts steps)")
    p.add_argument("--lr", type=positive_float, help="learning rate (default: the task's)")
    p.add_argument("--digits", type=positive_int, metavar="N",
                   help="the most digits of each number (default: the task's; addition-text)")
    p.add_argument("--attention", choices=("dot", "general", "additive"),
                   help="the sequence-to-sequence model's attention (default: the task's; addition-text, "
                        "reverse-text)")
    p.add_argument("--seed", type=non_negative_int, metavar="N", help="random seed (default: the task's)")
    p.add_argument("--dtype", choices=("float32", "float64"),
                   help="floating-point type (default: the task's)")
    p.add_argument("--out", metavar="FOLDER", help="output folder (default: a new runs/NAME-TIME)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_task)

    p = sub.add_parser(
        "demo", help="all ten systems (the tutorials', the sequence tasks and sequence to sequence) with "
                     "quick settings, a table, summary.json and plots",
        description="Run every tutorial system with its quick settings and print one table of what "
        "each reached against its target. Writes summary.json and the plots into a new run folder; "
        "exits with status 1 if any target was missed.",
    )
    p.add_argument("--out", metavar="FOLDER", help="output folder (default: a new runs/demo-TIME)")
    p.set_defaults(func=_cmd_demo)

    add_trace_command(sub)
    add_translate_command(sub)

    add_lm_commands(sub)
    add_classify_commands(sub)
    add_forecast_commands(sub)
    _add_plot_command(sub)

    p = sub.add_parser(
        "export", help="write a checkpoint's weights with PyTorch names, or the model as ONNX",
        description="Write the weights of a scratchrnn checkpoint under PyTorch's names, so that "
        "torch.nn.LSTM(...).load_state_dict(...) (or RNN, GRU, Linear) accepts them as they are "
        "(safetensors, npz); or write the model as an ONNX graph that ONNX Runtime runs (onnx, "
        "needs scratchrnn[onnx]): a language model, a weights file's module in one file, a "
        "sequence-to-sequence model as NAME.encoder.onnx and NAME.decoder_step.onnx.",
        epilog="examples:\n  scratchrnn export runs/train-char-TIME/model.npz --format safetensors\n"
               "  scratchrnn export runs/train-char-TIME/model.npz --format onnx -o char.onnx",
    )
    p.add_argument("model", metavar="MODEL",
                   help="a scratchrnn checkpoint (.npz); for onnx also a weights file with its module")
    p.add_argument("--format", choices=EXPORT_CHOICES, default="safetensors", help="the file format")
    p.add_argument("-o", "--output", metavar="FILE",
                   help="output file (default: MODEL with the format's suffix); for a sequence-to-sequence "
                        "model to onnx, the name of the two files, less .encoder.onnx and .decoder_step.onnx")
    p.set_defaults(func=_cmd_export)
    return parser


def _version() -> str:
    from . import __version__

    return f"scratchrnn {__version__}"


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit status (0 done, 1 a target missed, 2 an error, 130/143
    interrupted by SIGINT/SIGTERM, 141 the reader of stdout went away)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    with SIGNAL_GUARD.installed():
        try:
            reserve_standard_streams()
            with named_stdout():
                return _run(argv)
        except Interrupted as exc:  # during start-up, or a second signal: quietly, with the signal's status
            return exc.status
        except KeyboardInterrupt:  # no handler of ours (outside the main thread)
            return 130


def _run(argv: list[str]) -> int:
    """The error boundary: what a user can cause becomes one line on stderr and exit status 2."""
    args = parser = None
    try:
        parser = build_parser()
        args, extra = parser.parse_known_args(argv)
        if extra:
            parser.error_in(args.command, f"unrecognized arguments: {' '.join(extra)}")
        args.argv = argv
        status = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed or full stdout is reported here, not at exit
        return status
    except Interrupted:
        raise
    except SystemExit as exc:  # argparse after --help or --version, which prints what it can
        try:
            sys.stdout.flush()
        except OSError:
            silence_stdout()
        return exc.code if isinstance(exc.code, int) else 0
    except CommandLineError as exc:
        _print_error(f"{exc} (see '{exc.prog} --help')")
        return 2
    except BrokenPipeError:  # the reader went away (e.g. `| head`): stop quietly
        silence_stdout()
        return 141
    except Exception as exc:
        line = error_line(exc, args)
        if line is None:
            raise  # a bug: the traceback is the report
        if isinstance(exc, OSError) and exc.filename == STDOUT_NAME:
            silence_stdout()
        if isinstance(exc, ValueError) and parser is not None and args is not None:
            line = _in_flags(line, parser, args.command, getattr(args, "action", None))
        _print_error(line)
        return 2


def _in_flags(line: str, parser: CommandParser, command: str, action: str | None = None) -> str:
    """A library's message in the command's own terms: its flags for the parameter names, and a
    pointer to the command's help when it is about the options (``action``: the command's own
    subcommand, as in ``classify train``)."""
    sub = parser.commands[command]
    if action is not None and action in sub.commands:
        sub, command = sub.commands[action], f"{command} {action}"
    flags = sub.flags()
    line = name_flags(line, flags)
    if mentions_flag(line, flags):
        line += f" (see '{parser.prog} {command} --help')"
    return line


def _print_error(line: str) -> None:
    print(f"scratchrnn: error: {line}", file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
