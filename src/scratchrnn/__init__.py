"""scratchrnn: recurrent networks written from scratch on numpy, with exact, checked BPTT."""

from . import functional, init, nn
from .nn import RNN, Embedding, Linear, Module

__version__ = "0.1.0"

__all__ = ["RNN", "Embedding", "Linear", "Module", "functional", "init", "nn", "__version__"]
