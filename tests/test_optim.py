"""Optimizers, schedules and clipping: PyTorch references, state round trips and bad input."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from scratchrnn.io import load_checkpoint, save_checkpoint
from scratchrnn.optim import (
    OPTIMIZERS,
    SGD,
    Adagrad,
    Adam,
    AdamW,
    CosineLR,
    HalveOnIncrease,
    Optimizer,
    PlainRprop,
    RMSprop,
    Rprop,
    StepLR,
    clip_by_value,
    clip_grad_norm,
    clip_per_param_norm,
    global_norm,
    make_optimizer,
)

torch = pytest.importorskip("torch")

SHAPES = {"weight": (3, 4), "bias": (5,), "scalar": ()}
N_STEPS = 20


def make_params(seed: int = 0, dtype=np.float64) -> dict[str, np.ndarray]:
    gen = np.random.default_rng(seed)
    return {k: gen.standard_normal(s).astype(dtype) for k, s in SHAPES.items()}


def grad_sequence(n: int = N_STEPS, seed: int = 1, zeros: bool = False) -> list[dict[str, np.ndarray]]:
    """Random gradients; independent draws change sign about half the time. With ``zeros`` about a
    fifth of the entries are exactly 0 (Rprop treats those separately)."""
    gen = np.random.default_rng(seed)
    seq = []
    for _ in range(n):
        g = {k: gen.standard_normal(s) for k, s in SHAPES.items()}
        if zeros:
            g = {k: np.where(gen.random(v.shape) < 0.2, 0.0, v) for k, v in g.items()}
        seq.append(g)
    return seq


def copy_dict(d):
    return {k: np.array(v, copy=True) for k, v in d.items()}


# (our class, our kwargs, torch class name, torch kwargs)
CASES = {
    "sgd": (SGD, dict(lr=0.1), "SGD", dict(lr=0.1)),
    "sgd-momentum-dampening": (
        SGD,
        dict(lr=0.05, momentum=0.9, dampening=0.1),
        "SGD",
        dict(lr=0.05, momentum=0.9, dampening=0.1),
    ),
    "sgd-nesterov": (
        SGD,
        dict(lr=0.05, momentum=0.9, nesterov=True),
        "SGD",
        dict(lr=0.05, momentum=0.9, nesterov=True),
    ),
    "sgd-weight-decay": (
        SGD,
        dict(lr=0.05, momentum=0.5, weight_decay=0.01),
        "SGD",
        dict(lr=0.05, momentum=0.5, weight_decay=0.01),
    ),
    "adagrad": (
        Adagrad,
        dict(lr=0.1, lr_decay=0.01, weight_decay=0.02, initial_accumulator_value=0.1),
        "Adagrad",
        dict(lr=0.1, lr_decay=0.01, weight_decay=0.02, initial_accumulator_value=0.1),
    ),
    "rmsprop": (RMSprop, dict(lr=0.01), "RMSprop", dict(lr=0.01)),
    "rmsprop-centered-momentum": (
        RMSprop,
        dict(lr=0.01, alpha=0.9, centered=True, momentum=0.8, weight_decay=0.01),
        "RMSprop",
        dict(lr=0.01, alpha=0.9, centered=True, momentum=0.8, weight_decay=0.01),
    ),
    "adam": (Adam, dict(lr=0.01), "Adam", dict(lr=0.01)),
    "adam-amsgrad-wd": (
        Adam,
        dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.05, amsgrad=True),
        "Adam",
        dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.05, amsgrad=True),
    ),
    "adamw": (AdamW, dict(lr=0.01, weight_decay=0.1), "AdamW", dict(lr=0.01, weight_decay=0.1)),
    "rprop": (Rprop, dict(lr=0.01), "Rprop", dict(lr=0.01)),
    "rprop-tight-bounds": (
        Rprop,
        dict(lr=0.01, etas=(0.3, 1.5), step_sizes=(0.004, 0.02)),
        "Rprop",
        dict(lr=0.01, etas=(0.3, 1.5), step_sizes=(0.004, 0.02)),
    ),
}


def run_torch(torch_name: str, torch_kwargs: dict, params, grads_seq):
    tparams = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    opt = getattr(torch.optim, torch_name)(list(tparams.values()), foreach=False, **torch_kwargs)
    for grads in grads_seq:
        for k, p in tparams.items():
            p.grad = torch.tensor(grads[k], dtype=torch.float64)
        opt.step()
    return {k: p.detach().numpy() for k, p in tparams.items()}


# -- PyTorch references ---------------------------------------------------------------------------
@pytest.mark.parametrize("case", list(CASES))
def test_matches_torch_optim(case):
    cls, kwargs, torch_name, torch_kwargs = CASES[case]
    params = make_params()
    grads_seq = grad_sequence(zeros=cls is Rprop)
    expected = run_torch(torch_name, torch_kwargs, params, grads_seq)
    opt = cls(params, **kwargs)
    for grads in grads_seq:
        opt.step(grads)
    moved = False
    for k in params:
        np.testing.assert_allclose(params[k], expected[k], rtol=0, atol=1e-12, err_msg=k)
        moved |= not np.allclose(params[k], make_params()[k])
    assert moved, "the parameters did not move"


def _same_bits_as(opt_cls, kwargs, dtype, seed, reference):
    """Five steps of ``opt_cls(params, **kwargs)`` on one parameter against ``reference(p, g, t)``,
    the update written out as formulas with temporaries, which moves p in place; the optimizer
    must give the same bits after every step. (The tests' workspace pools every array, so the
    optimizer's scratch arrays come from it.)"""
    rng = np.random.default_rng(seed)
    p0 = rng.standard_normal((300, 700)).astype(dtype)  # (300, 700)
    ours = {"w": p0.copy()}
    opt = opt_cls(ours, **kwargs)
    p = p0.copy()  # (300, 700)
    wd = kwargs.get("weight_decay", 0.0)
    for t in range(1, 6):
        g = rng.standard_normal(p0.shape).astype(dtype)  # (300, 700)
        opt.step({"w": g})
        if wd:
            g = g + wd * p  # (300, 700)
        reference(p, g, t)
        assert np.array_equal(ours["w"], p), f"step {t}"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_adam_gives_the_bits_of_its_formulas(dtype, amsgrad, weight_decay):
    """Adam updates through one scratch array: m += (1 - b1) (g - m), ..., p -= step (m / denom)."""
    b1, b2, eps, lr = 0.9, 0.999, 1e-8, 1e-2
    shape = (300, 700)
    m, v, vmax = np.zeros(shape, dtype), np.zeros(shape, dtype), np.zeros(shape, dtype)

    def reference(p, g, t):
        m[...] += (1.0 - b1) * (g - m)
        v[...] *= b2
        v[...] += (1.0 - b2) * (g * g)
        vv = np.maximum(vmax, v, out=vmax) if amsgrad else v
        denom = np.sqrt(vv)  # (300, 700)
        denom /= math.sqrt(1.0 - b2**t)
        denom += eps
        p -= lr / (1.0 - b1**t) * (m / denom)

    kwargs = dict(lr=lr, betas=(b1, b2), eps=eps, amsgrad=amsgrad, weight_decay=weight_decay)
    _same_bits_as(Adam, kwargs, dtype, 3, reference)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_adagrad_gives_the_bits_of_its_formulas(dtype, weight_decay):
    """Adagrad updates through a scratch array: s += g**2, p -= lr_t (g / (sqrt(s) + eps))."""
    lr, lr_decay, eps = 1e-2, 0.05, 1e-10
    s = np.full((300, 700), 0.1, dtype)

    def reference(p, g, t):
        s[...] += g * g
        denom = np.sqrt(s)  # (300, 700)
        denom += eps
        p -= lr / (1.0 + (t - 1) * lr_decay) * (g / denom)

    kwargs = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay, eps=eps, initial_accumulator_value=0.1)
    _same_bits_as(Adagrad, kwargs, dtype, 4, reference)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("centered", [False, True])
