"""Data for the tutorial tasks, made with vectorized numpy and an explicit random Generator.

Every array is time-major like the layers: (T, N, F), one time step per bit or per sample.

- binary to decimal: read a number's bits most-significant first and regress its value;
- binary addition: read two numbers' bits least-significant first (the order a carry travels)
  and emit the bits of their sum at the same steps;
- sine: predict the next value of sin(t) from the previous ``window`` values.
"""

from __future__ import annotations

import numpy as np

from ..checks import (
    check_dtype,
    check_flag,
    check_int,
    check_memory,
    check_optional_int,
    check_random_state,
    check_size,
)

__all__ = [
    "MAX_BITS",
    "MAX_ENUMERATED_BITS",
    "addition_pairs",
    "all_addition_pairs",
    "all_binary_numbers",
    "binary_numbers",
    "bits_to_int",
    "int_to_bits",
    "sine_train_val",
    "sine_windows",
]

MAX_BITS = 62  # values and sums stay below 2**63, so int64 holds them exactly
MAX_ENUMERATED_BITS = 16  # all_* functions build at most 2**16 rows; more is surely a mistake


def int_to_bits(values, bits: int, lsb_first: bool = True, dtype=np.float32) -> np.ndarray:
    """Bits (bits, N, 1) of non-negative integers (N,): ``x[t] = (v >> t) & 1`` when LSB first,
    ``x[t] = (v >> (bits - 1 - t)) & 1`` when MSB first. Values must be below ``2**bits``."""
    bits = check_int("bits", bits, low=1, high=MAX_BITS + 1)
    lsb_first, dtype = check_flag("lsb_first", lsb_first), check_dtype(dtype)
    v = np.asarray(values)
    if v.ndim != 1 or not np.issubdtype(v.dtype, np.integer):
        raise ValueError(f"values must be a 1-D integer array, got {v.dtype} of shape {v.shape}")
    v = v.astype(np.uint64)  # (N,)
    if v.size and (np.asarray(values).min() < 0 or int(v.max()) >> bits):
        lo, hi = np.min(values), np.max(values)
        raise ValueError(f"values must lie in [0, 2**{bits}), got the range [{lo}, {hi}]")
    shifts = np.arange(bits, dtype=np.uint64)  # (T,)
    if not lsb_first:
        shifts = shifts[::-1]
    out = (v[None, :] >> shifts[:, None]) & np.uint64(1)  # (T, N)
    return out[:, :, None].astype(dtype)  # (T, N, 1)


def bits_to_int(bits_array, lsb_first: bool = True) -> np.ndarray:
    """Integers from bits along axis 0: (T, ...) -> (...) uint64, ``sum_t b[t] * 2**t`` (LSB first).

    Exact for T <= 64 (no float rounding, no overflow). Entries must be 0 or 1 (any dtype); round
    network outputs first, e.g. ``bits_to_int(pred > 0.5)``.
    """
    lsb_first = check_flag("lsb_first", lsb_first)
    b = np.asarray(bits_array)
    if b.ndim == 0 or b.shape[0] == 0:
        raise ValueError(f"bits_to_int expects bits along axis 0, got shape {b.shape}")
    if b.shape[0] > 64:
        raise ValueError(f"bits_to_int decodes at most 64 bits into uint64, got {b.shape[0]}")
    if not np.isin(b, (0, 1)).all():
        raise ValueError(
            "bits_to_int expects entries equal to 0 or 1; threshold predictions first (pred > 0.5)"
        )
    T = b.shape[0]
    place = np.arange(T, dtype=np.uint64)  # (T,)
    if not lsb_first:
        place = place[::-1]
    weights = (np.uint64(1) << place).reshape((T,) + (1,) * (b.ndim - 1))  # (T, 1, ...)
    return (b.astype(np.uint64) * weights).sum(axis=0, dtype=np.uint64)  # (...)


def _check_rows(n: int, steps: int, features: int, what: str) -> None:
    """Refuse n sequences of ``steps`` steps whose arrays (inputs, targets and the uint64 bits they
    are cut from: about 8 + 8 bytes per feature and step) would not fit in the memory available."""
    check_memory(n * steps * features * 16, f"{what} of {n:,} sequences of {steps} steps", "its arrays",
                 now=True)


# -- binary to decimal -------------------------------------------------------------------------
def binary_numbers(n: int, bits: int, rng, dtype=np.float32) -> tuple[np.ndarray, np.ndarray]:
    """``n`` numbers drawn uniformly from [0, 2**bits): x (bits, n, 1) with the most significant bit
    at step 0, and their values (n,) int64."""
    n = check_int("n", n, low=1)
    bits = check_int("bits", bits, low=1, high=MAX_BITS)
    dtype = check_dtype(dtype)
    _check_rows(n, bits, 1, "binary_numbers")
    values = check_random_state(rng).integers(0, 2**bits, size=n, dtype=np.int64)  # (n,)
    return int_to_bits(values, bits, lsb_first=False, dtype=dtype), values


def all_binary_numbers(bits: int, dtype=np.float32) -> tuple[np.ndarray, np.ndarray]:
    """Every number 0 .. 2**bits - 1 in order: x (bits, 2**bits, 1) MSB first, values (2**bits,)."""
    bits = check_int("bits", bits, low=1, high=MAX_ENUMERATED_BITS)
    dtype = check_dtype(dtype)
    values = np.arange(2**bits, dtype=np.int64)  # (N,)
    return int_to_bits(values, bits, lsb_first=False, dtype=dtype), values


