"""scratchrnn.io.checkpoint: round trips of every field, refusal of bad values and of bad files."""

import dataclasses
import io
import json
import re
import zipfile

import numpy as np
import pytest

from io_helpers import (
    RawMember,
    assert_same_array,
    assert_tree_equal,
    measure_read,
    members_of,
    npy_header,
    trainer_checkpoint,
    zeros_deflate,
    zip_bytes,
)
from scratchrnn.io import checkpoint as checkpoint_io
from scratchrnn.io.checkpoint import (
    FORMAT_VERSION,
    METADATA_KEY,
    Checkpoint,
    load_checkpoint,
    peek_checkpoint,
    restore_generator,
    save_checkpoint,
)


# -- helpers -------------------------------------------------------------------------------------
def _params(seed=0):
    """Arrays of many dtypes and layouts, with the float values that are easy to lose."""
    rng = np.random.default_rng(seed)
    special = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0, 1e-310, 1.5, -2.25])  # (8,)
    return {
        "rnn.weight_ih_l0": rng.standard_normal((8, 3)).astype(np.float32),  # (8, 3)
        "rnn.weight_hh_l0": rng.standard_normal((8, 2)),  # (8, 2) float64
        "special64": special,  # (8,)
        "special32": special.astype(np.float32),  # (8,)
        "half": rng.standard_normal(5).astype(np.float16),  # (5,)
        "int8": rng.integers(-128, 128, size=7, dtype=np.int8),  # (7,)
        "int64": np.array([-(2**63), 2**63 - 1, 0], dtype=np.int64),  # (3,)
        "uint16": rng.integers(0, 2**16, size=(2, 2), dtype=np.uint16),  # (2, 2)
        "mask": rng.random(6) < 0.5,  # (6,) bool
        "scalar": np.array(3.25, dtype=np.float32),  # ()
        "empty": np.zeros((0, 4), dtype=np.float32),  # (0, 4)
        "fortran": np.asfortranarray(rng.standard_normal((3, 5))),  # (3, 5) F-ordered
        "strided": rng.standard_normal((4, 6))[:, ::2],  # (4, 3) not contiguous
        "big_endian": rng.standard_normal(4).astype(">f8"),  # (4,)
        "complex": (rng.standard_normal(3) + 1j * rng.standard_normal(3)).astype(np.complex64),  # (3,)
    }


def _optimizer_state():
    rng = np.random.default_rng(1)
    return {
        "hyper": {"lr": 0.01, "betas": (0.9, 0.999), "eps": 1e-8, "nesterov": False, "name": "adam",
                  "clip": None, "lr32": np.float32(0.1), "decay": np.float64(0.5)},
        "step": 3,
        "buffers": {
            "exp_avg": {"rnn.weight_hh_l0": rng.standard_normal((8, 2))},  # (8, 2)
            "exp_avg_sq": {"rnn.weight_hh_l0": rng.random((8, 2)).astype(np.float32)},  # (8, 2)
        },
        "per_group": [{"count": np.int32(7), "flag": np.bool_(True)}, {"count": np.uint64(2**64 - 1)}],
    }


def _gen_after_draws(kind="PCG64", seed=5):
    gen = np.random.Generator(getattr(np.random, kind)(seed))
    gen.random(3)
    gen.integers(0, 10, dtype=np.uint32)  # may leave half a 64-bit word buffered (has_uint32)
    return gen


def _draws(gen):
    return np.concatenate([
        gen.random(4),  # (4,)
        gen.integers(0, 1000, size=3, dtype=np.uint32).astype(np.float64),  # (3,)
        gen.standard_normal(4),  # (4,)
    ])  # (11,)


