"""Learning-rate schedules (scratchrnn.optim.schedules): against torch's, state round trips, bad input."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from optim_cases import make_params
from scratchrnn.optim import SCHEDULES, SGD, Adam, CosineLR, HalveOnIncrease, LRSchedule, StepLR

torch = pytest.importorskip("torch")


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


def test_halve_on_increase_needs_a_number():
    sched = HalveOnIncrease(SGD(make_params(), lr=0.1))
    for bad in ("1.5", None, True, [1.0]):
        with pytest.raises(ValueError, match="HalveOnIncrease.step needs the evaluation metric as a number"):
            sched.step(bad)
    sched.step(np.float32(2.0))
    assert sched.step(np.float64(3.0)) == 0.05  # numpy numbers count like Python ones


# -- LRSchedule: the schedules by name ---------------------------------------------------------------
def _ours(kind, n, lr=0.3, **kwargs):
    opt = SGD(make_params(), lr=lr)
    sched = LRSchedule(opt, kind, total_steps=n, **kwargs)
    return [opt.lr] + [sched.step() for _ in range(n)]


def test_schedule_names():
    assert SCHEDULES == ("constant", "step", "cosine", "plateau")
    with pytest.raises(ValueError, match="^unknown learning-rate schedule 'linear'; expected one of "
                                         "constant, step, cosine, plateau$"):
        LRSchedule(SGD(make_params(), lr=0.1), "linear", total_steps=10)


def test_lr_schedules_without_warmup_match_torch():
    n = 30
    np.testing.assert_allclose(_ours("step", n, step_size=7, gamma=0.3),
                               _torch_lrs(torch.optim.lr_scheduler.StepLR, n, 0.3, step_size=7, gamma=0.3),
                               rtol=1e-13, atol=0)
    np.testing.assert_allclose(_ours("cosine", n, min_lr=0.02),
                               _torch_lrs(torch.optim.lr_scheduler.CosineAnnealingLR, n, 0.3, T_max=n,
                                          eta_min=0.02), rtol=0, atol=1e-12)
    assert _ours("constant", n) == [0.3] * (n + 1)
    # step_size None: the run in STEP_PARTS (4) parts, ceil(30 / 4) = 8
    np.testing.assert_allclose(_ours("step", n), [0.3 * 0.5 ** (i // 8) for i in range(n + 1)], rtol=1e-15)


@pytest.mark.parametrize("w", [1, 2, 5])
def test_the_warmup_is_torchs_linear_lr_and_the_rest_the_schedule_after_it(w):
    n = 24
    theirs = _torch_lrs(torch.optim.lr_scheduler.LambdaLR, n, 0.3, lr_lambda=lambda e: min(1.0, (e + 1) / w))
    if w > 1:
        linear = _torch_lrs(torch.optim.lr_scheduler.LinearLR, w - 1, 0.3, start_factor=1 / w,
                            total_iters=w - 1)
        np.testing.assert_allclose(linear, theirs[:w], rtol=1e-13)
    np.testing.assert_allclose(_ours("constant", n, warmup=w), theirs, rtol=1e-13, atol=0)
    for kind, kw in (("step", dict(step_size=5, gamma=0.5)), ("cosine", dict(min_lr=0.01))):
        warm = _ours(kind, n, warmup=w, **kw)
        np.testing.assert_allclose(warm[:w], theirs[:w], rtol=1e-13, atol=0, err_msg=kind)
        np.testing.assert_allclose(warm[w:], _ours(kind, n - w, **kw), rtol=1e-13, atol=0, err_msg=kind)
    assert _ours("cosine", n, warmup=w)[0] == pytest.approx(0.3 / w)


def test_plateau_matches_torch_reduce_lr_on_plateau():
    metrics = [3.0, 2.0, 2.0, 1.9999, 2.5, 2.1, 1.0, 1.0, 1.0, 1.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0] * 2
    opt = SGD(make_params(), lr=0.4)
    sched = LRSchedule(opt, "plateau", total_steps=100, gamma=0.5, patience=2, min_lr=0.06)
    ours = [sched.report(m) for m in metrics]
    p = torch.zeros(1, requires_grad=True)
    topt = torch.optim.SGD([p], lr=0.4)
    tsched = torch.optim.lr_scheduler.ReduceLROnPlateau(topt, mode="min", factor=0.5, patience=2, min_lr=0.06)
    theirs = []
    for m in metrics:
        tsched.step(m)
        theirs.append(topt.param_groups[0]["lr"])
    np.testing.assert_allclose(ours, theirs, rtol=1e-13, atol=0)
    assert ours[-1] == 0.06 and sched.reductions == 3  # 0.4, 0.2, 0.1, then 0.06 (the floor)
    assert [sched.step() for _ in range(3)] == [0.06] * 3  # steps do not change a plateau's rate
    with pytest.raises(ValueError, match="needs the validation metric as a number, got 'x'"):
        sched.report("x")


def test_other_schedules_ignore_reports():
    opt = SGD(make_params(), lr=0.3)
    sched = LRSchedule(opt, "step", total_steps=10, step_size=2)
    assert sched.report(5.0) == 0.3 and sched.report(9.0) == 0.3


def test_a_warmup_as_long_as_the_run_is_refused_naming_both():
    with pytest.raises(ValueError, match="^the warmup of 10 steps must be shorter than the run of 10 steps$"):
        LRSchedule(SGD(make_params(), lr=0.1), "cosine", total_steps=10, warmup=10)


@pytest.mark.parametrize("kind", SCHEDULES)
def test_lr_schedule_state_resumes_exactly(kind):
    metrics = [3.0, 2.0, 2.5, 2.4, 2.6, 2.0, 2.1, 1.0, 1.5, 1.4]

    def run(sched, ms):
        return [(sched.step(), sched.report(m)) for m in ms]

    make = lambda o: LRSchedule(o, kind, total_steps=20, warmup=3, patience=1, min_lr=0.01)  # noqa: E731
    sched = make(SGD(make_params(), lr=0.5))
    run(sched, metrics[:5])
    state = json.loads(json.dumps(sched.state_dict()))
    straight = run(sched, metrics[5:])
    opt2 = SGD(make_params(), lr=0.5)
    sched2 = make(opt2)
    sched2.load_state_dict(state)
    assert opt2.lr == state["lr"]
    assert run(sched2, metrics[5:]) == straight
    other = LRSchedule(SGD(make_params(), lr=0.5), kind, total_steps=20, warmup=4, patience=1, min_lr=0.01)
    with pytest.raises(ValueError, match=r"^schedule state was saved with other settings: warmup=3 "
                                         r"\(this schedule: 4\)$"):
        other.load_state_dict(state)


def test_a_longer_run_keeps_the_saved_step_size_and_goes_on_to_the_new_total():
    sched = LRSchedule(SGD(make_params(), lr=0.4), "step", total_steps=20)  # step size 5
    for _ in range(7):
        sched.step()
    state = sched.state_dict()
    longer = LRSchedule(SGD(make_params(), lr=0.4), "step", total_steps=40)  # would be 10
    longer.load_state_dict(state)
    assert longer.step_size == 5 and longer.total_steps == 40
    assert [longer.step() for _ in range(3)] == [0.4 * 0.5 ** (n // 5) for n in (8, 9, 10)]