# -- binary addition ---------------------------------------------------------------------------
def _addition_arrays(a: np.ndarray, b: np.ndarray, steps: int, dtype) -> tuple[np.ndarray, np.ndarray]:
    x = np.concatenate(
        [int_to_bits(a, steps, dtype=dtype), int_to_bits(b, steps, dtype=dtype)], axis=2
    )  # (T, N, 2)
    y = int_to_bits(a + b, steps, dtype=dtype)  # (T, N, 1)
    return x, y


def _addition_limit(bits: int, carry_out: bool, max_value) -> int:
    largest = 2**bits - 1 if carry_out else 2 ** (bits - 1) - 1
    max_value = check_optional_int("max_value", max_value, low=0)
    if max_value is None:
        return largest
    if max_value > largest:
        how = "bits + 1 steps" if carry_out else f"{bits} bits (2 * max_value must stay below 2**{bits})"
        raise ValueError(
            f"max_value={max_value} is too large: the sum of two operands must fit in {how}, so "
            f"max_value can be at most {largest}"
            + ("" if carry_out else "; pass carry_out=True or use more bits")
        )
    return max_value


def addition_pairs(
    n: int, bits: int, rng, max_value: int | None = None, carry_out: bool = False, dtype=np.float32
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random sums a + b, with a, b uniform on [0, max_value], as bit sequences LSB first.

    Returns inputs (T, n, 2) (a's bit, b's bit at each step) and targets (T, n, 1) (the sum's bit).
    By default T = bits and max_value = 2**(bits-1) - 1, so every sum fits in ``bits`` bits (the
    classic tutorial setting); a larger max_value raises. With ``carry_out=True``, T = bits + 1,
    operands may use all ``bits`` bits (max_value up to 2**bits - 1), the last input step is zero
    and the last target step is the final carry. Decode with ``bits_to_int``.
    """
    n = check_int("n", n, low=1)
    bits = check_int("bits", bits, low=1, high=MAX_BITS - 1)
    carry_out, dtype = check_flag("carry_out", carry_out), check_dtype(dtype)
    high = _addition_limit(bits, carry_out, max_value)
    _check_rows(n, bits + 1, 3, "addition_pairs")
    gen = check_random_state(rng)
    a = gen.integers(0, high, size=n, dtype=np.int64, endpoint=True)  # (n,)
    b = gen.integers(0, high, size=n, dtype=np.int64, endpoint=True)  # (n,)
    return _addition_arrays(a, b, bits + 1 if carry_out else bits, dtype)


def all_addition_pairs(bits: int, carry_out: bool = False, dtype=np.float32) -> tuple[np.ndarray, np.ndarray]:
    """Every pair (a, b) allowed by ``addition_pairs`` with the default max_value, a-major order
    (row i is a = i // M, b = i % M with M operand values): inputs (T, M*M, 2), targets (T, M*M, 1)."""
    bits = check_int("bits", bits, low=1, high=MAX_BITS - 1)
    carry_out, dtype = check_flag("carry_out", carry_out), check_dtype(dtype)
    m = _addition_limit(bits, carry_out, None) + 1
    if m * m > 2**MAX_ENUMERATED_BITS:
        raise ValueError(
            f"all_addition_pairs(bits={bits}) would make {m * m} pairs, more than 2**{MAX_ENUMERATED_BITS}; "
            "sample with addition_pairs instead"
        )
    a = np.repeat(np.arange(m, dtype=np.int64), m)  # (M*M,)
    b = np.tile(np.arange(m, dtype=np.int64), m)  # (M*M,)
    return _addition_arrays(a, b, bits + 1 if carry_out else bits, dtype)


# -- sine --------------------------------------------------------------------------------------
def sine_windows(n_points: int = 200, window: int = 50, dtype=np.float32) -> tuple[np.ndarray, np.ndarray]:
    """Sliding windows over s_t = sin(t), t = 0 .. n_points - 1, each predicting the next value.

    With N = n_points - window windows: x[:, i, 0] = s[i : i + window] (window, N, 1) and
    y[i, 0] = s[i + window] (N, 1).
    """
    n_points = check_int("n_points", n_points, low=2)
    window = check_size("window", window)
    if window >= n_points:
        raise ValueError(f"window must be shorter than the series: window={window}, n_points={n_points}")
    dtype = check_dtype(dtype)
    n = n_points - window
    # the windows, their int64 indices and the float64 values gathered through them
    check_memory(window * n * (dtype.itemsize + 16), f"sine_windows of {n:,} windows of {window:,} values",
                 "its arrays", now=True)
    s = np.sin(np.arange(n_points, dtype=np.float64))  # (n_points,)
    idx = np.arange(window)[:, None] + np.arange(n)[None, :]  # (window, N)
    x = s[idx][:, :, None].astype(dtype)  # (window, N, 1)
    y = s[window:][:, None].astype(dtype)  # (N, 1)
    return x, y


def sine_train_val(n_points: int = 200, window: int = 50, n_val: int = 50, dtype=np.float32):
    """The tutorial's split of ``sine_windows``: the first N - n_val windows train, the last n_val
    validate (100 and 50 for the defaults). Returns ((x_train, y_train), (x_val, y_val))."""
    x, y = sine_windows(n_points, window, dtype)
    n = y.shape[0]
    n_val = check_int("n_val", n_val, low=1)
    if n_val >= n:
        raise ValueError(f"n_val must leave some training windows: n_val={n_val}, there are {n} windows")
    cut = n - n_val
    return (x[:, :cut], y[:cut]), (x[:, cut:], y[cut:])
