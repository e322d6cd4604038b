"""scratchrnn: recurrent networks written from scratch on numpy, with exact, checked BPTT."""

from . import data, functional, init, io, losses, nn, optim
from .nn import GRU, LSTM, RNN, Embedding, Linear, Module

__version__ = "0.1.0"

__all__ = [
    "GRU",
    "LSTM",
    "RNN",
    "Embedding",
    "Linear",
    "Module",
    "data",
    "functional",
    "init",
    "io",
    "losses",
    "nn",
    "optim",
    "__version__",
]
