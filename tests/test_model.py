"""SequenceModel (scratchrnn.nn.model): the whole model's backward against finite differences and
against its PyTorch twin, for every input kind and head."""

from __future__ import annotations

import json

import numpy as np
import pytest

from scratchrnn.gradcheck import check_gradients
from scratchrnn.losses import cross_entropy, mse
from scratchrnn.nn.model import ModelCache, ModelConfig, SequenceModel

T, B, V, F = 4, 3, 6, 2

CASES = {  # name -> ModelConfig fields
    "embedding lstm": dict(cell="lstm", vocab_size=V, embedding_dim=3),
    "tied gru two layers": dict(cell="gru", vocab_size=V, embedding_dim=3, num_layers=2, tie_weights=True),
    "tied rnn bidirectional": dict(cell="rnn", vocab_size=V, embedding_dim=6, bidirectional=True,
                                   tie_weights=True),
    "one-hot gru bidirectional": dict(cell="gru", vocab_size=V, bidirectional=True),
    "dense rnn last": dict(cell="rnn", input_size=F, output_size=2, head="last", num_layers=2),
    "dense lstm last bidirectional": dict(cell="lstm", input_size=F, output_size=2, head="last",
                                          bidirectional=True),
}


def make(case: str, truncate=None):
    cfg = ModelConfig(hidden_size=3, dtype="float64", **CASES[case])
    model = SequenceModel(cfg, rng=1)
    rng = np.random.default_rng(2)
    if model.token_input:
        x = rng.integers(0, V, size=(T, B))
        y = rng.integers(0, V, size=(T, B))
        loss = lambda out: cross_entropy(out, y, reduction="sum")  # noqa: E731
    else:
        x = rng.standard_normal((T, B, F))
        y = rng.standard_normal((B, 2) if cfg.head == "last" else (T, B, 2))
        loss = lambda out: mse(out, y, reduction="sum")  # noqa: E731
    return model, x, loss


@pytest.mark.parametrize("case", sorted(CASES))
def test_backward_matches_finite_differences(case):
    model, x, loss = make(case)
    out, _, cache = model.forward(x)
    _, dout = loss(out)
    dx, _, grads = model.backward(dout, None, cache)
    assert list(grads) == list(model.params)
    assert (dx is None) == model.token_input
    report = check_gradients(lambda _p: loss(model.forward(x)[0])[0], model.params, grads)
    assert report.ok, str(report)


@pytest.mark.parametrize("case", sorted(CASES))
def test_forward_and_backward_match_the_torch_twin(case):
    torch = pytest.importorskip("torch")
    from scratchrnn.io import to_torch

    model, x, loss = make(case)
    twin = to_torch(model)
    out, h_n, cache = model.forward(x)
    X = torch.tensor(x)
    y_t, _ = twin(X)
    np.testing.assert_allclose(out, y_t.detach().numpy(), rtol=1e-12, atol=1e-12)
    _, dout = loss(out)
    _, _, grads = model.backward(dout, None, cache)
    (y_t * torch.tensor(dout)).sum().backward()
    for name, p in twin.named_parameters():
        np.testing.assert_allclose(grads[name], p.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=name)


def test_many_to_one_truncation_reaches_only_the_last_steps():
    """head 'last' enters through h_n: with truncate=k the first input steps get no gradient."""
    model, x, loss = make("dense rnn last")
    out, _, cache = model.forward(x)
    _, dout = loss(out)
    dx, _, _ = model.backward(dout, None, cache, truncate=1)
    assert np.all(dx[: T - 2] == 0.0) and np.any(dx[T - 2 :] != 0.0)


def test_the_cache_is_named_and_checked():
    model, x, _ = make("embedding lstm")
    out, _, cache = model.forward(x)
    assert isinstance(cache, ModelCache) and cache.out_shape == (T, B, 3)
    with pytest.raises(ValueError, match="cache returned by forward, got tuple"):
        model.backward(np.zeros_like(out), None, tuple(cache))


def test_initial_state_and_configuration_errors():
    model, _, _ = make("embedding lstm")
    h, c = model.init_state(5)
    assert h.shape == c.shape == (1, 5, 3) and not h.any()
    with pytest.raises(ValueError, match="exactly one of vocab_size"):
        SequenceModel(ModelConfig(vocab_size=4, input_size=2))
    with pytest.raises(ValueError, match="head must be one of 'all', 'last', 'final', 'mean', 'max'"):
        SequenceModel(ModelConfig(vocab_size=4, head="first"))
    with pytest.raises(ValueError, match="unknown cell 'elman'"):
        SequenceModel(ModelConfig(vocab_size=4, cell="elman"))
    with pytest.raises(ValueError, match="unknown model configuration key"):
        ModelConfig.from_dict({"cells": "rnn"})


# -- the configuration: checked, normalised, and its shapes known before anything is made ---------
SHAPE_CONFIGS = [
    dict(cell=cell, layers=layers, bidirectional=bidir, inputs=inputs, head=head, bias=bias)
    for cell in ("rnn", "lstm", "gru")
    for layers in (1, 3)
    for bidir in (False, True)
    for inputs in ("one-hot", "embedding", "dense")
    for head, bias in (("all", True), ("last", False))
]


