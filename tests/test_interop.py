"""scratchrnn.io PyTorch interop: to_torch / from_torch, safetensors and .npz weights, export."""

import json
import pickle
import sys
import zipfile

import numpy as np
import pytest

from scratchrnn import io as sio
from scratchrnn.io import (
    MissingDependencyError,
    export,
    from_torch,
    load_module,
    load_npz_weights,
    load_safetensors,
    save_checkpoint,
    save_npz_weights,
    save_safetensors,
    to_torch,
)
from scratchrnn.nn import RNN, Embedding, Linear
from scratchrnn.nn.model import CELLS, ModelConfig, SequenceModel

torch = pytest.importorskip("torch")

TOL = {np.float32: 1e-6, np.float64: 1e-12}
RECURRENT_CASES = [  # constructor keywords besides the sizes
    {},
    {"num_layers": 2, "bidirectional": True},
    {"num_layers": 3, "bias": False, "batch_first": True, "dropout": 0.25},
    {"num_layers": 2, "bidirectional": True, "bias": False, "batch_first": True},
]
CELL_CASES = [("rnn", {"nonlinearity": "tanh"}), ("rnn", {"nonlinearity": "relu"}), ("lstm", {}), ("gru", {})]
CELL_IDS = ["rnn-tanh", "rnn-relu", "lstm", "gru"]
SEQUENCE_CONFIGS = [
    dict(cell="rnn", vocab_size=7, embedding_dim=5, hidden_size=6),
    dict(cell="lstm", vocab_size=7, hidden_size=5, num_layers=2, bidirectional=True, head="last"),
    dict(cell="gru", input_size=4, output_size=3, hidden_size=5, head="last", head_bias=False),
    dict(cell="rnn", vocab_size=6, hidden_size=4, nonlinearity="relu", bias=False, num_layers=2),
    dict(cell="gru", vocab_size=6, embedding_dim=3, hidden_size=4, bidirectional=True, dtype="float64"),
    dict(cell="lstm", input_size=3, output_size=2, hidden_size=4, dtype="float64"),
]
SEQUENCE_IDS = ["rnn-embed", "lstm-onehot-last-bidir", "gru-dense-last", "relu-onehot-nobias",
                "gru-embed-bidir-f64", "lstm-dense-f64"]


# -- helpers -------------------------------------------------------------------------------------
def _cell_class(cell: str):
    if cell not in CELLS:
        pytest.skip(f"scratchrnn.nn has no {cell.upper()} yet")
    return CELLS[cell]


def _recurrent(cell, extra, case, dtype=np.float32, seed=0):
    return _cell_class(cell)(3, 4, **extra, **case, dtype=dtype, rng=seed)


def _assert_same_params(got: dict, want: dict):
    """Same names in the same order, same dtypes and shapes, identical bits."""
    assert list(got) == list(want)
    for k in want:
        g, w = np.asarray(got[k]), np.asarray(want[k])
        assert g.dtype == w.dtype, (k, g.dtype, w.dtype)
        assert g.shape == w.shape, (k, g.shape, w.shape)
        assert g.tobytes() == w.tobytes(), k


def _torch_params(module) -> dict:
    return {k: v.detach().numpy() for k, v in module.state_dict().items()}


def _recurrent_settings(m) -> dict:
    names = ("input_size", "hidden_size", "num_layers", "bias", "batch_first", "dropout", "bidirectional")
    return {n: getattr(m, n) for n in names}


def _random_state(module, batch: int, rng):
    """A random initial state for a scratchrnn recurrent layer, and the same as tensors."""
    shape = (module.num_layers * (2 if module.bidirectional else 1), batch, module.hidden_size)
    parts = [rng.standard_normal(shape).astype(module.dtype)  # (L*D, B, H)
             for _ in range(module.STATE_ARITY)]
    tensors = [torch.from_numpy(p.copy()) for p in parts]
    if module.STATE_ARITY == 1:
        return parts[0], tensors[0]
    return tuple(parts), tuple(tensors)


def _as_list(state):
    return list(state) if isinstance(state, tuple) else [state]


def _assert_close(got_torch, want, tol):
    got = got_torch.detach().numpy()
    assert got.dtype == want.dtype
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=0, atol=tol)


def _sequence_input(model: SequenceModel, T: int, B: int, rng):
    cfg = model.config
    if cfg.vocab_size is not None:
        return rng.integers(0, cfg.vocab_size, size=(T, B))  # (T, B)
    return rng.standard_normal((T, B, cfg.input_size)).astype(model.dtype)  # (T, B, F)


