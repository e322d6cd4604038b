"""scratchrnn.io.interop: to_torch / from_torch for every layer and SequenceModel, and what they refuse."""

import pickle
import re
import time

import numpy as np
import pytest

from io_helpers import (
    CELL_CASES,
    CELL_IDS,
    SEQUENCE_CONFIGS,
    SEQUENCE_IDS,
    assert_same_params,
    cell_class,
    recurrent,
    sequence_model,
    torch_params,
)
from scratchrnn.io import interop
from scratchrnn.io.interop import from_torch, to_torch
from scratchrnn.nn import RNN, Embedding, GRUCell, Linear, LSTMCell, RNNCell
from scratchrnn.nn.model import CELLS, ModelConfig, SequenceModel

torch = pytest.importorskip("torch")

TOL = {np.float32: 1e-6, np.float64: 1e-12}
RECURRENT_CASES = [  # constructor keywords besides the sizes
    {},
    {"num_layers": 2, "bidirectional": True},
    {"num_layers": 3, "bias": False, "batch_first": True, "dropout": 0.25},
    {"num_layers": 2, "bidirectional": True, "bias": False, "batch_first": True},
]


# -- helpers -------------------------------------------------------------------------------------
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
    m = recurrent(cell, extra, case, dtype)
    t = to_torch(m)
    assert type(t) is getattr(torch.nn, cell.upper())
    assert _recurrent_settings(t) == _recurrent_settings(m)
    if cell == "rnn":
        assert t.nonlinearity == extra["nonlinearity"]
    assert_same_params(torch_params(t), m.params)
    back = from_torch(t)
    assert type(back) is type(m)
    assert back.dtype == m.dtype
    assert _recurrent_settings(back) == _recurrent_settings(m)
    assert getattr(back, "nonlinearity", None) == getattr(m, "nonlinearity", None)
    assert_same_params(back.params, m.params)
    # copies, not views: changing the torch weights leaves the original alone
    with torch.no_grad():
        next(iter(t.parameters())).add_(1.0)
    assert_same_params(back.params, m.params)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", RECURRENT_CASES)
@pytest.mark.parametrize(("cell", "extra"), CELL_CASES, ids=CELL_IDS)
def test_recurrent_outputs_agree_with_torch_export(cell, extra, case, dtype):
    rng = np.random.default_rng(7)
    m = recurrent(cell, extra, case, dtype, seed=1).eval()
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
    cell_class(cell)
    kwargs = dict(num_layers=2, bidirectional=True, **extra)
    t = _seeded_torch(3, lambda: getattr(torch.nn, cell.upper())(3, 5, **kwargs))
    if dtype == np.float64:
        t = t.double()  # the dtype comes from the weights, not from how the module was built
    t.eval()
    m = from_torch(t)
    assert m.dtype == np.dtype(dtype)
    assert not m.training
    assert_same_params(m.params, torch_params(t))
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
    assert_same_params(back.params, m.params)
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
    assert_same_params(back.params, m.params)
    idx = np.random.default_rng(1).integers(0, 9, size=(5, 3))  # (T, B)
    with torch.no_grad():
        _assert_close(t(torch.from_numpy(idx)), m.forward(idx)[0], 0.0)  # a lookup is exact


# -- SequenceModel -------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs", SEQUENCE_CONFIGS, ids=SEQUENCE_IDS)
def test_sequence_model_round_trip_is_identity(kwargs):
    m = sequence_model(kwargs)
    t = to_torch(m)
    assert isinstance(t, interop.TorchSequenceModel)
    assert list(t.state_dict()) == list(m.params)
    assert (t.embedding is None) == (m.embedding is None)
    assert isinstance(t.rnn, getattr(torch.nn, m.config.cell.upper()))
    back = from_torch(t)
    assert type(back) is SequenceModel
    assert back.config == m.config
    assert_same_params(back.params, m.params)
    # the flat dict still aliases the layers' own arrays after loading
    for k, v in back.rnn.params.items():
        assert back.params[f"rnn.{k}"] is v


