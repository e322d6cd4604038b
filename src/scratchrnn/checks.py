"""Argument checks shared by the whole package, and the one rule for random generators.

Each ``check_*`` function returns the value normalised (an ``int``, a ``float``, a ``np.dtype``, a
``np.random.Generator``) or raises ``ValueError`` naming the argument, what was expected and what
came: ``hidden_size must be a positive integer, got 0``. Booleans are never accepted as numbers
(``True`` is an ``int`` to Python, but a flag given where a count is expected is a mistake).

Randomness follows scikit-learn's ``check_random_state``: an ``rng`` (or ``random_state``) argument
is ``None`` (fresh entropy from the operating system), an integer seed, or a
``np.random.Generator``, which is used as it is, so its draws continue where the caller left them.

Numpy scalars are accepted wherever Python numbers and bools are (``np.int64(3)`` for a count,
``np.float32(0.1)`` for a rate, ``np.bool_(True)`` for a flag) and come back as Python ones.

Sizes and memory
----------------
Every size of a model (hidden size, embedding dim, vocabulary, input and output features, layers)
and of a batch or window is checked by :func:`check_size`, which refuses anything above
``MAX_SIZE`` = 2**20 = 1,048,576: far above any real model's width (vocabularies of a few hundred
thousand tokens and hidden sizes of a few thousand pass), and low enough that a typo such as
``hidden_size=10**9`` fails at once. The number of layers of one recurrent stack has its own
limit, ``MAX_LAYERS`` = 1024 (the deepest recurrent stacks in use have tens), so that the list of
a configuration's parameter shapes stays short enough to compute at once. Within the limits, what
a request would allocate is estimated from the sizes before anything is made, and
:func:`check_memory` refuses a request larger than the machine: weights larger than its physical
memory (``os.sysconf``), or, for arrays made now (optimizer state, a forward pass's activations),
larger than the memory available at this moment (``MemAvailable`` in ``/proc/meminfo``). The
message names the sizes and the estimate, so a ``MemoryError`` (or the operating system killing
the process) never is the first sign.
"""

from __future__ import annotations

import functools
import math
import os

import numpy as np

__all__ = [
    "FLOAT_DTYPES",
    "MAX_LAYERS",
    "MAX_SIZE",
    "available_memory",
    "check_callable",
    "check_choice",
    "check_config_dict",
    "check_dtype",
    "check_flag",
    "check_generator",
    "check_int",
    "check_lengths",
    "check_memory",
    "check_numeric_dtype",
    "check_optional_flag",
    "check_optional_int",
    "check_optional_size",
    "check_pair",
    "check_probability",
    "check_random_state",
    "check_real",
    "check_size",
    "check_truncate",
    "format_bytes",
    "is_int",
    "is_real",
    "machine_memory",
]

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))  # the dtypes layers compute in
MAX_SIZE = 2**20  # the largest size of any one axis of a model, batch or window (module docstring)
MAX_LAYERS = 1024  # the most recurrent layers in one stack (module docstring)
# Requests below this share of the machine's memory are never compared with the memory available
# now, so the common small request costs one comparison and no read of /proc/meminfo.
SMALL_REQUEST_SHARE = 16


def is_int(value) -> bool:
    """An integer (Python or numpy), and not a bool."""
    return not isinstance(value, (bool, np.bool_)) and isinstance(value, (int, np.integer))


def is_real(value) -> bool:
    """A real number (Python or numpy int or float), and not a bool."""
    real = (int, float, np.integer, np.floating)
    return not isinstance(value, (bool, np.bool_)) and isinstance(value, real)


def _int_expectation(low: int | None, high: int | None) -> str:
    if low is not None and high is not None:
        return f"an integer in [{low}, {high}]"
    if low == 1:
        return "a positive integer"
    if low is not None:
        return f"an integer >= {low}"
    if high is not None:
        return f"an integer <= {high}"
    return "an integer"