@pytest.mark.parametrize("momentum", [0.0, 0.9])
@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_rmsprop_gives_the_bits_of_its_formulas(dtype, centered, momentum, weight_decay):
    """RMSprop updates through two scratch arrays: v = alpha v + (1 - alpha) g**2, ..., p -= lr b."""
    lr, alpha, eps = 1e-2, 0.99, 1e-8
    shape = (300, 700)
    v, m, b = np.zeros(shape, dtype), np.zeros(shape, dtype), np.zeros(shape, dtype)

    def reference(p, g, t):
        v[...] *= alpha
        v[...] += (1.0 - alpha) * (g * g)
        if centered:
            m[...] += (1.0 - alpha) * (g - m)
            denom = np.sqrt(np.maximum(v - m * m, 0.0))  # (300, 700)
        else:
            denom = np.sqrt(v)  # (300, 700)
        denom += eps
        if momentum:
            b[...] *= momentum
            b[...] += g / denom
            p -= lr * b
        else:
            p -= lr * (g / denom)

    kwargs = dict(lr=lr, alpha=alpha, eps=eps, momentum=momentum, centered=centered,
                  weight_decay=weight_decay)
    _same_bits_as(RMSprop, kwargs, dtype, 5, reference)


def test_rprop_flip_zeroes_gradient_and_keeps_step_next_time():
    """After a flip the entry does not move; on the step after, its size is kept (prev grad is 0)."""
    p = {"w": np.array([0.0])}
    opt = Rprop(p, lr=0.1, etas=(0.5, 1.2))
    opt.step({"w": np.array([1.0])})  # first step: size kept, moves by -0.1
    assert p["w"][0] == pytest.approx(-0.1, abs=0)
    opt.step({"w": np.array([1.0])})  # same sign: size 0.12
    assert p["w"][0] == pytest.approx(-0.22, abs=1e-15)
    opt.step({"w": np.array([-1.0])})  # flip: size 0.06, gradient zeroed, no move
    assert p["w"][0] == pytest.approx(-0.22, abs=1e-15)
    assert opt.buffers["step_size"]["w"][0] == pytest.approx(0.06, abs=1e-15)
    opt.step({"w": np.array([-1.0])})  # previous (zeroed) gradient is 0: size kept, moves +0.06
    assert p["w"][0] == pytest.approx(-0.16, abs=1e-15)


