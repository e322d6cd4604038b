"""Fuzzing the checkpoint readers: real checkpoints, damaged and forged, load unchanged or fail cleanly.

Every case starts from a checkpoint the Trainer wrote (an LSTM language model one step in, with
Adam's state, a schedule, the generator state, carried hidden state, a vocabulary and a history)
and changes it as files get damaged or forged: members dropped, duplicated, renamed, swapped or
compressed; the metadata JSON edited anywhere (types, values, nesting 2,000 deep, sizes, dtypes,
tagged values, the model configuration, the vocabulary) or replaced by text that is not JSON;
``.npy`` headers rewritten (shapes up to 2^40 elements, negative, dtypes with objects or none,
Fortran order, format versions); members replaced by zip bombs; the file truncated or its bytes
flipped. Then ``load_checkpoint``, ``peek_checkpoint``, ``load_module`` and ``read_npz`` must
each either succeed, giving back exactly what the original holds wherever the change left it
alone, or raise ValueError (FileNotFoundError for a missing file) with one line that names the
file, and all of it quickly.

The default profile tries a few hundred cases in seconds; ``SCRATCHRNN_FUZZ=nightly`` fifty
times as many (see ``tests/fuzzing.py``).
"""

from __future__ import annotations

import copy
import io
import json
import math
import time
import warnings
import zipfile
import zlib
from dataclasses import dataclass, field

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fuzzing import fuzz_settings
from io_helpers import (
    RawMember,
    assert_tree_equal,
    deflated,
    members_of,
    npy_bytes,
    npy_header,
    stored,
    trainer_checkpoint,
    zeros_deflate,
    zip_bytes,
)
from scratchrnn.io import load_checkpoint, load_module, peek_checkpoint, read_npz
from scratchrnn.io.checkpoint import METADATA_KEY

FIELDS = ("params", "optimizer_state", "rng_state", "step", "epoch", "hidden", "config", "vocab", "history",
          "extra", "format_version")
META_MEMBER = METADATA_KEY + ".npy"
SECONDS = 2.0  # per case, for all four readers: generous on a loaded machine, far below a bomb's cost
DEEP = "@@deep@@"  # placeholders for JSON text that json.dumps cannot write
LONG_INT = "@@long-int@@"


# -- the original ---------------------------------------------------------------------------------
@dataclass(repr=False)  # strategies take it as an argument, and hypothesis shows their reprs
class Original:
    checkpoint: object
    members: list[RawMember]
    meta: dict
    field_of: dict[str, str]  # member name -> the top-level field whose tree refers to it

    def __repr__(self) -> str:
        return f"Original({len(self.members)} members)"


def _references(node, top, out):
    if isinstance(node, dict):
        if set(node) == {"__ndarray__"} and isinstance(node["__ndarray__"], str):
            out[node["__ndarray__"] + ".npy"] = top
        for value in node.values():
            _references(value, top, out)
    elif isinstance(node, list):
        for value in node:
            _references(value, top, out)


@pytest.fixture(scope="module")
def original(tmp_path_factory) -> Original:
    path = trainer_checkpoint(tmp_path_factory.mktemp("run"), cell="lstm", steps=2)
    members = members_of(path)
    meta_member = next(m for m in members if m.name == META_MEMBER)
    meta = json.loads(np.lib.format.read_array(io.BytesIO(meta_member.data)).tobytes())
    field_of = {META_MEMBER: "*"}
    for key, value in meta.items():
        _references(value, key, field_of)
    assert len(field_of) == len(members)  # every member is referred to once
    return Original(load_checkpoint(path), members, meta, field_of)


