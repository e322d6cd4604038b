"""Run folders that cannot collide or vanish, and interrupts that end a run at a step boundary.

A run folder is made exclusively: the default ``runs/<name>-<YYYYmmdd-HHMMSS>`` gets a ``-2``,
``-3``, ... suffix when another run already took the name (two runs started in the same second
get two folders). ``RunFolder`` remembers what its run made: ``claim(name)`` before writing a file
records it as the run's own when it did not exist yet, and ``discard()`` after a failure removes
only those files, then the folder if the run created it and it is empty, so a failed run never
takes anything of another's with it.

``SIGNAL_GUARD`` owns SIGINT and SIGTERM for the command line. Normally a signal raises
``Interrupted`` at once (during start-up there is nothing to save). Inside ``deferred()`` the first
signal is only recorded, so a training loop can finish its step, write its checkpoint and stop; a
second signal raises at once. ``blocked()`` holds signals back over a few lines that must not be
cut (a folder made and recorded, a cleanup). The exit status of an interrupted run is 128 plus the
signal number: 130 for SIGINT, 143 for SIGTERM. Only the standard library is imported here, so
``python -m scratchrnn`` can take the signals before anything heavy is imported.
"""

from __future__ import annotations

import os
import shlex
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

__all__ = [
    "MAX_SUFFIX",
    "SIGNAL_GUARD",
    "STOP_SIGNALS",
    "Interrupted",
    "RunFolder",
    "SignalGuard",
    "resume_command",
    "run_folder",
]

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
MAX_SUFFIX = 1000  # highest -N tried for a default folder name before giving up
TIME_FORMAT = "%Y%m%d-%H%M%S"  # the time part of a default folder name


class Interrupted(SystemExit):
    """SIGINT or SIGTERM arrived where the work could not stop at a step boundary.

    A ``SystemExit`` with code ``status`` (128 plus the signal number): ``except Exception`` does
    not swallow it, and if nothing catches it the process still exits quietly with that status.
    """

    def __init__(self, signum: int):
        self.signum = signum
        self.status = 128 + signum
        super().__init__(self.status)

    def __str__(self) -> str:
        return f"interrupted by {signal.Signals(self.signum).name}"