# -- PlainRprop against a loop over scalar entries ---------------------------------------------------
def plain_rprop_reference(params, grads_seq, init_step, eta_plus, eta_minus, sign_rule):
    """Entry-by-entry Python loop of the documented rule."""
    w = {k: v.copy() for k, v in params.items()}
    steps = {k: [init_step] * v.size for k, v in params.items()}
    prev = {k: [0.0] * v.size for k, v in params.items()}
    for grads in grads_seq:
        for k in w:
            flat_w = w[k].reshape(-1)
            flat_g = grads[k].reshape(-1)
            for i in range(flat_w.size):
                s = int(flat_g[i] > 0) - int(flat_g[i] < 0)
                if sign_rule == "product":
                    if s * prev[k][i] > 0:
                        steps[k][i] *= eta_plus
                    elif s * prev[k][i] < 0:
                        steps[k][i] *= eta_minus
                else:
                    steps[k][i] *= eta_plus if s == prev[k][i] else eta_minus
                flat_w[i] -= s * steps[k][i]
                prev[k][i] = s
    return w


@pytest.mark.parametrize("sign_rule", ["product", "equal"])
def test_plain_rprop_matches_reference_loop(sign_rule):
    params = make_params()
    grads_seq = grad_sequence(zeros=True)
    expected = plain_rprop_reference(params, grads_seq, 0.002, 1.3, 0.4, sign_rule)
    opt = PlainRprop(params, init_step=0.002, eta_plus=1.3, eta_minus=0.4, sign_rule=sign_rule)
    for grads in grads_seq:
        opt.step(grads)
    for k in params:
        np.testing.assert_allclose(params[k], expected[k], rtol=0, atol=1e-15, err_msg=k)


def test_plain_rprop_trains_two_weight_linear_rnn():
    """The tutorial's setting: s_k = x_k w_x + s_{k-1} w_rec counts the ones in a bit stream, full batch."""
    gen = np.random.default_rng(3)
    x = gen.integers(0, 2, size=(20, 10)).astype(np.float64)  # (N, T) bits
    t = x.sum(axis=1)  # (N,) number of ones: the answer is w = (1, 1)
    params = {"w": np.array([1.2, 1.2])}  # (w_x, w_rec)

    def loss_grad(w):
        T = x.shape[1]
        s = np.zeros((x.shape[0], T + 1))  # (N, T+1)
        for k in range(T):
            s[:, k + 1] = x[:, k] * w[0] + s[:, k] * w[1]
        err = s[:, -1] - t  # (N,)
        ds = 2 * err / x.shape[0]  # (N,) d loss / d s_T
        g = np.zeros(2)
        for k in range(T, 0, -1):
            g[0] += np.sum(ds * x[:, k - 1])
            g[1] += np.sum(ds * s[:, k - 1])
            ds = ds * w[1]
        return float(np.mean(err**2)), g

    opt = PlainRprop(params)
    first, _ = loss_grad(params["w"])
    for _ in range(300):
        _, g = loss_grad(params["w"])
        opt.step({"w": g})
    last, _ = loss_grad(params["w"])
    assert last < 1e-6 * first
    np.testing.assert_allclose(params["w"], [1.0, 1.0], atol=1e-3)