def _full_fields():
    gen = _gen_after_draws()
    return {
        "params": _params(),
        "optimizer_state": _optimizer_state(),
        "rng_state": gen.bit_generator.state,
        "step": 1234,
        "epoch": 7,
        "hidden": (np.ones((2, 4, 3), np.float32), np.full((2, 4, 3), -0.5, np.float32)),  # (L, B, H) each
        "config": {"model": {"kind": "lstm", "hidden_size": 3, "layers": [1, 2]}, "lr": 0.1,
                   "dims": (4, 5), "seed": 2**70, "name": "ünïcödé", "tag": None},
        "vocab": ["<pad>", "a", "é", "e\u0301", "漢字", "🙂", "\x00", "\n", " ", "", '"\\', "\ud800"],
        "history": [{"epoch": 0, "loss": 2.5, "ok": True}, {"epoch": 1, "loss": float("nan")},
                    {"epoch": 2, "loss": float("inf"), "lr": np.float32(0.05)}],
        "extra": {"__ndarray__": "not an array", "notes": ["x", 1, 2.0, None], "bytes": np.bytes_(b"a\x00b"),
                  "z": np.complex128(1 - 2j), "a/b": np.arange(2), "a_b": np.arange(3), "..": np.arange(1),
                  "": {"__tuple__": [1]}, "λ": np.zeros(1, np.int16)},
    }


# -- round trips ---------------------------------------------------------------------------------
def test_round_trip_of_every_field(tmp_path):
    fields = _full_fields()
    path = tmp_path / "run" / "last.npz"
    path.parent.mkdir()
    assert save_checkpoint(str(path), **fields) == path
    ckpt = load_checkpoint(path)
    assert isinstance(ckpt, Checkpoint)
    for name, want in fields.items():
        assert_tree_equal(getattr(ckpt, name), want, name)
    assert list(ckpt.params) == list(fields["params"])  # order kept
    assert ckpt.format_version == FORMAT_VERSION
    assert ckpt.path == path
    assert ckpt.params["fortran"].flags.f_contiguous
    assert all(a.flags.writeable for a in ckpt.params.values())


@pytest.mark.parametrize("kind", ["PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64"])
def test_generator_continues_identically(tmp_path, kind):
    gen = _gen_after_draws(kind)
    path = save_checkpoint(tmp_path / "g.npz", params={}, rng_state=gen)
    want = _draws(gen)
    ckpt = load_checkpoint(path)
    np.testing.assert_array_equal(_draws(ckpt.generator()), want)
    other = np.random.Generator(getattr(np.random, kind)(999))  # restore into an existing generator
    other.bit_generator.state = ckpt.rng_state
    np.testing.assert_array_equal(_draws(other), want)


def test_generator_state_as_dict_or_bit_generator(tmp_path):
    gen = _gen_after_draws()
    a = load_checkpoint(save_checkpoint(tmp_path / "a.npz", params={}, rng_state=gen.bit_generator.state))
    b = load_checkpoint(save_checkpoint(tmp_path / "b.npz", params={}, rng_state=gen.bit_generator))
    want = gen.bit_generator.state
    assert want["state"]["state"] > 2**64  # the state really needs big ints
    assert a.rng_state == want and b.rng_state == want


def test_nested_optimizer_state_keeps_types(tmp_path):
    state = _optimizer_state()
    ckpt = load_checkpoint(save_checkpoint(tmp_path / "o.npz", params={}, optimizer_state=state))
    assert_tree_equal(ckpt.optimizer_state, state)
    assert type(ckpt.optimizer_state["hyper"]["lr32"]) is np.float32
    assert type(ckpt.optimizer_state["hyper"]["betas"]) is tuple


@pytest.mark.parametrize("hidden", [
    None,
    np.arange(24, dtype=np.float32).reshape(2, 4, 3),  # (L, B, H)
    (np.zeros((1, 2, 3)), np.ones((1, 2, 3))),  # (h, c)
], ids=["none", "array", "tuple"])
def test_hidden_state(tmp_path, hidden):
    ckpt = load_checkpoint(save_checkpoint(tmp_path / "h.npz", params={}, hidden=hidden))
    assert_tree_equal(ckpt.hidden, hidden)


def test_unicode_vocab_order_kept(tmp_path):
    vocab = _full_fields()["vocab"] + [chr(c) for c in range(0x2600, 0x2640)] + ["a", "b", "a"]
    ckpt = load_checkpoint(save_checkpoint(tmp_path / "v.npz", params={}, vocab=tuple(vocab)))
    assert ckpt.vocab == vocab and all(type(t) is str for t in ckpt.vocab)


