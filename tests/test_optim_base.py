"""The optimizer base (scratchrnn.optim.base): state round trips, in-place updates, lr, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from optim_cases import TORCH_CASES, copy_dict, grad_sequence, make_params
from scratchrnn import Linear, checks
from scratchrnn.io import load_checkpoint, save_checkpoint
from scratchrnn.optim import OPTIMIZERS, SGD, Adam, PlainRprop, make_optimizer

# -- state dicts ------------------------------------------------------------------------------------
ROUND_TRIP = {
    **{k: (c[0], c[1]) for k, c in TORCH_CASES.items()},
    "plain-rprop": (PlainRprop, dict(init_step=0.01)),
    "plain-rprop-equal": (PlainRprop, dict(init_step=0.01, sign_rule="equal")),
}


def _only_json_and_arrays(state) -> None:
    assert set(state) == {"type", "hyper", "step", "buffers"}
    json.dumps({k: state[k] for k in ("type", "hyper", "step")})  # raises if not JSON-friendly
    for v in state["hyper"].values():
        assert v is None or type(v) in (int, float, str, bool)
    assert type(state["step"]) is int
    for per_param in state["buffers"].values():
        for arr in per_param.values():
            assert isinstance(arr, np.ndarray)


@pytest.mark.parametrize("case", list(ROUND_TRIP))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_state_dict_round_trip_is_bit_identical(case, dtype, tmp_path):
    cls, kwargs = ROUND_TRIP[case]
    grads_seq = [{k: v.astype(dtype) for k, v in g.items()} for g in grad_sequence(zeros=True)]
    params = make_params(dtype=dtype)
    opt = cls(params, **kwargs)
    for grads in grads_seq[:10]:
        opt.step(grads)
    saved_params, state = copy_dict(params), opt.state_dict()
    for grads in grads_seq[10:]:  # keep going on the same optimizer: the saved state must not alias it
        opt.step(grads)
    _only_json_and_arrays(state)

    # through a checkpoint file, as the trainer stores it
    ckpt = load_checkpoint(save_checkpoint(tmp_path / "opt.npz", params=saved_params, optimizer_state=state))

    resumed = ckpt.params
    fresh = type(opt)(resumed)  # default hyperparameters: load must restore them
    fresh.load_state_dict(ckpt.optimizer_state)
    assert fresh.hyper() == opt.hyper() and fresh.step_count == 10
    for grads in grads_seq[10:]:
        fresh.step(grads)
    for k in params:
        assert resumed[k].dtype == params[k].dtype
        np.testing.assert_array_equal(resumed[k], params[k], err_msg=k)
    for b in opt.buffers:
        for k in params:
            np.testing.assert_array_equal(fresh.buffers[b][k], opt.buffers[b][k], err_msg=f"{b}/{k}")


def test_load_state_dict_rejects_bad_states_and_changes_nothing():
    params = make_params()
    opt = Adam(params, lr=0.01, amsgrad=True)
    opt.step(grad_sequence(1)[0])
    good = opt.state_dict()
    sgd_state = SGD(make_params(), momentum=0.9).state_dict()
    with pytest.raises(ValueError, match="'SGD'"):
        opt.load_state_dict(sgd_state)
    bad = opt.state_dict()
    del bad["buffers"]["max_exp_avg_sq"]
    with pytest.raises(ValueError, match="max_exp_avg_sq"):
        opt.load_state_dict(bad)
    bad = opt.state_dict()
    bad["buffers"]["exp_avg"]["weight"] = np.zeros((4, 3))
    with pytest.raises(ValueError, match="'weight'.*shape"):
        opt.load_state_dict(bad)
    bad = opt.state_dict()
    bad["hyper"]["beta1"] = 1.5
    with pytest.raises(ValueError, match="beta1"):
        opt.load_state_dict(bad)
    bad = opt.state_dict()
    bad["step"] = -1
    with pytest.raises(ValueError, match="step"):
        opt.load_state_dict(bad)
    after = opt.state_dict()
    assert after["hyper"] == good["hyper"] and after["step"] == good["step"]
    for b in good["buffers"]:
        for k in params:
            np.testing.assert_array_equal(after["buffers"][b][k], good["buffers"][b][k])


# -- in-place behaviour, dtypes, lr -----------------------------------------------------------------
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_updates_in_place_keeps_dtype_and_leaves_grads_alone(name):
    params = make_params(dtype=np.float32)
    before = copy_dict(params)
    ids = {k: id(v) for k, v in params.items()}
    kwargs = (
        {"weight_decay": 0.1} if name in ("sgd", "momentum", "adagrad", "rmsprop", "adam", "adamw") else {}
    )
    opt = make_optimizer(name, params, **kwargs)
    grads = {k: v.astype(np.float64) for k, v in grad_sequence(1)[0].items()}  # float64 grads, float32 params
    grads_before = copy_dict(grads)
    opt.step(grads)
    opt.step(grads)
    for k in params:
        assert id(params[k]) == ids[k] and id(opt.params[k]) == ids[k]
        assert params[k].dtype == np.float32
        assert not np.array_equal(params[k], before[k]), k
        np.testing.assert_array_equal(grads[k], grads_before[k])
        for bufs in opt.buffers.values():
            assert bufs[k].dtype == np.float32


def test_lr_is_settable_and_used():
    p1, p2 = {"w": np.zeros(3)}, {"w": np.zeros(3)}
    g = {"w": np.array([1.0, -2.0, 3.0])}
    a, b = SGD(p1, lr=0.1), SGD(p2, lr=0.5)
    a.lr = 0.5
    a.step(g)
    b.step(g)
    np.testing.assert_array_equal(p1["w"], p2["w"])
    np.testing.assert_allclose(p1["w"], -0.5 * g["w"])
    assert a.state_dict()["hyper"]["lr"] == 0.5


def test_lr_setter_validates():
    opt = Adam(make_params())
    for bad in (-1.0, float("nan"), float("inf"), "0.1", True):
        with pytest.raises(ValueError, match="lr"):
            opt.lr = bad
    assert opt.lr == 1e-3


def test_bad_params():
    with pytest.raises(ValueError, match="dict"):
        Adam([np.zeros(3)])
    with pytest.raises(ValueError, match="empty"):
        Adam({})
    with pytest.raises(ValueError, match="'w'.*int64"):
        Adam({"w": np.zeros(3, dtype=np.int64)})
    ro = np.zeros(3)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="'w'.*read-only"):
        Adam({"w": ro})


def test_step_checks_keys_and_shapes():
    params = make_params()
    opt = SGD(params, lr=0.1)
    before = copy_dict(params)
    grads = grad_sequence(1)[0]
    missing = {k: v for k, v in grads.items() if k != "bias"}
    with pytest.raises(ValueError, match="missing.*'bias'"):
        opt.step(missing)
    with pytest.raises(ValueError, match="unexpected.*'extra'"):
        opt.step({**grads, "extra": np.zeros(2)})
    with pytest.raises(ValueError, match=r"'weight' has shape \(4, 3\).*\(3, 4\)"):
        opt.step({**grads, "weight": np.zeros((4, 3))})
    with pytest.raises(ValueError, match="dict"):
        opt.step([grads["weight"]])
    assert opt.step_count == 0
    for k in params:
        np.testing.assert_array_equal(params[k], before[k])


# -- the weights' version and the buffers' memory ---------------------------------------------------
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_every_step_bumps_the_version_of_a_modules_params(name):
    layer = Linear(3, 2, rng=0)
    opt = make_optimizer(name, layer.params)
    assert opt.version is layer.params.version
    grads = {k: np.ones_like(v) for k, v in layer.params.items()}
    for step in range(1, 4):
        opt.step(grads)
        assert layer.version == step
    with pytest.raises(ValueError):
        opt.step({})  # refused before anything changed: no bump
    assert layer.version == 3
    opt.load_state_dict(opt.state_dict())  # the optimizer's own state: the weights are unchanged
    assert layer.version == 3


def test_buffers_larger_than_the_memory_available_are_refused(monkeypatch):
    params = {"w": np.zeros((250, 4))}  # 8 kB of float64
    monkeypatch.setattr(checks, "machine_memory", lambda: 16 * 10**4)
    monkeypatch.setattr(checks, "available_memory", lambda: 10**4)
    SGD(params, momentum=0.9)  # one 8 kB buffer
    with pytest.raises(ValueError, match=r"^Adam over 8 kB of parameters needs about 16 kB for its buffers "
                                         r"\(exp_avg, exp_avg_sq: one of each per parameter\); "
                                         r"this machine has 10 kB available$"):
        Adam(params)
