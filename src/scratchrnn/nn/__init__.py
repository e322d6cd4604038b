"""Layers: parameters in a flat dict with PyTorch's names; forward returns a cache, backward takes it."""

from . import workspace
from .cells import GRUCell, LSTMCell, RNNCell
from .gru import GRU
from .linear import Embedding, Linear
from .lstm import LSTM
from .module import Module
from .recurrent import RecurrentBase
from .rnn import RNN

__all__ = ["GRU", "LSTM", "RNN", "Embedding", "GRUCell", "LSTMCell", "Linear", "Module", "RNNCell",
           "RecurrentBase", "workspace"]