def test_defaults_and_dataclass_config(tmp_path):
    @dataclasses.dataclass
    class Config:
        hidden_size: int = 8
        lr: float = 0.1

    ckpt = load_checkpoint(save_checkpoint(tmp_path / "d.npz", params={"w": np.ones(2)}, config=Config()))
    assert ckpt.config == {"hidden_size": 8, "lr": 0.1}
    assert (ckpt.optimizer_state, ckpt.rng_state, ckpt.hidden, ckpt.vocab, ckpt.history, ckpt.extra) == (
        None, None, None, None, None, None)
    assert (ckpt.step, ckpt.epoch) == (0, 0)
    assert ckpt.generator() is None


def test_file_is_a_plain_npz_without_pickle(tmp_path):
    path = save_checkpoint(tmp_path / "p.npz", **_full_fields())
    with np.load(path, allow_pickle=False) as npz:
        meta = json.loads(npz[METADATA_KEY].tobytes().decode("utf-8"))
        prefixes = ("params/", "optimizer_state/", "rng_state/", "hidden/", "config/", "history/", "extra/")
        others = [k for k in npz.files if k != METADATA_KEY]
        assert others and all(k.startswith(prefixes) for k in others)
        assert all(npz[k].dtype != object for k in npz.files)
        assert_same_array(npz["params/rnn.weight_ih_l0"], _params()["rnn.weight_ih_l0"])
    assert meta["format_version"] == FORMAT_VERSION and meta["step"] == 1234
    names = zipfile.ZipFile(path).namelist()
    assert all(n.isascii() and ".." not in n.split("/") for n in names)


def test_same_content_gives_same_bytes_and_no_suffix_is_added(tmp_path):
    a = save_checkpoint(tmp_path / "a", **_full_fields())
    b = save_checkpoint(tmp_path / "b", **_full_fields())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]
    assert a.read_bytes() == b.read_bytes()


def test_compressed_round_trip(tmp_path):
    params = {"zeros": np.zeros(100_000, np.float32), "w": _params()["rnn.weight_hh_l0"]}  # (100000,), (8, 2)
    plain = save_checkpoint(tmp_path / "plain.npz", params=params)
    packed = save_checkpoint(tmp_path / "packed.npz", params=params, compress=True)
    assert packed.stat().st_size < plain.stat().st_size / 10
    assert_tree_equal(load_checkpoint(packed).params, params)


# -- invalid values are refused before anything is written --------------------------------------
def _cycle():
    a = {"x": 1}
    a["self"] = a
    return a


@pytest.mark.parametrize("kwargs, words", [
    ({"params": {"w": np.array([object()])}}, "params['w']"),
    ({"params": [np.ones(2)]}, "params must be a dict"),
    ({"params": {1: np.ones(2)}}, "keys must be strings"),
    ({"params": {}, "optimizer_state": {"m": np.array([None, 1])}}, "object"),
    ({"params": {}, "optimizer_state": {0: np.ones(1)}}, "keys must be strings"),
    ({"params": {}, "extra": {"s": {1, 2}}}, "extra['s']"),
    ({"params": {}, "extra": b"raw"}, "bytes"),
    ({"params": {}, "extra": _cycle()}, "contains itself"),
    ({"params": {}, "step": -1}, "step"),
    ({"params": {}, "step": True}, "step"),
    ({"params": {}, "epoch": 1.5}, "epoch"),
    ({"params": {}, "vocab": "abc"}, "vocab"),
    ({"params": {}, "vocab": ["a", 1]}, "entry 1"),
    ({"params": {}, "history": [{"a": 1}, 2]}, "entry 1"),
    ({"params": {}, "config": [("lr", 0.1)]}, "config"),
    ({"params": {}, "rng_state": 42}, "rng_state"),
])
def test_invalid_values_raise_before_writing(tmp_path, kwargs, words):
    path = save_checkpoint(tmp_path / "c.npz", params={"w": np.ones(3)})
    before = path.read_bytes()
    with pytest.raises(ValueError, match=re.escape(words)):
        save_checkpoint(path, **kwargs)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["c.npz"]


def test_restore_generator_rejects_unknown_names():
    with pytest.raises(ValueError, match="bit generators"):
        restore_generator({"bit_generator": "os.system", "state": {}})