# -- state dicts ------------------------------------------------------------------------------------
ROUND_TRIP = {
    **{k: (c[0], c[1]) for k, c in CASES.items()},
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


def test_make_optimizer_names():
    expected = {
        "sgd": SGD,
        "momentum": SGD,
        "adagrad": Adagrad,
        "rmsprop": RMSprop,
        "adam": Adam,
        "adamw": AdamW,
        "rprop": Rprop,
        "plain-rprop": PlainRprop,
    }
    for name, cls in expected.items():
        opt = make_optimizer(name, make_params())
        assert type(opt) is cls and isinstance(opt, Optimizer)
    assert make_optimizer("momentum", make_params()).config.momentum == 0.9
    assert make_optimizer("momentum", make_params(), momentum=0.5).config.momentum == 0.5
    assert make_optimizer("sgd", make_params()).config.momentum == 0.0
    assert make_optimizer("plain-rprop", make_params(), lr=0.02).config.init_step == 0.02
    assert make_optimizer("Plain_Rprop", make_params()).lr == 0.001
    assert make_optimizer("adam", make_params(), lr=0.3).lr == 0.3


# -- bad input --------------------------------------------------------------------------------------
def test_unknown_optimizer_name():
    with pytest.raises(ValueError, match="unknown optimizer 'lbfgs'.*adam"):
        make_optimizer("lbfgs", make_params())


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_negative_lr_rejected(name):
    with pytest.raises(ValueError, match="lr|init_step"):
        make_optimizer(name, make_params(), lr=-0.1)


def test_lr_setter_validates():
    opt = Adam(make_params())
    for bad in (-1.0, float("nan"), float("inf"), "0.1", True):
        with pytest.raises(ValueError, match="lr"):
            opt.lr = bad
    assert opt.lr == 1e-3


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda p: Adam(p, betas=(1.0, 0.999)), r"beta1"),
        (lambda p: Adam(p, betas=(0.9, -0.1)), r"beta2"),
        (lambda p: Adam(p, betas=(0.9,)), r"betas"),
        (lambda p: Adam(p, eps=-1e-8), r"eps"),
        (lambda p: Adam(p, amsgrad="yes"), r"amsgrad"),
        (lambda p: SGD(p, momentum=-0.9), r"momentum"),
        (lambda p: SGD(p, lr=0.1, nesterov=True), r"nesterov"),
        (lambda p: SGD(p, weight_decay=-1), r"weight_decay"),
        (lambda p: RMSprop(p, alpha=1.5), r"alpha"),
        (lambda p: Adagrad(p, lr_decay=-1), r"lr_decay"),
        (lambda p: Adagrad(p, initial_accumulator_value=-1), r"initial_accumulator_value"),
        (lambda p: Rprop(p, etas=(1.5, 1.2)), r"eta_minus"),
        (lambda p: Rprop(p, etas=(0.5, 0.9)), r"eta_plus"),
        (lambda p: Rprop(p, step_sizes=(1.0, 0.1)), r"step_sizes"),
        (lambda p: PlainRprop(p, init_step=0), r"init_step"),
        (lambda p: PlainRprop(p, sign_rule="tutorial"), r"sign_rule"),
    ],
)
def test_bad_hyperparameters(build, match):
    with pytest.raises(ValueError, match=match):
        build(make_params())


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


# -- schedules --------------------------------------------------------------------------------------
def _torch_lrs(scheduler_cls, n, lr, **kwargs):
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=lr)
    sched = scheduler_cls(opt, **kwargs)
    lrs = [opt.param_groups[0]["lr"]]
    for _ in range(n):
        opt.step()
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    return lrs


def test_step_lr_matches_torch():
    opt = SGD(make_params(), lr=0.3)
    sched = StepLR(opt, step_size=4, gamma=0.5)
    ours = [opt.lr] + [sched.step() for _ in range(17)]
    theirs = _torch_lrs(torch.optim.lr_scheduler.StepLR, 17, 0.3, step_size=4, gamma=0.5)
    np.testing.assert_allclose(ours, theirs, rtol=1e-13, atol=0)
    assert ours[3] == 0.3 and ours[4] == 0.15