def _seeded_torch(seed, build):
    """Build a torch module from a fixed seed without touching the global torch generator."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return build()


# -- to_torch / from_torch: recurrent layers -----------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", RECURRENT_CASES)
@pytest.mark.parametrize(("cell", "extra"), CELL_CASES, ids=CELL_IDS)
def test_recurrent_round_trip_is_identity(cell, extra, case, dtype):
    m = _recurrent(cell, extra, case, dtype)
    t = to_torch(m)
    assert type(t) is getattr(torch.nn, cell.upper())
    assert _recurrent_settings(t) == _recurrent_settings(m)
    if cell == "rnn":
        assert t.nonlinearity == extra["nonlinearity"]
    _assert_same_params(_torch_params(t), m.params)
    back = from_torch(t)
    assert type(back) is type(m)
    assert back.dtype == m.dtype
    assert _recurrent_settings(back) == _recurrent_settings(m)
    assert getattr(back, "nonlinearity", None) == getattr(m, "nonlinearity", None)
    _assert_same_params(back.params, m.params)
    # copies, not views: changing the torch weights leaves the original alone
    with torch.no_grad():
        next(iter(t.parameters())).add_(1.0)
    _assert_same_params(back.params, m.params)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", RECURRENT_CASES)
@pytest.mark.parametrize(("cell", "extra"), CELL_CASES, ids=CELL_IDS)
def test_recurrent_outputs_agree_with_torch_export(cell, extra, case, dtype):
    rng = np.random.default_rng(7)
    m = _recurrent(cell, extra, case, dtype, seed=1).eval()
    t = to_torch(m)
    assert not t.training
    T, B = 6, 3
    x = rng.standard_normal((B, T, 3) if m.batch_first else (T, B, 3)).astype(dtype)  # input layout
    h0, h0_t = _random_state(m, B, rng)
    out, h_n, _ = m.forward(x, h0)
    with torch.no_grad():
        out_t, h_n_t = t(torch.from_numpy(x), h0_t)
    _assert_close(out_t, out, TOL[dtype])
    for got, want in zip(_as_list(h_n_t), _as_list(h_n), strict=True):
        _assert_close(got, want, TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("cell", "extra"), CELL_CASES, ids=CELL_IDS)
def test_torch_made_recurrent_converts_with_same_outputs(cell, extra, dtype):
    _cell_class(cell)
    kwargs = dict(num_layers=2, bidirectional=True, **extra)
    t = _seeded_torch(3, lambda: getattr(torch.nn, cell.upper())(3, 5, **kwargs))
    if dtype == np.float64:
        t = t.double()  # the dtype comes from the weights, not from how the module was built
    t.eval()
    m = from_torch(t)
    assert m.dtype == np.dtype(dtype)
    assert not m.training
    _assert_same_params(m.params, _torch_params(t))
    rng = np.random.default_rng(11)
    x = rng.standard_normal((5, 2, 3)).astype(dtype)  # (T, B, F)
    h0, h0_t = _random_state(m, 2, rng)
    out, h_n, _ = m.forward(x, h0)
    with torch.no_grad():
        out_t, h_n_t = t(torch.from_numpy(x), h0_t)
    _assert_close(out_t, out, TOL[dtype])
    for got, want in zip(_as_list(h_n_t), _as_list(h_n), strict=True):
        _assert_close(got, want, TOL[dtype])


def test_training_mode_is_carried_both_ways():
    m = RNN(3, 4, rng=0)
    assert to_torch(m).training
    assert not to_torch(m.eval()).training
    t = torch.nn.GRU(2, 3) if "gru" in CELLS else torch.nn.RNN(2, 3)
    assert from_torch(t.train()).training
    assert not from_torch(t.eval()).training


# -- Linear and Embedding --------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_round_trip_and_outputs(bias, dtype):
    m = Linear(5, 3, bias=bias, dtype=dtype, rng=2)
    t = to_torch(m)
    assert type(t) is torch.nn.Linear
    assert (t.in_features, t.out_features, t.bias is not None) == (5, 3, bias)
    back = from_torch(t)
    assert type(back) is Linear and back.bias == bias and back.dtype == np.dtype(dtype)
    _assert_same_params(back.params, m.params)
    x = np.random.default_rng(0).standard_normal((4, 2, 5)).astype(dtype)  # (..., in)
    with torch.no_grad():
        _assert_close(t(torch.from_numpy(x)), m.forward(x)[0], TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_embedding_round_trip_and_outputs(dtype):
    m = Embedding(9, 4, dtype=dtype, rng=3)
    t = to_torch(m)
    assert type(t) is torch.nn.Embedding
    assert (t.num_embeddings, t.embedding_dim) == (9, 4)
    back = from_torch(t)
    assert type(back) is Embedding and back.dtype == np.dtype(dtype)
    _assert_same_params(back.params, m.params)
    idx = np.random.default_rng(1).integers(0, 9, size=(5, 3))  # (T, B)
    with torch.no_grad():
        _assert_close(t(torch.from_numpy(idx)), m.forward(idx)[0], 0.0)  # a lookup is exact


# -- SequenceModel -------------------------------------------------------------------------------
def _sequence_model(kwargs, seed=0) -> SequenceModel:
    cfg = ModelConfig(**kwargs)
    _cell_class(cfg.cell)
    return SequenceModel(cfg, rng=seed)


@pytest.mark.parametrize("kwargs", SEQUENCE_CONFIGS, ids=SEQUENCE_IDS)
def test_sequence_model_round_trip_is_identity(kwargs):
    m = _sequence_model(kwargs)
    t = to_torch(m)
    assert isinstance(t, sio.TorchSequenceModel)
    assert list(t.state_dict()) == list(m.params)
    assert (t.embedding is None) == (m.embedding is None)
    assert isinstance(t.rnn, getattr(torch.nn, m.config.cell.upper()))
    back = from_torch(t)
    assert type(back) is SequenceModel
    assert back.config == m.config
    _assert_same_params(back.params, m.params)
    # the flat dict still aliases the layers' own arrays after loading
    for k, v in back.rnn.params.items():
        assert back.params[f"rnn.{k}"] is v


@pytest.mark.parametrize("kwargs", SEQUENCE_CONFIGS, ids=SEQUENCE_IDS)
def test_sequence_model_outputs_agree_with_torch_export(kwargs):
    m = _sequence_model(kwargs, seed=4).eval()
    t = to_torch(m)
    rng = np.random.default_rng(5)
    x = _sequence_input(m, 7, 3, rng)
    h0, h0_t = _random_state(m.rnn, 3, rng)
    y, h_n, _ = m.forward(x, h0)
    with torch.no_grad():
        y_t, h_n_t = t(torch.from_numpy(x), h0_t)
    tol = TOL[m.dtype.type]
    _assert_close(y_t, y, tol)
    for got, want in zip(_as_list(h_n_t), _as_list(h_n), strict=True):
        _assert_close(got, want, tol)
    # no initial state means zeros on both sides
    with torch.no_grad():
        y_t0, _ = t(torch.from_numpy(x))
    _assert_close(y_t0, m.forward(x)[0], tol)


@pytest.mark.parametrize("kwargs", SEQUENCE_CONFIGS[:3], ids=SEQUENCE_IDS[:3])
def test_torch_made_sequence_model_converts_with_same_outputs(kwargs):
    _cell_class(kwargs["cell"])
    t = _seeded_torch(9, lambda: sio.TorchSequenceModel(ModelConfig(**kwargs))).eval()
    m = from_torch(t)
    assert m.config == ModelConfig(**kwargs)
    x = _sequence_input(m, 6, 2, np.random.default_rng(2))
    with torch.no_grad():
        y_t, _ = t(torch.from_numpy(x))
    _assert_close(y_t, m.forward(x)[0], TOL[m.dtype.type])


def test_torch_sequence_model_pickles():
    t = to_torch(_sequence_model(SEQUENCE_CONFIGS[0]))
    again = pickle.loads(pickle.dumps(t))
    assert type(again) is type(t)
    _assert_same_params(_torch_params(again), _torch_params(t))


# -- weight files --------------------------------------------------------------------------------
@pytest.fixture
def safetensors():
    return pytest.importorskip("safetensors")


def _module_cases():
    yield "rnn-relu-f64", lambda: RNN(3, 4, num_layers=2, nonlinearity="relu", bidirectional=True,
                                      dtype=np.float64, rng=0)
    yield "rnn-sigmoid", lambda: RNN(3, 4, nonlinearity="sigmoid", bias=False, batch_first=True, rng=1)
    yield "lstm", lambda: _recurrent("lstm", {}, {"num_layers": 2, "dropout": 0.5}, seed=2)
    yield "gru", lambda: _recurrent("gru", {}, {"bidirectional": True, "bias": False}, seed=3)
    yield "linear", lambda: Linear(4, 2, bias=False, rng=4)
    yield "embedding", lambda: Embedding(6, 3, dtype=np.float64, rng=5)
    yield "sequence", lambda: _sequence_model(SEQUENCE_CONFIGS[1], seed=6)
    yield "sequence-dense", lambda: _sequence_model(SEQUENCE_CONFIGS[2], seed=7)


MODULE_CASES = list(_module_cases())
SAVERS = {"safetensors": (save_safetensors, load_safetensors), "npz": (save_npz_weights, load_npz_weights)}


def _formats(request, fmt):
    if fmt == "safetensors":
        request.getfixturevalue("safetensors")
    return SAVERS[fmt]


def _same_module(got, want):
    assert type(got) is type(want)
    assert got.dtype == want.dtype
    assert repr(got) == repr(want)  # every constructor setting shows in the repr
    if isinstance(want, SequenceModel):
        assert got.config == want.config
    _assert_same_params(got.params, want.params)


@pytest.mark.parametrize("fmt", ["safetensors", "npz"])
@pytest.mark.parametrize("build", [b for _, b in MODULE_CASES], ids=[n for n, _ in MODULE_CASES])
def test_load_module_rebuilds_an_equal_module(build, fmt, tmp_path, request):
    save, load = _formats(request, fmt)
    m = build()
    path = tmp_path / f"weights.{fmt}"
    assert save(m, path) == path
    _assert_same_params(dict(sorted(load(path).items())), dict(sorted(m.params.items())))
    again = load_module(path)
    _same_module(again, m)
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # written atomically


@pytest.mark.parametrize("fmt", ["safetensors", "npz"])
@pytest.mark.parametrize(("cell", "extra"), CELL_CASES, ids=CELL_IDS)
def test_weight_files_load_into_torch_modules_strictly(cell, extra, fmt, tmp_path, request):
    save, load = _formats(request, fmt)
    m = _recurrent(cell, extra, {"num_layers": 2, "bidirectional": True}, np.float64)
    path = save(m, tmp_path / f"w.{fmt}")
    # a torch module built independently from the same settings
    t = getattr(torch.nn, cell.upper())(3, 4, num_layers=2, bidirectional=True, dtype=torch.float64, **extra)
    t.load_state_dict({k: torch.from_numpy(v) for k, v in load(path).items()}, strict=True)
    _assert_same_params(_torch_params(t), m.params)
    # and through readers that know nothing of scratchrnn
    if fmt == "safetensors":
        from safetensors.torch import load_file

        plain = load_file(str(path))
    else:
        with np.load(path, allow_pickle=False) as archive:
            plain = {k: torch.from_numpy(archive[k]) for k in archive.files}
    t2 = getattr(torch.nn, cell.upper())(3, 4, num_layers=2, bidirectional=True, dtype=torch.float64, **extra)
    t2.load_state_dict(plain, strict=True)
    _assert_same_params(_torch_params(t2), m.params)


@pytest.mark.parametrize("fmt", ["safetensors", "npz"])
def test_sequence_model_file_loads_into_torch_sequence_model(fmt, tmp_path, request):
    save, load = _formats(request, fmt)
    m = _sequence_model(SEQUENCE_CONFIGS[0], seed=8)
    path = save(m, tmp_path / f"model.{fmt}")
    t = sio.TorchSequenceModel(m.config)
    t.load_state_dict({k: torch.from_numpy(v) for k, v in load(path).items()}, strict=True)
    _assert_same_params(_torch_params(t), m.params)


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
    _same_module(load_module(save(t, tmp_path / f"lin.{fmt}")), from_torch(t))
    # a plain state dict (tensors here) keeps its weights but cannot be rebuilt as a module
    state = torch.nn.Conv1d(2, 3, 2).state_dict()
    path = save(state, tmp_path / f"conv.{fmt}")
    _assert_same_params(dict(sorted(load(path).items())), {k: v.numpy() for k, v in sorted(state.items())})
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
    m = _sequence_model(SEQUENCE_CONFIGS[1], seed=10)
    ckpt = _trainer_checkpoint(tmp_path / "run.ckpt", m)
    out = export(ckpt, tmp_path / f"run.{fmt}", fmt)
    assert out == tmp_path / f"run.{fmt}"
    _same_module(load_module(out), m)
    _same_module(load_module(ckpt), m)  # a trainer checkpoint rebuilds directly too
    t = sio.TorchSequenceModel(m.config)
    t.load_state_dict({k: torch.from_numpy(v) for k, v in load(out).items()}, strict=True)


def test_export_checkpoint_without_model_config_writes_plain_weights(tmp_path):
    params = {"weight": np.arange(6, dtype=np.float32).reshape(2, 3)}  # (2, 3)
    ckpt = save_checkpoint(tmp_path / "plain.ckpt", params=params)
    out = export(ckpt, tmp_path / "plain.npz", "npz")
    _assert_same_params(load_npz_weights(out), params)
    with pytest.raises(ValueError, match="without a module description"):
        load_module(out)


# -- errors --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("nonlinearity", ["sigmoid", "identity"])
def test_rnn_without_torch_equivalent_is_refused(nonlinearity):
    with pytest.raises(ValueError, match=f"'{nonlinearity}'.*no PyTorch equivalent"):
        to_torch(RNN(3, 4, nonlinearity=nonlinearity, rng=0))
    model = _sequence_model(dict(cell="rnn", vocab_size=4, hidden_size=3, nonlinearity=nonlinearity))
    with pytest.raises(ValueError, match=f"'{nonlinearity}'"):
        to_torch(model)


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
    m = _sequence_model(dict(cell="rnn", vocab_size=5, embedding_dim=2, hidden_size=3, output_size=4))
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
    m = _sequence_model(dict(cell="rnn", vocab_size=5, hidden_size=3, output_size=4))
    state, key = _tamper(m.state_dict(), how)
    ckpt = _trainer_checkpoint(tmp_path / "bad.ckpt", m, params=state)
    for call in (lambda: export(ckpt, tmp_path / "out.npz", "npz"), lambda: load_module(ckpt)):
        with pytest.raises(ValueError) as info:
            call()
        assert key in str(info.value) and str(ckpt) in str(info.value)
    assert not (tmp_path / "out.npz").exists()


def test_from_torch_with_a_mismatched_submodule_names_the_key():
    t = sio.TorchSequenceModel(ModelConfig(cell="rnn", vocab_size=5, embedding_dim=2, hidden_size=3))
    t.rnn = torch.nn.RNN(2, 4)  # hidden size 4, the config says 3
    with pytest.raises(ValueError, match="rnn.weight_ih_l0"):
        from_torch(t)


def test_export_errors(tmp_path):
    m = _sequence_model(SEQUENCE_CONFIGS[0])
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
    ckpt = _trainer_checkpoint(tmp_path / "run.ckpt", _sequence_model(SEQUENCE_CONFIGS[0]))
    with pytest.raises(ValueError, match="run.ckpt is a scratchrnn checkpoint"):
        load_npz_weights(ckpt)


def test_unsupported_modules_are_refused():
    with pytest.raises(ValueError, match="Conv1d"):
        from_torch(torch.nn.Conv1d(2, 3, 2))
    with pytest.raises(ValueError, match="proj_size"):
        from_torch(torch.nn.LSTM(3, 4, proj_size=2))
    with pytest.raises(ValueError, match="padding_idx"):
        from_torch(torch.nn.Embedding(5, 2, padding_idx=0))
    with pytest.raises(ValueError, match="float16"):
        from_torch(torch.nn.Linear(2, 2).half())
    with pytest.raises(ValueError, match="dict"):
        to_torch({"weight": np.zeros(2)})
    with pytest.raises(ValueError, match="ndarray"):
        from_torch(np.zeros(2))


def test_missing_optional_packages_give_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "safetensors", None)
    with pytest.raises(MissingDependencyError, match=r"safetensors is not installed"):
        save_safetensors(Linear(2, 2, rng=0), tmp_path / "w.safetensors")
    monkeypatch.setitem(sys.modules, "torch", None)
    expected = r"PyTorch is not installed; install scratchrnn\[torch\]"
    for call in (lambda: to_torch(Linear(2, 2, rng=0)), lambda: from_torch(object())):
        with pytest.raises(MissingDependencyError, match=expected):
            call()
    assert issubclass(MissingDependencyError, ImportError) and issubclass(MissingDependencyError, ValueError)
    # numpy-only paths keep working without torch
    m = Linear(2, 3, rng=1)
    _same_module(load_module(save_npz_weights(m, tmp_path / "w.npz")), m)
    assert not list(tmp_path.glob("*.safetensors"))