@pytest.mark.parametrize("kwargs", SEQUENCE_CONFIGS, ids=SEQUENCE_IDS)
def test_sequence_model_outputs_agree_with_torch_export(kwargs):
    m = sequence_model(kwargs, seed=4).eval()
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
    cell_class(kwargs["cell"])
    t = _seeded_torch(9, lambda: interop.TorchSequenceModel(ModelConfig(**kwargs))).eval()
    m = from_torch(t)
    assert m.config == ModelConfig(**kwargs)
    x = _sequence_input(m, 6, 2, np.random.default_rng(2))
    with torch.no_grad():
        y_t, _ = t(torch.from_numpy(x))
    _assert_close(y_t, m.forward(x)[0], TOL[m.dtype.type])


def test_torch_sequence_model_pickles():
    t = to_torch(sequence_model(SEQUENCE_CONFIGS[0]))
    again = pickle.loads(pickle.dumps(t))
    assert type(again) is type(t)
    assert_same_params(torch_params(again), torch_params(t))


# -- errors --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("nonlinearity", ["sigmoid", "identity"])
def test_rnn_without_torch_equivalent_is_refused(nonlinearity):
    with pytest.raises(ValueError, match=f"'{nonlinearity}'.*no PyTorch equivalent"):
        to_torch(RNN(3, 4, nonlinearity=nonlinearity, rng=0))
    model = sequence_model(dict(cell="rnn", vocab_size=4, hidden_size=3, nonlinearity=nonlinearity))
    with pytest.raises(ValueError, match=f"'{nonlinearity}'"):
        to_torch(model)


def test_from_torch_with_a_mismatched_submodule_names_the_key():
    t = interop.TorchSequenceModel(ModelConfig(cell="rnn", vocab_size=5, embedding_dim=2, hidden_size=3))
    t.rnn = torch.nn.RNN(2, 4)  # hidden size 4, the config says 3
    with pytest.raises(ValueError, match="rnn.weight_ih_l0"):
        from_torch(t)


CELL_MODULES = [lambda d: RNNCell(3, 4, dtype=d, rng=0),
                lambda d: RNNCell(3, 4, nonlinearity="relu", dtype=d, rng=0),
                lambda d: LSTMCell(3, 4, dtype=d, rng=0), lambda d: GRUCell(3, 4, bias=False, dtype=d, rng=0)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("make", CELL_MODULES, ids=["rnn", "relu", "lstm", "gru-nobias"])
def test_cells_go_to_torch_and_back_with_the_same_steps(make, dtype):
    cell = make(dtype)
    theirs = to_torch(cell)
    assert type(theirs).__name__ == type(cell).__name__ and theirs.bias == cell.bias
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3)).astype(dtype)
    ours, _ = cell.forward(x)
    with torch.no_grad():
        got = theirs(torch.from_numpy(x))
    got = got[0] if isinstance(got, tuple) else got
    first = ours[0] if isinstance(ours, tuple) else ours
    np.testing.assert_allclose(first, got.numpy(), rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-6)
    back = from_torch(theirs)
    assert type(back) is type(cell) and np.dtype(back.dtype) == np.dtype(dtype)
    assert interop.describe(back) == interop.describe(cell)
    for k, v in cell.params.items():
        np.testing.assert_array_equal(back.params[k], v)


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


# -- check_weights: the parameters a description implies, without building the module -----------
def _described_modules():
    for cell, extra in CELL_CASES:
        for case in RECURRENT_CASES:
            yield recurrent(cell, extra, case)
    yield Linear(4, 2, rng=0)
    yield Linear(4, 2, bias=False, rng=0)
    yield Embedding(6, 3, rng=0)
    for make in CELL_MODULES:
        yield make(np.float32)
    for kwargs in SEQUENCE_CONFIGS:
        yield sequence_model(kwargs)


@pytest.mark.parametrize("module", list(_described_modules()), ids=repr)
def test_check_weights_implies_exactly_the_parameters_a_module_has(module):
    kind, cfg = interop.describe(module)
    interop.check_weights(kind, cfg, module.params)  # its own weights fit
    for key, value in module.params.items():
        wrong = dict(module.params, **{key: np.zeros(value.shape + (1,), value.dtype)})
        words = f"gives {key!r} the shape {value.shape}, the file holds shape {value.shape + (1,)}"
        with pytest.raises(ValueError, match=re.escape(words)):
            interop.check_weights(kind, cfg, wrong)
        missing = {k: v for k, v in module.params.items() if k != key}
        with pytest.raises(ValueError, match=re.escape(f"has a parameter {key!r} of shape")):
            interop.check_weights(kind, cfg, missing)
    with pytest.raises(ValueError, match="the file holds 'extra.weight', which the"):
        interop.check_weights(kind, cfg, {**module.params, "extra.weight": np.zeros(2)})


