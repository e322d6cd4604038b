"""TrainConfig (scratchrnn.trainconfig): the training options' checks and their documentation."""

from __future__ import annotations

import dataclasses
import pydoc
import re

import pytest

from scratchrnn.optim import SCHEDULES
from scratchrnn.trainconfig import LOSSES, TrainConfig


def test_help_lists_every_field_with_its_default():
    text = pydoc.render_doc(TrainConfig, renderer=pydoc.plaintext)
    for f in dataclasses.fields(TrainConfig):  # the exact wording is checked in test_scratchrnn
        assert re.search(rf"\| +{f.name} \([^)]*default [^)]+\): \S", text), f.name


def test_the_new_options_have_their_documented_defaults():
    cfg = TrainConfig(steps=10)
    assert (cfg.lr_schedule, cfg.warmup, cfg.lr_step_size, cfg.lr_gamma, cfg.lr_patience, cfg.min_lr) == (
        None, 0, None, 0.5, 2, 0.0)
    assert cfg.restore_best is True and cfg.sample_every is None and cfg.sample_length == 100
    assert set(LOSSES) == {"cross_entropy", "mse", "bce_with_logits", "pinball"}
    for kind in SCHEDULES:
        TrainConfig(steps=10, lr_schedule=kind, warmup=3).validate()


@pytest.mark.parametrize(("field", "value", "words"), [
    ("lr_schedule", "linear", "unknown lr_schedule 'linear'; expected None or one of constant, step, cosine, "
                              "plateau"),
    ("warmup", -1, "warmup must be an integer >= 0, got -1"),
    ("warmup", 5, "warmup=5 ramps the rate of an lr_schedule, and lr_schedule is None"),
    ("lr_gamma", 1.0, "lr_gamma must be"),
    ("lr_gamma", 0.0, "lr_gamma must be"),
    ("lr_step_size", 0, "lr_step_size must be"),
    ("lr_patience", -1, "lr_patience must be an integer >= 0"),
    ("min_lr", -0.1, "min_lr must be"),
    ("restore_best", "yes", "restore_best must be True or False"),
    ("sample_every", 0, "sample_every must be"),
    ("sample_length", 0, "sample_length must be a positive integer, got 0"),
])
def test_a_bad_training_option_is_named(field, value, words):
    with pytest.raises(ValueError, match=re.escape(words)):
        TrainConfig(steps=10, **{field: value}).validate()
