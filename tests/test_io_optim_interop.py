"""Training handed over to torch.optim and back: 20 steps here then 20 in PyTorch equal 40 here,
and 20 in PyTorch then 20 here equal 40 in PyTorch, weights and moments within 1e-10 in float64."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from scratchrnn.io import from_torch, to_torch  # noqa: E402
from scratchrnn.io.optim_interop import TORCH_OPTIMIZERS, from_torch_optimizer, to_torch_optimizer  # noqa: E402
from scratchrnn.nn import LSTM  # noqa: E402
from scratchrnn.optim import SGD, Adagrad, Adam, AdamW, PlainRprop, RMSprop  # noqa: E402

T, B, F, H = 5, 3, 4, 6
OPTIMIZERS = {
    "sgd": (SGD, {"lr": 0.05}),
    "momentum": (SGD, {"lr": 0.05, "momentum": 0.9, "dampening": 0.1, "weight_decay": 0.01}),
    "nesterov": (SGD, {"lr": 0.05, "momentum": 0.8, "nesterov": True, "weight_decay": 0.02}),
    "adagrad": (Adagrad, {"lr": 0.05, "lr_decay": 0.01, "weight_decay": 0.01,
                          "initial_accumulator_value": 0.1}),
    "rmsprop": (RMSprop, {"lr": 0.01, "alpha": 0.9, "momentum": 0.5, "centered": True, "weight_decay": 0.01}),
    "adam": (Adam, {"lr": 0.01, "betas": (0.8, 0.95), "weight_decay": 0.01}),
    "amsgrad": (Adam, {"lr": 0.01, "amsgrad": True}),
    "adamw": (AdamW, {"lr": 0.01, "weight_decay": 0.1}),
}


def batch(step: int):
    gen = np.random.default_rng(100 + step)
    return gen.standard_normal((T, B, F)), gen.standard_normal((T, B, H))  # input, d loss / d out


def scratch_steps(model, opt, start: int, n: int) -> None:
    for step in range(start, start + n):
        x, r = batch(step)
        _, _, cache = model.forward(x)
        _, _, grads = model.backward(r, None, cache)  # the loss sum(out * r)
        opt.step(grads)


def torch_steps(module, opt, start: int, n: int) -> None:
    for step in range(start, start + n):
        x, r = batch(step)
        opt.zero_grad()
        out, _ = module(torch.from_numpy(x))
        (out * torch.from_numpy(r)).sum().backward()
        opt.step()


def assert_same(scratch_opt, torch_module, torch_opt):
    named = dict(torch_module.named_parameters())
    for k, p in scratch_opt.params.items():
        np.testing.assert_allclose(named[k].detach().numpy(), p, rtol=0, atol=1e-10, err_msg=k)
        state = torch_opt.state.get(named[k], {})
        for b, bufs in scratch_opt.buffers.items():
            np.testing.assert_allclose(state[b].numpy(), bufs[k], rtol=0, atol=1e-10, err_msg=f"{b} {k}")
        if "step" in state:
            assert float(state["step"]) == scratch_opt.step_count


@pytest.mark.parametrize("kind", OPTIMIZERS)
def test_twenty_steps_here_then_twenty_in_torch_equal_forty_here(kind):
    cls, kwargs = OPTIMIZERS[kind]
    ref = LSTM(F, H, dtype=np.float64, rng=0)
    ref_opt = cls(ref.params, **kwargs)
    scratch_steps(ref, ref_opt, 0, 40)

    model = LSTM(F, H, dtype=np.float64, rng=0)
    opt = cls(model.params, **kwargs)
    scratch_steps(model, opt, 0, 20)
    module = to_torch(model)
    topt = to_torch_optimizer(opt, module)
    assert type(topt).__name__ == cls.__name__ and topt.param_groups[0]["lr"] == opt.lr
    assert_same(opt, module, topt)  # the hand-over itself
    torch_steps(module, topt, 20, 20)
    assert_same(ref_opt, module, topt)


@pytest.mark.parametrize("kind", OPTIMIZERS)
def test_twenty_steps_in_torch_then_twenty_here_equal_forty_in_torch(kind):
    cls, kwargs = OPTIMIZERS[kind]
    ref = to_torch(LSTM(F, H, dtype=np.float64, rng=1))
    torch_kwargs = {**kwargs, "foreach": False}
    ref_opt = getattr(torch.optim, cls.__name__)(ref.parameters(), **torch_kwargs)
    torch_steps(ref, ref_opt, 0, 40)

    module = to_torch(LSTM(F, H, dtype=np.float64, rng=1))
    topt = getattr(torch.optim, cls.__name__)(module.parameters(), **torch_kwargs)
    torch_steps(module, topt, 0, 20)
    model = from_torch(module)
    opt = from_torch_optimizer(topt, module, model.params)
    # torch's SGD counts no steps: its momentum buffer makes the count 1, all its update reads
    assert type(opt) is cls and opt.step_count == (20 if cls is not SGD else int("momentum" in kwargs))
    assert_same(opt, module, topt)
    scratch_steps(model, opt, 20, 20)
    assert_same(opt, ref, ref_opt)


def test_what_cannot_be_converted_is_named():
    model = LSTM(F, H, dtype=np.float64, rng=0)
    module = to_torch(model)
    with pytest.raises(ValueError, match="the optimizer PlainRprop has no torch.optim counterpart that "
                                         f"scratchrnn converts; supported: {', '.join(TORCH_OPTIMIZERS)}"):
        to_torch_optimizer(PlainRprop(model.params), module)
    other = to_torch(LSTM(F, H + 1, dtype=np.float64, rng=0))
    with pytest.raises(ValueError,
                       match=r"parameter 'weight_ih_l0' is \(28, 4\) in the torch module, \(24, 4\) here"):
        to_torch_optimizer(Adam(model.params), other)
    with pytest.raises(ValueError, match="the torch module has no parameters"):
        to_torch_optimizer(Adam(model.params), torch.nn.Linear(2, 2))
    topt = torch.optim.Adam(module.parameters(), maximize=True)
    with pytest.raises(ValueError,
                       match="the torch Adam has maximize=True, which scratchrnn's Adam does not have"):
        from_torch_optimizer(topt, module, model.params)
    with pytest.raises(ValueError, match="the torch optimizer LBFGS has no torch.optim counterpart"):
        from_torch_optimizer(torch.optim.LBFGS(module.parameters()), module, model.params)
    groups = torch.optim.SGD([{"params": [module.weight_ih_l0]}, {"params": [module.weight_hh_l0]}], lr=0.1)
    with pytest.raises(ValueError, match="has 2 parameter groups; scratchrnn's optimizers have one"):
        from_torch_optimizer(groups, module, model.params)
    some = torch.optim.SGD([module.weight_ih_l0], lr=0.1)
    with pytest.raises(ValueError,
                       match=r"the torch SGD optimizes \['weight_ih_l0'\], the scratchrnn parameters"):
        from_torch_optimizer(some, module, model.params)
