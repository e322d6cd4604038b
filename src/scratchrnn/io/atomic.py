"""Atomic writes: a file on disk is replaced whole or not at all.

``atomic_path(path)`` hands out a temporary path ``.<name>.<random>.tmp`` in the same folder as
``path``; when the ``with`` block ends without an exception the temporary file is fsynced, renamed
over ``path`` with ``os.replace`` and the folder is fsynced, so a reader (or a crash) sees either the
old file or the new one, never a mix. On any exception the temporary file is removed and ``path`` is
left untouched. The temporary name ends in ``.tmp`` so that globs such as ``*.npz`` never pick up a
half-written file; a tool that infers the format from the extension needs it given explicitly
(``fig.savefig(tmp, format="png")``).
"""

from __future__ import annotations

import errno
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["atomic_path", "atomic_write_bytes", "atomic_write_text"]

_TEMP_SUFFIX = ".tmp"
_TEMP_NAME_KEEP = 100  # characters of the target name kept in the temporary name (NAME_MAX is 255)


def _create_temp(folder: Path, name: str) -> Path:
    """Create a new, empty file next to the target; permissions follow the umask like ``open``."""
    while True:
        temp = folder / f".{name[:_TEMP_NAME_KEEP]}.{secrets.token_hex(4)}{_TEMP_SUFFIX}"
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return temp


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDWR)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_folder(folder: Path) -> None:
    """Make the rename durable. Windows cannot open a folder; some filesystems refuse to sync one."""
    if os.name == "nt":
        return
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path to write; on success it atomically becomes ``path``.

    The temporary file already exists (empty) in the folder of ``path``. After the block: fsync
    the temporary file, ``os.replace`` it onto ``path``, fsync the folder. If the block (or any of
    those steps) raises, the temporary file is removed and an existing ``path`` is unchanged.
    The folder must exist (``FileNotFoundError``); ``path`` must not be a directory (``ValueError``).
    """
    path = Path(path)
    folder = path.parent
    if not folder.is_dir():
        raise FileNotFoundError(errno.ENOENT, f"cannot write {path}: folder does not exist", str(folder))
    if path.is_dir():
        raise ValueError(f"cannot write {path}: it is a directory, expected a file path")
    temp = _create_temp(folder, path.name)
    try:
        yield temp
        _fsync_file(temp)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_folder(folder)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see ``atomic_path``); returns ``path`` as a Path."""
    with atomic_path(path) as temp:
        temp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically (see ``atomic_path``); returns ``path`` as a Path."""
    return atomic_write_bytes(path, text.encode(encoding))