def check_int(name: str, value, low: int | None = None, high: int | None = None) -> int:
    """``value`` as an ``int`` in ``[low, high]`` (either bound may be None), else ValueError."""
    if not is_int(value) or (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{name} must be {_int_expectation(low, high)}, got {value!r}")
    return int(value)


def check_optional_int(name: str, value, low: int | None = None, high: int | None = None) -> int | None:
    """``None``, or ``value`` checked by :func:`check_int`."""
    if value is None:
        return None
    if not is_int(value) or (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{name} must be None or {_int_expectation(low, high)}, got {value!r}")
    return int(value)


def check_size(name: str, value, low: int = 1, limit: int = MAX_SIZE) -> int:
    """A size (hidden size, layers, batch ...) as an ``int`` in ``[low, limit]``, else ValueError;
    the limit is ``MAX_SIZE`` unless given (module docstring)."""
    if type(value) is int and low <= value <= limit:  # the common case, on paths that run every step
        return value
    if is_int(value) and value > limit:
        names = {MAX_SIZE: "MAX_SIZE", MAX_LAYERS: "MAX_LAYERS"}
        which = f" (scratchrnn.checks.{names[limit]})" if limit in names else ""
        raise ValueError(f"{name} must be at most {limit:,}{which}, got {int(value):,}")
    return check_int(name, value, low=low)


def check_optional_size(name: str, value, low: int = 1, limit: int = MAX_SIZE) -> int | None:
    """``None``, or ``value`` checked by :func:`check_size`."""
    if value is None:
        return None
    if not is_int(value) or value < low:
        raise ValueError(f"{name} must be None or {_int_expectation(low, None)}, got {value!r}")
    return check_size(name, value, low=low, limit=limit)


def check_real(
    name: str,
    value,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    allow_inf: bool = False,
) -> float:
    """``value`` as a finite ``float`` (``allow_inf``: or infinite) inside the given bounds
    (closed unless ``low_open`` / ``high_open``), else ValueError."""
    if not is_real(value):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    v = float(value)
    if math.isnan(v) or (math.isinf(v) and not allow_inf):
        raise ValueError(f"{name} must be finite, got {v}")
    if low is not None and (v <= low if low_open else v < low):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low}, got {v}")
    if high is not None and (v >= high if high_open else v > high):
        raise ValueError(f"{name} must be {'<' if high_open else '<='} {high}, got {v}")
    return v


def check_probability(name: str, value) -> float:
    """A probability in [0, 1) (a dropout rate: 1 would drop everything), as a ``float``."""
    if not is_real(value) or not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1), got {value!r}")
    return float(value)


