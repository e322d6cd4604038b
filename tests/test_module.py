"""The Module base (scratchrnn.nn.module): state dicts with PyTorch's names, loaded in place, and
bad state dicts rejected without changing anything."""

from __future__ import annotations

import numpy as np
import pytest

from scratchrnn import GRU, LSTM, RNN
from scratchrnn.nn import Embedding, Linear
from scratchrnn.nn.model import ModelConfig, SequenceModel
from scratchrnn.nn.module import Parameters, check_weights_fit
from scratchrnn.optim import SGD, Adam


@pytest.fixture
def small():
    return RNN(3, 4, num_layers=2, dtype=np.float64, rng=0)


def assert_close(actual, expected, atol=1e-10, what=""):
    np.testing.assert_allclose(actual, expected, rtol=0.0, atol=atol, err_msg=what)


# -- state dicts -------------------------------------------------------------------------------
def test_state_dict_round_trip():
    kw = dict(num_layers=2, bidirectional=True, dtype=np.float64)
    a = RNN(3, 4, rng=0, **kw)
    b = RNN(3, 4, rng=1, **kw)
    sd = a.state_dict()
    refs = {k: id(v) for k, v in b.params.items()}
    b.load_state_dict(sd)
    assert {k: id(v) for k, v in b.params.items()} == refs  # loaded in place
    for k in a.params:
        assert np.array_equal(a.params[k], b.params[k])
    sd["weight_ih_l0"][...] = 0.0  # the state dict is a copy
    assert np.abs(a.params["weight_ih_l0"]).max() > 0
    x = np.random.default_rng(0).standard_normal((4, 2, 3))  # (T, B, F)
    assert_close(a.forward(x)[0], b.forward(x)[0], 0.0)


def _snapshot(m):
    return {k: v.copy() for k, v in m.params.items()}


def _assert_unchanged(m, snap):
    assert set(m.params) == set(snap)
    for k, v in snap.items():
        assert np.array_equal(m.params[k], v), k


def test_load_state_dict_missing_key_changes_nothing(small):
    snap = _snapshot(small)
    sd = {k: np.ones_like(v) for k, v in small.params.items()}
    del sd["bias_hh_l1"]
    with pytest.raises(ValueError, match="missing.*bias_hh_l1"):
        small.load_state_dict(sd)
    _assert_unchanged(small, snap)


def test_load_state_dict_extra_key(small):
    snap = _snapshot(small)
    sd = {k: np.ones_like(v) for k, v in small.params.items()}
    sd["weight_ih_l2"] = np.ones((4, 4))
    with pytest.raises(ValueError, match="unexpected.*weight_ih_l2"):
        small.load_state_dict(sd)
    _assert_unchanged(small, snap)
    small.load_state_dict(sd, strict=False)  # non-strict ignores the extra key
    assert all(np.array_equal(v, np.ones_like(v)) for v in small.params.values())


def test_load_state_dict_wrong_shape_changes_nothing(small):
    snap = _snapshot(small)
    sd = {k: np.ones_like(v) for k, v in small.params.items()}
    sd["weight_hh_l1"] = np.ones((4, 5))  # a late key: earlier ones must not be written either
    with pytest.raises(ValueError, match=r"'weight_hh_l1' has shape \(4, 5\), expected \(4, 4\)"):
        small.load_state_dict(sd)
    _assert_unchanged(small, snap)


def test_parameters_count_and_train_eval_modes():
    layer = Linear(3, 2, rng=0)
    assert layer.num_parameters() == 3 * 2 + 2
    assert layer.training and layer.eval() is layer and not layer.training
    assert layer.train() is layer and layer.training
    assert repr(layer) == "Linear(in_features=3, out_features=2, bias=True)"


def test_load_state_dict_casts_to_the_module_dtype_and_rejects_non_numbers(small):
    sd = {k: v.astype(np.float32) for k, v in small.params.items()}
    small.load_state_dict(sd)
    assert all(v.dtype == np.float64 for v in small.params.values())
    with pytest.raises(ValueError, match="mapping of name -> array, got list"):
        small.load_state_dict([])
    sd["bias_hh_l1"] = np.array(["a"] * 4)
    with pytest.raises(ValueError, match="'bias_hh_l1' has non-numeric dtype"):
        small.load_state_dict(sd)


# -- versions of the weights: a cache made before a change is refused ------------------------------
T, B = 4, 2


def _recurrent(cls, truncate=None, **kw):
    def build():
        layer = cls(3, 4, dtype=np.float64, rng=0, **kw)
        x = np.random.default_rng(1).standard_normal((T, B, 3))  # (T, B, F)

        def run():
            out, _, cache = layer.forward(x)
            return cache, lambda c: layer.backward(np.ones_like(out), None, c, truncate=truncate)

        return layer, run

    return build


def _linear():
    layer = Linear(3, 2, dtype=np.float64, rng=0)
    x = np.random.default_rng(1).standard_normal((T, B, 3))

    def run():
        y, cache = layer.forward(x)
        return cache, lambda c: layer.backward(np.ones_like(y), c)

    return layer, run