@pytest.mark.parametrize("c", SHAPE_CONFIGS, ids=lambda c: "-".join(str(v) for v in c.values()))
def test_param_shapes_equal_the_state_dict_shapes(c):
    sizes = (dict(input_size=5, output_size=2) if c["inputs"] == "dense"
             else dict(vocab_size=7, embedding_dim=3 if c["inputs"] == "embedding" else None))
    cfg = ModelConfig(cell=c["cell"], hidden_size=4, num_layers=c["layers"], bidirectional=c["bidirectional"],
                      head=c["head"], bias=c["bias"], head_bias=not c["bias"], **sizes)
    shapes = cfg.param_shapes()
    state = SequenceModel(cfg, rng=0).state_dict()
    assert list(shapes) == list(state)  # the same names in the same order
    assert shapes == {k: v.shape for k, v in state.items()}


def test_param_shapes_allocate_nothing():
    cfg = ModelConfig(vocab_size=65, hidden_size=8, num_layers=4)
    cfg.hidden_size = 2**18  # 1.1 TB of float32, set after the check: param_shapes only reads the fields
    shapes = cfg.param_shapes()
    assert shapes["rnn.weight_hh_l3"] == (2**18, 2**18) and shapes["head.weight"] == (65, 2**18)


def test_a_model_too_large_for_the_machine_is_refused_before_anything_is_made():
    message = (r"^a model of 2 rnn layers with vocab_size 65 and hidden_size 1,000,000 needs about 12 TB "
               r"for its 3,000,134,000,065 weights \(float32, gradients and optimizer state not counted\); "
               r"this machine has .* of memory$")
    with pytest.raises(ValueError, match=message):
        ModelConfig(vocab_size=65, hidden_size=1_000_000, num_layers=2)
    with pytest.raises(ValueError, match="embedding_dim 1,000,000.*needs about 1.09 TB"):
        ModelConfig(cell="lstm", vocab_size=65, embedding_dim=1_000_000, hidden_size=64_000)
    cfg = ModelConfig(vocab_size=65)
    cfg.hidden_size = 1_000_000  # set afterwards: the model checks again before building
    with pytest.raises(ValueError, match="needs about 4 TB"):
        SequenceModel(cfg)


def test_model_config_stores_numpy_scalars_as_python_values():
    cfg = ModelConfig(vocab_size=np.int64(5), hidden_size=np.int32(4), num_layers=np.uint8(2),
                      dropout=np.float32(0.25), bidirectional=np.bool_(True), dtype=np.float64)
    d = cfg.to_dict()
    assert json.loads(json.dumps(d)) == d  # JSON-friendly, as checkpoints store it
    assert type(d["vocab_size"]) is int and type(d["dropout"]) is float and type(d["bidirectional"]) is bool
    assert d["dtype"] == "float64" and d["dropout"] == pytest.approx(0.25)
    assert SequenceModel(cfg, rng=0).dtype == np.float64


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (dict(dtype="bogus"), "dtype must be one of float32, float64, got 'bogus'"),
        (dict(dtype=None), "dtype must be one of float32, float64, got None"),
        (dict(hidden_size="8"), "hidden_size must be a positive integer, got '8'"),
        (dict(hidden_size=2**21), r"hidden_size must be at most 1,048,576 \(scratchrnn.checks.MAX_SIZE\)"),
        (dict(num_layers=0), "num_layers must be a positive integer, got 0"),
        (dict(vocab_size=4.0), "vocab_size must be None or a positive integer, got 4.0"),
        (dict(embedding_dim=True), "embedding_dim must be None or a positive integer, got True"),
        (dict(dropout=1.0), r"dropout must be a probability in \[0, 1\), got 1.0"),
        (dict(dropout=float("nan")), r"dropout must be a probability in \[0, 1\), got nan"),
        (dict(bias="no"), "bias must be True or False, got 'no'"),
        (dict(bidirectional=1), "bidirectional must be True or False, got 1"),
        (dict(head_bias=None), "head_bias must be True or False, got None"),
        (dict(nonlinearity="gelu"), "unknown nonlinearity 'gelu'"),
        (dict(output_size=-1), "output_size must be None or a positive integer, got -1"),
        (dict(vocab_size=None, input_size=3), "output_size is required for dense inputs"),
        (dict(vocab_size=None, input_size=3, output_size=2, embedding_dim=4),
         "embedding_dim needs token inputs"),
    ],
)
def test_model_config_names_the_bad_field(fields, message):
    with pytest.raises(ValueError, match=message):
        ModelConfig(**{"vocab_size": 4, **fields})


def test_model_needs_a_model_config():
    with pytest.raises(ValueError, match="config must be a ModelConfig, got dict"):
        SequenceModel({"vocab_size": 4})
    with pytest.raises(ValueError, match="a model configuration must be a dict, got list"):
        ModelConfig.from_dict([("vocab_size", 4)])


