"""One-step cells that train: ``RNNCell``, ``LSTMCell``, ``GRUCell``, PyTorch's names and shapes.

A cell is one step of a recurrent layer as a module of its own, for the loops a layer does not
run: a decoder feeding back its own output, attention read at every step, a state reset mid-way.

    h, cache = cell.forward(x, h)               x (B, F), h (B, H) or None for zeros
    dx, dh, grads = cell.backward(dh, cache)    the gradients w.r.t. x and the state before
                                                the step, and the step's weight gradients

For the LSTM the state is the pair (h, c) in both directions: ``forward(x, (h, c)) -> ((h, c),
cache)`` and ``backward((dh, dc), cache) -> (dx, (dh, dc), grads)``, where ``dc`` may be None
(no gradient reaches c from later steps). ``params`` are ``weight_ih`` (G*H, F), ``weight_hh``
(G*H, H), ``bias_ih`` and ``bias_hh`` (G*H,), gates in PyTorch's order, drawn as PyTorch draws
them, and ``grads`` has the same keys; ``state_dict()`` loads into ``torch.nn.RNNCell``,
``LSTMCell`` or ``GRUCell``. BPTT through a loop of cells is the caller's loop run backwards: the
gradient of the state before step t is what ``backward`` of step t returns, added to the one
from step t's own output, and the weight gradients of all steps are summed.

The arithmetic is the reference implementation's step (``scratchrnn.nn.reference``), so a loop of
a cell gives what the layer gives, and the cell is as readable as the specification.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..checks import check_flag, check_random_state, check_size
from ..functional import get_activation
from ..init import uniform
from . import reference
from .module import Module, check_weights_fit

__all__ = ["CellCache", "GRUCell", "LSTMCell", "RNNCell", "cell_param_shapes"]

# the cells' parameter names, in the order of reference.Weights' fields
_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def cell_param_shapes(gates: int, input_size: int, hidden_size: int, bias: bool = True) -> dict:
    """name -> shape of a cell's parameters, in the order PyTorch makes them (sizes checked)."""
    F, H = check_size("input_size", input_size), check_size("hidden_size", hidden_size)
    GH = gates * H
    shapes = {"weight_ih": (GH, F), "weight_hh": (GH, H)}
    if check_flag("bias", bias):
        shapes.update(bias_ih=(GH,), bias_hh=(GH,))
    return shapes


class CellCache(NamedTuple):
    """What ``backward`` needs from ``forward``: the reference step's cache and the weights' version."""

    step: tuple  # reference.RNNStep, LSTMStep or GRUStep
    version: int


