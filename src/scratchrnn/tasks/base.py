"""What every task returns: headline numbers, curves, artifacts and the kinds of figure it has."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["TaskResult"]


@dataclass
class TaskResult:
    """The outcome of one task run: headline numbers for the demo table plus everything to plot.

    Attributes:
        name (str): the task's name, as ``scratchrnn task NAME`` takes it.
        tutorial (str): what the tutorial reports, in words.
        ours (str): our headline result, in words.
        target (str): what counts as success.
        passed (bool): whether ``ours`` met ``target``.
        seconds (float): wall time of the run.
        metrics (dict, default {}): JSON-able numbers for summary.json.
        curves (dict of str to list of float, default {}): loss curves and the like, for plots.
        artifacts (dict, default {}): arrays for the task's own figures.
        figures (tuple of str, default ()): kinds of ``scratchrnn.plot.FIGURES`` drawn from the artifacts,
            besides the loss curves.
        files (dict of str to callable, default {}): files the run can leave in its folder, such as
            the trained model: a file name and a function that writes that file to the path it is given.
    """

    name: str
    tutorial: str  # what the tutorial reports, in words
    ours: str  # our headline result, in words
    target: str  # what counts as success
    passed: bool  # did ``ours`` meet ``target``
    seconds: float
    metrics: dict[str, Any] = field(default_factory=dict)  # JSON-able numbers for summary.json
    curves: dict[str, list[float]] = field(default_factory=dict)  # loss curves etc. for plots
    artifacts: dict[str, Any] = field(default_factory=dict)  # arrays for task-specific plots
    # figures drawn besides the loss curves: kinds of scratchrnn.plot.FIGURES, drawn from artifacts
    figures: tuple[str, ...] = ()
    files: dict[str, Callable[[Path], Any]] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """JSON-able record for summary.json."""
        return {
            "name": self.name,
            "tutorial": self.tutorial,
            "ours": self.ours,
            "target": self.target,
            "passed": self.passed,
            "seconds": round(self.seconds, 3),
            "metrics": self.metrics,
        }
