"""scratchrnn: recurrent networks written from scratch on numpy, with exact, checked BPTT."""

from . import data, functional, init, io, losses, nn
from .nn import RNN, Embedding, Linear, Module

__version__ = "0.1.0"

__all__ = ["RNN", "Embedding", "Linear", "Module", "data", "functional", "init", "io", "losses", "nn", "__version__"]
