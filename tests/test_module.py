"""The Module base (scratchrnn.nn.module): state dicts with PyTorch's names, loaded in place, and
bad state dicts rejected without changing anything."""

from __future__ import annotations

import numpy as np
import pytest

from scratchrnn import RNN
from scratchrnn.nn import Linear


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