# -- bad files -----------------------------------------------------------------------------------
def _rewrite_zip(src, dst, replace=None, drop=()):
    """Copy the archive ``src`` to ``dst``, replacing member bytes (by name) and dropping members."""
    replace = replace or {}
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            if info.filename in drop:
                continue
            zout.writestr(info.filename, replace.get(info.filename, zin.read(info.filename)))


def _npy_bytes(array, allow_pickle=False):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


def _meta_bytes(meta):
    return _npy_bytes(np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8))  # (n_bytes,)


def _good(tmp_path):
    params = {"w": np.arange(2000, dtype=np.int64) * 3 + 12345}  # (2000,) easy to find in the file
    return save_checkpoint(tmp_path / "good.npz", params=params, step=9, vocab=["a", "b"])


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1:]


def _bad_truncated(fraction):
    def build(good, bad):
        data = good.read_bytes()
        bad.write_bytes(data[: max(4, int(len(data) * fraction))])
    return build


def _bad_truncated_by_one(good, bad):
    bad.write_bytes(good.read_bytes()[:-1])


def _bad_flip_array(good, bad):
    data = good.read_bytes()
    at = data.find((np.arange(4, dtype=np.int64) * 3 + 12345).tobytes())
    assert at > 0
    bad.write_bytes(_flip(data, at + 5000))


def _bad_flip_metadata(good, bad):
    data = good.read_bytes()
    at = data.find(b'"format_version"')
    assert at > 0
    bad.write_bytes(_flip(data, at + 3))


def _bad_foreign_npz(good, bad):
    with open(bad, "wb") as f:
        np.savez(f, weights=np.ones(3), bias=np.zeros(2))


def _bad_npy(good, bad):
    with open(bad, "wb") as f:
        np.save(f, np.ones(3))


def _bad_text(good, bad):
    bad.write_text("step=3\nparams=...\n")


def _bad_empty(good, bad):
    bad.write_bytes(b"")


def _bad_json(good, bad):
    _rewrite_zip(good, bad, {METADATA_KEY + ".npy": _npy_bytes(np.frombuffer(b"{not json", np.uint8))})


def _bad_marker(good, bad):
    _rewrite_zip(good, bad, {METADATA_KEY + ".npy": _meta_bytes({"format_version": 1})})


def _bad_metadata_dtype(good, bad):
    _rewrite_zip(good, bad, {METADATA_KEY + ".npy": _npy_bytes(np.zeros(3, np.float32))})


def _bad_missing_member(good, bad):
    _rewrite_zip(good, bad, drop=("params/w.npy",))


def _bad_pickled_member(good, bad):
    _rewrite_zip(good, bad, {"params/w.npy": _npy_bytes(np.array([1, "x"], dtype=object), allow_pickle=True)})


def _bad_wrong_types(good, bad):
    with np.load(good) as npz:
        meta = json.loads(npz[METADATA_KEY].tobytes())
    meta["vocab"] = [1, 2]
    _rewrite_zip(good, bad, {METADATA_KEY + ".npy": _meta_bytes(meta)})


def _bad_directory(good, bad):
    bad.mkdir()


@pytest.mark.parametrize("build, words", [
    (_bad_truncated(0.5), "truncated or corrupt"),
    (_bad_truncated(0.01), "truncated or corrupt"),
    (_bad_truncated(0.0), "truncated or corrupt"),  # only the 4-byte zip signature is left
    (_bad_truncated_by_one, "truncated or corrupt"),
    (_bad_flip_array, "is corrupt (member 'params/w' cannot be read"),
    (_bad_flip_metadata, "is corrupt (member '__scratchrnn__' cannot be read"),
    (_bad_foreign_npz, "is not a scratchrnn checkpoint (no metadata member"),
    (_bad_npy, "is not a scratchrnn checkpoint (not an .npz"),
    (_bad_text, "is not a scratchrnn checkpoint (not an .npz"),
    (_bad_empty, "is empty"),
    (_bad_json, "metadata is not valid JSON"),
    (_bad_marker, "is not a scratchrnn checkpoint (metadata has no format marker"),
    (_bad_metadata_dtype, "expected 1-D uint8"),
    (_bad_missing_member, "missing array member 'params/w'"),
    (_bad_pickled_member, "is corrupt (member 'params/w' holds Python objects"),
    (_bad_wrong_types, "vocab has the wrong type"),
    (_bad_directory, "is a directory"),
], ids=lambda v: getattr(v, "__name__", None) if callable(v) else None)
def test_bad_files_raise_value_error_naming_the_file(tmp_path, build, words):
    good = _good(tmp_path)
    bad = tmp_path / "runs" / "x" / "last.npz"
    bad.parent.mkdir(parents=True)
    build(good, bad)
    with pytest.raises(ValueError) as info:
        load_checkpoint(bad)
    message = str(info.value)
    assert message.startswith(str(bad) + " "), message
    assert words in message and "\n" not in message, message
    load_checkpoint(good)  # the helper files themselves were fine


