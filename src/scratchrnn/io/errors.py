"""What the io readers raise, and how they word it.

A reader's message names the file and says what was expected, on one line: a missing file is
``FileNotFoundError`` (its ``filename`` is the path), anything else wrong with a file is
``ValueError``. A call that needs an optional package (torch, safetensors) that is not installed
raises ``MissingDependencyError``, which is both an ``ImportError`` and a ``ValueError``.
"""

from __future__ import annotations

import errno
from pathlib import Path

__all__ = ["MissingDependencyError", "check_readable", "one_line"]


class MissingDependencyError(ImportError, ValueError):
    """An optional package (torch, safetensors) is needed for this call and is not installed."""


def one_line(exc: BaseException) -> str:
    """The message of another library's exception on one line, to quote inside our own message."""
    return " ".join(str(exc).split()) or type(exc).__name__


def check_readable(path: Path, what: str) -> None:
    """Refuse a path that is not an existing, non-empty regular file before trying to parse it.

    ``what`` names the file expected (``"safetensors file"``). Missing: ``FileNotFoundError``
    (``"<what> not found"``); a directory, a FIFO, a device or socket (which a reader could wait
    on forever), or an empty file: ``ValueError`` naming ``path``.
    """
    if not path.exists():
        raise FileNotFoundError(errno.ENOENT, f"{what} not found", str(path))
    if path.is_dir():
        raise ValueError(f"{path} is a directory, not a {what}")
    if not path.is_file():
        raise ValueError(f"{path} is not a regular file (a FIFO, device or socket), not a {what}")
    if path.stat().st_size == 0:
        raise ValueError(f"{path} is empty (0 bytes), not a {what}")