# -- tied weights ----------------------------------------------------------------------------------
def test_tied_weights_are_one_array_held_once():
    model, _, _ = make("tied gru two layers")
    assert "head.weight" not in model.params and "head.weight" not in model.state_dict()
    assert model.head.params["weight"] is model.params["embedding.weight"]
    assert model.tied_names == {"head.weight": "embedding.weight"}
    assert list(model.config.param_shapes()) == list(model.params)
    untied = SequenceModel(ModelConfig(hidden_size=3, dtype="float64",
                                       **{**CASES["tied gru two layers"], "tie_weights": False}), rng=1)
    for name, w in model.params.items():  # the other weights are the untied model's draws
        np.testing.assert_array_equal(w, untied.params[name], err_msg=name)
    model.params["embedding.weight"][0, 0] = 7.0  # an update of the embedding is one of the head
    assert model.head.params["weight"][0, 0] == 7.0


def test_a_tied_gradient_sums_the_lookup_and_the_head():
    model, x, loss = make("tied gru two layers")
    out, _, cache = model.forward(x)
    _, dout = loss(out)
    _, _, grads = model.backward(dout, None, cache)
    emb, _ = model.embedding.forward(x)  # (T, B, E)
    rnn_out = model.rnn.forward(emb)[0]  # (T, B, E): the head's input
    d_head = np.einsum("tbv,tbe->ve", dout, rnn_out)  # (V, E) the head's share
    lookup = grads["embedding.weight"] - d_head  # what remains is the lookup's: zero rows for unseen ids
    unseen = sorted(set(range(V)) - set(np.unique(x).tolist()))
    np.testing.assert_allclose(lookup[unseen], 0.0, atol=1e-12)
    assert not np.allclose(lookup, 0.0)


@pytest.mark.parametrize("fields, message", [
    (dict(vocab_size=V, embedding_dim=5, hidden_size=4),
     r"^tie_weights needs embedding_dim equal to the head's input, the top layer's output \(hidden_size 4\), "
     r"got embedding_dim 5 and hidden_size 4$"),
    (dict(vocab_size=V, embedding_dim=4, hidden_size=4, bidirectional=True),
     r"\(2 \* hidden_size = 8\), got embedding_dim 4 and hidden_size 4$"),
    (dict(vocab_size=V, hidden_size=4), r"needs token inputs with a learned embedding, got vocab_size=6, "
     r"embedding_dim=None$"),
    (dict(input_size=3, hidden_size=4, output_size=2), r"got vocab_size=None, embedding_dim=None$"),
    (dict(vocab_size=V, embedding_dim=4, hidden_size=4, output_size=3),
     r"needs a head over the vocabulary \(output_size 6, the embedding's rows\), got output_size=3$"),
])
def test_tie_weights_with_sizes_that_differ_is_refused_naming_both(fields, message):
    with pytest.raises(ValueError, match=message):
        ModelConfig(tie_weights=True, **fields)


def test_a_tied_model_loads_torchs_state_dict_with_both_names_and_refuses_two_matrices():
    torch = pytest.importorskip("torch")
    from scratchrnn.io import from_torch, to_torch

    model, x, _ = make("tied gru two layers")
    twin = to_torch(model)
    assert twin.head.weight is twin.embedding.weight
    state = {k: v.numpy().copy() for k, v in twin.state_dict().items()}
    assert "head.weight" in state  # torch lists the shared Parameter under both names
    other = SequenceModel(model.config, rng=5)
    other.load_state_dict(state)
    np.testing.assert_array_equal(other.forward(x)[0], model.forward(x)[0])
    state["head.weight"] = state["head.weight"] + 1.0
    with pytest.raises(ValueError, match="'head.weight' differs from 'embedding.weight'; a model with "
                                         "tie_weights holds one matrix for both"):
        other.load_state_dict(state)
    with torch.no_grad():
        twin.embedding.weight.add_(0.5)
    back = from_torch(twin)
    np.testing.assert_allclose(back.params["embedding.weight"], model.params["embedding.weight"] + 0.5)
    assert back.head.params["weight"] is back.params["embedding.weight"]


@pytest.mark.parametrize("fmt", ["safetensors", "npz"])
def test_a_tied_model_survives_weight_files_and_checkpoints(tmp_path, fmt):
    from scratchrnn.io import (
        load_checkpoint,
        load_module,
        save_checkpoint,
        save_npz_weights,
        save_safetensors,
    )

    if fmt == "safetensors":
        pytest.importorskip("safetensors")
    model, x, _ = make("tied rnn bidirectional")
    path = (save_safetensors if fmt == "safetensors" else save_npz_weights)(model, tmp_path / f"m.{fmt}")
    back = load_module(path)
    assert back.config.tie_weights and back.head.params["weight"] is back.params["embedding.weight"]
    np.testing.assert_array_equal(back.forward(x)[0], model.forward(x)[0])
    ck = save_checkpoint(tmp_path / "ck.npz", params=model.params, config={"model": model.config.to_dict()})
    assert set(load_checkpoint(ck).params) == set(model.params)
    again = load_module(ck)
    np.testing.assert_array_equal(again.forward(x)[0], model.forward(x)[0])
