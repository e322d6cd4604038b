"""What the command line says about each error it reports, and the streams and files it writes.

``error_line(exc, args)`` is the one line (without the ``scratchrnn: error:`` prefix) for an error
a user can cause, or None for a bug, which keeps its traceback:

* ValueError (bad input, a broken or unsuitable checkpoint, a decode error) and a plain
  LookupError (an unknown codec; not its subclasses KeyError and IndexError, which are bugs):
  the first line of the message;
* OSError: the file and the reason, ``cannot write runs/x/model.npz: No space left on device``;
* ``TrainingDiverged``: the step, the last finite loss and what to change (``--lr``, ``--clip-norm``).

``reserve_standard_streams()`` handles a stdout or stderr closed before the start (``>&-``): the
descriptor is taken by ``/dev/null`` so no file the program opens can land on it, and writing to
a closed stdout raises an OSError naming ``standard output``, reported like any other.

``output_file(path)`` writes a file a user named: atomically (whole or not at all) when it is a
regular file or a new one, straight into it when it is a device or a pipe (``/dev/null``,
``/dev/full``, a FIFO), which a rename would replace. ``writing(path)`` names ``path`` in an
OSError that names no file (a failed ``write`` or ``flush``), so the report says which file.
"""

from __future__ import annotations

import errno
import io
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

__all__ = [
    "STDOUT_NAME",
    "WRITE_ERRNOS",
    "CommandLineError",
    "NamedStdout",
    "error_line",
    "named_stdout",
    "os_error_line",
    "output_file",
    "print_or_write",
    "reserve_standard_streams",
    "silence_stdout",
    "writing",
]

STDOUT_NAME = "standard output"
# errors that only a write can cause: the message says "cannot write"
WRITE_ERRNOS = frozenset(e for e in (errno.ENOSPC, errno.EFBIG, errno.EROFS, errno.EBADF,
                                     getattr(errno, "EDQUOT", None)) if e is not None)


class CommandLineError(Exception):
    """The command line itself is wrong (argparse's complaint); ``prog`` is the command it concerns."""

    def __init__(self, message: str, prog: str):
        super().__init__(message)
        self.prog = prog


def error_line(exc: Exception, args=None) -> str | None:
    """The one-line report of ``exc``, or None when it is not an error a user can cause."""
    train = sys.modules.get(__package__ + ".train")  # loaded if training ran, so the class exists
    if train is not None and isinstance(exc, train.TrainingDiverged):
        return f"{exc}; {_divergence_advice(args)}"
    if isinstance(exc, OSError):
        return os_error_line(exc)
    if isinstance(exc, ValueError) or type(exc) is LookupError:  # an unknown codec; not KeyError, IndexError
        text = str(exc).strip()
        return text.splitlines()[0] if text else type(exc).__name__
    return None


def os_error_line(exc: OSError) -> str:
    """``cannot write PATH: REASON`` for errors of writing, ``PATH: REASON`` for the others."""
    reason = exc.strerror or " ".join(str(exc).split()) or type(exc).__name__
    if exc.errno is None and exc.strerror is None:  # raised with a message of its own
        return reason
    target = exc.filename2 if exc.filename2 is not None else exc.filename
    if target is None:
        return f"cannot write: {reason}" if exc.errno in WRITE_ERRNOS else reason
    if isinstance(target, bytes):
        target = os.fsdecode(target)
    if exc.errno in WRITE_ERRNOS:
        return f"cannot write {target}: {reason}"
    return f"{target}: {reason}"


@contextmanager
def writing(path) -> Iterator[None]:
    """Name ``path`` in an OSError of the block that names no file, or only a temporary one
    (an atomic write's ``.NAME.xxxx.tmp``: then the file it stands for, when its name says it),
    so the report says which file could not be written."""
    try:
        yield
    except OSError as exc:
        temp = None if exc.filename is None else Path(os.fsdecode(exc.filename))
        if exc.errno is not None and exc.filename2 is None and (temp is None or temp.name.endswith(".tmp")):
            from .io.atomic import temp_target

            named = (None if temp is None else temp_target(temp)) or path
            raise OSError(exc.errno, exc.strerror, str(named)) from exc
        raise


@contextmanager
def output_file(path) -> Iterator[TextIO]:
    """A UTF-8 text file open for writing ``path`` (see the module docstring); errors name ``path``."""
    from .io import atomic_path

    p = Path(path)
    with writing(p):
        if p.exists() and not p.is_file() and not p.is_dir():  # a device or a pipe: it cannot be renamed over
            with open(p, "w", encoding="utf-8") as f:
                yield f
        else:
            with atomic_path(p) as temp, open(temp, "w", encoding="utf-8") as f:
                yield f


def print_or_write(text: str, path=None) -> None:
    """``text`` to stdout, or (with ``path``, a command's ``--output``) into that file atomically."""
    if path is None:
        print(text, end="")
    else:
        with output_file(path) as f:
            f.write(text)


def _divergence_advice(args) -> str:
    command = getattr(args, "command", None)
    lr = getattr(args, "lr", None)
    rate = "lower the learning rate with --lr" + ("" if lr is None else f" (this run used {lr:g})")
    if command != "train":
        return rate
    clip = getattr(args, "clip_norm", None)
    if clip:
        return f"{rate}, or clip the gradients harder with a --clip-norm below {clip:g}"
    return f"{rate}, or clip the gradients with --clip-norm (for example 1)"


class _ClosedStream(io.TextIOBase):
    """Standard output that was closed before the program started: every write is an error."""

    def writable(self) -> bool:
        return True

    def write(self, s: str) -> int:
        raise OSError(errno.EBADF, "it was closed before the program started", STDOUT_NAME)


class NamedStdout:
    """Standard output whose write errors name it (a full disk, a closed pipe's EPIPE stays EPIPE)."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, s: str) -> int:
        with writing(STDOUT_NAME):
            return self.stream.write(s)

    def flush(self) -> None:
        with writing(STDOUT_NAME):
            self.stream.flush()

    def __getattr__(self, name: str):
        return getattr(self.stream, name)


@contextmanager
def named_stdout() -> Iterator[None]:
    """``sys.stdout`` as a :class:`NamedStdout` for the block, then the stream it was."""
    stream = sys.stdout
    sys.stdout = NamedStdout(stream)
    try:
        yield
    finally:
        sys.stdout = stream


def reserve_standard_streams() -> None:
    """Give a closed stdout or stderr's descriptor to /dev/null; writes to a closed stdout fail."""
    if sys.stdout is None:
        _hold_descriptor(1)
        sys.stdout = _ClosedStream()
    if sys.stderr is None:
        _hold_descriptor(2)
        sys.stderr = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - lives until exit


def _hold_descriptor(fd: int) -> None:
    null = os.open(os.devnull, os.O_RDWR)
    if null != fd:
        os.dup2(null, fd)
        os.close(null)


def silence_stdout() -> None:
    """Point stdout at /dev/null after it failed, so the flush at exit has nowhere to fail."""
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, sys.stdout.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):
        pass  # not a real descriptor (a closed stream of ours, a test's capture): nothing to flush
    finally:
        os.close(null)
