"""Zip archives of ``.npy`` members, the layout ``numpy.savez`` writes and ``np.load`` reads.

Checkpoints and ``.npz`` weight files are both such archives: member ``<key>.npy`` holds the array
``key`` in the ``.npy`` format (``np.lib.format``), never pickled. This module writes one member,
lists an archive, and reads one (``NpyArchive``, and ``read_npz`` for a whole ``.npz`` file, the
one ``.npz`` reader of the package) within the limits of ``scratchrnn.io.limits``.

Reading checks what the archive declares before allocating: the zip directory's size; each
member's compression (stored or deflated, not encrypted), its place in the file (members may not
overlap, the trick of zip bombs that reuse one compressed stream), its declared size against its
compressed size (deflate's ratio), and the sum of the declared sizes against the memory
available. Reading a member reads its ``.npy`` header first and refuses object (pickled) and
subarray dtypes, negative shapes, a byte size over the member limit, and a byte size that
disagrees with the zip entry's; then it reads exactly the declared bytes, in chunks, into the
array, so a member can never inflate past what it declared.
"""

from __future__ import annotations

import math
import os
import struct
import tokenize
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np

from .errors import check_readable, one_line
from .limits import DEFLATE_MAX_RATIO, MAX_DIRECTORY_BYTES, available_memory, member_byte_limit

__all__ = ["READ_ERRORS", "ZIP_MAGIC", "NpyArchive", "read_npz", "write_member", "zip_members"]

# The first four bytes of a zip file: a local file header, or the end record of an empty archive.
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
# What reading a damaged zip archive can raise, from zipfile, zlib and numpy's .npy parser
# (RuntimeError: an encrypted member; NotImplementedError: an unknown compression method).
READ_ERRORS = (
    zipfile.BadZipFile, zlib.error, struct.error, ValueError, OSError, EOFError, NotImplementedError,
    RuntimeError, OverflowError, SyntaxError,
)

_NPY_MAGIC = b"\x93NUMPY"  # how a single .npy array (np.save) starts
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed member dates: the same content gives the same bytes
_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflated"}  # what numpy writes
_LOCAL_HEADER = 30  # bytes of a zip local file header before its name
_END_RECORD = struct.Struct("<4s4H2LH")  # end of central directory: signature ... size, offset, comment
_ZIP64_LOCATOR = struct.Struct("<4sLQL")  # signature, disk, offset of the zip64 end record, disks
_ZIP64_END = struct.Struct("<4sQ2H2L4Q")  # ... entries on disk, entries, directory size, offset
_CHUNK = 1 << 20  # bytes inflated per read: the only memory a read takes beyond the array
_RATIO_SLACK = 1024  # bytes a tiny deflated member may declare beyond the ratio (block headers)


class _Refused(ValueError):
    """An archive refused by these checks: its message is complete and is passed on unchanged."""


