"""The default recipe of ``scratchrnn train``: the model and training settings a run takes when the
command line names none of them.

They were chosen by the search in ``benchmarks/recipe_search.py``, by validation loss on the
shipped corpus after 2 and 10 minutes of training on two cores (the candidates, the results and
what the default run costs and gives: benchmarks/README.md, "The default recipe"). The Python
constructors (``CharLM()``, ``WordLM()``) keep their own documented defaults, so that existing
scripts build the models they always built; ``CharLM(**TRAIN_RECIPE["model"])`` and
``fit(..., **TRAIN_RECIPE["fit"])`` train as the command does.

This module imports nothing, so the command line's parser can read it before numpy loads.
"""

from __future__ import annotations

__all__ = ["TRAIN_RECIPE"]

TRAIN_RECIPE = {
    "model": {"cell": "gru", "hidden_size": 384, "num_layers": 2, "embedding_dim": 64, "dropout": 0.4},
    "fit": {"batch_size": 32, "window": 100, "optimizer": "adam", "lr": 2e-3, "clip_norm": 5.0},
}