def test_missing_file_raises_file_not_found_naming_it(tmp_path):
    path = tmp_path / "nowhere" / "last.npz"
    with pytest.raises(FileNotFoundError) as info:
        load_checkpoint(path)
    assert str(path) in str(info.value) and info.value.filename == str(path)


def test_newer_format_version_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoint_io, "FORMAT_VERSION", FORMAT_VERSION + 1)
    path = save_checkpoint(tmp_path / "future.npz", params={"w": np.ones(2)})
    monkeypatch.setattr(checkpoint_io, "FORMAT_VERSION", FORMAT_VERSION)
    with pytest.raises(ValueError, match=f"format version {FORMAT_VERSION + 1}, newer") as info:
        load_checkpoint(path)
    assert str(info.value).startswith(str(path))


# -- edited checkpoints: every field's kind is checked, every error a ValueError naming the file ----
def _meta(path):
    with zipfile.ZipFile(path) as archive:
        return json.loads(np.lib.format.read_array(io.BytesIO(archive.read(METADATA_KEY + ".npy"))).tobytes())


def _with_meta(good, bad, meta=None, text=None):
    """``good`` with its metadata replaced by ``meta`` (or by the JSON ``text``), written to ``bad``."""
    text = json.dumps(meta) if text is None else text
    _rewrite_zip(good, bad, {METADATA_KEY + ".npy": _npy_bytes(np.frombuffer(text.encode(), np.uint8))})
    return bad


def _refused(path, words, reader=load_checkpoint):
    with pytest.raises(ValueError) as info:
        reader(path)
    message = str(info.value)
    assert message.startswith(str(path)) and "\n" not in message, message
    assert words in message, message


def _full(tmp_path):
    return save_checkpoint(tmp_path / "full.npz", **_full_fields())


@pytest.mark.parametrize("dtype", ["float33", "O", "<U3", "V8", "M8[s]", "<c8", "a", ["<f4"], None, 5,
                                   "f4,f4"])
def test_bad_scalar_dtype_strings_are_value_errors(tmp_path, dtype):
    """A scalar's dtype must name a bool, integer or float dtype (np.dtype raises TypeError otherwise)."""
    meta = _meta(_full(tmp_path))
    meta["extra"] = {"x": {"__npscalar__": {"dtype": dtype, "value": 1}}}
    _refused(_with_meta(_full(tmp_path), tmp_path / "bad.npz", meta), "extra['x'] is a numpy scalar of dtype")


