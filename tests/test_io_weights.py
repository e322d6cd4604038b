"""scratchrnn.io.weights: safetensors and .npz weight files, load_module and export, and bad files."""

import json
import re
import zipfile

import numpy as np
import pytest

from io_helpers import (
    CELL_CASES,
    CELL_IDS,
    SEQUENCE_CONFIGS,
    assert_same_params,
    recurrent,
    same_module,
    sequence_model,
    torch_params,
)
from scratchrnn.io import interop
from scratchrnn.io import weights as weights_module
from scratchrnn.io.checkpoint import save_checkpoint
from scratchrnn.io.interop import from_torch
from scratchrnn.io.weights import (
    export,
    load_module,
    load_npz_weights,
    load_safetensors,
    save_npz_weights,
    save_safetensors,
)
from scratchrnn.nn import RNN, Embedding, Linear
from scratchrnn.nn.model import SequenceModel

torch = pytest.importorskip("torch")


# -- weight files --------------------------------------------------------------------------------
@pytest.fixture
def safetensors():
    return pytest.importorskip("safetensors")


def _module_cases():
    yield "rnn-relu-f64", lambda: RNN(3, 4, num_layers=2, nonlinearity="relu", bidirectional=True,
                                      dtype=np.float64, rng=0)
    yield "rnn-sigmoid", lambda: RNN(3, 4, nonlinearity="sigmoid", bias=False, batch_first=True, rng=1)
    yield "lstm", lambda: recurrent("lstm", {}, {"num_layers": 2, "dropout": 0.5}, seed=2)
    yield "gru", lambda: recurrent("gru", {}, {"bidirectional": True, "bias": False}, seed=3)
    yield "linear", lambda: Linear(4, 2, bias=False, rng=4)
    yield "embedding", lambda: Embedding(6, 3, dtype=np.float64, rng=5)
    yield "sequence", lambda: sequence_model(SEQUENCE_CONFIGS[1], seed=6)
    yield "sequence-dense", lambda: sequence_model(SEQUENCE_CONFIGS[2], seed=7)


MODULE_CASES = list(_module_cases())
SAVERS = {"safetensors": (save_safetensors, load_safetensors), "npz": (save_npz_weights, load_npz_weights)}


def _formats(request, fmt):
    if fmt == "safetensors":
        request.getfixturevalue("safetensors")
    return SAVERS[fmt]


@pytest.mark.parametrize("fmt", ["safetensors", "npz"])
@pytest.mark.parametrize("build", [b for _, b in MODULE_CASES], ids=[n for n, _ in MODULE_CASES])
def test_load_module_rebuilds_an_equal_module(build, fmt, tmp_path, request):
    save, load = _formats(request, fmt)
    m = build()
    path = tmp_path / f"weights.{fmt}"
    assert save(m, path) == path
    assert_same_params(dict(sorted(load(path).items())), dict(sorted(m.params.items())))
    again = load_module(path)
    same_module(again, m)
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # written atomically


@pytest.mark.parametrize("fmt", ["safetensors", "npz"])
@pytest.mark.parametrize(("cell", "extra"), CELL_CASES, ids=CELL_IDS)
def test_weight_files_load_into_torch_modules_strictly(cell, extra, fmt, tmp_path, request):
    save, load = _formats(request, fmt)
    m = recurrent(cell, extra, {"num_layers": 2, "bidirectional": True}, np.float64)
    path = save(m, tmp_path / f"w.{fmt}")
    # a torch module built independently from the same settings
    t = getattr(torch.nn, cell.upper())(3, 4, num_layers=2, bidirectional=True, dtype=torch.float64, **extra)
    t.load_state_dict({k: torch.from_numpy(v) for k, v in load(path).items()}, strict=True)
    assert_same_params(torch_params(t), m.params)
    # and through readers that know nothing of scratchrnn
    if fmt == "safetensors":
        from safetensors.torch import load_file

        plain = load_file(str(path))
    else:
        with np.load(path, allow_pickle=False) as archive:
            plain = {k: torch.from_numpy(archive[k]) for k in archive.files}
    t2 = getattr(torch.nn, cell.upper())(3, 4, num_layers=2, bidirectional=True, dtype=torch.float64, **extra)
    t2.load_state_dict(plain, strict=True)
    assert_same_params(torch_params(t2), m.params)