def test_check_weights_takes_shapes_and_dtypes_as_peek_checkpoint_gives_them():
    module = sequence_model(SEQUENCE_CONFIGS[0])
    kind, cfg = interop.describe(module)
    interop.check_weights(kind, cfg, {k: (v.shape, v.dtype) for k, v in module.params.items()})
    specs = {k: (v.shape, np.dtype(np.complex64)) for k, v in module.params.items()}
    with pytest.raises(ValueError, match="has dtype complex64, expected a real numeric array"):
        interop.check_weights(kind, cfg, specs)


@pytest.mark.parametrize("change, words", [
    ({"hidden_size": "6"}, "hidden_size must be a positive integer, got '6'"),
    ({"hidden_size": 0}, "hidden_size must be a positive integer, got 0"),
    ({"num_layers": 2.0}, "num_layers must be a positive integer"),
    ({"vocab_size": -7}, "vocab_size must be None or a positive integer"),
    ({"bidirectional": "yes"}, "bidirectional must be True or False, got 'yes'"),
    ({"dtype": None}, "dtype must be one of float32, float64, got None"),
    ({"dtype": "float16"}, "dtype must be one of float32, float64, got float16"),
    ({"dtype": "float33"}, "dtype must be one of float32, float64, got 'float33'"),
    ({"cell": 5}, "unknown cell 5; expected one of gru, lstm, rnn"),
    ({"head": "first"}, "head must be one of 'all', 'last', 'final', 'mean', 'max', got 'first'"),
    ({"input_size": 3}, "give exactly one of vocab_size"),
    ({"widths": 1}, "unknown model configuration key(s) ['widths']"),
    ({"bias": np.zeros((30, 30))}, "the SequenceModel configuration's 'bias' is a ndarray, expected a"),
    ({"hidden_size": [6]}, "configuration's 'hidden_size' is a list"),
], ids=lambda v: None if isinstance(v, str) else next(iter(v)))
def test_check_weights_refuses_a_description_of_the_wrong_types(change, words):
    module = sequence_model(SEQUENCE_CONFIGS[0])
    kind, cfg = interop.describe(module)
    with pytest.raises(ValueError, match=re.escape(words)) as info:
        interop.check_weights(kind, {**cfg, **change}, module.params)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("kind, cfg, words", [
    ("RNN", {"input_size": 3, "hidden_size": "4"}, "hidden_size must be a positive integer, got '4'"),
    ("LSTM", {"input_size": 3, "hidden_size": 4, "bias": 1}, "bias must be True or False, got 1"),
    ("Linear", {"in_features": 3, "width": 2}, "does not fit its constructor"),
    ("Embedding", {"num_embeddings": 3}, "does not fit its constructor"),
    ("Conv1d", {}, "unknown module class 'Conv1d'"),
    ("Linear", [3, 2], "the Linear configuration must be a dict, got list"),
    ("GRU", {"input_size": {"n": 3}, "hidden_size": 4}, "the GRU configuration's 'input_size' is a dict"),
])
def test_check_weights_refuses_a_layer_description_that_does_not_fit(kind, cfg, words):
    with pytest.raises(ValueError, match=re.escape(words)):
        interop.check_weights(kind, cfg, {})


def test_a_description_claiming_huge_sizes_costs_nothing():
    module = sequence_model(SEQUENCE_CONFIGS[1])
    kind, cfg = interop.describe(module)
    start = time.perf_counter()
    claims = (({"hidden_size": 10**6}, "needs about|MAX_SIZE"), ({"num_layers": 10**9}, "MAX_LAYERS"),
              ({"vocab_size": 10**12}, "MAX_SIZE"))
    for change, words in claims:
        with pytest.raises(ValueError, match=words):
            interop.check_weights(kind, {**cfg, **change}, module.params)
    with pytest.raises(ValueError, match="MAX_LAYERS"):
        interop.check_weights("GRU", {"input_size": 3, "hidden_size": 4, "num_layers": 10**9},
                              recurrent("gru", {}, {}).params)
    assert time.perf_counter() - start < 0.5

