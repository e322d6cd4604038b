"""Argument checks shared by the whole package, and the one rule for random generators.

Each ``check_*`` function returns the value normalised (an ``int``, a ``float``, a ``np.dtype``, a
``np.random.Generator``) or raises ``ValueError`` naming the argument, what was expected and what
came: ``hidden_size must be a positive integer, got 0``. Booleans are never accepted as numbers
(``True`` is an ``int`` to Python, but a flag given where a count is expected is a mistake).

Randomness follows scikit-learn's ``check_random_state``: an ``rng`` (or ``random_state``) argument
is ``None`` (fresh entropy from the operating system), an integer seed, or a
``np.random.Generator``, which is used as it is, so its draws continue where the caller left them.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "FLOAT_DTYPES",
    "check_dtype",
    "check_flag",
    "check_int",
    "check_optional_int",
    "check_pair",
    "check_probability",
    "check_random_state",
    "check_real",
    "check_truncate",
    "is_int",
    "is_real",
]

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))  # the dtypes layers compute in


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


def check_dtype(dtype) -> np.dtype:
    """A float dtype the layers compute in (float32 or float64), as a ``np.dtype``."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise ValueError(f"dtype must be float32 or float64, got {dtype!r}") from None
    if dt not in FLOAT_DTYPES:
        raise ValueError(f"dtype must be float32 or float64, got {dt}")
    return dt


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