@pytest.mark.parametrize("fmt", ["safetensors", "npz"])
def test_sequence_model_file_loads_into_torch_sequence_model(fmt, tmp_path, request):
    save, load = _formats(request, fmt)
    m = sequence_model(SEQUENCE_CONFIGS[0], seed=8)
    path = save(m, tmp_path / f"model.{fmt}")
    t = interop.TorchSequenceModel(m.config)
    t.load_state_dict({k: torch.from_numpy(v) for k, v in load(path).items()}, strict=True)
    assert_same_params(torch_params(t), m.params)


def test_safetensors_metadata_records_class_and_config(safetensors, tmp_path):
    m = RNN(3, 4, num_layers=2, nonlinearity="relu", dropout=0.1, rng=0)
    path = save_safetensors(m, tmp_path / "rnn.safetensors")
    with safetensors.safe_open(str(path), framework="numpy") as f:
        meta = f.metadata()
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items())
    assert meta["scratchrnn.module"] == "RNN"
    assert json.loads(meta["scratchrnn.config"]) == {
        "input_size": 3, "hidden_size": 4, "num_layers": 2, "nonlinearity": "relu", "bias": True,
        "batch_first": False, "dropout": 0.1, "bidirectional": False, "dtype": "float32",
    }


@pytest.mark.parametrize("fmt", ["safetensors", "npz"])
def test_saving_torch_modules_and_state_dicts(fmt, tmp_path, request):
    save, load = _formats(request, fmt)
    t = torch.nn.Linear(3, 2, dtype=torch.float64)
    same_module(load_module(save(t, tmp_path / f"lin.{fmt}")), from_torch(t))
    # a plain state dict (tensors here) keeps its weights but cannot be rebuilt as a module
    state = torch.nn.Conv1d(2, 3, 2).state_dict()
    path = save(state, tmp_path / f"conv.{fmt}")
    assert_same_params(dict(sorted(load(path).items())), {k: v.numpy() for k, v in sorted(state.items())})
    with pytest.raises(ValueError, match="without a module description"):
        load_module(path)


# -- export ------------------------------------------------------------------------------------------
def _trainer_checkpoint(path, model: SequenceModel, params=None):
    return save_checkpoint(
        path,
        params=model.params if params is None else params,
        config={"model": model.config.to_dict(), "train": {"lr": 0.1}},
        vocab=[f"t{i}" for i in range(model.config.vocab_size or 0)],
        step=3,
    )


@pytest.mark.parametrize("fmt", ["safetensors", "npz"])
def test_export_trainer_checkpoint(fmt, tmp_path, request):
    _, load = _formats(request, fmt)
    m = sequence_model(SEQUENCE_CONFIGS[1], seed=10)
    ckpt = _trainer_checkpoint(tmp_path / "run.ckpt", m)
    out = export(ckpt, tmp_path / f"run.{fmt}", fmt)
    assert out == tmp_path / f"run.{fmt}"
    same_module(load_module(out), m)
    same_module(load_module(ckpt), m)  # a trainer checkpoint rebuilds directly too
    t = interop.TorchSequenceModel(m.config)
    t.load_state_dict({k: torch.from_numpy(v) for k, v in load(out).items()}, strict=True)


def test_export_checkpoint_without_model_config_writes_plain_weights(tmp_path):
    params = {"weight": np.arange(6, dtype=np.float32).reshape(2, 3)}  # (2, 3)
    ckpt = save_checkpoint(tmp_path / "plain.ckpt", params=params)
    out = export(ckpt, tmp_path / "plain.npz", "npz")
    assert_same_params(load_npz_weights(out), params)
    with pytest.raises(ValueError, match="without a module description"):
        load_module(out)