@dataclass(repr=False)
class Case:
    """A damaged copy of the original: its members, its metadata, the fields that may now differ."""

    members: list[RawMember]
    meta: object = None  # the metadata tree to write (None: keep the member as it is)
    raw_meta: bytes | None = None  # or the metadata member's bytes, not JSON at all
    overlap: bool = False
    touched: set[str] = field(default_factory=set)

    def __repr__(self) -> str:
        return f"Case({[m.name for m in self.members]}, touched={sorted(self.touched)})"

    def touch(self, original: Original, *names: str) -> None:
        for name in names:
            found = original.field_of.get(name)
            self.touched.update(FIELDS if found == "*" else {found} if found else ())

    def to_bytes(self) -> bytes:
        members = list(self.members)
        payload = None
        if self.meta is not None:
            text = json.dumps(self.meta)
            text = text.replace(f'"{DEEP}"', "[" * 2000 + "]" * 2000).replace(f'"{LONG_INT}"', "1" * 5000)
            payload = text.encode()
        elif self.raw_meta is not None:
            payload = self.raw_meta
        if payload is not None:
            at = next((i for i, m in enumerate(members) if m.name == META_MEMBER), None)
            if at is not None:
                members[at] = stored(META_MEMBER, npy_bytes(np.frombuffer(payload, dtype=np.uint8)))
        return zip_bytes(members, overlap=self.overlap)


def _assert_documented_kinds(got) -> None:
    """What load_checkpoint promises of every field, whatever the file said."""
    assert all(isinstance(k, str) and isinstance(v, np.ndarray) and v.dtype.kind in "biufc"
               for k, v in got.params.items())
    assert type(got.step) is int and got.step >= 0 and type(got.epoch) is int and got.epoch >= 0
    assert got.rng_state is None or isinstance(got.generator(), np.random.Generator)
    parts = got.hidden if isinstance(got.hidden, tuple) else (got.hidden,)
    assert got.hidden is None or all(isinstance(p, np.ndarray) for p in parts)
    assert got.config is None or isinstance(got.config, dict)
    assert got.vocab is None or (isinstance(got.vocab, list) and all(isinstance(t, str) for t in got.vocab))
    history = got.history
    assert history is None or (isinstance(history, list) and all(isinstance(e, dict) for e in history))
    stack = [got.optimizer_state, got.extra, got.config, got.history]
    while stack:  # every leaf of the free-form trees is a JSON scalar, an array or a numpy scalar
        node = stack.pop()
        if isinstance(node, dict):
            assert all(isinstance(k, str) for k in node)
            stack.extend(node.values())
        elif isinstance(node, (list, tuple)):
            stack.extend(node)
        else:
            assert node is None or isinstance(node, (bool, int, float, str, np.ndarray, np.generic)), node


def _check(tmp_path, original: Original, data: bytes, touched: set[str]) -> None:
    """Each reader succeeds with the original's content where it was not touched, or fails cleanly."""
    path = tmp_path / "fuzzed.npz"
    path.write_bytes(data)
    start = time.perf_counter()

    def attempt(reader):
        try:
            return reader(path)
        except (ValueError, FileNotFoundError) as exc:
            message = str(exc)
            assert message.startswith(str(path)) and "\n" not in message, message
            return None

    got = attempt(load_checkpoint)
    if got is not None:
        _assert_documented_kinds(got)
        for name in set(FIELDS) - touched:
            assert_tree_equal(getattr(got, name), getattr(original.checkpoint, name), name)
    info = attempt(peek_checkpoint)
    if got is not None:  # peek reads a part of what load read
        assert info is not None
        assert info.params == {k: (v.shape, v.dtype) for k, v in got.params.items()}
        assert_tree_equal(info.config, got.config, "config")
    module = attempt(load_module)
    if module is not None:
        assert got is not None
        for key, value in module.params.items():
            np.testing.assert_array_equal(value, np.asarray(got.params[key]).astype(module.dtype))
    arrays = attempt(read_npz)
    if arrays is not None and got is not None and "params" not in touched:
        for name, value in original.checkpoint.params.items():
            assert_tree_equal(arrays["params/" + name], value, name)
    assert time.perf_counter() - start < SECONDS


# -- strategies -----------------------------------------------------------------------------------
DTYPE_NAMES = ["<f4", "<f8", ">f4", "<f2", "<i8", "|u1", "|b1", "<c8", "|O", "<U3", "|S0", "|V8", "<f33",
               "a", "M8[s]", "float33", "f4,f4", "(2,)f4"]
