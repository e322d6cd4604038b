"""Time series from CSV files, and the two series shipped with the package.

``read_series(path, column, time_column=None, fill=None)`` reads one numeric column of a CSV file
(a header row naming the columns, then one row per time step) into ``(times, values)``: the time
column's cells as strings (or the row numbers 0, 1, ... without one) and the values as float64.
What it refuses, each a ValueError naming the file and the row (counted as a spreadsheet would,
the header being row 1): a missing file, a column the header does not name (the names listed), a
cell that is not a number, a time column whose values do not increase (compared as numbers when
they all are, else as text) and an empty or NaN cell, unless ``fill`` says what a gap becomes:
``"previous"`` (the last value before it) or ``"linear"`` (interpolated between its neighbours;
a gap at either end takes the nearest value).

``load_series(name)`` reads a shipped series (``SERIES``; sources and licences in
``data/SOURCES.md``): ``"co2"``, weekly mean CO2 at Mauna Loa in ppm, March 1958 to December 2001,
59 of its 2,284 weeks missing; ``"sunspots"``, the yearly sunspot number, 1700 to 2008.

``monthly_means(times, values)`` averages a series dated ``YYYYMMDD`` or ``YYYY-MM-DD`` over each
calendar month (the weekly CO2 record becomes 526 monthly means, 1958-03 to 2001-12), months as
``YYYY-MM``.
"""

from __future__ import annotations

import csv
import io
import math
import os
from importlib import resources
from pathlib import Path

import numpy as np

__all__ = ["FILLS", "SERIES", "load_series", "monthly_means", "parse_series", "read_series"]

FILLS = ("previous", "linear")
# name -> (file in data/files, value column, time column, the fill its gaps need)
SERIES = {
    "co2": ("co2_mauna_loa_weekly.csv", "co2", "date", "linear"),
    "sunspots": ("sunspots_yearly.csv", "SUNACTIVITY", "YEAR", None),
}


def _number(text: str) -> float | None:
    """A cell as a float, None when it is empty or NaN (a gap); ValueError when it is not a number."""
    t = text.strip()
    if t == "" or t.lower() in ("nan", "na", "null"):
        return None
    v = float(t)  # ValueError for text
    if math.isnan(v):
        return None
    if math.isinf(v):
        raise ValueError("infinite")
    return v


def parse_series(text_lines, name: str, column: str, time_column: str | None = None,
                 fill: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``read_series`` on an iterable of CSV lines; ``name`` names the source in messages."""
    if fill is not None and fill not in FILLS:
        raise ValueError(f"fill must be None or one of {', '.join(map(repr, FILLS))}, got {fill!r}")
    rows = csv.reader(text_lines)
    header = next(rows, None)
    if not header:
        raise ValueError(f"{name} is empty: it needs a header row naming its columns")
    header = [h.strip() for h in header]
    for want in (column, time_column):
        if want is not None and want not in header:
            raise ValueError(f"{name} has no column {want!r}; its columns are {', '.join(map(repr, header))}")
    vi = header.index(column)
    ti = None if time_column is None else header.index(time_column)
    times, values = [], []
    for number, row in enumerate(rows, start=2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) <= max(vi, -1 if ti is None else ti):
            raise ValueError(f"{name} row {number} has {len(row)} cells, fewer than the header's "
                             f"{len(header)}")
        try:
            v = _number(row[vi])
        except ValueError:
            raise ValueError(f"{name} row {number}: column {column!r} holds {row[vi]!r}, not a "
                             "number") from None
        if v is None and fill is None:
            raise ValueError(f"{name} row {number}: column {column!r} is empty or NaN; fill the gaps with "
                             "fill='previous' or fill='linear'")
        times.append(str(len(values)) if ti is None else row[ti].strip())  # no time column: 0, 1, ...
        values.append(math.nan if v is None else v)
    if not values:
        raise ValueError(f"{name} has a header but no rows")
    arr = np.array(values)
    if np.all(np.isnan(arr)):
        raise ValueError(f"{name}: column {column!r} has no value at all")
    if ti is not None:
        _check_increasing(times, name, time_column)
    return np.array(times), _filled(arr, fill)


def _check_increasing(times: list[str], name: str, column: str) -> None:
    try:
        keys = [float(t) for t in times]
    except ValueError:
        keys = times  # text, compared as text (ISO dates sort as text)
    for i in range(1, len(keys)):
        if not keys[i] > keys[i - 1]:
            raise ValueError(f"{name} row {i + 2}: the time column {column!r} goes from {times[i - 1]!r} to "
                             f"{times[i]!r}; it must increase")


def _filled(values: np.ndarray, fill: str | None) -> np.ndarray:
    gaps = np.isnan(values)
    if not gaps.any():
        return values
    known = np.flatnonzero(~gaps)
    if fill == "previous":
        last = np.maximum.accumulate(np.where(gaps, 0, np.arange(len(values))))  # index of the last value
        out = values[last]
        out[: known[0]] = values[known[0]]  # before the first value: the first
        return out
    return np.interp(np.arange(len(values)), known, values[known])  # "linear"; the ends held


def read_series(path: str | os.PathLike, column: str, time_column: str | None = None,
                fill: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One column of a CSV file as (times, values) (module docstring)."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"no such file: {str(p)!r}" if not p.exists() else f"{str(p)!r} is not a file")
    try:
        with open(p, encoding="utf-8", newline="") as fh:
            return parse_series(fh, str(p), column, time_column, fill)
    except UnicodeDecodeError:
        raise ValueError(f"{str(p)!r} is not UTF-8 text (CSV files are read as UTF-8)") from None
    except csv.Error as err:
        raise ValueError(f"{str(p)!r} is not a CSV file this reader understands: {err}") from None


def load_series(name: str) -> tuple[np.ndarray, np.ndarray]:
    """A shipped series as (times, values) (module docstring); the CO2 record's gaps interpolated."""
    if name not in SERIES:
        raise ValueError(f"unknown series {name!r}; the shipped ones are {', '.join(map(repr, SERIES))}")
    file, column, time_column, fill = SERIES[name]
    text = resources.files("scratchrnn.data").joinpath("files", file).read_text(encoding="utf-8")
    return parse_series(io.StringIO(text, newline=""), file, column, time_column, fill)


def monthly_means(times, values) -> tuple[np.ndarray, np.ndarray]:
    """The mean of ``values`` over each calendar month of ``times`` (module docstring), in time order."""
    digits = [str(t).replace("-", "") for t in times]
    if len(digits) != len(values) or not digits:
        raise ValueError(f"times and values must be non-empty and of one length, got {len(digits)} and "
                         f"{len(values)}")
    bad = [t for t in digits if len(t) != 8 or not t.isdigit()]
    if bad:
        raise ValueError(f"times must be dates YYYYMMDD or YYYY-MM-DD, got {bad[0]!r}")
    months, index = np.unique([f"{t[:4]}-{t[4:6]}" for t in digits], return_inverse=True)
    v = np.asarray(values, dtype=np.float64)
    return months, np.bincount(index, weights=v) / np.bincount(index)
