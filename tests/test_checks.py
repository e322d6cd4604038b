"""The shared argument checks and the one rule for ``rng`` arguments (scratchrnn.checks)."""

import numpy as np
import pytest

from scratchrnn import checks
from scratchrnn.checks import (
    check_dtype,
    check_flag,
    check_int,
    check_optional_int,
    check_pair,
    check_probability,
    check_random_state,
    check_real,
    check_truncate,
    is_int,
    is_real,
)


@pytest.mark.parametrize("value", [0, 7, -3, np.int64(5), np.uint8(2)])
def test_is_int_accepts_python_and_numpy_integers(value):
    assert is_int(value)


@pytest.mark.parametrize("value", [True, np.bool_(False), 1.0, "1", None, np.float32(1)])
def test_is_int_rejects_bools_floats_and_others(value):
    assert not is_int(value)


def test_is_real():
    assert all(is_real(v) for v in (0, 1.5, np.float32(2), np.int16(3), float("inf")))
    assert not any(is_real(v) for v in (True, "2", None, 1j, [1.0]))


def test_check_int_returns_a_python_int():
    out = check_int("n", np.int32(4), low=1)
    assert out == 4 and type(out) is int


@pytest.mark.parametrize(
    ("low", "high", "bad", "message"),
    [
        (1, None, 0, "n must be a positive integer, got 0"),
        (0, None, -1, "n must be an integer >= 0, got -1"),
        (2, None, True, "n must be an integer >= 2, got True"),
        (1, 16, 17, r"n must be an integer in \[1, 16\], got 17"),
        (None, 5, 6, "n must be an integer <= 5, got 6"),
        (None, None, 2.0, "n must be an integer, got 2.0"),
    ],
)
def test_check_int_names_the_argument_the_expectation_and_the_value(low, high, bad, message):
    with pytest.raises(ValueError, match=message):
        check_int("n", bad, low=low, high=high)


def test_check_int_bounds_are_inclusive():
    assert check_int("n", 1, low=1, high=1) == 1


def test_check_optional_int():
    assert check_optional_int("k", None, low=1) is None
    assert check_optional_int("k", 3, low=1) == 3
    with pytest.raises(ValueError, match="k must be None or a positive integer, got 0"):
        check_optional_int("k", 0, low=1)


def test_check_real_bounds_and_finiteness():
    assert check_real("lr", 1) == 1.0 and type(check_real("lr", 1)) is float
    assert check_real("x", float("inf"), allow_inf=True) == float("inf")
    with pytest.raises(ValueError, match="lr must be a real number, got True"):
        check_real("lr", True)
    with pytest.raises(ValueError, match="lr must be finite, got nan"):
        check_real("lr", float("nan"))
    with pytest.raises(ValueError, match="lr must be finite, got inf"):
        check_real("lr", float("inf"))
    with pytest.raises(ValueError, match="lr must be >= 0.0, got -1.0"):
        check_real("lr", -1, low=0.0)
    with pytest.raises(ValueError, match="lr must be > 0.0, got 0.0"):
        check_real("lr", 0.0, low=0.0, low_open=True)
    with pytest.raises(ValueError, match="beta must be < 1.0, got 1.0"):
        check_real("beta", 1.0, high=1.0, high_open=True)
    assert check_real("beta", 1.0, high=1.0) == 1.0


def test_check_probability():
    assert check_probability("dropout", 0) == 0.0
    for bad in (1.0, -0.1, True, "0.5"):
        with pytest.raises(ValueError, match=r"dropout must be a probability in \[0, 1\)"):
            check_probability("dropout", bad)


def test_check_flag_and_pair():
    assert check_flag("nesterov", np.bool_(True)) is True
    with pytest.raises(ValueError, match="nesterov must be True or False, got 1"):
        check_flag("nesterov", 1)
    assert check_pair("betas", [0.9, 0.99]) == (0.9, 0.99)
    with pytest.raises(ValueError, match="betas must be a pair of numbers, got 0.9"):
        check_pair("betas", 0.9)


def test_check_truncate():
    assert check_truncate(None) is None and check_truncate(np.int8(3)) == 3
    for bad in (-1, True, 2.0):
        with pytest.raises(ValueError, match="truncate must be None or an integer >= 0"):
            check_truncate(bad)


def test_check_dtype():
    assert check_dtype("float32") == np.float32 and check_dtype(np.float64) == np.float64
    for bad in ("float16", np.int64, "no such type"):
        with pytest.raises(ValueError, match="dtype must be float32 or float64"):
            check_dtype(bad)
    assert checks.FLOAT_DTYPES == (np.dtype(np.float32), np.dtype(np.float64))


def test_check_random_state_keeps_a_generator():
    gen = np.random.default_rng(3)
    assert check_random_state(gen) is gen


def test_check_random_state_seeds_from_an_int():
    a = check_random_state(7).random(4)
    b = check_random_state(np.int64(7)).random(4)
    assert np.array_equal(a, b)
    assert np.array_equal(a, np.random.default_rng(7).random(4))


def test_check_random_state_none_is_fresh_entropy():
    first, second = check_random_state(None), check_random_state(None)
    assert isinstance(first, np.random.Generator) and first is not second
    assert not np.array_equal(first.random(8), second.random(8))


@pytest.mark.parametrize("bad", [True, -1, 1.5, "0", np.random.RandomState(0)])
def test_check_random_state_rejects_everything_else(bad):
    with pytest.raises(ValueError, match="rng must be None, an integer seed >= 0 or a numpy Generator"):
        check_random_state(bad)