JSON_SCALARS = (st.none() | st.booleans() | st.integers(-(2**70), 2**70)
                | st.sampled_from([0, -1, 10**6, 2**40]) | st.floats() | st.text(max_size=8)
                | st.sampled_from(DTYPE_NAMES) | st.just(DEEP) | st.just(LONG_INT))


def _json_values(member_names):
    tags = st.one_of(
        st.builds(lambda k: {"__ndarray__": k}, st.sampled_from(member_names) | JSON_SCALARS),
        st.builds(lambda d, v: {"__npscalar__": {"dtype": d, "value": v}}, JSON_SCALARS, JSON_SCALARS),
        st.builds(lambda v: {"__tuple__": v}, JSON_SCALARS | st.lists(JSON_SCALARS, max_size=3)),
        st.builds(lambda v: {"__dict__": v}, JSON_SCALARS | st.dictionaries(st.text(max_size=4), JSON_SCALARS,
                                                                             max_size=2)),
    )
    return st.recursive(JSON_SCALARS | tags, lambda children: st.lists(children, max_size=3)
                        | st.dictionaries(st.text(max_size=6), children, max_size=3), max_leaves=6)


def _paths(node, prefix=()):
    """Every path into a JSON tree: tuples of keys and indices."""
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _paths(value, (*prefix, i))


MODEL_FIELDS = ["cell", "input_size", "vocab_size", "embedding_dim", "hidden_size", "num_layers",
                "nonlinearity", "bias", "dropout", "bidirectional", "output_size", "head", "head_bias",
                "dtype"]


@st.composite
def meta_edits(draw, original: Original) -> Case:
    """One to three edits of the metadata tree, or metadata text that is not JSON."""
    case = Case(list(original.members))
    if draw(st.integers(0, 9)) == 0:
        text = json.dumps(original.meta).encode()
        case.raw_meta = draw(st.sampled_from([text[: draw(st.integers(0, len(text) - 1))],
                                              b"\xff\xfe" + text, draw(st.binary(max_size=64))]))
        case.touched.update(FIELDS)
        return case
    meta = copy.deepcopy(original.meta)
    values = _json_values([name[:-4] for name in original.field_of])
    for _ in range(draw(st.integers(1, 3))):
        if draw(st.booleans()):  # aim at the fields the readers interpret most
            path = draw(st.sampled_from([("config", "model", draw(st.sampled_from(MODEL_FIELDS))),
                                         ("vocab", draw(st.integers(0, 4))), ("step",), ("epoch",),
                                         ("rng_state", "state", "state"), ("hidden",), ("history", 0),
                                         ("format_version",), ("format",), ("notes",)]))
        else:
            path = draw(st.sampled_from(list(_paths(meta))))
        if not path:
            meta = draw(values)
            case.touched.update(FIELDS)
            continue
        parent = _parent(meta, path)
        last = path[-1]
        if isinstance(parent, list) and not (isinstance(last, int) and last < len(parent)):
            continue
        if not isinstance(parent, (dict, list)):
            continue
        if path[0] in ("format", "format_version"):
            case.touched.update(FIELDS)  # a file the reader refuses, or one it reads alike
        elif path[0] in FIELDS:
            case.touched.add(path[0])
        if draw(st.integers(0, 4)) == 0:
            if isinstance(parent, list) or last in parent:
                del parent[last]
        else:
            parent[last] = draw(values)  # a new key, for a dict that lacked it
    case.meta = meta
    return case


def _parent(tree, path):
    """The container holding the node at ``path``, or None when the path no longer leads there."""
    node = tree
    for key in path[:-1]:
        if isinstance(node, dict) and key in node:
            node = node[key]
        elif isinstance(node, list) and isinstance(key, int) and key < len(node):
            node = node[key]
        else:
            return None
    return node


