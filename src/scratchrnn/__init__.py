"""scratchrnn: recurrent networks written from scratch on numpy, with exact, checked BPTT.

The names a user reaches first are here::

    from scratchrnn import LSTM, SequenceModel, ModelConfig, Trainer, TrainConfig, TokenStream
    from scratchrnn import CharLM, WordLM, load_language_model

- layers: ``RNN``, ``LSTM``, ``GRU``, ``Linear``, ``Embedding`` and their base ``Module``, and the
  one-step cells ``RNNCell``, ``LSTMCell``, ``GRUCell`` (:mod:`scratchrnn.nn`);
- models: ``SequenceModel`` and its hyperparameters ``ModelConfig`` (:mod:`scratchrnn.nn.model`);
- training: ``Trainer``, ``TrainConfig`` and the two kinds of data it takes, ``SequenceData``
  (whole sequences) and ``TokenStream`` (one long stream in windows) (:mod:`scratchrnn.train`),
  and ``pad_sequences``, which pads sequences of different lengths to one batch and its lengths;
- estimators with scikit-learn's conventions: ``SequenceClassifier`` and ``SequenceRegressor``
  (:mod:`scratchrnn.estimators`);
- forecasting: ``Forecaster``, a recurrent forecaster of a series with intervals, and ``backtest``
  against the statistical baselines (:mod:`scratchrnn.forecast`);
- language models: ``CharLM``, ``WordLM`` and ``load_language_model`` (:mod:`scratchrnn.lm`);
- the submodules ``data``, ``forecast``, ``functional``, ``gradcheck``, ``init``, ``io``, ``lm``, ``losses``,
  ``nn``, ``optim``, ``sample`` and ``train``.

Each is imported on first use, not by ``import scratchrnn``: the command line
(``python -m scratchrnn``) takes SIGINT and SIGTERM before numpy loads.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

# name -> the module it lives in, imported when the name is first asked for
_HOMES = {
    "RNN": "nn",
    "LSTM": "nn",
    "GRU": "nn",
    "Linear": "nn",
    "Embedding": "nn",
    "Module": "nn",
    "RNNCell": "nn",
    "LSTMCell": "nn",
    "GRUCell": "nn",
    "SequenceModel": "nn.model",
    "ModelConfig": "nn.model",
    "Trainer": "train",
    "TrainConfig": "trainconfig",
    "SequenceData": "train",
    "TokenStream": "train",
    "pad_sequences": "data",
    "SequenceClassifier": "estimators",
    "SequenceRegressor": "estimators",
    "Forecaster": "forecast.forecaster",
    "backtest": "forecast.rolling",
    "CharLM": "lm",
    "WordLM": "lm",
    "load_language_model": "lm",
}
_SUBMODULES = ("data", "forecast", "functional", "gradcheck", "init", "io", "lm", "losses", "nn", "optim",
               "sample", "train")

__all__ = [  # written out (the keys of _HOMES, then _SUBMODULES) so that tools can read it
    "RNN", "LSTM", "GRU", "Linear", "Embedding", "Module", "RNNCell", "LSTMCell", "GRUCell", "SequenceModel",
    "ModelConfig", "Trainer", "TrainConfig", "SequenceData", "TokenStream", "pad_sequences",
    "SequenceClassifier", "SequenceRegressor", "Forecaster", "backtest", "CharLM", "WordLM",
    "load_language_model",
    "data", "forecast", "functional", "gradcheck", "init", "io", "lm", "losses", "nn", "optim", "sample",
    "train",
    "__version__",
]

if TYPE_CHECKING:  # for type checkers and editors; at run time the names come from __getattr__
    from . import data, forecast, functional, gradcheck, init, io, lm, losses, nn, optim, sample, train
    from .data import pad_sequences
    from .estimators import SequenceClassifier, SequenceRegressor
    from .forecast import Forecaster, backtest
    from .lm import CharLM, WordLM, load_language_model
    from .nn import GRU, LSTM, RNN, Embedding, GRUCell, Linear, LSTMCell, Module, RNNCell
    from .nn.model import ModelConfig, SequenceModel
    from .train import SequenceData, TokenStream, TrainConfig, Trainer


def __getattr__(name: str):
    """Import a name of ``__all__`` on first use and keep it, so later lookups are plain."""
    if name in _SUBMODULES:
        value = importlib.import_module(f"{__name__}.{name}")
    elif name in _HOMES:
        value = getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
