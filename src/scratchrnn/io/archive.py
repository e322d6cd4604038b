"""Zip archives of ``.npy`` members, the layout ``numpy.savez`` writes and ``np.load`` reads.

Checkpoints and ``.npz`` weight files are both such archives: member ``<key>.npy`` holds the array
``key`` in the ``.npy`` format (``np.lib.format``), never pickled. This module writes one member,
lists an archive, reads one whole (``read_npz``, the one ``.npz`` reader of the package), and knows
what reading a damaged one can raise.
"""

from __future__ import annotations

import os
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np

from .errors import check_readable, one_line

__all__ = ["READ_ERRORS", "ZIP_MAGIC", "read_npz", "write_member", "zip_members"]

# The first four bytes of a zip file: a local file header, or the end record of an empty archive.
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
# What reading a damaged zip member can raise, from zipfile, zlib and numpy's .npy parser.
READ_ERRORS = (
    zipfile.BadZipFile, zlib.error, struct.error, ValueError, OSError, EOFError, NotImplementedError,
)

_NPY_MAGIC = b"\x93NUMPY"  # how a single .npy array (np.save) starts
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed member dates: the same content gives the same bytes


def write_member(archive: zipfile.ZipFile, key: str, array: np.ndarray, compress: bool) -> None:
    """Write ``array`` as the member ``<key>.npy`` of an archive open for writing (no pickle).

    ``compress`` deflates the member; otherwise it is stored, as ``numpy.savez`` does.
    """
    info = zipfile.ZipInfo(key + ".npy", date_time=_ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16
    with archive.open(info, "w", force_zip64=True) as member:
        np.lib.format.write_array(member, array, allow_pickle=False)


def zip_members(path: Path) -> tuple[list[str], bytes] | None:
    """Member names and archive comment of a zip file, or None when the file is not a zip archive.

    A file that starts like a zip archive but whose directory cannot be read is a ``ValueError``
    naming the file.
    """
    with open(path, "rb") as file:
        if file.read(4) not in ZIP_MAGIC:
            return None
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.namelist(), archive.comment
    except READ_ERRORS as exc:
        raise ValueError(f"{path} is truncated or corrupt (its zip directory cannot be read: "
                         f"{one_line(exc)})") from exc


def read_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """name -> array from an ``.npz`` archive, in the archive's order, read with ``allow_pickle=False``.

    Missing file: ``FileNotFoundError``. A directory, an empty file, a file that is not a zip
    archive (a single ``.npy`` array, text), a truncated or corrupt archive, or a member that is
    not a ``.npy`` array (a pickled object array included): ``ValueError`` naming the file, on one
    line (``w.npz is not a readable .npz file (not a zip archive)``).
    """
    path = Path(path)
    check_readable(path, ".npz file")
    # opened here, not by np.load, so the file is closed even when the archive is corrupt
    with open(path, "rb") as file:
        head = file.read(len(_NPY_MAGIC))
        if head[:4] not in ZIP_MAGIC:
            found = "it holds a single .npy array" if head == _NPY_MAGIC else "not a zip archive"
            raise ValueError(f"{path} is not a readable .npz file ({found}, expected name -> array)")
        file.seek(0)
        try:
            with np.load(file, allow_pickle=False) as archive:
                arrays = {key: archive[key] for key in archive.files}
        except READ_ERRORS as exc:
            raise ValueError(f"{path} is not a readable .npz file ({one_line(exc)})") from exc
    bad = [key for key, value in arrays.items() if not isinstance(value, np.ndarray)]
    if bad:
        raise ValueError(f"{path} is not a readable .npz file (member {bad[0]!r} is not a .npy array)")
    return arrays
