"""The optimizer package (scratchrnn.optim): make_optimizer by name, and every name at the old path."""

from __future__ import annotations

import importlib
import re

import pytest

import scratchrnn.optim
from optim_cases import make_params
from scratchrnn.optim import (
    OPTIMIZERS,
    SGD,
    Adagrad,
    Adam,
    AdamW,
    Optimizer,
    PlainRprop,
    RMSprop,
    Rprop,
    make_optimizer,
    optimizer_options,
)


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


def test_unknown_optimizer_name():
    with pytest.raises(ValueError, match="unknown optimizer 'lbfgs'.*adam"):
        make_optimizer("lbfgs", make_params())


@pytest.mark.parametrize("name", ["sgd", "momentum", "adagrad", "rmsprop", "adam", "adamw"])
def test_weight_decay_reaches_the_optimizer(name):
    assert "weight_decay" in optimizer_options(name)
    assert make_optimizer(name, make_params(), weight_decay=0.25).config.weight_decay == 0.25


@pytest.mark.parametrize("name", ["rprop", "plain-rprop"])
def test_an_option_the_optimizer_lacks_is_refused_naming_those_that_have_it(name):
    assert "weight_decay" not in optimizer_options(name)
    having = "sgd, momentum, adagrad, rmsprop, adam, adamw"
    takes = re.escape(f"; it takes {', '.join(optimizer_options(name))}")
    with pytest.raises(ValueError, match=rf"^the {name} optimizer has no option 'weight_decay'; the "
                                         f"optimizers that have it: {having}{takes}$"):
        make_optimizer(name, make_params(), weight_decay=0.1)
    with pytest.raises(ValueError, match=rf"^the {name} optimizer has no option 'nesterov'; the optimizers "
                                         f"that have it: sgd, momentum{takes}$"):
        make_optimizer(name, make_params(), nesterov=True)
    with pytest.raises(ValueError, match=rf"^the {name} optimizer has no option 'bogus'{takes}$"):
        make_optimizer(name, make_params(), bogus=1)


def test_optimizer_options_lists_the_constructor_keywords():
    assert optimizer_options("plain-rprop")[-1] == "lr" and "init_step" in optimizer_options("plain-rprop")
    assert {"lr", "betas", "eps", "weight_decay", "amsgrad"} <= set(optimizer_options("Adam"))
    with pytest.raises(ValueError, match="unknown optimizer 'lbfgs'"):
        optimizer_options("lbfgs")


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_negative_lr_rejected(name):
    with pytest.raises(ValueError, match="lr|init_step"):
        make_optimizer(name, make_params(), lr=-0.1)


# where each public name lives now; all of them were importable from the single module before
HOMES = {
    "base": ["Optimizer"],
    "sgd": ["SGD", "SGDConfig"],
    "adaptive": ["Adagrad", "AdagradConfig", "RMSprop", "RMSpropConfig", "Adam", "AdamConfig", "AdamW"],
    "rprop": ["Rprop", "RpropConfig", "PlainRprop", "PlainRpropConfig"],
    "schedules": ["StepLR", "CosineLR", "HalveOnIncrease", "LRSchedule", "SCHEDULES", "schedule_from_state"],
    "clipping": ["global_norm", "clip_by_value", "clip_grad_norm", "clip_per_param_norm"],
}


def test_every_name_keeps_its_old_import_path():
    """``from scratchrnn.optim import X`` still gives every name the module offered, as the very
    object its new module defines; the deleted state-flattening functions are gone."""
    moved = {name: module for module, names in HOMES.items() for name in names}
    assert set(scratchrnn.optim.__all__) == set(moved) | {"OPTIMIZERS", "make_optimizer", "optimizer_options"}
    for name, module in moved.items():
        home = importlib.import_module(f"scratchrnn.optim.{module}")
        assert getattr(scratchrnn.optim, name) is getattr(home, name), name
        assert name in home.__all__, name
    star: dict = {}
    exec("from scratchrnn.optim import *", star)
    assert set(star) - {"__builtins__"} == set(scratchrnn.optim.__all__)
    for gone in ("flatten_state", "unflatten_state", "BUFFER_PREFIX"):
        assert not hasattr(scratchrnn.optim, gone), gone