class SignalGuard:
    """SIGINT and SIGTERM for the command line: raise at once, or (``deferred``) record the first."""

    def __init__(self):
        self.received: int | None = None  # the first signal seen since install
        self._deferring = False
        self._depth = 0
        self._holding = 0  # blocks of blocked() the main thread is inside
        self._held: int | None = None  # a signal that came inside them, raised when they end
        self._previous: dict[int, object] = {}
        self._lost: int | None = None  # a signal whose Interrupted Python dropped (see _unraisable)
        self._hook = sys.unraisablehook

    def _unraisable(self, unraisable) -> None:
        """Python drops an exception raised where it cannot propagate (a weakref callback, such as
        importlib's module lock's, or a ``__del__``) and prints it: an ``Interrupted`` that the
        handler raised there is kept instead, and the next ``blocked()`` or ``deferred()`` raises it."""
        if isinstance(unraisable.exc_value, Interrupted):
            self._lost = self._lost or unraisable.exc_value.signum
            return
        self._hook(unraisable)

    def _raise_lost(self) -> None:
        if self._lost is not None:
            signum, self._lost = self._lost, None
            raise Interrupted(signum)

    def _handle(self, signum, frame) -> None:
        if self._deferring and self.received is None:
            self.received = signum  # the loop stops at its next step boundary
            return
        if self.received is None:
            self.received = signum
        if self._holding:  # another thread took it past the main thread's mask: hold it too
            self._held = self._held or signum
            return
        raise Interrupted(signum)

    @contextmanager
    def installed(self, then=None) -> Iterator[SignalGuard]:
        """Take SIGINT and SIGTERM for the block, then give back the handlers found before (or set
        ``then``, e.g. ``signal.SIG_DFL``: a signal after the block ends the process at once).

        Nested blocks share one installation; outside the main thread (where Python cannot set
        handlers) the block runs without one.
        """
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        if self._depth == 0:
            self.received, self._lost = None, None
            with self.blocked():
                self._previous = {s: signal.signal(s, self._handle) for s in STOP_SIGNALS}
                self._hook, sys.unraisablehook = sys.unraisablehook, self._unraisable
        self._depth += 1
        try:
            yield self
        finally:
            self._depth -= 1
            if self._depth == 0:
                self._deferring = False
                with self.blocked():  # raises a signal held or lost meanwhile, with the handlers given back
                    for s, handler in self._previous.items():
                        signal.signal(s, handler if then is None else then)
                    sys.unraisablehook = self._hook

    @contextmanager
    def deferred(self) -> Iterator[SignalGuard]:
        """Inside the block the first signal only sets ``received``; the caller polls it."""
        self._raise_lost()  # one that came before, where it could not stop the work
        self._deferring = True
        try:
            yield self
        finally:
            self._deferring = False

    @contextmanager
    def blocked(self) -> Iterator[None]:
        """Hold SIGINT and SIGTERM back for the block; one that came meanwhile is handled after it.

        The mask holds a signal sent to the main thread; a signal sent to the process may reach
        another thread (tqdm's monitor, a test runner's), whose C handler still runs the Python
        handler in the main thread, so the handler holds it too while the block lasts."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        old = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        self._holding += 1
        try:
            yield
        finally:
            self._holding -= 1
            signal.pthread_sigmask(signal.SIG_SETMASK, old)  # a masked signal is handled here
            held, self._held = (self._held, None) if not self._holding else (None, self._held)
            if held is not None:
                raise Interrupted(held)
            if not self._holding:
                self._raise_lost()


SIGNAL_GUARD = SignalGuard()


class RunFolder:
    """The folder one run writes into, whether the run created it, and the files the run made there."""

    def __init__(self, path: Path, created: bool):
        self.path = Path(path)
        self.created = created
        self._made: list[Path] = []

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r}, created={self.created})"

    @classmethod
    def create(cls, out: str | os.PathLike | None, default_name: str, root: str | os.PathLike = "runs",
               now: float | None = None) -> RunFolder:
        """The folder ``out`` (made if missing, used as it is if it exists), or a new folder
        ``root/<default_name>-<time>`` made exclusively, with ``-2``, ``-3``, ... on a collision.

        Raises ValueError naming the folder when it cannot be made or written.
        """
        if out is not None:
            path = Path(out)
            with SIGNAL_GUARD.blocked():  # made and recorded as ours, or neither
                try:
                    path.mkdir(parents=True)
                    folder = cls(path, created=True)
                except FileExistsError:
                    folder = cls(path, created=False)
                except OSError as exc:
                    raise ValueError(f"cannot create output folder {path}: {exc.strerror or exc}") from None
        else:
            stamp = time.strftime(TIME_FORMAT, time.localtime(now))
            folder = cls._create_unique(Path(root), f"{default_name}-{stamp}")
        if not folder.path.is_dir() or not os.access(folder.path, os.W_OK | os.X_OK):
            folder.discard()
            raise ValueError(f"output folder {folder.path} is not a writable folder")
        return folder

    @classmethod
    def _create_unique(cls, root: Path, base: str) -> RunFolder:
        try:
            root.mkdir(parents=True, exist_ok=True)  # shared by every run: never removed
        except OSError as exc:
            raise ValueError(f"cannot create output folder {root}: {exc.strerror or exc}") from None
        for n in range(1, MAX_SUFFIX + 1):
            path = root / (base if n == 1 else f"{base}-{n}")
            with SIGNAL_GUARD.blocked():
                try:
                    os.mkdir(path)  # exclusive: exactly one run gets each name
                    return cls(path, created=True)
                except FileExistsError:
                    continue
                except OSError as exc:
                    raise ValueError(f"cannot create output folder {path}: {exc.strerror or exc}") from None
        raise ValueError(f"cannot create output folder {root / base}: "
                         f"the names up to -{MAX_SUFFIX} are taken")

    def claim(self, name: str) -> Path:
        """The path of a file the run is about to write; if it does not exist yet it is the run's own."""
        path = self.path / name
        if not path.exists() and path not in self._made:
            self._made.append(path)
        return path

    def made(self) -> list[Path]:
        """The claimed files that the run made and that exist now."""
        return [p for p in self._made if p.exists()]

    def discard(self) -> None:
        """Remove what the run made: its files, then the folder if the run created it and it is empty."""
        with SIGNAL_GUARD.blocked():
            for p in self._made:
                p.unlink(missing_ok=True)
            if self.created:
                try:
                    self.path.rmdir()  # fails, as it should, when anything else is inside
                except OSError:
                    pass


def resume_command(prog: str, last: str | os.PathLike, text: str | None = None,
                   options: Sequence[str] = ()) -> str:
    """The command that continues the run saved in ``last``: ``PROG train [TEXT] --resume LAST
    [OPTIONS]``, quoted for a POSIX shell. Nothing else is needed: a resumed run takes its
    settings, its total of steps and its folder from the checkpoint."""
    words = [*prog.split(), "train", *([] if text is None else [str(text)]), "--resume", str(last), *options]
    return shlex.join(words)


@contextmanager
def run_folder(out: str | os.PathLike | None, default_name: str) -> Iterator[RunFolder]:
    """A new run folder (``RunFolder.create``) for a command; a command that fails or is interrupted
    removes what it made there, and the folder if it made it."""
    folder = None
    try:
        with SIGNAL_GUARD.blocked():  # made and known together, so a signal cannot leave it behind
            folder = RunFolder.create(out, default_name)
        yield folder
    except BaseException:
        if folder is not None:
            folder.discard()
        raise
