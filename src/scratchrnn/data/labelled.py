"""Labelled sequences in JSON lines, and the shipped Japanese Vowels set.

A file holds one JSON object per line, ``{"sequence": [[x, ...], ...], "label": ...}``: the
sequence is a list of frames of F numbers each (every line the same F), or a list of integer
token ids; the label a JSON number or string (a class), or a list of numbers (regression
targets). ``read_labelled`` reads it (gzip-compressed when
the name ends in ``.gz``) into a list of (T_i, F) float64 arrays (or 1-D int64 id arrays) and the
labels; a line that is not such an object is a ValueError naming the file and the line.

``load_japanese_vowels(split)`` reads the copy of the UCI Japanese Vowels set shipped in
``data/files`` (``data/SOURCES.md`` has its source and licence): nine speakers uttering /ae/, 12
LPC cepstrum coefficients per frame, 7 to 29 frames; 270 training and 370 test utterances, the
label the speaker (1-9).
"""

from __future__ import annotations

import gzip
import io
import json
import math
import os
import zlib
from importlib import resources
from pathlib import Path

import numpy as np

__all__ = ["JAPANESE_VOWELS", "load_japanese_vowels", "parse_labelled", "read_labelled"]

JAPANESE_VOWELS = {"train": "japanese_vowels_train.jsonl.gz", "test": "japanese_vowels_test.jsonl.gz"}


def _frames(seq, where: str) -> np.ndarray:
    """A line's sequence as (T, F) float64 frames or (T,) int64 ids."""
    if not isinstance(seq, list) or not seq:
        got = "an empty list" if isinstance(seq, list) else type(seq).__name__
        raise ValueError(f"{where}: \"sequence\" must be a non-empty list of frames (lists of numbers) or of "
                         f"token ids, got {got}")
    if all(isinstance(v, int) and not isinstance(v, bool) for v in seq):
        if not all(0 <= v < 2**62 for v in seq):
            raise ValueError(f"{where}: token ids must be integers in [0, 2**62), got values in "
                             f"[{min(seq)}, {max(seq)}]")
        return np.array(seq, dtype=np.int64)  # (T,) ids
    if not all(isinstance(f, list) for f in seq):
        raise ValueError(f"{where}: \"sequence\" must hold frames (lists of numbers) or integer token ids, "
                         "not a mix of them or other values")
    width = len(seq[0])
    for t, frame in enumerate(seq):
        if len(frame) != width or not frame:
            raise ValueError(f"{where}: frame {t} has {len(frame)} numbers, frame 0 has {width}; every frame "
                             "of a sequence needs the same number, at least one")
        for v in frame:
            if not _is_number(v):
                raise ValueError(f"{where}: frame {t} holds {v!r}; frames hold finite numbers")
    return np.array(seq, dtype=np.float64)  # (T, F)


def _is_number(v) -> bool:
    """A finite JSON number (an int too large for a float is not one)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return False
    try:
        return math.isfinite(v)
    except OverflowError:
        return False


def parse_labelled(lines, name: str, labels: bool = True) -> tuple[list[np.ndarray], list]:
    """Labelled sequences from an iterable of JSON lines (``read_labelled``); ``name`` names the
    source in messages. With ``labels=False`` a line needs no "label" (a file to predict)."""
    xs, ys, width = [], [], None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{name} line {number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(f"{where} is not valid JSON ({err.msg} at column {err.colno})") from None
        except RecursionError:
            raise ValueError(f"{where} nests too deeply to be a labelled sequence") from None
        if not isinstance(record, dict) or "sequence" not in record:
            want = '"sequence" and "label"' if labels else '"sequence"'
            kind = type(record).__name__
            got = f"the keys {sorted(record)}" if isinstance(record, dict) else f"a JSON {kind}"
            raise ValueError(f"{where} must be an object with {want}, got {got}")
        x = _frames(record["sequence"], where)
        kind = None if x.ndim == 1 else x.shape[1]  # None: token ids
        if xs and kind != width:
            first = "token ids" if width is None else f"frames of {width} numbers"
            this = "token ids" if kind is None else f"frames of {kind} numbers"
            raise ValueError(f"{where} holds {this}, the lines before it {first}; every line must be alike")
        width = kind
        if labels:
            if "label" not in record:
                raise ValueError(f"{where} has no \"label\"")
            label = record["label"]
            if not (isinstance(label, str) or _is_number(label) or (
                    isinstance(label, list) and label and all(_is_number(v) for v in label))):
                raise ValueError(f"{where}: \"label\" must be a number, a string or a list of numbers, got "
                                 f"{label!r:.100}")
            ys.append(label)
        xs.append(x)
    if not xs:
        raise ValueError(f"{name} holds no sequence (it is empty or blank)")
    return xs, ys


def read_labelled(path: str | os.PathLike, labels: bool = True) -> tuple[list[np.ndarray], list]:
    """A JSON lines file of labelled sequences (module docstring): (sequences, labels), labels a
    list of the file's values ([] with ``labels=False``)."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"no such file: {str(p)!r}" if not p.exists() else f"{str(p)!r} is not a file")
    opener = gzip.open if p.suffix == ".gz" else open
    try:
        with opener(p, "rt", encoding="utf-8") as fh:
            return parse_labelled(fh, str(p), labels)
    except UnicodeDecodeError:
        raise ValueError(f"{str(p)!r} is not UTF-8 text (JSON lines are)") from None
    except (OSError, EOFError, zlib.error) as err:  # a damaged gzip stream
        raise ValueError(f"cannot read {str(p)!r}: {err}") from None


def load_japanese_vowels(split: str = "train") -> tuple[list[np.ndarray], np.ndarray]:
    """The shipped Japanese Vowels set: (X, y), X a list of (T_i, 12) float64 arrays and y (N,)
    int64 speakers 1-9, for ``split`` "train" (270 utterances) or "test" (370)."""
    if split not in JAPANESE_VOWELS:
        raise ValueError(f"split must be one of {', '.join(map(repr, JAPANESE_VOWELS))}, got {split!r}")
    raw = resources.files("scratchrnn.data").joinpath("files", JAPANESE_VOWELS[split]).read_bytes()
    text = io.TextIOWrapper(io.BytesIO(gzip.decompress(raw)), encoding="utf-8")
    xs, ys = parse_labelled(text, JAPANESE_VOWELS[split])
    return xs, np.array(ys, dtype=np.int64)
