"""Running ``python -m scratchrnn`` in a fresh process for the command-line tests, and the small
training run they share."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import scratchrnn
from scratchrnn.data.text import load_corpus

# the package these tests import, for the fresh processes too, whatever their working folder
SOURCE = str(Path(scratchrnn.__file__).resolve().parents[1])
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [SOURCE, os.environ.get("PYTHONPATH")]))}

# how the lines train prints as it goes begin (stderr not a terminal), and a warning about an option
# that does nothing (--dropout with one layer); an error is one line beside them
LOG_LINE_STARTS = ("step ", "training for ", "resuming ", "scratchrnn: warning: ")

# a run of a few hundred milliseconds: one-layer RNN, short windows
TINY = ["--cell", "rnn", "--hidden-size", "16", "--num-layers", "1", "--window", "20",
        "--batch-size", "4", "--no-progress"]


def small_text(folder: Path, chars: int = 20_000) -> Path:
    """The first ``chars`` characters of the shipped corpus as a file in ``folder``."""
    path = Path(folder) / "small.txt"
    path.write_text(load_corpus()[:chars], encoding="utf-8")
    return path


def command(*args) -> list[str]:
    return [sys.executable, "-m", "scratchrnn", *map(str, args)]


def run_cli(*args, cwd=None, **kwargs) -> subprocess.CompletedProcess:
    """``python -m scratchrnn ARGS`` to completion, output captured as text."""
    kwargs.setdefault("env", ENV)
    return subprocess.run(command(*args), capture_output=True, text=True, check=False, cwd=cwd, **kwargs)


def without_log_lines(stderr: str) -> list[str]:
    """The non-empty lines of ``stderr`` other than the training log lines."""
    return [ln for ln in stderr.splitlines() if ln.strip() and not ln.startswith(LOG_LINE_STARTS)]


def main_error(capsys, argv: list[str]) -> str:
    """The single ``scratchrnn: error:`` line of ``main(argv)`` in this process, which must return 2."""
    from scratchrnn.cli import main

    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("scratchrnn: error:"), err
    return lines[0]


def one_line_error(res: subprocess.CompletedProcess) -> str:
    """The single ``scratchrnn: error:`` line of a run that exited with status 2 (after any log
    lines of the training it did)."""
    lines = without_log_lines(res.stderr)
    assert res.returncode == 2, (res.returncode, res.stderr)
    assert len(lines) == 1 and lines[0].startswith("scratchrnn: error: "), res.stderr
    return lines[0]


def our_traceback(stderr: str) -> bool:
    """A traceback through the package's code (Python's own start-up, before the first line of
    ``scratchrnn/__main__.py`` runs, is outside the package's reach)."""
    frames = re.findall(r'File "([^"]+)"', stderr)
    return any("scratchrnn" in f and not f.endswith("__init__.py") for f in frames) or (
        "Traceback" in stderr and not stderr.rstrip().endswith("KeyboardInterrupt"))
