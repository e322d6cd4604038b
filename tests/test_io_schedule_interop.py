"""Learning-rate schedules handed over to torch.optim.lr_scheduler and back: 20 steps here then 20 in
PyTorch follow the 40 rates here, and the weights, moments and schedule come back as 40 steps here
left them (float64, within 1e-10); a schedule torch does not have, or one in its warmup, is named."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from scratchrnn.io import from_torch, to_torch  # noqa: E402
from scratchrnn.io.optim_interop import from_torch_optimizer, to_torch_optimizer  # noqa: E402
from scratchrnn.io.schedule_interop import (  # noqa: E402
    TORCH_SCHEDULES,
    from_torch_scheduler,
    to_torch_scheduler,
)
from scratchrnn.nn import GRU  # noqa: E402
from scratchrnn.optim import Adam, CosineLR, HalveOnIncrease, LRSchedule, StepLR, schedule_from_state  # noqa: E402

METRICS = [1.0, 0.9, 0.95, 0.97, 0.99, 0.5, 0.6, 0.7, 0.8, 0.9] * 2  # a validation every 4 steps
SCHEDULES = {
    "StepLR": lambda o: StepLR(o, 3, 0.5),
    "CosineLR": lambda o: CosineLR(o, 50, 0.001, warmup=4),
    "step": lambda o: LRSchedule(o, "step", 50, warmup=4, step_size=3),
    "step-derived-size": lambda o: LRSchedule(o, "step", 36, warmup=4),
    "cosine": lambda o: LRSchedule(o, "cosine", 50, warmup=4, min_lr=1e-4),
    "cosine-to-its-end": lambda o: LRSchedule(o, "cosine", 40),
    "plateau": lambda o: LRSchedule(o, "plateau", 50, warmup=2, patience=1, gamma=0.5),
    "constant": lambda o: LRSchedule(o, "constant", 50, warmup=3),
}


def batch(step: int):
    gen = np.random.default_rng(200 + step)
    return gen.standard_normal((5, 3, 2)), gen.standard_normal((5, 3, 3))  # input, d loss / d out


def make(name):
    model = GRU(2, 3, dtype="float64", rng=0)
    optimizer = Adam(model.params, lr=0.01)
    return model, optimizer, SCHEDULES[name](optimizer)


def validates(step: int) -> bool:
    return step % 4 == 3


def scratch_steps(model, optimizer, schedule, start, stop, rates):
    for step in range(start, stop):
        x, r = batch(step)
        _, _, cache = model.forward(x)
        optimizer.step(model.backward(r, None, cache)[2])
        schedule.step()
        if validates(step):
            schedule.report(METRICS[step // 4]) if isinstance(schedule, LRSchedule) else None
        rates.append(optimizer.lr)


def torch_steps(module, optimizer, scheduler, start, stop, rates):
    plateau = isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
    for step in range(start, stop):
        x, r = (torch.from_numpy(a) for a in batch(step))
        optimizer.zero_grad()
        out, _ = module(x)
        (out * r).sum().backward()
        optimizer.step()
        if not plateau:
            scheduler.step()
        elif validates(step):
            scheduler.step(METRICS[step // 4])
        rates.append(optimizer.param_groups[0]["lr"])


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_20_steps_here_then_20_in_torch_equal_40_here(name):
    model, optimizer, schedule = make(name)
    want = []
    scratch_steps(model, optimizer, schedule, 0, 40, want)

    model2, optimizer2, schedule2 = make(name)
    got = []
    scratch_steps(model2, optimizer2, schedule2, 0, 20, got)
    module = to_torch(model2)
    torch_optimizer = to_torch_optimizer(optimizer2, module)
    scheduler = to_torch_scheduler(schedule2, torch_optimizer)
    handed_over = schedule2.state_dict()
    torch_steps(module, torch_optimizer, scheduler, 20, 40, got)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)
    assert len(set(want)) > 1 or name == "constant"  # the schedule moved the rate

    back = from_torch(module)
    back_optimizer = from_torch_optimizer(torch_optimizer, module, back.params)
    back_schedule = schedule_from_state(back_optimizer, handed_over)  # the run's, given torch's point
    from_torch_scheduler(scheduler, back_schedule, step_count=back_optimizer.step_count)
    assert back_schedule.last_step == schedule.last_step == 40
    assert math.isclose(back_optimizer.lr, optimizer.lr, rel_tol=1e-12)
    state, want_state = back_schedule.state_dict(), schedule.state_dict()
    assert state.keys() == want_state.keys()
    for key, value in want_state.items():
        if isinstance(value, float):
            assert math.isclose(state[key], value, rel_tol=1e-12), key
        else:
            assert state[key] == value, key
    for key, value in model.params.items():
        np.testing.assert_allclose(back.params[key], value, rtol=0, atol=1e-10)
    for buffer, values in optimizer.buffers.items():
        for key, value in values.items():
            np.testing.assert_allclose(back_optimizer.buffers[buffer][key], value, rtol=0, atol=1e-10)


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_a_schedule_is_rebuilt_from_its_state(name):
    _, optimizer, schedule = make(name)
    for _ in range(7):
        schedule.step()
    again = schedule_from_state(Adam(GRU(2, 3, rng=1).params, lr=optimizer.lr), schedule.state_dict())
    assert again.state_dict() == schedule.state_dict() and again.opt.lr == optimizer.lr


def test_a_schedule_below_its_min_lr_is_rebuilt_at_the_rate_it_saved():
    optimizer = Adam(GRU(2, 3, rng=0).params, lr=0.01)
    schedule = LRSchedule(optimizer, "step", 40, step_size=3, gamma=0.5, min_lr=1e-3)  # "step" may go below
    for _ in range(12):
        schedule.step()
    assert optimizer.lr < 1e-3
    again = schedule_from_state(Adam(GRU(2, 3, rng=1).params, lr=optimizer.lr), schedule.state_dict())
    assert again.state_dict() == schedule.state_dict()


def test_a_cosine_at_its_end_is_refused_and_a_stretched_one_comes_back_stretched():
    model, optimizer, schedule = make("cosine-to-its-end")
    scratch_steps(model, optimizer, schedule, 0, 40, [])
    module = to_torch(model)
    torch_optimizer = to_torch_optimizer(optimizer, module)
    with pytest.raises(ValueError, match=r"at its end \(step 40 of 40\).*rises again"):
        to_torch_scheduler(schedule, torch_optimizer)
    handed_over = schedule.state_dict()
    schedule.retarget(60)  # the run goes on to 60 steps, from the rate of step 40 on that curve
    torch_optimizer = to_torch_optimizer(optimizer, module)
    scheduler = to_torch_scheduler(schedule, torch_optimizer)
    want_model, want_optimizer, want = make("cosine-to-its-end")
    scratch_steps(want_model, want_optimizer, want, 0, 40, [])
    want.retarget(60)
    rates, want_rates = [], []
    torch_steps(module, torch_optimizer, scheduler, 40, 60, rates)
    scratch_steps(want_model, want_optimizer, want, 40, 60, want_rates)
    np.testing.assert_allclose(rates, want_rates, rtol=1e-12, atol=1e-15)
    back = schedule_from_state(Adam(GRU(2, 3).params, lr=0.01), handed_over)  # saved for 40 steps
    from_torch_scheduler(scheduler, back)
    assert back.total_steps == 60 and back.last_step == 60
    scheduler.step()
    with pytest.raises(ValueError, match="gone 61 steps, past its T_max 60"):
        from_torch_scheduler(scheduler, back)


def test_what_torch_does_not_have_is_named():
    _, optimizer, _ = make("step")
    module = to_torch(GRU(2, 3, rng=0))
    torch_optimizer = to_torch_optimizer(optimizer, module)
    with pytest.raises(ValueError, match="HalveOnIncrease has no torch.optim.lr_scheduler counterpart.*"
                                         f"supported: {', '.join(TORCH_SCHEDULES)}"):
        to_torch_scheduler(HalveOnIncrease(optimizer), torch_optimizer)
    with pytest.raises(ValueError, match="expected the state dict of a StepLR, .*, got list"):
        schedule_from_state(optimizer, [])
    warming = LRSchedule(optimizer, "cosine", 50, warmup=4)
    warming.step()
    with pytest.raises(ValueError, match=r"in its warmup \(step 1 of 4\)"):
        to_torch_scheduler(warming, to_torch_optimizer(optimizer, module))


def test_settings_that_differ_are_named():
    model, optimizer, schedule = make("step")
    for _ in range(6):
        schedule.step()
    module = to_torch(model)
    torch_optimizer = to_torch_optimizer(optimizer, module)
    scheduler = to_torch_scheduler(schedule, torch_optimizer)
    differ = r"other settings than the schedule: step_size=3 \(the schedule's: 5\)"
    with pytest.raises(ValueError, match=differ):
        from_torch_scheduler(scheduler, LRSchedule(optimizer, "step", 50, warmup=4, step_size=5))
    with pytest.raises(ValueError, match="continues from a torch CosineAnnealingLR, got StepLR"):
        from_torch_scheduler(scheduler, LRSchedule(optimizer, "cosine", 50, warmup=4))
    with pytest.raises(ValueError, match="has taken 6 steps, step_count is 9"):
        from_torch_scheduler(scheduler, LRSchedule(optimizer, "step", 50, warmup=4, step_size=3),
                             step_count=9)


def test_a_plateau_needs_the_step_count_and_the_rate_must_match():
    model, optimizer, schedule = make("plateau")
    for _ in range(3):  # past the warmup
        schedule.step()
    module = to_torch(model)
    scheduler = to_torch_scheduler(schedule, to_torch_optimizer(optimizer, module))
    with pytest.raises(ValueError, match="needs step_count"):
        from_torch_scheduler(scheduler, SCHEDULES["plateau"](optimizer))
    scheduler.optimizer.param_groups[0]["lr"] = 0.003  # not base * 0.5 ** k
    with pytest.raises(ValueError, match="0.003 is not one the plateau schedule reaches"):
        from_torch_scheduler(scheduler, SCHEDULES["plateau"](optimizer), step_count=0)


def test_the_torch_optimizer_must_be_at_the_schedules_rate():
    model, optimizer, schedule = make("StepLR")
    torch_optimizer = to_torch_optimizer(optimizer, to_torch(model))
    torch_optimizer.param_groups[0]["lr"] = 0.5
    with pytest.raises(ValueError, match="the torch optimizer's rate is 0.5, the schedule's is 0.01"):
        to_torch_scheduler(schedule, torch_optimizer)