# -- errors --------------------------------------------------------------------------------------------
def _tamper(state: dict, how: str):
    """A copy of a state dict with one key missing, one extra, or one wrongly shaped; and that key."""
    state = dict(state)
    if how == "missing":
        key = "rnn.weight_hh_l0"
        del state[key]
    elif how == "extra":
        key = "rnn.weight_hh_l9"
        state[key] = np.zeros((2, 2), np.float32)  # (2, 2)
    else:
        key = "head.weight"
        state[key] = np.zeros(state[key].shape[::-1], np.float32)  # transposed shape
    return state, key


@pytest.mark.parametrize("fmt", ["safetensors", "npz"])
@pytest.mark.parametrize("how", ["missing", "extra", "shape"])
def test_bad_state_dict_in_a_file_names_the_key(how, fmt, tmp_path, request):
    save, _ = _formats(request, fmt)
    m = sequence_model(dict(cell="rnn", vocab_size=5, embedding_dim=2, hidden_size=3, output_size=4))
    good = save(m, tmp_path / f"good.{fmt}")
    state, key = _tamper(m.state_dict(), how)
    bad = tmp_path / f"bad.{fmt}"
    if fmt == "safetensors":
        from safetensors.numpy import save_file

        with request.getfixturevalue("safetensors").safe_open(str(good), framework="numpy") as f:
            meta = f.metadata()
        save_file(state, str(bad), metadata=meta)
    else:
        with zipfile.ZipFile(good) as z:
            comment = z.comment
        np.savez(bad, **state)
        with zipfile.ZipFile(bad, "a") as z:
            z.comment = comment
    with pytest.raises(ValueError) as info:
        load_module(bad)
    assert key in str(info.value) and str(bad) in str(info.value)


@pytest.mark.parametrize("how", ["missing", "extra", "shape"])
def test_bad_state_dict_in_a_checkpoint_names_the_key(how, tmp_path):
    m = sequence_model(dict(cell="rnn", vocab_size=5, hidden_size=3, output_size=4))
    state, key = _tamper(m.state_dict(), how)
    ckpt = _trainer_checkpoint(tmp_path / "bad.ckpt", m, params=state)
    for call in (lambda: export(ckpt, tmp_path / "out.npz", "npz"), lambda: load_module(ckpt)):
        with pytest.raises(ValueError) as info:
            call()
        assert key in str(info.value) and str(ckpt) in str(info.value)
    assert not (tmp_path / "out.npz").exists()


def test_export_errors(tmp_path):
    m = sequence_model(SEQUENCE_CONFIGS[0])
    ckpt = _trainer_checkpoint(tmp_path / "run.ckpt", m)
    with pytest.raises(ValueError, match="unknown export format 'onnx'"):
        export(ckpt, tmp_path / "x.onnx", "onnx")
    missing = tmp_path / "nope.ckpt"
    with pytest.raises(FileNotFoundError, match="nope.ckpt"):
        export(missing, tmp_path / "x.npz", "npz")
    text = tmp_path / "notes.txt"
    text.write_text("not a checkpoint\n")
    with pytest.raises(ValueError, match="notes.txt.*not a scratchrnn checkpoint"):
        export(text, tmp_path / "x.npz", "npz")
    weights = save_npz_weights(m, tmp_path / "weights.npz")
    with pytest.raises(ValueError, match="weights.npz.*not a scratchrnn checkpoint"):
        export(weights, tmp_path / "x.npz", "npz")
    with pytest.raises(ValueError, match="onto itself"):
        export(ckpt, ckpt, "npz")
    assert load_module(ckpt).config == m.config  # the checkpoint survived
    assert not (tmp_path / "x.npz").exists() and not (tmp_path / "x.onnx").exists()