def _embedding():
    layer = Embedding(5, 3, dtype=np.float64, rng=0)
    ids = np.random.default_rng(1).integers(0, 5, (T, B))

    def run():
        y, cache = layer.forward(ids)
        return cache, lambda c: layer.backward(np.ones_like(y), c)

    return layer, run


def _model(**kw):
    def build():
        model = SequenceModel(ModelConfig(vocab_size=5, hidden_size=4, dtype="float64", **kw), rng=0)
        ids = np.random.default_rng(1).integers(0, 5, (T, B))

        def run():
            y, _, cache = model.forward(ids)
            return cache, lambda c: model.backward(np.ones_like(y), None, c)

        return model, run

    return build


LAYERS = {
    "RNN": _recurrent(RNN),
    "LSTM": _recurrent(LSTM),
    "GRU": _recurrent(GRU),
    "stacked bidirectional LSTM": _recurrent(LSTM, num_layers=2, bidirectional=True),
    "stacked GRU, truncated": _recurrent(GRU, truncate=1, num_layers=3),
    "Linear": _linear,
    "Embedding": _embedding,
    "SequenceModel": _model(),
    "SequenceModel, embedding, bidirectional GRU": _model(cell="gru", embedding_dim=3, bidirectional=True),
}

STALE = r"\.backward: this cache was made with older weights \(version {}, now {}\): run forward again"


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_a_cache_from_before_load_state_dict_is_refused(name):
    layer, run = LAYERS[name]()
    cache, backward = run()
    layer.load_state_dict(layer.state_dict())  # the same numbers, written again: still a change
    with pytest.raises(ValueError, match=STALE.format(0, 1)):
        backward(cache)
    cache, backward = run()  # a fresh forward is accepted
    backward(cache)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_a_cache_from_before_an_optimizer_step_is_refused(name):
    layer, run = LAYERS[name]()
    opt = SGD(layer.params, lr=0.1)
    for step in range(3):  # forward, backward, step, forward, backward ...: the normal loop is unaffected
        cache, backward = run()
        grads = backward(cache)[-1]
        opt.step(grads)
        assert layer.version == step + 1
    with pytest.raises(ValueError, match=STALE.format(2, 3)):
        backward(cache)


def test_a_model_and_its_layers_share_one_version():
    model = SequenceModel(ModelConfig(vocab_size=5, embedding_dim=3, hidden_size=4), rng=0)
    parts = (model, model.embedding, model.rnn, model.head)
    assert {id(m.params.version) for m in parts} == {id(model.params.version)}
    ids = np.zeros((T, B), np.int64)
    y, _, cache = model.forward(ids)
    Adam(model.rnn.params).step({k: np.zeros_like(v) for k, v in model.rnn.params.items()})
    assert [m.version for m in parts] == [1, 1, 1, 1]
    with pytest.raises(ValueError, match=STALE.format(0, 1)):
        model.backward(np.ones_like(y), None, cache)
    with pytest.raises(ValueError, match="^Linear" + STALE.format(0, 1)):  # each part checks its own
        model.head.backward(np.ones_like(y), cache.head)
    model.embedding.load_state_dict(model.embedding.state_dict())
    assert model.version == 2


def test_only_a_change_bumps_the_version(small):
    x = np.zeros((T, B, 3))
    out, _, cache = small.forward(x)
    small.backward(np.ones_like(out), None, cache)
    small.eval().train()
    small.state_dict()
    with pytest.raises(ValueError):
        small.load_state_dict({})  # refused: nothing changed
    assert small.version == 0
    small.backward(np.ones_like(out), None, cache)  # as often as wanted


def test_an_optimizer_on_a_plain_dict_has_no_version_to_bump(small):
    opt = SGD(dict(small.params), lr=0.1)
    assert opt.version is None
    opt.step({k: np.ones_like(v) for k, v in small.params.items()})
    assert small.version == 0  # documented: a copy of the dict is not the module's params
    small.params.version.bump()  # what a caller who writes the arrays by hand does
    assert small.version == 1 and repr(small.params.version) == "ParamVersion(1)"


def test_parameters_is_a_dict_with_a_version():
    p = Parameters(w=np.zeros(2))
    assert isinstance(p, dict) and p.version.value == 0 and type(dict(p)) is dict
    assert Parameters().version is not p.version


def test_check_weights_fit_counts_before_anything_is_made():
    assert check_weights_fit({"w": (3, 4), "b": (3,)}, np.float64, "a layer") == 15 * 8
    with pytest.raises(ValueError, match=r"^a layer needs about 8 TB for its 1,000,000,000,000 weights "
                                         r"\(float64, gradients and optimizer state not counted\); "
                                         r"this machine has .* of memory$"):
        check_weights_fit({"w": (10**6, 10**6)}, np.float64, "a layer")


@pytest.mark.parametrize(("call", "name"), [
    (lambda m: m.train("yes"), "mode"),
    (lambda m: m.load_state_dict(m.state_dict(), strict=1), "strict"),
])
def test_flags_are_checked(small, call, name):
    with pytest.raises(ValueError, match=f"{name} must be True or False"):
        call(small)
