"""The tutorial systems, one module each: dataset + model + training config + evaluation.

Each module has a ``Config`` dataclass (with ``quick()`` for the demo) and ``run(cfg) -> TaskResult``;
the result names the figures drawn from it besides the loss curves (``TaskResult.figures``).
"""

from __future__ import annotations

import importlib
from types import ModuleType

from .base import TaskResult

__all__ = ["TASKS", "TaskResult", "get_task"]

# command-line name -> module name, in the order the demo runs them
TASKS: dict[str, str] = {
    "binary-to-decimal": "binary_to_decimal",
    "addition": "addition",
    "sine": "sine",
    "hello": "hello",
    "word-lm": "word_lm",
    "vowels": "vowels",
    "first-token": "first_token",
    "forecast": "forecast",
    "addition-text": "addition_text",
    "reverse-text": "reverse_text",
}


def get_task(name: str) -> ModuleType:
    """The module of task ``name``; unknown names raise ValueError listing the known ones."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; expected one of {', '.join(TASKS)}")
    return importlib.import_module(f".{TASKS[name]}", __name__)