@pytest.mark.parametrize("entry, words", [
    ({"__npscalar__": {"dtype": "<f4", "value": [1.0, 2.0]}}, "numpy scalar of dtype float32 holding a list"),
    ({"__npscalar__": {"dtype": "<f4", "value": "1.5"}}, "numpy scalar of dtype float32 holding a str"),
    ({"__npscalar__": {"dtype": "<f4", "value": True}}, "numpy scalar of dtype float32 holding a bool"),
    ({"__npscalar__": {"dtype": "|b1", "value": 1}}, "numpy scalar of dtype bool holding a int"),
    ({"__npscalar__": {"dtype": "|i1", "value": 300}}, "is a malformed numpy scalar"),
    ({"__npscalar__": {"dtype": "<i4", "value": 1.5}}, "numpy scalar of dtype int32 holding a float"),
    ({"__npscalar__": 3}, "is a malformed numpy scalar"),
    ({"__tuple__": 5}, "has a malformed __tuple__ entry"),
    ({"__dict__": [1]}, "has a malformed __dict__ entry"),
    ({"__ndarray__": 5}, "missing array member 5"),
    ({"__ndarray__": "params/nothing"}, "missing array member 'params/nothing'"),
], ids=lambda v: None if isinstance(v, str) else json.dumps(v)[:40])
def test_wrongly_typed_extra_entries_are_value_errors(tmp_path, entry, words):
    meta = _meta(_full(tmp_path))
    meta["extra"]["notes"] = entry
    _refused(_with_meta(_full(tmp_path), tmp_path / "bad.npz", meta), words)


@pytest.mark.parametrize("key, value, words", [
    ("step", -1, "step is -1, expected an integer >= 0"),
    ("step", 1.5, "step is 1.5"),
    ("epoch", "3", "epoch is '3'"),
    ("epoch", True, "epoch is True"),
    ("params", {"w": 5}, "params['w'] is not an array entry"),
    ("params", [1], "params is not a dict of arrays"),
    ("rng_state", {"bit_generator": "PCG64", "state": 5}, "rng state is not a valid PCG64 state"),
    ("rng_state", {"bit_generator": "os.system"}, "rng state must name one of the bit generators"),
    ("rng_state", [1], "rng_state has the wrong type (list)"),
    ("hidden", [1, 2], "hidden has the wrong type (list)"),
    ("hidden", {"__tuple__": [1]}, "hidden has the wrong type (tuple)"),
    ("config", "lr=0.1", "config has the wrong type (str)"),
    ("vocab", ["a", 1], "vocab has the wrong type (list)"),
    ("history", {"loss": 1}, "history has the wrong type (dict)"),
    ("format_version", "1", "format version is '1', expected an integer >= 1"),
])
def test_wrongly_typed_fields_are_value_errors(tmp_path, key, value, words):
    meta = _meta(_full(tmp_path))
    meta[key] = value
    _refused(_with_meta(_full(tmp_path), tmp_path / "bad.npz", meta), words)


def test_a_missing_field_is_a_value_error(tmp_path):
    meta = _meta(_full(tmp_path))
    del meta["hidden"]
    _refused(_with_meta(_full(tmp_path), tmp_path / "bad.npz", meta), "the metadata has no 'hidden' entry")


def test_a_params_member_that_is_not_numeric_is_refused_before_it_is_read(tmp_path):
    good = _good(tmp_path)
    bad = tmp_path / "bad.npz"
    _rewrite_zip(good, bad, {"params/w.npy": _npy_bytes(np.array(["a", "b"]))})
    _refused(bad, "params['w'] has dtype <U1, expected a numeric array")


@pytest.mark.parametrize("field", ["extra", "config", "optimizer_state"])
@pytest.mark.parametrize("kind", ["list", "dict"])
def test_metadata_nested_2000_deep_is_a_value_error(tmp_path, field, kind):
    from scratchrnn.io import load_module

    deep = "[" * 2000 + "1" + "]" * 2000 if kind == "list" else '{"a":' * 2000 + "1" + "}" * 2000
    meta = _meta(_full(tmp_path))
    meta[field] = "DEEP"
    bad = _with_meta(_full(tmp_path), tmp_path / "bad.npz", text=json.dumps(meta).replace('"DEEP"', deep))
    _refused(bad, "is corrupt (metadata is JSON nested deeper than the 64 levels (MAX_JSON_DEPTH)")
    _refused(bad, "nested deeper than the 64 levels", reader=load_module)


def test_oversized_metadata_is_refused_from_its_header(tmp_path, monkeypatch):
    good = _good(tmp_path)
    monkeypatch.setattr(checkpoint_io, "MAX_JSON_BYTES", 50)
    _refused(good, "metadata member holds")
    monkeypatch.setattr(checkpoint_io, "MAX_JSON_BYTES", 10**6)
    assert load_checkpoint(good).step == 9