@pytest.mark.parametrize("min_lr", [0.0, 0.01])
def test_cosine_matches_torch_cosine_annealing(min_lr):
    n = 25
    opt = Adam(make_params(), lr=0.2)
    sched = CosineLR(opt, total_steps=n, min_lr=min_lr)
    ours = [opt.lr] + [sched.step() for _ in range(n)]
    theirs = _torch_lrs(torch.optim.lr_scheduler.CosineAnnealingLR, n, 0.2, T_max=n, eta_min=min_lr)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12)
    assert ours[-1] == pytest.approx(min_lr, abs=1e-15)
    assert [sched.step() for _ in range(3)] == [min_lr] * 3  # flat after total_steps


def test_cosine_warmup():
    opt = SGD(make_params(), lr=1.0)
    sched = CosineLR(opt, total_steps=20, min_lr=0.1, warmup=4)
    lrs = [opt.lr] + [sched.step() for _ in range(22)]
    np.testing.assert_allclose(np.diff(lrs[:5]), 0.2, atol=1e-15)  # linear ramp 0.2, 0.4, ... 1.0
    assert lrs[0] == pytest.approx(0.2) and lrs[4] == 1.0
    assert all(b <= a for a, b in zip(lrs[4:20], lrs[5:21], strict=True))
    assert lrs[20] == pytest.approx(0.1, abs=1e-15) and lrs[21:] == [0.1, 0.1]
    # halfway through the cosine part the rate is halfway between base and min
    assert lrs[12] == pytest.approx(0.55, abs=1e-15)


def test_halve_on_increase():
    opt = SGD(make_params(), lr=1.0)
    sched = HalveOnIncrease(opt, factor=0.5, min_lr=0.1)
    assert sched.on_metric and not StepLR(SGD(make_params()), 1).on_metric
    metrics = [5.0, 4.0, 4.5, 4.4, 4.4, 4.6, float("nan"), 4.7, 4.0, 4.2, 4.3, 4.35]
    got = [sched.step(m) for m in metrics]
    # independent rule: compare with the last finite metric; non-finite counts as a rise
    lr, prev, expected = 1.0, None, []
    for m in metrics:
        if math.isnan(m) or (prev is not None and m > prev):
            lr = max(lr / 2, 0.1)
        if not math.isnan(m):
            prev = m
        expected.append(lr)
    assert got == expected
    assert got[1] == 1.0 and got[2] == 0.5 and got[-1] == 0.1  # floor at min_lr
    assert opt.lr == 0.1 and sched.num_rises == 7
    with pytest.raises(ValueError, match="metric"):
        sched.step()


@pytest.mark.parametrize(
    "make",
    [
        lambda o: StepLR(o, step_size=3, gamma=0.5),
        lambda o: CosineLR(o, total_steps=12, min_lr=0.01, warmup=2),
        lambda o: HalveOnIncrease(o, factor=0.3),
    ],
)
def test_schedule_state_round_trip(make):
    metrics = [3.0, 2.0, 2.5, 2.4, 2.6, 2.0, 2.1, 1.0, 1.5, 1.4]
    opt = SGD(make_params(), lr=0.5)
    sched = make(opt)
    for m in metrics[:5]:
        sched.step(m)
    state = json.loads(json.dumps(sched.state_dict()))
    straight = [sched.step(m) for m in metrics[5:]]
    opt2 = SGD(make_params(), lr=0.5)
    sched2 = make(opt2)
    sched2.load_state_dict(state)
    assert opt2.lr == state["lr"]
    resumed = [sched2.step(m) for m in metrics[5:]]
    assert resumed == straight
    with pytest.raises(ValueError, match="schedule state"):
        sched2.load_state_dict({**state, "type": "Other"})


def test_schedule_bad_arguments():
    opt = SGD(make_params(), lr=0.1)
    with pytest.raises(ValueError, match="step_size"):
        StepLR(opt, step_size=0)
    with pytest.raises(ValueError, match="total_steps must exceed warmup"):
        CosineLR(opt, total_steps=5, warmup=5)
    with pytest.raises(ValueError, match="min_lr"):
        CosineLR(opt, total_steps=5, min_lr=0.5)
    with pytest.raises(ValueError, match="factor"):
        HalveOnIncrease(opt, factor=1.5)
    with pytest.raises(ValueError, match="'lr' attribute"):
        StepLR(object(), step_size=2)


