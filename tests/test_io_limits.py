"""scratchrnn.io.limits: the JSON depth and size limits, the memory a reader may take, read_json."""

import json
import re

import pytest

from scratchrnn.cli import main
from scratchrnn.io import limits
from scratchrnn.io.limits import (
    MAX_JSON_DEPTH,
    MAX_MEMBER_BYTES,
    available_memory,
    json_depth,
    loads_json,
    member_byte_limit,
    read_json,
)
from scratchrnn.trace import build_char_model, load_weights


def _nested(depth: int, kind: str = "list") -> str:
    """JSON text nesting ``depth`` containers around a 1."""
    if kind == "list":
        return "[" * depth + "1" + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


@pytest.mark.parametrize("tree, depth", [
    (1, 0), ("text", 0), (None, 0), ([], 1), ({}, 1), ([1, [2]], 2), ({"a": [1]}, 2),
    ({"a": {"b": {"c": []}}, "d": 1}, 4), ([[[[]]], [1]], 4),
])
def test_json_depth(tree, depth):
    assert json_depth(tree) == depth


def test_json_depth_needs_no_recursion():
    tree = 1
    for _ in range(100_000):  # far past the interpreter's recursion limit
        tree = [tree]
    assert json_depth(tree) == 100_000


@pytest.mark.parametrize("kind", ["list", "dict"])
def test_loads_json_accepts_the_limit_and_refuses_one_more(kind):
    assert json_depth(loads_json(_nested(MAX_JSON_DEPTH, kind), "metadata")) == MAX_JSON_DEPTH
    words = (f"metadata is JSON nested deeper than the {MAX_JSON_DEPTH} levels (MAX_JSON_DEPTH) a reader "
             f"accepts ({MAX_JSON_DEPTH + 1} levels)")
    with pytest.raises(ValueError, match=re.escape(words)):
        loads_json(_nested(MAX_JSON_DEPTH + 1, kind), "metadata")


@pytest.mark.parametrize("kind", ["list", "dict"])
@pytest.mark.parametrize("depth", [2_000, 100_000])
def test_loads_json_refuses_deep_nesting_without_recursion_error(kind, depth):
    with pytest.raises(ValueError, match=r"^metadata is JSON nested deeper than the 64 levels") as info:
        loads_json(_nested(depth, kind).encode(), "metadata")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("data, words", [
    (b"{not json", "metadata is not valid JSON: Expecting property name"),
    (b"", "metadata is not valid JSON: Expecting value"),
    (b"\xff\xfe{}", "metadata is not valid JSON: 'utf-8' codec can't decode"),
    (b"1" * 5000, "metadata is not valid JSON: Exceeds the limit"),  # Python's int digit limit
])
def test_loads_json_wraps_every_parse_error(data, words):
    with pytest.raises(ValueError) as info:
        loads_json(data, "metadata")
    assert str(info.value).startswith(words) and "\n" not in str(info.value), str(info.value)


def test_loads_json_refuses_oversized_text(monkeypatch):
    monkeypatch.setattr(limits, "MAX_JSON_BYTES", 10)
    assert loads_json(b"[1, 2, 3]", "metadata") == [1, 2, 3]
    with pytest.raises(ValueError, match=r"^metadata is 12 bytes of JSON, more than the 10 \(MAX_JSON"):
        loads_json(b"[1, 2, 3, 4]", "metadata")


def test_available_memory_and_member_limit(monkeypatch):
    memory = available_memory()
    assert memory is None or memory > 0
    assert member_byte_limit() <= MAX_MEMBER_BYTES
    monkeypatch.setattr(limits, "available_memory", lambda: 1000)
    assert member_byte_limit() == 1000
    monkeypatch.setattr(limits, "available_memory", lambda: None)
    assert member_byte_limit() == MAX_MEMBER_BYTES


def test_available_memory_reads_memavailable(tmp_path, monkeypatch):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       16000000 kB\nMemAvailable:    2000000 kB\n")
    monkeypatch.setattr(limits, "_MEMINFO", meminfo)
    assert available_memory() <= 2_000_000 * 1024
    meminfo.write_text("MemTotal: garbage\n")  # no MemAvailable: the physical memory stands in
    assert available_memory() is None or available_memory() > 0


def test_read_json_reads_and_refuses_with_the_path(tmp_path, monkeypatch):
    good = tmp_path / "w.json"
    good.write_text(json.dumps({"w": [[1.0, 2.0]]}))
    assert read_json(good, "weights file") == {"w": [[1.0, 2.0]]}
    with pytest.raises(FileNotFoundError) as info:
        read_json(tmp_path / "none.json", "weights file")
    assert info.value.filename == str(tmp_path / "none.json")
    empty = tmp_path / "empty.json"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty\.json is empty \(0 bytes\), not a weights file$"):
        read_json(empty, "weights file")
    deep = tmp_path / "deep.json"
    deep.write_text(_nested(2_000))
    with pytest.raises(ValueError, match=f"^{re.escape(str(deep))} is JSON nested deeper than the 64"):
        read_json(deep, "weights file")
    monkeypatch.setattr(limits, "MAX_JSON_BYTES", 5)
    with pytest.raises(ValueError, match=r"w\.json is \d+ bytes, more than the 5 \(MAX_JSON_BYTES\)"):
        read_json(good, "weights file")


def test_trace_weights_nested_2000_deep_is_a_clean_error(tmp_path, capsys):
    """``scratchrnn trace --weights`` reads JSON weights through io: one line, exit status 2."""
    deep = tmp_path / "deep.json"
    deep.write_text('{"weight_ih_l0": ' + _nested(2_000) + "}")
    with pytest.raises(ValueError, match="nested deeper than the 64 levels"):
        load_weights(build_char_model(4, 3), deep)
    assert main(["trace", "--vocab", "helo", "--text", "hello", "--weights", str(deep)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("scratchrnn: error: ") and str(deep) in err and "\n" not in err, err


@pytest.mark.parametrize("suffix", [".json", ".npz"])
def test_empty_weights_file_is_a_value_error(tmp_path, suffix):
    empty = tmp_path / f"empty{suffix}"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match=r"is empty \(0 bytes\)"):
        load_weights(build_char_model(4, 3), empty)

