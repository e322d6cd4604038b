"""Time series from CSV files and the shipped series (scratchrnn.data.series)."""

from __future__ import annotations

import hashlib
from importlib import resources

import numpy as np
import pytest

from scratchrnn.data.series import load_series, monthly_means, read_series

# the SHA-256 of the shipped files, as data/SOURCES.md records them
SHA256 = {"co2_mauna_loa_weekly.csv": "16695fa2786e53414e5a6b54767a3fdf5de99cfbc68617f69d1362d92776a92f",
          "sunspots_yearly.csv": "f67889b1d9002cd5227f0e0ef54e35b419cdd85a31279adef6f73fb41e5c0a9b"}


def write(tmp_path, text, name="s.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_column_with_its_times_or_row_numbers(tmp_path):
    path = write(tmp_path, "day,load,temp\n2020-01-01,3.5,1\n2020-01-02, 4 ,2\n\n2020-01-03,-1e1,3\n")
    times, values = read_series(path, "load", "day")
    np.testing.assert_array_equal(values, [3.5, 4.0, -10.0])
    assert list(times) == ["2020-01-01", "2020-01-02", "2020-01-03"]
    times, values = read_series(path, "temp")
    assert list(times) == ["0", "1", "2"] and list(values) == [1.0, 2.0, 3.0]


def test_gaps_are_refused_or_filled(tmp_path):
    path = write(tmp_path, "t,v\n1,\n2,2\n3,NaN\n4,\n5,8\n6,\n")
    with pytest.raises(ValueError, match=r"s.csv row 2: column 'v' is empty or NaN; fill the gaps"):
        read_series(path, "v", "t")
    np.testing.assert_array_equal(read_series(path, "v", "t", fill="previous")[1], [2, 2, 2, 2, 8, 8])
    np.testing.assert_allclose(read_series(path, "v", "t", fill="linear")[1], [2, 2, 4, 6, 8, 8])


@pytest.mark.parametrize("text, args, words", [
    ("t,v\n1,2\n", ("w",), "has no column 'w'; its columns are 't', 'v'"),
    ("t,v\n1,2\n2,x\n", ("v",), "row 3: column 'v' holds 'x', not a number"),
    ("t,v\n1,2\n1,3\n", ("v", "t"), "row 3: the time column 't' goes from '1' to '1'; it must increase"),
    ("t,v\n2020-02,2\n2020-01,3\n", ("v", "t"), "goes from '2020-02' to '2020-01'"),
    ("t,v\n", ("v",), "has a header but no rows"),
    ("", ("v",), "is empty"),
    ("t,v\n1,inf\n", ("v",), "holds 'inf', not a number"),
    ("t,v\n1\n", ("v",), "row 2 has 1 cells, fewer than the header's 2"),
])
def test_bad_files_are_named_with_the_row(tmp_path, text, args, words):
    with pytest.raises(ValueError) as info:
        read_series(write(tmp_path, text), *args)
    assert words in str(info.value)


def test_missing_files_and_bad_fills(tmp_path):
    with pytest.raises(ValueError, match="no such file"):
        read_series(tmp_path / "absent.csv", "v")
    with pytest.raises(ValueError, match="fill must be None or one of 'previous', 'linear', got 'mean'"):
        read_series(write(tmp_path, "v\n1\n"), "v", fill="mean")


def test_the_shipped_series_are_the_files_sources_md_describes():
    for name, n, gaps in (("co2_mauna_loa_weekly.csv", 2284, 59), ("sunspots_yearly.csv", 309, 0)):
        raw = resources.files("scratchrnn.data").joinpath("files", name).read_bytes()
        assert hashlib.sha256(raw).hexdigest() == SHA256[name]
        lines = raw.decode().splitlines()[1:]
        assert len(lines) == n and sum(line.endswith(",") for line in lines) == gaps
    times, co2 = load_series("co2")
    assert len(co2) == 2284 and times[0] == "19580329" and times[-1] == "20011229"
    assert np.all(np.isfinite(co2)) and 310 < co2.min() < co2.max() < 380
    years, spots = load_series("sunspots")
    assert list(years[[0, -1]]) == ["1700", "2008"] and spots.min() >= 0
    with pytest.raises(ValueError, match="unknown series 'nile'"):
        load_series("nile")


def test_monthly_means_average_each_calendar_month():
    months, means = monthly_means(["19580329", "1958-04-05", "19580412", "19580503"], [1.0, 2.0, 4.0, 8.0])
    assert months.tolist() == ["1958-03", "1958-04", "1958-05"]
    np.testing.assert_array_equal(means, [1.0, 3.0, 8.0])
    with pytest.raises(ValueError, match="dates YYYYMMDD or YYYY-MM-DD, got '1958'"):
        monthly_means(["1958"], [1.0])
    with pytest.raises(ValueError, match="one length"):
        monthly_means(["19580101"], [1.0, 2.0])
