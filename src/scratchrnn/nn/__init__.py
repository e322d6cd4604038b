"""Layers: parameters in a flat dict with PyTorch's names; forward returns a cache, backward takes it."""

from .linear import Embedding, Linear
from .module import Module
from .recurrent import RNN, RecurrentBase

__all__ = ["RNN", "Embedding", "Linear", "Module", "RecurrentBase"]