@st.composite
def member_edits(draw, original: Original) -> Case:
    """Members dropped, duplicated, renamed, swapped or deflated."""
    case = Case(list(original.members))
    names = [m.name for m in original.members]
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(case.members) - 1))
        member = case.members[i]
        op = draw(st.sampled_from(["drop", "duplicate", "rename", "swap", "deflate"]))
        if op == "drop":
            del case.members[i]
            case.touch(original, member.name)
        elif op == "duplicate":
            case.members.insert(draw(st.integers(0, len(case.members))), member)
            case.touch(original, member.name)
        elif op == "rename":
            new = draw(st.sampled_from(names) | st.just(member.name[:-4])
                       | st.text(max_size=3).map(member.name.__add__))
            case.members[i] = RawMember(new, member.data, member.size, member.crc, member.method)
            case.touch(original, member.name, new)
        elif op == "swap":
            j = draw(st.integers(0, len(case.members) - 1))
            other = case.members[j]
            case.members[i] = RawMember(other.name, member.data, member.size, member.crc, member.method)
            case.members[j] = RawMember(member.name, other.data, other.size, other.crc, other.method)
            case.touch(original, member.name, other.name)
        elif member.method == 0:  # deflated: the same content, so nothing may change
            case.members[i] = deflated(member.name, member.data)
    return case


def _split_npy(content: bytes) -> tuple[bytes, bytes]:
    """(header, data) of a .npy member."""
    buffer = io.BytesIO(content)
    version = np.lib.format.read_magic(buffer)
    fmt = np.lib.format
    (fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0)(buffer)
    at = buffer.tell()
    return content[:at], content[at:]


SHAPE_DIMS = st.sampled_from([0, 1, 2, 3, 4, 5, 16, 2**20, 2**40, -1])


@st.composite
def header_edits(draw, original: Original) -> Case:
    """One member's .npy header rewritten: shape, dtype, order, version; its data kept, cut or padded."""
    case = Case(list(original.members))
    i = draw(st.integers(0, len(case.members) - 1))
    member = case.members[i]
    header, data = _split_npy(member.data)
    old = np.lib.format.read_array(io.BytesIO(member.data))
    shape = draw(st.just(old.shape) | st.lists(SHAPE_DIMS, max_size=3).map(tuple))
    descr = draw(st.just(old.dtype.str) | st.sampled_from(DTYPE_NAMES) | st.just([("a", "<f4")])
                 | st.just(("<f4", (2,))) | st.just([("o", "|O")]))
    fortran = draw(st.booleans())
    version = draw(st.sampled_from([(1, 0), (2, 0), (3, 0)]))
    try:
        new_header = npy_header(shape, descr, fortran, (1, 0) if version == (1, 0) else (2, 0))
    except (ValueError, TypeError):  # a header numpy cannot even write: write the original's
        new_header = header
    if version == (3, 0):
        new_header = new_header[:6] + b"\x03" + new_header[7:]
    body = draw(st.sampled_from(["same", "cut", "padded", "fitted"]))
    if body == "cut":
        data = data[: draw(st.integers(0, max(0, len(data) - 1)))]
    elif body == "padded":
        data = data + bytes(draw(st.integers(1, 64)))
    elif body == "fitted":  # exactly the bytes the new header declares, when that is small
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a deprecated alias among the dtypes drawn
            try:
                size = math.prod(shape) * np.dtype(descr).itemsize
            except (TypeError, ValueError):
                size = len(data)
        data = bytes(size) if 0 <= size <= 1 << 20 else data
    case.members[i] = stored(member.name, new_header + data)
    case.touch(original, member.name)
    return case


BOMBS = ["lying", "lying-bad-crc", "ratio", "plausible", "method", "overlap"]


