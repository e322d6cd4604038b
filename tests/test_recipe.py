"""scratchrnn.recipe: the command's defaults are the recipe, and a typed option still wins."""

from __future__ import annotations

from scratchrnn.cli import build_parser
from scratchrnn.recipe import TRAIN_RECIPE


def test_train_takes_its_defaults_from_the_recipe():
    args = build_parser().parse_args(["train"])
    for key, value in {**TRAIN_RECIPE["model"], **TRAIN_RECIPE["fit"]}.items():
        assert getattr(args, key) == value, key
    assert build_parser().parse_args(["train", "--embedding-dim", "0"]).embedding_dim == 0  # one-hot
    assert build_parser().parse_args(["train", "--cell", "lstm"]).cell == "lstm"
