"""Atomic writes: a file on disk is replaced whole or not at all, and keeps what it was.

``atomic_path(path)`` hands out a temporary path ``.<name>.<random>.scratchrnn.tmp`` in the folder
of the file to write; when the ``with`` block ends without an exception the temporary file is
fsynced, renamed over the file with ``os.replace`` and the folder is fsynced, so a reader (or a
crash) sees either the old file or the new one, never a mix. On any exception the temporary file
is removed and the file is left untouched. The temporary name ends in ``.tmp`` so that globs such
as ``*.npz`` never pick up a half-written file; a tool that infers the format from the extension
needs it given explicitly (``fig.savefig(tmp, format="png")``).

What is already at the path is respected:

* a regular file keeps its permission bits (a 600 file stays 600); a new file gets the umask's
  default, as ``open`` gives it;
* a symlink stays a symlink: its target is replaced (atomically, in the target's folder);
* a path that exists and is not a regular file (a FIFO, a character device such as ``/dev/null``
  or ``/dev/stdout``) cannot be replaced without breaking whoever reads it, so it is handed out
  itself and written directly: not atomically, and nothing is removed if the write fails.

Temporary files left by a write that was killed (SIGKILL, power loss) are removed by the next
write to the same folder: only names of exactly this pattern, and only when older than
``STALE_TEMP_SECONDS`` (ten minutes). The rule is age, not the writer's process id: a process id
says nothing on a folder shared by several machines and may belong to a new process by now, while
a write in progress keeps its file's modification time fresh; and removing a live write's file
by mistake only makes that write fail (its rename finds nothing), never damages the file it
was replacing.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["STALE_TEMP_SECONDS", "atomic_path", "atomic_write_bytes", "atomic_write_text", "temp_target"]

STALE_TEMP_SECONDS = 600  # a leftover temporary file older than this belongs to no live write

_TEMP_SUFFIX = ".scratchrnn.tmp"
_TEMP_NAME_KEEP = 100  # characters of the target name kept in the temporary name (NAME_MAX is 255)
_TEMP_PATTERN = re.compile(r"\.(.+)\.[0-9a-f]{8}" + re.escape(_TEMP_SUFFIX))


def _create_temp(folder: Path, name: str, mode: int) -> Path:
    """Create a new, empty file next to the target with ``mode`` less the umask, as ``open`` does."""
    while True:
        temp = folder / f".{name[:_TEMP_NAME_KEEP]}.{secrets.token_hex(4)}{_TEMP_SUFFIX}"
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        except FileExistsError:
            continue
        os.close(fd)
        return temp


def _remove_stale_temps(folder: Path) -> None:
    """Remove the temporary files of earlier writes to ``folder`` that were killed (see above)."""
    now = time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        if not _TEMP_PATTERN.fullmatch(entry.name):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISREG(info.st_mode) and now - info.st_mtime > STALE_TEMP_SECONDS:
                os.unlink(entry.path)
        except OSError:  # gone already (another writer cleaned it), or not ours to remove
            continue


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


def _target(path: Path) -> tuple[Path, os.stat_result | None]:
    """The file a write to ``path`` replaces (a symlink's target) and its status (None if new)."""
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    try:
        info = os.stat(target)
    except FileNotFoundError:
        return target, None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ValueError(f"cannot write {path}: it is a symlink loop") from None
        raise
    return target, info


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path to write; on success it atomically becomes ``path``.

    The temporary file already exists (empty; readable only by its owner if it replaces a file) in
    the folder of ``path``, or of its target if ``path`` is a symlink. After the block: fsync the
    temporary file, ``os.replace`` it onto the file, fsync the folder. If the block (or any of
    those steps) raises, the temporary file is removed and an existing file is unchanged.
    A FIFO or device at ``path`` is yielded itself and written directly (see the module docstring).
    The folder must exist (``FileNotFoundError``); ``path`` must not be a directory (``ValueError``).
    """
    path = Path(path)
    target, info = _target(path)
    if info is not None and stat.S_ISDIR(info.st_mode):
        raise ValueError(f"cannot write {path}: it is a directory, expected a file path")
    if info is not None and not stat.S_ISREG(info.st_mode):
        yield target  # a FIFO or a device: whoever reads it keeps reading the same one
        return
    folder = target.parent
    if not folder.is_dir():
        raise FileNotFoundError(errno.ENOENT, f"cannot write it: its folder {folder} does not exist",
                                str(path))
    _remove_stale_temps(folder)
    # Over an existing file the data is private while it is written, then gets the file's bits
    # (after the fsync, which opens it for writing: the bits may forbid that).
    temp = _create_temp(folder, target.name, 0o600 if info is not None else 0o666)
    try:
        yield temp
        _fsync_file(temp)
        if info is not None:
            os.chmod(temp, stat.S_IMODE(info.st_mode))
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_folder(folder)


def temp_target(path: str | os.PathLike) -> Path | None:
    """The file a temporary path of ``atomic_path`` stands for (the same folder, the name inside
    it), or None when ``path`` is no such name or the name was cut to fit (a long one)."""
    path = Path(path)
    match = _TEMP_PATTERN.fullmatch(path.name)
    if match is None or len(match.group(1)) >= _TEMP_NAME_KEEP:
        return None
    return path.with_name(match.group(1))


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see ``atomic_path``); returns ``path`` as a Path."""
    with atomic_path(path) as temp:
        temp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically (see ``atomic_path``); returns ``path`` as a Path."""
    return atomic_write_bytes(path, text.encode(encoding))