def test_an_empty_file_is_a_value_error_for_every_reader(tmp_path):
    from scratchrnn.io import load_module, load_npz_weights, peek_checkpoint, read_npz

    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"")
    for reader in (load_checkpoint, peek_checkpoint, load_module, read_npz, load_npz_weights):
        _refused(empty, "is empty (0 bytes)", reader=reader)


# -- what saves, loads: the writer refuses trees the reader would --------------------------------
def _lists(depth):
    tree = 1
    for _ in range(depth):
        tree = [tree]
    return tree


def test_the_deepest_tree_that_saves_loads(tmp_path):
    deepest = checkpoint_io.MAX_JSON_DEPTH - 1  # the metadata object is the first level
    path = save_checkpoint(tmp_path / "deep.npz", params={}, extra=_lists(deepest))
    assert load_checkpoint(path).extra == _lists(deepest)
    with pytest.raises(ValueError, match="nest 65 levels deep as JSON, more than the 64"):
        save_checkpoint(tmp_path / "deeper.npz", params={}, extra=_lists(deepest + 1))
    with pytest.raises(ValueError, match="nest 65 levels deep as JSON"):  # a tuple is two levels
        save_checkpoint(tmp_path / "deeper.npz", params={}, extra=(_lists(deepest - 1),))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deep.npz"]


def test_saving_a_tree_2000_deep_is_a_value_error_not_a_recursion_error(tmp_path):
    with pytest.raises(ValueError, match=r"extra\[0\]\[0\].* is nested more than 64 levels deep"):
        save_checkpoint(tmp_path / "c.npz", params={}, extra=_lists(2000))


def test_oversized_metadata_is_refused_before_writing(tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoint_io, "MAX_JSON_BYTES", 100)
    with pytest.raises(ValueError, match=r"metadata takes \d+ bytes of JSON, more than the 100"):
        save_checkpoint(tmp_path / "c.npz", params={}, history=[{"loss": 1.0}] * 20)
    assert list(tmp_path.iterdir()) == []


def test_a_trainer_checkpoint_is_far_inside_the_limits(tmp_path):
    from scratchrnn.io.limits import json_depth

    path = trainer_checkpoint(tmp_path, num_layers=4, steps=3)
    assert json_depth(_meta(path)) <= 5 < checkpoint_io.MAX_JSON_DEPTH
    assert len(zipfile.ZipFile(path).namelist()) == 79


# -- peek_checkpoint -----------------------------------------------------------------------------
def test_peek_reads_shapes_and_config_but_no_parameter_data(tmp_path):
    path = trainer_checkpoint(tmp_path, hidden_size=32)
    want = load_checkpoint(path)
    info = peek_checkpoint(path)
    assert info.params == {k: (v.shape, v.dtype) for k, v in want.params.items()}
    assert (info.step, info.epoch, info.config, info.path) == (want.step, want.epoch, want.config, path)
    data = bytearray(path.read_bytes())
    weights = want.params["rnn.weight_hh_l0"].tobytes()  # (128, 32) float32: 16 KiB
    at = data.find(weights) + len(weights) - 1  # far past the header and the first read of the member
    data[at] ^= 0xFF  # the member's data no longer matches its CRC; its header is intact
    path.write_bytes(bytes(data))
    assert peek_checkpoint(path).params == info.params
    _refused(path, "member 'params/rnn.weight_hh_l0' cannot be read: Bad CRC-32")


# -- limits measured in a fresh process: a clean error in under a second and under 100 MB ---------
def _claiming_hidden_size(tmp_path, size):
    good = trainer_checkpoint(tmp_path / "run")
    meta = _meta(good)
    meta["config"]["model"]["hidden_size"] = size
    return _with_meta(good, tmp_path / "huge.npz", meta)


def _assert_quick_clean_error(result, words):
    assert result["error"] == "ValueError", result
    assert words in result["message"] and "\n" not in result["message"], result
    assert result["seconds"] < 1.0, result
    assert result["extra_mb"] < 100, result


@pytest.mark.parametrize("call", ["load_module", "load_language_model",
                                  "lambda p: export(p, p + '.out', 'npz')"])