def test_reader_errors_name_the_file(tmp_path, safetensors):
    missing = tmp_path / "missing.safetensors"
    for read in (load_safetensors, load_npz_weights, load_module):
        with pytest.raises(FileNotFoundError, match="missing.safetensors"):
            read(missing)
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00\x01not a weights file at all" * 4)
    for read in (load_safetensors, load_npz_weights, load_module):
        with pytest.raises(ValueError, match="junk.bin"):
            read(junk)
    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match="empty.npz.*empty"):
        load_npz_weights(empty)
    ckpt = _trainer_checkpoint(tmp_path / "run.ckpt", sequence_model(SEQUENCE_CONFIGS[0]))
    with pytest.raises(ValueError, match="run.ckpt is a scratchrnn checkpoint"):
        load_npz_weights(ckpt)


# -- descriptions read from a file are checked before anything is built -------------------------
def _npz_with_description(path, arrays, module, config):
    """An .npz weights file holding ``arrays`` and the description ``module`` / ``config`` (JSON text)."""
    np.savez(path, **arrays)
    meta = {"scratchrnn.format": "scratchrnn-weights", "scratchrnn.format_version": "1",
            "scratchrnn.module": module, "scratchrnn.config": config}
    with zipfile.ZipFile(path, "a") as z:
        z.comment = json.dumps(meta).encode()
    return path


def _no_build(monkeypatch):
    def build_scratch(*args, **kwargs):
        raise AssertionError("a module was built before its weights were compared")
    monkeypatch.setattr(weights_module, "build_scratch", build_scratch)


@pytest.mark.parametrize("change, words", [
    ({"hidden_size": 10**6}, "the RNN configuration"),  # within MAX_SIZE: refused by the shape comparison
    ({"num_layers": 10**6}, r"num_layers must be at most 1,024 \(scratchrnn.checks.MAX_LAYERS\)"),
    ({"input_size": 10**9}, r"input_size must be at most 1,048,576 \(scratchrnn.checks.MAX_SIZE\)"),
])
def test_a_weights_file_claiming_huge_sizes_is_refused_before_building(tmp_path, monkeypatch, change, words):
    module = RNN(3, 4, rng=0)
    _, cfg = interop.describe(module)
    path = _npz_with_description(tmp_path / "w.npz", module.params, "RNN", json.dumps({**cfg, **change}))
    _no_build(monkeypatch)
    with pytest.raises(ValueError, match=f"^{re.escape(str(path))}: {words}"):
        load_module(path)


def test_a_trainer_checkpoint_claiming_huge_sizes_is_refused_before_building(tmp_path, monkeypatch):
    m = sequence_model(SEQUENCE_CONFIGS[0])
    ckpt = _trainer_checkpoint(tmp_path / "run.ckpt", m)
    config = {"model": {**m.config.to_dict(), "hidden_size": 10**6}}
    save_checkpoint(ckpt, params=m.params, config=config)
    _no_build(monkeypatch)
    for call in (load_module, lambda p: export(p, tmp_path / "out.npz", "npz")):
        # the configuration's own memory estimate refuses it before any shape is compared
        words = r"run\.ckpt: a model of 1 rnn layer .* hidden_size 1,000,000 needs about"
        with pytest.raises(ValueError, match=words):
            call(ckpt)
    assert not (tmp_path / "out.npz").exists()


def test_a_description_nested_2000_deep_is_a_value_error(tmp_path):
    module = Linear(4, 2, rng=0)
    path = _npz_with_description(tmp_path / "w.npz", module.params, "Linear", "[" * 2000 + "]" * 2000)
    with pytest.raises(ValueError, match=r"w\.npz is corrupt \(module configuration is JSON nested deeper"):
        load_module(path)


def test_a_foreign_zip_comment_nested_2000_deep_leaves_plain_weights(tmp_path):
    path = tmp_path / "w.npz"
    np.savez(path, w=np.ones(2))
    with zipfile.ZipFile(path, "a") as z:
        z.comment = b"[" * 2000 + b"]" * 2000
    assert list(load_npz_weights(path)) == ["w"]
    with pytest.raises(ValueError, match="holds weights without a module description"):
        load_module(path)