@st.composite
def bombs(draw, original: Original, kind: str | None = None) -> Case:
    """One member replaced by a zip bomb, or every directory entry pointed at one member's bytes."""
    case = Case(list(original.members))
    i = draw(st.integers(0, len(case.members) - 1))
    member = case.members[i]
    kind = draw(st.sampled_from(BOMBS)) if kind is None else kind
    if kind.startswith("lying"):  # the true member, then up to 1 GiB of zeros it does not declare
        stream = zeros_deflate(member.data, draw(st.sampled_from([1 << 20, 1 << 26, 1 << 30])))
        bad = kind == "lying-bad-crc"
        case.members[i] = RawMember(member.name, stream, member.size, member.crc ^ bad, method=8)
        if bad:
            case.touch(original, member.name)
    elif kind == "ratio":  # 3 GiB declared from 1 MB
        header = npy_header((3 << 27,), "<f8")
        stream = zeros_deflate(header, 1 << 30)
        case.members[i] = RawMember(member.name, stream, len(header) + (3 << 30), 0, method=8)
        case.touch(original, member.name)
    elif kind == "plausible":  # a true deflated run of zeros, as large as its header says
        n = draw(st.integers(0, 1 << 19))
        header = npy_header((n,), "<f8")
        crc = zlib.crc32(bytes(8 * n), zlib.crc32(header))
        case.members[i] = RawMember(member.name, zeros_deflate(header, 8 * n), len(header) + 8 * n, crc, 8)
        case.touch(original, member.name)
    elif kind == "method":
        method = draw(st.sampled_from([zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA, 99]))
        case.members[i] = RawMember(member.name, member.data, member.size, member.crc, method)
        case.touch(original, member.name)
    else:
        case.members.insert(0, case.members.pop(i))
        case.overlap = True
        case.touched.update(FIELDS)
    return case


@st.composite
def byte_edits(draw, case: Case) -> bytes:
    """The file of ``case`` truncated, some bytes flipped, or a run of bytes overwritten."""
    data = case.to_bytes()
    kind = draw(st.sampled_from(["truncate", "flip", "overwrite"]))
    if kind == "truncate":
        return data[: draw(st.integers(0, len(data) - 1))]
    out = bytearray(data)
    if kind == "flip":
        for _ in range(draw(st.integers(1, 4))):
            out[draw(st.integers(0, len(out) - 1))] ^= draw(st.integers(1, 255))
        return bytes(out)
    at = draw(st.integers(0, len(out) - 1))
    run = draw(st.binary(min_size=1, max_size=32))
    out[at:at + len(run)] = run
    return bytes(out[: len(data)])


def _compressed(original: Original, yes: bool) -> Case:
    case = Case(list(original.members))
    if yes:
        case.members = [deflated(m.name, m.data) for m in case.members]
    return case


# -- the tests --------------------------------------------------------------------------------------
def test_the_original_and_its_compressed_copy_load_unchanged(tmp_path, original):
    for yes in (False, True):
        _check(tmp_path, original, _compressed(original, yes).to_bytes(), set())


@fuzz_settings(40)
@given(data=st.data())
def test_edited_metadata(tmp_path, original, data):
    case = data.draw(meta_edits(original))
    _check(tmp_path, original, case.to_bytes(), case.touched)


@fuzz_settings(30)
@given(data=st.data())
def test_dropped_duplicated_renamed_and_deflated_members(tmp_path, original, data):
    case = data.draw(member_edits(original))
    _check(tmp_path, original, case.to_bytes(), case.touched)


@fuzz_settings(30)
@given(data=st.data())
def test_rewritten_npy_headers(tmp_path, original, data):
    case = data.draw(header_edits(original))
    _check(tmp_path, original, case.to_bytes(), case.touched)


@pytest.mark.parametrize("kind", BOMBS)
@fuzz_settings(4)
@given(data=st.data())
def test_zip_bombs(tmp_path, original, kind, data):
    case = data.draw(bombs(original, kind))
    _check(tmp_path, original, case.to_bytes(), case.touched)


@fuzz_settings(40)
@given(data=st.data(), compress=st.booleans())
def test_truncated_and_flipped_files(tmp_path, original, data, compress):
    damaged = data.draw(byte_edits(_compressed(original, compress)))
    _check(tmp_path, original, damaged, set())


@fuzz_settings(25)
@given(data=st.data())
def test_several_kinds_of_damage_at_once(tmp_path, original, data):
    case = data.draw(meta_edits(original))
    extra = data.draw(st.sampled_from([member_edits, header_edits, bombs]))(original)
    more = data.draw(extra)
    case.members, case.overlap = more.members, more.overlap
    case.touched |= more.touched
    damaged = data.draw(byte_edits(case)) if data.draw(st.booleans()) else case.to_bytes()
    _check(tmp_path, original, damaged, case.touched)