def write_member(archive: zipfile.ZipFile, key: str, array: np.ndarray, compress: bool) -> None:
    """Write ``array`` as the member ``<key>.npy`` of an archive open for writing (no pickle).

    ``compress`` deflates the member; otherwise it is stored, as ``numpy.savez`` does.
    """
    info = zipfile.ZipInfo(key + ".npy", date_time=_ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16
    with archive.open(info, "w", force_zip64=True) as member:
        np.lib.format.write_array(member, array, allow_pickle=False)


def _directory_size(file) -> int | None:
    """The zip directory's size as the end record (or its zip64 record) declares it; None if absent."""
    file.seek(0, os.SEEK_END)
    size = file.tell()
    tail_size = min(size, _END_RECORD.size + 0xFFFF)  # the end record, then a comment of < 64 KiB
    file.seek(size - tail_size)
    tail = file.read(tail_size)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < _END_RECORD.size:
        return None
    declared = _END_RECORD.unpack_from(tail, at)[5]
    locator_at = size - tail_size + at - _ZIP64_LOCATOR.size
    if locator_at >= 0:  # zipfile then takes the sizes from the zip64 record: so must we
        file.seek(locator_at)
        locator = file.read(_ZIP64_LOCATOR.size)
        if locator[:4] == b"PK\x06\x07":
            offset = _ZIP64_LOCATOR.unpack(locator)[2]
            if offset < size:
                file.seek(offset)
                record = file.read(_ZIP64_END.size)
                if len(record) == _ZIP64_END.size and record[:4] == b"PK\x06\x06":
                    declared = _ZIP64_END.unpack(record)[8]
    return declared


class NpyArchive:
    """A zip archive of ``.npy`` members open for reading within the limits (see the module docstring).

    ``problem`` begins each message about a member and ``directory_problem`` (by default the same)
    each about the archive as a whole, so an error reads ``<problem> (<what was wrong>)``:
    ``NpyArchive(path, f"{path} is corrupt", f"{path} is truncated or corrupt")``. Every error is a
    one-line ``ValueError``. Use it as a context manager.
    ``keys`` lists the ``.npy`` members by key (name without ``.npy``) in the archive's order,
    ``others`` any other members; ``header(key)`` reads only a member's ``.npy`` header,
    ``read(key)`` the array.
    """

    def __init__(self, path: str | os.PathLike, problem: str, directory_problem: str | None = None):
        self.problem = problem
        self.directory_problem = problem if directory_problem is None else directory_problem
        self._file = open(path, "rb")  # noqa: SIM115 - closed by close()
        try:
            self._open()
        except BaseException:
            self._file.close()
            raise

    def _open(self) -> None:
        declared = _directory_size(self._file)
        if declared is not None and declared > MAX_DIRECTORY_BYTES:
            raise self.directory_error(f"its zip directory declares {declared} bytes, more than the "
                             f"{MAX_DIRECTORY_BYTES} (MAX_DIRECTORY_BYTES) a reader accepts")
        self._file.seek(0)
        try:
            self._zip = zipfile.ZipFile(self._file)
            infos = self._zip.infolist()
        except READ_ERRORS as exc:
            raise self.directory_error(f"its zip directory cannot be read: {one_line(exc)}") from exc
        self._infos: dict[str, zipfile.ZipInfo] = {}
        self.others: list[str] = []
        names = set()
        for info in infos:
            if info.filename in names:
                raise self.directory_error(f"it holds two members named {info.filename!r}")
            names.add(info.filename)
            if info.filename.endswith(".npy"):
                self._infos[info.filename[:-4]] = info
            else:
                self.others.append(info.filename)
        self.keys = list(self._infos)
        self._check_layout(infos)

    def _check_layout(self, infos: list[zipfile.ZipInfo]) -> None:
        """Each member's method and sizes, no two members sharing bytes, the total against memory."""
        refuse = self.directory_error
        for info in infos:
            where = f"member {info.filename!r}"
            if info.flag_bits & 0x1:
                raise refuse(f"{where} is encrypted")
            if info.compress_type not in _METHODS:
                raise refuse(f"{where} uses compression method {info.compress_type}; only stored and "
                             "deflated members are read")
            if info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size:
                raise refuse(f"{where} is stored with {info.compress_size} bytes but declares "
                             f"{info.file_size}")
            if info.file_size > DEFLATE_MAX_RATIO * info.compress_size + _RATIO_SLACK:
                raise refuse(f"{where} declares {info.file_size} bytes from {info.compress_size} "
                             f"compressed, more than deflate can produce ({DEFLATE_MAX_RATIO}:1)")
        end = getattr(self._zip, "start_dir", None)
        for info in sorted(infos, key=lambda i: i.header_offset, reverse=True):
            data_end = info.header_offset + _LOCAL_HEADER + info.compress_size  # the name, extras come too
            if info.header_offset < 0 or (end is not None and data_end > end):
                raise refuse(f"member {info.filename!r} overlaps another member or the zip directory")
            end = info.header_offset
        total = sum(info.file_size for info in self._infos.values())
        memory = available_memory()
        if memory is not None and total > memory:
            raise refuse(f"its members declare {total} bytes, more than the {memory} bytes of memory "
                         "available")

    def error(self, what: str) -> ValueError:
        """The one-line ValueError ``<problem> (<what>)`` about a member."""
        return _Refused(f"{self.problem} ({what})")

    def directory_error(self, what: str) -> ValueError:
        """The one-line ValueError ``<directory_problem> (<what>)`` about the archive."""
        return _Refused(f"{self.directory_problem} ({what})")

    def close(self) -> None:
        zip_file = getattr(self, "_zip", None)
        if zip_file is not None:
            zip_file.close()
        self._file.close()

    def __enter__(self) -> NpyArchive:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # -- members ----------------------------------------------------------------------------
    def _info(self, key: str) -> zipfile.ZipInfo:
        info = self._infos.get(key) if isinstance(key, str) else None
        if info is None:
            raise self.error(f"no array member {key!r}")
        return info

    def _read_header(self, key: str, member) -> tuple[tuple[int, ...], bool, np.dtype, int]:
        """(shape, fortran_order, dtype, data bytes) from the open member, checked; nothing allocated."""
        info = self._info(key)
        where = f"member {key!r}"
        magic = member.read(len(_NPY_MAGIC) + 2)  # the magic string, then the format version
        if magic[:len(_NPY_MAGIC)] != _NPY_MAGIC or len(magic) < len(_NPY_MAGIC) + 2:
            raise self.error(f"{where} is not a .npy array")
        version = (magic[-2], magic[-1])
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a deprecated dtype alias is refused, not warned about
            try:
                if version == (1, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_1_0(member)
                elif version == (2, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_2_0(member)
                else:
                    raise ValueError(f".npy format version {version[0]}.{version[1]} is not read "
                                     "(1.0 and 2.0 are)")
            except (*READ_ERRORS, RecursionError, tokenize.TokenError, Warning) as exc:  # numpy's parser
                raise self.error(f"{where} has an unreadable .npy header: {one_line(exc)}") from exc
        if dtype.hasobject:
            raise self.error(f"{where} holds Python objects (dtype {dtype}), which are never read "
                             "(no pickle)")
        if dtype.subdtype is not None:
            raise self.error(f"{where} has the subarray dtype {dtype}, which no saved array has")
        if any(n < 0 for n in shape):
            raise self.error(f"{where} has the negative shape {shape}")
        nbytes = math.prod(shape) * dtype.itemsize
        limit = member_byte_limit()
        # numpy refuses a shape whose nonzero dimensions multiply past its index range, even for
        # an empty array, and an empty dtype makes any element count cost no bytes: bound both
        if max(nbytes, math.prod(max(n, 1) for n in shape)) > limit:
            raise self.error(f"{where} declares shape {shape} of {dtype} ({nbytes} bytes), more than "
                             f"the {limit} bytes (or elements) a member may hold (MAX_MEMBER_BYTES or "
                             "the memory available)")
        if member.tell() + nbytes != info.file_size:
            raise self.error(f"{where} declares shape {shape} of {dtype} ({nbytes} bytes after a "
                             f"{member.tell()}-byte header), but its zip entry holds {info.file_size}")
        return tuple(int(n) for n in shape), bool(fortran), dtype, nbytes

    def header(self, key: str) -> tuple[tuple[int, ...], np.dtype]:
        """The (shape, dtype) a member declares, read from its ``.npy`` header alone."""
        try:
            with self._zip.open(self._info(key)) as member:
                shape, _, dtype, _ = self._read_header(key, member)
        except _Refused:
            raise
        except READ_ERRORS as exc:
            raise self.error(f"member {key!r} cannot be read: {one_line(exc)}") from exc
        return shape, dtype

    def read(self, key: str) -> np.ndarray:
        """The array in member ``key``: its declared bytes and no more, checked against its CRC."""
        try:
            with self._zip.open(self._info(key)) as member:
                shape, fortran, dtype, nbytes = self._read_header(key, member)
                try:
                    flat = np.empty(math.prod(shape), dtype=dtype)  # (n,)
                except MemoryError:
                    raise self.error(f"member {key!r} needs {nbytes} bytes: not enough memory") from None
                self._fill(key, member, flat.view(np.uint8) if nbytes else None, nbytes)
                return flat.reshape(shape[::-1]).transpose() if fortran else flat.reshape(shape)
        except _Refused:
            raise
        except READ_ERRORS as exc:
            raise self.error(f"member {key!r} cannot be read: {one_line(exc)}") from exc

    def _fill(self, key: str, member, out: np.ndarray | None, nbytes: int) -> None:
        """Read ``nbytes`` from ``member`` into the uint8 view ``out``, one chunk at a time."""
        done = 0
        while done < nbytes:
            chunk = member.read(min(_CHUNK, nbytes - done))
            if not chunk:
                raise self.error(f"member {key!r} ends after {done} of its {nbytes} data bytes")
            out[done:done + len(chunk)] = np.frombuffer(chunk, dtype=np.uint8)
            done += len(chunk)


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
    """name -> array from an ``.npz`` archive, in the archive's order, without pickle and within limits.

    Missing file: ``FileNotFoundError``. A directory, an empty file, a file that is not a zip
    archive (a single ``.npy`` array, text), a truncated or corrupt archive, a member that is not
    a ``.npy`` array (a pickled object array included) or that declares more than the limits of
    ``scratchrnn.io.limits``: ``ValueError`` naming the file, on one line
    (``w.npz is not a readable .npz file (not a zip archive, ...)``).
    """
    path = Path(path)
    check_readable(path, ".npz file")
    with open(path, "rb") as file:
        head = file.read(len(_NPY_MAGIC))
    if head[:4] not in ZIP_MAGIC:
        found = "it holds a single .npy array" if head == _NPY_MAGIC else "not a zip archive"
        raise ValueError(f"{path} is not a readable .npz file ({found}, expected name -> array)")
    with NpyArchive(path, f"{path} is not a readable .npz file") as archive:
        if archive.others:
            raise archive.error(f"member {archive.others[0]!r} is not a .npy array")
        return {key: archive.read(key) for key in archive.keys}
