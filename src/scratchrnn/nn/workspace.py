"""Reusable memory for the large arrays of a forward or backward pass.

A fresh array of many megabytes costs more than its allocation: the operating system hands out
its pages on first touch, one fault per page, and returns them when the array is freed. A
training loop that allocates the same big arrays on every step pays that again and again (about
5 ms per 50 MB here, a tenth of an LSTM step at hidden size 512). ``empty`` hands out memory that
an earlier call used instead, once nothing refers to it any more.

Whether anything still refers to a buffer is read off its reference count: the arrays handed out
are views of a pooled buffer, and every view (the caller's array, a cache holding it, a slice of
it) counts as one reference to the buffer. A buffer is reused only when the pool's own reference
is the last, so an array still held anywhere, a forward cache kept for a later backward for
example, is never overwritten.

Each thread has its own pool. Arrays under ``MIN_BYTES`` come from numpy as usual (small blocks
are recycled by the allocator anyway), and a pool keeps at most ``MAX_BYTES`` of buffers, dropping
free ones, least recently used first, beyond that. ``clear()`` drops the calling thread's free
buffers.
"""

from __future__ import annotations

import math
import sys
import threading

import numpy as np

__all__ = ["MAX_BYTES", "MIN_BYTES", "clear", "empty", "pooled_bytes"]

MIN_BYTES = 1 << 20  # 1 MiB
MAX_BYTES = 1 << 29  # 512 MiB per thread
# Arrays start on a 2 MiB boundary, so that the kernel can back them with transparent huge pages
# (numpy asks for those on large arrays): strided access across many rows then misses the TLB far
# less often.
_ALIGN = 1 << 21

_local = threading.local()

# References to a pooled buffer while ``_free`` looks at it: the pool's list, the loop variable
# and the argument of sys.getrefcount. One more means an array made from it is alive.
_POOL_ONLY = 3


def _pool() -> list[np.ndarray]:
    pool = getattr(_local, "buffers", None)
    if pool is None:
        pool = _local.buffers = []  # most recently used last
    return pool


def empty(shape, dtype) -> np.ndarray:
    """An uninitialised C-contiguous array, like ``np.empty(shape, dtype)``, in reused memory
    when the pool has a free buffer of the same size."""
    dtype = np.dtype(dtype)
    shape = tuple(int(s) for s in (shape if isinstance(shape, tuple) else (shape,)))
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes < MIN_BYTES:
        return np.empty(shape, dtype)
    pool = _pool()
    size = nbytes + _ALIGN  # room to start the array on a huge-page boundary
    found = None
    for pos in range(len(pool) - 1, -1, -1):
        buf = pool[pos]
        if buf.nbytes == size and sys.getrefcount(buf) == _POOL_ONLY:
            found = pool.pop(pos)
            break
        del buf
    if found is None:
        found = np.empty(size, np.uint8)
        _trim(pool, MAX_BYTES - size)
    pool.append(found)
    start = -found.ctypes.data % _ALIGN
    # a view of a view has the buffer itself as its base, so the reference count stays the one to read
    return found[start : start + nbytes].view(dtype).reshape(shape)


def _trim(pool: list[np.ndarray], budget: int) -> None:
    """Drop free buffers, oldest first, until the pool holds at most ``budget`` bytes."""
    total = sum(b.nbytes for b in pool)
    pos = 0
    while total > budget and pos < len(pool):
        buf = pool[pos]
        if sys.getrefcount(buf) == _POOL_ONLY:
            total -= buf.nbytes
            del buf
            del pool[pos]
        else:
            del buf
            pos += 1


def clear() -> None:
    """Drop the calling thread's free buffers (those still in use stay until they are free)."""
    _trim(_pool(), 0)


def pooled_bytes() -> int:
    """Bytes held by the calling thread's pool, in use or free."""
    return sum(b.nbytes for b in _pool())
