"""Tutorial-task data: binary numbers, binary addition and sine windows.

Expected values come from Python's own integer formatting and math.sin, never from the code under test.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from scratchrnn import checks
from scratchrnn.data.synthetic import (
    addition_pairs,
    all_addition_pairs,
    all_binary_numbers,
    binary_numbers,
    bits_to_int,
    int_to_bits,
    sine_train_val,
    sine_windows,
)


def msb_bits(v: int, bits: int) -> list[int]:
    return [int(c) for c in format(v, f"0{bits}b")]


def lsb_bits(v: int, bits: int) -> list[int]:
    return msb_bits(v, bits)[::-1]


def from_lsb(column) -> int:
    return sum(int(b) << t for t, b in enumerate(column))


# -- binary to decimal -------------------------------------------------------------------------
def test_every_8_bit_number_msb_first():
    x, values = all_binary_numbers(8)
    assert x.shape == (8, 256, 1) and x.dtype == np.float32
    assert values.tolist() == list(range(256))
    for v in range(256):
        assert x[:, v, 0].tolist() == msb_bits(v, 8)
    # most significant first: 128 lights step 0, 1 lights the last step
    assert x[0, 128, 0] == 1 and x[1:, 128, 0].sum() == 0
    assert x[-1, 1, 0] == 1 and x[:-1, 1, 0].sum() == 0


def test_binary_numbers_are_consistent_and_seeded():
    x, values = binary_numbers(500, 10, np.random.default_rng(0), dtype=np.float64)
    assert x.shape == (10, 500, 1) and x.dtype == np.float64 and values.shape == (500,)
    assert values.min() >= 0 and values.max() < 2**10
    assert len(set(values.tolist())) > 300  # really random, not a constant
    for i in range(500):
        assert x[:, i, 0].tolist() == msb_bits(int(values[i]), 10)
    x2, values2 = binary_numbers(500, 10, np.random.default_rng(0), dtype=np.float64)
    assert np.array_equal(values, values2) and np.array_equal(x, x2)
    _, values3 = binary_numbers(500, 10, np.random.default_rng(1))
    assert not np.array_equal(values, values3)


def test_binary_numbers_follow_the_rng_rule():
    # None, an int seed or a Generator, as every rng argument of the package (scratchrnn.checks)
    x, values = binary_numbers(4, 8, None)
    assert x.shape == (8, 4, 1) and values.shape == (4,)
    _, seeded = binary_numbers(6, 8, 3)
    assert np.array_equal(seeded, binary_numbers(6, 8, np.random.default_rng(3))[1])
    with pytest.raises(ValueError, match="rng must be None, an integer seed >= 0 or a numpy Generator"):
        binary_numbers(4, 8, "0")
    with pytest.raises(ValueError, match="bits"):
        binary_numbers(4, 0, np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"bits must be an integer in \[1, 16\], got 20"):
        all_binary_numbers(20)


# -- binary addition ---------------------------------------------------------------------------
def test_all_8_bit_addition_pairs():
    x, y = all_addition_pairs(8)
    assert x.shape == (8, 128 * 128, 2) and y.shape == (8, 128 * 128, 1)
    i = 0
    for a in range(128):
        for b in range(128):
            assert x[:, i, 0].tolist() == lsb_bits(a, 8)
            assert x[:, i, 1].tolist() == lsb_bits(b, 8)
            assert y[:, i, 0].tolist() == lsb_bits(a + b, 8)
            i += 1


def test_addition_is_lsb_first():
    x, y = all_addition_pairs(4)  # operands 0..7
    row = 1 * 8 + 0  # a = 1, b = 0
    assert x[:, row, 0].tolist() == [1, 0, 0, 0]
    assert y[:, row, 0].tolist() == [1, 0, 0, 0]
    row = 6 * 8 + 3  # 6 + 3 = 9 = 0b1001
    assert y[:, row, 0].tolist() == [1, 0, 0, 1]


def test_addition_with_carry_out_uses_every_operand_bit():
    x, y = all_addition_pairs(3, carry_out=True)  # operands 0..7, sums up to 14 in 4 bits
    assert x.shape == (4, 64, 2) and y.shape == (4, 64, 1)
    assert np.all(x[-1] == 0)  # the extra step only reads zeros
    row = 7 * 8 + 7
    assert y[:, row, 0].tolist() == lsb_bits(14, 4)


def test_addition_pairs_random_and_seeded():
    rng = np.random.default_rng(5)
    x, y = addition_pairs(300, 8, rng)
    assert x.shape == (8, 300, 2) and y.shape == (8, 300, 1)
    for i in range(300):
        a, b, s = from_lsb(x[:, i, 0]), from_lsb(x[:, i, 1]), from_lsb(y[:, i, 0])
        assert a < 128 and b < 128 and s == a + b
    x2, _ = addition_pairs(300, 8, np.random.default_rng(5))
    assert np.array_equal(x, x2)


def test_addition_max_value():
    x, y = addition_pairs(200, 8, np.random.default_rng(2), max_value=3)
    assert x.max() == 1 and np.all(x[2:] == 0)  # operands <= 3 use two bits
    with pytest.raises(ValueError, match="at most 127"):
        addition_pairs(4, 8, np.random.default_rng(0), max_value=128)
    x, y = addition_pairs(50, 8, np.random.default_rng(0), max_value=255, carry_out=True)
    assert y.shape == (9, 50, 1)
    with pytest.raises(ValueError, match="at most 255"):
        addition_pairs(4, 8, np.random.default_rng(0), max_value=256, carry_out=True)
    with pytest.raises(ValueError, match="addition_pairs instead"):
        all_addition_pairs(12)


def test_32_bit_addition_decodes_exactly():
    rng = np.random.default_rng(11)
    x, y = addition_pairs(400, 32, rng, carry_out=True)
    a, b, s = bits_to_int(x[..., 0]), bits_to_int(x[..., 1]), bits_to_int(y[..., 0])
    assert a.dtype == np.uint64 and s.shape == (400,)
    assert int(a.max()) >= 2**31  # the draw reaches the top bit
    for i in range(400):
        assert int(s[i]) == from_lsb(y[:, i, 0]) == from_lsb(x[:, i, 0]) + from_lsb(x[:, i, 1])
        assert int(a[i]) + int(b[i]) == int(s[i])


# -- bits_to_int -------------------------------------------------------------------------------
def test_bits_to_int_32_and_64_bits():
    rng = np.random.default_rng(3)
    values = [int(v) for v in rng.integers(0, 2**32, size=100, dtype=np.uint64)]
    values += [0, 1, 2**31, 2**32 - 1]
    lsb = np.array([lsb_bits(v, 32) for v in values]).T  # (32, N)
    assert bits_to_int(lsb).tolist() == values
    assert bits_to_int(lsb[::-1], lsb_first=False).tolist() == values
    assert int(bits_to_int(np.ones(64))) == 2**64 - 1  # no overflow at the very top
    assert bits_to_int(np.array([[True], [False], [True]])).tolist() == [5]
    assert bits_to_int(lsb[:, :, None].astype(np.float32)).shape == (len(values), 1)


def test_int_to_bits_inverts_bits_to_int():
    values = np.array([0, 1, 5, 2**40 + 3], dtype=np.int64)
    assert bits_to_int(int_to_bits(values, 41)[..., 0]).tolist() == values.tolist()
    with pytest.raises(ValueError, match=r"\[0, 2\*\*3\)"):
        int_to_bits(np.array([8]), 3)


def test_bits_to_int_errors():
    with pytest.raises(ValueError, match="0 or 1"):
        bits_to_int(np.array([0.2, 0.9]))
    with pytest.raises(ValueError, match="at most 64"):
        bits_to_int(np.zeros(65))


# -- sine --------------------------------------------------------------------------------------
def test_sine_windows_alignment():
    x, y = sine_windows(200, 50, dtype=np.float64)
    assert x.shape == (50, 150, 1) and y.shape == (150, 1)
    for i in (0, 1, 77, 149):
        expected = [math.sin(i + t) for t in range(50)]
        np.testing.assert_allclose(x[:, i, 0], expected, rtol=0, atol=1e-15)
        assert y[i, 0] == pytest.approx(math.sin(i + 50), abs=1e-15)
    # the target of window i is the last input of window i + 1
    np.testing.assert_array_equal(y[:-1, 0], x[-1, 1:, 0])
    x32, _ = sine_windows()
    assert x32.dtype == np.float32 and x32.shape == (50, 150, 1)


def test_sine_tutorial_split():
    (xt, yt), (xv, yv) = sine_train_val()
    assert xt.shape == (50, 100, 1) and yt.shape == (100, 1)
    assert xv.shape == (50, 50, 1) and yv.shape == (50, 1)
    assert yt[0, 0] == pytest.approx(math.sin(50), abs=1e-6)
    assert yt[-1, 0] == pytest.approx(math.sin(149), abs=1e-6)
    assert yv[0, 0] == pytest.approx(math.sin(150), abs=1e-6)
    assert yv[-1, 0] == pytest.approx(math.sin(199), abs=1e-6)
    assert xv[0, 0, 0] == pytest.approx(math.sin(100), abs=1e-6)


def test_sine_errors():
    with pytest.raises(ValueError, match="shorter than the series"):
        sine_windows(50, 50)
    with pytest.raises(ValueError, match="n_val"):
        sine_train_val(n_points=60, window=50, n_val=10)


# -- flags and memory ---------------------------------------------------------------------------------
@pytest.mark.parametrize("call", [
    lambda flag: int_to_bits(np.array([1]), 3, lsb_first=flag),
    lambda flag: bits_to_int(np.array([[1]]), lsb_first=flag),
    lambda flag: addition_pairs(2, 4, 0, carry_out=flag),
    lambda flag: all_addition_pairs(3, carry_out=flag),
])
def test_flags_are_bools(call):
    call(np.bool_(False))
    with pytest.raises(ValueError, match="must be True or False, got 0"):
        call(0)


def test_data_larger_than_the_memory_available_is_refused(monkeypatch):
    monkeypatch.setattr(checks, "machine_memory", lambda: 16 * 10**5)
    monkeypatch.setattr(checks, "available_memory", lambda: 10**5)
    binary_numbers(500, 8, 0)  # 500 * 8 * 16 bytes: 64 kB
    with pytest.raises(ValueError, match="^binary_numbers of 1,000 sequences of 8 steps needs about 128 kB "
                                         "for its arrays; this machine has 100 kB available$"):
        binary_numbers(1000, 8, 0)
    with pytest.raises(ValueError, match="addition_pairs of 1,000 sequences of 9 steps needs about 432 kB"):
        addition_pairs(1000, 8, 0)
    with pytest.raises(ValueError, match="sine_windows of 5,000 windows of 50 values needs about 5 MB"):
        sine_windows(5050, 50)


def test_counts_far_beyond_any_machine_are_refused_before_anything_is_made():
    with pytest.raises(ValueError, match="binary_numbers of 1,000,000,000,000 sequences .* about 128 TB"):
        binary_numbers(10**12, 8, 0)
    with pytest.raises(ValueError, match="sine_windows of 999,999,000,000 windows of 1,000,000 values"):
        sine_windows(10**12, 10**6)
