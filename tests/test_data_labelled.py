"""Labelled sequences in JSON lines and the shipped Japanese Vowels set (scratchrnn.data.labelled)."""

from __future__ import annotations

import gzip
import hashlib
import json
from importlib import resources

import numpy as np
import pytest

from scratchrnn.data import load_japanese_vowels, read_labelled

# the SHA-256 of the shipped files' text, as data/SOURCES.md records them
TEXT_SHA256 = {"train": "e4ef8f4d9a31b5f342d7a4906b711565576f4977a9bdc8c5af2c31d671abe048",
               "test": "8ca4f2deb1aa469c01a687a9f951a30a010afd8b0fd3ed1782bf09eb4b31b4da"}


def test_read_labelled_features_ids_and_gzip(tmp_path):
    lines = [{"sequence": [[1, 2.5], [3, 4]], "label": "a"}, {"sequence": [[0.5, -1]], "label": 7}]
    path = tmp_path / "x.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in lines) + "\n\n")
    X, y = read_labelled(path)
    assert y == ["a", 7] and [x.shape for x in X] == [(2, 2), (1, 2)] and X[0].dtype == np.float64
    np.testing.assert_array_equal(X[0], [[1, 2.5], [3, 4]])
    gz = tmp_path / "ids.jsonl.gz"
    gz.write_bytes(gzip.compress(b'{"sequence": [3, 1, 2]}\n{"sequence": [0]}\n'))
    X, y = read_labelled(gz, labels=False)
    assert y == [] and X[0].dtype == np.int64 and list(X[0]) == [3, 1, 2]


@pytest.mark.parametrize("text, words", [
    ('{"sequence": [[1]], "label": 1}\n{"sequence": [[1]], "label": 2', "line 2 is not valid JSON"),
    ('[1, 2]\n', 'line 1 must be an object with "sequence" and "label", got a JSON list'),
    ('{"seq": [[1]]}\n', "line 1 must be an object with \"sequence\" and \"label\", got the keys ['seq']"),
    ('{"sequence": [], "label": 1}\n', 'line 1: "sequence" must be a non-empty list'),
    ('{"sequence": [[1, 2], [3]], "label": 1}\n', "line 1: frame 1 has 1 numbers, frame 0 has 2"),
    ('{"sequence": [[1, "x"]], "label": 1}\n', "line 1: frame 0 holds 'x'"),
    ('{"sequence": [[1, 2]], "label": 1}\n{"sequence": [[1]], "label": 1}\n',
     "line 2 holds frames of 1 numbers, the lines before it frames of 2 numbers"),
    ('{"sequence": [[1]]}\n', 'line 1 has no "label"'),
    ('{"sequence": [[1]], "label": {"a": 1}}\n', 'line 1: "label" must be a number, a string or a list of'),
    ('\n\n', "holds no sequence"),
])
def test_malformed_lines_are_named_with_their_number(tmp_path, text, words):
    path = tmp_path / "bad.jsonl"
    path.write_text(text)
    with pytest.raises(ValueError) as info:
        read_labelled(path)
    assert words in str(info.value) and "bad.jsonl" in str(info.value)


def test_missing_and_undecodable_files(tmp_path):
    with pytest.raises(ValueError, match="no such file"):
        read_labelled(tmp_path / "absent.jsonl")
    (tmp_path / "latin.jsonl").write_bytes(b'{"sequence": [[1]], "label": "\xe9"}\n')
    with pytest.raises(ValueError, match="is not UTF-8 text"):
        read_labelled(tmp_path / "latin.jsonl")
    (tmp_path / "cut.jsonl.gz").write_bytes(gzip.compress(b'{"sequence": [[1]], "label": 1}\n')[:-6])
    with pytest.raises(ValueError, match="cannot read"):
        read_labelled(tmp_path / "cut.jsonl.gz")


def test_japanese_vowels_is_the_set_sources_md_describes():
    for split, n, frames, per_speaker in (("train", 270, 4274, [30] * 9),
                                         ("test", 370, 5687, [31, 35, 88, 44, 29, 24, 40, 50, 29])):
        raw = resources.files("scratchrnn.data").joinpath("files", f"japanese_vowels_{split}.jsonl.gz")
        assert hashlib.sha256(gzip.decompress(raw.read_bytes())).hexdigest() == TEXT_SHA256[split]
        X, y = load_japanese_vowels(split)
        lengths = [len(x) for x in X]
        assert len(X) == n and sum(lengths) == frames and min(lengths) >= 7 and max(lengths) <= 29
        assert all(x.shape[1] == 12 and x.dtype == np.float64 for x in X)
        assert list(np.bincount(y)[1:]) == per_speaker and y.dtype == np.int64
    with pytest.raises(ValueError, match="split must be one of 'train', 'test', got 'val'"):
        load_japanese_vowels("val")
