"""Reusable memory for the large arrays of a forward or backward pass.

A fresh array of many megabytes costs more than its allocation: the operating system hands out
its pages on first touch, one fault per page, and takes them back when the array is freed. A
training loop that allocates the same big arrays on every step pays for that again and again
(benchmarks/README.md, "The workspace", has the measurements). ``empty`` hands out memory that
an earlier call used instead, once nothing refers to it any more. The recurrent layers' training
steps (full and truncated BPTT), ``Linear``, the losses, ``Adam``, ``RMSprop`` and ``Adagrad``
take their large per-call arrays (caches, outputs, gradients, scratch) from here, so a training
step of the benchmarks faults no fresh pages. (Token-id gradients and the LSTM's columns of the
ids in use, dropout masks, SGD's and Rprop's temporaries and the GRU's and RNN's prepared weights
still allocate as numpy does.)

How "nothing refers to it" is known: each array handed out is made over a small owner object (a
lease), and every view of the array, however derived, keeps that owner alive (a view's chain of
bases ends at the handed-out array, whose base is the lease). When the last view is gone the
owner is collected and a ``weakref.finalize`` callback returns the buffer. So an array still held
anywhere, a forward cache kept for a later backward for example, is never handed out again. The
callback may run inside the garbage collector, in any thread, even while that thread is inside
``empty``; so it only appends the buffer to a queue, and the next call here moves it to the free
list under the lock.

Arrays under ``MIN_BYTES`` come from numpy as usual (the allocator recycles small blocks anyway).
Buffers start on a 2 MiB boundary, so the kernel can back them with transparent huge pages (numpy
asks for those on large arrays): access that strides across many rows then misses the TLB far
less often. Free buffers beyond ``MAX_FREE_BYTES`` are given back, oldest first; buffers in use
are the caller's and do not count. ``clear()`` gives back every free buffer.
"""

from __future__ import annotations

import collections
import math
import threading
import weakref

import numpy as np

from ..checks import check_numeric_dtype

__all__ = ["MAX_FREE_BYTES", "MIN_BYTES", "clear", "copy", "empty", "free_bytes", "zeros"]

MIN_BYTES = 1 << 20  # 1 MiB: smaller arrays are plain np.empty
MAX_FREE_BYTES = 1 << 28  # 256 MiB of free buffers kept for reuse, at most
_ALIGN = 1 << 21  # 2 MiB, the huge-page size
FILL = None  # for debugging: a value every handed-out float array is filled with (e.g. np.nan)

_lock = threading.Lock()  # guards _free
_free: list[np.ndarray] = []  # raw uint8 buffers, oldest first
_returned: collections.deque[np.ndarray] = collections.deque()  # returned by finalizers, not yet in _free


class _Lease:
    """The owner of one handed-out array; numpy reads the array's memory from it."""

    __slots__ = ("__array_interface__", "__weakref__", "raw")

    def __init__(self, raw: np.ndarray, start: int, shape: tuple[int, ...], dtype: np.dtype):
        self.raw = raw  # keeps the memory alive while any view of the array is
        self.__array_interface__ = {
            "version": 3,
            "shape": shape,
            "typestr": dtype.str,
            "data": (raw.ctypes.data + start, False),  # (address, read-only)
        }


def _release(raw: np.ndarray) -> None:
    _returned.append(raw)  # atomic, and takes no lock: see the module docstring


def _trim(budget: int) -> None:
    """Take in the returned buffers, then give back free ones, oldest first, until at most
    ``budget`` bytes are free (lock held)."""
    while _returned:
        _free.append(_returned.popleft())
    total = sum(b.nbytes for b in _free)
    while _free and total > budget:
        total -= _free.pop(0).nbytes


def _checked_dims(shape) -> tuple[int, ...]:
    dims = (shape,) if isinstance(shape, (int, np.integer)) else shape
    if not isinstance(dims, (tuple, list)) or not all(
        isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d >= 0 for d in dims
    ):
        raise ValueError(f"workspace.empty expects a shape of non-negative ints, got {shape!r}")
    return tuple(int(d) for d in dims)


def empty(shape, dtype) -> np.ndarray:
    """An uninitialised C-contiguous array like ``np.empty(shape, dtype)`` (shape an int or a
    tuple of ints), in reused memory when a free buffer of at least its size (and at most twice
    it) is at hand."""
    dims = shape if type(shape) is tuple else None
    for d in dims or ():  # the common case, a tuple of non-negative ints, checked cheaply
        if type(d) is not int or d < 0:
            dims = None
            break
    if dims is None:
        dims = _checked_dims(shape)
    if not (isinstance(dtype, np.dtype) and dtype.kind in "biufc"):  # a layer's own dtype: no check needed
        dtype = check_numeric_dtype(dtype)
    nbytes = math.prod(dims) * dtype.itemsize
    if nbytes < MIN_BYTES:
        out = np.empty(dims, dtype)
    else:
        need = nbytes + _ALIGN  # room to start on a huge-page boundary
        raw = None
        with _lock:
            _trim(MAX_FREE_BYTES)
            fits = [i for i, b in enumerate(_free) if need <= b.nbytes <= 2 * need]
            if fits:
                raw = _free.pop(min(fits, key=lambda i: _free[i].nbytes))  # the smallest that fits
        if raw is None:
            raw = np.empty(need, np.uint8)  # (need,) bytes
        lease = _Lease(raw, -raw.ctypes.data % _ALIGN, dims, dtype)
        weakref.finalize(lease, _release, raw).atexit = False  # nothing to give back at exit
        out = np.asarray(lease)  # its base is the lease, and every view's chain of bases ends here
    if FILL is not None and dtype.kind in "fc":
        out.fill(FILL)
    return out


def copy(a: np.ndarray) -> np.ndarray:
    """A C-contiguous copy of ``a`` (any layout, e.g. a transposed view) in workspace memory."""
    out = empty(a.shape, a.dtype)  # (a.shape)
    np.copyto(out, a)
    return out


def zeros(shape, dtype) -> np.ndarray:
    """Like ``np.zeros(shape, dtype)``, in workspace memory (see ``empty``)."""
    out = empty(shape, dtype)
    out.fill(0)
    return out


def clear() -> None:
    """Give back every free buffer (buffers in use stay theirs until they are free)."""
    with _lock:
        _trim(0)


def free_bytes() -> int:
    """Bytes of free buffers held for reuse."""
    with _lock:
        _trim(MAX_FREE_BYTES)
        return sum(b.nbytes for b in _free)
