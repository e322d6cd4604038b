"""scratchrnn.io.checkpoint: round trips of every field, refusal of bad values and of bad files."""

import dataclasses
import io
import json
import math
import re
import zipfile

import numpy as np
import pytest

from io_helpers import assert_same_array
from scratchrnn.io import checkpoint as checkpoint_io
from scratchrnn.io.checkpoint import (
    FORMAT_VERSION,
    METADATA_KEY,
    Checkpoint,
    load_checkpoint,
    restore_generator,
    save_checkpoint,
)


# -- helpers -------------------------------------------------------------------------------------
def _assert_tree_equal(got, want, where="root"):
    """Exact structural equality: container types, key order, scalar types and values, array bits."""
    if isinstance(want, np.ndarray):
        assert_same_array(got, want)
        return
    assert type(got) is type(want), f"{where}: {type(got).__name__} != {type(want).__name__}"
    if isinstance(want, dict):
        assert list(got) == list(want), where
        for key in want:
            _assert_tree_equal(got[key], want[key], f"{where}[{key!r}]")
    elif isinstance(want, (list, tuple)):
        assert len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            _assert_tree_equal(g, w, f"{where}[{i}]")
    elif isinstance(want, np.generic):
        assert got.dtype == want.dtype and got.tobytes() == want.tobytes(), where
    elif isinstance(want, float):
        assert (math.isnan(got) and math.isnan(want)) or (
            got == want and math.copysign(1.0, got) == math.copysign(1.0, want)
        ), where
    else:
        assert got == want, where


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
        _assert_tree_equal(getattr(ckpt, name), want, name)
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
    _assert_tree_equal(ckpt.optimizer_state, state)
    assert type(ckpt.optimizer_state["hyper"]["lr32"]) is np.float32
    assert type(ckpt.optimizer_state["hyper"]["betas"]) is tuple


@pytest.mark.parametrize("hidden", [
    None,
    np.arange(24, dtype=np.float32).reshape(2, 4, 3),  # (L, B, H)
    (np.zeros((1, 2, 3)), np.ones((1, 2, 3))),  # (h, c)
], ids=["none", "array", "tuple"])
def test_hidden_state(tmp_path, hidden):
    ckpt = load_checkpoint(save_checkpoint(tmp_path / "h.npz", params={}, hidden=hidden))
    _assert_tree_equal(ckpt.hidden, hidden)


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
    _assert_tree_equal(load_checkpoint(packed).params, params)


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
    (_bad_pickled_member, "is corrupt (member 'params/w' cannot be read"),
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