def test_a_checkpoint_claiming_hidden_size_a_million_fails_quickly(tmp_path, call):
    path = _claiming_hidden_size(tmp_path, 10**6)
    result = measure_read(call, path)
    # refused by whichever check comes first: the shapes against the file's, or the configuration's
    # memory estimate (ModelConfig), both before anything is allocated
    by_shape = "gives 'rnn.weight_ih_l0' the shape (4000000, 3), the file holds shape (16, 3)"
    by_memory = "hidden_size 1,000,000 needs about"
    _assert_quick_clean_error(result, by_shape if by_shape in result.get("message", "") else by_memory)
    assert not (tmp_path / "huge.npz.out").exists()


def _with_bomb(tmp_path, declared_bytes, stream_zeros):
    """A real checkpoint whose rnn.weight_hh_l0 member is a deflated run of zeros (a zip bomb)."""
    good = trainer_checkpoint(tmp_path / "run")
    header = npy_header((declared_bytes // 8,), "<f8")
    members = members_of(good)
    at = [m.name for m in members].index("params/rnn.weight_hh_l0.npy")
    members[at] = RawMember(members[at].name, zeros_deflate(header, stream_zeros),
                            len(header) + declared_bytes, 0, method=8)
    bad = tmp_path / "bomb.npz"
    bad.write_bytes(zip_bytes(members))
    assert bad.stat().st_size < 2 << 20  # a megabyte on disk
    return bad


@pytest.mark.parametrize("call", ["load_checkpoint", "load_module"])
def test_a_zip_bomb_member_fails_quickly(tmp_path, call):
    """3 GiB declared (under the member limit) from 1 MB: more than deflate can make of it."""
    result = measure_read(call, _with_bomb(tmp_path, 3 << 30, 1 << 30))
    _assert_quick_clean_error(result, "more than deflate can produce")


def test_a_zip_bomb_member_is_read_no_further_than_it_declares(tmp_path):
    """A member whose deflate stream goes on for 1 GiB past its declared size: the declared bytes
    are read, and they are the true member, so the checkpoint loads, quickly and unchanged."""
    good = trainer_checkpoint(tmp_path / "run")
    members = members_of(good)
    at = [m.name for m in members].index("params/rnn.weight_hh_l0.npy")
    true = members[at]
    members[at] = RawMember(true.name, zeros_deflate(true.data, 1 << 30), true.size, true.crc, method=8)
    bomb = tmp_path / "bomb.npz"
    bomb.write_bytes(zip_bytes(members))
    result = measure_read("load_checkpoint", bomb)
    assert result["error"] is None and result["seconds"] < 1.0 and result["extra_mb"] < 100, result
    got, want = load_checkpoint(bomb), load_checkpoint(good)
    for name in ("params", "optimizer_state", "rng_state", "hidden", "config", "vocab", "history", "extra"):
        assert_tree_equal(getattr(got, name), getattr(want, name), name)
    members[at].crc ^= 1  # a stream that does not even match its check value fails as quickly
    bomb.write_bytes(zip_bytes(members))
    _assert_quick_clean_error(measure_read("load_checkpoint", bomb), "Bad CRC-32")


def test_a_zip_bomb_member_of_a_plausible_size_fails_quickly_where_shapes_are_known(tmp_path):
    """1 GiB declared from 1 MB, which deflate can make: load_module compares the header first."""
    result = measure_read("load_module", _with_bomb(tmp_path, 1 << 30, 1 << 30))
    _assert_quick_clean_error(result, "gives 'rnn.weight_hh_l0' the shape (16, 4), the file holds shape "
                                      "(134217728,)")


@pytest.mark.parametrize("call", ["load_checkpoint", "load_module", "read_npz"])
def test_a_header_declaring_2_to_the_40_elements_fails_quickly(tmp_path, call):
    good = trainer_checkpoint(tmp_path / "run")
    bad = tmp_path / "huge.npz"
    _rewrite_zip(good, bad, {"params/rnn.weight_hh_l0.npy": npy_header((1 << 40,), "<f4") + bytes(64)})
    result = measure_read(call, bad)
    _assert_quick_clean_error(result, "member 'params/rnn.weight_hh_l0' declares shape (1099511627776,) of "
                                      "float32")
