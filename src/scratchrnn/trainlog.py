"""What a training run writes as it goes: its JSON-lines log, and the progress reports it emits.

``RunLog`` is the log file: one JSON record per line, each written whole in one call, so a crash
leaves at most one cut line at the end. ``open(keep_through=step)`` keeps the records up to that
step and drops the rest (a resumed run goes on in its own log; a rollback forgets the steps it
undid), rewriting the file atomically. Records of every kind share the file: steps (with
``loss``), validations (``val_loss``) and events (``{"step": 500, "event": "lr", ...}``).

``Reports`` gathers the steps since the last report and says when the next is due: every
``every`` steps, or (``every=None``) once ``seconds`` have passed; after a validation always. A
report is a dict for people to read, never written to the log::

    {"step": 200, "total": 1000, "epoch": 0, "loss": 1.93,   # mean training loss since the last
     "val_loss": 1.97, "best_val_loss": 1.97,                #   report; the latest validation
     "validated": True, "improved": True,                    # this step validated, and improved
     "lr": 0.002, "tokens_per_s": 41200.0, "elapsed": 83.2,  # over the steps reported on
     "steps": 100}                                           # how many steps that covers

(``samples_per_s`` in place of ``tokens_per_s`` for models of dense inputs.)
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from .io import atomic_write_bytes

__all__ = ["Reports", "RunLog", "bar_postfix", "naming"]


@contextmanager
def naming(path) -> Iterator[None]:
    """An OSError of the block that names no file, or only an atomic write's temporary file, is
    raised again naming ``path``, the file that was being written."""
    try:
        yield
    except OSError as exc:
        if exc.errno is not None and exc.filename2 is None and (
                exc.filename is None or str(exc.filename).endswith(".tmp")):
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        raise


class RunLog:
    """The JSON-lines log at ``path`` (None: no log, and every call does nothing)."""

    def __init__(self, path: str | os.PathLike | None):
        self.path = None if path is None else str(path)
        self._file = None

    @property
    def is_open(self) -> bool:
        return self._file is not None

    def open(self, keep_through: int) -> None:
        """Start writing, keeping the records up to step ``keep_through`` (0: start empty)."""
        self.close()
        if not self.path:
            return
        with naming(self.path):
            os.makedirs(Path(self.path).parent, exist_ok=True)
            kept = b""
            if keep_through and os.path.exists(self.path):
                with open(self.path, "rb") as f:
                    lines = [ln for ln in f.read().splitlines() if ln.strip()]
                good = []
                for ln in lines:
                    try:
                        if json.loads(ln).get("step", 0) <= keep_through:
                            good.append(ln)
                    except json.JSONDecodeError:
                        break  # a line cut by a crash ends the usable log
                kept = b"".join(ln + b"\n" for ln in good)
            atomic_write_bytes(self.path, kept)
            # unbuffered: each record goes to the file in one write of its whole line
            self._file = open(self.path, "ab", buffering=0)  # noqa: SIM115 - closed by close()

    def write(self, record: dict) -> None:
        """Append one record as a line (nothing when the log is not open)."""
        if self._file is None:
            return
        data = (json.dumps(record) + "\n").encode()
        with naming(self.path):
            while data:
                data = data[self._file.write(data):]

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class Reports:
    """The steps since the last report, and when the next one is due (see the module docstring)."""

    def __init__(self, every: int | None, seconds: float, clock: Callable[[], float] | None = None):
        self.every, self.seconds = every, seconds
        self.clock = time.perf_counter if clock is None else clock
        self._since = self.clock()
        self._clear()

    def _clear(self) -> None:
        self._loss, self._steps, self._amount, self._time = 0.0, 0, 0.0, 0.0
        self._speed_key = "tokens_per_s"

    def add(self, record: dict) -> None:
        """Count one step record (its loss, its time and what it processed)."""
        self._speed_key = "tokens_per_s" if "tokens_per_s" in record else "samples_per_s"
        self._steps += 1
        self._loss += record["loss"]
        self._amount += record[self._speed_key] * record["seconds"]
        self._time += record["seconds"]

    def forget(self) -> None:
        """Drop what was counted (the steps a rollback undid)."""
        self._clear()

    def due(self, step: int, validated: bool) -> bool:
        """Whether step ``step`` (just done; ``validated``: it ran a validation) gets a report."""
        if validated:
            return True
        if self.every is not None:
            return step % self.every == 0
        return self.clock() - self._since >= self.seconds

    def take(self, trainer, total: int, validated: bool) -> dict:
        """The report on ``trainer``'s run (of ``total`` steps) now; counting starts over."""
        last = trainer.history.evals[-1] if trainer.history.evals else None
        steps = trainer.history.steps
        report = {
            "step": trainer.step, "total": total, "epoch": trainer.epoch,
            "loss": self._loss / self._steps if self._steps else None,
            "val_loss": None if last is None else last["val_loss"], "best_val_loss": trainer.best_val,
            "validated": validated, "improved": bool(validated and last is not None and last["best"]),
            "lr": steps[-1]["lr"] if steps else float(trainer.optimizer.lr),
            self._speed_key: self._amount / self._time if self._time > 0 else None,
            "elapsed": trainer.elapsed, "steps": self._steps,
        }
        self._clear()
        self._since = self.clock()
        return report


def bar_postfix(record: dict, evals: list[dict]) -> dict:
    """What a progress bar shows beside the count: the step's loss and the latest validation loss."""
    shown = {"loss": f"{record['loss']:.4f}"}
    if evals:
        shown["val"] = f"{evals[-1]['val_loss']:.4f}"
    return shown