# -- clipping ---------------------------------------------------------------------------------------
def _torch_clip(grads, max_norm):
    tensors = {k: torch.zeros(v.shape, dtype=torch.float64, requires_grad=True) for k, v in grads.items()}
    for k, t in tensors.items():
        t.grad = torch.tensor(grads[k])
    norm = torch.nn.utils.clip_grad_norm_(list(tensors.values()), max_norm)
    return float(norm), {k: t.grad.numpy() for k, t in tensors.items()}


@pytest.mark.parametrize("ratio", [0.1, 0.8, 0.999, 2.0])
def test_clip_grad_norm_matches_torch(ratio):
    grads = grad_sequence(1)[0]
    max_norm = ratio * float(np.sqrt(sum(np.sum(g**2) for g in grads.values())))
    expected_norm, expected = _torch_clip(copy_dict(grads), max_norm)
    norm = clip_grad_norm(grads, max_norm)
    assert norm == pytest.approx(expected_norm, rel=1e-14)
    assert norm == pytest.approx(math.sqrt(sum(float(np.sum(g**2)) for g in grad_sequence(1)[0].values())))
    for k in grads:
        np.testing.assert_allclose(grads[k], expected[k], rtol=1e-14, atol=0)
    after = global_norm(grads)
    assert after == pytest.approx(min(norm, max_norm), rel=1e-5)


def test_clip_per_param_norm():
    grads = {"a": np.full(4, 3.0), "b": np.array([0.1, -0.2]), "c": np.array([[6.0, -8.0]])}
    before = copy_dict(grads)
    norms = clip_per_param_norm(grads, 1.0)
    assert norms == {k: pytest.approx(float(np.linalg.norm(v))) for k, v in before.items()}
    np.testing.assert_array_equal(grads["b"], before["b"])  # under the limit: untouched
    for k in ("a", "c"):
        assert np.linalg.norm(grads[k]) == pytest.approx(1.0, rel=1e-5)
        np.testing.assert_allclose(grads[k] / np.linalg.norm(grads[k]), before[k] / norms[k])


def test_clip_by_value():
    gen = np.random.default_rng(5)
    grads = {"w": gen.normal(0, 10, size=(40, 30)), "b": gen.normal(0, 10, size=(30,)).astype(np.float32)}
    before = copy_dict(grads)
    n_out = sum(int(np.sum(np.abs(v) > 10)) for v in before.values())
    frac = clip_by_value(grads, -10, 10)
    assert 0 < n_out and frac == n_out / (40 * 30 + 30)
    for k, g in grads.items():
        assert g.dtype == before[k].dtype
        assert g.max() <= 10 and g.min() >= -10
        inside = np.abs(before[k]) <= 10
        np.testing.assert_array_equal(g[inside], before[k][inside])
        np.testing.assert_array_equal(g[~inside], np.sign(before[k][~inside]) * 10)
    assert clip_by_value(grads, -10, 10) == 0.0
    with pytest.raises(ValueError, match="min_value"):
        clip_by_value(grads, 1, -1)


def test_non_finite_gradients_are_reported_not_clipped():
    grads = {"w": np.array([1.0, np.nan, 2.0]), "b": np.array([3.0])}
    before = copy_dict(grads)
    assert math.isnan(global_norm(grads))
    assert math.isnan(clip_grad_norm(grads, 1.0))
    for k in grads:
        np.testing.assert_array_equal(grads[k], before[k])
    norms = clip_per_param_norm(grads, 1.0)
    assert math.isnan(norms["w"]) and norms["b"] == 3.0
    np.testing.assert_array_equal(grads["w"], before["w"])
    np.testing.assert_array_equal(grads["b"], [1.0 * 3.0 / (3.0 + 1e-6)])
    inf_grads = {"w": np.array([np.inf, 1.0])}
    assert clip_grad_norm(inf_grads, 1.0) == math.inf
    np.testing.assert_array_equal(inf_grads["w"], [np.inf, 1.0])


def test_global_norm_does_not_overflow():
    big32 = {"w": np.full(4, 1e30, dtype=np.float32)}  # squares overflow float32
    assert global_norm(big32) == pytest.approx(2e30, rel=1e-6)
    big64 = {"w": np.full(4, 1e200), "b": np.array([3e200, 4e200])}  # squares overflow float64
    assert global_norm(big64) == pytest.approx(math.sqrt(4 + 25) * 1e200, rel=1e-12)
    clip_grad_norm(big64, 1.0)
    assert global_norm(big64) == pytest.approx(1.0, rel=1e-9)
    assert global_norm({}) == 0.0
    with pytest.raises(ValueError, match="'w'"):
        global_norm({"w": [1.0, 2.0]})