class _Cell(Module):
    GATES = 1
    ARITY = 1
    KIND = "rnn"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, dtype=np.float32, rng=None):
        super().__init__(dtype)
        self.input_size = check_size("input_size", input_size)
        self.hidden_size = check_size("hidden_size", hidden_size)
        self.bias = check_flag("bias", bias)
        gen = check_random_state(rng)
        F, H = self.input_size, self.hidden_size
        shapes = cell_param_shapes(self.GATES, F, H, self.bias)
        check_weights_fit(shapes, self.dtype, f"{type(self).__name__}(input_size={F:,}, hidden_size={H:,})")
        bound = 1.0 / np.sqrt(H)  # PyTorch: every weight and bias ~ U(-1/sqrt(H), 1/sqrt(H))
        for name, shape in shapes.items():
            self.params[name] = uniform(shape, bound, gen, self.dtype)
        self._cell = reference.get_cell(self.KIND, getattr(self, "nonlinearity", "tanh"))

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")

    def _weights(self) -> reference.Weights:
        return reference.Weights(*(self.params.get(k, 0.0) for k in _NAMES))  # no bias: 0.0

    def _check_x(self, x) -> np.ndarray:
        name = type(self).__name__
        if not isinstance(x, np.ndarray):
            raise ValueError(f"{name} expects x as a numpy array (batch, {self.input_size}), "
                             f"got {type(x).__name__}")
        if x.ndim != 2 or x.shape[1] != self.input_size:
            raise ValueError(f"{name} expects x of shape (batch, {self.input_size}), got {x.shape}")
        if x.dtype != self.dtype:
            raise ValueError(f"{name} expects x of dtype {self.dtype}, got {x.dtype}")
        return x

    def _check_state(self, state, B: int, what: str) -> tuple[np.ndarray, ...]:
        name, H = type(self).__name__, self.hidden_size
        if state is None:
            return tuple(np.zeros((B, H), self.dtype) for _ in range(self.ARITY))
        parts = (state,) if self.ARITY == 1 else state
        if self.ARITY == 2 and not (isinstance(state, tuple) and len(state) == 2):
            raise ValueError(f"{name} expects {what} as a tuple (h, c) of (batch, {H}) arrays, "
                             f"got {type(state).__name__}")
        for part in parts:
            if not isinstance(part, np.ndarray) or part.shape != (B, H) or part.dtype != self.dtype:
                got = f"{part.shape} {part.dtype}" if isinstance(part, np.ndarray) else type(part).__name__
                raise ValueError(f"{name} expects {what} of shape ({B}, {H}) and dtype {self.dtype}, "
                                 f"got {got}")
        return tuple(parts)

    def forward(self, x: np.ndarray, state=None):
        """One step: the new state (h, or (h, c) for the LSTM) and the cache for ``backward``."""
        x = self._check_x(x)
        state = self._check_state(state, x.shape[0], "the state")
        new, step = self._cell.step(x, state, self._weights())
        return (new[0] if self.ARITY == 1 else new), CellCache(step, self.version)

    def backward(self, dstate, cache: CellCache):
        """The step's backward from the gradient w.r.t. its new state: (dx (B, F), the gradient
        w.r.t. the state before the step, grads with the keys of ``params``)."""
        if not isinstance(cache, CellCache):
            raise ValueError(f"{type(self).__name__}.backward expects the cache forward returned, "
                             f"got {type(cache).__name__}")
        self.check_cache_version(cache.version)
        B = cache.step.x.shape[0]
        if self.ARITY == 2:
            if not (isinstance(dstate, tuple) and len(dstate) == 2):
                raise ValueError(f"LSTMCell.backward expects (dh, dc) with dc None or an array, "
                                 f"got {type(dstate).__name__}")
            dh, dc = dstate
            dc = np.zeros_like(dh) if dc is None else dc
            parts = self._check_state((dh, dc), B, "(dh, dc)")
        else:
            parts = self._check_state(dstate, B, "dh")
        out = self._cell.step_backward(parts, cache.step, self._weights())
        fields = zip(_NAMES, reference.Weights._fields, strict=True)
        grads = {name: out.grads[field].astype(self.dtype, copy=False)
                 for name, field in fields if name in self.params}
        dprev = out.dstate[0] if self.ARITY == 1 else out.dstate
        return out.dx, dprev, grads


class RNNCell(_Cell):
    """h' = f(x W_ih^T + b_ih + h W_hh^T + b_hh), f = tanh or relu (``nonlinearity``)."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 dtype=np.float32, rng=None):
        get_activation(nonlinearity)  # an unknown name fails before anything is drawn
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell's nonlinearity must be 'tanh' or 'relu' (PyTorch's), "
                             f"got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, bias, dtype, rng)

    def extra_repr(self) -> str:
        extra = "" if self.nonlinearity == "tanh" else f", nonlinearity={self.nonlinearity!r}"
        return super().extra_repr() + extra


class LSTMCell(_Cell):
    """The LSTM step (gates i, f, g, o): state (h, c), see ``reference.lstm_step``."""

    GATES = 4
    ARITY = 2
    KIND = "lstm"


class GRUCell(_Cell):
    """The GRU step (gates r, z, n), see ``reference.gru_step``."""

    GATES = 3
    KIND = "gru"