def check_flag(name: str, value) -> bool:
    """``True`` or ``False`` (numpy's bool too), as a ``bool``."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_optional_flag(name: str, value) -> bool | None:
    """``None``, ``True`` or ``False`` (numpy's bool too)."""
    if value is None:
        return None
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be None, True or False, got {value!r}")
    return bool(value)


def check_choice(name: str, value, choices) -> str:
    """One of the strings ``choices``, else ValueError listing them."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(str, choices))}, got {value!r}")
    return value


def check_callable(name: str, value, optional: bool = True):
    """A callable (or ``None`` when ``optional``), returned as it is."""
    if (value is None and optional) or callable(value):
        return value
    raise ValueError(f"{name} must be {'None or ' if optional else ''}a callable, got {type(value).__name__}")


def check_config_dict(config_class, d, what: str) -> dict:
    """``d`` as the keyword arguments of the dataclass ``config_class``: a mapping whose every key
    is one of its fields, else ValueError naming the unknown keys and the known ones."""
    import dataclasses
    from collections.abc import Mapping

    if not isinstance(d, Mapping):
        raise ValueError(f"a {what} configuration must be a dict, got {type(d).__name__}")
    known = {f.name for f in dataclasses.fields(config_class)}
    unknown = sorted(set(d) - known)
    if unknown:
        raise ValueError(f"unknown {what} configuration key(s) {unknown}; known: {sorted(known)}")
    return dict(d)


def check_pair(name: str, value) -> tuple:
    """A tuple or list of exactly two items, as a tuple (the items are checked by the caller)."""
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ValueError(f"{name} must be a pair of numbers, got {value!r}")
    return tuple(value)


def check_truncate(truncate) -> int | None:
    """``None`` (full BPTT) or a non-negative number of steps of truncated BPTT."""
    if truncate is None:
        return None
    if not is_int(truncate) or truncate < 0:
        raise ValueError(f"truncate must be None or an integer >= 0, got {truncate!r}")
    return int(truncate)


def check_lengths(lengths, batch: int, steps: int, name: str = "lengths") -> np.ndarray:
    """Sequence lengths of a padded batch: a 1-D integer array (or list) of ``batch`` values in
    [1, ``steps``], returned as an int64 array (a copy)."""
    what = f"a 1-D integer array of {batch:,} sequence lengths in [1, {steps:,}]"
    if isinstance(lengths, (bool, np.bool_)) or not isinstance(lengths, (np.ndarray, list, tuple)):
        raise ValueError(f"{name} must be {what}, got {type(lengths).__name__}")
    arr = np.asarray(lengths)
    if arr.ndim != 1 or arr.shape[0] != batch:
        raise ValueError(f"{name} must be {what}, got shape {arr.shape}")
    if arr.dtype.kind not in "iu":
        raise ValueError(f"{name} must be {what}, got dtype {arr.dtype}")
    lo, hi = int(arr.min()), int(arr.max())
    if lo < 1 or hi > steps:
        raise ValueError(f"{name} must be {what} (the input's steps), got values in [{lo:,}, {hi:,}]")
    return arr.astype(np.int64)


def _as_dtype(name: str, dtype, expected: str) -> np.dtype:
    if dtype is None:  # np.dtype(None) is float64, which nobody means by None
        raise ValueError(f"{name} must be {expected}, got None")
    try:
        return np.dtype(dtype)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be {expected}, got {dtype!r}") from None


def check_dtype(dtype, name: str = "dtype") -> np.dtype:
    """A float dtype the layers compute in (float32 or float64, by name, type or dtype), as a
    ``np.dtype``."""
    expected = "one of " + ", ".join(dt.name for dt in FLOAT_DTYPES)
    dt = _as_dtype(name, dtype, expected)
    if dt not in FLOAT_DTYPES:
        raise ValueError(f"{name} must be {expected}, got {dt}")
    return dt


def check_numeric_dtype(dtype, name: str = "dtype") -> np.dtype:
    """Any numeric or bool dtype (e.g. for one-hot arrays), as a ``np.dtype``."""
    dt = _as_dtype(name, dtype, "a numeric dtype")
    if dt.kind not in "biuf":
        raise ValueError(f"{name} must be a numeric dtype, got {dt}")
    return dt


# -- memory --------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def machine_memory() -> int | None:
    """Bytes of physical memory of this machine, or None where the system does not say."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return _meminfo("MemTotal")


def available_memory() -> int | None:
    """Bytes of memory available to new allocations now (``MemAvailable``), or the machine's
    memory where the system does not say."""
    found = _meminfo("MemAvailable")
    return machine_memory() if found is None else found


def _meminfo(key: str) -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024  # the file counts kB
    except (OSError, ValueError, IndexError):
        return None
    return None


def format_bytes(n: int) -> str:
    """A byte count for people: ``format_bytes(32 * 10**12) == '32 TB'`` (powers of 1000)."""
    for unit, size in (("PB", 10**15), ("TB", 10**12), ("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if n >= size:
            value = n / size
            return f"{value:.3g} {unit}" if value < 1000 else f"{value:,.0f} {unit}"
    return f"{int(n)} bytes"


def check_memory(nbytes: int, what, for_what: str = "its weights", now: bool = False) -> int:
    """Refuse, before anything is allocated, a request of ``nbytes`` this machine cannot hold.

    With ``now`` False (weights a model would have) the bound is the machine's physical memory;
    with ``now`` True (arrays about to be made) it is the memory available at this moment, read
    only for requests above 1/``SMALL_REQUEST_SHARE`` of the machine. The ValueError reads
    "``what`` needs about 32 TB for ``for_what``; this machine has 25 GB of memory"; ``what``
    may be a function that returns the text, called only then (code that runs every step passes
    one, so no message is formatted in vain). Returns ``nbytes``. Where the system reports no
    memory size nothing is refused.
    """
    total = machine_memory()
    if total is None or nbytes * SMALL_REQUEST_SHARE <= total:
        return nbytes
    limit, has = total, "of memory"
    if now:
        limit, has = available_memory() or total, "available"
    if nbytes > limit:
        what = what() if callable(what) else what
        raise ValueError(f"{what} needs about {format_bytes(nbytes)} for {for_what}; "
                         f"this machine has {format_bytes(limit)} {has}")
    return nbytes


def check_random_state(rng) -> np.random.Generator:
    """The Generator an ``rng`` argument stands for: a new one seeded from the operating system for
    ``None``, a new one seeded with the integer for an int (>= 0), or the Generator itself."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or (is_int(rng) and rng >= 0):
        return np.random.default_rng(None if rng is None else int(rng))
    raise ValueError(
        f"rng must be None, an integer seed >= 0 or a numpy Generator, got {type(rng).__name__} {rng!r}"
    )


def check_generator(rng, name: str = "rng") -> np.random.Generator:
    """A ``np.random.Generator`` itself (for the functions whose caller owns the stream), else ValueError."""
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"{name} must be a numpy Generator (np.random.default_rng(seed)), "
                         f"got {type(rng).__name__}")
    return rng
